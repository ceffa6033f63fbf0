"""Tracking, datasets and lineage through the SDK, against MLflow in the same run.

Five measurements; every measured side runs in its own child process (``--worker``) with
its own fresh database (a new SQLite file, or a new PostgreSQL database dropped afterwards):

``metrics``
    gxpml ``run.log_metric`` one call at a time against MLflow's
    ``MlflowClient().log_metric(run_id, key, value, step=)`` (embedded SQLAlchemy store),
    calls/s; then batched: ``run.log_metrics`` (10 metrics per call) and
    ``ws.runs.log_batch`` (1,000 points per call) against MLflow's ``log_batch`` with the same
    numbers of points, metrics/s. gxpml buffers points in the run and seals them into the
    audit trail as one segment per flush (every 1,000 points, ``log_metrics``, ``flush()``
    and the end of the run); every gxpml timing includes the run's end, so every point is
    committed when the clock stops. A second single-call row flushes after every point (one
    committed, sealed segment per call, as MLflow commits each call). SQLite and PostgreSQL.
    Target: gxpml >= 20x MLflow's calls/s on SQLite.
``runs``
    create-run rate: ``ws.start_run(...)`` and its end (environment capture included) against
    MLflow's ``create_run`` + ``set_terminated``, runs/s; with the two parts of gxpml's cost
    apart (``capture_environment`` alone, ``ws.runs.create`` + ``end`` alone).
``search``
    10,000 finished runs (3 params, 3 metrics each) in one experiment, then
    ``ws.runs.list(experiment=..., limit=100)`` (and with ``status="finished"``, the only
    filter ``runs.list`` has) against ``search_runs([exp], max_results=100)`` without and with
    ``filter_string="metrics.acc > 0.5"``; p50/p95 ms. Target <= 50 ms.
``dataset``
    ``ws.data.register(name, path)`` of a ~1 GiB Parquet file (int, 5 floats, a string;
    many row groups): total time, MB/s of the file, peak RSS of the process; the content
    digest alone (same pass without profile, Parquet rewrite or artifact store) beside it;
    and MLflow's ``mlflow.data.from_pandas(pd.read_parquet(path)).digest``, which hashes the
    first 10,000 rows only (not the same work). Target: peak RSS <= 500 MB.
``lineage``
    ~1,000,000 nodes (datasets -> versions (derived-from chains) -> runs -> models ->
    reports, with code and environment nodes), edges inserted in bulk with SQL in the setup,
    then ``ws.lineage.ancestors(report)`` of the deepest report and ``descendants`` of a
    root dataset; p50/p95 ms. Target <= 50 ms.

    python bench/tracking_bench.py                  # everything (~5 minutes)
    python bench/tracking_bench.py --quick          # small sizes: a smoke run (~2 minutes)
    python bench/tracking_bench.py --only metrics --only search --no-postgres

Writes ``bench/results/tracking.json``; ``bench/run.py --only tracking`` runs this script and
includes that file in ``bench/results/latest.json``. MB means MiB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common
from common import now as _now

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results" / "tracking.json"
MIB = 1 << 20
PG_ADMIN_URL = os.environ.get("GXPML_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SECTIONS = ("metrics", "runs", "search", "dataset", "lineage")

TARGET_METRIC_RATIO = 20.0
TARGET_SEARCH_MS = 50.0
TARGET_REGISTER_RSS_MB = 500.0
TARGET_LINEAGE_MS = 50.0

sys.path.insert(0, str(BENCH))


# =========================================================================== helpers


def stats_ms(samples: list[float]) -> dict[str, float]:
    """p50/p95/p99 of latencies in seconds, as milliseconds."""
    if len(samples) < 2:
        value = samples[0] * 1e3 if samples else float("nan")
        return {"p50_ms": value, "p95_ms": value, "p99_ms": value}
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50_ms": cuts[49] * 1e3, "p95_ms": cuts[94] * 1e3, "p99_ms": cuts[98] * 1e3}


def timed(fn: Any, repeat: int, warmup: int = 2) -> dict[str, Any]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return {"repeat": repeat, **stats_ms(samples), "mean_ms": 1e3 * statistics.fmean(samples)}


def workspace(path: str, database_url: str | None) -> Any:
    from run import init_workspace, open_workspace

    init_workspace(Path(path), database_url)
    return open_workspace(Path(path))


def mlflow_client(uri: str, artifact_dir: str) -> tuple[Any, str, Any]:
    from run import _quiet_mlflow

    _quiet_mlflow()
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    experiment = client.create_experiment("bench", artifact_location=Path(artifact_dir).as_uri())
    return client, experiment, mlflow


def mlflow_dispose(client: Any) -> None:
    engine = getattr(getattr(client._tracking_client, "store", None), "engine", None)
    if engine is not None:
        engine.dispose()


# =========================================================================== workers: metrics


def worker_gx_metrics(a: dict[str, Any]) -> dict[str, Any]:
    from sqlalchemy import text

    from gxpml.canonical import utcnow
    from gxpml.tracking.records import Metric

    ws = workspace(a["path"], a["database_url"])
    out: dict[str, Any] = {}
    clock = time.perf_counter
    try:
        warm = ws.start_run(experiment="warmup", seed=1)  # first run: imports, caches
        for i in range(50):
            warm.log_metric("w", float(i))
        warm.end()

        # (a) one call at a time, buffered; the run's end (final flush + end record) is timed
        n = a["n"]
        run = ws.start_run(experiment="bench", seed=1)
        lat = []
        start = clock()
        for i in range(n):
            t0 = clock()
            run.log_metric("loss", float(i), step=i)
            lat.append(clock() - t0)
        t_end = clock()
        run.end()
        elapsed = clock() - start
        out["single_buffered"] = {"n": n, "points": n, "seconds": elapsed, "per_s": n / elapsed,
                                  "end_ms": 1e3 * (clock() - t_end), **stats_ms(lat), "run": run.id}
        # (b) one call at a time, flushed after every call: each point a committed segment
        n = a["n_durable"]
        run = ws.start_run(experiment="bench", seed=2)
        lat = []
        start = clock()
        for i in range(n):
            t0 = clock()
            run.log_metric("loss", float(i), step=i)
            run.flush()
            lat.append(clock() - t0)
        run.end()
        elapsed = clock() - start
        out["single_flushed"] = {"n": n, "points": n, "seconds": elapsed, "per_s": n / elapsed, **stats_ms(lat),
                                 "run": run.id}
        # (c) run.log_metrics: 10 metrics per call (each call writes a segment)
        calls = a["batch10_calls"]
        run = ws.start_run(experiment="bench", seed=3)
        keys = [f"m{k}" for k in range(10)]
        start = clock()
        for i in range(calls):
            run.log_metrics({k: float(i) for k in keys}, step=i)
        run.end()
        elapsed = clock() - start
        out["batch_10"] = {"n": calls, "points": calls * 10, "seconds": elapsed, "per_s": calls * 10 / elapsed,
                           "calls_per_s": calls / elapsed, "run": run.id}
        # (d) ws.runs.log_batch: 1,000 points per call
        calls = a["batch1000_calls"]
        run = ws.start_run(experiment="bench", seed=4)
        start = clock()
        for c in range(calls):
            ts = utcnow()
            ws.runs.log_batch(run.id, metrics=[Metric(key="loss", value=float(j), step=c * 1000 + j, ts=ts)
                                               for j in range(1000)])
        run.end()
        elapsed = clock() - start
        out["batch_1000"] = {"n": calls, "points": calls * 1000, "seconds": elapsed,
                             "per_s": calls * 1000 / elapsed, "calls_per_s": calls / elapsed, "run": run.id}
        # every point is in the database, and the trail verifies
        with ws._db.connect() as conn:
            for key in ("single_buffered", "single_flushed", "batch_10", "batch_1000"):
                row = out[key]
                stored = conn.execute(text("SELECT COUNT(*) FROM metric_points WHERE run_id = :r"),
                                      {"r": row.pop("run")}).scalar()
                if stored != row["points"]:
                    raise SystemExit(f"{key}: {stored} points stored, {row['points']} logged")
                row["stored"] = stored
            segments = conn.execute(text("SELECT COUNT(*) FROM segments")).scalar()
        report = ws.audit.verify()
        out["trail_ok"], out["events"], out["segments"] = report.ok, report.events, segments
    finally:
        ws.close()
    return out


def worker_ml_metrics(a: dict[str, Any]) -> dict[str, Any]:
    client, experiment, mlflow = mlflow_client(a["uri"], a["artifact_dir"])
    from mlflow.entities import Metric

    out: dict[str, Any] = {"version": mlflow.__version__}
    clock = time.perf_counter
    try:
        warm = client.create_run(experiment).info.run_id
        for i in range(20):
            client.log_metric(warm, "w", float(i), step=i)
        n = a["n_mlflow"]
        run_id = client.create_run(experiment).info.run_id
        lat = []
        start = clock()
        for i in range(n):
            t0 = clock()
            client.log_metric(run_id, "loss", float(i), step=i)
            lat.append(clock() - t0)
        client.set_terminated(run_id)
        elapsed = clock() - start
        out["single"] = {"n": n, "points": n, "seconds": elapsed, "per_s": n / elapsed, **stats_ms(lat)}
        out["single"]["stored"] = len(client.get_metric_history(run_id, "loss"))
        for label, size, calls in (("batch_10", 10, a["batch10_calls"]), ("batch_1000", 1000, a["batch1000_calls"])):
            run_id = client.create_run(experiment).info.run_id
            start = clock()
            for c in range(calls):
                ts = int(time.time() * 1000)
                if size == 10:
                    metrics = [Metric(f"m{k}", float(c), ts, c) for k in range(10)]
                else:
                    metrics = [Metric("loss", float(j), ts, c * 1000 + j) for j in range(1000)]
                client.log_batch(run_id, metrics=metrics)
            client.set_terminated(run_id)
            elapsed = clock() - start
            out[label] = {"n": calls, "points": calls * size, "seconds": elapsed,
                          "per_s": calls * size / elapsed, "calls_per_s": calls / elapsed}
    finally:
        mlflow_dispose(client)
    return out


# =========================================================================== workers: runs


def worker_gx_runs(a: dict[str, Any]) -> dict[str, Any]:
    from gxpml.tracking import environment as env_module
    from gxpml.tracking.environment import capture_environment

    ws = workspace(a["path"], a["database_url"])
    out: dict[str, Any] = {}
    clock = time.perf_counter
    try:
        for i in range(3):  # warm-up: imports, the package list cache
            with ws.start_run(experiment="warmup", seed=i):
                pass
        n = a["n"]
        lat = []
        start = clock()
        for i in range(n):
            t0 = clock()
            with ws.start_run(experiment="bench", seed=i):
                pass
            lat.append(clock() - t0)
        elapsed = clock() - start
        out["start_end"] = {"n": n, "seconds": elapsed, "per_s": n / elapsed, **stats_ms(lat)}
        # the parts: capture alone, and the records alone (no capture, no artifact)
        lat = []
        for i in range(n):
            t0 = clock()
            capture_environment(i)
            lat.append(clock() - t0)
        out["capture"] = {"n": n, "per_s": n / sum(lat), **stats_ms(lat)}
        out["packages_cached"] = bool(env_module._PACKAGES)
        env_module._PACKAGES.clear()
        t0 = clock()
        env_module._packages()
        out["packages_uncached_ms"] = 1e3 * (clock() - t0)
        lat = []
        for i in range(n):
            t0 = clock()
            info = ws.runs.create("bench-records", seed=i)
            ws.runs.end(info.id)
            lat.append(clock() - t0)
        out["records"] = {"n": n, "per_s": n / sum(lat), **stats_ms(lat)}
        out["entry_point"] = capture_environment(0).environment["entry_point"]["path"]
        out["code_stored"] = capture_environment(0).code_file is not None
        report = ws.audit.verify()
        out["trail_ok"] = report.ok
    finally:
        ws.close()
    return out


def worker_ml_runs(a: dict[str, Any]) -> dict[str, Any]:
    client, experiment, mlflow = mlflow_client(a["uri"], a["artifact_dir"])
    out: dict[str, Any] = {"version": mlflow.__version__}
    clock = time.perf_counter
    try:
        for _ in range(3):
            client.set_terminated(client.create_run(experiment).info.run_id)
        n = a["n"]
        lat = []
        start = clock()
        for _ in range(n):
            t0 = clock()
            run_id = client.create_run(experiment).info.run_id
            client.set_terminated(run_id)
            lat.append(clock() - t0)
        elapsed = clock() - start
        out["create_end"] = {"n": n, "seconds": elapsed, "per_s": n / elapsed, **stats_ms(lat)}
    finally:
        mlflow_dispose(client)
    return out


# =========================================================================== workers: search


def worker_gx_search(a: dict[str, Any]) -> dict[str, Any]:
    """Populate ``runs`` finished runs through the unit of work (100 runs per transaction:
    every record and its audit event, a sealed metric segment per run: the rows and events
    ``ws.runs.create`` / ``log_batch`` / ``end`` write, without the environment capture and
    with fewer commits), then time ``ws.runs.list``."""
    import datetime as dt

    from sqlalchemy import insert

    from gxpml.canonical import canonical_json, format_ts
    from gxpml.tracking.tables import METRIC_SEGMENT, MetricPoint, RunParam, sealed_row
    from gxpml.tracking.tables import Run as RunRecord

    ws = workspace(a["path"], a["database_url"])
    rng = random.Random(7)
    out: dict[str, Any] = {}
    try:
        n, per_tx = a["runs"], 100
        base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        start = time.perf_counter()
        for b in range(0, n, per_tx):
            with ws._db.write(ws.actor, "run.create") as uow:
                for i in range(b, min(n, b + per_tx)):
                    began = base + dt.timedelta(seconds=60 * i)
                    row = uow.insert(RunRecord, experiment="bench", name=f"run-{i}", status="finished", seed=i,
                                     created_by=ws.actor.id, started_at=began, ended_at=began + dt.timedelta(seconds=30))
                    run_id = row["id"]
                    for key, value in (("lr", 10 ** -rng.randint(1, 5)), ("depth", rng.randint(2, 12)),
                                       ("model", rng.choice(["lgbm", "rf", "logreg"]))):
                        uow.insert(RunParam, run_id=run_id, key=key, value=canonical_json(value))
                    ts = format_ts(began)
                    points = [sealed_row(run_id, s, key, 0, value, ts) for s, (key, value) in enumerate(
                        (("acc", rng.random()), ("loss", rng.random()), ("f1", rng.random())), start=1)]
                    segment = uow.seal_segment(METRIC_SEGMENT, points, owner_id=run_id)
                    uow.connection.execute(insert(MetricPoint), [{**p, "segment_id": segment.id} for p in points])
        out["populate_s"] = time.perf_counter() - start
        out["runs"] = n
        repeat = a["repeat"]
        listed = ws.runs.list(experiment="bench", limit=100)
        assert len(listed) == 100 and all(len(r.metrics) == 3 and len(r.params) == 3 for r in listed)
        out["list"] = timed(lambda: ws.runs.list(experiment="bench", limit=100), repeat)
        out["list_finished"] = timed(lambda: ws.runs.list(experiment="bench", status="finished", limit=100), repeat)
        out["list_all"] = timed(lambda: ws.runs.list(limit=100), repeat)
        report = ws.audit.verify()
        out["trail_ok"], out["events"] = report.ok, report.events
    finally:
        ws.close()
    return out


def worker_ml_search(a: dict[str, Any]) -> dict[str, Any]:
    """A template run through the client API, cloned ``runs`` times with SQL into MLflow's
    own tables (runs, params, metrics, latest_metrics, tags), then ``search_runs`` timed."""
    import uuid

    from mlflow.entities import Metric, Param
    from sqlalchemy import MetaData, create_engine, select

    client, experiment, mlflow = mlflow_client(a["uri"], a["artifact_dir"])
    out: dict[str, Any] = {"version": mlflow.__version__}
    rng = random.Random(7)
    engine = create_engine(a["uri"])
    try:
        start = time.perf_counter()
        template = client.create_run(experiment, run_name="template").info.run_id
        client.log_batch(template, params=[Param("lr", "0.01"), Param("depth", "6"), Param("model", "lgbm")],
                         metrics=[Metric(k, 0.5, 0, 0) for k in ("acc", "loss", "f1")])
        client.set_terminated(template)
        meta = MetaData()
        meta.reflect(engine, only=["runs", "params", "metrics", "latest_metrics", "tags"])
        with engine.begin() as conn:
            rows = {name: [dict(r._mapping) for r in conn.execute(select(t).where(t.c.run_uuid == template))]
                    for name, t in meta.tables.items() if "run_uuid" in t.c}
            t0 = rows["runs"][0]["start_time"]
            n = a["runs"]
            for b in range(0, n, 1000):
                batch: dict[str, list[dict[str, Any]]] = {name: [] for name in rows}
                for i in range(b, min(n, b + 1000)):
                    rid = uuid.uuid4().hex
                    values = {"acc": rng.random(), "loss": rng.random(), "f1": rng.random()}
                    params = {"lr": str(10 ** -rng.randint(1, 5)), "depth": str(rng.randint(2, 12)),
                              "model": rng.choice(["lgbm", "rf", "logreg"])}
                    for name, template_rows in rows.items():
                        for r in template_rows:
                            new = {**r, "run_uuid": rid}
                            if name == "runs":
                                new.update(name=f"run-{i}", start_time=t0 - 60_000 * (n - i),
                                           end_time=t0 - 60_000 * (n - i) + 30_000,
                                           artifact_uri=str(r["artifact_uri"]).replace(template, rid))
                            elif name in ("metrics", "latest_metrics"):
                                new["value"] = values[r["key"]]
                            elif name == "params":
                                new["value"] = params[r["key"]]
                            elif name == "tags" and r["key"] == "mlflow.runName":
                                new["value"] = f"run-{i}"
                            batch[name].append(new)
                for name, new_rows in batch.items():
                    if new_rows:
                        conn.execute(meta.tables[name].insert(), new_rows)
        out["populate_s"] = time.perf_counter() - start
        out["runs"] = n + 1
        found = client.search_runs([experiment], filter_string="metrics.acc > 0.5", max_results=100)
        assert len(found) == 100 and all(r.data.metrics["acc"] > 0.5 and len(r.data.params) == 3 for r in found)
        repeat = a["repeat"]
        out["search"] = timed(lambda: client.search_runs([experiment], max_results=100), repeat)
        out["search_filtered"] = timed(
            lambda: client.search_runs([experiment], filter_string="metrics.acc > 0.5", max_results=100), repeat)
    finally:
        engine.dispose()
        mlflow_dispose(client)
    return out


# =========================================================================== workers: dataset


def worker_make_parquet(a: dict[str, Any]) -> dict[str, Any]:
    """~``size_mb`` MiB of Parquet: id, 5 random floats, a random 16-character string;
    row groups of 250,000 rows, snappy (random data hardly compresses)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows_per_group = 250_000
    groups = max(2, round(a["size_mb"] * MIB / (68 * rows_per_group)))  # ~68 bytes a row on disk
    rng = np.random.default_rng(1)
    alphabet = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)
    offsets = pa.py_buffer(np.arange(0, 16 * rows_per_group + 1, 16, dtype=np.int32).tobytes())
    path = Path(a["path"])
    schema = pa.schema([("id", pa.int64())] + [(f"x{k}", pa.float64()) for k in range(5)] + [("label", pa.string())])
    with pq.ParquetWriter(path, schema) as writer:
        for g in range(groups):
            chars = alphabet[rng.integers(0, len(alphabet), size=rows_per_group * 16)]
            labels = pa.Array.from_buffers(pa.string(), rows_per_group, [None, offsets, pa.py_buffer(chars.tobytes())])
            table = pa.table({"id": np.arange(g * rows_per_group, (g + 1) * rows_per_group, dtype=np.int64),
                              **{f"x{k}": rng.random(rows_per_group) for k in range(5)}, "label": labels},
                             schema=schema)
            writer.write_table(table, row_group_size=rows_per_group)
    rows = groups * rows_per_group
    meta = pq.ParquetFile(path).metadata
    return {"rows": rows, "row_groups": meta.num_row_groups, "bytes": path.stat().st_size}


