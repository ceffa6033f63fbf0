"""Time of every Clarify bias metric with 1000 bootstrap resamples on 100,000 rows.

The target is 10 s on the 2-core reference machine for all 21 metrics (pre- and
post-training, CDDL/CDDPL over 5 strata, FT with its k-NN on 4 numeric features), each with
a 1000-resample percentile interval. Synthetic data with a built-in bias, so the metrics are
away from their ideal values. Also times the fairlearn group table on the same rows.

    python bench/bias_bench.py [--rows 100000] [--resamples 1000] [--repeat 3] [--out FILE]

Prints the timings, the ratio to the target and the process's peak RSS; with ``--out``, also
writes them as JSON (``bench/validation_bench.py`` runs this script that way).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np
import pandas as pd
import psutil
from common import peak_rss_mb

from gxpml.validation.bias import bias_report, group_metrics_table

TARGET_S = 10.0


def synthetic(rows: int, seed: int = 0) -> pd.DataFrame:
    """A facet with three values (d = "B"), a group of 5 strata, 4 features, a biased label
    and a model's predictions that are right 80% of the time."""
    rng = np.random.default_rng(seed)
    facet = rng.choice(["A", "B", "C"], size=rows, p=[0.6, 0.3, 0.1])
    group = rng.integers(0, 5, size=rows)
    features = rng.normal(size=(rows, 4))
    logit = features @ np.array([0.8, -0.5, 0.3, 0.0]) + 0.3 * group - 0.7 * (facet == "B")
    label = rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))
    predicted = np.where(rng.random(rows) < 0.8, label, ~label)
    frame = pd.DataFrame(features, columns=["x1", "x2", "x3", "x4"])
    frame["facet"], frame["group"] = facet, group
    frame["label"], frame["predicted"] = label.astype(int), predicted.astype(int)
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", help="also write the figures to this JSON file")
    args = parser.parse_args()

    frame = synthetic(args.rows)
    rss_before = psutil.Process(os.getpid()).memory_info().rss / 2**20
    timings: list[float] = []
    report = None
    for _ in range(args.repeat):
        start = time.perf_counter()
        report = bias_report(frame, label="label", facet="facet", facet_values=["B"],
                             positive=1, predicted="predicted", group="group",
                             features=["x1", "x2", "x3", "x4"], n_bootstrap=args.resamples,
                             level=0.95, seed=0)
        timings.append(time.perf_counter() - start)
    assert report is not None
    start = time.perf_counter()
    table = group_metrics_table(frame, label="label", predicted="predicted", facet="facet",
                                positive=1)
    table_s = time.perf_counter() - start

    best, median = min(timings), statistics.median(timings)
    print(f"bias_report: {args.rows:,} rows, {args.resamples} resamples, "
          f"{len(report.facets[0].metrics)} metrics, {psutil.cpu_count()} CPUs")
    print(f"  runs (s):        {', '.join(f'{t:.2f}' for t in timings)}")
    print(f"  best / median:   {best:.2f} s / {median:.2f} s")
    print(f"  ratio to target: {median / TARGET_S:.3f} of {TARGET_S:.0f} s "
          f"({'met' if median <= TARGET_S else 'NOT met'})")
    print(f"group_metrics_table (fairlearn): {table_s:.2f} s, {len(table)} rows")
    print(f"memory: RSS before runs {rss_before:.0f} MiB, peak {peak_rss_mb():.0f} MiB")
    print("metrics (point [lower, upper]):")
    for metric in report.facets[0].metrics:
        est = metric.estimate
        shown = (f"{est.point:+.4f} [{est.lower:+.4f}, {est.upper:+.4f}]" if est is not None
                 and est.lower is not None and est.upper is not None else str(metric.reason))
        print(f"  {metric.name:<6} {shown}")
    if args.out:
        metrics = [{"name": m.name, "point": m.estimate.point if m.estimate else None,
                    "lower": m.estimate.lower if m.estimate else None,
                    "upper": m.estimate.upper if m.estimate else None} for m in report.facets[0].metrics]
        figures = {"rows": args.rows, "resamples": args.resamples, "repeat": args.repeat,
                   "metrics": len(metrics), "cpus": psutil.cpu_count(), "seconds_runs": timings,
                   "best_s": best, "median_s": median, "target_s": TARGET_S, "met": median <= TARGET_S,
                   "group_table_s": table_s, "group_table_rows": len(table),
                   "rss_before_mb": rss_before, "peak_rss_mb": peak_rss_mb(), "estimates": metrics}
        with open(args.out, "w", encoding="utf-8") as out:
            json.dump(figures, out, indent=2)
            out.write("\n")


if __name__ == "__main__":
    main()
