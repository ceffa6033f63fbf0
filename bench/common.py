"""What every bench script needs: a worker in a fresh interpreter, peak memory, a timestamp.

The scripts run as ``python bench/NAME.py``, so this folder is on ``sys.path`` and they
import it as ``common``.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["now", "peak_rss_mb", "spawn"]


def now() -> str:
    """UTC now, to the second, ISO-8601."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def peak_rss_mb() -> float:
    """This process's peak RSS (``VmHWM``), MiB. Not ``ru_maxrss``: on Linux that survives
    exec, so a child would report its parent's peak if it was higher."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def spawn(script: str, name: str, args: dict[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
    """Run ``script --worker name`` in a fresh interpreter and return the JSON it wrote, so
    each measured operation starts clean and peers never share a process."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    try:
        proc = subprocess.run(
            [sys.executable, script, "--worker", name, "--args", json.dumps(args), "--out", str(out)],
            check=False, capture_output=True, text=True, timeout=timeout,
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-20:])
            raise RuntimeError(f"worker {name} failed (exit {proc.returncode}):\n{tail}")
        result: dict[str, Any] = json.loads(out.read_text())
        return result
    finally:
        out.unlink(missing_ok=True)
