"""``gxpml server`` as users run it, in a subprocess (``from api.subprocess_server import ...``).

``Servers(folder).spawn(home, workers=..., tls_cert=..., tls_key=..., ca=...)`` starts
``python -m gxpml --workspace HOME server ...`` on a free loopback port, waits until
``/readyz`` answers 200 and returns a :class:`ServerProcess`. Leaving the ``with Servers(...)``
block terminates every server it started (SIGTERM, then SIGKILL), whatever the test did; test
modules wrap it in a fixture so that teardown does it.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Self

import httpx
import psutil

READY_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A ``gxpml server`` subprocess; its output goes to ``log`` (never to an unread pipe)."""

    def __init__(self, home: Path, log: Path, *, workers: int = 1, tls_cert: Path | None = None,
                 tls_key: Path | None = None, ca: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"{'https' if tls_cert else 'http'}://127.0.0.1:{self.port}"
        self.log = log
        command = [sys.executable, "-m", "gxpml", "--workspace", str(home), "server",
                   "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers)]
        if tls_cert is not None and tls_key is not None:
            command += ["--tls-cert", str(tls_cert), "--tls-key", str(tls_key)]
        with open(log, "wb") as out:
            # Its own process group, so that a hung server can be killed with its workers.
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self._wait_ready(ca)
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def _wait_ready(self, ca: Path | None) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca) if ca else True
        with httpx.Client(verify=verify, timeout=2.0) as client:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"gxpml server exited with {self.proc.returncode}:\n{self.output()}")
                try:
                    if client.get(self.url + "/readyz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gxpml server not ready after {READY_TIMEOUT}s:\n{self.output()}")
                time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down gracefully), else SIGKILL; workers that outlive the
        supervisor are killed by pid (psutil guards against a reused pid)."""
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # not reaped yet: the group is still ours
                self.proc.wait(timeout=20)
        for child in children:
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(children, timeout=10)


class Servers:
    """The servers one test starts; all stopped when the ``with`` block ends."""

    def __init__(self, logs: Path) -> None:
        self._logs = logs
        self._started: list[ServerProcess] = []

    def spawn(self, home: Path, *, workers: int = 1, tls_cert: Path | None = None,
              tls_key: Path | None = None, ca: Path | None = None) -> ServerProcess:
        log = self._logs / f"server-{len(self._started)}.log"
        server = ServerProcess(home, log, workers=workers, tls_cert=tls_cert, tls_key=tls_key, ca=ca)
        self._started.append(server)
        return server

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        for server in self._started:
            server.stop()
