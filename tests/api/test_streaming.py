"""Artifacts stream through the server: any size in constant memory, and never stored unverified.

The 1 GB round trip runs ``gxpml server`` and the SDK client in separate processes so that
each one's peak resident memory can be read from the kernel: ``VmHWM`` in
``/proc/<pid>/status``, reset before each phase by writing ``5`` to ``/proc/<pid>/clear_refs``
(``ru_maxrss`` would not do: a child inherits its parent's peak on Linux).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

import httpx
import pytest

from api.subprocess_server import ServerProcess, Servers
from gxpml.errors import IntegrityError, NotFound
from gxpml.workspace import Workspace
from support import LiveServer, make_workspace

MiB = 1 << 20
BIG = 1024 * MiB
#: Peak resident memory a transfer may add on either end: far below the 1 GB it moves.
MEMORY_BUDGET = 150 * MiB


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    """``gxpml server`` subprocesses for this test, all stopped at teardown."""
    with Servers(tmp_path) as started:
        yield started


def vm_hwm(pid: int | str = "self") -> int:
    """Peak resident set size of a process, in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE).group(1)) * 1024  # type: ignore[union-attr]


def reset_hwm(pid: int | str = "self") -> int:
    """Reset the peak to the current resident size (Linux >= 4.0) and return it."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return vm_hwm(pid)


# The client: one transfer per process run, reporting its own peak RSS growth as JSON.
CLIENT = textwrap.dedent("""
    import json, re, sys, time
    from pathlib import Path
    from gxpml.workspace import Workspace

    def hwm():
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"^VmHWM:\\s+(\\d+) kB", status, re.MULTILINE).group(1)) * 1024

    def reset():
        Path("/proc/self/clear_refs").write_text("5")
        return hwm()

    url, token, phase, path = sys.argv[1:5]
    with Workspace.connect(url, token=token) as ws:
        ws.artifacts.get(ws.artifacts.put(b"warm-up").digest, Path(path).with_name("warm-up"))
        baseline = reset()
        start = time.perf_counter()
        if phase == "put":
            digest = ws.artifacts.put(path).digest
        else:
            digest = sys.argv[5]
            ws.artifacts.get(digest, path)
        seconds = time.perf_counter() - start
        print(json.dumps({"digest": digest, "seconds": seconds, "baseline": baseline, "peak": hwm()}))
