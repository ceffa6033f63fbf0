"""Automatic capture at run start: Python, platform, CPU, installed packages, git commit and
dirty state, the entry-point file's digest — and the file itself when it is not a clean
commit, so the run can be reproduced without git."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SCRIPT = """\
import gxpml

with gxpml.start_run(experiment="scripted", seed=3) as run:
    run.log_param("lr", 0.1)
print(run.id)
"""

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=Test", "-c", "user.email=test@example.org",
         "-c", "commit.gpgsign=false", *args],
        check=True, capture_output=True, text=True,
    )
    return result.stdout.strip()


@pytest.fixture
def run_script(workspace: Any) -> Callable[[Path], str]:
    """``run_script(path)``: run a training script in a new Python process, against this
    workspace (its folder, or its server) with an API token; returns the run id it printed."""
    _info, token = workspace.tokens.create("training script", expires_days=1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GXPML_")}
    env["GXPML_TOKEN"] = token
    if hasattr(workspace, "url"):
        env["GXPML_SERVER"] = workspace.url
    else:
        env["GXPML_HOME"] = str(workspace.settings.home)

    def run(script: Path) -> str:
        result = subprocess.run([sys.executable, script.name], cwd=script.parent, env=env,
                                capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1]

    return run


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository holding one committed training script, ``train.py``."""
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "train.py").write_text(SCRIPT)
    git(repo, "add", "train.py")
    git(repo, "commit", "-q", "-m", "training script")
    return repo


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_environment_is_captured_and_stored_as_a_json_artifact(
    workspace: Any, environment_of: Callable[[Any, str], dict[str, Any]],
) -> None:
    with workspace.start_run(experiment="env", seed=5) as run:
        pass
    env = environment_of(workspace, run.id)
    assert env["packages"]["scikit-learn"] == importlib.metadata.version("scikit-learn")
    assert env["packages"]["gxpml"] == importlib.metadata.version("gxpml")
    assert env["python"]["version"] == platform.python_version()
    assert env["platform"]["system"] == platform.system()
    assert env["cpu"]["count"] == os.cpu_count() and env["cpu"]["machine"] == platform.machine()
    assert env["seed"] == 5 and env["seeded"][:2] == ["random", "numpy"]


def test_the_same_environment_is_stored_once(workspace: Any) -> None:
    digests = set()
    for _ in range(2):
        with workspace.start_run(experiment="env", seed=5) as run:
            pass
        digests.add(workspace.runs.get(run.id).source.environment_digest)
    assert len(digests) == 1  # no timestamp or host name in it: same environment, same bytes


def test_an_interactive_session_records_that_there_is_no_entry_point(
    workspace: Any, environment_of: Callable[[Any, str], dict[str, Any]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))  # a REPL's __main__ has no file
    monkeypatch.setattr(sys, "argv", [""])
    with workspace.start_run(experiment="env") as run:
        pass
    source = workspace.runs.get(run.id).source
    assert (source.entry_point, source.code_digest, source.code_artifact, source.git_commit) == (None, None, None, None)
    assert environment_of(workspace, run.id)["entry_point"] == {"interactive": True, "path": None, "sha256": None}


@needs_git
def test_a_clean_commit_records_the_commit_and_does_not_store_the_file(
    repo: Path, run_script: Callable[[Path], str], workspace: Any,
    environment_of: Callable[[Any, str], dict[str, Any]],
) -> None:
    run_id = run_script(repo / "train.py")
    run = workspace.runs.get(run_id)
    assert run.params == {"lr": 0.1} and run.seed == 3
    assert run.source.git_commit == git(repo, "rev-parse", "HEAD")
    assert run.source.git_dirty is False
    assert run.source.entry_point == "train.py"  # relative to the repository: it can be checked out anywhere
    assert run.source.code_digest == sha256(repo / "train.py")
    assert run.source.code_artifact is None
    assert environment_of(workspace, run_id)["git"]["commit"] == run.source.git_commit


@needs_git
def test_a_dirty_tree_stores_the_entry_point_file_itself(
    repo: Path, run_script: Callable[[Path], str], workspace: Any,
) -> None:
    script = repo / "train.py"
    script.write_text(SCRIPT.replace("0.1", "0.2"))  # edited after the commit
    run = workspace.runs.get(run_script(script))
    assert run.params == {"lr": 0.2}
    assert run.source.git_commit == git(repo, "rev-parse", "HEAD") and run.source.git_dirty is True
    assert run.source.code_artifact == run.source.code_digest == sha256(script)
    assert workspace.artifacts.read_bytes(run.source.code_artifact) == script.read_bytes()


@needs_git
def test_an_untracked_script_in_a_repository_is_stored_too(
    repo: Path, run_script: Callable[[Path], str], workspace: Any,
) -> None:
    script = repo / "experiment.py"
    script.write_text(SCRIPT)
    run = workspace.runs.get(run_script(script))
    assert run.source.git_dirty is True and run.source.code_artifact == sha256(script)


@needs_git
def test_a_repository_without_commits_records_no_commit_and_stores_the_file(
    tmp_path: Path, run_script: Callable[[Path], str], workspace: Any,
) -> None:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    git(fresh, "init", "-q")
    script = fresh / "train.py"
    script.write_text(SCRIPT)
    run = workspace.runs.get(run_script(script))
    assert run.source.git_commit is None and run.source.git_dirty is True
    assert run.source.entry_point == "train.py" and run.source.code_artifact == sha256(script)


def test_code_outside_git_is_stored(tmp_path: Path, run_script: Callable[[Path], str], workspace: Any) -> None:
    script = tmp_path / "loose" / "train.py"
    script.parent.mkdir()
    script.write_text(SCRIPT)
    if shutil.which("git") and subprocess.run(["git", "-C", str(script.parent), "rev-parse"], capture_output=True, check=False).returncode == 0:
        pytest.skip("the temporary folder lies inside a git repository")
    run = workspace.runs.get(run_script(script))
    assert run.source.git_commit is None and run.source.git_dirty is None
    assert run.source.entry_point == str(script.resolve())
    assert workspace.artifacts.read_bytes(run.source.code_artifact) == script.read_bytes()
