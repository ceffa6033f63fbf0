"""``gxpml lineage show``."""

from __future__ import annotations

from typing import Annotated

import typer

from gxpml.cli.app import echo, open_workspace
from gxpml.lineage.render import FORMATS, render

app = typer.Typer(help="Where things came from and what was made from them.", no_args_is_help=True)


@app.command("show")
def show(
    ctx: typer.Context,
    node: Annotated[str, typer.Argument(help="TYPE:ID, e.g. run:run_5f2c0a9e1b7d43aa or model:…")],
    up: Annotated[bool, typer.Option("--up", help="Ancestors: what it was made from (default).")] = False,
    down: Annotated[bool, typer.Option("--down", help="Descendants: what was made from it.")] = False,
    depth: Annotated[int, typer.Option(help="At most this many edges away.")] = 100,
    edge_type: Annotated[list[str] | None, typer.Option("--type", help="Only these edge types (repeatable).")] = None,
    fmt: Annotated[str, typer.Option("--format", help=f"One of {', '.join(FORMATS)}.")] = "text",
) -> None:
    """Show the lineage of NODE."""
    if up and down:
        raise typer.BadParameter("choose --up or --down, not both")
    lineage = open_workspace(ctx).lineage
    walk = lineage.descendants if down else lineage.ancestors
    echo(render(walk(node, depth=depth, types=edge_type), fmt))
