"""``gxpml validate RUN_ID --criteria FILE --out DIR``: validate a run's model against locked
acceptance criteria and write report.html, report.pdf and results.json; ``gxpml validations``
lists the validations recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table
from rich.text import Text

from gxpml.cli.app import JsonOption, _console, echo, open_workspace, print_json
from gxpml.errors import InvalidInput

app = typer.Typer()

#: The exit code when the model fails its acceptance criteria (the files are still written).
FAILED_CRITERIA = 11


def _card(path: Path | None) -> dict[str, str] | None:
    if path is None:
        return None
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput(f"Cannot read the model card {path}: {exc}.") from exc
    if not isinstance(data, dict) or not all(isinstance(v, (str, int, float)) for v in data.values()):
        raise InvalidInput(f"The model card {path} must be a YAML mapping of fields to text, e.g. "
                           "'intended_use: ...' and 'limitations: ...'.")
    return {str(k): str(v) for k, v in data.items()}


def _value(text: str) -> Any:
    """A facet or label value from the command line: a number when it reads as one."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


@app.command("validate")
def validate(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="The finished run whose model is validated.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for report.html, report.pdf and results.json.")],
    criteria: Annotated[Path | None, typer.Option(
        "--criteria", help="Acceptance criteria (YAML list of {metric, min|max, split, subgroup?, bound}).")] = None,
    data: Annotated[str | None, typer.Option(
        "--data", metavar="DATASET[:VERSION]", help="The data (default: the dataset the run read).")] = None,
    label: Annotated[str | None, typer.Option(help="The label column (default: target, label or y).")] = None,
    facet: Annotated[str | None, typer.Option(help="The protected attribute for bias metrics, e.g. sex.")] = None,
    facet_value: Annotated[list[str] | None, typer.Option(
        "--facet-value", help="Disfavoured facet value(s) (default: each value against the rest).")] = None,
    group: Annotated[str | None, typer.Option(help="Strata column for CDDL/CDDPL (e.g. site).")] = None,
    positive: Annotated[str | None, typer.Option(help="The favourable label (classification).")] = None,
    threshold: Annotated[float | None, typer.Option(
        help="Regression: outcomes above it count as positive for bias (default: the median label).")] = None,
    model: Annotated[str | None, typer.Option(help="The model's name, when the run logged several.")] = None,
    immutable: Annotated[list[str] | None, typer.Option(
        "--immutable", help="Features counterfactuals never change (default: the facet).")] = None,
    card: Annotated[Path | None, typer.Option(
        "--card", help="Model card YAML: intended_use, users, population, limitations, out_of_scope.")] = None,
    baseline: Annotated[str | None, typer.Option(
        metavar="RUN_ID", help="Compare with this run's model (paired bootstrap, non-inferiority).")] = None,
    margin: Annotated[float, typer.Option(help="Non-inferiority margin, in each metric's units.")] = 0.0,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for every interval.")] = 1000,
    seed: Annotated[int | None, typer.Option(help="Seed (default: the run's).")] = None,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also write report.pdf.")] = True,
    as_json: JsonOption = False,
) -> None:
    """Lock the acceptance criteria, then evaluate RUN_ID's model (intervals, subgroups,
    calibration, conformal coverage, bias, explanations, stability), judge the criteria and
    write the report. Exit 11 when a criterion is not met."""
    from gxpml.validation.validate import validate as run_validate

    outcome = run_validate(
        open_workspace(ctx), run_id, criteria=criteria, out=out, data=data, label=label, facet=facet,
        facet_values=[_value(v) for v in facet_value] if facet_value else None, group=group,
        positive=_value(positive) if positive is not None else None, threshold=threshold, model=model,
        immutable=immutable, model_card=_card(card), baseline=baseline, margin=margin, n_bootstrap=bootstrap, seed=seed, pdf=pdf,
        progress=not as_json,
    )
    if as_json:
        print_json({"validation": outcome.validation.to_dict(), "passed": outcome.passed,
                    "judgements": [j.to_dict() for j in outcome.judgements],
                    "files": {k: str(v) for k, v in outcome.files.items() if v.exists()}})
    else:
        if outcome.judgements:
            table = Table(title=f"Acceptance criteria of run {run_id}", title_justify="left")
            table.add_column("")
            table.add_column("criterion", overflow="fold")
            for j in outcome.judgements:
                table.add_row(Text("pass" if j.passed else "FAIL", style="green" if j.passed else "bold red"),
                              j.sentence)
            _console().print(table)
        if outcome.lock and outcome.lock.after_tests:
            echo(f"Warning: the criteria changed after validations {', '.join(outcome.lock.after_tests)}; "
                 "the report says so.")
        verdict = {True: "Accepted: every criterion is met.", False: "Not accepted: a criterion is not met.",
                   None: "No criteria declared: nothing accepted or rejected."}[outcome.passed]
        echo(f"{verdict} Validation {outcome.validation.id} recorded.")
        for name, path in outcome.files.items():
            if path.exists():
                echo(f"  {name:<13} {path}")
    if outcome.passed is False:
        raise typer.Exit(FAILED_CRITERIA)


@app.command("validations")
def validations(
    ctx: typer.Context,
    run_id: Annotated[str | None, typer.Argument(metavar="[RUN_ID]", help="Only this run's validations.")] = None,
    as_json: JsonOption = False,
) -> None:
    """The validations recorded, newest first."""
    found = open_workspace(ctx).validations.list(run_id)
    if as_json:
        print_json([v.to_dict() for v in found])
        return
    table = Table(title="Validations", title_justify="left")
    for column in ("id", "run", "model", "dataset", "outcome", "report", "when"):
        table.add_column(column, overflow="fold")
    for v in found:
        outcome = {True: "accepted", False: "NOT accepted", None: "no criteria"}[v.passed]
        table.add_row(v.id, v.run_id, v.model, v.dataset or "", outcome, f"sha256:{v.report_html[:12]}…",
                      v.created_at.strftime("%Y-%m-%d %H:%M"))
    _console().print(table)
