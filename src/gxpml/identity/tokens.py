"""API and service tokens: hashed, scoped to roles, expiring, revocable (21 CFR 11.300(c))."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from gxpml.canonical import new_id, parse_ts, utcnow
from gxpml.errors import Conflict, InvalidInput, NotFound, ReasonRequired
from gxpml.identity.auth import new_token_secret
from gxpml.identity.users import check_role, find_user
from gxpml.store.tables import Token, User

if TYPE_CHECKING:
    from gxpml.workspace import Workspace

__all__ = ["TokenInfo", "Tokens"]


@dataclass(frozen=True)
class TokenInfo:
    id: str
    username: str
    kind: str
    name: str | None
    roles: tuple[str, ...] | None
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id, "username": self.username, "kind": self.kind, "name": self.name,
            "roles": None if self.roles is None else list(self.roles),
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenInfo:
        def ts(value: str | None) -> dt.datetime | None:
            return None if value is None else parse_ts(value)

        return cls(
            id=data["id"], username=data["username"], kind=data["kind"], name=data["name"],
            roles=None if data["roles"] is None else tuple(data["roles"]),
            created_at=parse_ts(data["created_at"]), expires_at=ts(data["expires_at"]),
            revoked_at=ts(data["revoked_at"]),
        )


def _info(token: Token, username: str) -> TokenInfo:
    return TokenInfo(
        id=token.id, username=username, kind=token.kind, name=token.name,
        roles=None if token.roles is None else tuple(json.loads(token.roles)),
        created_at=token.created_at, expires_at=token.expires_at, revoked_at=token.revoked_at,
    )


class Tokens:
    """``ws.tokens``: create, list and revoke API and service tokens."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def create(
        self, name: str, *, roles: list[str] | None = None, expires_days: int = 90,
        username: str | None = None, kind: str = "api",
    ) -> tuple[TokenInfo, str]:
        """A new token for yourself (or, as administrator, for ``username``); the text is shown once."""
        ws = self._ws
        if kind not in {"api", "service"}:
            raise InvalidInput(f"Token kind must be 'api' or 'service', got {kind!r}.")
        limit = ws.settings.security.token_max_days
        if not 0 < expires_days <= limit:
            raise InvalidInput(f"expires_days must be between 1 and {limit} (the workspace policy), got {expires_days}.")
        target = username or ws.actor.username
        permission = "self" if target == ws.actor.username else "token.create"
        for role in roles or []:
            check_role(role)
        with ws._db.write(ws.actor, "token.create", permission=permission) as uow:
            # the hot path of scripts and services: driver-level statements, no ORM
            found = uow.query("SELECT id FROM users WHERE username = ?", (target,))
            if not found:
                raise NotFound(f"No user named {target!r}. List users with `gxpml user list`.")
            user_id = found[0][0]
            if roles is not None:
                held = {r for (r,) in uow.query(
                    "SELECT role FROM role_grants WHERE user_id = ? AND revoked_at IS NULL", (user_id,))}
                if not set(roles) <= held:
                    missing = ", ".join(sorted(set(roles) - held))
                    raise InvalidInput(f"A token can carry only roles its user holds; {target} lacks: {missing}.")
            token_id = new_id("tok")
            text, secret_hash = new_token_secret(token_id)
            row = uow.insert(
                Token, id=token_id, user_id=user_id, kind=kind, name=name, secret_hash=secret_hash,
                roles=None if roles is None else json.dumps(sorted(set(roles))),
                expires_at=utcnow() + dt.timedelta(days=expires_days),
            )
            return _info(Token(**row), target), text

    def list(self, username: str | None = None) -> list[TokenInfo]:
        ws = self._ws
        target = username or ws.actor.username
        ws._db.authorize(ws.actor, "self" if target == ws.actor.username else "token.list")
        with ws._db.read() as session:
            user = find_user(session, target)
            tokens = session.scalars(select(Token).where(Token.user_id == user.id).order_by(Token.created_at)).all()
            return [_info(t, target) for t in tokens]

    def revoke(self, token_id: str, *, reason: str) -> None:
        """Revoke a token at once (a lost token, a leaving colleague)."""
        if not reason:
            raise ReasonRequired("Revoking a token needs a reason: pass reason=... or --reason.")
        ws = self._ws
        with ws._db.read() as session:
            token = session.get(Token, token_id)
            if token is None:
                raise NotFound(f"No token {token_id!r}. List tokens with `gxpml token list`.")
            owner = session.get(User, token.user_id)
        permission = "self" if owner is not None and owner.id == ws.actor.id else "token.revoke"
        with ws._db.write(ws.actor, "token.revoke", reason=reason, permission=permission) as uow:
            token = uow.session.get(Token, token_id)
            assert token is not None
            if token.revoked_at is not None:
                raise Conflict(f"Token {token_id} was revoked already at {token.revoked_at.isoformat()}.")
            token.revoked_at = utcnow()
