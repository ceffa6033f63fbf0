"""Fixtures shared by the whole suite: a fresh workspace on each metadata backend.

Tests that take ``workspace`` run twice: on SQLite (a file in the test's tmp folder) and on
the PostgreSQL server at 127.0.0.1:5432, where the session creates a fresh database and drops
it at the end; each workspace gets its own schema in it. Set GXPML_TEST_PG_URL to point at
another server; set GXPML_TEST_SKIP_PG=1 to skip (reported as skipped, never as passed).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gxpml.workspace import Workspace
from support import PG_ADMIN_URL, drop_append_only, make_workspace, new_pg_schema, raw_execute


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the developer's own gxpml session or settings."""
    for name in ("GXPML_HOME", "GXPML_TOKEN", "GXPML_PASSWORD", "GXPML_NEW_PASSWORD",
                 "GXPML_DATABASE_URL", "GXPML_ARTIFACT_URL", "GXPML_S3_ENDPOINT_URL", "GXPML_SERVER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GXPML_SESSION_FILE", str(tmp_path / "sessions.json"))


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    if os.environ.get("GXPML_TEST_SKIP_PG"):
        pytest.skip("GXPML_TEST_SKIP_PG is set: PostgreSQL tests skipped")
    name = f"gxpml_test_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is not reachable ({exc}); start it or set GXPML_TEST_SKIP_PG=1")
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None for the embedded SQLite default, else a PostgreSQL URL with a fresh schema."""
    if request.param == "sqlite":
        return None
    return new_pg_schema(request.getfixturevalue("pg_database"))


@pytest.fixture
def workspace(tmp_path: Path, database_url: str | None) -> Iterator[Workspace]:
    """A fresh workspace, opened as its administrator ``admin``."""
    ws = make_workspace(tmp_path / "ws", database_url)
    try:
        yield ws
    finally:
        ws.close()


@pytest.fixture
def tamper(workspace: Workspace) -> Callable[..., None]:
    """``tamper(sql, ...)``: edit the workspace's database behind gxpml's back."""
    def run(*statements: str) -> None:
        raw_execute(workspace, *drop_append_only(workspace), *statements)
    return run
