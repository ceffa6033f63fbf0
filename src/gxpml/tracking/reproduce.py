"""Reproduce a finished run: re-execute its entry point with the same code and seed, then
compare what the new run recorded with the original.

    report = reproduce(ws, "run_5f2c0a9e1b7d43aa")
    report.matched          # model digests equal, metrics within tolerance, same inputs
    report.differences      # what differed, and why

The code comes from the recorded git commit (checked out into a temporary ``git worktree``
of ``repository``) when the run was a clean commit, else from the entry-point file stored
as an artifact. The script runs in a subprocess that records itself, as usual through
``gxpml.start_run``, into the same workspace: ``GXPML_HOME`` (local) or ``GXPML_SERVER``
(remote) plus a short-lived ``GXPML_TOKEN`` created for the purpose and revoked afterwards.
A small bootstrap forces the original seed on the run and tags it
``gxpml.reproduce_of=<original run id>`` (``GXPML_REPRODUCE_OF``).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from gxpml.canonical import canonical_json
from gxpml.errors import Conflict, GxpmlError, IntegrityError, InvalidInput, NotFound
from gxpml.tracking.records import RunInfo, RunStatus

if TYPE_CHECKING:
    from gxpml.remote import RemoteWorkspace
    from gxpml.workspace import Workspace

    AnyWorkspace: TypeAlias = Workspace | RemoteWorkspace

__all__ = ["Check", "ReproReport", "reproduce"]

REPRODUCE_TAG = "gxpml.reproduce_of"
GIT_TIMEOUT = 60.0

# Runs as the subprocess's __main__: forces the original seed and tag onto every run the
# script starts, notes their ids, then runs the script as if it were `python SCRIPT`.
_BOOTSTRAP = '''\
import os, runpy, sys
import gxpml.tracking.run as _run

_script = sys.argv[1]
sys.argv = sys.argv[1:]
_original = os.environ["GXPML_REPRODUCE_OF"]
_seed = int(os.environ["GXPML_REPRODUCE_SEED"])
_out = os.environ["GXPML_REPRODUCE_RUNS_FILE"]
_begin = _run.begin


def _reproducing_begin(runs, ws, experiment, *, seed, name, tags, owns_workspace=False):
    tags = {**(tags or {}), "gxpml.reproduce_of": _original}
    run = _begin(runs, ws, experiment, seed=_seed, name=name, tags=tags, owns_workspace=owns_workspace)
    with open(_out, "a", encoding="utf-8") as fh:
        fh.write(run.id + "\\n")
    return run


_run.begin = _reproducing_begin
sys.path.insert(0, os.path.dirname(os.path.abspath(_script)))
runpy.run_path(_script, run_name="__main__")
'''


@dataclass(frozen=True)
class Check:
    """One comparison: ``what`` (seed, code, param, metric, input, model, environment),
    ``key``, the two values, whether they matched and, when not, why. Checks with
    ``counts=False`` explain differences but do not decide the outcome."""

    what: str
    key: str
    original: Any
    reproduced: Any
    matched: bool
    why: str | None = None
    counts: bool = True


@dataclass(frozen=True)
class ReproReport:
    """The outcome of :func:`reproduce`."""

    original_run: str
    reproduced_run: str
    code_from: str
    tolerance: float
    checks: tuple[Check, ...]
    report_digest: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def matched(self) -> bool:
        return all(c.matched for c in self.checks if c.counts)

    @property
    def differences(self) -> list[Check]:
        return [c for c in self.checks if not c.matched]

    def to_dict(self) -> dict[str, Any]:
        return {
            "original_run": self.original_run, "reproduced_run": self.reproduced_run,
            "code_from": self.code_from, "tolerance": self.tolerance, "matched": self.matched,
            "checks": [asdict(c) for c in self.checks], "report_digest": self.report_digest,
            "notes": list(self.notes),
        }


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          timeout=GIT_TIMEOUT, check=False, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_finished(original: RunInfo) -> None:
    if original.status is RunStatus.RUNNING:
        raise Conflict(f"Run {original.id} is running: only a finished run can be reproduced. "
                       "Wait until it ends (gxpml runs show " + original.id + ").")
    if original.status is not RunStatus.FINISHED:
        raise Conflict(f"Run {original.id} is {original.status.value}: only a finished run can be reproduced.")
    if original.source.entry_point is None or original.source.code_digest is None:
        raise InvalidInput(f"Run {original.id} ran interactively (a REPL or notebook): it has no entry point to re-execute.")


def _prepare_code(original: RunInfo, ws: AnyWorkspace, tmp: Path, repository: Path | None) -> tuple[Path, Path, str, Path | None]:
    """(script, working folder, where the code came from, worktree to remove or None)."""
    source = original.source
    entry = str(source.entry_point)
    clean_commit = source.git_commit is not None and not source.git_dirty and source.code_artifact is None
    if clean_commit:
        repo = Path(repository) if repository is not None else Path.cwd()
        top = _git(repo, "rev-parse", "--show-toplevel")
        has = top.returncode == 0 and _git(repo, "cat-file", "-e", f"{source.git_commit}^{{commit}}").returncode == 0
        if has:
            worktree = tmp / "worktree"
            added = _git(Path(top.stdout.strip()), "worktree", "add", "--detach", str(worktree), str(source.git_commit))
            if added.returncode != 0:
                raise GxpmlError(f"git worktree add failed for commit {source.git_commit}: {added.stderr.strip()}")
            script = worktree / entry
            if not script.is_file():
                raise NotFound(f"Commit {source.git_commit} has no file {entry}, the entry point run {original.id} recorded.")
            return script, worktree, f"git worktree of commit {source.git_commit}", Path(top.stdout.strip())
        if source.code_artifact is None:
            raise NotFound(
                f"Run {original.id} ran commit {source.git_commit}, which the repository at {repo} does not hold, "
                "and no copy of its entry point was stored. Pass repository=... (--repo) naming a clone that has it."
            )
    if source.code_artifact is None:
        raise NotFound(f"Run {original.id} stored no entry-point file and recorded no git commit: its code cannot be found.")
    folder = tmp / "code"
    folder.mkdir()
    script = folder / Path(entry).name
    script.write_bytes(ws.artifacts.read_bytes(source.code_artifact))
    return script, folder, f"stored entry point sha256:{source.code_artifact}", None


def _execute(ws: AnyWorkspace, original: RunInfo, script: Path, cwd: Path, tmp: Path, token: str) -> list[str]:
    """Run ``script`` in a subprocess recording into ``ws``; the ids of the runs it started."""
    boot = tmp / "gxpml_reproduce_boot.py"
    boot.write_text(_BOOTSTRAP, encoding="utf-8")
    runs_file = tmp / "runs.txt"
    env = {**os.environ, "GXPML_TOKEN": token, "GXPML_REPRODUCE_OF": original.id,
           "GXPML_REPRODUCE_SEED": str(original.seed), "GXPML_REPRODUCE_RUNS_FILE": str(runs_file),
           "PYTHONDONTWRITEBYTECODE": "1"}  # no __pycache__: it would make the worktree dirty
    url = getattr(ws, "url", None)
    if url is not None:
        env["GXPML_SERVER"] = url
        env.pop("GXPML_HOME", None)
    else:
        env["GXPML_HOME"] = str(ws.settings.home)  # type: ignore[union-attr]
        env.pop("GXPML_SERVER", None)
    result = subprocess.run([sys.executable, str(boot), str(script)], cwd=cwd, env=env,
                            capture_output=True, text=True, check=False)
    started = runs_file.read_text(encoding="utf-8").split() if runs_file.exists() else []
    if result.returncode != 0 and not started:
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        raise GxpmlError(f"Re-executing the entry point of run {original.id} failed (exit {result.returncode}) "
                         f"before it started a run:\n{tail}")
    if not started:
        raise InvalidInput(f"The entry point of run {original.id} ran but started no run (gxpml.start_run).")
    return started


def _content_digest(data: bytes) -> str | None:
    """A digest of a skops file's content that ignores what skops makes up per process:
    member names and ``__id__`` values taken from ``id()`` (memory addresses) and zip
    timestamps. Ids are renumbered in order of appearance, files named by their SHA-256.
    None when ``data`` is not a skops file."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = set(archive.namelist())
        schema = json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError):
        return None
    ids: dict[Any, int] = {}

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        cached = node.get("__loader__") == "CachedNode"
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "__id__" or (cached and key == "content"):
                out[key] = ids.setdefault(value, len(ids))
            elif key == "file" and isinstance(value, str) and value in members:
                out[key] = hashlib.sha256(archive.read(value)).hexdigest()
            else:
                out[key] = walk(value)
        return out

    return hashlib.sha256(canonical_json(walk(schema)).encode("utf-8")).hexdigest()


