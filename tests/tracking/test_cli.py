"""``gxpml runs list / show / compare / metrics / kill``, against a local workspace and through
``--server``. The CLI is a thin adapter, so these pin its interface: commands, JSON shapes,
exit codes, and that differing rows of a comparison are marked."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from typer.testing import CliRunner, Result

from gxpml.cli import app
from gxpml.errors import Conflict, NotFound
from gxpml.workspace import Workspace
from support import LiveServer


@pytest.fixture
def runs(local: Workspace) -> list[str]:
    """Two finished runs of one experiment that differ in one param and one metric."""
    ids = []
    for C in (0.5, 1.0):
        with local.start_run(experiment="cli", seed=1, name=f"C={C}") as run:
            run.log_params({"C": C, "penalty": "l2"})
            run.log_metrics({"accuracy": 0.9, "loss": C / 10})
            run.log_metric("loss", C / 20)
        ids.append(run.id)
    return ids


@pytest.fixture(params=["local", "server"])
def gxpml(request: pytest.FixtureRequest, local: Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Result]]:
    """``gxpml(*args, code=0)``: the CLI as the administrator, on the workspace folder or
    through ``--server``."""
    monkeypatch.setenv("COLUMNS", "250")
    _info, token = local.tokens.create("cli", expires_days=1)
    server = LiveServer(local.settings.home) if request.param == "server" else None
    target = ["--server", server.url] if server else ["--workspace", str(local.settings.home)]

    def run(*args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(app, [*target, *args], env={"GXPML_TOKEN": token})
        assert result.exit_code == code, f"exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
        assert "Traceback" not in result.output
        return result

    try:
        yield run
    finally:
        if server:
            server.stop()


def test_list_json_and_table(gxpml: Callable[..., Result], runs: list[str]) -> None:
    listed = json.loads(gxpml("runs", "list", "--json").stdout)
    assert [r["id"] for r in listed] == runs[::-1]
    assert listed[0]["metrics"] == {"accuracy": 0.9, "loss": 0.05}
    assert json.loads(gxpml("runs", "list", "--experiment", "other", "--json").stdout) == []
    table = gxpml("runs", "list").stdout
    assert runs[0] in table and "finished" in table and "loss=0.025" in table


def test_show_json_and_fields(gxpml: Callable[..., Result], runs: list[str]) -> None:
    shown = json.loads(gxpml("runs", "show", runs[0], "--json").stdout)
    assert (shown["status"], shown["seed"], shown["params"]) == ("finished", 1, {"C": 0.5, "penalty": "l2"})
    assert shown["source"]["environment_digest"]
    text = gxpml("runs", "show", runs[0]).stdout
    assert f"Run {runs[0]}" in text and "penalty" in text and "environment" in text


def test_compare_marks_the_rows_that_differ(gxpml: Callable[..., Result], runs: list[str]) -> None:
    compared = json.loads(gxpml("runs", "compare", *runs, "--json").stdout)
    assert compared["differing_params"] == ["C"] and compared["differing_metrics"] == ["loss"]
    lines = gxpml("runs", "compare", *runs).stdout.splitlines()
    marked = {line.split("│")[1].strip() for line in lines if line.count("│") > 2 and "*" in line.split("│")[1]}
    assert marked == {"* param C", "* metric loss"}
    assert any("param penalty" in line and "*" not in line.split("│")[1] for line in lines)


def test_metric_history(gxpml: Callable[..., Result], runs: list[str]) -> None:
    points = json.loads(gxpml("runs", "metrics", runs[0], "loss", "--json").stdout)
    assert [(p["step"], p["value"]) for p in points] == [(0, 0.05), (1, 0.025)]


def test_errors_are_messages_with_exit_codes(gxpml: Callable[..., Result], runs: list[str], local: Workspace) -> None:
    missing = gxpml("runs", "show", "run_0000000000000000", code=NotFound.exit_code)
    assert missing.stderr.startswith("Error: No run 'run_0000000000000000' in this workspace")
    gxpml("runs", "kill", runs[0], "--reason", "late", code=Conflict.exit_code)
    running = local.start_run(experiment="cli")
    assert f"Run {running.id} is killed." in gxpml("runs", "kill", running.id, "--reason", "stuck").stdout


def test_runs_commands_need_a_login(local: Workspace, runs: list[str]) -> None:
    result = CliRunner().invoke(app, ["--workspace", str(local.settings.home), "runs", "list"])
    assert result.exit_code == 6 and "Not logged in" in result.stderr