def worker_gx_register(a: dict[str, Any]) -> dict[str, Any]:
    from run import peak_rss_mb

    ws = workspace(a["path"], None)
    try:
        ws.data  # noqa: B018 - opened before the clock and the memory baseline
        ws.artifacts  # noqa: B018
        baseline = peak_rss_mb()
        start = time.perf_counter()
        info = ws.data.register("bench", a["file"])
        seconds = time.perf_counter() - start
        return {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "baseline_rss_mb": baseline,
                "rows": info.num_rows, "digest": info.digest}
    finally:
        ws.close()


def worker_gx_digest(a: dict[str, Any]) -> dict[str, Any]:
    """The content digest alone: the same read and canonical batches as register, nothing else."""
    from run import peak_rss_mb

    from gxpml.data.digest import ContentDigest
    from gxpml.data.frames import open_source

    baseline = peak_rss_mb()
    start = time.perf_counter()
    src = open_source(a["file"])
    digest = ContentDigest(src.schema)
    for batch in src.batches():
        digest.update(batch)
    value = digest.hexdigest()
    return {"seconds": time.perf_counter() - start, "peak_rss_mb": peak_rss_mb(), "baseline_rss_mb": baseline,
            "rows": digest.rows, "digest": f"sha256:{value}"}


def worker_ml_digest(a: dict[str, Any]) -> dict[str, Any]:
    from run import _quiet_mlflow, peak_rss_mb

    _quiet_mlflow()
    import mlflow.data
    import pandas as pd

    baseline = peak_rss_mb()
    start = time.perf_counter()
    frame = pd.read_parquet(a["file"])
    loaded = time.perf_counter()
    digest = mlflow.data.from_pandas(frame, name="bench").digest
    done = time.perf_counter()
    return {"seconds": done - start, "read_s": loaded - start, "digest_s": done - loaded,
            "peak_rss_mb": peak_rss_mb(), "baseline_rss_mb": baseline, "rows": len(frame), "digest": digest,
            "version": mlflow.__version__}


