"""SHAP speed: gxpml's tree SHAP against the Clarify-equivalent Kernel SHAP (REFERENCE.md §4).

Workload: 10,000 rows × 30 features (``make_classification``, seeded), a 100-tree binary
gradient-boosted model. Measured, each in a fresh process so its peak RSS (``VmHWM``) is its
own:

``gxpml-lightgbm``
    ``ModelExplainer(LGBMClassifier(n_estimators=100)).fit(X).shap_values(X)``: exact tree
    SHAP of every row. Target: ≤ 10 s on the 2-core machine.
``gxpml-hgb``
    The same with scikit-learn's ``HistGradientBoostingClassifier(max_iter=100)``.
``shap-lightgbm``
    ``shap.TreeExplainer(model).shap_values(X)`` called directly: gxpml's overhead over it.
``clarify-kernel``
    What SageMaker Clarify runs: ``shap.KernelExplainer`` on ``predict_proba[:, 1]`` of the
    LightGBM model, a ``shap.kmeans`` background of ``--background`` centres and
    ``nsamples = min(2·M + 2048, 2^M − 2)``, on ``--kernel-rows`` rows, extrapolated linearly
    to all rows (Kernel SHAP costs the same per row).

    python bench/shap_bench.py                 # full workload (~1 minute)
    python bench/shap_bench.py --rows 2000     # smaller
    python bench/shap_bench.py --out FILE      # write the JSON elsewhere

Prints a table and writes ``bench/results/shap.json`` (or ``--out``). Model fitting is not
timed. ``bench/validation_bench.py`` runs this script and includes its JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "shap.json"
WORKLOADS = ("gxpml-lightgbm", "gxpml-hgb", "shap-lightgbm", "clarify-kernel")


def rss_mb(field: str) -> float:
    """``VmHWM`` (peak) or ``VmRSS`` (current) of this process, in MiB (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status (Linux only)")


def worker(name: str, rows: int, features: int, trees: int, kernel_rows: int,
           background: int) -> dict[str, Any]:
    warnings.filterwarnings("ignore", category=PendingDeprecationWarning)  # shap's import
    warnings.filterwarnings("ignore", message="LightGBM binary classifier")
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification

    X_array, y = make_classification(n_samples=rows, n_features=features, n_informative=10,
                                     random_state=0)
    X = pd.DataFrame(X_array, columns=[f"f{j}" for j in range(features)])
    if name == "gxpml-hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        model: Any = HistGradientBoostingClassifier(max_iter=trees, early_stopping=False,
                                                    random_state=0).fit(X, y)
    else:
        import lightgbm as lgb

        model = lgb.LGBMClassifier(n_estimators=trees, random_state=0, verbose=-1).fit(X, y)
    import shap

    from gxpml.validation.explain import ModelExplainer, clarify_nsamples

    before = rss_mb("VmRSS")
    out: dict[str, Any] = {"workload": name, "rows": rows, "features": features,
                           "trees": trees}
    if name in ("gxpml-lightgbm", "gxpml-hgb"):
        start = time.perf_counter()
        explanation = ModelExplainer(model).fit(X).shap_values(X)
        out["seconds"] = time.perf_counter() - start
        out["method"] = explanation.method
        out["max_additivity_error"] = float(np.abs(
            explanation.model_output
            - (model.decision_function(X) if name == "gxpml-hgb"
               else model.predict(X, raw_score=True))).max())
    elif name == "shap-lightgbm":
        start = time.perf_counter()
        shap.TreeExplainer(model).shap_values(X)
        out["seconds"] = time.perf_counter() - start
    else:
        nsamples = clarify_nsamples(features)
        start = time.perf_counter()
        summary = shap.kmeans(X, background)
        explainer = shap.KernelExplainer(lambda Z: model.predict_proba(
            pd.DataFrame(Z, columns=X.columns))[:, 1], summary)
        setup = time.perf_counter() - start
        start = time.perf_counter()
        explainer.shap_values(X.iloc[:kernel_rows], nsamples=nsamples, l1_reg=False,
                              silent=True)
        per_row = (time.perf_counter() - start) / kernel_rows
        out.update(nsamples=nsamples, background=background, kernel_rows=kernel_rows,
                   seconds_per_row=per_row, setup_seconds=setup,
                   seconds=setup + per_row * rows, extrapolated=True)
    out["peak_rss_mb"] = rss_mb("VmHWM")
    out["rss_before_explain_mb"] = before
    return out


def run_child(name: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", name, "--rows", str(args.rows),
               "--features", str(args.features), "--trees", str(args.trees),
               "--kernel-rows", str(args.kernel_rows), "--background", str(args.background)]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"worker {name} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--kernel-rows", type=int, default=5)
    parser.add_argument("--background", type=int, default=20)
    parser.add_argument("--out", default=str(RESULTS), help="JSON output (default bench/results/shap.json)")
    parser.add_argument("--worker", choices=WORKLOADS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.rows, args.features, args.trees,
                                args.kernel_rows, args.background)))
        return

    results = {name: run_child(name, args) for name in WORKLOADS}
    print(f"SHAP, {args.rows:,} rows x {args.features} features, {args.trees} trees "
          f"({os.cpu_count()} CPUs, {platform.python_version()})")
    print(f"{'workload':<18}{'seconds':>12}{'peak RSS MiB':>15}  note")
    for name, r in results.items():
        note = ""
        if name.startswith("gxpml"):
            note = f"target <= 10 s; additivity error {r['max_additivity_error']:.1e}"
        if name == "clarify-kernel":
            note = (f"{r['seconds_per_row']:.3f} s/row x {args.rows:,} (from {r['kernel_rows']} "
                    f"rows, nsamples {r['nsamples']}, k-means {r['background']})")
        print(f"{name:<18}{r['seconds']:>12.2f}{r['peak_rss_mb']:>15.0f}  {note}")
    kernel = results["clarify-kernel"]["seconds"]
    for name in ("gxpml-lightgbm", "gxpml-hgb"):
        ratio = kernel / results[name]["seconds"]
        results[name]["speedup_vs_clarify_kernel"] = ratio
        print(f"{name}: {ratio:,.0f}x faster than Clarify-equivalent Kernel SHAP")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"timestamp": time.time(), "results": results}, indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    main()
