"""Workspace settings: ``gxpml.toml`` in the workspace folder, overridden by environment.

Environment variables (each wins over the file):

    GXPML_HOME            the workspace folder (default ``./.gxpml``)
    GXPML_DATABASE_URL    SQLAlchemy URL, e.g. ``postgresql+psycopg://user@host/db``
    GXPML_ARTIFACT_URL    a folder or ``s3://bucket/prefix``
    GXPML_S3_ENDPOINT_URL endpoint of an S3-protocol store other than AWS
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gxpml.errors import ConfigError

__all__ = ["CONFIG_FILE", "SecurityPolicy", "Settings", "default_home", "load_settings"]

CONFIG_FILE = "gxpml.toml"


def default_home() -> Path:
    """``GXPML_HOME`` if set, else ``./.gxpml``."""
    return Path(os.environ.get("GXPML_HOME") or ".gxpml")


@dataclass(frozen=True)
class SecurityPolicy:
    """Password, lockout and session rules (21 CFR 11.300, Annex 11 §12)."""

    password_min_length: int = 12
    password_max_age_days: int = 90
    password_history: int = 5
    lockout_threshold: int = 5
    session_timeout_minutes: int = 15
    token_max_days: int = 365
    # argon2id cost; the defaults are RFC 9106's second recommended option.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4


@dataclass(frozen=True)
class Settings:
    """Everything needed to open a workspace."""

    home: Path
    workspace_id: str
    database_url: str
    artifact_url: str
    artifact_options: dict[str, Any] = field(default_factory=dict)
    encryption: bool = True
    checkpoint_interval: int = 1000
    sqlite_synchronous: str = "NORMAL"
    security: SecurityPolicy = field(default_factory=SecurityPolicy)

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def master_keys_dir(self) -> Path:
        return self.home / "keys" / "master"

    @property
    def signing_key_path(self) -> Path:
        return self.home / "keys" / "signing.key"


def _resolve_local(home: Path, value: str) -> str:
    """Relative folders and SQLite files in the config are relative to the workspace."""
    if "://" in value:
        return value
    path = Path(value)
    return str(path if path.is_absolute() else (home / path).resolve())


def _database_url(home: Path, value: str) -> str:
    if value.startswith("sqlite:///") and not value.startswith("sqlite:////"):
        relative = value.removeprefix("sqlite:///")
        if relative and not Path(relative).is_absolute():
            return "sqlite:///" + str((home / relative).resolve())
    return value


def _section(doc: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    value = doc.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: [{name}] must be a table. Fix the file or restore it from a backup.")
    return value


def load_settings(home: Path | str | None = None) -> Settings:
    """Read ``gxpml.toml`` from ``home`` (default :func:`default_home`) and apply the environment."""
    home = Path(home) if home is not None else default_home()
    path = home / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(
            f"No gxpml workspace at {home.resolve()} ({CONFIG_FILE} not found). "
            f"Create one with `gxpml init {home}` or point --workspace / GXPML_HOME at an existing one."
        )
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"Workspace config {path} is not valid TOML ({exc}). Fix the file or restore it from a backup."
        ) from exc
    except OSError as exc:
        raise ConfigError(f"Cannot read workspace config {path}: {exc.strerror}.") from exc

    try:
        ws = _section(doc, "workspace", path)
        db = _section(doc, "database", path)
        art = _section(doc, "artifacts", path)
        audit = _section(doc, "audit", path)
        sec = _section(doc, "security", path)
        workspace_id = ws["id"]
        if not isinstance(workspace_id, str) or not workspace_id:
            raise KeyError("id")
        policy_fields = SecurityPolicy.__dataclass_fields__
        unknown = set(sec) - set(policy_fields)
        if unknown:
            raise ConfigError(
                f"{path}: unknown setting(s) in [security]: {', '.join(sorted(unknown))}. "
                f"Known: {', '.join(sorted(policy_fields))}."
            )
        for key, value in sec.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{path}: [security] {key} must be a non-negative integer, got {value!r}.")
        settings = Settings(
            home=home.resolve(),
            workspace_id=workspace_id,
            database_url=_database_url(home.resolve(), str(db.get("url", "sqlite:///gxpml.db"))),
            artifact_url=_resolve_local(home.resolve(), str(art.get("url", "artifacts"))),
            artifact_options=dict(art.get("options", {})),
            encryption=bool(art.get("encryption", True)),
            checkpoint_interval=int(audit.get("checkpoint_interval", 1000)),
            sqlite_synchronous=str(db.get("sqlite_synchronous", "NORMAL")).upper(),
            security=SecurityPolicy(**sec),
        )
    except KeyError as exc:
        raise ConfigError(
            f"Workspace config {path} lacks the required setting {exc.args[0]!r} in [workspace]. "
            "Restore the file from a backup."
        ) from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"Workspace config {path} has an invalid value: {exc}.") from exc
    if settings.sqlite_synchronous not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ConfigError(f"{path}: [database] sqlite_synchronous must be NORMAL, FULL or EXTRA.")
    return apply_environment(settings)


def apply_environment(settings: Settings) -> Settings:
    """Let ``GXPML_DATABASE_URL``, ``GXPML_ARTIFACT_URL`` and ``GXPML_S3_ENDPOINT_URL`` win."""
    changes: dict[str, Any] = {}
    if url := os.environ.get("GXPML_DATABASE_URL"):
        changes["database_url"] = url
    if url := os.environ.get("GXPML_ARTIFACT_URL"):
        changes["artifact_url"] = _resolve_local(settings.home, url)
    if endpoint := os.environ.get("GXPML_S3_ENDPOINT_URL"):
        options = dict(settings.artifact_options)
        options.setdefault("client_kwargs", {})["endpoint_url"] = endpoint
        changes["artifact_options"] = options
    return replace(settings, **changes) if changes else settings


def render_config(
    *, workspace_id: str, database_url: str, artifact_url: str, encryption: bool = True,
    security: dict[str, int] | None = None,
) -> str:
    """The text of a new ``gxpml.toml``."""
    lines = [
        "# gxpml workspace configuration. Environment variables GXPML_DATABASE_URL and",
        "# GXPML_ARTIFACT_URL override [database] url and [artifacts] url.",
        "",
        "[workspace]",
        f'id = "{workspace_id}"',
        "",
        "[database]",
        f"url = {_toml_str(database_url)}",
        'sqlite_synchronous = "NORMAL"',
        "",
        "[artifacts]",
        f"url = {_toml_str(artifact_url)}",
        f"encryption = {'true' if encryption else 'false'}",
        "",
        "[audit]",
        "checkpoint_interval = 1000",
        "",
        "[security]",
    ]
    lines += [f"{key} = {value}" for key, value in sorted((security or {}).items())]
    return "\n".join(lines) + "\n"


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
