"""``gxpml data ...``: register, split, list, show, get and erase dataset versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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
)
from gxpml.data.models import DatasetVersionInfo, SplitInfo
from gxpml.errors import InvalidInput

app = typer.Typer(help="Versioned datasets: register with checks, split, inspect, erase.", no_args_is_help=True)

_Ref = Annotated[str, typer.Argument(metavar="NAME[:VERSION]", help="A dataset (its latest version) or NAME:VERSION.")]
_ReadRoles = Annotated[list[str] | None, typer.Option(
    "--read-role", help="A role that may read the data (repeatable); default: every role with data.read.")]


def _failures(failed: list[dict[str, Any]]) -> str:
    return "; ".join(f"{c['column']}: {c['check']} ({c['failures']} rows)" for c in failed)


def _print_version(v: DatasetVersionInfo) -> None:
    fields: dict[str, Any] = {
        "dataset": v.ref, "status": v.status.value, "digest": v.digest, "rows": v.num_rows,
        "columns": ", ".join(f"{c['name']} ({c['type']})" for c in v.columns),
        "description": v.description, "owner": v.owner, "phi": v.phi,
        "retention": f"{v.retention_days} days (until {v.retain_until:%Y-%m-%d})" if v.retain_until else None,
        "read roles": v.read_roles, "derived from": v.derived_from, "source": v.source_uri or v.source_format,
        "artifact": v.artifact, "created": v.created_at, "by": v.created_by,
    }
    if v.checks:
        failed = v.failed_checks
        fields["checks"] = f"{len(v.checks) - len(failed)} of {len(v.checks)} passed"
        if failed:
            fields["checks"] += "; failed: " + _failures(failed)
    if v.override_reason:
        fields["override reason"] = v.override_reason
    if v.erased_at:
        fields["erased"] = v.erased_at
    print_fields({k: val for k, val in fields.items() if val not in (None, "", [])})
    if v.splits:
        print_table(
            ["split", "method", "test", "validation", "group", "time", "seed", "train/val/test rows",
             "sequestered", "test reads", "current"],
            [(s.id, s.method, s.test, s.validation, s.group, s.time, s.seed,
              f"{s.counts['train']}/{s.counts['validation']}/{s.counts['test']}", s.sequestered,
              s.test_reads if s.sequestered else None, s.current) for s in v.splits],
        )


@app.command("register")
def register(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The dataset's name.")],
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A CSV (.csv, .csv.gz) or Parquet (.parquet) file.")],
    checks: Annotated[Path | None, typer.Option("--checks", help="A YAML or JSON checks file (docs/data.md).")] = None,
    description: Annotated[str | None, typer.Option(help="What the dataset is.")] = None,
    source_uri: Annotated[str | None, typer.Option("--source-uri", help="Where the data came from (default: FILE).")] = None,
    owner: Annotated[str | None, typer.Option(help="The user who owns it (default: you).")] = None,
    phi: Annotated[bool | None, typer.Option("--phi/--no-phi", help="It holds protected health / personal information.")] = None,
    retention_days: Annotated[int | None, typer.Option("--retention-days", help="How long it must be kept.")] = None,
    read_roles: _ReadRoles = None,
    derived_from: Annotated[str | None, typer.Option("--derived-from", metavar="NAME:VERSION",
                                                     help="The version it was made from.")] = None,
    override_reason: Annotated[str | None, typer.Option("--override-reason",
                                                        help="Allow use although checks fail (recorded).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Register FILE as the next version of dataset NAME; prints NAME:VERSION."""
    version = open_workspace(ctx).data.register(
        name, file, checks=checks, description=description, source_uri=source_uri, owner=owner, phi=phi,
        retention_days=retention_days, read_roles=read_roles, derived_from=derived_from,
        override_reason=override_reason,
    )
    if as_json:
        print_json(version.to_dict())
        return
    echo(version.ref)  # alone on stdout: REF=$(gxpml data register ...) works
    hint(f"{version.num_rows} rows, {len(version.columns)} columns, digest {version.digest}, status {version.status.value}.")
    if version.failed_checks:
        hint("Failed checks: " + _failures(version.failed_checks))
        if version.status.value == "blocked":
            hint("The version is blocked. Fix the data, or run again with --override-reason to allow its use.")


