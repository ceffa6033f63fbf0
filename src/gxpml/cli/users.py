"""``gxpml user ...`` and ``gxpml role ...``: people, their status, passwords and roles."""

from __future__ import annotations

from typing import Annotated

import typer

from gxpml.cli.app import (
    JsonOption,
    ReasonOption,
    echo,
    hint,
    open_anonymous,
    open_workspace,
    print_fields,
    print_json,
    print_table,
    secret,
)
from gxpml.identity.users import UserInfo

user_app = typer.Typer(
    help="Add, list, disable and enable users; change and reset passwords.", no_args_is_help=True,
)
role_app = typer.Typer(help="Grant and revoke the built-in roles.", no_args_is_help=True)

_User = Annotated[str, typer.Argument(metavar="NAME", help="User name.")]
_Role = Annotated[str, typer.Argument(metavar="ROLE", help="A built-in role (gxpml role list).")]

# GXPML_PASSWORD is the acting user's; a password being set comes from GXPML_NEW_PASSWORD.
_NEW_PASSWORD = ("GXPML_NEW_PASSWORD",)


def _show(user: UserInfo) -> None:
    print_fields({
        "username": user.username, "name": user.full_name, "email": user.email,
        "status": user.status, "roles": user.roles, "created": user.created_at,
        "password changed": user.password_changed_at, "failed logins": user.failed_logins,
        "id": user.id,
    })


@user_app.command("add")
def add(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(metavar="NAME", help="Unique; never reused.")],
    name: Annotated[str, typer.Option("--name", help="Printed name (shown on signatures).")],
    email: Annotated[str | None, typer.Option(help="E-mail address.")] = None,
    role: Annotated[list[str] | None, typer.Option(help="A role to grant (repeatable).")] = None,
) -> None:
    """Add a user (initial password: $GXPML_NEW_PASSWORD, else prompted twice)."""
    ws = open_workspace(ctx)
    password = secret(
        f"Initial password for {username}", env=_NEW_PASSWORD, confirm=True,
    )
    user = ws.users.add(username, name, password=password, email=email, roles=role or [])
    echo(f"Added user {user.username} ({user.full_name}) with roles: "
         f"{', '.join(user.roles) or 'none'}.")


@user_app.command("list")
def list_users(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List every user, active or not."""
    users = open_workspace(ctx).users.list()
    if as_json:
        print_json([u.to_dict() for u in users])
    else:
        print_table(
            ["user", "name", "email", "status", "roles", "created"],
            [(u.username, u.full_name, u.email, u.status, u.roles, u.created_at) for u in users],
        )


@user_app.command("show")
def show(ctx: typer.Context, username: _User, as_json: JsonOption = False) -> None:
    """Show one user."""
    user = open_workspace(ctx).users.get(username)
    if as_json:
        print_json(user.to_dict())
    else:
        _show(user)


@user_app.command("disable")
def disable(ctx: typer.Context, username: _User, reason: ReasonOption) -> None:
    """Retire a user: they cannot log in any more; their records remain."""
    user = open_workspace(ctx).users.disable(username, reason=reason)
    echo(f"User {user.username} is now {user.status}.")


@user_app.command("enable")
def enable(ctx: typer.Context, username: _User, reason: ReasonOption) -> None:
    """Re-activate a disabled user."""
    user = open_workspace(ctx).users.enable(username, reason=reason)
    echo(f"User {user.username} is now {user.status}.")


@user_app.command("unlock")
def unlock(ctx: typer.Context, username: _User, reason: ReasonOption) -> None:
    """Unlock a user locked after failed logins."""
    user = open_workspace(ctx).users.unlock(username, reason=reason)
    echo(f"User {user.username} is now {user.status}.")


@user_app.command("passwd")
def passwd(
    ctx: typer.Context,
    username: _User,
    reset: Annotated[bool, typer.Option(
        help="As administrator, set a temporary password the user must change (needs --reason).",
    )] = False,
    reason: Annotated[str | None, typer.Option(help="Why the password is reset.")] = None,
) -> None:
    """Change your password (old: $GXPML_PASSWORD, new: $GXPML_NEW_PASSWORD, else prompted).

    Works with an expired password, and without being logged in.
    """
    if reset != bool(reason):
        raise typer.BadParameter("--reset and --reason go together", param_hint="'--reason'")
    if reset:
        new = secret(f"Temporary password for {username}", env=_NEW_PASSWORD, confirm=True)
        open_workspace(ctx).users.reset_password(username, new, reason=str(reason))
        echo(f"Set a temporary password for {username}.")
        hint(f"{username} must change it before logging in: gxpml user passwd {username}")
    else:
        old = secret(f"Current password of {username}")
        new = secret(f"New password for {username}", env=_NEW_PASSWORD, confirm=True)
        open_anonymous(ctx).users.change_password(username, old, new)
        echo(f"Changed the password of {username}.")


@role_app.command("grant")
def grant(
    ctx: typer.Context, username: _User, role: _Role,
    reason: Annotated[str | None, typer.Option(help="Why (recorded in the audit trail).")] = None,
) -> None:
    """Grant a role to a user."""
    open_workspace(ctx).roles.grant(username, role, reason=reason)
    echo(f"Granted role {role} to {username}.")


@role_app.command("revoke")
def revoke(ctx: typer.Context, username: _User, role: _Role, reason: ReasonOption) -> None:
    """Revoke a role from a user."""
    open_workspace(ctx).roles.revoke(username, role, reason=reason)
    echo(f"Revoked role {role} from {username}.")


@role_app.command("list")
def list_roles(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the built-in roles and the permissions each grants."""
    roles = open_anonymous(ctx).roles.available()  # needs no credentials
    if as_json:
        print_json(roles)
    else:
        print_table(["role", "permissions"], sorted(roles.items()))
