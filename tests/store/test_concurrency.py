"""Concurrent writers: the chain stays totally ordered, nothing is lost, nobody sees "locked"."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from gxpml.workspace import Workspace

WRITER = textwrap.dedent("""
    import sys
    from gxpml.workspace import Workspace
    home, token, worker, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with Workspace.open(home, token=token) as ws:
        for i in range(count):
            ws.tokens.create(f"w{worker}-{i}", expires_days=1)
""")

pytestmark = pytest.mark.slow


def test_four_processes_writing_250_events_each(local: Workspace) -> None:
    _, token = local.tokens.create("writers")
    start = local.audit.verify().head_seq
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(local.settings.home), token, str(w), "250"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for w in range(4)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err
    report = local.audit.verify()
    assert report.ok, report.problems
    assert report.head_seq == start + 1000
    events = local.audit.log(action="token.create", limit=None)
    names = sorted(e.new["name"] for e in events if e.new["name"] != "writers")  # type: ignore[index]
    assert len(names) == len(set(names)) == 1000
    assert names == sorted(f"w{w}-{i}" for w in range(4) for i in range(250))
    seqs = [e.seq for e in local.audit.log(limit=None)]
    assert seqs == list(range(1, report.head_seq + 1))