def _environment(ws: AnyWorkspace, digest: str | None) -> dict[str, Any]:
    return {} if digest is None else dict(json.loads(ws.artifacts.read_bytes(digest)))


def _compare(ws: AnyWorkspace, old: RunInfo, new: RunInfo, tolerance: float) -> list[Check]:
    checks: list[Check] = []
    old_env, new_env = _environment(ws, old.source.environment_digest), _environment(ws, new.source.environment_digest)
    old_pk, new_pk = old_env.get("packages", {}), new_env.get("packages", {})
    package_diffs = sorted(f"{p} {old_pk.get(p, 'absent')} -> {new_pk.get(p, 'absent')}"
                           for p in set(old_pk) | set(new_pk) if old_pk.get(p) != new_pk.get(p))
    py_old, py_new = old_env.get("python", {}).get("version"), new_env.get("python", {}).get("version")
    env_why = "; ".join(([f"Python {py_old} -> {py_new}"] if py_old != py_new else [])
                        + ([f"packages differ: {', '.join(package_diffs[:20])}"] if package_diffs else [])) or None

    input_key = {(i.ref.rsplit(":", 1)[0], i.split): i for i in old.inputs}
    new_inputs = {(i.ref.rsplit(":", 1)[0], i.split): i for i in new.inputs}
    changed_inputs: list[str] = []
    for pair in sorted(set(input_key) | set(new_inputs), key=lambda k: (k[0], k[1] or "")):
        a, b = input_key.get(pair), new_inputs.get(pair)
        label = pair[0] + (f" [{pair[1]}]" if pair[1] else "")
        ok = a is not None and b is not None and a.digest == b.digest
        why = None
        if not ok:
            why = ("the input was not read by the new run" if b is None else "the input was not read by the original run"
                   if a is None else f"the input data differs: {a.ref} (sha256:{a.digest}) vs {b.ref} (sha256:{b.digest})")
            changed_inputs.append(label)
        checks.append(Check("input", label, a and f"{a.ref} sha256:{a.digest}", b and f"{b.ref} sha256:{b.digest}", ok, why))

    checks.append(Check("seed", "seed", old.seed, new.seed, old.seed == new.seed,
                        None if old.seed == new.seed else "the new run did not get the original seed"))
    same_code = old.source.code_digest == new.source.code_digest
    checks.append(Check("code", "entry point", f"sha256:{old.source.code_digest}", f"sha256:{new.source.code_digest}",
                        same_code, None if same_code else "the re-executed file is not the recorded one"))
    checks.append(Check("status", "status", old.status.value, new.status.value, new.status is RunStatus.FINISHED,
                        None if new.status is RunStatus.FINISHED else f"the new run ended {new.status.value}: {new.error}"))
    for key in sorted(set(old.params) | set(new.params)):
        a, b = old.params.get(key), new.params.get(key)
        checks.append(Check("param", key, a, b, a == b, None if a == b else "the param differs"))

    cause = ("the input data differs (" + ", ".join(changed_inputs) + ")") if changed_inputs else env_why
    for key in sorted(set(old.metrics) | set(new.metrics)):
        x, y = old.metrics.get(key), new.metrics.get(key)
        ok = x is not None and y is not None and math.isclose(x, y, rel_tol=0.0, abs_tol=tolerance)
        why = None
        if not ok:
            why = ("logged by one run only" if x is None or y is None
                   else f"differs by {abs(x - y):.3g} (tolerance {tolerance:g})") + (f"; likely cause: {cause}" if cause else "")
        checks.append(Check("metric", key, x, y, ok, why))
    old_models, new_models = {m.name: m for m in old.models}, {m.name: m for m in new.models}
    for name in sorted(set(old_models) | set(new_models)):
        m, n = old_models.get(name), new_models.get(name)
        ok = m is not None and n is not None and m.digest == n.digest
        why = None
        if m is not None and n is not None and not ok:
            content = _content_digest(ws.artifacts.read_bytes(m.digest))
            if content is not None and content == _content_digest(ws.artifacts.read_bytes(n.digest)):
                ok, why = True, (f"same content (sha256:{content}); the files differ only in the object ids and "
                                 "zip timestamps skops writes, not in the model")
        if not ok:
            why = ("logged by one run only" if m is None or n is None else "the model file differs")
            why += f"; likely cause: {cause}" if cause else ""
        checks.append(Check("model", name, m and f"sha256:{m.digest}", n and f"sha256:{n.digest}", ok, why))
    checks.append(Check("environment", "python and packages", py_old, py_new, env_why is None, env_why, counts=False))
    return checks


