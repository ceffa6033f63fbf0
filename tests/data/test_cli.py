"""``gxpml data ...``: the interface scripts rely on (names, options, exit codes, JSON)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from gxpml.cli import app
from gxpml.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from gxpml.workspace import Workspace
from support import ADMIN_PASSWORD, PASSWORD, make_workspace


class Cli:
    def __init__(self, home: Path) -> None:
        self.home, self.runner = home, CliRunner()

    def __call__(self, *args: str, code: int = 0) -> Any:
        result = self.runner.invoke(app, ["--workspace", str(self.home), *args])
        detail = f"exit {result.exit_code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        assert result.exit_code == code, detail
        assert "Traceback" not in result.output, detail
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture
def gxpml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """The CLI on a fresh SQLite workspace with the administrator logged in."""
    monkeypatch.setenv("COLUMNS", "250")
    ws = make_workspace(tmp_path / "ws", None)
    ws.users.add("dora", "Dora Data", password=PASSWORD, roles=["reviewer"])
    ws.close()
    with Workspace.open(tmp_path / "ws") as opened:
        opened.login("admin", ADMIN_PASSWORD, remember=True)
    yield Cli(tmp_path / "ws")


@pytest.fixture
def checks_file(tmp_path: Path, checks: dict[str, Any]) -> Path:
    path = tmp_path / "diabetes.json"
    path.write_text(json.dumps(checks))
    return path


def test_register_split_list_show_get(gxpml: Cli, files: dict[str, Path], checks_file: Path, tmp_path: Path) -> None:
    result = gxpml("data", "register", "diabetes", str(files["csv"]), "--checks", str(checks_file),
                   "--description", "Efron et al. 2004", "--phi", "--retention-days", "3650")
    assert result.stdout.strip() == "diabetes:1"  # alone on stdout, for REF=$(gxpml data register ...)
    assert "442 rows, 12 columns, digest sha256:" in result.stderr and "status ready" in result.stderr

    split = gxpml.json("data", "split", "diabetes", "--test", "0.2", "--validation", "0.1",
                       "--group", "patient_id", "--seed", "42")
    assert (split["method"], split["dataset"], split["sequestered"]) == ("group", "diabetes:1", True)
    assert gxpml.json("data", "split", "diabetes:1", "--test", "0.2", "--validation", "0.1",
                      "--group", "patient_id", "--seed", "42")["id"] == split["id"]

    [listed] = gxpml.json("data", "list")
    assert (listed["ref"], listed["phi"], listed["status"]) == ("diabetes:1", True, "ready")
    shown = gxpml.json("data", "show", "diabetes:1")
    assert shown["digest"] == listed["digest"] and shown["splits"][0]["id"] == split["id"]
    text = gxpml("data", "show", "diabetes").stdout
    assert "diabetes:1" in text and "3650 days" in text and "passed" in text and split["id"] in text

    out = tmp_path / "test.csv"
    written = gxpml("data", "get", "diabetes", str(out), "--split", "test").stdout
    assert written.startswith(f"Wrote {split['counts']['test']} rows of diabetes (test) to ")
    assert len(pd.read_csv(out)) == split["counts"]["test"]
    assert gxpml.json("data", "show", "diabetes")["splits"][0]["test_reads"] == 1
    profile = gxpml.json("data", "show", "diabetes", "--profile")["profile"]
    assert profile["columns"]["age"]["max"] == 79


def test_a_blocked_version_and_its_override(gxpml: Cli, diabetes: pd.DataFrame, checks_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    diabetes.assign(age=diabetes.age.where(diabetes.index != 3, 130)).to_parquet(bad, index=False)
    result = gxpml("data", "register", "diabetes", str(bad), "--checks", str(checks_file))
    assert "Failed checks: age: in_range(max=100, min=18) (1 rows)" in result.stderr and "blocked" in result.stderr
    failed = gxpml("data", "get", "diabetes", str(tmp_path / "out.csv"), code=Conflict.exit_code)
    assert failed.stderr.startswith("Error: Dataset version diabetes:1 is blocked")
    gxpml("data", "register", "diabetes", str(bad), "--checks", str(checks_file), "--override-reason", "known typo")
    assert gxpml.json("data", "show", "diabetes")["status"] == "overridden"


def test_erase_and_errors(gxpml: Cli, files: dict[str, Path], tmp_path: Path) -> None:
    gxpml("data", "register", "diabetes", str(files["parquet"]))
    result = gxpml("data", "erase", "diabetes:1", "--reason", "consent withdrawn")
    assert result.stdout.startswith("Erased the data of diabetes:1; its record and digest sha256:")
    assert gxpml.json("data", "show", "diabetes:1")["status"] == "erased"

    assert "does not exist" in gxpml("data", "register", "x", str(tmp_path / "none.csv"), code=NotFound.exit_code).stderr
    assert "No dataset named 'nope'" in gxpml("data", "show", "nope", code=NotFound.exit_code).stderr
    assert "Missing option '--seed'" in gxpml("data", "split", "diabetes", "--test", "0.2", code=2).stderr
    assert "needs a reason" in gxpml("data", "erase", "diabetes:1", "--reason", "", code=InvalidInput.exit_code).stderr


def test_a_reviewer_sees_the_catalog_but_not_the_rows(gxpml: Cli, files: dict[str, Path], tmp_path: Path) -> None:
    gxpml("data", "register", "diabetes", str(files["csv"]))
    with Workspace.open(gxpml.home) as ws:
        ws.login("dora", PASSWORD, remember=True)
    assert [v["ref"] for v in gxpml.json("data", "list")] == ["diabetes:1"]
    denied = gxpml("data", "get", "diabetes", str(tmp_path / "x.parquet"), code=PermissionDenied.exit_code)
    assert "dora (reviewer) may not data.read" in denied.stderr


def test_the_same_commands_work_through_a_server(gxpml: Cli, files: dict[str, Path], checks_file: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from support import LiveServer

    with Workspace.open(gxpml.home, user="admin", password=ADMIN_PASSWORD) as ws:
        _, token = ws.tokens.create("cli", expires_days=1)
    server = LiveServer(gxpml.home)
    try:
        monkeypatch.setenv("GXPML_TOKEN", token)
        remote = CliRunner()

        def run(*args: str) -> Any:
            result = remote.invoke(app, ["--server", server.url, *args])
            assert result.exit_code == 0, result.output
            return result

        assert run("data", "register", "diabetes", str(files["csv"]), "--checks", str(checks_file)).stdout.strip() == "diabetes:1"
        split = json.loads(run("data", "split", "diabetes", "--test", "0.2", "--seed", "1", "--json").stdout)
        local = gxpml.json("data", "show", "diabetes")
        assert local["splits"][0]["id"] == split["id"] and local["source_uri"] == str(files["csv"])
        assert local["digest"] == gxpml.json("data", "register", "again", str(files["parquet"]))["digest"]
    finally:
        server.stop()
