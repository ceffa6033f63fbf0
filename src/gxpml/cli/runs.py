"""``gxpml runs ...``: list, show, compare and kill tracked runs; a metric's history."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from gxpml.cli.app import (
    JsonOption,
    ReasonOption,
    _console,
    echo,
    open_workspace,
    print_fields,
    print_json,
    print_table,
)

app = typer.Typer(help="Tracked training runs: list, show, compare.", no_args_is_help=True)

_RunId = Annotated[str, typer.Argument(metavar="RUN_ID", help="A run id, e.g. run_5f2c0a9e1b7d43aa.")]


def _value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):  # exact when short, else 6 significant digits
        return repr(value) if len(repr(value)) <= 12 else f"{value:.6g}"
    return value if isinstance(value, str) else json.dumps(value)


@app.command("list")
def list_runs(
    ctx: typer.Context,
    experiment: Annotated[str | None, typer.Option(help="Only runs of this experiment.")] = None,
    status: Annotated[str | None, typer.Option(help="Only runs in this state: running, finished, failed, killed.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many runs, newest first.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """List runs, newest first."""
    runs = open_workspace(ctx).runs.list(experiment=experiment, status=status, limit=limit)
    if as_json:
        print_json([r.to_dict() for r in runs])
        return
    print_table(
        ["run", "experiment", "name", "status", "started", "ended", "by", "metrics"],
        [(r.id, r.experiment, r.name, r.status.value, r.started_at, r.ended_at, r.created_by,
          ", ".join(f"{k}={_value(v)}" for k, v in r.metrics.items())) for r in runs],
    )


@app.command("show")
def show(ctx: typer.Context, run_id: _RunId, as_json: JsonOption = False) -> None:
    """Show a run: state, source, params, latest metrics, tags, inputs and outputs."""
    run = open_workspace(ctx).runs.get(run_id)
    if as_json:
        print_json(run.to_dict())
        return
    source = run.source
    print_fields({
        "run": run.id, "experiment": run.experiment, "name": run.name, "status": run.status.value,
        "started by": run.created_by, "started": run.started_at, "ended": run.ended_at, "error": run.error,
        "seed": run.seed, "entry point": source.entry_point,
        "code": f"sha256:{source.code_digest}" if source.code_digest else None,
        "git commit": None if source.git_commit is None else source.git_commit + (" (dirty)" if source.git_dirty else ""),
        "code stored": f"sha256:{source.code_artifact}" if source.code_artifact else None,
        "environment": f"sha256:{source.environment_digest}" if source.environment_digest else None,
    }, title=f"Run {run.id}")
    if run.params:
        print_table(["param", "value"], [(k, _value(v)) for k, v in run.params.items()])
    if run.metrics:
        print_table(["metric", "last value"], [(k, _value(v)) for k, v in run.metrics.items()])
    if run.tags:
        print_table(["tag", "value"], list(run.tags.items()))
    if run.inputs:
        print_table(["input", "split", "version id", "digest"],
                    [(i.ref, i.split, i.version_id, i.digest and f"sha256:{i.digest}") for i in run.inputs])
    if run.models:
        print_table(["model", "flavor", "format", "digest", "trusted types"],
                    [(m.name, m.flavor, m.format, f"sha256:{m.digest}", m.trusted_types) for m in run.models])
    if run.artifacts:
        print_table(["artifact", "kind", "digest"], [(a.name, a.kind, f"sha256:{a.digest}") for a in run.artifacts])


@app.command("compare")
def compare(
    ctx: typer.Context,
    run_ids: Annotated[list[str], typer.Argument(metavar="RUN_ID...", help="Two or more run ids.")],
    as_json: JsonOption = False,
) -> None:
    """Params and latest metrics side by side; rows that differ are highlighted (and marked *)."""
    result = open_workspace(ctx).runs.compare(run_ids)
    if as_json:
        print_json(result.to_dict())
        return
    table = Table(title="Runs compared (* differs)", title_justify="left")
    table.add_column("")
    for run_id in result.run_ids:
        table.add_column(run_id, overflow="fold")
    sections: list[tuple[str, dict[str, dict[str, Any]], tuple[str, ...]]] = [
        ("param", result.params, result.differing_params),
        ("metric", result.metrics, result.differing_metrics),
    ]
    for kind, rows, differing in sections:
        for key, by_run in rows.items():
            differs = key in differing
            style = "bold yellow" if differs else ""
            label = Text(f"{'* ' if differs else '  '}{kind} {key}", style=style)
            table.add_row(label, *(Text(_value(by_run.get(r)), style=style) for r in result.run_ids))
    _console().print(table)


@app.command("metrics")
def metrics(
    ctx: typer.Context, run_id: _RunId,
    key: Annotated[str, typer.Argument(metavar="KEY", help="The metric's name.")],
    as_json: JsonOption = False,
) -> None:
    """Every point of one metric of a run, in the order logged."""
    points = open_workspace(ctx).runs.metrics(run_id, key)
    if as_json:
        print_json([p.to_dict() for p in points])
    else:
        print_table(["step", "value", "logged"], [(p.step, _value(p.value), p.ts) for p in points])


@app.command("kill")
def kill(ctx: typer.Context, run_id: _RunId, reason: ReasonOption) -> None:
    """Mark a running run as killed (its process died, or it must not go on)."""
    run = open_workspace(ctx).runs.kill(run_id, reason=reason)
    echo(f"Run {run.id} is {run.status.value}.")