def _store(ws: AnyWorkspace, report: ReproReport) -> ReproReport:
    """Store the report as an artifact and link it in lineage (locally or through the server)."""
    data = canonical_json(report.to_dict()).encode("utf-8")
    info = ws.artifacts.put(data, name=f"reproduce-{report.original_run}-{report.reproduced_run}.json")
    ws.runs.attach_report(report.original_run, info.digest, kind="reproduction", produced_by=report.reproduced_run)
    return ReproReport(**{**report.__dict__, "report_digest": info.digest})


def reproduce(
    ws: AnyWorkspace, run_id: str, *, tolerance: float = 1e-9, workdir: str | Path | None = None,
    repository: str | Path | None = None,
) -> ReproReport:
    """Re-execute finished run ``run_id`` and compare the new run with it: model digests
    byte-for-byte, metrics within ``tolerance`` (absolute), the same input dataset digests,
    seed, code and params. The report is stored as an artifact and linked in lineage.
    ``repository`` is the git repository holding the recorded commit (default: the current
    folder); ``workdir`` keeps the checkout instead of a temporary folder."""
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 <= tolerance < math.inf:
        raise InvalidInput(f"tolerance must be a finite number >= 0, got {tolerance!r}.")
    original = ws.runs.get(run_id)
    _check_finished(original)
    tmp = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="gxpml-reproduce-"))
    tmp.mkdir(parents=True, exist_ok=True)
    worktree_repo: Path | None = None
    token_id: str | None = None
    try:
        script, cwd, code_from, worktree_repo = _prepare_code(
            original, ws, tmp, Path(repository) if repository is not None else None)
        if _sha256(script) != original.source.code_digest:
            raise IntegrityError(f"The code found for run {original.id} ({code_from}) does not match the recorded "
                                 f"entry-point digest sha256:{original.source.code_digest}.")
        token_info, token = ws.tokens.create(f"reproduce {original.id}", expires_days=1)
        token_id = token_info.id
        started = _execute(ws, original, script, cwd, tmp, token)
    finally:
        if token_id is not None:
            ws.tokens.revoke(token_id, reason=f"reproduction of run {original.id} ended")
        if worktree_repo is not None:
            _git(worktree_repo, "worktree", "remove", "--force", str(tmp / "worktree"))
        if workdir is None:
            shutil.rmtree(tmp, ignore_errors=True)
    notes: list[str] = []
    candidates = [ws.runs.get(r) for r in started]
    same = [r for r in candidates if r.experiment == original.experiment and r.name == original.name]
    new = (same or candidates)[0]
    if len(candidates) > 1:
        notes.append(f"the entry point started {len(candidates)} runs ({', '.join(started)}); compared {new.id}")
    checks = _compare(ws, original, new, float(tolerance))
    report = ReproReport(original_run=original.id, reproduced_run=new.id, code_from=code_from,
                         tolerance=float(tolerance), checks=tuple(checks), notes=tuple(notes))
    return _store(ws, report)
