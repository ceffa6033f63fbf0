"""A process killed (SIGKILL) in the middle of artifact puts and audited writes leaves a
store that fsck and audit verify find clean: no partial object, no half-written event."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from gxpml.workspace import Workspace

WORKER = textwrap.dedent("""
    import os, sys
    from gxpml.workspace import Workspace
    home, token = sys.argv[1], sys.argv[2]
    with Workspace.open(home, token=token) as ws:
        print("ready", flush=True)
        i = 0
        while True:
            ws.artifacts.put(os.urandom(300_000), name=f"blob-{i}")
            ws.tokens.create(f"crash-{os.getpid()}-{i}", expires_days=1)
            i += 1
""")

pytestmark = pytest.mark.slow


def test_twenty_sigkills_leave_a_consistent_store(local: Workspace) -> None:
    _, token = local.tokens.create("crasher")
    rng = random.Random(20261127)
    for _ in range(20):
        proc = subprocess.Popen([sys.executable, "-c", WORKER, str(local.settings.home), token],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
    fsck = local.artifacts.fsck()
    assert fsck.ok, fsck.problems
    assert fsck.checked > 0
    report = local.audit.verify()
    assert report.ok, report.problems
    # everything recorded reads back intact
    for info in local.artifacts.list():
        assert len(local.artifacts.read_bytes(info.digest)) == info.size
