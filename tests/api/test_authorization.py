"""The REST API's authorization matrix: every operation × every built-in role, over real HTTP.

Each built-in role gets a user holding only that role, who logs in with ``POST /api/v1/login``.
Every operation of the server's OpenAPI document has at least one :class:`Case` below: how to
build a valid request (its targets made beforehand, one set per request, so destructive
operations break nothing else) and what it needs — a permission (or several, checked in
order), ``SELF`` (any authenticated user) or ``PUBLIC`` (no credentials at all).

The expected outcome comes from :data:`GRANTED`, written out by hand as the specification and
checked against ``gxpml.identity.roles``: allowed → the operation's documented 2xx status;
refused → 403 with the JSON error shape, and one ``access.denied`` audit event naming the
permission and the actor (21 CFR 11.300(d)). Without credentials, or with bad ones, every
operation but the public ones answers 401.

Some operations check their target after the permissions: a dataset's ``read_roles`` (its
owner always passes), a run's owner (only the user who started a run records to it or ends
it; ``run.kill`` kills anyone's), and the guard that keeps dataset rows out of the artifact
routes. A case names such a check as a :class:`Gate`: the roles that pass it, and what its
refusal records and says.

Public operations are exercised without credentials only: login is rate limited per client
address (10 a minute), and the six role logins plus the three credential-less login cases
already make nine.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import itertools
import json
import secrets
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from gxpml.audit.trail import AuditRecord
from gxpml.data.checks import parse_checks
from gxpml.errors import AuthenticationError
from gxpml.identity.roles import ROLES, permissions_for
from gxpml.store.uow import Actor
from gxpml.tracking.records import Metric
from gxpml.workspace import Workspace
from support import PASSWORD, LiveServer, make_workspace, new_pg_schema

PUBLIC = "public"  # no credentials needed
SELF = "self"  # any authenticated user (the SDK's own name for it)
BUILT_IN = ("admin", "data-scientist", "reviewer", "operator", "auditor", "service")
EVERYONE = frozenset(BUILT_IN)

#: The specification: which built-in roles each permission reaches, written out by hand.
GRANTED: dict[str, frozenset[str]] = {
    SELF: EVERYONE,
    "user.list": frozenset({"admin", "data-scientist", "reviewer", "auditor"}),
    "user.create": frozenset({"admin"}),
    "user.disable": frozenset({"admin"}),
    "user.enable": frozenset({"admin"}),
    "user.unlock": frozenset({"admin"}),
    "user.reset_password": frozenset({"admin"}),
    "role.grant": frozenset({"admin"}),
    "role.revoke": frozenset({"admin"}),
    "token.create": frozenset({"admin"}),
    "token.list": frozenset({"admin"}),
    "token.revoke": frozenset({"admin"}),
    "artifact.put": frozenset({"admin", "data-scientist", "service"}),
    "artifact.read": EVERYONE,
    "artifact.verify": frozenset({"admin", "auditor"}),
    "artifact.fsck": frozenset({"admin"}),
    "audit.read": frozenset({"admin", "data-scientist", "reviewer", "operator", "auditor"}),
    "audit.verify": frozenset({"admin", "reviewer", "auditor"}),
    "audit.export": frozenset({"admin", "auditor"}),
    "audit.checkpoint": frozenset({"admin"}),
    "keys.rotate": frozenset({"admin"}),
    "lineage.read": frozenset({"admin", "data-scientist", "reviewer", "operator", "auditor"}),
    "data.list": frozenset({"admin", "data-scientist", "reviewer", "auditor", "service"}),
    "data.read": frozenset({"admin", "data-scientist", "service"}),
    "data.register": frozenset({"admin", "data-scientist", "service"}),
    "data.split": frozenset({"admin", "data-scientist", "service"}),
    "data.override": frozenset({"admin", "data-scientist"}),
    "data.update": frozenset({"admin"}),  # and a dataset's owner: see the cases
    "data.erase": frozenset({"admin"}),  # and a dataset's owner: see the cases
    "run.create": frozenset({"admin", "data-scientist", "service"}),
    "run.read": EVERYONE,
    "run.kill": frozenset({"admin"}),  # another user's run; one's own needs nothing
    "model.validate": frozenset({"admin", "data-scientist"}),
}

_ISOLATED = ("GXPML_HOME", "GXPML_TOKEN", "GXPML_PASSWORD", "GXPML_NEW_PASSWORD",
             "GXPML_DATABASE_URL", "GXPML_ARTIFACT_URL", "GXPML_S3_ENDPOINT_URL", "GXPML_SERVER")
_HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


# ---------------------------------------------------------------------------- the world


@dataclass
class World:
    """The module's workspace and live server, and a logged-in user for each built-in role."""

    admin: Workspace  # the workspace as its administrator: makes each request's targets
    server: LiveServer
    http: httpx.Client
    anonymous: Workspace  # opens SDK sessions (no login rate limit) for the logout cases
    users: dict[str, str] = field(default_factory=dict)  # role -> user name
    sessions: dict[str, str] = field(default_factory=dict, repr=False)  # role -> token from POST /login
    digest: str = ""  # an artifact every reading case can use
    openapi: dict[str, Any] = field(default_factory=dict, repr=False)
    folder: Path = Path()  # for the files the targets are registered from
    checks: str = ""  # a checks declaration (an artifact) that rows(failing=True) fail
    dataset: str = ""  # a dataset every role with data.read may read, with a split
    version_node: str = ""  # its version as a lineage node (the split was made from it)
    rows_digest: str = ""  # the artifact holding its rows (hex)
    split_digest: str = ""  # the artifact holding its split assignment (hex)
    restricted: str = ""  # a dataset readable by data-scientist and reviewer only, owned by someone else
    run_id: str = ""  # a finished run with a metric, every reading case can use
    runner: str = ""  # a data scientist who is not one of the role users: starts "someone else's" runs
    runner_session: str = field(default="", repr=False)
    _serial: Iterator[int] = field(default_factory=itertools.count, repr=False)

    def name(self, prefix: str) -> str:
        return f"{prefix}-{next(self._serial)}"

    def new_user(self, *, roles: tuple[str, ...] = ()) -> str:
        return self.admin.users.add(self.name("target"), "Target User", password=PASSWORD, roles=list(roles)).username

    def disabled_user(self) -> str:
        username = self.new_user()
        self.admin.users.disable(username, reason="target of an authorization case")
        return username

    def locked_user(self) -> str:
        """A user locked by failed logins (what ``unlock`` is for)."""
        username = self.new_user()
        for _ in range(self.admin.settings.security.lockout_threshold):
            with pytest.raises(AuthenticationError, match="wrong"):
                self.anonymous.login(username, "not the password at all")
        assert self.admin.users.get(username).status == "locked"
        return username

    def token_of(self, username: str) -> str:
        info, _ = self.admin.tokens.create(self.name("tok"), username=username, expires_days=1)
        return info.id

    def fresh_session(self, role: str) -> str:
        return self.anonymous.login(self.users[role], PASSWORD)

    def acting(self, session: str) -> Workspace:
        """The workspace as the session's user, as the server sees them on each request."""
        return self.admin._as_actor(self.admin._auth.authenticate(session))

    # datasets

    def rows(self, *, failing: bool = False) -> bytes:
        """A CSV file of rows no other file has (each version its own data, so its own artifacts);
        with ``failing``, a row fails the checks of :attr:`checks`."""
        marker = self.name("rows")
        lines = ["patient_id,age,site,marker"] + [
            f"P{1000 + i},{7 if failing and i == 0 else 40 + i},S{i % 4},{marker}" for i in range(24)]
        return ("\n".join(lines) + "\n").encode()

    def register(self, content: bytes | None = None, *, owner: str | None = None,
                 read_roles: list[str] | None = None, checks: bool = False) -> str:
        """A new dataset with one version of ``content`` (default: fresh rows), registered by the
        administrator from a file; returns its name."""
        name = self.name("ds")
        path = self.folder / f"{name}.csv"
        path.write_bytes(self.rows() if content is None else content)
        spec = json.loads(self.admin.artifacts.read_bytes(self.checks)) if checks else None
        self.admin.data.register(name, path, owner=owner, read_roles=read_roles, checks=spec)
        return name

    def dataset_of(self, role: str, *, read_roles: list[str] | None = None) -> str:
        return self.register(owner=self.users[role], read_roles=read_roles)

    def someone_elses_dataset(self) -> str:
        return self.register(owner=self.new_user())

    # runs

    def run_of(self, role: str) -> str:
        """A running run the role's user started. A role without run.create cannot start one:
        its user started it while they also held data-scientist (a role changed mid-project)."""
        lacks = role not in GRANTED["run.create"]
        if lacks:
            self.admin.roles.grant(self.users[role], "data-scientist", reason="starts a run for the matrix")
        try:
            return self.acting(self.sessions[role]).runs.create(self.name("mine"), seed=1).id
        finally:
            if lacks:
                self.admin.roles.revoke(self.users[role], "data-scientist", reason="the run is started")

    def someone_elses_run(self) -> str:
        return self.acting(self.runner_session).runs.create(self.name("theirs"), seed=1).id

    def success_status(self, method: str, path: str) -> int:
        """The one 2xx status the OpenAPI document gives for the operation."""
        [status] = [int(s) for s in self.openapi["paths"][path][method.lower()]["responses"] if s.startswith("2")]
        return status


