"""``gxpml login``, ``logout``, ``whoami``: the session stored for this machine."""

from __future__ import annotations

from typing import Annotated

import typer

from gxpml.cli.app import (
    JsonOption,
    echo,
    open_anonymous,
    open_workspace,
    print_fields,
    print_json,
    secret,
)
from gxpml.errors import AuthenticationError

app = typer.Typer()


@app.command()
def login(
    ctx: typer.Context, user: Annotated[str, typer.Option("--user", "-u", help="Your user name.")],
) -> None:
    """Log in and keep the session for later commands (password: $GXPML_PASSWORD, else prompted)."""
    password = secret(f"Password for {user}")
    ws = open_anonymous(ctx)
    ws.login(user, password, remember=True)
    echo(f"Logged in as {ws.actor.username} ({ws.actor.name}). The session ends after a period without activity.")


@app.command()
def logout(ctx: typer.Context) -> None:
    """End the stored session: its token is revoked and forgotten."""
    try:
        ws = open_workspace(ctx)
    except AuthenticationError:
        # An ended or revoked session cannot be revoked again, but must still be forgotten.
        ws = open_anonymous(ctx)
    who = ws.actor.username if ws.actor.authenticated else None
    ws.logout()
    echo(f"Logged out {who}." if who else "No session was active; nothing to end.")


@app.command()
def whoami(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Who the commands act as (exit 6 when nobody is logged in)."""
    ws = open_workspace(ctx)
    actor = ws.actor
    if not actor.authenticated:
        raise AuthenticationError(
            "Not logged in. Run `gxpml login --user NAME`, or set GXPML_TOKEN to an API token."
        )
    data = {
        "id": actor.id, "username": actor.username, "name": actor.name,
        "roles": sorted(actor.roles), "permissions": sorted(actor.permissions),
        "token_id": actor.token_id, "workspace_id": (info := ws.info())["workspace_id"],
        "workspace": info.get("home") or info.get("server"),
    }
    if as_json:
        print_json(data)
    else:
        print_fields(data)
