"""``gxpml reproduce RUN_ID``: re-execute a finished run and compare the new run with it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from gxpml.cli.app import JsonOption, _console, echo, open_workspace, print_json
from gxpml.errors import IntegrityError
from gxpml.tracking.reproduce import reproduce as run_reproduce

app = typer.Typer()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


@app.command("reproduce")
def reproduce(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="The finished run to reproduce.")],
    tolerance: Annotated[float, typer.Option(help="Largest absolute difference allowed in a metric.")] = 1e-9,
    repo: Annotated[Path | None, typer.Option(help="Git repository holding the run's commit (default: here).")] = None,
    workdir: Annotated[Path | None, typer.Option(help="Keep the checkout in this folder instead of a temporary one.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Re-execute RUN_ID's entry point with the same code and seed, compare the new run with it
    (model digests, metrics, input digests) and store the report. Exit 8 when anything differed."""
    report = run_reproduce(open_workspace(ctx), run_id, tolerance=tolerance, workdir=workdir, repository=repo)
    if as_json:
        print_json(report.to_dict())
    else:
        table = Table(title=f"Reproduction of {report.original_run} as {report.reproduced_run}", title_justify="left")
        for column in ("", "check", "original", "reproduced", "why"):
            table.add_column(column, overflow="fold")
        for c in report.checks:
            mark, style = ("ok", "green") if c.matched else ("DIFF" if c.counts else "note", "bold yellow")
            table.add_row(Text(mark, style=style), f"{c.what} {c.key}", _cell(c.original), _cell(c.reproduced), c.why or "")
        _console().print(table)
        echo(f"Code: {report.code_from}. Report stored as sha256:{report.report_digest}.")
        for note in report.notes:
            echo(f"Note: {note}.")
        echo("Reproduced: everything matched." if report.matched else
             f"Not reproduced: {sum(1 for c in report.differences if c.counts)} check(s) differed.")
    if not report.matched:
        raise typer.Exit(IntegrityError.exit_code)