def _login(http: httpx.Client, username: str, password: str) -> str:
    response = http.post("/api/v1/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    assert response.json()["username"] == username
    return str(response.json()["token"])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One workspace and one server per backend for the whole matrix (hundreds of requests)."""
    folder = tmp_path_factory.mktemp(f"authz-{request.param}")
    with pytest.MonkeyPatch.context() as mp:
        # The suite isolates the environment per test; this fixture outlives tests, so it
        # isolates its own setup the same way (see tests/conftest.py::_isolated_env).
        for name in _ISOLATED:
            mp.delenv(name, raising=False)
        mp.setenv("GXPML_SESSION_FILE", str(folder / "sessions.json"))
        url = None if request.param == "sqlite" else new_pg_schema(request.getfixturevalue("pg_database"))
        admin = make_workspace(folder / "ws", url)
        server = LiveServer(admin.settings.home)
        http = httpx.Client(base_url=server.url, timeout=60)
        anonymous = Workspace.open(admin.settings.home, anonymous=True)
        try:
            world = World(admin=admin, server=server, http=http, anonymous=anonymous)
            for role in BUILT_IN:
                world.users[role] = admin.users.add(f"as-{role}", f"Holder of {role}", password=PASSWORD, roles=[role]).username
                world.sessions[role] = _login(http, world.users[role], PASSWORD)
            world.digest = f"sha256:{admin.artifacts.put(b'shared by every reading case', name='shared.txt').digest}"
            world.openapi = http.get("/openapi.json").raise_for_status().json()
            world.folder = folder / "files"
            world.folder.mkdir()
            spec = parse_checks({"columns": {"age": {"dtype": "int64", "checks": {"in_range": {"min": 18, "max": 120}}}}})
            world.checks = f"sha256:{admin.artifacts.put(spec.canonical(), name='checks.json').digest}"
            world.dataset = world.register()
            world.split_digest = admin.data.split(world.dataset, test=0.25, seed=1).artifact.removeprefix("sha256:")
            shown = admin.data.show(world.dataset)
            world.version_node, world.rows_digest = f"dataset_version:{shown.id}", shown.artifact.removeprefix("sha256:")
            world.restricted = world.register(owner=world.new_user(), read_roles=["data-scientist", "reviewer"])
            world.runner = world.new_user(roles=("data-scientist",))
            world.runner_session = anonymous.login(world.runner, PASSWORD)
            run = admin.runs.create("matrix", seed=1)
            admin.runs.log_batch(run.id, params={"C": 1.0},
                                 metrics=[Metric(key="loss", value=0.5, step=0, ts=dt.datetime.now(dt.UTC))])
            admin.runs.add_model(run.id, "model", digest=world.digest, flavor="sklearn", format="pickle",
                                 trusted_types=[], vouched_types=[], signature={}, libraries={})
            world.run_id = admin.runs.end(run.id).id
            yield world
        finally:
            http.close()
            server.stop()
            anonymous.close()
            admin.close()


# ---------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Call:
    """One valid request of an operation (path parameters filled into its template)."""

    path_params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    token: str | None = None  # a bearer token to use instead of the role's session
    target: dict[str, str] = field(default_factory=dict)  # what a Gate's refusal names (besides path_params)


@dataclass(frozen=True)
class Gate:
    """A check of the request's target, made after the permissions: the roles that pass it, the
    permission its ``access.denied`` event records and a part of its 403 message (both filled
    in with the call's path parameters and target, and the ``username`` and ``role``)."""

    passes: frozenset[str]
    records: str
    says: str


#: A dataset's read_roles (here: data-scientist and reviewer; its owner is someone else).
READ_ROLES = Gate(frozenset({"data-scientist", "reviewer"}), "data.read:{name}",
                  "{username} ({role}) may not read dataset {name}: it is readable by data-scientist, reviewer")
#: Dataset rows, profiles and split assignments are read through the dataset routes only.
DATASET_ARTIFACT = Gate(frozenset(), "artifact.read:{hex}", "Artifact sha256:{hex} holds dataset data")


def run_owner(action: str, *, others: str | None = None) -> Gate:
    """Only the user who started a run records to it (``action``) or ends it; ``others``: the
    permission that reaches anyone's run."""
    return Gate(frozenset() if others is None else GRANTED[others], f"{action} {{run_id}}",
                "Run {run_id} was started by {owner}; only {owner} can record to it or end it")


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # the OpenAPI path template
    needs: tuple[str, ...]  # permissions checked in this order, or (SELF,) or (PUBLIC,)
    build: Callable[[World, str], Call]  # (world, role) -> a request with its own targets
    variant: str = ""
    gate: Gate | None = None  # checked after the permissions

    @property
    def id(self) -> str:
        short = self.path.removeprefix("/api/v1")
        return f"{self.method} {short}" + (f" [{self.variant}]" if self.variant else "")

    def allowed_for(self, role: str) -> bool:
        return all(role in GRANTED[p] for p in self.needs) and (self.gate is None or role in self.gate.passes)

    def refusal(self, role: str, username: str, call: Call) -> tuple[str, str]:
        """What refuses ``role`` first: the permission its denial event records, and the part
        of the 403 message that says so."""
        permission = next((p for p in self.needs if role not in GRANTED[p]), None)
        if permission is not None:
            return permission, f"{username} ({role}) may not {permission}"
        assert self.gate is not None and role not in self.gate.passes
        facts = {**call.path_params, **call.target, "username": username, "role": role}
        return self.gate.records.format(**facts), self.gate.says.format(**facts)


def _reason(text: str = "authorization matrix") -> dict[str, str]:
    return {"reason": text}


def _put_artifact(w: World, role: str) -> Call:
    content = f"stored by {role}, request {w.name('blob')}".encode()
    return Call(content=content, params={"name": "matrix.txt"},
                headers={"X-Content-SHA256": "sha256:" + hashlib.sha256(content).hexdigest(),
                         "Content-Type": "application/octet-stream"})


def _checkpoint(w: World, _role: str) -> Call:
    w.new_user()  # the chain head moves, so it has no checkpoint yet
    return Call()


def _upload(name: str, content: bytes, *, format: str = "csv", **params: str) -> Call:
    """A dataset upload as the remote SDK sends it: the file as the body, its SHA-256 beside it."""
    return Call({"name": name}, content=content,
                params={"format": format, "filename": f"{name}.{format}", **params},
                headers={"X-Content-SHA256": hashlib.sha256(content).hexdigest(),
                         "Content-Type": "application/octet-stream"})


def _as_parquet(csv: bytes) -> bytes:
    import pyarrow.csv as pacsv  # type: ignore[import-untyped]

    buffer = io.BytesIO()
    pq.write_table(pacsv.read_csv(pa.BufferReader(csv)), buffer)
    return buffer.getvalue()


OVERRIDE = "age 7: a paediatric patient, confirmed with the site"


def _override_blocked(w: World, _role: str) -> Call:
    """The same file again, with a reason, for a version its checks blocked."""
    content = w.rows(failing=True)
    name = w.register(content, checks=True)
    return _upload(name, content, checks=w.checks, override_reason=OVERRIDE)


def _version(name: str, version: str = "1", **more: Any) -> Call:
    return Call({"name": name, "version": version}, **more)


def _theirs(run_id: str, w: World, body: Any) -> Call:
    """A request on a run someone else (:attr:`World.runner`) started."""
    return Call({"run_id": run_id}, json=body, target={"owner": w.runner})


_BATCH = {"params": {"C": 1.0}, "tags": {"stage": "matrix"},
          "metrics": [{"key": "loss", "value": 0.25, "step": 1, "ts": "2026-01-01T00:00:00Z"}]}
_MODEL = {"name": "model", "flavor": "sklearn", "format": "pickle"}


V1 = "/api/v1"
CASES: tuple[Case, ...] = (
    # health and sessions
    Case("GET", "/healthz", (PUBLIC,), lambda w, r: Call()),
    Case("GET", "/readyz", (PUBLIC,), lambda w, r: Call()),
    Case("POST", f"{V1}/login", (PUBLIC,),
         lambda w, r: Call(json={"username": w.new_user(), "password": PASSWORD})),
    Case("POST", f"{V1}/logout", (SELF,), lambda w, r: Call(token=w.fresh_session(r))),
    Case("GET", f"{V1}/whoami", (SELF,), lambda w, r: Call()),
    Case("GET", f"{V1}/workspace", (SELF,), lambda w, r: Call()),
    # users
    Case("GET", f"{V1}/users", ("user.list",), lambda w, r: Call()),
    Case("POST", f"{V1}/users", ("user.create",),
         lambda w, r: Call(json={"username": w.name("new"), "full_name": "New User", "password": PASSWORD,
                                 "roles": ["operator"]})),
    Case("GET", f"{V1}/users/{{username}}", (SELF,), lambda w, r: Call({"username": w.users[r]}), "own"),
    Case("GET", f"{V1}/users/{{username}}", ("user.list",), lambda w, r: Call({"username": "admin"}), "someone else"),
    Case("POST", f"{V1}/users/{{username}}/disable", ("user.disable",),
         lambda w, r: Call({"username": w.new_user()}, json=_reason())),
    Case("POST", f"{V1}/users/{{username}}/enable", ("user.enable",),
         lambda w, r: Call({"username": w.disabled_user()}, json=_reason())),
    Case("POST", f"{V1}/users/{{username}}/unlock", ("user.unlock",),
         lambda w, r: Call({"username": w.locked_user()}, json=_reason())),
    Case("POST", f"{V1}/users/{{username}}/password", (PUBLIC,),
         lambda w, r: Call({"username": w.new_user()},
                           json={"old_password": PASSWORD, "new_password": "a brand new passphrase"})),
    Case("POST", f"{V1}/users/{{username}}/password-reset", ("user.reset_password",),
         lambda w, r: Call({"username": w.new_user()}, json={"new_password": "a temporary passphrase", **_reason()})),
    # roles
    Case("GET", f"{V1}/roles", (SELF,), lambda w, r: Call()),
    Case("POST", f"{V1}/roles/grant", ("role.grant",),
         lambda w, r: Call(json={"username": w.new_user(), "role": "operator", **_reason()})),
    Case("POST", f"{V1}/roles/revoke", ("role.revoke",),
         lambda w, r: Call(json={"username": w.new_user(roles=("operator",)), "role": "operator", **_reason()})),
    # tokens
    Case("GET", f"{V1}/tokens", (SELF,), lambda w, r: Call(), "own"),
    Case("GET", f"{V1}/tokens", ("token.list",), lambda w, r: Call(params={"username": "admin"}), "someone else's"),
    Case("POST", f"{V1}/tokens", (SELF,), lambda w, r: Call(json={"name": w.name("mine"), "expires_days": 1}), "own"),
    Case("POST", f"{V1}/tokens", ("token.create",),
         lambda w, r: Call(json={"name": w.name("theirs"), "expires_days": 1, "username": w.new_user()}),
         "for someone else"),
    Case("POST", f"{V1}/tokens/{{token_id}}/revoke", (SELF,),
         lambda w, r: Call({"token_id": w.token_of(w.users[r])}, json=_reason()), "own"),
    Case("POST", f"{V1}/tokens/{{token_id}}/revoke", ("token.revoke",),
         lambda w, r: Call({"token_id": w.token_of(w.new_user())}, json=_reason()), "someone else's"),
    # the audit trail
    Case("GET", f"{V1}/audit/events", ("audit.read",), lambda w, r: Call(params={"limit": 5, "newest_first": True})),
    Case("POST", f"{V1}/audit/verify", ("audit.verify",), lambda w, r: Call()),
    Case("POST", f"{V1}/audit/checkpoint", ("audit.checkpoint",), _checkpoint),
    Case("POST", f"{V1}/audit/export", ("audit.export",), lambda w, r: Call(json={}), "jsonl"),
    Case("POST", f"{V1}/audit/export", ("audit.export",), lambda w, r: Call(json={"format": "csv"}), "csv"),
    # artifacts and keys
    Case("POST", f"{V1}/artifacts", ("artifact.put",), _put_artifact),
    Case("GET", f"{V1}/artifacts", ("artifact.read",), lambda w, r: Call()),
    Case("GET", f"{V1}/artifacts/{{digest}}", ("artifact.read",), lambda w, r: Call({"digest": w.digest})),
    Case("GET", f"{V1}/artifacts/{{digest}}/content", ("artifact.read",), lambda w, r: Call({"digest": w.digest})),
    Case("POST", f"{V1}/artifacts/{{digest}}/verify", ("artifact.verify",), lambda w, r: Call({"digest": w.digest})),
    Case("POST", f"{V1}/artifacts/fsck", ("artifact.verify",), lambda w, r: Call(json={}), "check"),
    Case("POST", f"{V1}/artifacts/fsck", ("artifact.verify", "artifact.fsck"),
         lambda w, r: Call(json={"remove_orphans": True}), "remove orphans"),
    Case("GET", f"{V1}/keys", ("audit.verify",), lambda w, r: Call()),
    Case("POST", f"{V1}/keys/rotate", ("keys.rotate",), lambda w, r: Call(json=_reason("scheduled rotation"))),
    # dataset data is read through the dataset routes only, whatever artifact.* one holds
    Case("GET", f"{V1}/artifacts/{{digest}}/content", ("artifact.read",),
         lambda w, r: Call({"digest": f"sha256:{w.rows_digest}"}, target={"hex": w.rows_digest}),
         "dataset rows", DATASET_ARTIFACT),
    Case("GET", f"{V1}/artifacts/{{digest}}/content", ("artifact.read",),
         lambda w, r: Call({"digest": f"sha256:{w.split_digest}"}, target={"hex": w.split_digest}),
         "dataset split assignment", DATASET_ARTIFACT),
    Case("POST", f"{V1}/artifacts/{{digest}}/verify", ("artifact.verify",),
         lambda w, r: Call({"digest": f"sha256:{w.rows_digest}"}, target={"hex": w.rows_digest}),
         "dataset rows", DATASET_ARTIFACT),
    # datasets
    Case("GET", f"{V1}/datasets", ("data.list",), lambda w, r: Call()),
    Case("GET", f"{V1}/datasets/{{name}}/versions", ("data.list",), lambda w, r: Call({"name": w.dataset})),
    Case("POST", f"{V1}/datasets/{{name}}/versions", ("data.register",),
         lambda w, r: _upload(w.name("new"), w.rows()), "csv"),
    Case("POST", f"{V1}/datasets/{{name}}/versions", ("data.register",),
         lambda w, r: _upload(w.name("new"), _as_parquet(w.rows()), format="parquet", read_roles=""),
         "parquet, owner only"),
    Case("POST", f"{V1}/datasets/{{name}}/versions", ("data.register", "data.override"),
         lambda w, r: _upload(w.name("new"), w.rows(failing=True), checks=w.checks, override_reason=OVERRIDE),
         "failing checks, overridden"),
    Case("POST", f"{V1}/datasets/{{name}}/versions", ("data.register", "data.override"), _override_blocked,
         "a blocked version, overridden"),
    Case("PATCH", f"{V1}/datasets/{{name}}", (SELF,),
         lambda w, r: Call({"name": w.dataset_of(r)}, json={"description": "reviewed", **_reason()}), "own"),
    Case("PATCH", f"{V1}/datasets/{{name}}", ("data.update",),
         lambda w, r: Call({"name": w.someone_elses_dataset()}, json={"description": "reviewed", **_reason()}),
         "someone else's"),
    Case("GET", f"{V1}/datasets/{{name}}/versions/{{version}}", ("data.list",),
         lambda w, r: _version(w.dataset, "latest")),
    Case("GET", f"{V1}/datasets/{{name}}/versions/{{version}}", ("data.list",),
         lambda w, r: _version(w.restricted), "rows readable by other roles"),  # read_roles narrow the rows only
    Case("GET", f"{V1}/datasets/{{name}}/versions/{{version}}/profile", ("data.read",),
         lambda w, r: _version(w.dataset)),
    Case("GET", f"{V1}/datasets/{{name}}/versions/{{version}}/profile", ("data.read",),
         lambda w, r: _version(w.restricted), "read roles", READ_ROLES),
    Case("GET", f"{V1}/datasets/{{name}}/versions/{{version}}/profile", ("data.read",),
         lambda w, r: _version(w.dataset_of(r, read_roles=[])), "own, owner only"),
    Case("GET", f"{V1}/datasets/{{name}}/versions/{{version}}/data", ("data.read",),
         lambda w, r: _version(w.dataset)),
    Case("GET", f"{V1}/datasets/{{name}}/versions/{{version}}/data", ("data.read",),
         lambda w, r: _version(w.dataset, "latest", params={"split": "train"}), "train split"),
    Case("GET", f"{V1}/datasets/{{name}}/versions/{{version}}/data", ("data.read",),
         lambda w, r: _version(w.restricted), "read roles", READ_ROLES),
    Case("GET", f"{V1}/datasets/{{name}}/versions/{{version}}/data", ("data.read",),
         lambda w, r: _version(w.dataset_of(r, read_roles=[])), "own, owner only"),
    Case("POST", f"{V1}/datasets/{{name}}/versions/{{version}}/splits", ("data.split",),
         lambda w, r: _version(w.register(), json={"test": 0.25, "seed": 3})),
    Case("POST", f"{V1}/datasets/{{name}}/versions/{{version}}/splits", ("data.split",),
         lambda w, r: _version(w.register(owner=w.new_user(), read_roles=["data-scientist", "reviewer"]),
                               json={"test": 0.25, "seed": 3}), "read roles", READ_ROLES),
    Case("POST", f"{V1}/datasets/{{name}}/versions/{{version}}/erase", (SELF,),
         lambda w, r: _version(w.dataset_of(r), json=_reason("consent withdrawn")), "own"),
    Case("POST", f"{V1}/datasets/{{name}}/versions/{{version}}/erase", ("data.erase",),
         lambda w, r: _version(w.someone_elses_dataset(), json=_reason("consent withdrawn")), "someone else's"),
    # lineage
    Case("GET", f"{V1}/lineage/{{node}}", ("lineage.read",),
         lambda w, r: Call({"node": w.version_node}, params={"direction": "down"})),
    # runs: reading
    Case("GET", f"{V1}/runs", ("run.read",), lambda w, r: Call(params={"limit": 5})),
    Case("GET", f"{V1}/runs/compare", ("run.read",), lambda w, r: Call(params={"ids": [w.run_id]})),
    Case("GET", f"{V1}/runs/{{run_id}}", ("run.read",), lambda w, r: Call({"run_id": w.run_id})),
    Case("GET", f"{V1}/runs/{{run_id}}/metrics", ("run.read",),
         lambda w, r: Call({"run_id": w.run_id}, params={"key": "loss"})),
    # runs: the record API (one's own run; a role without run.create started it when it had one)
    Case("POST", f"{V1}/runs", ("run.create",), lambda w, r: Call(json={"experiment": "matrix", "seed": 2})),
    Case("POST", f"{V1}/runs/{{run_id}}/batch", ("run.create",),
         lambda w, r: Call({"run_id": w.run_of(r)}, json=_BATCH), "own"),
    Case("POST", f"{V1}/runs/{{run_id}}/batch", ("run.create",),
         lambda w, r: _theirs(w.someone_elses_run(), w, _BATCH), "someone else's", run_owner("run.log")),
    Case("POST", f"{V1}/runs/{{run_id}}/inputs", ("data.list", "run.create"),
         lambda w, r: Call({"run_id": w.run_of(r)}, json={"dataset": w.dataset, "split": "train"}), "own"),
    Case("POST", f"{V1}/runs/{{run_id}}/inputs", ("data.list", "run.create"),
         lambda w, r: _theirs(w.someone_elses_run(), w, {"dataset": w.dataset}), "someone else's",
         run_owner("run.input")),
    Case("POST", f"{V1}/runs/{{run_id}}/artifacts", ("run.create",),
         lambda w, r: Call({"run_id": w.run_of(r)}, json={"digest": w.digest, "name": "notes.txt"}), "own"),
    Case("POST", f"{V1}/runs/{{run_id}}/artifacts", ("run.create",),
         lambda w, r: _theirs(w.someone_elses_run(), w, {"digest": w.digest, "name": "notes.txt"}),
         "someone else's", run_owner("run.artifact")),
    Case("POST", f"{V1}/runs/{{run_id}}/models", ("run.create",),
         lambda w, r: Call({"run_id": w.run_of(r)}, json={**_MODEL, "digest": w.digest}), "own"),
    Case("POST", f"{V1}/runs/{{run_id}}/models", ("run.create",),
         lambda w, r: _theirs(w.someone_elses_run(), w, {**_MODEL, "digest": w.digest}), "someone else's",
         run_owner("run.model")),
    Case("POST", f"{V1}/runs/{{run_id}}/end", ("run.create",),
         lambda w, r: Call({"run_id": w.run_of(r)}, json={"status": "finished"}), "own"),
    Case("POST", f"{V1}/runs/{{run_id}}/end", ("run.create",),
         lambda w, r: _theirs(w.someone_elses_run(), w, {"status": "finished"}), "someone else's",
         run_owner("run.end")),
    Case("POST", f"{V1}/runs/{{run_id}}/reports", ("run.create",),
         lambda w, r: Call({"run_id": w.run_id}, json={"digest": w.digest, "kind": "reproduction"}), "reproduction"),
    Case("POST", f"{V1}/runs/{{run_id}}/reports", ("model.validate",),
         lambda w, r: Call({"run_id": w.run_id}, json={"digest": w.digest, "kind": "validation"}), "validation"),
    Case("POST", f"{V1}/runs/{{run_id}}/kill", (SELF,),
         lambda w, r: Call({"run_id": w.run_of(r)}, json=_reason("the node died")), "own"),
    # validation records
    Case("POST", f"{V1}/runs/{{run_id}}/criteria", ("model.validate",),
         lambda w, r: Call({"run_id": w.run_id}, json={"criteria": "- {metric: r2, min: 0.1, split: test}"})),
    Case("GET", f"{V1}/runs/{{run_id}}/criteria", ("run.read",), lambda w, r: Call({"run_id": w.run_id})),
    Case("POST", f"{V1}/runs/{{run_id}}/validations", ("model.validate",),
         lambda w, r: Call({"run_id": w.run_id}, json={"model": "model", "results": w.digest, "report_html": w.digest})),
    Case("GET", f"{V1}/validations", ("run.read",), lambda w, r: Call(params={"run_id": w.run_id})),
    Case("POST", f"{V1}/runs/{{run_id}}/kill", (SELF,),
         lambda w, r: _theirs(w.someone_elses_run(), w, _reason("the node died")), "someone else's",
         run_owner("run.kill", others="run.kill")),
)
AUTHENTICATED = [c for c in CASES if c.needs != (PUBLIC,)]


def _send(w: World, case: Case, call: Call, *, authorization: str | None,
          headers: dict[str, str] | None = None) -> tuple[httpx.Response, str]:
    """Send the request with a fresh request id (which the audit events carry)."""
    request_id = f"authz-{secrets.token_hex(8)}"
    headers = {"X-Request-ID": request_id, **call.headers, **(headers or {})}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = w.http.request(case.method, case.path.format(**call.path_params), json=call.json,
                              content=call.content, params=call.params, headers=headers)
    assert response.headers["x-request-id"] == request_id
    return response, request_id


#: Events that record an attempt rather than a change.
SECURITY_RECORDS = frozenset({"access.denied", "login.failed", "security.alert"})


def _events_of(w: World, request_id: str) -> list[AuditRecord]:
    """The audit events written while handling the request (they carry its id)."""
    return [e for e in w.admin.audit.log(newest_first=True, limit=50) if e.request_id == request_id]


def _assert_error(response: httpx.Response, status: int, type_name: str, request_id: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"type", "message", "request_id"}
    assert body["error"]["type"] == type_name
    assert body["error"]["request_id"] == request_id
    assert body["error"]["message"]
    return dict(body["error"])


# ---------------------------------------------------------------------------- the specification


def test_the_hand_written_table_agrees_with_the_built_in_roles() -> None:
    assert set(BUILT_IN) == set(ROLES)
    granted_somewhere = set().union(*ROLES.values()) - {"*"}
    assert granted_somewhere <= set(GRANTED), "a role grants a permission the table does not specify"
    for permission, roles in GRANTED.items():
        for role in BUILT_IN:
            actor = Actor(id=f"id-{role}", username=role, name=role, roles=frozenset({role}),
                          permissions=permissions_for(frozenset({role})))
            assert actor.can(permission) == (role in roles), (permission, role)


def test_every_case_names_specified_permissions() -> None:
    for case in CASES:
        assert case.needs, case.id
        assert all(p in GRANTED or p == PUBLIC for p in case.needs), case.id
        assert PUBLIC not in case.needs or case.needs == (PUBLIC,), case.id
        assert case.gate is None or (case.gate.passes <= EVERYONE and PUBLIC not in case.needs), case.id
    assert len({c.id for c in CASES}) == len(CASES), "two cases with the same id: name their variants"


def test_the_matrix_covers_every_operation_of_the_openapi_document(world: World) -> None:
    served = {(method.upper(), path) for path, item in world.openapi["paths"].items()
              for method in item if method in _HTTP_METHODS}
    declared = {(c.method, c.path) for c in CASES}
    assert served - declared == set(), "operations without an authorization case: add them to CASES"
    assert declared - served == set(), "cases for operations the server does not have"


def test_only_health_login_and_password_change_are_public() -> None:
    public = {(c.method, c.path) for c in CASES if c.needs == (PUBLIC,)}
    assert public == {("GET", "/healthz"), ("GET", "/readyz"), ("POST", f"{V1}/login"),
                      ("POST", f"{V1}/users/{{username}}/password")}


# ---------------------------------------------------------------------------- the matrix


@pytest.mark.parametrize("role", BUILT_IN)
@pytest.mark.parametrize("case", AUTHENTICATED, ids=lambda c: c.id)
def test_each_role_is_allowed_exactly_what_its_permissions_grant(world: World, case: Case, role: str) -> None:
    call = case.build(world, role)
    response, request_id = _send(world, case, call, authorization=f"Bearer {call.token or world.sessions[role]}")
    events = _events_of(world, request_id)
    if case.allowed_for(role):
        assert response.status_code == world.success_status(case.method, case.path), response.text
        assert "access.denied" not in [e.action for e in events]
    else:
        username = world.users[role]
        permission, message = case.refusal(role, username, call)
        error = _assert_error(response, 403, "PermissionDenied", request_id)
        assert message in error["message"]
        [event] = events  # the denial is recorded, and nothing else happened
        assert event.action == "access.denied"
        assert event.new is not None
        assert (event.new["permission"], event.new["actor"]) == (permission, username)


@pytest.mark.parametrize("credentials", ["none", "garbage", "forged"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_without_valid_credentials_only_public_operations_answer(world: World, case: Case, credentials: str) -> None:
    authorization = {
        "none": None,
        "garbage": "Bearer this-is-not-a-token",
        "forged": f"Bearer gxpml_tok_{secrets.token_hex(8)}_{secrets.token_urlsafe(32)}",
    }[credentials]
    call = case.build(world, "admin")
    if case.needs == (PUBLIC,):
        # Public routes that check a password share the login rate limit; these cases are
        # not about it (test_password_changes_share_the_login_rate_limit is), so start afresh.
        from gxpml.api.deps import LoginLimiter

        world.server.server.config.app.state.login_limiter = LoginLimiter()
    response, request_id = _send(world, case, call, authorization=authorization)
    if case.needs == (PUBLIC,):
        assert response.status_code == world.success_status(case.method, case.path), response.text
    else:
        _assert_error(response, 401, "AuthenticationError", request_id)
        assert response.headers["www-authenticate"] == "Bearer"
        changes = [e.action for e in _events_of(world, request_id) if e.action not in SECURITY_RECORDS]
        assert changes == []


# ---------------------------------------------------------------------------- found on the way


def test_logging_out_over_http_ends_only_the_callers_session(world: World) -> None:
    with Workspace.open(world.admin.settings.home, anonymous=True) as host:
        # Someone ran `gxpml login` on the machine the server runs on (same session file).
        stored = host.login(world.users["reviewer"], PASSWORD, remember=True)
    response = world.http.post(f"{V1}/logout", headers={"Authorization": f"Bearer {world.fresh_session('operator')}"})
    assert response.status_code == 204
    assert world.http.get(f"{V1}/whoami", headers={"Authorization": f"Bearer {stored}"}).status_code == 200


def test_password_changes_share_the_login_rate_limit(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        answers = [http.post(f"{V1}/users/nobody-{i}/password",
                             json={"old_password": "a guessed passphrase", "new_password": "another long passphrase"}).status_code
                   for i in range(11)]
    assert answers[:10] == [401] * 10
    assert answers[10] == 429


#: Refused requests sent with an Idempotency-Key (the remote SDK sends one with every write, so that a
#: proxy that retries it cannot apply it twice; a client may send the same one as often as it likes).
REFUSED_WITH_A_KEY = [
    pytest.param("operator", "POST", f"{V1}/runs", lambda w: Call(json={"experiment": "matrix", "seed": 2}),
                 "run.create", id="start a run"),
    pytest.param("reviewer", "POST", f"{V1}/datasets/{{name}}/versions", lambda w: _upload(w.name("new"), w.rows()),
                 "data.register", id="register a dataset"),
    pytest.param("service", "POST", f"{V1}/datasets/{{name}}/versions/{{version}}/splits",
                 lambda w: _version(w.restricted, json={"test": 0.25, "seed": 3}), None, id="split, read roles"),
]
@pytest.mark.parametrize(("role", "method", "path", "build", "permission"), REFUSED_WITH_A_KEY)
def test_a_refused_request_retried_with_its_idempotency_key_is_refused_and_recorded_again(
        world: World, role: str, method: str, path: str, build: Callable[[World], Call], permission: str | None) -> None:
    """Every unauthorized attempt is recorded (21 CFR 11.300(d)), however often it is retried."""
    case, call = Case(method, path, (), lambda w, r: Call()), build(world)
    key = f"retry-{secrets.token_hex(8)}"
    for attempt in range(2):
        response, request_id = _send(world, case, call, authorization=f"Bearer {world.sessions[role]}",
                                     headers={"Idempotency-Key": key})
        assert response.status_code == 403, f"attempt {attempt + 1}: {response.text}"
        [event] = _events_of(world, request_id)
        assert event.action == "access.denied"
        assert event.new is not None and event.new["actor"] == world.users[role]
        assert permission is None or event.new["permission"] == permission


def test_a_request_refused_and_then_permitted_is_applied_when_retried_with_its_key(world: World) -> None:
    """A refused request was not applied: once its sender holds the permission, its retry is."""
    username = world.new_user(roles=("operator",))
    session = world.anonymous.login(username, PASSWORD)
    case, call = Case("POST", f"{V1}/runs", (), lambda w, r: Call()), Call(json={"experiment": "matrix", "seed": 2})
    key = f"retry-{secrets.token_hex(8)}"
    refused, _ = _send(world, case, call, authorization=f"Bearer {session}", headers={"Idempotency-Key": key})
    assert refused.status_code == 403, refused.text
    world.admin.roles.grant(username, "data-scientist", reason="now starts runs")
    retried, _ = _send(world, case, call, authorization=f"Bearer {session}", headers={"Idempotency-Key": key})
    assert retried.status_code == 201, retried.text


def _answer_before_the_body(w: World, target: str, session: str, *, wait: float = 5.0) -> bytes:
    """Announce a 16 GiB upload, send 64 KiB of it and wait for an answer: what the server
    says before it has read the body (b"" if it says nothing, i.e. it keeps reading)."""
    url = httpx.URL(w.server.url)
    head = (f"POST {target} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\nAuthorization: Bearer {session}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {16 << 30}\r\n\r\n").encode()
    with socket.create_connection((url.host, url.port), timeout=wait) as sock:
        sock.sendall(head + b"x" * (64 << 10))
        try:
            return sock.recv(4096)
        except TimeoutError:
            return b""


@pytest.mark.parametrize(("target", "permission"), [
    pytest.param(f"{V1}/artifacts?name=big.bin", "artifact.put", id="artifact"),
    pytest.param(f"{V1}/datasets/big/versions?format=csv", "data.register", id="dataset"),
])
def test_an_upload_without_the_permission_is_refused_before_its_body_is_read(world: World, target: str,
                                                                            permission: str) -> None:
    answer = _answer_before_the_body(world, target, world.sessions["reviewer"])
    assert answer.startswith(b"HTTP/1.1 403"), answer[:200]
    assert f"as-reviewer (reviewer) may not {permission}".encode() in answer
