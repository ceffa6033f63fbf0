"""The workspace: the SDK's entry point. It opens the metadata store, the artifact store and
the keys, and knows who is acting.

    ws = gxpml.Workspace.init("lab", admin="alice", admin_name="Alice Smith", password=...)
    ws = gxpml.Workspace.open("lab", user="alice", password=...)   # or token=..., GXPML_TOKEN
    ws.users.add("bob", "Bob Jones", password=..., roles=["data-scientist"])
    ws.audit.verify().ok
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

# Tables of the domains, so that verify's record replay knows every audited entity.
import gxpml.data.guard  # noqa: E402,F401,I001
import gxpml.data.tables  # noqa: E402,F401,I001
import gxpml.lineage.tables  # noqa: E402,F401,I001
import gxpml.tracking.tables  # noqa: E402,F401,I001
import gxpml.validation.tables  # noqa: E402,F401,I001
from gxpml.audit.checkpoints import Signer
from gxpml.audit.trail import AuditTrail
from gxpml.canonical import new_id
from gxpml.config import CONFIG_FILE, Settings, default_home, load_settings, render_config
from gxpml.errors import ConfigError, Conflict
from gxpml.identity.access import Roles
from gxpml.identity.auth import Authenticator
from gxpml.identity.passwords import Passwords
from gxpml.identity.tokens import Tokens
from gxpml.identity.users import Users, validate_new_user
from gxpml.store.engine import make_engine, redact_url
from gxpml.store.migrate import current_revision, head_revision, upgrade
from gxpml.store.tables import AuditHead, RoleGrant, User
from gxpml.store.uow import ANONYMOUS, SYSTEM, Actor, Database

if TYPE_CHECKING:
    from gxpml.artifacts.catalog import Artifacts, Keys
    from gxpml.data.catalog import Data
    from gxpml.lineage.graph import Lineage
    from gxpml.validation.service import Validations
    from gxpml.remote import RemoteWorkspace
    from gxpml.tracking.run import Run
    from gxpml.tracking.runs import Runs

__all__ = ["Workspace", "session_file"]


def session_file() -> Path:
    """Where ``gxpml login`` keeps session tokens (``GXPML_SESSION_FILE`` overrides)."""
    override = os.environ.get("GXPML_SESSION_FILE")
    if override:
        return Path(override)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "gxpml" / "sessions.json"


def _read_sessions() -> dict[str, str]:
    path = session_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write_sessions(sessions: dict[str, str]) -> None:
    path = session_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(sessions, fh)
    os.replace(tmp, path)


class Workspace:
    """A gxpml workspace opened by one actor. Use as a context manager, or call :meth:`close`."""

    _signer: Signer
    _db: Database

    def __init__(self, settings: Settings, *, _check_schema: bool = True, _parent: Workspace | None = None) -> None:
        self.settings = settings
        self._owner = _parent is None
        if _parent is not None:
            # A view of an open workspace for another actor (the server makes one per request):
            # it shares the engine and keys, and closing it closes nothing.
            self._signer, self._db = _parent._signer, _parent._db
            self._init_services()
            return
        engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
        if _check_schema:
            try:
                revision = current_revision(engine)
            except Exception as exc:  # noqa: BLE001 - any driver error: the database is unreachable
                engine.dispose()
                raise ConfigError(
                    f"Cannot reach the metadata database {redact_url(settings.database_url)}: "
                    f"{str(getattr(exc, 'orig', exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}. "
                    "Check GXPML_DATABASE_URL / [database] url and that the server is running."
                ) from exc
            if revision != head_revision():
                engine.dispose()
                raise ConfigError(
                    f"The metadata database is at schema revision {revision or 'none'}, this gxpml "
                    f"needs {head_revision()}. Run `gxpml upgrade` (back up the database first)."
                )
        self._signer = Signer.load(settings.signing_key_path)
        self._db = Database(
            engine, workspace_id=settings.workspace_id, signer=self._signer,
            checkpoint_interval=settings.checkpoint_interval,
        )
        self._init_services()

    def _init_services(self) -> None:
        self._passwords = Passwords(self.settings.security)
        self._auth = Authenticator(self)
        self.actor: Actor = ANONYMOUS
        self.users = Users(self)
        self.roles = Roles(self)
        self.tokens = Tokens(self)
        self.audit = AuditTrail(self)

    # ------------------------------------------------------------------ opening

    @classmethod
    def init(
        cls, path: str | Path | None = None, *, admin: str, admin_name: str, password: str,
        admin_email: str | None = None, database_url: str | None = None,
        artifact_url: str | None = None, encryption: bool = True,
        security: dict[str, int] | None = None,
    ) -> Workspace:
        """Create a workspace and its first administrator; returns it opened as that admin."""
        home = Path(path) if path is not None else default_home()
        if (home / CONFIG_FILE).exists():
            raise Conflict(f"{home} holds a gxpml workspace already. Open it, or choose another folder.")
        validate_new_user(admin, admin_name, admin_email, [])
        database_url = database_url or os.environ.get("GXPML_DATABASE_URL") or "sqlite:///gxpml.db"
        artifact_url = artifact_url or os.environ.get("GXPML_ARTIFACT_URL") or "artifacts"
        created = not home.exists()
        try:
            home.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(home, 0o700)
            config = home / CONFIG_FILE
            fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(render_config(
                    workspace_id=new_id("ws"), database_url=database_url,
                    artifact_url=artifact_url, encryption=encryption, security=security,
                ))
            settings = load_settings(home)
            from gxpml.artifacts.keys import FileKeyProvider

            Signer.create(settings.signing_key_path)
            FileKeyProvider.create(settings.master_keys_dir)
            if "://" not in settings.artifact_url:
                Path(settings.artifact_url).mkdir(parents=True, exist_ok=True, mode=0o700)
            engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
            try:
                upgrade(engine)
                if settings.database_url.startswith("sqlite"):
                    db_file = Path(settings.database_url.removeprefix("sqlite:///"))
                    if db_file.exists():
                        os.chmod(db_file, 0o600)
            finally:
                engine.dispose()
            ws = cls(settings)
            ws._create_first_admin(admin, admin_name, admin_email, password)
            return ws
        except BaseException:
            if created:
                shutil.rmtree(home, ignore_errors=True)
            else:
                for name in (CONFIG_FILE, "keys", "gxpml.db", "gxpml.db-wal", "gxpml.db-shm"):
                    target = home / name
                    if target.is_dir():
                        shutil.rmtree(target, ignore_errors=True)
                    elif target.exists():
                        target.unlink()
            raise

    def _create_first_admin(self, username: str, full_name: str, email: str | None, password: str) -> None:
        self._passwords.check_new(password, username=username)
        password_hash = self._passwords.hash(password)
        with self._db.write(SYSTEM, "workspace.init") as uow:
            head = uow.session.get(AuditHead, 1)
            if head is None or head.seq != 0 or uow.session.scalars(select(User.id)).first():
                raise Conflict(
                    "The metadata database holds another workspace's records already. "
                    "Use an empty database (or schema) for a new workspace."
                )
            uow.event("workspace.init", entity_type="workspace", entity_id=self.settings.workspace_id,
                      new={"database": redact_url(self.settings.database_url), "encryption": self.settings.encryption,
                           "signing_key": self._signer.key_id})
            user = User(username=username, full_name=full_name, email=email, password_hash=password_hash,
                        password_history=self._passwords.remember("[]", password_hash))
            uow.add(user)
            uow.session.flush()
            uow.add(RoleGrant(user_id=user.id, role="admin"))
        self.actor = self._auth.actor_for_user(user.id)

    @classmethod
    def open(
        cls, path: str | Path | None = None, *, token: str | None = None,
        user: str | None = None, password: str | None = None, anonymous: bool = False,
    ) -> Workspace:
        """Open a workspace as the actor the credentials name.

        Credentials, first found wins: ``token``; ``user`` + ``password`` (opens a session);
        ``GXPML_TOKEN``; the session stored by ``gxpml login``. Without any (or with
        ``anonymous=True``, which ignores the environment and stored sessions) the workspace
        is open anonymously and every action but logging in is refused.
        """
        ws = cls(load_settings(path))
        try:
            if anonymous:
                pass
            elif token:
                ws.actor = ws._auth.authenticate(token)
            elif user is not None:
                if password is None:
                    from gxpml.errors import InvalidInput

                    raise InvalidInput("A password is needed with user=...; or pass token=... instead.")
                ws._session_token = ws._auth.login(user, password)
                ws.actor = ws._auth.authenticate(ws._session_token)
            elif env_token := os.environ.get("GXPML_TOKEN"):
                ws.actor = ws._auth.authenticate(env_token)
            elif stored := _read_sessions().get(ws.settings.workspace_id):
                ws.actor = ws._auth.authenticate(stored)
        except BaseException:
            ws.close()
            raise
        return ws

    @staticmethod
    def connect(
        url: str | None = None, *, token: str | None = None, user: str | None = None,
        password: str | None = None, verify: bool | str | None = None,
    ) -> RemoteWorkspace:
        """A workspace served by ``gxpml server`` at ``url`` (default ``GXPML_SERVER``), with the
        same interface as a local one. Credentials: ``token``, ``user`` + ``password``,
        ``GXPML_TOKEN``, or the session ``gxpml login --server URL`` stored. TLS certificates
        are verified (``verify``: a CA bundle path, default ``GXPML_CA_BUNDLE``)."""
        from gxpml.remote import RemoteWorkspace

        url = url or os.environ.get("GXPML_SERVER")
        if not url:
            raise ConfigError("No server URL: pass one to Workspace.connect(URL) or set GXPML_SERVER.")
        if verify is None:
            verify = os.environ.get("GXPML_CA_BUNDLE") or True
        if not token and user is None:
            token = os.environ.get("GXPML_TOKEN") or _read_sessions().get(f"server:{url.rstrip('/')}")
        ws = RemoteWorkspace(url, token=token, verify=verify)
        try:
            if user is not None:
                if password is None:
                    from gxpml.errors import InvalidInput

                    raise InvalidInput("A password is needed with user=...; or pass token=... instead.")
                ws.login(user, password)
        except BaseException:
            ws.close()
            raise
        return ws

    @classmethod
    def upgrade(cls, path: str | Path | None = None) -> tuple[str | None, str | None]:
        """Apply pending schema migrations; returns ``(from, to)`` revisions."""
        settings = load_settings(path)
        engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
        try:
            before = current_revision(engine)
            upgrade(engine)
            after = current_revision(engine)
        finally:
            engine.dispose()
        if before != after:
            with cls(settings) as ws, ws._db.write(SYSTEM, "workspace.upgrade") as uow:
                uow.event("workspace.upgrade", entity_type="workspace", entity_id=settings.workspace_id,
                          new={"from": before, "to": after})
        return before, after

    # ------------------------------------------------------------------ sessions

    def login(self, username: str, password: str, *, remember: bool = False) -> str:
        """Authenticate and act as ``username``; returns the session token.

        With ``remember=True`` the token is stored (owner-only file) for the CLI and later
        :meth:`open` calls on this machine.
        """
        token = self._auth.login(username, password)
        self.actor = self._auth.authenticate(token)
        self._session_token = token
        if remember:
            sessions = _read_sessions()
            sessions[self.settings.workspace_id] = token
            _write_sessions(sessions)
        return token

    def _end_session(self) -> None:
        """End the session token this workspace acts with, if it is a session (not an API
        token); the server's logout, which must not touch any stored session."""
        if self.actor.token_id and self._auth.token_kind(self.actor.token_id) == "session":
            self.tokens.revoke(self.actor.token_id, reason="logout")

    def logout(self) -> None:
        """End the session: the session token in use, and the one ``gxpml login`` stored for
        this workspace, are revoked and forgotten. API tokens are left alone (revoke those
        with ``tokens.revoke``)."""
        sessions = _read_sessions()
        stored = sessions.pop(self.settings.workspace_id, None)
        ended: set[str] = set()
        if self.actor.token_id and self._auth.token_kind(self.actor.token_id) == "session":
            self.tokens.revoke(self.actor.token_id, reason="logout")
            ended.add(self.actor.token_id)
        if stored is not None:
            self._auth.end_session(stored, skip=ended)
            _write_sessions(sessions)
        self.actor = ANONYMOUS

    # ------------------------------------------------------------------ artifacts (lazy)

    @cached_property
    def artifacts(self) -> Artifacts:
        from gxpml.artifacts.catalog import Artifacts

        return Artifacts(self)

    @cached_property
    def data(self) -> Data:
        from gxpml.data.catalog import Data

        return Data(self)

    @cached_property
    def lineage(self) -> Lineage:
        from gxpml.lineage.graph import Lineage

        return Lineage(self)

    @cached_property
    def runs(self) -> Runs:
        from gxpml.tracking.runs import Runs

        return Runs(self)

    @cached_property
    def validations(self) -> Validations:
        from gxpml.validation.service import Validations

        return Validations(self)

    def start_run(
        self, experiment: str, *, seed: int | None = None, name: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Run:
        """Start a tracked run (see :meth:`gxpml.tracking.runs.Runs.start`):
        ``with ws.start_run(experiment="...", seed=42) as run: ...``."""
        return self.runs.start(experiment, seed=seed, name=name, tags=tags)

    @cached_property
    def keys(self) -> Keys:
        from gxpml.artifacts.catalog import Keys

        return Keys(self)

    # ------------------------------------------------------------------ lifetime

    def _as_actor(self, actor: Actor) -> Workspace:
        """A view of this open workspace acting as ``actor`` (shares engine and keys)."""
        view = Workspace(self.settings, _parent=self)
        view.actor = actor
        return view

    def close(self) -> None:
        if self._owner:
            self._db.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({str(self.settings.home)!r}, actor={self.actor.username!r})"

    def info(self) -> dict[str, Any]:
        """Where things are (no secrets)."""
        return {
            "workspace_id": self.settings.workspace_id,
            "home": str(self.settings.home),
            "database": redact_url(self.settings.database_url),
            "artifacts": self.settings.artifact_url,
            "encryption": self.settings.encryption,
            "signing_key": self._signer.key_id,
            "actor": self.actor.username,
        }


