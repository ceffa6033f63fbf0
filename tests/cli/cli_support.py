"""Helpers for the command-line tests (import as ``from cli_support import ...``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from gxpml.cli import app
from gxpml.workspace import Workspace
from support import FAST_SECURITY

#: ``gxpml init`` arguments that make argon2 cheap, as FAST_SECURITY does for the SDK.
FAST_INIT = [arg for key, value in FAST_SECURITY.items() for arg in ("--security", f"{key}={value}")]


@dataclass
class Cli:
    """Runs ``gxpml --workspace HOME ARGS...`` in-process and returns the click Result."""

    runner: CliRunner
    home: Path | None

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str | None] | None = None) -> Result:
        argv = ["--workspace", str(self.home), *args] if self.home else list(args)
        return self.runner.invoke(app, argv, input=input, env=env)

    def ok(self, *args: str, **kwargs: Any) -> Result:
        """Run, and fail the test unless the command exits 0."""
        return expect(self(*args, **kwargs), 0)

    def json(self, *args: str, **kwargs: Any) -> Any:
        """Run with ``--json`` (exit 0 expected) and parse stdout as one JSON document."""
        return json.loads(self.ok(*args, "--json", **kwargs).stdout)


def expect(result: Result, code: int) -> Result:
    """Assert the exit code, showing the output when it differs; no command may crash."""
    detail = f"exit {result.exit_code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.exit_code == code, detail
    assert "Traceback" not in result.output, detail
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def login(home: Path, username: str, password: str) -> None:
    """Store a session for ``username`` as `gxpml login` would (set up through the SDK)."""
    with Workspace.open(home) as ws:
        ws.login(username, password, remember=True)


def rows(stdout: str) -> Sequence[str]:
    """The body lines of a rich table (those between the box-drawing rules)."""
    return [line for line in stdout.splitlines() if line.startswith("│")]
