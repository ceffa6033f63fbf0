"""``gxpml init``, ``gxpml upgrade``: create a workspace and keep its schema current."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gxpml.cli.app import echo, hint, print_fields, secret, workspace_path
from gxpml.workspace import Workspace

app = typer.Typer()


def _key_values(items: list[str]) -> dict[str, int]:
    """``["argon2_time_cost=1", ...]`` as a dict; the SDK judges the keys."""
    pairs: dict[str, int] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip().isdigit():
            raise typer.BadParameter(f"expected KEY=INTEGER, got {item!r}",
                                     param_hint="'--security'")
        pairs[key.strip()] = int(value)
    return pairs


@app.command()
def init(
    ctx: typer.Context,
    admin: Annotated[str, typer.Option(help="User name of the first administrator.")],
    admin_name: Annotated[str, typer.Option(help="Printed name of the administrator.")],
    path: Annotated[Path | None, typer.Argument(
        metavar="PATH", show_default=False,
        help="Folder of the new workspace (default: --workspace, $GXPML_HOME, else ./.gxpml).",
    )] = None,
    admin_email: Annotated[str | None, typer.Option(help="E-mail of the administrator.")] = None,
    database_url: Annotated[str | None, typer.Option(
        help="SQLAlchemy URL of the metadata database (default: $GXPML_DATABASE_URL, "
             "else SQLite in the workspace).",
    )] = None,
    artifact_url: Annotated[str | None, typer.Option(
        help="Folder or s3://bucket/prefix for artifacts (default: $GXPML_ARTIFACT_URL, "
             "else inside the workspace).",
    )] = None,
    encryption: Annotated[bool, typer.Option(help="Encrypt artifacts at rest.")] = True,
    security: Annotated[list[str] | None, typer.Option(
        metavar="KEY=VALUE", help="A security policy setting, e.g. password_min_length=14.",
    )] = None,
) -> None:
    """Create a workspace and its first administrator (password: $GXPML_PASSWORD, else prompted)."""
    policy = _key_values(security or [])
    password = secret(f"Password for {admin}", confirm=True)
    with Workspace.init(
        path or workspace_path(ctx), admin=admin, admin_name=admin_name, password=password,
        admin_email=admin_email, database_url=database_url, artifact_url=artifact_url,
        encryption=encryption, security=policy or None,
    ) as ws:
        print_fields(ws.info(), title="Workspace created")
    hint(f"Next: gxpml login --user {admin}")


@app.command()
def upgrade(ctx: typer.Context) -> None:
    """Apply pending schema migrations to the metadata database (back it up first)."""
    before, after = Workspace.upgrade(workspace_path(ctx))
    if before == after:
        echo(f"The metadata database is at schema revision {after}; nothing to upgrade.")
    else:
        echo(f"Upgraded the metadata database from schema revision {before or 'none'} to {after}.")
