"""The gxpml server against ``mlflow server``: requests per second and latency over HTTP.

Both servers run as users run them, in their own process groups on loopback, each with its
own fresh database, and are measured in the same run:

- gxpml: ``gxpml --workspace WS server --workers N``. The write is ``POST /api/v1/tokens``
  with an admin API token (``Authorization: Bearer``) and a fresh ``Idempotency-Key`` per
  request, as the remote SDK sends it: every request authenticates, claims its key, writes
  one token record and its hash-chained audit event, and commits.
- MLflow: ``mlflow server --backend-store-uri ... --workers N`` (its default uvicorn
  server, default security middleware). The write is ``POST /api/2.0/mlflow/runs/log-metric``
  on a run created over REST first. No authentication: MLflow's server has none by default.
- The floor of each HTTP stack: ``GET /healthz`` (gxpml) and ``GET /health`` (MLflow), and
  for gxpml an authenticated read that writes nothing (``GET /api/v1/roles``), which
  separates the cost of authenticating from the cost of the audited write.

The load generator is in this process: ``asyncio`` (uvloop when installed) with one raw
HTTP/1.1 keep-alive connection per client, each sending its next request as soon as the
previous response arrived (closed loop). Every configuration runs a fixed number of
requests after an untimed warm-up; every response's status is checked. The client and the
server share the machine's cores, so the CPU time of both is reported: the client's per
request is small, but on 2 cores it is not free.

    python bench/server_bench.py                   # everything (a few minutes)
    python bench/server_bench.py --quick           # small counts: a smoke run
    python bench/server_bench.py --no-postgres

Writes ``bench/results/server.json``; ``bench/run.py --only server`` runs this script and
includes that file in ``bench/results/latest.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import now as _now

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results" / "server.json"
VENV_BIN = Path(sys.executable).parent

ADMIN = "admin"
PASSWORD = "root passphrase 2026"
FAST_SECURITY = {"argon2_memory_kib": 1024, "argon2_time_cost": 1}
PG_ADMIN_URL = os.environ.get("GXPML_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
READY_TIMEOUT = 180.0
TARGET_RATIO = 10.0


# =========================================================================== load generator


class Http:
    """One keep-alive HTTP/1.1 connection; just enough of the protocol for JSON APIs."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
            self.reader = self.writer = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self.connect()
        assert self.reader is not None and self.writer is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if b"content-length" in headers:
            body = await self.reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts = []
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if size == 0:
                    while (await self.reader.readline()) not in (b"\r\n", b""):
                        pass
                    break
                parts.append((await self.reader.readexactly(size + 2))[:-2])
            body = b"".join(parts)
        else:
            body = b""
        if headers.get(b"connection", b"").lower() == b"close":
            await self.close()
        return status, body