""")


def write_big_file(path: Path, size: int) -> str:
    """``size`` bytes that neither compress nor repeat per MiB (1 MiB of random bytes with a
    block counter mixed in); returns their SHA-256."""
    base = os.urandom(MiB)
    h = hashlib.sha256()
    with open(path, "wb") as out:
        for i in range(size // MiB):
            block = i.to_bytes(8, "big") + base[8:]
            h.update(block)
            out.write(block)
    return h.hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(8 * MiB):
            h.update(chunk)
    return h.hexdigest()


def run_client(server: ServerProcess, token: str, phase: str, path: Path, *extra: str) -> dict[str, Any]:
    """Run one client transfer; return its report plus the server's peak RSS growth."""
    server_baseline = None
    proc = subprocess.Popen([sys.executable, "-c", CLIENT, server.url, token, phase, str(path), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Reset while the client is still starting up: everything the server holds from now
        # on (the client's warm-up request included) counts against the transfer.
        server_baseline = reset_hwm(server.pid)
        out, err = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    report: dict[str, Any] = json.loads(out)
    report["server_growth"] = vm_hwm(server.pid) - server_baseline
    report["client_growth"] = report["peak"] - report["baseline"]
    return report


@pytest.fixture
def token_workspace(tmp_path: Path) -> Iterator[tuple[Workspace, str]]:
    """A fresh SQLite workspace and an API token of its administrator."""
    ws = make_workspace(tmp_path / "ws", None)
    try:
        _, token = ws.tokens.create("streaming", expires_days=1)
        yield ws, token
    finally:
        ws.close()


@pytest.mark.slow
def test_a_1_gb_artifact_goes_up_and_down_in_constant_memory_on_both_ends(
    tmp_path: Path, token_workspace: tuple[Workspace, str], servers: Servers,
) -> None:
    ws, token = token_workspace
    source, dest = tmp_path / "big.bin", tmp_path / "big.out"
    try:
        expected = write_big_file(source, BIG)
        server = servers.spawn(ws.settings.home)
        # Load the server's code paths (crypto, object store) before measuring.
        with Workspace.connect(server.url, token=token) as remote:
            remote.artifacts.read_bytes(remote.artifacts.put(b"server warm-up").digest)

        up = run_client(server, token, "put", source)
        assert up["digest"] == expected
        info = ws.artifacts.info(expected)
        assert info.size == BIG and info.encrypted and info.stored_size > BIG
        ws.artifacts.verify(expected)

        down = run_client(server, token, "get", dest, expected)
        assert down["digest"] == expected
        assert dest.stat().st_size == BIG
        assert sha256_file(dest) == expected

        figures = {phase: {"server_MB": r["server_growth"] / 1e6, "client_MB": r["client_growth"] / 1e6,
                           "MB/s": BIG / r["seconds"] / 1e6}
                   for phase, r in (("upload", up), ("download", down))}
        print(f"\n1 GiB streamed: {json.dumps(figures)}")
        for phase, r in (("upload", up), ("download", down)):
            assert r["server_growth"] < MEMORY_BUDGET, f"{phase}: the server grew {r['server_growth'] / 1e6:.0f} MB"
            assert r["client_growth"] < MEMORY_BUDGET, f"{phase}: the client grew {r['client_growth'] / 1e6:.0f} MB"
    finally:
        for path in (source, dest):
            path.unlink(missing_ok=True)
        shutil.rmtree(ws.settings.artifact_url, ignore_errors=True)  # the stored 1 GB object


# ---------------------------------------------------------------------------- integrity


class _OneWayStream(io.RawIOBase):
    """A stream that cannot seek, so the SDK cannot hash it before sending (a pipe, a socket)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def one_way(data: bytes) -> BinaryIO:
    return cast(BinaryIO, io.BufferedReader(_OneWayStream(data)))


@pytest.fixture
def live(token_workspace: tuple[Workspace, str]) -> Iterator[LiveServer]:
    live = LiveServer(token_workspace[0].settings.home)
    try:
        yield live
    finally:
        live.stop()


def stored_files(ws: Workspace) -> list[Path]:
    """Every file in the object store (objects and staged temps alike)."""
    return sorted(p for p in Path(ws.settings.artifact_url).rglob("*") if p.is_file())


def test_an_upload_whose_digest_header_does_not_match_its_body_stores_nothing(
    token_workspace: tuple[Workspace, str], live: LiveServer,
) -> None:
    ws, token = token_workspace
    ws.artifacts.put(b"already there")
    body = os.urandom(3 * MiB + 17)  # more than one chunk on every layer
    actual = hashlib.sha256(body).hexdigest()
    claimed = hashlib.sha256(b"what the client thinks it sent").hexdigest()
    artifacts_before, files_before = ws.artifacts.list(), stored_files(ws)
    events_before = ws.audit.log(limit=None)

    response = httpx.post(f"{live.url}/api/v1/artifacts", content=body, timeout=60,
                          headers={"Authorization": f"Bearer {token}", "X-Content-SHA256": claimed,
                                   "Content-Type": "application/octet-stream"})

    assert response.status_code == 422  # the client's (or the network's) fault
    error = response.json()["error"]
    assert error["type"] == "TransferDamaged"  # an IntegrityError
    assert f"sha256:{actual}" in error["message"] and f"sha256:{claimed}" in error["message"]
    assert "Nothing was stored" in error["message"]
    assert error["request_id"] == response.headers["X-Request-ID"]
    assert ws.artifacts.list() == artifacts_before
    with pytest.raises(NotFound):
        ws.artifacts.info(actual)
    assert stored_files(ws) == files_before  # no object, no leftover temp file
    report = ws.artifacts.fsck()
    assert report.ok and report.orphans == [] and report.stale_temps == []
    assert [e.action for e in ws.audit.log(limit=None)] == [e.action for e in events_before]


def test_the_sdk_raises_integrity_error_when_a_stream_does_not_match_its_expected_digest(
    token_workspace: tuple[Workspace, str], live: LiveServer,
) -> None:
    ws, token = token_workspace
    body = os.urandom(2 * MiB)
    wrong = hashlib.sha256(b"another file").hexdigest()
    with Workspace.connect(live.url, token=token) as remote:
        with pytest.raises(IntegrityError, match=rf"hashes to sha256:{hashlib.sha256(body).hexdigest()}, "
                                                 rf"not the expected sha256:{wrong}"):
            remote.artifacts.put(one_way(body), name="damaged.bin", expected_digest=wrong)
        assert remote.artifacts.list() == []
    assert stored_files(ws) == []


def test_a_malformed_digest_header_is_refused_as_invalid_input(
    token_workspace: tuple[Workspace, str], live: LiveServer,
) -> None:
    ws, token = token_workspace
    response = httpx.post(f"{live.url}/api/v1/artifacts", content=b"data", timeout=60,
                          headers={"Authorization": f"Bearer {token}", "X-Content-SHA256": "md5:abc"})
    assert response.status_code == 422
    assert response.json()["error"]["type"] == "InvalidInput"
    assert ws.artifacts.list() == [] and stored_files(ws) == []


def test_a_streamed_upload_with_a_matching_digest_header_round_trips(
    token_workspace: tuple[Workspace, str], live: LiveServer, tmp_path: Path,
) -> None:
    """The counterpart of the refusals above: same path, right digest, stored and readable."""
    ws, token = token_workspace
    body = os.urandom(3 * MiB + 17)
    digest = hashlib.sha256(body).hexdigest()
    with Workspace.connect(live.url, token=token) as remote:
        info = remote.artifacts.put(one_way(body), name="ok.bin", expected_digest=digest)
        assert (info.digest, info.size, info.name) == (digest, len(body), "ok.bin")
        remote.artifacts.get(digest, tmp_path / "ok.bin")
    assert (tmp_path / "ok.bin").read_bytes() == body
    assert ws.artifacts.read_bytes(digest) == body
