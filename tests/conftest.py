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
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gxpml.workspace import Workspace
from support import (
    ADMIN_PASSWORD,
    PG_ADMIN_URL,
    LiveServer,
    drop_append_only,
    make_workspace,
    new_pg_schema,
    raw_execute,
)


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
def local(tmp_path: Path, database_url: str | None) -> Iterator[Workspace]:
    """A fresh local workspace, opened as its administrator ``admin`` (for internals)."""
    ws = make_workspace(tmp_path / "ws", database_url)
    try:
        yield ws
    finally:
        ws.close()


@pytest.fixture(params=["local", "remote"])
def mode(request: pytest.FixtureRequest) -> str:
    """How the SDK reaches the workspace: in-process, or through a live gxpml server."""
    return str(request.param)


@pytest.fixture
def server(local: Workspace) -> Iterator[LiveServer]:
    """A live gxpml server (real uvicorn on loopback) for the ``local`` workspace."""
    live = LiveServer(local.settings.home)
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def open_client(local: Workspace, mode: str, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """``open_client(user=..., password=...)`` or ``open_client(token=...)``: the workspace as
    that actor, locally or through the server as ``mode`` says; closed at teardown."""
    opened: list[Any] = []
    url = request.getfixturevalue("server").url if mode == "remote" else None

    def open_(*, user: str | None = None, password: str | None = None, token: str | None = None,
              anonymous: bool = False) -> Any:
        if url is None:
            ws: Any = Workspace.open(local.settings.home, user=user, password=password, token=token,
                                     anonymous=anonymous)
        elif anonymous:
            from gxpml.remote import RemoteWorkspace

            ws = RemoteWorkspace(url)
        else:
            ws = Workspace.connect(url, user=user, password=password, token=token)
        opened.append(ws)
        return ws

    try:
        yield open_
    finally:
        for ws in opened:
            ws.close()


@pytest.fixture
def workspace(open_client: Callable[..., Any]) -> Any:
    """The SDK as the administrator ``admin``: a local workspace, or one reached through a
    live server — the same tests run both ways."""
    return open_client(user="admin", password=ADMIN_PASSWORD)


@pytest.fixture
def login(open_client: Callable[..., Any]) -> Callable[[str, str], Any]:
    """``login(user, password)``: the workspace as that user (local or remote as ``mode``)."""
    return lambda user, password: open_client(user=user, password=password)


@pytest.fixture
def connect(open_client: Callable[..., Any]) -> Callable[[str], Any]:
    """``connect(token)``: the workspace as the token's actor (local or remote as ``mode``)."""
    return lambda token: open_client(token=token)


@pytest.fixture
def tamper(local: Workspace) -> Callable[..., None]:
    """``tamper(sql, ...)``: edit the workspace's database behind gxpml's back."""
    def run(*statements: str) -> None:
        raw_execute(local, *drop_append_only(local), *statements)
    return run