def request_bytes(method: str, path: str, host: str, headers: dict[str, str], body: bytes | None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Accept: application/json",
             "User-Agent: gxpml-bench"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


async def _drive(host: str, port: int, make: Callable[[int], bytes], clients: int, n: int,
                 expect: int) -> dict[str, Any]:
    """``n`` requests over ``clients`` connections, closed loop; latencies and statuses."""
    counter = iter(range(n))
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    clock = time.perf_counter

    async def client() -> None:
        conn = Http(host, port)
        try:
            for i in counter:
                raw = make(i)
                t0 = clock()
                status, body = await conn.request(raw)
                latencies.append(clock() - t0)
                statuses[status] += 1
                if status != expect and len(errors) < 5:
                    errors.append(f"{status}: {body[:300].decode(errors='replace')}")
        finally:
            await conn.close()

    cpu0, start = time.process_time(), clock()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed, cpu = clock() - start, time.process_time() - cpu0
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else [latencies[0]] * 99
    return {"requests": n, "clients": clients, "seconds": elapsed, "per_s": n / elapsed,
            "p50_ms": cuts[49] * 1e3, "p99_ms": cuts[98] * 1e3, "mean_ms": statistics.fmean(latencies) * 1e3,
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "failed": n - statuses.get(expect, 0), "errors": errors, "client_cpu_s": cpu}


def run_load(host: str, port: int, make: Callable[[int], bytes], *, clients: int, n: int, warmup: int,
             expect: int, server: Server | None = None) -> dict[str, Any]:
    try:
        import uvloop

        runner: Callable[[Any], Any] = uvloop.run
        loop_name = "uvloop"
    except ImportError:
        runner, loop_name = asyncio.run, "asyncio"
    if warmup:
        runner(_drive(host, port, lambda i: make(-1 - i), clients, warmup, expect))
    cpu0 = server.cpu_seconds() if server else None
    result: dict[str, Any] = runner(_drive(host, port, make, clients, n, expect))
    if server is not None and cpu0 is not None:
        result["server_cpu_s"] = server.cpu_seconds() - cpu0
    result["loop"] = loop_name
    return result


# =========================================================================== servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A server in its own process group; ``stop()`` ends the group (TERM, then KILL)."""

    def __init__(self, name: str, command: list[str], log: Path, ready_path: str, port: int,
                 env: dict[str, str] | None = None) -> None:
        self.name, self.port, self.log = name, port, log
        self.url = f"http://127.0.0.1:{port}"
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, env={**os.environ, **(env or {})})
        LIVE.append(self)
        started = time.monotonic()
        try:
            self._wait_ready(ready_path)
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - started
        # MLflow starts job-runner processes after it answers /health; their start-up (several
        # seconds of imports) must not overlap a measurement.
        self.settle_s = self.settle()
        self.process_count = len(self.processes())

    def settle(self, idle_cpu: float = 0.05, timeout: float = 120.0) -> float:
        """Wait until the server's processes use < ``idle_cpu`` CPU-seconds per second, twice
        in a row; returns the seconds waited."""
        started = time.monotonic()
        quiet, last = 0, self.cpu_seconds()
        while quiet < 2 and time.monotonic() - started < timeout:
            time.sleep(1.0)
            now = self.cpu_seconds()
            quiet = quiet + 1 if now - last < idle_cpu else 0
            last = now
        return time.monotonic() - started

    def _wait_ready(self, path: str) -> None:
        import httpx

        deadline = time.monotonic() + READY_TIMEOUT
        with httpx.Client(timeout=2.0) as client:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.output()[-3000:]}")
                try:
                    if client.get(self.url + path).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} not ready after {READY_TIMEOUT:.0f}s:\n{self.output()[-3000:]}")
                time.sleep(0.1)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def processes(self) -> list[Any]:
        import psutil

        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        """User + system CPU of the server's process tree so far."""
        import psutil

        total = 0.0
        for proc in self.processes():
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    def worker_pids(self) -> list[int]:
        return [p.pid for p in self.processes()]

    def stop(self) -> None:
        if self in LIVE:
            LIVE.remove(self)
        tree = self.processes()  # before signalling: a child that made its own group goes too
        if self.proc.poll() is None:
            self._stop_group()
        import psutil

        for proc in tree[1:]:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(tree[1:], timeout=5)

    def _stop_group(self) -> None:
        for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # uvicorn's workers are in the same group; make sure none outlived the parent
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


#: Every server started and not yet stopped; ``main`` stops them all whatever happens.
LIVE: list[Server] = []


