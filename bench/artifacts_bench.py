"""Throughput and memory of the artifact object store on a local folder.

Measures put (stage: read, SHA-256, encrypt, write), publish (fsync and rename), get (read,
decrypt, verify, write, fsync) with and without encryption, against ``shutil.copyfile`` of
the same file as the baseline, and a plain Python read-hash-write loop as the floor for any
content-addressed store. Every operation runs in a fresh subprocess, so its peak RSS
(``VmHWM``) is its own; running it on two file sizes shows memory does not grow with
the file. The source file is in the page cache, as it is right after a training run.

    python bench/artifacts_bench.py --size-mb 1024

Prints a table and writes ``bench/results/artifacts.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import peak_rss_mb

RESULTS = Path(__file__).resolve().parent / "results" / "artifacts.json"
MIB = 1 << 20


def make_file(path: Path, size_mb: int) -> None:
    """Write ``size_mb`` MiB: one random MiB repeated, each copy stamped with its index, so
    no two chunks are alike and the content does not compress."""
    block = bytearray(os.urandom(MIB))
    with open(path, "wb") as out:
        for index in range(size_mb):
            block[:8] = index.to_bytes(8, "big")
            out.write(block)


# -- one operation, in its own process ----------------------------------------------------


def worker(op: str, source: str, store_dir: str, dest: str, dek_hex: str) -> dict[str, Any]:
    from gxpml.artifacts.objects import ObjectStore

    store = ObjectStore(store_dir)
    dek = bytes.fromhex(dek_hex) if dek_hex else None
    baseline = peak_rss_mb()
    result: dict[str, Any] = {}
    start = time.perf_counter()
    if op == "copyfile":
        shutil.copyfile(source, dest)
    elif op == "copyfile+fsync":
        shutil.copyfile(source, dest)
        fd = os.open(dest, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    elif op == "copy+sha256":
        # The floor for any content-addressed store: read, hash, write, in Python.
        import hashlib

        hasher = hashlib.sha256()
        with open(source, "rb") as src, open(dest, "wb") as out:
            for chunk in iter(lambda: src.read(MIB), b""):
                hasher.update(chunk)
                out.write(chunk)
    elif op == "put":
        staged = store.put(source, dek=dek)
        result["put_s"] = time.perf_counter() - start
        published = time.perf_counter()
        store.publish(staged)
        result["publish_s"] = time.perf_counter() - published
        result["digest"] = staged.digest
    elif op == "get":
        with open(source + ".digest") as handle:
            store.get(handle.read().strip(), dest, dek=dek)
    else:
        raise SystemExit(f"unknown operation {op}")
    result["seconds"] = time.perf_counter() - start
    result["peak_rss_mb"] = peak_rss_mb()
    result["rss_growth_mb"] = result["peak_rss_mb"] - baseline
    return result


def run(op: str, source: Path, store_dir: Path, dest: Path, dek_hex: str = "") -> dict[str, Any]:
    os.sync()  # start each operation with no writeback left over from the previous one
    command = [sys.executable, __file__, "--worker", op, str(source), str(store_dir), str(dest)]
    output = subprocess.run([*command, dek_hex], check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(output)
    if op == "put":
        Path(str(source) + ".digest").write_text(result["digest"])
    dest.unlink(missing_ok=True)
    return result


# -- the whole benchmark ------------------------------------------------------------------

CASES = [
    # (label, operation, encrypted)
    ("copyfile (baseline)", "copyfile", False),
    ("copyfile + fsync", "copyfile+fsync", False),
    ("copy + sha256, Python", "copy+sha256", False),
    ("put, plain", "put", False),
    ("put, encrypted", "put", True),
    ("get, plain", "get", False),
    ("get, encrypted", "get", True),
]


def bench_size(directory: Path, size_mb: int, repeat: int) -> dict[str, Any]:
    source = directory / f"source-{size_mb}.bin"
    make_file(source, size_mb)
    dek_hex = os.urandom(32).hex()
    rows: dict[str, Any] = {}
    for label, op, encrypted in CASES:
        store_dir = directory / ("store-encrypted" if encrypted else "store-plain")
        runs = [
            run(op, source, store_dir, directory / "dest.bin", dek_hex if encrypted else "")
            for _ in range(repeat)
        ]
        row: dict[str, Any] = {
            "seconds": statistics.median(r["seconds"] for r in runs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "rss_growth_mb": max(r["rss_growth_mb"] for r in runs),
        }
        row["mb_per_s"] = size_mb / row["seconds"]
        if op == "put":
            row["stage_mb_per_s"] = size_mb / statistics.median(r["put_s"] for r in runs)
            row["publish_s"] = statistics.median(r["publish_s"] for r in runs)
        rows[label] = row
    baseline = rows["copyfile (baseline)"]["mb_per_s"]
    for row in rows.values():
        row["vs_copyfile"] = row["mb_per_s"] / baseline
    source.unlink()
    return rows


def print_table(size_mb: int, rows: dict[str, Any]) -> None:
    print(f"\n{size_mb} MiB file (MB = MiB; median of runs)")
    header = f"{'operation':<22}{'MB/s':>8}{'x copy':>8}{'stage MB/s':>12}{'publish s':>11}"
    print(header + f"{'peak RSS MB':>13}{'growth MB':>11}")
    for label, row in rows.items():
        stage = f"{row['stage_mb_per_s']:.0f}" if "stage_mb_per_s" in row else ""
        publish = f"{row['publish_s']:.2f}" if "publish_s" in row else ""
        print(
            f"{label:<22}{row['mb_per_s']:>8.0f}{row['vs_copyfile']:>8.2f}{stage:>12}"
            f"{publish:>11}{row['peak_rss_mb']:>13.1f}{row['rss_growth_mb']:>11.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="file size for throughput")
    parser.add_argument("--small-mb", type=int, default=256, help="second size, for memory")
    parser.add_argument("--repeat", type=int, default=3, help="runs per operation (median)")
    parser.add_argument("--dir", help="working folder (default: a new temp folder)")
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return

    directory = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="gxpml-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        results: dict[str, Any] = {
            "machine": {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
            },
            "sizes": {},
        }
        for size_mb in sorted({args.small_mb, args.size_mb}):
            rows = bench_size(directory, size_mb, args.repeat)
            results["sizes"][str(size_mb)] = rows
            print_table(size_mb, rows)
    finally:
        if not args.dir:
            shutil.rmtree(directory, ignore_errors=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
