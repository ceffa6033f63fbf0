"""``gxpml reproduce``: a seeded scikit-learn run, committed in git and run as a script,
is re-executed from a temporary worktree and matches byte-for-byte; after the dataset it
reads by name gets a new version (one value changed), the reproduction names the input and
model digests that differ and exits 8."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sklearn.datasets import load_breast_cancer
from typer.testing import CliRunner

from gxpml.cli import app
from gxpml.errors import Conflict, NotFound
from gxpml.tracking.reproduce import reproduce
from gxpml.workspace import Workspace
from support import make_workspace

TRAIN = '''\
import gxpml
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

with gxpml.start_run(experiment="repro", seed=7, name="logreg") as run:
    data = run.use_dataset("cancer")
    X, y = data.drop(columns="target"), data["target"]
    run.log_params({"C": 0.5})
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=2000, random_state=run.seed)).fit(X, y)
    run.log_metric("train_accuracy", float(clf.score(X, y)))
    run.log_model(clf, name="clf", input_example=X.head(3))
print(run.id)
'''


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=Test", "-c", "user.email=t@example.org", *args],
                   check=True, capture_output=True)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = make_workspace(tmp_path / "ws", None)
    try:
        yield workspace
    finally:
        workspace.close()


@pytest.fixture
def cancer() -> object:
    frame = load_breast_cancer(as_frame=True).frame.iloc[:200].reset_index(drop=True)
    return frame


@pytest.fixture
def trained(tmp_path: Path, ws: Workspace, cancer: object) -> tuple[Path, str]:
    """The training script committed in a fresh repository, run once as a subprocess."""
    ws.data.register("cancer", cancer)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "train.py").write_text(TRAIN, encoding="utf-8")
    _git(repo, "init", "-q")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "train")
    _info, token = ws.tokens.create("train", expires_days=1)
    env = {**os.environ, "GXPML_HOME": str(ws.settings.home), "GXPML_TOKEN": token, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "train.py"], cwd=repo, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return repo, done.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_seeded_run_reproduces_byte_for_byte_then_reports_changed_data(
    ws: Workspace, trained: tuple[Path, str], cancer: object, monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, run_id = trained
    original = ws.runs.get(run_id)
    assert original.source.git_commit and not original.source.git_dirty and original.source.code_artifact is None

    report = reproduce(ws, run_id, repository=repo)
    assert report.matched, [c for c in report.differences]
    assert report.code_from.startswith("git worktree of commit")
    kinds = {c.what for c in report.checks}
    assert {"input", "model", "metric", "seed", "code", "param"} <= kinds
    new = ws.runs.get(report.reproduced_run)
    assert new.tags["gxpml.reproduce_of"] == run_id and new.seed == 7
    model = next(c for c in report.checks if c.what == "model")
    assert model.matched and model.original == model.reproduced  # the same bytes, not only the same content
    assert json.loads(ws.artifacts.read_bytes(str(report.report_digest)))["matched"] is True
    assert f"run:{run_id}" in ws.lineage.ancestors(f"report:{report.report_digest}").nodes
    assert "worktree" not in subprocess.run(["git", "-C", str(repo), "worktree", "list"],
                                            capture_output=True, text=True, check=True).stdout.split("\n", 1)[-1]

    changed = cancer.copy()  # type: ignore[attr-defined]
    changed.loc[0, "mean radius"] = changed.loc[0, "mean radius"] + 5.0
    ws.data.register("cancer", changed)
    monkeypatch.chdir(repo)  # the repository is found from the current folder
    _info, token = ws.tokens.create("cli", expires_days=1)
    result = CliRunner().invoke(app, ["--workspace", str(ws.settings.home), "reproduce", run_id, "--json"],
                                env={"GXPML_TOKEN": token})
    assert result.exit_code == 8, result.output
    data = json.loads(result.stdout)
    assert data["matched"] is False
    differing = {(c["what"], c["key"]) for c in data["checks"] if not c["matched"]}
    assert ("input", "cancer") in differing and ("model", "clf") in differing
    model = next(c for c in data["checks"] if c["what"] == "model")
    assert "the input data differs" in model["why"]
    text = CliRunner().invoke(app, ["--workspace", str(ws.settings.home), "reproduce", run_id],
                              env={"GXPML_TOKEN": token, "COLUMNS": "250"})
    assert text.exit_code == 8 and "DIFF" in text.stdout and "Not reproduced" in text.stdout


@pytest.mark.slow
def test_reproduce_through_the_server_links_the_report_there(ws: Workspace, trained: tuple[Path, str]) -> None:
    from support import ADMIN_PASSWORD, LiveServer

    repo, run_id = trained
    live = LiveServer(ws.settings.home)
    try:
        remote = Workspace.connect(live.url, user="admin", password=ADMIN_PASSWORD)
        try:
            report = reproduce(remote, run_id, repository=repo)
        finally:
            remote.close()
    finally:
        live.stop()
    assert report.matched, [c for c in report.differences]
    upstream = ws.lineage.ancestors(f"report:{report.report_digest}").nodes
    assert {f"run:{run_id}", f"run:{report.reproduced_run}"} <= set(upstream)
    assert ws.runs.get(report.reproduced_run).tags["gxpml.reproduce_of"] == run_id


def test_unknown_run_is_not_found(ws: Workspace) -> None:
    with pytest.raises(NotFound, match="No run 'run_nope'"):
        reproduce(ws, "run_nope")


def test_running_run_is_a_conflict(ws: Workspace) -> None:
    run = ws.start_run(experiment="repro", seed=1)
    try:
        with pytest.raises(Conflict, match=f"Run {run.id} is running: only a finished run"):
            reproduce(ws, run.id)
    finally:
        run.end()