# =========================================================================== workers: lineage


def lineage_plan(target_nodes: int) -> dict[str, Any]:
    """Per dataset: ``1 + (d % 20)`` versions in a derived-from chain, 3 runs per version,
    a model per run, a report per model (so ~10.5 versions and ~95 nodes per dataset)."""
    per_dataset = 1 + statistics.fmean([1 + d % 20 for d in range(20)]) * 10
    return {"datasets": max(20, round(target_nodes / per_dataset))}


def worker_lineage_build(a: dict[str, Any]) -> dict[str, Any]:
    """The graph, inserted with one ``executemany`` per 50,000 edges straight into
    ``lineage_edges`` (no audit events: ``link()`` inserts one audited edge at a time)."""
    from gxpml.canonical import format_ts, utcnow

    ws = workspace(a["path"], None)
    try:
        datasets, codes, envs = a["datasets"], 500, 50
        ts = format_ts(utcnow())
        counter = iter(range(1, 1 << 62))
        nodes = set()
        edges: list[tuple[str, str, str, str, str]] = []
        inserted = 0
        start = time.perf_counter()
        raw = ws._db.engine.raw_connection()
        sql = "INSERT INTO lineage_edges (id, upstream, downstream, edge_type, created_at) VALUES (?, ?, ?, ?, ?)"

        def edge(up: str, down: str, kind: str) -> None:
            nonlocal inserted
            edges.append((f"edg_{next(counter):016x}", up, down, kind, ts))
            nodes.add(up)
            nodes.add(down)
            if len(edges) >= 50_000:
                flush()

        def flush() -> None:
            nonlocal inserted
            cursor = raw.cursor()
            cursor.execute("BEGIN")  # gxpml's engine runs pysqlite in autocommit mode
            cursor.executemany(sql, edges)
            cursor.execute("COMMIT")
            cursor.close()
            inserted += len(edges)
            edges.clear()

        deepest = ("", 0)
        r = 0
        for d in range(datasets):
            previous = f"dataset:ds{d:06d}"
            for v in range(1 + d % 20):
                version = f"dataset_version:dsv{d:06d}v{v:02d}"
                edge(previous, version, "derived-from")
                previous = version
                for k in range(3):
                    run = f"run:run{r:08d}"
                    r += 1
                    edge(version, run, "contributed-to")
                    edge(f"code:c{r % codes:04d}", run, "associated-with")
                    edge(f"environment:e{r % envs:03d}", run, "associated-with")
                    model = f"model:mdl{r:08d}"
                    edge(run, model, "produced")
                    report = f"report:rep{r:08d}"
                    edge(model, report, "contributed-to")
                    if v + 4 > deepest[1]:
                        deepest = (report, v + 4)
        flush()
        raw.close()
        seconds = time.perf_counter() - start
        return {"nodes": len(nodes), "edges": inserted, "seconds": seconds, "deep_node": deepest[0],
                "deep_node_depth": deepest[1], "root": "dataset:ds000019", "hub": "environment:e000",
                "datasets": datasets}
    finally:
        ws.close()


