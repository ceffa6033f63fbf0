"""gxpml benchmarks, run by hand (``make bench``), never by the test suite.

Six benchmarks, each against a peer measured in the same run where there is one:

``writes``
    Audited single-row writes per second and per-write latency (p50/p99), on SQLite (with
    ``sqlite_synchronous`` NORMAL, the default, and FULL) and PostgreSQL: (a) the bare unit of
    work sealing one segment (one record + one audit event per transaction) and (b) an SDK call,
    ``ws.tokens.create``. Peer: MLflow's SQLAlchemy tracking store on the same backends,
    ``MlflowClient.log_param`` and ``log_metric``. Target: >= 2,000 audited writes/s on SQLite.

``verify``
    ``ws.audit.verify()`` over a trail of >= 100,000 events (hashes, links, checkpoint
    signatures, record-state replay), and ``verify_file`` of its JSONL export. Target: >= 100,000
    events/s.

``artifacts``
    ``bench/artifacts_bench.py`` (the object store alone, against ``shutil.copyfile``), then the
    SDK: ``ws.artifacts.put`` / ``get`` of a 1 GiB file, encrypted and not, each operation in
    a fresh process so its peak RSS is its own, and a 256 MiB file beside it to show memory is
    flat in file size. Target: encrypted put >= 300 MB/s.

``server``
    ``bench/server_bench.py``: the gxpml server (``gxpml server``) against ``mlflow server``
    over HTTP, requests/s and latency with 1 and 16 concurrent clients: authenticated,
    audited ``POST /api/v1/tokens`` against MLflow's ``POST .../runs/log-metric``, on SQLite
    and PostgreSQL. Target: gxpml >= 10x MLflow server's throughput.

``tracking``
    ``bench/tracking_bench.py``: the tracking SDK against MLflow's client on the same backends:
    ``run.log_metric`` and batched metrics (target: >= 20x MLflow's ``log_metric`` on SQLite),
    the create-run rate, ``ws.runs.list`` over 10,000 runs (target: <= 50 ms), registering a
    1 GiB Parquet file (target: peak RSS <= 500 MB) and lineage queries on a 1,000,000-node
    graph (target: <= 50 ms).

``validation``
    ``bench/validation_bench.py``: tree SHAP of 10,000 rows x 30 features for a 100-tree
    gradient-boosted model (target: <= 10 s; against the Clarify-equivalent Kernel SHAP), all
    bias metrics with 1,000 bootstrap resamples on 100,000 rows (target: <= 10 s), and the
    whole ``validate(...)`` report with PDF on the bundled diabetes data (target: <= 60 s).

    .venv/bin/python bench/run.py                 # everything (several minutes)
    .venv/bin/python bench/run.py --quick         # small sizes: a smoke run (~1 minute)
    .venv/bin/python bench/run.py --only writes   # one benchmark (repeatable)

Every measured operation runs in a child process (``--worker``), so that each starts from a
fresh interpreter and MLflow and gxpml never share one. Figures are printed as tables and
written to ``bench/results/latest.json``; with ``--only`` the other sections of that file
are kept from the previous run (each section carries its own timestamp).

MB means MiB (2**20 bytes) throughout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common
from common import now, peak_rss_mb

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results" / "latest.json"
ARTIFACTS_BENCH = BENCH / "artifacts_bench.py"
SERVER_BENCH = BENCH / "server_bench.py"
TRACKING_BENCH = BENCH / "tracking_bench.py"
VALIDATION_BENCH = BENCH / "validation_bench.py"
MIB = 1 << 20

ADMIN = "admin"
PASSWORD = "root passphrase 2026"
#: Cheap argon2 so that workspace creation and log-in do not dominate a benchmark run.
FAST_SECURITY = {"argon2_memory_kib": 1024, "argon2_time_cost": 1}
PG_ADMIN_URL = os.environ.get("GXPML_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

TARGET_WRITES = 2000.0
TARGET_VERIFY = 100_000.0
TARGET_PUT = 300.0
TARGET_SERVER_RATIO = 10.0
#: Peak RSS may differ by this much between the small and the large file and still be "flat".
FLAT_RSS_MB = 16.0


# =========================================================================== helpers


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50 and p99 of latencies in seconds, as milliseconds."""
    if len(samples) < 2:
        value = samples[0] * 1e3 if samples else float("nan")
        return {"p50_ms": value, "p99_ms": value}
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50_ms": cuts[49] * 1e3, "p99_ms": cuts[98] * 1e3}


def make_file(path: Path, size_mb: int) -> None:
    """``size_mb`` MiB that do not compress or repeat: one random MiB, stamped per copy."""
    block = bytearray(os.urandom(MIB))
    with open(path, "wb") as out:
        for index in range(size_mb):
            block[:8] = index.to_bytes(8, "big")
            out.write(block)


