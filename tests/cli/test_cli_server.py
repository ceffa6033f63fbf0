"""`--server URL`: the same commands against a live gxpml server instead of a local workspace."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gxpml.cli import app
from support import ADMIN_PASSWORD, PASSWORD, LiveServer


@pytest.fixture
def remote(home: Path) -> Iterator[Any]:
    """``remote(*args, code=0, env=None)`` runs ``gxpml --server URL ARGS``."""
    server = LiveServer(home)
    runner = CliRunner()

    def run(*args: str, code: int = 0, env: dict[str, str] | None = None) -> Any:
        result = runner.invoke(app, ["--server", server.url, *args], env=env)
        assert result.exit_code == code, f"{result.stdout}\n{result.stderr}"
        assert "Traceback" not in result.output
        return result

    try:
        yield run
    finally:
        server.stop()


def test_a_session_and_the_core_commands_through_the_server(remote: Any, tmp_path: Path) -> None:
    remote("whoami", code=6)
    remote("login", "--user", "admin", env={"GXPML_PASSWORD": ADMIN_PASSWORD})
    assert json.loads(remote("whoami", "--json").stdout)["username"] == "admin"
    remote("user", "add", "bob", "--name", "Bob Jones", "--role", "data-scientist", env={"GXPML_NEW_PASSWORD": PASSWORD})
    users = json.loads(remote("user", "list", "--json").stdout)
    assert [u["username"] for u in users] == ["admin", "bob"]
    source = tmp_path / "data.csv"
    source.write_bytes(b"a,b\n1,2\n" * 10_000)
    digest = remote("artifacts", "put", str(source)).stdout.strip()
    assert digest.startswith("sha256:")
    remote("artifacts", "get", digest, str(tmp_path / "copy.csv"))
    assert (tmp_path / "copy.csv").read_bytes() == source.read_bytes()
    remote("audit", "verify")
    remote("audit", "export", str(tmp_path / "trail.csv"), "--format", "csv")
    assert (tmp_path / "trail.csv.manifest.json").exists()
    remote("audit", "verify", "--file", str(tmp_path / "trail.csv"))
    remote("user", "disable", "bob", code=2)  # --reason is required
    remote("logout")
    remote("user", "list", code=6)


def test_an_unreachable_server_is_a_clear_error(gxpml: Any) -> None:
    result = CliRunner().invoke(app, ["--server", "http://127.0.0.1:9", "whoami"], env={"GXPML_TOKEN": "gxpml_tok_x_y"})
    assert result.exit_code == 9
    assert "Cannot reach the gxpml server at http://127.0.0.1:9" in result.stderr