def worker_lineage_query(a: dict[str, Any]) -> dict[str, Any]:
    from run import open_workspace

    ws = open_workspace(Path(a["path"]))
    out: dict[str, Any] = {}
    try:
        lineage, repeat = ws.lineage, a["repeat"]
        if ws._db.dialect == "sqlite":
            with ws._db.connect() as conn:
                from gxpml.lineage.graph import _walk_sql

                out["indexes"] = [r[1] for r in conn.exec_driver_sql("PRAGMA index_list(lineage_edges)")]
                out["plan_up"] = [r[-1] for r in conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + _walk_sql("up", False).replace(":root", "?").replace(":depth", "?"),
                    (a["deep_node"], 100))]
        cases = (("ancestors", "ancestors", a["deep_node"], 100),
                 ("descendants_root", "descendants", a["root"], 100),
                 ("descendants_hub", "descendants", a["hub"], 2))
        for label, method, node, depth in cases:
            fn = getattr(lineage, method)
            t0 = time.perf_counter()
            graph = fn(node, depth=depth)
            first = time.perf_counter() - t0
            out[label] = {"node": node, "depth": depth, "nodes": len(graph.nodes), "edges": len(graph.edges),
                          "max_depth": max(graph.nodes.values()), "first_ms": 1e3 * first,
                          **timed(lambda fn=fn, node=node, depth=depth: fn(node, depth=depth),
                                  repeat if label != "descendants_hub" else max(5, repeat // 10))}
    finally:
        ws.close()
    return out


WORKERS = {
    "gx-metrics": worker_gx_metrics, "ml-metrics": worker_ml_metrics,
    "gx-runs": worker_gx_runs, "ml-runs": worker_ml_runs,
    "gx-search": worker_gx_search, "ml-search": worker_ml_search,
    "make-parquet": worker_make_parquet, "gx-register": worker_gx_register, "gx-digest": worker_gx_digest,
    "ml-digest": worker_ml_digest,
    "lineage-build": worker_lineage_build, "lineage-query": worker_lineage_query,
}


def spawn(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run worker ``name`` in a fresh interpreter; returns what it returned."""
    return common.spawn(__file__, name, args)


# =========================================================================== benchmark


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path, pg_ok: bool) -> None:
        self.args, self.tmp, self.pg_ok = args, tmp, pg_ok
        self._start = time.perf_counter()
        self.pg_version: str | None = None

    def log(self, message: str) -> None:
        print(f"{time.perf_counter() - self._start:7.1f}s {message}", flush=True)

    def backends(self) -> list[str]:
        return ["SQLite", "PostgreSQL"] if self.pg_ok else ["SQLite"]

    def pair(self, section: str, backend: str, gx: str, ml: str, args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """MLflow, then gxpml, each in its own process with its own fresh database."""
        from run import PgDatabase

        results = []
        for system, worker in (("mlflow", ml), ("gxpml", gx)):
            folder = self.tmp / f"{section}-{system}-{backend}"
            folder.mkdir(parents=True, exist_ok=True)
            pg = PgDatabase(self.args.pg_url) if backend == "PostgreSQL" else None
            try:
                if pg is not None:
                    self.pg_version = pg.server_version
                if system == "mlflow":
                    uri = pg.url if pg is not None else f"sqlite:///{folder / 'mlflow.db'}"
                    extra = {"uri": uri, "artifact_dir": str(folder / "mlruns")}
                else:
                    extra = {"path": str(folder / "ws"), "database_url": pg.schema_url(section) if pg else None}
                self.log(f"{section}: {system} on {backend}")
                results.append(spawn(worker, {**args, **extra}))
            finally:
                if pg is not None:
                    pg.drop()
                shutil.rmtree(folder, ignore_errors=True)
        return results[1], results[0]

    # ------------------------------------------------------------------ sections

    def metrics(self) -> dict[str, Any]:
        a = self.args
        rows = []
        for backend in self.backends():
            gx, ml = self.pair("metrics", backend, "gx-metrics", "ml-metrics", {
                "n": a.metric_calls, "n_durable": a.mlflow_calls, "n_mlflow": a.mlflow_calls, "batch10_calls": a.mlflow_calls // 4,
                "batch1000_calls": a.batch_calls})
            ml_single = ml["single"]["per_s"]
            for key, op in (("single_buffered", "run.log_metric (buffered; end of run timed)"),
                            ("single_flushed", "run.log_metric + run.flush() each call")):
                rows.append({"system": "gxpml", "backend": backend, "operation": op, "points_per_call": 1,
                             **gx[key], "vs_mlflow": gx[key]["per_s"] / ml_single})
            rows.append({"system": f"MLflow {ml['version']}", "backend": backend,
                         "operation": "MlflowClient.log_metric", "points_per_call": 1, **ml["single"]})
            for key, size, gop, mop in (("batch_10", 10, "run.log_metrics (10 metrics)", "log_batch (10 metrics)"),
                                        ("batch_1000", 1000, "ws.runs.log_batch (1,000 points)",
                                         "log_batch (1,000 metrics)")):
                rows.append({"system": "gxpml", "backend": backend, "operation": gop, "points_per_call": size,
                             **gx[key], "vs_mlflow": gx[key]["per_s"] / ml[key]["per_s"]})
                rows.append({"system": f"MLflow {ml['version']}", "backend": backend, "operation": mop,
                             "points_per_call": size, **ml[key]})
            for r in rows[-6:]:
                self.log(f"  {r['system']:14} {r['operation']:44} {r['per_s']:10,.0f} points/s"
                         + (f"  x{r['vs_mlflow']:.1f}" if r.get("vs_mlflow") else ""))
            if not gx["trail_ok"]:
                raise RuntimeError(f"the metrics workspace trail ({backend}) does not verify")
        return {"rows": rows}

    def runs(self) -> dict[str, Any]:
        rows, parts = [], {}
        for backend in self.backends():
            gx, ml = self.pair("runs", backend, "gx-runs", "ml-runs", {"n": self.args.runs_n})
            rows.append({"system": "gxpml", "backend": backend, "operation": "ws.start_run + end",
                         **gx["start_end"], "vs_mlflow": gx["start_end"]["per_s"] / ml["create_end"]["per_s"]})
            rows.append({"system": "gxpml", "backend": backend,
                         "operation": "  of which: capture_environment alone", **gx["capture"]})
            rows.append({"system": "gxpml", "backend": backend,
                         "operation": "  of which: ws.runs.create + end (records)", **gx["records"]})
            rows.append({"system": f"MLflow {ml['version']}", "backend": backend,
                         "operation": "create_run + set_terminated", **ml["create_end"]})
            parts[backend] = {k: gx[k] for k in ("packages_cached", "packages_uncached_ms", "entry_point",
                                                 "code_stored", "trail_ok")}
            for r in rows[-4:]:
                self.log(f"  {r['system']:14} {r['operation']:44} {r['per_s']:8,.1f} runs/s, p50 {r['p50_ms']:.1f} ms")
        return {"rows": rows, "environment": parts}

    def search(self) -> dict[str, Any]:
        rows, setup = [], {}
        for backend in self.backends():
            gx, ml = self.pair("search", backend, "gx-search", "ml-search",
                               {"runs": self.args.search_runs, "repeat": self.args.repeat})
            for key, op in (("list", "ws.runs.list(experiment=, limit=100)"),
                            ("list_finished", "ws.runs.list(experiment=, status='finished', limit=100)"),
                            ("list_all", "ws.runs.list(limit=100)")):
                rows.append({"system": "gxpml", "backend": backend, "operation": op, "runs": gx["runs"], **gx[key]})
            for key, op in (("search", "search_runs(experiment, max_results=100)"),
                            ("search_filtered", "search_runs(experiment, 'metrics.acc > 0.5', max_results=100)")):
                rows.append({"system": f"MLflow {ml['version']}", "backend": backend, "operation": op,
                             "runs": ml["runs"], **ml[key]})
            setup[backend] = {"gxpml_populate_s": gx["populate_s"], "mlflow_populate_s": ml["populate_s"],
                              "gxpml_trail_ok": gx["trail_ok"], "gxpml_events": gx["events"]}
            for r in rows[-5:]:
                self.log(f"  {r['system']:14} {r['operation'][:56]:56} p50 {r['p50_ms']:7.2f} ms, p95 {r['p95_ms']:7.2f} ms")
        return {"rows": rows, "setup": setup}

    def dataset(self) -> dict[str, Any]:
        size = self.args.dataset_mb
        folder = self.tmp / "dataset"
        folder.mkdir(parents=True, exist_ok=True)
        file = folder / "bench.parquet"
        try:
            self.log(f"dataset: writing a ~{size} MiB Parquet file")
            made = spawn("make-parquet", {"path": str(file), "size_mb": size})
            mb = made["bytes"] / MIB
            self.log(f"  {mb:,.0f} MiB, {made['rows']:,} rows, {made['row_groups']} row groups")
            os.sync()
            self.log("dataset: mlflow.data.from_pandas(pd.read_parquet(path)).digest")
            ml = spawn("ml-digest", {"file": str(file)})
            self.log("dataset: gxpml content digest alone")
            dg = spawn("gx-digest", {"file": str(file)})
            self.log("dataset: ws.data.register(name, path)")
            reg = spawn("gx-register", {"file": str(file), "path": str(folder / "ws")})
            if reg["digest"] != dg["digest"] or reg["rows"] != made["rows"]:
                raise RuntimeError(f"register and the digest pass disagree: {reg} {dg}")
            rows = [
                {"system": "gxpml", "operation": "ws.data.register(name, path)", "mb": mb, **reg,
                 "mb_per_s": mb / reg["seconds"]},
                {"system": "gxpml", "operation": "content digest alone (all rows + schema)", "mb": mb, **dg,
                 "mb_per_s": mb / dg["seconds"]},
                {"system": f"MLflow {ml['version']}", "operation": "from_pandas(read_parquet(path)).digest (first 10,000 rows)",
                 "mb": mb, **ml, "mb_per_s": mb / ml["seconds"]},
            ]
            for r in rows:
                self.log(f"  {r['system']:14} {r['operation'][:58]:58} {r['seconds']:6.1f} s {r['mb_per_s']:6.0f} MB/s, "
                         f"peak RSS {r['peak_rss_mb']:,.0f} MB")
            return {"file": {"mb": mb, "rows": made["rows"], "row_groups": made["row_groups"],
                             "columns": "id int64, x0..x4 float64, label string(16)"}, "rows": rows}
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def lineage(self) -> dict[str, Any]:
        folder = self.tmp / "lineage"
        try:
            plan = lineage_plan(self.args.lineage_nodes)
            self.log(f"lineage: building ~{self.args.lineage_nodes:,} nodes ({plan['datasets']:,} datasets), SQLite")
            build = spawn("lineage-build", {"path": str(folder / "ws"), **plan})
            self.log(f"  {build['nodes']:,} nodes, {build['edges']:,} edges in {build['seconds']:.1f} s")
            q = spawn("lineage-query", {"path": str(folder / "ws"), "repeat": self.args.repeat, **build})
            rows = []
            for key, op in (("ancestors", "ws.lineage.ancestors(deepest report)"),
                            ("descendants_root", "ws.lineage.descendants(root dataset)"),
                            ("descendants_hub", "ws.lineage.descendants(environment, depth=2)")):
                rows.append({"operation": op, "backend": "SQLite", **q[key]})
                self.log(f"  {op:46} {q[key]['nodes']:6,} nodes  p50 {q[key]['p50_ms']:7.2f} ms, "
                         f"p95 {q[key]['p95_ms']:7.2f} ms (first {q[key]['first_ms']:.1f} ms)")
            return {"graph": build, "indexes": q.get("indexes"), "plan_up": q.get("plan_up"), "rows": rows}
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    metrics = result.get("metrics")
    if metrics:
        for r in metrics["rows"]:
            if r["system"] == "gxpml" and r["backend"] == "SQLite" and r["points_per_call"] == 1:
                out.append({"benchmark": "tracking", "target": f">= {TARGET_METRIC_RATIO:.0f}x MLflow log_metric "
                            f"(SQLite): {r['operation']}, {r['per_s']:,.0f} calls/s",
                            "value": r["vs_mlflow"], "unit": "x", "met": r["vs_mlflow"] >= TARGET_METRIC_RATIO})
    search = result.get("search")
    if search:
        for r in search["rows"]:
            if r["system"] == "gxpml" and r["backend"] == "SQLite" and "experiment=" in r["operation"]:
                out.append({"benchmark": "tracking", "target": f"<= {TARGET_SEARCH_MS:.0f} ms p95: {r['operation']} "
                            f"over {r['runs']:,} runs", "value": r["p95_ms"], "unit": "ms",
                            "met": r["p95_ms"] <= TARGET_SEARCH_MS})
    dataset = result.get("dataset")
    if dataset:
        r = dataset["rows"][0]
        out.append({"benchmark": "tracking", "target": f"<= {TARGET_REGISTER_RSS_MB:.0f} MB peak RSS: "
                    f"ws.data.register of {r['mb']:,.0f} MiB Parquet", "value": r["peak_rss_mb"], "unit": "MB",
                    "met": r["peak_rss_mb"] <= TARGET_REGISTER_RSS_MB})
    lineage = result.get("lineage")
    if lineage:
        for r in lineage["rows"]:
            if "hub" in r["operation"] or "environment" in r["operation"]:
                continue
            out.append({"benchmark": "tracking", "target": f"<= {TARGET_LINEAGE_MS:.0f} ms p95: {r['operation']}, "
                        f"{lineage['graph']['nodes']:,}-node graph", "value": r["p95_ms"], "unit": "ms",
                        "met": r["p95_ms"] <= TARGET_LINEAGE_MS})
    return out


def print_tables(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console() if sys.stdout.isatty() else Console(width=160)

    def f(value: Any, spec: str = ",.0f") -> str:
        return "" if value is None else format(value, spec)

    if result.get("metrics"):
        table = Table(title="Metric logging (every timing includes the run's end: all points committed)")
        for col in ("system", "backend", "operation", "points/call", "calls", "points/s", "p50 ms", "p99 ms", "x MLflow"):
            table.add_column(col, justify="left" if col in ("system", "backend", "operation") else "right")
        for r in result["metrics"]["rows"]:
            table.add_row(r["system"], r["backend"], r["operation"], f(r["points_per_call"]), f(r["n"]), f(r["per_s"]),
                          f(r.get("p50_ms"), ".3f"), f(r.get("p99_ms"), ".2f"), f(r.get("vs_mlflow"), ".1f"))
        console.print(table)
    if result.get("runs"):
        table = Table(title="Create-run rate (start + end, one after another)")
        for col in ("system", "backend", "operation", "runs", "runs/s", "p50 ms", "p95 ms", "x MLflow"):
            table.add_column(col, justify="left" if col in ("system", "backend", "operation") else "right")
        for r in result["runs"]["rows"]:
            table.add_row(r["system"], r["backend"], r["operation"], f(r["n"]), f(r["per_s"], ",.1f"),
                          f(r["p50_ms"], ".2f"), f(r["p95_ms"], ".2f"), f(r.get("vs_mlflow"), ".2f"))
        console.print(table)
    if result.get("search"):
        table = Table(title="Run search (100 newest runs, with params and metrics)")
        for col in ("system", "backend", "operation", "runs", "p50 ms", "p95 ms", "mean ms"):
            table.add_column(col, justify="left" if col in ("system", "backend", "operation") else "right")
        for r in result["search"]["rows"]:
            table.add_row(r["system"], r["backend"], r["operation"], f(r["runs"]), f(r["p50_ms"], ".2f"),
                          f(r["p95_ms"], ".2f"), f(r["mean_ms"], ".2f"))
        console.print(table)
    if result.get("dataset"):
        d = result["dataset"]
        table = Table(title=f"Dataset digest/registration: {d['file']['mb']:,.0f} MiB Parquet, {d['file']['rows']:,} rows, "
                            f"{d['file']['row_groups']} row groups")
        for col in ("system", "operation", "seconds", "MB/s", "peak RSS MB"):
            table.add_column(col, justify="left" if col in ("system", "operation") else "right")
        for r in d["rows"]:
            table.add_row(r["system"], r["operation"], f(r["seconds"], ".1f"), f(r["mb_per_s"]), f(r["peak_rss_mb"]))
        console.print(table)
    if result.get("lineage"):
        g = result["lineage"]["graph"]
        table = Table(title=f"Lineage queries, SQLite: {g['nodes']:,} nodes, {g['edges']:,} edges")
        for col in ("operation", "node", "nodes found", "depth", "first ms", "p50 ms", "p95 ms"):
            table.add_column(col, justify="left" if col in ("operation", "node") else "right")
        for r in result["lineage"]["rows"]:
            table.add_row(r["operation"], r["node"], f(r["nodes"]), f(r["max_depth"]), f(r["first_ms"], ".1f"),
                          f(r["p50_ms"], ".2f"), f(r["p95_ms"], ".2f"))
        console.print(table)
    if result.get("targets"):
        table = Table(title="Targets" + (" (quick run: small sizes, not representative)" if result.get("quick") else ""))
        for col in ("target", "measured", "met"):
            table.add_column(col, justify="left" if col == "target" else "right")
        for t in result["targets"]:
            spec = ",.1f" if t["unit"] in ("x", "ms") else ",.0f"
            table.add_row(t["target"], f"{t['value']:{spec}} {t['unit']}", "[green]yes" if t["met"] else "[red]NO")
        console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run (~2 minutes)")
    parser.add_argument("--only", action="append", choices=SECTIONS, help="run only this section (repeatable)")
    parser.add_argument("--metric-calls", type=int, default=None, help="gxpml buffered log_metric calls (default 20000)")
    parser.add_argument("--mlflow-calls", type=int, default=None,
                        help="MLflow log_metric calls and gxpml flushed calls (default 2000)")
    parser.add_argument("--batch-calls", type=int, default=None, help="calls of 1,000 points (default 50)")
    parser.add_argument("--runs-n", type=int, default=None, help="runs created per system (default 300)")
    parser.add_argument("--search-runs", type=int, default=None, help="runs in the searched store (default 10000)")
    parser.add_argument("--dataset-mb", type=int, default=None, help="Parquet file size, MiB (default 1024)")
    parser.add_argument("--lineage-nodes", type=int, default=None, help="lineage graph nodes (default 1000000)")
    parser.add_argument("--repeat", type=int, default=None, help="timed repetitions of each query (default 100)")
    parser.add_argument("--pg-url", default=PG_ADMIN_URL, help="PostgreSQL URL used to create the bench databases")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--dir", help="working folder (default: a new temp folder, removed at the end)")
    parser.add_argument("--out", default=str(RESULTS), help="JSON output (default bench/results/tracking.json)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--args", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        result = WORKERS[args.worker](json.loads(args.args))
        Path(args.out).write_text(json.dumps(result))
        return

    quick = {"metric_calls": 5000, "mlflow_calls": 300, "batch_calls": 10, "runs_n": 40, "search_runs": 2000,
             "dataset_mb": 100, "lineage_nodes": 100_000, "repeat": 30}
    full = {"metric_calls": 20_000, "mlflow_calls": 2000, "batch_calls": 50, "runs_n": 300, "search_runs": 10_000,
            "dataset_mb": 1024, "lineage_nodes": 1_000_000, "repeat": 100}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    sections = args.only or list(SECTIONS)

    from run import postgres_available

    tmp = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="gxpml-tracking-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    pg_note = "--no-postgres" if args.no_postgres else postgres_available(args.pg_url)
    bench = Bench(args, tmp, pg_ok=pg_note is None)
    if pg_note is not None and not args.no_postgres:
        bench.log(f"PostgreSQL not available ({pg_note}); SQLite only.")
    try:
        with open("/proc/loadavg") as fh:
            load = fh.read().split()[:3]
    except OSError:
        load = None
    result: dict[str, Any] = {
        "measured_at": _now(), "quick": args.quick, "cores": os.cpu_count(), "loadavg_at_start": load,
        "sections": sections, "postgresql_skipped": pg_note,
        "sizes": {k: getattr(args, k) for k in full},
    }
    try:
        bench.log(f"tracking benchmarks{' (quick)' if args.quick else ''}: {', '.join(sections)}; working in {tmp}")
        for name in sections:
            result[name] = getattr(bench, name)()
        result["postgresql"] = bench.pg_version
        result["mlflow"] = _version("mlflow")
        result["targets"] = targets(result)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print()
        print_tables(result)
        print(f"\nwrote {out}")
    finally:
        if not args.dir:
            shutil.rmtree(tmp, ignore_errors=True)


def _version(name: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:  # noqa: BLE001
        return None


if __name__ == "__main__":
    main()
