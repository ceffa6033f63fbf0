"""Role grants and revocations (21 CFR 11.10(d), Annex 11 §12: access changes are logged)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from gxpml.canonical import utcnow
from gxpml.errors import Conflict, ReasonRequired
from gxpml.identity.roles import ROLES
from gxpml.identity.users import check_role, find_user
from gxpml.store.tables import RoleGrant, User

if TYPE_CHECKING:
    from gxpml.workspace import Workspace

__all__ = ["Roles"]


class Roles:
    """``ws.roles``: grant and revoke built-in roles."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def available(self) -> dict[str, list[str]]:
        """Each built-in role with the permissions it grants."""
        return {role: sorted(perms) for role, perms in ROLES.items()}

    def grant(self, username: str, role: str, *, reason: str | None = None) -> None:
        check_role(role)
        ws = self._ws
        with ws._db.write(ws.actor, "role.grant", reason=reason) as uow:
            user = find_user(uow.session, username)
            held = uow.session.scalars(select(RoleGrant.id).where(
                RoleGrant.user_id == user.id, RoleGrant.role == role, RoleGrant.revoked_at.is_(None)
            )).first()
            if held:
                raise Conflict(f"{username} holds role {role!r} already.")
            uow.add(RoleGrant(user_id=user.id, role=role))

    def revoke(self, username: str, role: str, *, reason: str) -> None:
        if not reason:
            raise ReasonRequired("Revoking a role needs a reason: pass reason=... or --reason.")
        check_role(role)
        ws = self._ws
        with ws._db.write(ws.actor, "role.revoke", reason=reason) as uow:
            user = find_user(uow.session, username)
            grant = uow.session.scalars(select(RoleGrant).where(
                RoleGrant.user_id == user.id, RoleGrant.role == role, RoleGrant.revoked_at.is_(None)
            )).first()
            if grant is None:
                raise Conflict(f"{username} does not hold role {role!r}.")
            if role == "admin":
                admins = uow.session.scalars(select(RoleGrant.user_id).join(User, User.id == RoleGrant.user_id).where(
                    RoleGrant.role == "admin", RoleGrant.revoked_at.is_(None), User.status == "active"
                )).all()
                if set(admins) <= {user.id}:
                    raise Conflict("This is the last active administrator; grant admin to someone else first.")
            grant.revoked_at = utcnow()