@app.command("split")
def split(
    ctx: typer.Context, ref: _Ref,
    seed: Annotated[int, typer.Option(help="The seed (required): the same seed gives the same split.")],
    test: Annotated[float, typer.Option(help="Fraction of rows for the test split.")] = 0.2,
    validation: Annotated[float, typer.Option(help="Fraction of rows for the validation split.")] = 0.0,
    group: Annotated[str | None, typer.Option(help="Column whose values never span two splits (patient, site).")] = None,
    time: Annotated[str | None, typer.Option(help="Datetime column: the latest rows form the test split.")] = None,
    sequester: Annotated[bool, typer.Option("--sequester/--no-sequester",
                                            help="Record every read of the test rows.")] = True,
    as_json: JsonOption = False,
) -> None:
    """Split a dataset version into train, validation and test, deterministically."""
    result = open_workspace(ctx).data.split(ref, test=test, validation=validation, group=group, time=time,
                                            seed=seed, sequester_test=sequester)
    if as_json:
        print_json(result.to_dict())
        return
    _print_split(result)


def _print_split(s: SplitInfo) -> None:
    echo(s.id)
    hint(f"{s.dataset} split by {s.method}: {s.counts['train']} train, {s.counts['validation']} validation, "
         f"{s.counts['test']} test rows; assignment {s.assignment_digest}"
         + ("; test rows sequestered." if s.sequestered else "."))


@app.command("list")
def list_datasets(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(metavar="[NAME]", help="List every version of this dataset.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List datasets (their latest version), or every version of NAME."""
    versions = open_workspace(ctx).data.list(name)
    if as_json:
        print_json([v.to_dict() for v in versions])
        return
    print_table(
        ["dataset", "status", "rows", "columns", "phi", "owner", "digest", "created"],
        [(v.ref, v.status.value, v.num_rows, len(v.columns), v.phi, v.owner, v.digest, v.created_at) for v in versions],
    )


@app.command("show")
def show(
    ctx: typer.Context, ref: _Ref,
    profile: Annotated[bool, typer.Option("--profile", help="Also the column statistics (needs read access).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Show a dataset version: digest, schema, checks, splits and their test reads."""
    ws = open_workspace(ctx)
    version = ws.data.show(ref)
    stats = ws.data.profile(version.ref) if profile else None
    if as_json:
        print_json({**version.to_dict(), "profile": stats} if profile else version.to_dict())
        return
    _print_version(version)
    if stats is not None:
        print_table(
            ["column", "type", "count", "nulls", "distinct", "min", "max", "mean", "std"],
            [(name, c["type"], c["count"], c["nulls"], c.get("distinct"), c.get("min"), c.get("max"),
              c.get("mean"), c.get("std")) for name, c in stats["columns"].items()],
        )


@app.command("get")
def get(
    ctx: typer.Context, ref: _Ref,
    out: Annotated[Path, typer.Argument(metavar="OUT", help="A .parquet or .csv file to write.")],
    split: Annotated[str | None, typer.Option(help="Only the train, validation or test rows.")] = None,
) -> None:
    """Write a dataset version (or one split of it) to a file."""
    suffix = out.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise InvalidInput(f"OUT must end in .parquet or .csv; got {out.name}.")
    frame = open_workspace(ctx).data.load(ref, split=split)
    if suffix == ".parquet":
        frame.to_parquet(out, index=False)
    else:
        frame.to_csv(out, index=False)
    echo(f"Wrote {len(frame)} rows of {ref}{f' ({split})' if split else ''} to {out}.")


@app.command("erase")
def erase(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="NAME:VERSION", help="The version to erase.")],
    reason: ReasonOption,
    before_retention_end: Annotated[bool, typer.Option(
        "--before-retention-end", help="Erase inside the dataset's retention period (a legal duty to erase).")] = False,
) -> None:
    """Erase a version's data for good (crypto-shredding); its record and digest remain."""
    version = open_workspace(ctx).data.erase(ref, reason=reason, before_retention_end=before_retention_end)
    echo(f"Erased the data of {version.ref}; its record and digest {version.digest} remain.")


@app.command("update")
def update(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The dataset.")],
    reason: ReasonOption,
    description: Annotated[str | None, typer.Option(help="What the dataset is.")] = None,
    owner: Annotated[str | None, typer.Option(help="The user who owns it.")] = None,
    phi: Annotated[bool | None, typer.Option("--phi/--no-phi", help="It holds protected health information.")] = None,
    retention_days: Annotated[int | None, typer.Option("--retention-days", help="How long it must be kept.")] = None,
    read_roles: _ReadRoles = None,
) -> None:
    """Change a dataset's catalog metadata (its owner or an administrator)."""
    version = open_workspace(ctx).data.update(
        name, reason=reason, description=description, owner=owner, phi=phi, retention_days=retention_days,
        read_roles=read_roles,
    )
    echo(f"Updated dataset {version.name}.")
