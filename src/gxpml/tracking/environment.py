"""Automatic capture of where a run ran (Python, platform, CPU, packages, git, entry point),
and seeding of the random number generators.

The captured environment contains no timestamp, host name or user name: the same
environment always serializes to the same bytes, so it is stored once (content-addressed)
and two runs can be compared by its digest.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import platform
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gxpml.canonical import canonical_json

__all__ = ["Capture", "apply_seed", "capture_environment", "entry_point_file"]

GIT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Capture:
    """The captured environment, and the entry-point file to store when the code is not a
    clean git commit (``None`` when it is, or when there is no file)."""

    environment: dict[str, Any]
    code_file: Path | None

    def to_json(self) -> bytes:
        return canonical_json(self.environment).encode("utf-8")


def entry_point_file() -> Path | None:
    """The script being run (``__main__.__file__``, else ``sys.argv[0]``); None in an
    interactive session (a REPL, a notebook, ``python -c``)."""
    main = sys.modules.get("__main__")
    candidate = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv and sys.argv[0] else None)
    if not candidate or candidate in ("-c", "-m"):
        return None
    path = Path(candidate)
    return path.resolve() if path.is_file() else None


_PACKAGES: dict[tuple[tuple[str, int], ...], dict[str, str]] = {}


def _packages() -> dict[str, str]:
    """Installed distributions and their versions. Reading them all takes ~0.1 s, so they
    are cached per state of ``sys.path``: installing or removing a package changes the
    modification time of the folder it goes into, which invalidates the cache."""
    state = []
    for entry in sys.path:
        try:
            state.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            continue
    key = tuple(state)
    cached = _PACKAGES.get(key)
    if cached is None:
        packages: dict[str, str] = {}
        for dist in importlib.metadata.distributions():
            name = dist.metadata["Name"]
            if name:
                packages[name.lower().replace("_", "-")] = dist.version
        _PACKAGES.clear()
        cached = _PACKAGES[key] = dict(sorted(packages.items()))
    return dict(cached)


def _cpu() -> dict[str, Any]:
    model = platform.processor() or None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"model": model, "machine": platform.machine(), "count": os.cpu_count()}


def _git(folder: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=GIT_TIMEOUT,
            check=False, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return None  # no git installed, or it hung: record that the code is not under git
    return result.stdout.strip() if result.returncode == 0 else None


def _git_state(script: Path) -> dict[str, Any] | None:
    """Commit and dirty state of the repository holding ``script`` (None outside one)."""
    both = _git(script.parent, "rev-parse", "--show-toplevel", "HEAD")  # one process for the two
    commit: str | None = None
    lines = both.splitlines() if both is not None else []
    if len(lines) == 2:
        root, commit = lines
    else:
        found = _git(script.parent, "rev-parse", "--show-toplevel")  # a repository without commits?
        if found is None:
            return None
        root = found
    status = _git(script.parent, "status", "--porcelain")
    relative = script.relative_to(Path(root).resolve()).as_posix() if script.is_relative_to(Path(root).resolve()) else None
    tracked = relative is not None and _git(script.parent, "ls-files", "--error-unmatch", relative) is not None
    return {
        "commit": commit,
        "dirty": status is None or bool(status),  # untracked files count: the tree is not the commit
        "entry_point": relative,
        "entry_point_tracked": tracked,
    }


def capture_environment(seed: int) -> Capture:
    """What this process runs on and with, as JSON-ready data."""
    script = entry_point_file()
    entry: dict[str, Any]
    code_file: Path | None = None
    git: dict[str, Any] | None = None
    if script is None:
        entry = {"interactive": True, "path": None, "sha256": None}
    else:
        git = _git_state(script)
        digest = hashlib.sha256(script.read_bytes()).hexdigest()
        path = git["entry_point"] if git and git["entry_point"] else str(script)
        entry = {"interactive": False, "path": path, "sha256": digest}
        clean = git is not None and git["commit"] is not None and not git["dirty"] and git["entry_point_tracked"]
        code_file = None if clean else script
    environment = {
        "python": {"version": platform.python_version(), "implementation": platform.python_implementation(),
                   "hash_seed": os.environ.get("PYTHONHASHSEED")},
        "platform": {"system": platform.system(), "release": platform.release(), "platform": platform.platform()},
        "cpu": _cpu(),
        "packages": _packages(),
        "git": git,
        "entry_point": entry,
        "seed": seed,
        "seeded": seeded_libraries(),
    }
    return Capture(environment=environment, code_file=code_file)


def seeded_libraries() -> list[str]:
    """The generators :func:`apply_seed` seeds in this environment."""
    names = ["random"]
    if importlib.util.find_spec("numpy") is not None:
        names.append("numpy")
    if importlib.util.find_spec("torch") is not None:
        names.append("torch")
    return names


def apply_seed(seed: int) -> None:
    """Seed Python's ``random``, numpy's global generator and torch (when installed)."""
    random.seed(seed)
    if importlib.util.find_spec("numpy") is not None:
        import numpy

        numpy.random.seed(seed)
    if importlib.util.find_spec("torch") is not None:
        import torch  # type: ignore[import-not-found, unused-ignore]

        torch.manual_seed(seed)
