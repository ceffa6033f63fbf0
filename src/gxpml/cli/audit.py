"""``gxpml audit ...``: read, verify, export and checkpoint the audit trail."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from gxpml.audit.trail import AuditTrail
from gxpml.audit.verify import VerifyReport
from gxpml.cli.app import JsonOption, echo, open_workspace, print_json, print_table, timestamp
from gxpml.errors import AuditChainBroken

app = typer.Typer(help="Read, verify, export and checkpoint the audit trail.", no_args_is_help=True)

_Since = Annotated[dt.datetime | None, typer.Option(
    parser=timestamp, metavar="TS", help="From this time on (ISO-8601; UTC unless an offset).",
)]
_Until = Annotated[dt.datetime | None, typer.Option(
    parser=timestamp, metavar="TS", help="Up to this time.",
)]


class ExportFormat(StrEnum):
    jsonl = "jsonl"  # header, events, checkpoints and a signed manifest in one file
    csv = "csv"  # the events as a table; the signed manifest in FILE.manifest.json


@app.command("log")
def log(
    ctx: typer.Context,
    actor: Annotated[str | None, typer.Option(help="User name or actor id.")] = None,
    entity: Annotated[str | None, typer.Option(metavar="TYPE[:ID]", help="type or type:id")] = None,
    action: Annotated[str | None, typer.Option(help="e.g. user.create; user.* for all.")] = None,
    since: _Since = None,
    until: _Until = None,
    limit: Annotated[int, typer.Option(help="At most this many events (0: all).")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Show audit events, oldest first."""
    events = open_workspace(ctx).audit.log(
        actor=actor, entity=entity, action=action, since=since, until=until, limit=limit,
    )
    if as_json:
        print_json([e.to_dict() for e in events])
    else:
        print_table(
            ["seq", "time", "actor", "action", "entity", "reason"],
            [(e.seq, e.ts, e.actor_name, e.action,
              ":".join(filter(None, (e.entity_type, e.entity_id))), e.reason) for e in events],
        )


@app.command("verify")
def verify(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Option(
        metavar="EXPORT", help="Verify an export offline instead (no workspace needed).",
    )] = None,
    as_json: JsonOption = False,
) -> None:
    """Recompute every hash and signature; exit 8 naming the first failing event if any fails."""
    report = AuditTrail.verify_file(file) if file else open_workspace(ctx).audit.verify()
    what = "export" if file else "trail"
    if as_json:
        print_json(report.to_dict())
    elif report.problems:
        print_table(["seq", "check", "problem"],
                    [(p.seq, p.check, p.message) for p in report.problems])
    else:
        echo(_summary(report, what))
    if not report.ok:
        first = report.first_failure
        raise AuditChainBroken(
            f"The audit {what} failed verification with {len(report.problems)} problem(s); "
            + (f"the first failing event is {first}." if first is not None
               else "no single event is to blame.")
            + " Treat the records as suspect and investigate before relying on them.",
            sequence=first,
        )


def _summary(report: VerifyReport, what: str) -> str:
    counts = f"{report.events} events, {report.checkpoints} signed checkpoints"
    if what == "trail":
        counts += f", {report.records} records, {report.segments} sealed segments"
    head = f"head event {report.head_seq} ({report.head_hash[:16]}…)"
    return f"The audit {what} verifies: {counts}; {head}."


@app.command("export")
def export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(metavar="OUT", help="File to write.")],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="Format.")] = ExportFormat.jsonl,
    since: _Since = None,
    until: _Until = None,
) -> None:
    """Export events with what is needed to verify them offline (gxpml audit verify --file)."""
    manifest = open_workspace(ctx).audit.export(out, fmt=fmt.value, since=since, until=until)
    span = f" ({manifest['first_seq']}..{manifest['last_seq']})" if manifest["count"] else ""
    echo(f"Exported {manifest['count']} events{span} to {out}. "
         f"Verify it with: gxpml audit verify --file {out}")


@app.command("checkpoint")
def checkpoint(ctx: typer.Context) -> None:
    """Sign the current head of the chain now."""
    seq = open_workspace(ctx).audit.checkpoint()
    echo(f"Signed a checkpoint at event {seq}.")
