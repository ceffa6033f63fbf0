"""``make demo``: the main job on real clinical data, in a fresh workspace.

Creates ``./demo-workspace`` (SQLite + local folder, encryption on) and its people and roles;
registers the bundled diabetes study (442 patients) as a dataset version with data-quality
checks, splits it by patient with a sequestered test set, trains two seeded models in
tracked runs, compares them, prints the lineage of the better one; shows access control and
account lockout at work; signs a checkpoint, verifies the audit trail, exports it and
verifies the export offline — then shows that a one-character edit of the export is caught.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gxpml.errors import AuthenticationError, PermissionDenied
from gxpml.workspace import Workspace

HOME = Path(os.environ.get("GXPML_DEMO_HOME", "demo-workspace"))
# Demo passwords only: real deployments take them from a prompt or GXPML_PASSWORD.
PASSWORDS = {
    "qa.admin": "demo admin passphrase",
    "dana": "demo scientist passphrase",
    "rita": "demo reviewer passphrase",
    "audrey": "demo auditor passphrase",
}

console = Console()


def step(text: str) -> None:
    console.print(f"[bold cyan]▸[/] {text}")


def _train_two_models(ws: Workspace) -> tuple[str, str]:
    """Two seeded models in tracked runs on the training split, scored on validation;
    returns the better model's id and its run."""
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.linear_model import Ridge
    from sklearn.metrics import mean_absolute_error, r2_score

    features = ["age", "sex", "bmi", "bp", "tc", "ldl", "hdl", "tch", "ltg", "glu"]
    candidates = {
        "ridge": Ridge(alpha=1.0),
        "gbm": GradientBoostingRegressor(n_estimators=150, max_depth=2, learning_rate=0.05, random_state=7),
    }
    results = {}
    for name, model in candidates.items():
        step(f"Training {name} in a tracked run (seed 7)")
        with ws.start_run(experiment="diabetes-progression", seed=7, name=name) as run:
            train = run.use_dataset("diabetes", split="train")
            valid = run.use_dataset("diabetes", split="validation")
            run.log_params({"model": name, **{k: v for k, v in model.get_params().items()
                                              if isinstance(v, (int, float, str, bool)) and v is not None}})
            model.fit(train[features], train["progression"])
            predicted = model.predict(valid[features])
            mae = float(mean_absolute_error(valid["progression"], predicted))
            run.log_metrics({"val_mae": mae, "val_r2": float(r2_score(valid["progression"], predicted))})
            info = run.log_model(model, name=name, input_example=valid[features].head(3))
            results[run.id] = (mae, info.id, run.id)
            console.print(f"    run {run.id}: validation MAE {mae:.1f}")
    comparison = ws.runs.compare(list(results))
    table = Table(title="runs compared (differing values only)")
    table.add_column("")
    for run_id in comparison.run_ids:
        table.add_column(run_id)
    for key in comparison.differing_metrics:
        table.add_row(key, *(f"{comparison.metrics[key][r]:.3f}" for r in comparison.run_ids))
    for key in [k for k in comparison.differing_params if k == "model"]:
        table.add_row(key, *(str(comparison.params[key][r]) for r in comparison.run_ids))
    console.print(table)
    _mae, model_id, run_id = min(results.values())
    return model_id, run_id


#: Acceptance criteria for the demo's model, locked before it is tested.
CRITERIA = """\
- {metric: r2, min: 0.25, split: test}                 # explains a quarter of the variance
- {metric: mae, max: 65, split: test, bound: upper}     # even the interval's upper end
- {metric: mae, max: 70, split: test, subgroup: sex=1}
- {metric: mae, max: 70, split: test, subgroup: sex=2}
- {metric: DPPL, min: -0.3, max: 0.3, split: test}     # predicted high progression, by sex
"""
MODEL_CARD = {
    "intended_use": "Research demonstration: predict one-year disease progression from baseline measurements.",
    "users": "Data scientists evaluating gxpml; not clinicians.",
    "population": "442 adult diabetes patients of one study (Efron et al. 2004).",
    "limitations": "Small single-study sample; no external validation; not for clinical decisions.",
}


def _validate(dana: Workspace, run_id: str) -> None:
    import gxpml

    outcome = gxpml.validate(dana, run_id, criteria=CRITERIA, out=HOME / "validation", facet="sex",
                             label="progression", model_card=MODEL_CARD, progress=True)
    for judgement in outcome.judgements:
        mark = "[green]pass[/]" if judgement.passed else "[red]FAIL[/]"
        console.print(f"    {mark} {judgement.sentence}")
    verdict = "[green]accepted[/]" if outcome.passed else "[red]not accepted[/]"
    console.print(f"    {verdict}; report: {HOME.resolve() / 'validation' / 'report.html'} (and report.pdf, results.json)")