def init_workspace(path: Path, database_url: str | None, *, encryption: bool = True,
                   synchronous: str = "NORMAL") -> None:
    """A new workspace at ``path`` (closed again); ``synchronous`` edits gxpml.toml."""
    from gxpml.workspace import Workspace

    ws = Workspace.init(
        path, admin=ADMIN, admin_name="Bench Admin", password=PASSWORD,
        database_url=database_url, encryption=encryption, security=FAST_SECURITY,
    )
    ws.close()
    if synchronous != "NORMAL":
        config = path / "gxpml.toml"
        text = config.read_text(encoding="utf-8")
        edited = text.replace('sqlite_synchronous = "NORMAL"', f'sqlite_synchronous = "{synchronous}"')
        if edited == text:
            raise SystemExit(f"could not set sqlite_synchronous in {config}")
        config.write_text(edited, encoding="utf-8")


def open_workspace(path: Path) -> Any:
    from gxpml.workspace import Workspace

    return Workspace.open(path, user=ADMIN, password=PASSWORD)


# =========================================================================== workers
# Each runs in its own process: ``run.py --worker NAME --args JSON --out FILE``.


def worker_gxpml_writes(a: dict[str, Any]) -> dict[str, Any]:
    """N bare units of work (one segment each), then N ``tokens.create``."""
    path = Path(a["path"])
    init_workspace(path, a["database_url"], synchronous=a["synchronous"])
    ws = open_workspace(path)
    result: dict[str, Any] = {"synchronous": a["synchronous"] if a["database_url"] is None else None}
    try:
        db, actor, n, warmup = ws._db, ws.actor, a["n"], a["warmup"]
        if ws._db.dialect == "sqlite":
            with ws._db.engine.connect() as conn:
                result["pragmas"] = {
                    "journal_mode": conn.exec_driver_sql("PRAGMA journal_mode").scalar(),
                    "synchronous": conn.exec_driver_sql("PRAGMA synchronous").scalar(),
                }

        def bare(i: int) -> None:
            with db.write(actor, "bench.write") as uow:
                uow.seal_segment("bench", [{"i": i}])

        def token(i: int) -> None:
            ws.tokens.create(f"t{i}", expires_days=1)

        def warm_token(i: int) -> None:
            ws.tokens.create(f"warmup{i}", expires_days=1)

        for label, op, warm in (("uow", bare, bare), ("tokens", token, warm_token)):
            for i in range(warmup):
                warm(-1 - i)
            latencies = []
            clock = time.perf_counter
            start = clock()
            for i in range(n):
                t0 = clock()
                op(i)
                latencies.append(clock() - t0)
            elapsed = clock() - start
            result[label] = {"n": n, "seconds": elapsed, "per_s": n / elapsed, **percentiles(latencies)}
        report = ws.audit.verify()
        result["trail_ok"] = report.ok
        result["events"] = report.events
    finally:
        ws.close()
    return result


