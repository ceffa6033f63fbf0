"""The root of the ``gxpml`` command line: global options, error handling, output helpers.

Every command is a thin adapter (STYLE.md §8): parse the arguments, call the SDK, print.
Errors are the SDK's: a :class:`~gxpml.errors.GxpmlError` ends the command with
``Error: <message>`` on stderr and the error's exit code, never a traceback.

Output conventions, which scripts rely on:

* data goes to stdout, everything else (prompts, progress, hints) to stderr;
* read commands take ``--json`` and then print exactly one JSON document (sorted keys);
* secrets are read from the environment (``GXPML_PASSWORD``, ``GXPML_NEW_PASSWORD``) or
  prompted for without echo, and never printed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from gxpml import __version__
from gxpml.canonical import parse_ts
from gxpml.errors import GxpmlError
from gxpml.remote import RemoteWorkspace
from gxpml.workspace import Workspace

__all__ = [
    "AnyWorkspace",
    "JsonOption",
    "ReasonOption",
    "app",
    "echo",
    "hint",
    "main",
    "open_anonymous",
    "open_workspace",
    "print_error",
    "print_fields",
    "print_json",
    "print_table",
    "progress_bar",
    "secret",
    "timestamp",
    "workspace_path",
]


# --------------------------------------------------------------------------- output


def _console(*, stderr: bool = False) -> Console:
    # Made per call, not at import: rich reads the terminal width (and COLUMNS) when a
    # Console is created. Markup is off because names, reasons and messages are user text.
    console = Console(stderr=stderr, markup=False, highlight=False, emoji=False, soft_wrap=True)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = _PIPE_WIDTH  # piped into grep or a file: never cut a table to 80 columns
    return console


_PIPE_WIDTH = 1000


def echo(message: str | Text) -> None:
    """Print a message for people to stdout."""
    _console().print(message)


def hint(message: str | Text) -> None:
    """Print a note that is not the command's output (stderr), e.g. next steps."""
    _console(stderr=True).print(message, style="dim")


def print_error(message: str) -> None:
    """``Error: <message>`` on stderr, the label in red."""
    _console(stderr=True).print(Text.assemble(("Error:", "bold red"), " ", message))


def print_json(data: Any) -> None:
    """One JSON document on stdout, keys sorted, timestamps as ISO-8601."""

    def default(value: Any) -> Any:
        if isinstance(value, (dt.datetime, dt.date)):
            return value.isoformat()
        if isinstance(value, (set, frozenset, tuple)):
            return sorted(value)
        if isinstance(value, Path):
            return str(value)
        raise TypeError(f"{type(value).__name__} is not JSON serializable")

    typer.echo(json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, default=default))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):  # the SDK's are UTC
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_cell(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(str(v) for v in value)
    return str(value)


def print_table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None,
) -> None:
    """A rich table on stdout; ``None`` shows as empty, lists comma-separated."""
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")  # wrap, never cut: digests and ids get copied
    for row in rows:
        table.add_row(*(_cell(value) for value in row))
    _console().print(table)


def print_fields(fields: Mapping[str, Any], *, title: str | None = None) -> None:
    """Name/value pairs as a two-column table on stdout."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for name, value in fields.items():
        table.add_row(name, _cell(value))
    console = _console()
    if title:
        console.print(title, style="bold")
    console.print(table)


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr; yields the ``progress(done, total)`` callback the SDK takes."""
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=_console(stderr=True), transient=True,
    ) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


# --------------------------------------------------------------------------- input


def secret(prompt: str, *, env: Sequence[str] = ("GXPML_PASSWORD",), confirm: bool = False) -> str:
    """A password from the first set variable of ``env``, else prompted for without echo."""
    for name in env:
        if from_env := os.environ.get(name):
            return from_env
    typed: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)
    return typed


def timestamp(text: str) -> dt.datetime:
    """Parse ``--since``/``--until``: ISO-8601, a date or a time with offset; UTC if none."""
    try:
        return parse_ts(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time; use ISO-8601 such as 2024-05-01 or 2024-05-01T12:00:00Z"
        ) from None


JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document, not a table.")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (recorded in the audit trail).")]


# --------------------------------------------------------------------------- workspace


@dataclass(frozen=True)
class _Options:
    workspace: Path | None
    server: str | None = None


#: A local workspace, or one served by ``gxpml server`` (same interface).
AnyWorkspace = Workspace | RemoteWorkspace


def server_url(ctx: typer.Context) -> str | None:
    options = ctx.find_object(_Options)
    return options.server if options else None


def workspace_path(ctx: typer.Context) -> Path | None:
    """The folder ``--workspace`` names; ``None`` lets the SDK choose (GXPML_HOME, ./.gxpml)."""
    options = ctx.find_object(_Options)
    return options.workspace if options else None


def open_workspace(ctx: typer.Context) -> AnyWorkspace:
    """The workspace (local, or on ``--server``) opened as ``GXPML_TOKEN`` or the stored
    session; closed after the command."""
    if url := server_url(ctx):
        return ctx.with_resource(Workspace.connect(url))
    return ctx.with_resource(Workspace.open(workspace_path(ctx)))


def open_anonymous(ctx: typer.Context) -> AnyWorkspace:
    """The workspace opened with no credentials, for the commands that bring their own
    (login, changing one's own password). Unlike :meth:`Workspace.open` it ignores an ended
    stored session, which would otherwise refuse the very login that replaces it."""
    if url := server_url(ctx):
        return ctx.with_resource(RemoteWorkspace(url, verify=os.environ.get("GXPML_CA_BUNDLE") or True))
    return ctx.with_resource(Workspace.open(workspace_path(ctx), anonymous=True))


# --------------------------------------------------------------------------- the app


class _Group(TyperGroup):
    """The root group: every GxpmlError raised below it becomes a message and an exit code."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except GxpmlError as exc:
            print_error(exc.message)
            raise typer.Exit(exc.exit_code) from exc


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"gxpml {__version__}")
        raise typer.Exit()


app = typer.Typer(name="gxpml", cls=_Group, no_args_is_help=True, pretty_exceptions_enable=False)


@app.callback()
def _root(
    ctx: typer.Context,
    workspace: Annotated[Path | None, typer.Option(
        "--workspace", "-w", metavar="PATH", show_default=False,
        help="Workspace folder (default: $GXPML_HOME, else ./.gxpml).",
    )] = None,
    server: Annotated[str | None, typer.Option(
        "--server", metavar="URL", envvar="GXPML_SERVER", show_default=False,
        help="Talk to a gxpml server instead of a local workspace (default: $GXPML_SERVER).",
    )] = None,
    show_version: Annotated[bool, typer.Option(
        "--version", callback=_show_version, is_eager=True, help="Print the version and exit.",
    )] = False,
) -> None:
    """gxpml: machine learning for regulated (GxP) settings.

    Credentials: GXPML_TOKEN (an API token), else the session of `gxpml login`.
    Passwords: GXPML_PASSWORD (and GXPML_NEW_PASSWORD for a new one), else a prompt.
    """
    ctx.obj = _Options(workspace=workspace, server=server)


def main() -> None:
    """Entry point of the ``gxpml`` script and of ``python -m gxpml``."""
    app(prog_name="gxpml")