def main() -> None:
    started = time.perf_counter()
    if HOME.exists():
        shutil.rmtree(HOME)
    os.environ.setdefault("GXPML_SESSION_FILE", str(HOME.resolve() / "sessions.json"))
    step(f"Creating workspace {HOME}/ (SQLite metadata, encrypted local artifact store)")
    admin = Workspace.init(HOME, admin="qa.admin", admin_name="Quinn Admin", password=PASSWORDS["qa.admin"])

    step("Adding people with least-privilege roles")
    admin.users.add("dana", "Dana Scientist", password=PASSWORDS["dana"], email="dana@example.org", roles=["data-scientist"])
    admin.users.add("rita", "Rita Reviewer", password=PASSWORDS["rita"], roles=["reviewer"])
    admin.users.add("audrey", "Audrey Auditor", password=PASSWORDS["audrey"], roles=["auditor"])

    step("Dana registers the diabetes study (442 patients, Efron et al. 2004) with quality checks")
    data = resources.files("gxpml.datasets")
    with Workspace.open(HOME, user="dana", password=PASSWORDS["dana"]) as dana, \
            resources.as_file(data.joinpath("diabetes.csv")) as csv, \
            resources.as_file(data.joinpath("diabetes.checks.yaml")) as checks:
        version = dana.data.register(
            "diabetes", csv, checks=checks, phi=True, source_uri="scikit-learn: Efron et al. 2004",
            description="Baseline measurements of 442 diabetes patients; progression after one year",
        )
        console.print(f"    {version.ref}: {version.num_rows} rows, {version.status.value}, content {version.digest[:19]}…")
        split = dana.data.split("diabetes", test=0.2, validation=0.1, group="patient_id", seed=42)
        console.print(f"    split by patient (seed 42): {split.counts}; test set sequestered")
        best, best_run = _train_two_models(dana)
        step(f"Lineage of the better model ({best})")
        graph = dana.lineage.ancestors(f"model:{best}")
        from gxpml.lineage.render import render

        console.print(render(graph, "text"), markup=False, highlight=False)
        step("Dana validates it: criteria locked first, then intervals, calibration, bias by sex, explanations")
        _validate(dana, best_run)

    step("Rita (reviewer) tries to store a file: refused, and the attempt is recorded")
    with Workspace.open(HOME, user="rita", password=PASSWORDS["rita"]) as rita:
        try:
            rita.artifacts.put(b"unreviewed edit")
        except PermissionDenied as exc:
            console.print(f"    [yellow]refused:[/] {exc}")

    step("Someone guesses Rita's password five times: the account locks and an alert is raised")
    for _ in range(admin.settings.security.lockout_threshold):
        try:
            Workspace.open(HOME, user="rita", password="guess-guess-guess")
        except AuthenticationError:
            pass
    admin.users.unlock("rita", reason="identity confirmed by phone (demo)")

    step("Signing a checkpoint of the audit trail (Ed25519) and verifying the whole trail")
    admin.audit.checkpoint()
    report = admin.audit.verify()
    console.print(f"    {'[green]verified[/]' if report.ok else '[red]FAILED[/]'}: {report.events} events, "
                  f"{report.checkpoints} checkpoint(s), {report.records} records replayed")

    step("Audrey (auditor) exports the trail; the export verifies offline")
    exports = HOME / "exports"
    exports.mkdir()
    with Workspace.open(HOME, user="audrey", password=PASSWORDS["audrey"]) as audrey:
        manifest = audrey.audit.export(exports / "audit-trail.jsonl")
        audrey.audit.export(exports / "audit-trail.csv", fmt="csv")
    offline = admin.audit.verify_file(exports / "audit-trail.jsonl")
    console.print(f"    export of events {manifest['first_seq']}..{manifest['last_seq']}: "
                  f"{'[green]verified[/]' if offline.ok else '[red]FAILED[/]'}")

    step("A copy of the export with one reason edited is caught, and the event named")
    lines = (exports / "audit-trail.jsonl").read_text().splitlines()
    for i, line in enumerate(lines):
        record = json.loads(line)
        if record.get("reason") == "identity confirmed by phone (demo)":
            record["reason"] = "routine"
            lines[i] = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            break
    tampered = exports / "audit-trail.TAMPERED.jsonl"
    tampered.write_text("\n".join(lines) + "\n")
    caught = admin.audit.verify_file(tampered)
    console.print(f"    [red]detected[/] at event {caught.first_failure}: {caught.problems[-1].message}")

    table = Table(title="Audit trail (last 12 events)", show_lines=False)
    for column in ("seq", "time (UTC)", "actor", "action", "entity", "reason"):
        table.add_column(column)
    for event in admin.audit.log(limit=12, newest_first=True)[::-1]:
        entity = f"{event.entity_type}:{(event.entity_id or '')[:14]}" if event.entity_type else ""
        table.add_row(str(event.seq), event.ts[:19].replace("T", " "), event.actor_name, event.action, entity, event.reason or "")
    console.print(table)

    admin.close()
    home = HOME.resolve()
    console.print(f"\n[bold]Done in {time.perf_counter() - started:.1f} s.[/] Where to look:")
    console.print(f"  workspace      {home}/  (gxpml.toml, gxpml.db, artifacts/, keys/ — owner-only)")
    console.print("  runs           .venv/bin/gxpml --workspace demo-workspace runs list   (after `login --user dana`)")
    console.print(f"  validation     {home}/validation/report.html  (open in a browser; also report.pdf, results.json)")
    console.print(f"  audit export   {home}/exports/audit-trail.jsonl (+ .csv with its signed manifest)")
    console.print("  try            .venv/bin/gxpml --workspace demo-workspace login --user audrey   "
                  f"(password: {PASSWORDS['audrey']!r})")
    console.print("                 .venv/bin/gxpml --workspace demo-workspace audit log --limit 20")
    console.print("                 .venv/bin/gxpml --workspace demo-workspace audit verify")
    console.print("                 .venv/bin/gxpml audit verify --file demo-workspace/exports/audit-trail.jsonl")


if __name__ == "__main__":
    main()
