"""The validation report: a :class:`~gxpml.reports.Document` built from ``results.json``.

The document is a pure function of the results, so the report a reviewer reads always says
exactly what ``results.json`` (stored beside it, digest in the audit trail) says. Sections
follow what an inspector asks in turn: what the model is for, what it had to achieve,
whether it did (with intervals), how sure it is, whether it treats groups alike, why it
decides as it does, and where its data, code and environment came from — then the
signatures, left for the registry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from gxpml.reports import (
    Block,
    Callout,
    Cell,
    Chart,
    Document,
    KeyValues,
    Paragraph,
    Preformatted,
    Section,
    Series,
    SignatureBlock,
    SignatureLine,
    Table,
)
from gxpml.reports.document import format_value

__all__ = ["SECTION_TITLES", "build_document"]

SECTION_TITLES = (
    "Summary", "Model card", "Acceptance criteria", "Performance", "Calibration and uncertainty",
    "Subgroups and bias", "Explanations", "Stability", "Data and code lineage", "Environment", "Signatures",
)
_CARD_FIELDS = (("intended_use", "Intended use"), ("users", "Intended users"), ("population", "Population"),
                ("limitations", "Limitations"), ("out_of_scope", "Out of scope"))


def _num(value: Any) -> float | None:
    """A JSON number (or "inf"/"nan" string) as a float; None when absent."""
    if value is None:
        return None
    if isinstance(value, str):
        return {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}.get(value)
    return float(value)


def _fmt(value: Any) -> str:
    """A results.json number as the tables show it (the reports' own format, with ±∞)."""
    number = _num(value)
    if number is not None and math.isinf(number):
        return "∞" if number > 0 else "−∞"
    return format_value(number)


def _interval(estimate: Mapping[str, Any] | None) -> str:
    if not estimate or estimate.get("lower") is None:
        return "—"
    return f"{_fmt(estimate['lower'])} – {_fmt(estimate['upper'])}"


def _finite(values: Sequence[Any]) -> list[float]:
    return [v if (v := _num(x)) is not None and math.isfinite(v) else math.nan for x in values]


# ----------------------------------------------------------------------------- sections


def _summary(r: Mapping[str, Any]) -> Section:
    passed = r.get("passed")
    judged = r.get("judgements") or []
    if passed is None:
        callout = Callout("warn", "No acceptance criteria were declared: this report describes the model but "
                                  "does not accept or reject it.", title="No criteria")
    elif passed:
        callout = Callout("pass", f"All {len(judged)} acceptance criteria are met.", title="Accepted")
    else:
        failed = [j for j in judged if not j["passed"]]
        callout = Callout("fail", f"{len(failed)} of {len(judged)} acceptance criteria are not met: "
                                  + "; ".join(j["sentence"] for j in failed), title="Not accepted")
    blocks: list[Block] = [callout]
    criteria = r.get("criteria") or {}
    if criteria.get("changed_after_tests"):
        blocks.append(Callout("warn", "The acceptance criteria were changed after the model had been tested under "
                                      f"earlier criteria (validations {', '.join(criteria['after_tests'])}; earlier "
                                      f"criteria digests {', '.join(criteria['replaces'])}).",
                              title="Criteria changed after a test run"))
    data, model, run = r["data"], r["model"], r["run"]
    blocks.append(KeyValues([
        ("Run", f"{run['id']} ({run['experiment']}{' / ' + run['name'] if run.get('name') else ''})"),
        ("Model", f"{model['name']} — {model['class']} ({model['format']}, sha256:{model['digest']})"),
        ("Problem", r["problem"]),
        ("Data", f"{data['dataset']} ({data['digest']}), label {data['label']}"),
        ("Evaluated on", f"{data['evaluated_on']} split; calibrated on {data['calibrated_on']}"),
        ("Seed / bootstrap", f"{r['seed']} / {r['n_bootstrap']} resamples, 95 % percentile intervals"),
    ], caption="What was validated"))
    return Section("Summary", blocks, anchor="summary")


def _model_card(r: Mapping[str, Any]) -> Section:
    card = r.get("model_card") or {}
    rows = [(title, card.get(key) or "not stated") for key, title in _CARD_FIELDS]
    rows += [(k, v) for k, v in sorted(card.items()) if k not in dict(_CARD_FIELDS)]
    data = r["data"]
    rows.append(("Training data", f"{data['dataset']}: {data['rows']} rows; rows read per split: "
                 + ", ".join(f"{k} {v}" for k, v in data["splits"].items())))
    rows.append(("Inputs", ", ".join(r["model"]["features"])))
    blocks: list[Block] = [KeyValues(rows)]
    if not card:
        blocks.append(Callout("warn", "No model card was given: state the intended use and limitations "
                                      "(gxpml validate --card FILE) before approval."))
    return Section("Model card", blocks, anchor="model-card")


def _criteria(r: Mapping[str, Any]) -> Section:
    judged = r.get("judgements") or []
    if not judged:
        return Section("Acceptance criteria", [Paragraph("None declared.")], anchor="criteria")
    rows = []
    for j in judged:
        rule = " ".join(filter(None, [f"≥ {_fmt(j['min'])}" if j["min"] is not None else "",
                                      f"≤ {_fmt(j['max'])}" if j["max"] is not None else ""]))
        rows.append([j["metric"], j["split"], j.get("subgroup") or "all", j["bound"], rule, _fmt(j["value"]),
                     Cell(j["status"], "pass" if j["passed"] else "fail")])
    criteria = r["criteria"]
    return Section("Acceptance criteria", [
        Paragraph(f"Locked before evaluation as {criteria['lock_id']} (criteria digest sha256:{criteria['digest']}); "
                  "the lock is an event in the audit trail."),
        Table(["Metric", "Split", "Subgroup", "Bound", "Criterion", "Value", "Result"], rows),
    ], anchor="criteria")


def _performance(r: Mapping[str, Any]) -> Section:
    blocks: list[Block] = []
    for split, ev in r["evaluation"].items():
        rows = [[name, _fmt(est["point"]), _interval(est), _fmt((ev["baseline"].get(name) or {}).get("point"))]
                for name, est in ev["metrics"].items()]
        blocks.append(Table(["Metric", "Estimate", "95 % interval", "Best-constant baseline"], rows,
                            caption=f"{split} split, {ev['n']} rows"))
        confusion = ev.get("confusion")
        if confusion and "tp" in confusion:
            blocks.append(KeyValues([(k.upper(), confusion[k]) for k in ("tp", "fp", "tn", "fn")],
                                    caption=f"Confusion matrix ({split})"))
        curves = ev.get("curves")
        if curves:
            roc, pr = curves.get("roc"), curves.get("pr")
            if roc:
                blocks.append(Chart("line", f"ROC curve ({split})", [
                    Series("model", _finite(roc["fpr"]), _finite(roc["tpr"])), Series.diagonal("chance")],
                    x_label="False positive rate", y_label="True positive rate", x_range=(0, 1), y_range=(0, 1)))
            if pr:
                blocks.append(Chart("line", f"Precision-recall curve ({split})", [
                    Series("model", _finite(pr["recall"]), _finite(pr["precision"]))],
                    x_label="Recall", y_label="Precision", x_range=(0, 1), y_range=(0, 1)))
    comparison = r.get("comparison")
    if comparison:
        rows = [[name, _fmt(m["candidate"]["point"]), _fmt(m["baseline"]["point"]),
                 f"{_fmt(m['difference']['point'])} ({_interval(m['difference'])})", _fmt(m["margin"]),
                 Cell("non-inferior" if m["non_inferior"] else "not shown", "pass" if m["non_inferior"] else "fail")]
                for name, m in comparison["metrics"].items()]
        blocks.append(Table(["Metric", "Candidate", "Baseline", "Difference (95 % interval)", "Margin", "Verdict"],
                            rows, caption=f"Against the baseline model {comparison['baseline_model']} of run "
                                          f"{comparison['baseline_run']} on the same {comparison['split']} rows "
                                          "(paired bootstrap)"))
    if r["problem"] == "regression":
        ev = r["evaluation"][r["data"]["evaluated_on"]]
        names = [n for n in ("mae", "rmse") if n in ev["metrics"]]
        blocks.append(Chart("bar", "Error against the best-constant baseline", [
            Series("model", names, [_num(ev["metrics"][n]["point"]) for n in names],
                   error=[(_num(ev["metrics"][n]["upper"]) or 0) - (_num(ev["metrics"][n]["point"]) or 0)
                          for n in names],
                   error_minus=[(_num(ev["metrics"][n]["point"]) or 0) - (_num(ev["metrics"][n]["lower"]) or 0)
                                for n in names]),
            Series("baseline", names, [_num(ev["baseline"][n]["point"]) for n in names])],
            y_label="error (label units)"))
    return Section("Performance", blocks, anchor="performance")


def _calibration(r: Mapping[str, Any]) -> Section:
    u = r["uncertainty"]
    blocks: list[Block] = []
    calibration = u.get("calibration")
    if calibration:
        rows = []
        series = [Series.diagonal("perfect calibration")]
        for name, label in (("before", "as trained"), ("temperature", "temperature scaling"), ("isotonic", "isotonic")):
            report = calibration[name]
            extra = f" (T = {_fmt(report['temperature'])})" if "temperature" in report else ""
            rows.append([label + extra, _fmt(report["ece"]), _fmt(report["mce"]), _fmt(report["accuracy"])])
            bins = [b for b in report["bins"] if b["count"]]
            series.append(Series(label, _finite([b["mean_confidence"] for b in bins]),
                                 _finite([b["accuracy"] for b in bins]), markers=True))
        blocks.append(Table(["Probabilities", "ECE", "MCE", "Accuracy"], rows,
                            caption="Expected calibration error, 15 equal-width bins (Guo et al. 2017); calibrators "
                                    "fitted on the calibration rows, measured on the evaluation rows"))
        blocks.append(Chart("line", "Reliability diagram", series, x_label="Confidence", y_label="Accuracy",
                            x_range=(0, 1), y_range=(0, 1)))
    else:
        blocks.append(Paragraph("Calibration of probabilities applies to classifiers; for this regression model the "
                                "uncertainty is measured by conformal prediction intervals below."))
    conformal = u["conformal"]
    kind = "prediction sets" if conformal["task"] == "classification" else "prediction intervals"
    coverage: list[list[Any]] = [["all rows", conformal["n"], _fmt(conformal["coverage"]["point"]),
                                  _interval(conformal["coverage"]), _fmt(conformal["mean_size"]["point"])]]
    mondrian = u.get("mondrian") or {}
    for group in mondrian.get("groups", []):
        cov = group["coverage"]
        point = _num(cov["point"] if isinstance(cov, Mapping) else cov)
        status = "pass" if point is not None and point >= conformal["confidence_level"] - 0.05 else "warn"
        size = group["mean_size"]["point"] if isinstance(group["mean_size"], Mapping) else group["mean_size"]
        coverage.append([f"{r['data']['facet']}={group['group']} (Mondrian)", group["n"], Cell(_fmt(point), status),
                         _interval(cov if isinstance(cov, Mapping) else None), _fmt(size)])
    blocks.append(Table(["Rows", "n", "Coverage", "95 % interval", "Mean size"], coverage,
                        caption=f"Split conformal {kind} ({conformal['method']}) at "
                                f"{conformal['confidence_level']:.0%} target coverage, calibrated on "
                                f"{conformal['n_calibration']} held-out rows"))
    if "error" in mondrian:
        blocks.append(Callout("warn", f"Per-group (Mondrian) coverage not computed: {mondrian['error']}"))
    ensemble = u.get("ensemble") or {}
    if ensemble:
        blocks.append(KeyValues([(k.replace("_", " "), _fmt(v) if isinstance(v, (float, str)) and k != "kind" else v)
                                 for k, v in ensemble.items()],
                                caption="Bootstrap ensemble of the model's estimator: spread of its members"))
    return Section("Calibration and uncertainty", blocks, anchor="uncertainty")


def _bias(r: Mapping[str, Any]) -> Section:
    blocks: list[Block] = []
    ev = r["evaluation"][r["data"]["evaluated_on"]]
    if ev["subgroups"]:
        names = list(ev["subgroups"][0]["metrics"])[:6]
        rows = [[row["subgroup"], row["n"] if not row["small"] else Cell(f"{row['n']} (small)", "warn")]
                + [f"{_fmt(row['metrics'][n]['point'])} ({_interval(row['metrics'][n])})" for n in names]
                for row in ev["subgroups"]]
        blocks.append(Table(["Subgroup", "n", *names], rows, caption="Performance by subgroup, with 95 % intervals"))
    bias = r.get("bias")
    if not bias:
        blocks.append(Paragraph("No facet was named (gxpml validate --facet COLUMN): bias metrics not computed."))
        return Section("Subgroups and bias", blocks, anchor="bias")
    blocks.append(Paragraph(f"Facet {r['data']['facet']}; favourable outcome: {bias['outcome']['positive']}. "
                            f"Metrics as SageMaker Clarify defines them (TE: {bias['te_definition']}); "
                            f"{bias['n_bootstrap']} bootstrap resamples."))
    for facet in bias["facets"]:
        rows = []
        for m in facet["metrics"]:
            est = m["estimate"]
            rows.append([m["name"], m["title"], m["stage"], _fmt(est["point"]) if est else "—",
                         _interval(est) if est else (m.get("reason") or "—"), _fmt(m["ideal"])])
        blocks.append(Table(["Metric", "Name", "Stage", "Value", "95 % interval / note", "Ideal"], rows,
                            caption=f"{facet['sensitive']} (d, n={facet['n_d']}) against the rest (a, n={facet['n_a']})"))
    groups = bias.get("groups")
    if groups:
        blocks.append(Table([c.replace("_", " ") for c in groups["columns"]],
                            [[_fmt(v) if isinstance(v, (float, int)) and not isinstance(v, bool) else v for v in row]
                             for row in groups["rows"]],
                            caption="Group metrics per facet value (fairlearn MetricFrame)"))
    first = bias["facets"][0]
    shown = [m for m in first["metrics"] if m["estimate"] and all(
        (v := _num(m["estimate"][k])) is not None and math.isfinite(v) for k in ("point", "lower", "upper"))
        and m["name"] not in ("DI",)]
    if shown:
        points = [_num(m["estimate"]["point"]) or 0.0 for m in shown]
        blocks.append(Chart("bar", f"Bias metrics ({first['sensitive']}), 0 is ideal", [
            Series("value", [m["name"] for m in shown], points,
                   error=[(_num(m["estimate"]["upper"]) or 0) - p for m, p in zip(shown, points, strict=True)],
                   error_minus=[p - (_num(m["estimate"]["lower"]) or 0) for m, p in zip(shown, points, strict=True)])],
            y_label="metric value"))
    return Section("Subgroups and bias", blocks, anchor="bias")


def _explanations(r: Mapping[str, Any]) -> Section:
    ex = r["explanations"]
    shap = ex["shap"]
    names = [f for f, _ in shap["mean_abs"]]
    blocks: list[Block] = [
        Paragraph(f"SHAP ({shap['method']} explainer, output: {shap['output']}) on {shap['rows']} evaluation rows."),
        Chart("bar", "Global importance: mean |SHAP|", [
            Series("mean |SHAP|", list(reversed(names)), list(reversed(_finite([v for _, v in shap["mean_abs"]]))))],
            x_label="mean |SHAP value|", horizontal=True),
    ]
    for local in shap["local"]:
        blocks.append(Table(["Feature", "SHAP value"], [[f, _fmt(v)] for f, v in local["values"]],
                            caption=f"Row {local['row']}: base {_fmt(local['base'])} + attributions = model output "
                                    f"{_fmt(local['output'])}"))
    lime = ex.get("lime")
    if lime:
        blocks.append(Table(["Condition", "LIME weight"], [[c["condition"], _fmt(c["weight"])] for c in lime["conditions"]],
                            caption=f"LIME (seeded) for row {lime['row']}: local model {_fmt(lime['local_prediction'])}, "
                                    f"model {_fmt(lime['model_prediction'])}, fit R² {_fmt(lime['score'])}"))
    pi = ex["permutation_importance"]
    blocks.append(Table(["Feature", "Mean drop in score", "Std"],
                        [[x["feature"], _fmt(x["mean"]), _fmt(x["std"])] for x in pi["ranking"]],
                        caption=f"Permutation importance ({pi['scoring']}, {pi['n_repeats']} repeats, seeded)"))
    pdp = ex["partial_dependence"]
    for curve in pdp["curves"]:
        series = [Series(f"ICE row {row}", _finite(curve["grid"]), _finite(line), dashed=True)
                  for row, line in list(zip(curve["ice_rows"], curve["ice"], strict=False))[:10]]
        series.append(Series("partial dependence", _finite(curve["grid"]), _finite(curve["average"]), markers=True))
        blocks.append(Chart("line", f"Partial dependence and ICE: {curve['feature']}", series,
                            x_label=curve["feature"], y_label=pdp["output"]))
    surrogate = ex["surrogate"]
    blocks.append(Preformatted(surrogate["rules"], caption=(
        f"Global surrogate decision tree (depth {surrogate['max_depth']}, {surrogate['n_leaves']} leaves): fidelity "
        f"{_fmt(surrogate['fidelity'])} ({surrogate['fidelity_metric']} against the model's predictions, "
        f"{surrogate['measured_on']} rows)")))
    rows = []
    for cf in ex["counterfactuals"]:
        changes = "; ".join(f"{c['feature']} {_fmt(c['old'])} → {_fmt(c['new'])}" for c in cf["changes"]) or "—"
        rows.append([cf["row"], Cell("found" if cf["found"] else "not found", "pass" if cf["found"] else "warn"),
                     _fmt(cf["original_prediction"]), _fmt(cf["counterfactual_prediction"]), changes,
                     _fmt(cf["distance"])])
    blocks.append(Table(["Row", "Counterfactual", "Prediction", "Then", "Smallest change", "Distance"], rows,
                        caption="Counterfactuals; never changed: " + (", ".join(ex["immutable"]) or "nothing")))
    return Section("Explanations", blocks, anchor="explanations")


def _stability(r: Mapping[str, Any]) -> Section:
    st = r["explanations"]["stability"]
    status = "pass" if st["stable"] else "warn"
    return Section("Stability", [
        Callout(status, (f"Attributions re-computed under Gaussian noise of {st['noise']} × each feature's spread "
                         f"({st['repeats']} repeats): mean per-row Spearman rank correlation "
                         f"{_fmt(st['per_row_mean'])}, global ranking {_fmt(st['global_rank_correlation'])}; "
                         f"{len(st['unstable_rows'])} of {len(st['rows'])} rows below {st['threshold']}."),
                title="Stable" if st["stable"] else "Unstable explanations"),
        Chart("bar", "Rank correlation per explained row", [
            Series("Spearman ρ", [str(x) for x in st["rows"]], _finite(st["per_row"]))],
            x_label="row", y_label="rank correlation", y_range=(-1, 1)),
    ], anchor="stability")


def _lineage(r: Mapping[str, Any]) -> Section:
    lineage = r["lineage"]
    run = r["run"]
    return Section("Data and code lineage", [
        KeyValues([("Git commit", run.get("git_commit") or "none (code stored as an artifact)"),
                   ("Entry point digest", f"sha256:{run.get('code_digest')}"),
                   ("Params", ", ".join(f"{k}={v}" for k, v in sorted(run["params"].items())) or "none")]),
        Table(["Upstream", "Edge", "Downstream"],
              [[e["upstream"], e["type"], e["downstream"]] for e in lineage["edges"]],
              caption=f"Ancestors of {lineage['root']}"),
    ], anchor="lineage")


def _environment(r: Mapping[str, Any]) -> Section:
    env = r["environment"]
    trained, validated = env["training"], env["validation"]
    names = sorted(set(trained["packages"]) | set(validated["packages"]))
    rows = [[n, trained["packages"].get(n, "—"),
             Cell(validated["packages"].get(n, "—"),
                  None if trained["packages"].get(n) in (None, validated["packages"].get(n)) else "warn")]
            for n in names]
    return Section("Environment", [
        KeyValues([("Training environment", f"sha256:{trained['digest']}"), ("Python (training)", trained["python"]),
                   ("Platform (training)", trained["platform"]), ("Python (validation)", validated["python"])]),
        Table(["Library", "Training", "Validation"], rows, caption="Versions that decide the numbers; a difference "
                                                                   "is marked"),
    ], anchor="environment")


def _signatures() -> Section:
    return Section("Signatures", [SignatureBlock(
        [SignatureLine("Author"), SignatureLine("Reviewer"), SignatureLine("Approver")],
        note="Signed in the model registry with 21 CFR Part 11 electronic signatures; printed names, dates and "
             "meanings are filled from the signature records.")], anchor="signatures")


def build_document(results: Mapping[str, Any]) -> Document:
    """The report for ``results`` (the content of ``results.json``)."""
    run, model = results["run"], results["model"]
    sections = [_summary(results), _model_card(results), _criteria(results), _performance(results),
                _calibration(results), _bias(results), _explanations(results), _stability(results),
                _lineage(results), _environment(results), _signatures()]
    status = {True: "accepted", False: "not accepted", None: "no criteria"}[results.get("passed")]
    return Document(f"Validation report: {model['name']} of run {run['id']}", sections,
                    subtitle=f"{results['problem']} model, {status}",
                    metadata={"Run": run["id"], "Model digest": f"sha256:{model['digest']}",
                              "Dataset": f"{results['data']['dataset']} ({results['data']['digest']})",
                              "Criteria digest": (results.get("criteria") or {}).get("digest") or "none"})
