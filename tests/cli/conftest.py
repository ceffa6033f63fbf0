"""Fixtures for the command-line tests: a runner bound to a fresh SQLite workspace.

The CLI is a thin adapter, so these tests pin its interface (names, exit codes, what goes
to stdout and stderr, JSON shapes) rather than re-testing the SDK on every backend.
The suite-wide ``_isolated_env`` fixture already keeps GXPML_* variables and the session
file away from the developer's own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
import pytest
from typer.testing import CliRunner

from cli_support import Cli, login
from gxpml.workspace import Workspace
from support import ADMIN_PASSWORD, PASSWORD, make_workspace


@pytest.fixture(autouse=True)
def _wide_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables wide enough not to wrap cells, and a working folder with no workspace."""
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A fresh SQLite workspace whose administrator is ``admin`` (nobody logged in)."""
    make_workspace(tmp_path / "ws", None).close()
    return tmp_path / "ws"


@pytest.fixture
def cli(home: Path) -> Cli:
    """The CLI pointed at ``home``; nobody logged in."""
    return Cli(CliRunner(), home)


@pytest.fixture
def admin(cli: Cli, home: Path) -> Cli:
    """The CLI with the administrator ``admin`` logged in."""
    login(home, "admin", ADMIN_PASSWORD)
    return cli


@pytest.fixture
def add_user(home: Path) -> Callable[..., None]:
    """``add_user(name, *roles)``: create a user with password PASSWORD through the SDK."""

    def add(username: str, *roles: str, password: str = PASSWORD) -> None:
        with Workspace.open(home, user="admin", password=ADMIN_PASSWORD) as ws:
            ws.users.add(username, username.title() + " Tester", password=password, roles=list(roles))

    return add