def start_gxpml(home: Path, workers: int, log: Path) -> Server:
    port = free_port()
    command = [sys.executable, "-m", "gxpml", "--workspace", str(home), "server",
               "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    return Server(f"gxpml server (workers {workers})", command, log, "/readyz", port)


def start_mlflow(store_uri: str, artifacts: Path, workers: int, log: Path) -> Server:
    port = free_port()
    command = [str(VENV_BIN / "mlflow"), "server", "--backend-store-uri", store_uri,
               "--default-artifact-root", artifacts.as_uri(), "--no-serve-artifacts",
               "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    env = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    return Server(f"mlflow server (workers {workers})", command, log, "/health", port, env)


# =========================================================================== setup


def gxpml_workspace(path: Path, database_url: str | None) -> tuple[str, int]:
    """A new workspace and an admin API token for the requests; (token text, events)."""
    from gxpml.workspace import Workspace

    ws = Workspace.init(path, admin=ADMIN, admin_name="Bench Admin", password=PASSWORD,
                        database_url=database_url, security=FAST_SECURITY)
    try:
        _info, text = ws.tokens.create("bench", expires_days=1)
        return text, ws.audit.verify().events
    finally:
        ws.close()


def gxpml_check(path: Path) -> dict[str, Any]:
    """After the server stopped: the trail verifies; how many tokens and events it holds."""
    from gxpml.workspace import Workspace

    ws = Workspace.open(path, user=ADMIN, password=PASSWORD)
    try:
        report = ws.audit.verify()
        return {"trail_ok": report.ok, "events": report.events, "tokens": len(ws.tokens.list())}
    finally:
        ws.close()


def mlflow_run(base: str) -> str:
    import httpx

    with httpx.Client(base_url=base, timeout=30.0) as client:
        got = client.post("/api/2.0/mlflow/experiments/create", json={"name": f"bench-{secrets.token_hex(3)}"})
        got.raise_for_status()
        experiment = got.json()["experiment_id"]
        got = client.post("/api/2.0/mlflow/runs/create",
                          json={"experiment_id": experiment, "start_time": int(time.time() * 1000)})
        got.raise_for_status()
        return str(got.json()["run"]["info"]["run_id"])


def mlflow_metric_count(base: str, run_id: str) -> int | None:
    import httpx

    try:
        with httpx.Client(base_url=base, timeout=60.0) as client:
            got = client.get("/api/2.0/mlflow/metrics/get-history",
                             params={"run_id": run_id, "metric_key": "m", "max_results": 100_000})
            got.raise_for_status()
            return len(got.json().get("metrics", []))
    except Exception:  # noqa: BLE001 - a count is a check, not a result
        return None


# =========================================================================== requests


def gxpml_token_request(port: int, token: str) -> Callable[[int], bytes]:
    host = f"127.0.0.1:{port}"

    def make(i: int) -> bytes:
        body = json.dumps({"name": f"bench-{i}", "expires_days": 1}).encode()
        return request_bytes("POST", "/api/v1/tokens", host,
                             {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}, body)

    return make


def get_request(port: int, path: str, token: str | None = None) -> Callable[[int], bytes]:
    raw = request_bytes("GET", path, f"127.0.0.1:{port}",
                        {"Authorization": f"Bearer {token}"} if token else {}, None)
    return lambda i: raw


def mlflow_metric_request(port: int, run_id: str) -> Callable[[int], bytes]:
    host = f"127.0.0.1:{port}"

    def make(i: int) -> bytes:
        body = json.dumps({"run_id": run_id, "key": "m" if i >= 0 else "warmup", "value": float(i),
                           "timestamp": int(time.time() * 1000), "step": abs(i)}).encode()
        return request_bytes("POST", "/api/2.0/mlflow/runs/log-metric", host, {}, body)

    return make


# =========================================================================== benchmark


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args, self.tmp = args, tmp
        self.rows: list[dict[str, Any]] = []
        self.servers: list[dict[str, Any]] = []
        self._start = time.perf_counter()

    def log(self, message: str) -> None:
        print(f"{time.perf_counter() - self._start:7.1f}s {message}", flush=True)

    def counts(self, clients: int) -> tuple[int, int]:
        n = self.args.requests_1 if clients == 1 else self.args.requests_n
        return n, min(self.args.warmup, n)

    def measure(self, server: Server, system: str, backend: str, workers: int, operation: str,
                make: Callable[[int], bytes], clients: int, expect: int, *, n: int | None = None) -> dict[str, Any]:
        count, warmup = self.counts(clients)
        count = n or count
        self.log(f"{system} {backend} w{workers}: {operation}, {clients} client(s), {count} requests")
        res = run_load("127.0.0.1", server.port, make, clients=clients, n=count, warmup=warmup,
                       expect=expect, server=server)
        row = {"system": system, "backend": backend, "workers": workers, "operation": operation, **res}
        self.rows.append(row)
        note = f"  {res['per_s']:,.0f}/s, p50 {res['p50_ms']:.2f} ms, p99 {res['p99_ms']:.2f} ms"
        if res["failed"]:
            note += f"; {res['failed']} FAILED: {res['errors'][:2]}"
        self.log(note)
        return row

    def gxpml(self, backend: str, database_url: str | None, workers: int, *, floors: bool,
              clients: tuple[int, ...] = (1, 16)) -> None:
        home = self.tmp / f"gxpml-{backend}-w{workers}"
        token, events_before = gxpml_workspace(home, database_url)
        server = start_gxpml(home, workers, self.tmp / f"gxpml-{backend}-w{workers}.log")
        try:
            self.log(f"gxpml server ready in {server.startup_s:.1f}s, idle {server.settle_s:.0f}s later "
                     f"({len(server.worker_pids())} processes)")
            if floors:
                for c in (1, 16):
                    self.measure(server, "gxpml", backend, workers, "GET /healthz", get_request(server.port, "/healthz"), c, 200)
                for c in (1, 16):
                    self.measure(server, "gxpml", backend, workers, "GET /api/v1/roles (authenticated read)",
                                 get_request(server.port, "/api/v1/roles", token), c, 200)
            for c in clients:
                self.measure(server, "gxpml", backend, workers, "POST /api/v1/tokens (audited write)",
                             gxpml_token_request(server.port, token), c, 201)
                if self.args.py_spy and backend == "SQLite" and workers == 1 and c == 16:
                    self.profile(server, gxpml_token_request(server.port, token), c)
        finally:
            server.stop()
        check = gxpml_check(home)
        self.servers.append({"system": "gxpml", "backend": backend, "workers": workers,
                             "startup_s": server.startup_s, "settle_s": server.settle_s,
                             "processes": server.process_count, "events_before": events_before, **check})
        if not check["trail_ok"]:
            raise RuntimeError(f"the audit trail of {home} does not verify after the run")
        shutil.rmtree(home, ignore_errors=True)

    def profile(self, server: Server, make: Callable[[int], bytes], clients: int) -> None:
        """``py-spy record`` of the server while it serves one more batch (not a measured row)."""
        out = BENCH / "results" / "server-profile.txt"
        n = self.args.requests_n
        command = [self.args.py_spy, "record", "-p", str(server.proc.pid), "-r", "250", "--nonblocking",
                   "--format", "raw", "-o", str(out), "-d", "600"]
        self.log(f"py-spy: recording the server over {n} more requests -> {out}")
        spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        try:
            time.sleep(1.0)
            run_load("127.0.0.1", server.port, make, clients=clients, n=n, warmup=0, expect=201)
        finally:
            spy.send_signal(signal.SIGINT)
            try:
                spy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()

    def mlflow(self, backend: str, store_uri: str, workers: int, *, floors: bool,
               clients: tuple[int, ...] = (1, 16)) -> None:
        artifacts = self.tmp / f"mlruns-{backend}-w{workers}"
        server = start_mlflow(store_uri, artifacts, workers, self.tmp / f"mlflow-{backend}-w{workers}.log")
        try:
            self.log(f"mlflow server ready in {server.startup_s:.1f}s, idle {server.settle_s:.0f}s later "
                     f"({len(server.worker_pids())} processes)")
            run_id = mlflow_run(server.url)
            if floors:
                for c in (1, 16):
                    self.measure(server, "MLflow", backend, workers, "GET /health", get_request(server.port, "/health"), c, 200)
            expected = 0
            for c in clients:
                row = self.measure(server, "MLflow", backend, workers, "POST /api/2.0/mlflow/runs/log-metric",
                                   mlflow_metric_request(server.port, run_id), c, 200)
                expected += row["requests"] - row["failed"]
            logged = mlflow_metric_count(server.url, run_id)
        finally:
            server.stop()
        self.servers.append({"system": "MLflow", "backend": backend, "workers": workers,
                             "startup_s": server.startup_s, "settle_s": server.settle_s,
                             "processes": server.process_count, "metrics_expected": expected, "metrics_logged": logged})


def mlflow_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("mlflow")
    except Exception:  # noqa: BLE001
        return None


def ratios(rows: list[dict[str, Any]]) -> None:
    """Each gxpml write row against MLflow's log-metric on the same backend, workers and clients."""
    peers = {(r["backend"], r["workers"], r["clients"]): r for r in rows
             if r["system"] == "MLflow" and "log-metric" in r["operation"]}
    sqlite_w1 = {r["clients"]: r for r in rows if r["system"] == "MLflow" and "log-metric" in r["operation"]
                 and r["backend"] == "SQLite" and r["workers"] == 1}
    for r in rows:
        if r["system"] != "gxpml" or "tokens" not in r["operation"]:
            continue
        peer = peers.get((r["backend"], r["workers"], r["clients"]))
        if peer is not None:
            r["vs_mlflow"] = r["per_s"] / peer["per_s"]
        base = sqlite_w1.get(r["clients"])
        if base is not None:
            r["vs_mlflow_sqlite_w1"] = r["per_s"] / base["per_s"]


def print_table(rows: list[dict[str, Any]], cores: int | None) -> None:
    head = f"{'system':7} {'backend':10} {'w':>2} {'operation':42} {'cl':>3} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} " \
           f"{'srv ms/req':>10} {'cli ms/req':>10} {'x MLflow':>8} {'fail':>4}"
    print(head)
    print("-" * len(head))
    for r in rows:
        ratio = r.get("vs_mlflow")
        print(f"{r['system']:7} {r['backend']:10} {r['workers']:>2} {r['operation'][:42]:42} {r['clients']:>3} "
              f"{r['per_s']:7,.0f} {r['p50_ms']:7.2f} {r['p99_ms']:7.2f} "
              f"{1e3 * r.get('server_cpu_s', float('nan')) / r['requests']:10.2f} "
              f"{1e3 * r['client_cpu_s'] / r['requests']:10.2f} {'' if ratio is None else f'{ratio:8.2f}':>8} {r['failed']:>4}")
    print(f"(srv/cli ms/req: CPU time of the server's processes and of the load generator per request; {cores} cores shared)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--requests-1", type=int, default=None, help="requests with 1 client (default 2000)")
    parser.add_argument("--requests-n", type=int, default=None, help="requests with 16 clients (default 4000)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed requests first (default 200)")
    parser.add_argument("--pg-url", default=PG_ADMIN_URL, help="PostgreSQL URL used to create the bench database")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--no-floors", action="store_true", help="skip the GET baselines")
    parser.add_argument("--py-spy", help="path to py-spy: profile the gxpml server (SQLite, 1 worker, 16 clients) "
                                         "into bench/results/server-profile.txt")
    parser.add_argument("--dir", help="working folder (default: a new temp folder, removed at the end)")
    parser.add_argument("--out", default=str(RESULTS), help="JSON output (default bench/results/server.json)")
    args = parser.parse_args()
    defaults = {"requests_1": 200, "requests_n": 400, "warmup": 20} if args.quick else \
        {"requests_1": 2000, "requests_n": 4000, "warmup": 200}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)

    # a SIGTERM to this script unwinds like Ctrl-C, so the servers and the database go too
    signal.signal(signal.SIGTERM, _interrupted)
    sys.path.insert(0, str(BENCH))
    from run import PgDatabase, postgres_available

    tmp = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="gxpml-server-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    pg: Any = None
    bench = Bench(args, tmp)
    try:
        pg_note = None if args.no_postgres else postgres_available(args.pg_url)
        if not args.no_postgres and pg_note is None:
            pg = PgDatabase(args.pg_url)
        elif not args.no_postgres:
            bench.log(f"PostgreSQL not available ({pg_note}); SQLite only.")
        floors = not args.no_floors
        # MLflow first, then gxpml, as in run.py; one server at a time.
        bench.mlflow("SQLite", f"sqlite:///{tmp / 'mlflow.db'}", 1, floors=floors)
        bench.gxpml("SQLite", None, 1, floors=floors)
        bench.mlflow("SQLite", f"sqlite:///{tmp / 'mlflow-w2.db'}", 2, floors=False, clients=(16,))
        bench.gxpml("SQLite", None, 2, floors=False, clients=(16,))
        if pg is not None:
            bench.mlflow("PostgreSQL", pg.url, 1, floors=False)  # MLflow uses the public schema
            bench.gxpml("PostgreSQL", pg.schema_url("server"), 1, floors=False)
            bench.gxpml("PostgreSQL", pg.schema_url("server2"), 2, floors=False, clients=(16,))
        ratios(bench.rows)
        result = {
            "measured_at": _now(), "quick": args.quick, "cores": os.cpu_count(), "mlflow": mlflow_version(),
            "postgresql": pg.server_version if pg else None, "requests_1": args.requests_1,
            "requests_n": args.requests_n, "warmup": args.warmup, "target_ratio": TARGET_RATIO,
            "rows": bench.rows, "servers": bench.servers,
        }
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print()
        print_table(bench.rows, os.cpu_count())
        print(f"\nwrote {out}")
        failed = sum(r["failed"] for r in bench.rows)
        if failed:
            raise SystemExit(f"{failed} request(s) failed; see {out}")
    finally:
        while LIVE:  # stop() takes a server off the list
            LIVE[-1].stop()
        if pg is not None:
            pg.drop()
        if not args.dir:
            shutil.rmtree(tmp, ignore_errors=True)


def _interrupted(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
