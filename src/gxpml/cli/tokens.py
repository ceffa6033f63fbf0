"""``gxpml token ...``: API and service tokens (use one as GXPML_TOKEN)."""

from __future__ import annotations

from typing import Annotated

import typer

from gxpml.cli.app import (
    JsonOption,
    ReasonOption,
    echo,
    hint,
    open_workspace,
    print_json,
    print_table,
)

app = typer.Typer(help="Create, list and revoke API and service tokens.", no_args_is_help=True)

_OtherUser = Annotated[str | None, typer.Option(metavar="NAME", help="Another user's (admins).")]


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="What it is for, e.g. ci-pipeline.")],
    role: Annotated[list[str] | None, typer.Option(
        help="Limit the token to this role (repeatable; default: every role of its user).",
    )] = None,
    expires_days: Annotated[int, typer.Option(help="Days until the token expires.")] = 90,
    user: _OtherUser = None,
    service: Annotated[bool, typer.Option(help="A service token, for pipelines.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Create a token and print it once: only its hash is kept."""
    info, text = open_workspace(ctx).tokens.create(
        name, roles=role, expires_days=expires_days, username=user,
        kind="service" if service else "api",
    )
    if as_json:
        print_json({**info.to_dict(), "token": text})
    else:
        echo(text)  # alone on stdout, so that TOKEN=$(gxpml token create ...) works
        hint(f"Created {info.kind} token {info.id} for {info.username}, expiring "
             f"{info.expires_at:%Y-%m-%d}. Copy it now: it cannot be shown again.")


@app.command("list")
def list_tokens(ctx: typer.Context, user: _OtherUser = None, as_json: JsonOption = False) -> None:
    """List your tokens (or another user's): ids and dates, never the secrets."""
    tokens = open_workspace(ctx).tokens.list(user)
    if as_json:
        print_json([t.to_dict() for t in tokens])
    else:
        print_table(
            ["id", "name", "kind", "user", "roles", "created", "expires", "revoked"],
            [(t.id, t.name, t.kind, t.username, "all" if t.roles is None else t.roles,
              t.created_at, t.expires_at, t.revoked_at) for t in tokens],
        )


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    token_id: Annotated[str, typer.Argument(metavar="TOKEN_ID", help="tok_..., not the token.")],
    reason: ReasonOption,
) -> None:
    """Revoke a token at once (a lost token, a leaving colleague)."""
    open_workspace(ctx).tokens.revoke(token_id, reason=reason)
    echo(f"Revoked token {token_id}.")
