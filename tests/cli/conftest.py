"""Fixtures for the command-line tests: the CLI run in-process against a fresh workspace.

The CLI is a thin adapter, so these tests pin its interface (command names, exit codes,
what goes to stdout and stderr, JSON shapes) on SQLite rather than re-testing the SDK on
every backend. The suite-wide ``_isolated_env`` fixture keeps GXPML_* variables and the
session file away from the developer's own.

    def test_something(cli):
        cli("user", "show", "nobody", code=4)        # asserts the exit code, returns the Result
        users = cli.json("user", "list")             # runs with --json, parses stdout
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from gxpml.cli import app
from gxpml.workspace import Workspace
from support import ADMIN_PASSWORD, FAST_SECURITY, PASSWORD, make_workspace


class Cli:
    """Runs ``gxpml [--workspace HOME] ARGS...`` in-process."""

    #: ``gxpml init`` arguments that make argon2 cheap, as FAST_SECURITY does for the SDK.
    FAST_INIT = tuple(arg for key, value in FAST_SECURITY.items() for arg in ("--security", f"{key}={value}"))

    def __init__(self, home: Path | None) -> None:
        self.home = home
        self.runner = CliRunner()

    def __call__(
        self, *args: str, code: int | None = 0, input: str | None = None, env: dict[str, str | None] | None = None,
    ) -> Result:
        """Run; unless ``code`` is None, assert the exit code (showing the output if it
        differs) and that no command crashed with a traceback."""
        argv = ["--workspace", str(self.home), *args] if self.home else list(args)
        result = self.runner.invoke(app, argv, input=input, env=env)
        if code is not None:
            detail = f"exit {result.exit_code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
            assert result.exit_code == code, detail
            assert result.exception is None or isinstance(result.exception, SystemExit), detail
            assert "Traceback" not in result.output, detail
        return result

    def json(self, *args: str, **kwargs: Any) -> Any:
        """Run with ``--json`` (exit 0) and parse stdout, which must be one JSON document."""
        return json.loads(self(*args, "--json", **kwargs).stdout)


@pytest.fixture(autouse=True)
def _wide_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables wide enough not to wrap cells, and a working folder with no workspace."""
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def gxpml() -> Cli:
    """The CLI without ``--workspace``."""
    return Cli(None)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A fresh SQLite workspace whose administrator is ``admin`` (nobody logged in)."""
    make_workspace(tmp_path / "ws", None).close()
    return tmp_path / "ws"


@pytest.fixture
def cli(home: Path) -> Cli:
    """The CLI pointed at ``home``; nobody logged in."""
    return Cli(home)


@pytest.fixture
def login(home: Path) -> Callable[[str, str], None]:
    """``login(user, password)``: store a session as `gxpml login` does (through the SDK)."""

    def run(username: str, password: str) -> None:
        with Workspace.open(home) as ws:
            ws.login(username, password, remember=True)

    return run


@pytest.fixture
def admin(cli: Cli, login: Callable[[str, str], None]) -> Cli:
    """The CLI with the administrator ``admin`` logged in."""
    login("admin", ADMIN_PASSWORD)
    return cli


@pytest.fixture
def add_user(home: Path) -> Callable[..., None]:
    """``add_user(name, *roles)``: create a user with password PASSWORD through the SDK."""

    def add(username: str, *roles: str, password: str = PASSWORD) -> None:
        with Workspace.open(home, user="admin", password=ADMIN_PASSWORD) as ws:
            ws.users.add(username, f"{username.title()} Tester", password=password, roles=list(roles))

    return add
