"""Many workers, many clients, one audit trail: 4 uvicorn workers on PostgreSQL take 8 clients
× 200 writes each, and the chain stays complete, gap-free and verifiable.

``gxpml server --workers 4`` runs as users run it (a subprocess with its worker processes);
each client is its own process using the remote SDK with an API token of the administrator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from api.subprocess_server import Servers
from support import make_workspace, new_pg_schema

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

WORKERS, CLIENTS, WRITES = 4, 8, 200


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    """``gxpml server`` subprocesses for this test, all stopped at teardown."""
    with Servers(tmp_path) as started:
        yield started

# A client: WRITES token creations, reporting the X-Request-ID the server answered each with.
CLIENT = textwrap.dedent("""
    import json, sys
    from gxpml.workspace import Workspace

    url, token, client, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    request_ids = {}
    with Workspace.connect(url, token=token) as ws:
        # A new connection per request: the kernel hands each to whichever worker accepts
        # first, so all four get a share (a kept-alive connection stays with one worker).
        ws._http.headers["Connection"] = "close"
        last = []
        ws._http.event_hooks["response"].append(lambda response: last.append(response.headers["x-request-id"]))
        for j in range(count):
            name = f"c{client}-{j}"
            ws.tokens.create(name, expires_days=1)
            request_ids[name] = last[-1]
    print(json.dumps(request_ids))
""")


def test_four_workers_take_1600_concurrent_writes_without_losing_or_duplicating_an_event(
    tmp_path: Path, pg_database: str, servers: Servers,
) -> None:
    ws = make_workspace(tmp_path / "ws", new_pg_schema(pg_database))
    try:
        _, token = ws.tokens.create("scale-admin", expires_days=1)
        start = ws.audit.verify().head_seq
        server = servers.spawn(ws.settings.home, workers=WORKERS)
        children = psutil.Process(server.pid).children()
        workers = [c for c in children if "--multiprocessing-fork" in c.cmdline()]  # not the resource tracker
        assert len(workers) == WORKERS, [c.cmdline() for c in children]

        before = {w.pid: sum(w.cpu_times()[:2]) for w in workers}
        clients = [subprocess.Popen([sys.executable, "-c", CLIENT, server.url, token, str(i), str(WRITES)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                   for i in range(CLIENTS)]
        try:
            deadline = time.monotonic() + 900
            results = [c.communicate(timeout=max(1.0, deadline - time.monotonic())) for c in clients]
        finally:
            for c in clients:
                if c.poll() is None:
                    c.kill()
                    c.wait()
        seen: dict[str, str] = {}
        for client, (out, err) in zip(clients, results, strict=True):
            assert client.returncode == 0, err
            seen.update(json.loads(out))
        # Every worker took its share (else this test would not be testing four writers).
        busy = {w.pid: sum(w.cpu_times()[:2]) - before[w.pid] for w in workers}
        assert all(seconds > 0.5 for seconds in busy.values()), busy

        verified = subprocess.run(
            [sys.executable, "-m", "gxpml", "--workspace", str(ws.settings.home), "audit", "verify", "--json"],
            capture_output=True, text=True, timeout=300, check=False, env={**os.environ, "GXPML_TOKEN": token},
        )
        assert verified.returncode == 0, verified.stdout + verified.stderr
        report = json.loads(verified.stdout)
        assert report["ok"] is True and report["problems"] == []
        assert report["head_seq"] == start + CLIENTS * WRITES

        events = ws.audit.log(limit=None)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))  # contiguous from 1
        added = [e for e in events if e.seq > start]
        assert len(added) == CLIENTS * WRITES  # one event per write: none lost, none doubled
        assert {e.action for e in added} == {"token.create"}
        names = [e.new["name"] for e in added]
        assert sorted(names) == sorted(f"c{i}-{j}" for i in range(CLIENTS) for j in range(WRITES))
        # Each request had its own id, and the event carries the one its client was answered with.
        request_ids = [e.request_id for e in added]
        assert len(set(request_ids)) == CLIENTS * WRITES
        assert {e.new["name"]: e.request_id for e in added} == seen
        assert {e.actor_id for e in added} == {ws.actor.id}
    finally:
        ws.close()