def _quiet_mlflow() -> None:
    import logging
    import warnings

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    warnings.filterwarnings("ignore")
    for name in ("mlflow", "alembic", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.disable(logging.WARNING)


def worker_mlflow_writes(a: dict[str, Any]) -> dict[str, Any]:
    """MLflow's tracking store: setup (migrations) untimed, then N log_param and N log_metric."""
    _quiet_mlflow()
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = a["tracking_uri"]
    setup = time.perf_counter()
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    experiment = client.create_experiment("bench", artifact_location=Path(a["artifact_dir"]).as_uri())
    run_id = client.create_run(experiment).info.run_id
    result: dict[str, Any] = {"version": mlflow.__version__, "setup_s": time.perf_counter() - setup}
    store = getattr(client._tracking_client, "store", None)
    engine = getattr(store, "engine", None)
    if engine is not None and engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            result["pragmas"] = {
                "journal_mode": conn.exec_driver_sql("PRAGMA journal_mode").scalar(),
                "synchronous": conn.exec_driver_sql("PRAGMA synchronous").scalar(),
            }
    n, warmup = a["n"], a["warmup"]
    for i in range(warmup):
        client.log_param(run_id, f"warmup{i}", i)
        client.log_metric(run_id, "warmup", float(i), step=i)
    ops = (
        ("log_param", lambda i: client.log_param(run_id, f"p{i}", i)),
        ("log_metric", lambda i: client.log_metric(run_id, "loss", float(i), step=i)),
    )
    for label, op in ops:
        latencies = []
        clock = time.perf_counter
        start = clock()
        for i in range(n):
            t0 = clock()
            op(i)
            latencies.append(clock() - t0)
        elapsed = clock() - start
        result[label] = {"n": n, "seconds": elapsed, "per_s": n / elapsed, **percentiles(latencies)}
    client.set_terminated(run_id)
    if engine is not None:
        engine.dispose()
    return result


def worker_verify_build(a: dict[str, Any]) -> dict[str, Any]:
    """A workspace whose trail holds >= ``events`` events: transactions of 100 events, of
    which 90 are plain events (``uow.event``) and 10 are sealed segments (a record each, so
    verify's record-state replay has records to check)."""
    path = Path(a["path"])
    init_workspace(path, a["database_url"])
    ws = open_workspace(path)
    try:
        db, actor = ws._db, ws.actor
        batches = -(-a["events"] // 100)
        start = time.perf_counter()
        for b in range(batches):
            with db.write(actor, "bench.event") as uow:
                for j in range(90):
                    uow.event("bench.event", entity_type="bench", entity_id=f"{b}-{j}",
                              new={"batch": b, "i": j, "value": j * 0.5, "note": "benchmark event"})
                for j in range(10):
                    uow.seal_segment("bench", [{"batch": b, "i": j}])
        return {"seconds": time.perf_counter() - start, "events_written": batches * 100}
    finally:
        ws.close()


def worker_verify_db(a: dict[str, Any]) -> dict[str, Any]:
    ws = open_workspace(Path(a["path"]))
    try:
        runs = []
        for _ in range(a["repeat"]):
            start = time.perf_counter()
            report = ws.audit.verify()
            runs.append(time.perf_counter() - start)
            if not report.ok:
                raise SystemExit(f"verify failed: {report.problems[:3]}")
        return {"seconds_runs": runs, "seconds": statistics.median(runs), "events": report.events,
                "records": report.records, "checkpoints": report.checkpoints,
                "segments": report.segments, "peak_rss_mb": peak_rss_mb()}
    finally:
        ws.close()


def worker_verify_export(a: dict[str, Any]) -> dict[str, Any]:
    ws = open_workspace(Path(a["path"]))
    try:
        start = time.perf_counter()
        manifest = ws.audit.export(a["export"])
        return {"seconds": time.perf_counter() - start, "events": manifest["count"],
                "bytes": Path(a["export"]).stat().st_size}
    finally:
        ws.close()


def worker_verify_file(a: dict[str, Any]) -> dict[str, Any]:
    from gxpml.audit.trail import AuditTrail

    baseline = peak_rss_mb()
    runs = []
    for _ in range(a["repeat"]):
        start = time.perf_counter()
        report = AuditTrail.verify_file(a["export"])
        runs.append(time.perf_counter() - start)
        if not report.ok:
            raise SystemExit(f"verify_file failed: {report.problems[:3]}")
    return {"seconds_runs": runs, "seconds": statistics.median(runs), "events": report.events,
            "peak_rss_mb": peak_rss_mb(), "rss_growth_mb": peak_rss_mb() - baseline}


def worker_artifact(a: dict[str, Any]) -> dict[str, Any]:
    """One SDK put or get in this process; peak RSS is measured around it."""
    ws = open_workspace(Path(a["path"]))
    try:
        artifacts = ws.artifacts  # opens the object store and key provider: not timed
        baseline = peak_rss_mb()
        start = time.perf_counter()
        if a["op"] == "put":
            info = artifacts.put(a["source"])
            out: dict[str, Any] = {"digest": info.digest, "stored_size": info.stored_size}
        else:
            artifacts.get(a["digest"], a["dest"])
            out = {}
        out["seconds"] = time.perf_counter() - start
        out["peak_rss_mb"] = peak_rss_mb()
        out["rss_growth_mb"] = out["peak_rss_mb"] - baseline
        return out
    finally:
        ws.close()


WORKERS = {
    "gxpml-writes": worker_gxpml_writes,
    "mlflow-writes": worker_mlflow_writes,
    "verify-build": worker_verify_build,
    "verify-db": worker_verify_db,
    "verify-export": worker_verify_export,
    "verify-file": worker_verify_file,
    "artifact": worker_artifact,
}


def spawn(name: str, args: dict[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
    """Run worker ``name`` of this script in a fresh interpreter; returns what it returned."""
    return common.spawn(__file__, name, args, timeout=timeout)


# =========================================================================== PostgreSQL


class PgDatabase:
    """A fresh database for this run (``gxpml_bench_<random>``), dropped at the end; each
    workspace gets its own schema in it, MLflow uses ``public``."""

    def __init__(self, admin_url: str) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        self._text = text
        self.name = f"gxpml_bench_{secrets.token_hex(4)}"
        self._admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with self._admin.connect() as conn:
            self.server_version = conn.execute(text("SHOW server_version")).scalar()
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.url = make_url(admin_url).set(database=self.name).render_as_string(hide_password=False)
        self._engine = create_engine(self.url, isolation_level="AUTOCOMMIT")

    def schema_url(self, label: str) -> str:
        from sqlalchemy.engine import make_url

        schema = f"ws_{label}_{secrets.token_hex(3)}"
        with self._engine.connect() as conn:
            conn.execute(self._text(f'CREATE SCHEMA "{schema}"'))
        return make_url(self.url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)

    def drop(self) -> None:
        self._engine.dispose()
        with self._admin.connect() as conn:
            conn.execute(self._text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self._admin.dispose()


def postgres_available(admin_url: str) -> str | None:
    """None if the server answers, else why not."""
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(admin_url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means: skip PostgreSQL
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"


# =========================================================================== benchmarks


def bench_writes(ctx: Context) -> dict[str, Any]:
    n, warmup = ctx.args.writes, ctx.args.warmup
    rows: list[dict[str, Any]] = []
    backends: list[tuple[str, str | None, str]] = [("SQLite", None, "NORMAL"), ("SQLite", None, "FULL")]
    if ctx.pg is not None:
        backends.append(("PostgreSQL", "pg", ""))
    peers: dict[str, dict[str, Any]] = {}
    # MLflow first on each backend, then gxpml: the order is the same on every backend.
    ctx.log(f"writes: MLflow on SQLite, {n} log_param + {n} log_metric")
    peers["SQLite"] = spawn("mlflow-writes", {
        "tracking_uri": f"sqlite:///{ctx.tmp / 'mlflow.db'}", "artifact_dir": str(ctx.tmp / "mlruns"),
        "n": n, "warmup": warmup})
    if ctx.pg is not None:
        ctx.log(f"writes: MLflow on PostgreSQL, {n} log_param + {n} log_metric")
        try:
            peers["PostgreSQL"] = spawn("mlflow-writes", {
                "tracking_uri": ctx.pg.url, "artifact_dir": str(ctx.tmp / "mlruns-pg"),
                "n": n, "warmup": warmup})
        except RuntimeError as exc:
            ctx.log(f"[yellow]MLflow on PostgreSQL failed, no PostgreSQL peer: {exc}")
    for backend, url, sync in backends:
        label = f"{backend} {sync}".strip()
        ctx.log(f"writes: gxpml on {label}, {n} bare units of work + {n} tokens.create")
        database_url = ctx.pg.schema_url("writes") if url == "pg" and ctx.pg is not None else None
        res = spawn("gxpml-writes", {
            "path": str(ctx.tmp / f"ws-writes-{backend}-{sync or 'pg'}"), "database_url": database_url,
            "synchronous": sync or "NORMAL", "n": n, "warmup": warmup})
        if not res["trail_ok"]:
            raise RuntimeError(f"the audit trail of the {label} writes workspace does not verify")
        peer = peers.get(backend)
        for key, what in (("uow", "unit of work: seal_segment"), ("tokens", "SDK: ws.tokens.create")):
            row = {"system": "gxpml", "backend": backend, "synchronous": sync or None, "operation": what,
                   **res[key]}
            if peer is not None:
                row["vs_mlflow_log_param"] = res[key]["per_s"] / peer["log_param"]["per_s"]
                row["vs_mlflow_log_metric"] = res[key]["per_s"] / peer["log_metric"]["per_s"]
            if backend == "SQLite":
                row["pragmas"] = res.get("pragmas")
            rows.append(row)
    for backend, peer in peers.items():
        for key in ("log_param", "log_metric"):
            rows.append({"system": f"MLflow {peer['version']}", "backend": backend,
                         "synchronous": _sync_name(peer.get("pragmas")),
                         "operation": f"{key}", **peer[key],
                         "pragmas": peer.get("pragmas"), "setup_s": peer["setup_s"]})
    return {"measured_at": now(), "n": n, "warmup": warmup, "rows": rows}


def _sync_name(pragmas: dict[str, Any] | None) -> str | None:
    if not pragmas:
        return None
    return {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(pragmas.get("synchronous"), "?")


def bench_verify(ctx: Context) -> dict[str, Any]:
    events, repeat = ctx.args.verify_events, ctx.args.repeat
    backends: list[tuple[str, str | None]] = [("SQLite", None)]
    if ctx.pg is not None and not ctx.args.no_pg_verify:
        backends.append(("PostgreSQL", "pg"))
    rows: list[dict[str, Any]] = []
    for backend, url in backends:
        path = ctx.tmp / f"ws-verify-{backend}"
        database_url = ctx.pg.schema_url("verify") if url == "pg" and ctx.pg is not None else None
        ctx.log(f"verify: building a {events:,}-event trail on {backend}")
        build = spawn("verify-build", {"path": str(path), "database_url": database_url, "events": events})
        ctx.log(f"verify: ws.audit.verify() on {backend}, {repeat} run(s)")
        db = spawn("verify-db", {"path": str(path), "repeat": repeat})
        rows.append({"backend": backend, "operation": "ws.audit.verify()", "events": db["events"],
                     "records": db["records"], "checkpoints": db["checkpoints"],
                     "seconds": db["seconds"], "seconds_runs": db["seconds_runs"],
                     "events_per_s": db["events"] / db["seconds"], "peak_rss_mb": db["peak_rss_mb"],
                     "build_s": build["seconds"],
                     "build_events_per_s": build["events_written"] / build["seconds"]})
        export = ctx.tmp / f"trail-{backend}.jsonl"
        ctx.log(f"verify: export to JSONL and verify_file ({backend})")
        exp = spawn("verify-export", {"path": str(path), "export": str(export)})
        rows.append({"backend": backend, "operation": "ws.audit.export(path) (JSONL)",
                     "events": exp["events"], "seconds": exp["seconds"],
                     "events_per_s": exp["events"] / exp["seconds"], "bytes": exp["bytes"]})
        if backend == "SQLite":  # the file is the same kind of file whichever backend wrote it
            vf = spawn("verify-file", {"export": str(export), "repeat": repeat})
            rows.append({"backend": "file", "operation": "AuditTrail.verify_file(path)",
                         "events": vf["events"], "seconds": vf["seconds"], "seconds_runs": vf["seconds_runs"],
                         "events_per_s": vf["events"] / vf["seconds"], "peak_rss_mb": vf["peak_rss_mb"],
                         "rss_growth_mb": vf["rss_growth_mb"], "bytes": exp["bytes"]})
        export.unlink(missing_ok=True)
        shutil.rmtree(path, ignore_errors=True)
    return {"measured_at": now(), "events_requested": events, "repeat": repeat, "rows": rows}


def bench_artifacts(ctx: Context) -> dict[str, Any]:
    big, small, repeat = ctx.args.artifact_mb, ctx.args.small_mb, ctx.args.repeat
    out: dict[str, Any] = {"measured_at": now(), "sizes_mb": sorted({small, big}), "repeat": repeat}
    # -- the object store alone, written by bench/artifacts_bench.py
    if ARTIFACTS_BENCH.exists() and not ctx.args.skip_object_bench:
        ctx.log(f"artifacts: {ARTIFACTS_BENCH.name} --size-mb {big} --small-mb {small} --repeat {repeat}")
        command = [sys.executable, str(ARTIFACTS_BENCH), "--size-mb", str(big), "--small-mb", str(small),
                   "--repeat", str(repeat), "--dir", str(ctx.tmp / "objects")]
        proc = subprocess.run(command, check=False, capture_output=True, text=True)
        shutil.rmtree(ctx.tmp / "objects", ignore_errors=True)
        out["object_store"] = {"command": " ".join(["python", "bench/artifacts_bench.py", *command[2:-2]]),
                               "exit_code": proc.returncode, "stdout": proc.stdout}
        if proc.returncode == 0:
            ctx.console.print(proc.stdout.rstrip())
            produced = BENCH / "results" / "artifacts.json"
            if produced.exists():
                out["object_store"]["results"] = json.loads(produced.read_text())
        else:
            ctx.log(f"[yellow]{ARTIFACTS_BENCH.name} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    else:
        out["object_store"] = None
        ctx.log(f"artifacts: {ARTIFACTS_BENCH.name} not run ({'skipped' if ctx.args.skip_object_bench else 'absent'})")
    # -- the SDK: put and get through the workspace, a fresh process per operation
    rows: list[dict[str, Any]] = []
    for size in sorted({small, big}):
        source = ctx.tmp / f"source-{size}.bin"
        ctx.log(f"artifacts: SDK put/get of {size} MiB, encrypted and plain, {repeat} run(s) each")
        make_file(source, size)
        for encrypted in (True, False):
            puts, gets = [], []
            for r in range(repeat):
                path = ctx.tmp / f"ws-art-{size}-{encrypted}-{r}"
                init_workspace(path, None, encryption=encrypted)
                os.sync()
                put = spawn("artifact", {"path": str(path), "op": "put", "source": str(source)})
                puts.append(put)
                dest = ctx.tmp / "dest.bin"
                os.sync()
                gets.append(spawn("artifact", {"path": str(path), "op": "get", "digest": put["digest"],
                                               "dest": str(dest)}))
                dest.unlink(missing_ok=True)
                shutil.rmtree(path, ignore_errors=True)
            for op, runs in (("put", puts), ("get", gets)):
                seconds = statistics.median(x["seconds"] for x in runs)
                rows.append({"operation": f"ws.artifacts.{op}", "encrypted": encrypted, "size_mb": size,
                             "seconds": seconds, "seconds_runs": [x["seconds"] for x in runs],
                             "mb_per_s": size / seconds,
                             "peak_rss_mb": max(x["peak_rss_mb"] for x in runs),
                             "rss_growth_mb": max(x["rss_growth_mb"] for x in runs)})
        source.unlink(missing_ok=True)
    out["sdk"] = rows
    return out


def _script(ctx: Context, name: str, script: Path, *, postgres: bool) -> dict[str, Any]:
    """Run a standalone bench script (it starts its own servers, workers and databases) in a
    subprocess, echo its log live, and return the JSON it wrote; also kept as
    ``bench/results/NAME.json``, where the script writes it when run alone."""
    out_file, scratch = ctx.tmp / f"{name}.json", ctx.tmp / name
    options = ["--out", str(out_file), "--dir", str(scratch)]
    if postgres:
        options += ["--pg-url", ctx.args.pg_url] + (["--no-postgres"] if ctx.args.no_postgres else [])
    if ctx.args.quick:
        options.append("--quick")
    ctx.log(f"{name}: {script.name}{' --quick' if ctx.args.quick else ''} (its log follows)")
    lines: list[str] = []
    with subprocess.Popen([sys.executable, str(script), *options], text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:  # its progress, live
            lines.append(line)
            ctx.console.print("    " + line.rstrip(), markup=False, highlight=False)
    shutil.rmtree(scratch, ignore_errors=True)
    if not out_file.exists():
        raise RuntimeError(f"{script.name} failed (exit {proc.returncode}):\n{''.join(lines[-40:])}")
    result: dict[str, Any] = json.loads(out_file.read_text())
    result["exit_code"] = proc.returncode
    result["command"] = " ".join(["python", f"bench/{script.name}", *options[4:]])
    (BENCH / "results").mkdir(exist_ok=True)
    shutil.copyfile(out_file, BENCH / "results" / f"{name}.json")
    return result


def bench_server(ctx: Context) -> dict[str, Any]:
    """``bench/server_bench.py`` (the gxpml server against ``mlflow server``)."""
    return _script(ctx, "server", SERVER_BENCH, postgres=True)


def bench_tracking(ctx: Context) -> dict[str, Any]:
    """``bench/tracking_bench.py`` (log_metric, runs, search, datasets, lineage against MLflow)."""
    return _script(ctx, "tracking", TRACKING_BENCH, postgres=True)


def bench_validation(ctx: Context) -> dict[str, Any]:
    """``bench/validation_bench.py`` (SHAP, bias metrics, the whole report)."""
    return _script(ctx, "validation", VALIDATION_BENCH, postgres=False)


# =========================================================================== targets & output


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    targets = _targets(results)
    for target in targets:
        target["quick"] = bool((results.get(target["benchmark"]) or {}).get("quick"))
    return targets


def _targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = []
    writes = results.get("writes")
    if writes:
        for row in writes["rows"]:
            if row["system"] == "gxpml" and row["backend"] == "SQLite":
                targets.append({
                    "benchmark": "writes",
                    "target": f">= {TARGET_WRITES:,.0f} audited writes/s, SQLite {row['synchronous']}: {row['operation']}",
                    "value": row["per_s"], "unit": "writes/s", "met": row["per_s"] >= TARGET_WRITES})
    verify = results.get("verify")
    if verify:
        for row in verify["rows"]:
            if "verify" in row["operation"]:
                targets.append({
                    "benchmark": "verify",
                    "target": f">= {TARGET_VERIFY:,.0f} events/s: {row['operation']} ({row['backend']}, {row['events']:,} events)",
                    "value": row["events_per_s"], "unit": "events/s", "met": row["events_per_s"] >= TARGET_VERIFY})
    arts = results.get("artifacts")
    if arts and arts.get("sdk"):
        rows = arts["sdk"]
        biggest = max(r["size_mb"] for r in rows)
        smallest = min(r["size_mb"] for r in rows)
        for row in rows:
            if row["operation"] == "ws.artifacts.put" and row["encrypted"] and row["size_mb"] == biggest:
                targets.append({"benchmark": "artifacts",
                                "target": f">= {TARGET_PUT:.0f} MB/s: encrypted ws.artifacts.put, {biggest} MiB",
                                "value": row["mb_per_s"], "unit": "MB/s", "met": row["mb_per_s"] >= TARGET_PUT})
        if biggest != smallest:
            for row in rows:
                if row["size_mb"] != biggest:
                    continue
                twin = next(r for r in rows if r["size_mb"] == smallest and r["operation"] == row["operation"]
                            and r["encrypted"] == row["encrypted"])
                delta = row["peak_rss_mb"] - twin["peak_rss_mb"]
                kind = "encrypted" if row["encrypted"] else "plain"
                targets.append({"benchmark": "artifacts",
                                "target": f"flat memory: peak RSS {row['operation']} ({kind}), {biggest} vs {smallest} MiB, within {FLAT_RSS_MB:.0f} MB",
                                "value": delta, "unit": "MB more", "met": abs(delta) <= FLAT_RSS_MB})
    server = results.get("server")
    if server:
        for row in server["rows"]:
            if row["system"] == "gxpml" and row.get("vs_mlflow") is not None and row["workers"] == 1:
                targets.append({
                    "benchmark": "server",
                    "target": f">= {TARGET_SERVER_RATIO:.0f}x mlflow server: {row['operation']}, {row['backend']}, "
                              f"{row['clients']} client(s), {row['per_s']:,.0f} req/s",
                    "value": row["vs_mlflow"], "unit": "x", "met": row["vs_mlflow"] >= TARGET_SERVER_RATIO})
    tracking = results.get("tracking")
    if tracking:  # tracking_bench.py evaluates its own targets
        targets.extend(tracking.get("targets") or [])
    validation = results.get("validation")
    if validation:  # so does validation_bench.py
        targets.extend(validation.get("targets") or [])
    return targets


def machine_info(pg_version: str | None) -> dict[str, Any]:
    import sqlite3

    import sqlalchemy

    info: dict[str, Any] = {
        "nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version, "sqlalchemy": sqlalchemy.__version__, "postgresql": pg_version,
    }
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        from importlib.metadata import version

        info["mlflow"] = version("mlflow")
        info["gxpml"] = version("gxpml")
    except Exception:  # noqa: BLE001, S110 - versions are informative only
        pass
    return info


def print_tables(console: Any, results: dict[str, Any], sections: list[str]) -> None:
    from rich.table import Table

    def f(value: Any, spec: str = ",.0f") -> str:
        return "" if value is None else format(value, spec)

    if "writes" in sections and results.get("writes"):
        w = results["writes"]
        table = Table(title=f"Audited single-row writes: {w['n']:,} per operation, one process")
        for col in ("system", "backend", "sync", "operation", "writes/s", "p50 ms", "p99 ms", "x MLflow log_param"):
            table.add_column(col, justify="right" if col[0] in "wpx" else "left")
        for r in w["rows"]:
            table.add_row(r["system"], r["backend"], r.get("synchronous") or "", r["operation"], f(r["per_s"]),
                          f(r["p50_ms"], ".2f"), f(r["p99_ms"], ".2f"), f(r.get("vs_mlflow_log_param"), ".2f"))
        console.print(table)
    if "verify" in sections and results.get("verify"):
        v = results["verify"]
        table = Table(title=f"Audit trail verification (median of {v['repeat']})")
        for col in ("backend", "operation", "events", "seconds", "events/s", "peak RSS MB"):
            table.add_column(col, justify="left" if col in ("backend", "operation") else "right")
        for r in v["rows"]:
            table.add_row(r["backend"], r["operation"], f(r["events"]), f(r["seconds"], ".2f"),
                          f(r["events_per_s"]), f(r.get("peak_rss_mb"), ".0f"))
        console.print(table)
    if "artifacts" in sections and results.get("artifacts") and results["artifacts"].get("sdk"):
        a = results["artifacts"]
        table = Table(title=f"Artifacts through the SDK (SQLite workspace, local folder; median of {a['repeat']})")
        for col in ("operation", "encrypted", "MiB", "MB/s", "peak RSS MB", "growth MB"):
            table.add_column(col, justify="left" if col == "operation" else "right")
        for r in a["sdk"]:
            table.add_row(r["operation"], "yes" if r["encrypted"] else "no", f(r["size_mb"]), f(r["mb_per_s"]),
                          f(r["peak_rss_mb"], ".0f"), f(r["rss_growth_mb"], ".0f"))
        console.print(table)
    if "server" in sections and results.get("server"):
        sv = results["server"]
        table = Table(title=f"Servers over HTTP ({sv['requests_1']:,} requests with 1 client, "
                            f"{sv['requests_n']:,} with 16; closed loop, loopback)")
        for col in ("system", "backend", "workers", "operation", "clients", "req/s", "p50 ms", "p99 ms",
                    "server CPU ms/req", "x MLflow"):
            table.add_column(col, justify="left" if col in ("system", "backend", "operation") else "right")
        for r in sv["rows"]:
            cpu = 1e3 * r["server_cpu_s"] / r["requests"] if "server_cpu_s" in r else None
            table.add_row(r["system"], r["backend"], f(r["workers"]), r["operation"], f(r["clients"]), f(r["per_s"]),
                          f(r["p50_ms"], ".2f"), f(r["p99_ms"], ".2f"), f(cpu, ".2f"), f(r.get("vs_mlflow"), ".2f"))
        console.print(table)
    if "tracking" in sections and results.get("tracking"):
        tr = results["tracking"]
        table = Table(title="Tracking, datasets and lineage (bench/tracking_bench.py)")
        for col in ("section", "system", "backend", "operation", "figure", "x MLflow"):
            table.add_column(col, justify="left" if col in ("section", "system", "backend", "operation") else "right")
        for section, key, unit, spec in (("metrics", "per_s", "points/s", ",.0f"), ("runs", "per_s", "runs/s", ",.1f"),
                                         ("search", "p95_ms", "ms p95", ",.2f"), ("dataset", "peak_rss_mb", "MB peak RSS", ",.0f"),
                                         ("lineage", "p95_ms", "ms p95", ",.2f")):
            for r in (tr.get(section) or {}).get("rows", []):
                figure = f"{r[key]:{spec}} {unit}" + (f", {r['mb_per_s']:,.0f} MB/s" if "mb_per_s" in r else "")
                table.add_row(section, r.get("system", "gxpml"), r.get("backend", "SQLite"), r["operation"], figure,
                              f(r.get("vs_mlflow"), ".1f"))
        console.print(table)
    if "validation" in sections and results.get("validation"):
        va = results["validation"]
        table = Table(title="Validation: SHAP, bias metrics, the whole report (bench/validation_bench.py)")
        for col in ("section", "operation", "seconds", "peak RSS MB", "x Clarify kernel"):
            table.add_column(col, justify="left" if col in ("section", "operation") else "right")
        shap = va.get("shap")
        for name, r in ((shap or {}).get("results") or {}).items():
            table.add_row("shap", f"{name}, {r['rows']:,} rows x {r['features']} features, {r['trees']} trees"
                          + (" (extrapolated)" if r.get("extrapolated") else ""), f(r["seconds"], ",.2f"),
                          f(r["peak_rss_mb"]), f(r.get("speedup_vs_clarify_kernel"), ",.0f"))
        bias = va.get("bias")
        if bias:
            table.add_row("bias", f"bias_report, {bias['metrics']} metrics, {bias['resamples']:,} resamples, "
                          f"{bias['rows']:,} rows (median of {bias['repeat']})", f(bias["median_s"], ".2f"),
                          f(bias["peak_rss_mb"]), "")
        report = va.get("report")
        if report:
            table.add_row("report", f"validate(), diabetes data, n_bootstrap={report['n_bootstrap']:,}, PDF",
                          f(report["seconds"], ".2f"), f(report["peak_rss_mb"]), "")
            for p in report["phases"]:
                if p["seconds"] >= 0.05 * report["seconds"]:
                    table.add_row("", f"  of which: {p['step']}", f(p["seconds"], ".2f"), "", "")
        console.print(table)
    targets = results.get("targets") or []
    if targets:
        quick = any(t.get("quick") for t in targets)
        table = Table(title="Targets" + (" (* quick run: small sizes, not representative)" if quick else ""))
        for col in ("target", "measured", "met"):
            table.add_column(col, justify="left" if col == "target" else "right")
        for t in targets:
            spec = ",.2f" if t["unit"] in ("x", "ms", "s") else ",.0f"
            table.add_row(t["target"] + (" *" if t.get("quick") else ""), f"{t['value']:{spec}} {t['unit']}",
                          "[green]yes" if t["met"] else "[red]NO")
        console.print(table)


class Context:
    def __init__(self, args: argparse.Namespace, console: Any, tmp: Path, pg: PgDatabase | None) -> None:
        self.args, self.console, self.tmp, self.pg = args, console, tmp, pg
        self._start = time.perf_counter()

    def log(self, message: str) -> None:
        self.console.print(f"[dim]{time.perf_counter() - self._start:7.1f}s[/dim] {message}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not representative")
    parser.add_argument("--only", action="append", choices=("writes", "verify", "artifacts", "server", "tracking", "validation"),
                        help="run only this benchmark (repeatable)")
    parser.add_argument("-n", "--writes", type=int, default=None, help="writes per operation (default 5000)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed writes first (default 100)")
    parser.add_argument("--verify-events", type=int, default=None, help="events in the verified trail (default 100000)")
    parser.add_argument("--artifact-mb", type=int, default=None, help="large artifact, MiB (default 1024)")
    parser.add_argument("--small-mb", type=int, default=None, help="small artifact for the memory comparison, MiB (default 256)")
    parser.add_argument("--repeat", type=int, default=None, help="runs of verify and artifact operations (median; default 3)")
    parser.add_argument("--pg-url", default=PG_ADMIN_URL, help="PostgreSQL URL used to create the bench database")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--no-pg-verify", action="store_true", help="skip the PostgreSQL verify benchmark")
    parser.add_argument("--skip-object-bench", action="store_true", help="do not run bench/artifacts_bench.py")
    parser.add_argument("--dir", help="working folder (default: a new temp folder, removed at the end)")
    parser.add_argument("--results", default=str(RESULTS), help="JSON output (default bench/results/latest.json)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--args", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        result = WORKERS[args.worker](json.loads(args.args))
        Path(args.out).write_text(json.dumps(result))
        return

    quick = {"writes": 300, "warmup": 20, "verify_events": 5000, "artifact_mb": 64, "small_mb": 16, "repeat": 1}
    full = {"writes": 5000, "warmup": 100, "verify_events": 100_000, "artifact_mb": 1024, "small_mb": 256, "repeat": 3}
    defaults = quick if args.quick else full
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    sections = args.only or ["writes", "verify", "artifacts", "server", "tracking", "validation"]

    from rich.console import Console

    console = Console() if sys.stdout.isatty() else Console(width=150)
    pg: PgDatabase | None = None
    pg_note = None
    if not args.no_postgres and ({"writes", "verify"} & set(sections)):
        pg_note = postgres_available(args.pg_url)
        if pg_note is None:
            pg = PgDatabase(args.pg_url)
        else:
            console.print(f"[yellow]PostgreSQL not available ({pg_note}); SQLite only.")

    tmp = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="gxpml-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    ctx = Context(args, console, tmp, pg)
    results_path = Path(args.results)
    try:
        previous: dict[str, Any] = {}
        if args.only and results_path.exists():
            try:
                previous = json.loads(results_path.read_text())
            except ValueError:
                previous = {}
        results: dict[str, Any] = {**previous}
        results.update({
            "written_at": now(), "quick": args.quick,
            "machine": machine_info(pg.server_version if pg else None),
            "postgresql": {"database": pg.name if pg else None, "skipped": pg_note or (args.no_postgres or None)},
        })
        console.print(f"gxpml benchmarks{' (quick)' if args.quick else ''}: {', '.join(sections)}; "
                      f"{results['machine'].get('nproc')} CPUs, working in {tmp}")
        for name, fn in (("writes", bench_writes), ("verify", bench_verify), ("artifacts", bench_artifacts),
                         ("server", bench_server), ("tracking", bench_tracking), ("validation", bench_validation)):
            if name in sections:
                results[name] = fn(ctx)
                results[name]["quick"] = args.quick
        if results["machine"].get("postgresql") is None:  # e.g. --only server: it made its own database
            results["machine"]["postgresql"] = (results.get("server") or {}).get("postgresql") \
                or (results.get("tracking") or {}).get("postgresql") \
                or (previous.get("machine") or {}).get("postgresql")
        results["targets"] = evaluate_targets(results)
        results_path.parent.mkdir(parents=True, exist_ok=True)
        results_path.write_text(json.dumps(results, indent=2) + "\n")
        console.print()
        print_tables(console, results, sections)
        console.print(f"\nwrote {results_path}")
    finally:
        if pg is not None:
            pg.drop()
        if not args.dir:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
