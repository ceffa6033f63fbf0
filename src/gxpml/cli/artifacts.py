"""``gxpml artifacts ...`` and ``gxpml keys ...``: the content-addressed store and its keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gxpml.cli.app import (
    JsonOption,
    ReasonOption,
    echo,
    hint,
    open_workspace,
    print_fields,
    print_json,
    print_table,
    progress_bar,
)
from gxpml.errors import IntegrityError

artifacts_app = typer.Typer(help="Store, fetch, list and verify artifacts.", no_args_is_help=True)
keys_app = typer.Typer(
    help="Show and rotate the master key that wraps artifact keys.", no_args_is_help=True,
)

_Digest = Annotated[str, typer.Argument(metavar="DIGEST", help="sha256:<64 hex digits>.")]


@artifacts_app.command("put")
def put(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="File to store.")],
    name: Annotated[str | None, typer.Option(help="A name for it (default: the file's).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Store a file; prints its digest, which names it from now on."""
    info = open_workspace(ctx).artifacts.put(file, name=name)
    if as_json:
        print_json(info.to_dict())
    else:
        echo(f"sha256:{info.digest}")  # alone on stdout: DIGEST=$(gxpml artifacts put ...) works
        hint(f"Stored {file} ({info.size} bytes{', encrypted' if info.encrypted else ''}).")


@artifacts_app.command("get")
def get(
    ctx: typer.Context, digest: _Digest,
    out: Annotated[Path, typer.Argument(metavar="OUT", help="File to write.")],
) -> None:
    """Write an artifact's content to a file, checking its digest on the way."""
    path = open_workspace(ctx).artifacts.get(digest, out)
    echo(f"Wrote {digest} to {path}.")


@artifacts_app.command("verify")
def verify(ctx: typer.Context, digest: _Digest) -> None:
    """Re-read an artifact and check its digest (exit 8 if it does not match)."""
    open_workspace(ctx).artifacts.verify(digest)
    echo(f"{digest} verifies.")


@artifacts_app.command("list")
def list_artifacts(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the artifacts in the catalog."""
    items = open_workspace(ctx).artifacts.list()
    if as_json:
        print_json([a.to_dict() for a in items])
    else:
        print_table(
            ["digest", "name", "size", "encrypted", "created", "erased"],
            [(f"sha256:{a.digest}", a.name, a.size, a.encrypted, a.created_at, a.erased_at)
             for a in items],
        )


@artifacts_app.command("fsck")
def fsck(
    ctx: typer.Context,
    remove_orphans: Annotated[bool, typer.Option(
        help="Delete stored objects that no catalog entry names, and stale temp files.",
    )] = False,
    as_json: JsonOption = False,
) -> None:
    """Check every artifact against the catalog (exit 8 when problems are found)."""
    ws = open_workspace(ctx)
    if as_json:
        report = ws.artifacts.fsck(remove_orphans=remove_orphans)
        print_json(report.to_dict())
    else:
        with progress_bar("Checking artifacts") as progress:
            report = ws.artifacts.fsck(remove_orphans=remove_orphans, progress=progress)
        if report.problems:
            print_table(["problem"], [(p,) for p in report.problems])
        if report.removed:
            print_table(["removed"], [(r,) for r in report.removed])
        elif report.orphans or report.stale_temps:
            unrecorded = [f"sha256:{o}" for o in report.orphans] + report.stale_temps
            print_table(["not in the catalog (see --remove-orphans)"], [(u,) for u in unrecorded])
        echo(f"Checked {report.checked} artifacts: {len(report.problems)} problem(s), "
             f"{len(report.orphans)} orphan(s), {len(report.stale_temps)} stale temp file(s).")
    if not report.ok:
        raise IntegrityError(
            f"fsck found {len(report.problems)} problem(s) in the artifact store. "
            "Restore the damaged objects from a backup, then run `gxpml artifacts fsck` again."
        )


@keys_app.command("rotate")
def rotate(
    ctx: typer.Context, reason: ReasonOption,
    destroy_old: Annotated[bool, typer.Option(
        "--destroy-old", help="Destroy the old master key(s) (a compromised key). Database backups "
        "taken before the rotation can then no longer decrypt artifacts.")] = False,
) -> None:
    """Make a new master key current and re-wrap every artifact key with it."""
    result = open_workspace(ctx).keys.rotate(reason=reason, destroy_old=destroy_old)
    echo(f"Rotated the master key from {result['old_key_id']} to {result['new_key_id']}; "
         f"re-wrapped {result['rewrapped']} artifact key(s).")
    if result.get("destroyed"):
        hint(f"Destroyed the retired master key(s): {', '.join(result['destroyed'])}.")
    elif result.get("retired"):
        hint(f"Kept the retired master key(s) {', '.join(result['retired'])} for backups; "
             "rotate with --destroy-old to destroy them.")


@keys_app.command("show")
def show(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Show the current master key and audit signing key (ids and public parts only)."""
    keys = open_workspace(ctx).keys.show()
    if as_json:
        print_json(keys)
    else:
        print_fields(keys)
