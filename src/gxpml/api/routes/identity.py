"""Users, roles and tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from gxpml.api.deps import Actorless, Authenticated
from gxpml.api.schemas import (
    PasswordChangeIn,
    PasswordResetIn,
    ReasonIn,
    RoleIn,
    RoleRevokeIn,
    TokenCreated,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
)

router = APIRouter(tags=["identity"])


@router.get("/users", response_model=list[UserOut])
def list_users(ws: Authenticated) -> list[dict[str, object]]:
    return [u.to_dict() for u in ws.users.list()]


@router.post("/users", response_model=UserOut, status_code=201)
def add_user(body: UserIn, ws: Authenticated) -> dict[str, object]:
    return ws.users.add(body.username, body.full_name, password=body.password, email=body.email, roles=body.roles).to_dict()


@router.get("/users/{username}", response_model=UserOut)
def get_user(username: str, ws: Authenticated) -> dict[str, object]:
    return ws.users.get(username).to_dict()


@router.post("/users/{username}/disable", response_model=UserOut)
def disable_user(username: str, body: ReasonIn, ws: Authenticated) -> dict[str, object]:
    return ws.users.disable(username, reason=body.reason).to_dict()


@router.post("/users/{username}/enable", response_model=UserOut)
def enable_user(username: str, body: ReasonIn, ws: Authenticated) -> dict[str, object]:
    return ws.users.enable(username, reason=body.reason).to_dict()


@router.post("/users/{username}/unlock", response_model=UserOut)
def unlock_user(username: str, body: ReasonIn, ws: Authenticated) -> dict[str, object]:
    return ws.users.unlock(username, reason=body.reason).to_dict()


@router.post("/users/{username}/password", status_code=204)
def change_password(username: str, body: PasswordChangeIn, ws: Actorless, request: Request) -> None:
    """Change one's own password with the old one (works when the old one has expired).
    It checks a password, so it is rate-limited like login."""
    client = request.client.host if request.client else "unknown"
    request.app.state.login_limiter.check(f"user:{username}", f"ip:{client}")
    ws.users.change_password(username, body.old_password, body.new_password)


@router.post("/users/{username}/password-reset", status_code=204)
def reset_password(username: str, body: PasswordResetIn, ws: Authenticated) -> None:
    ws.users.reset_password(username, body.new_password, reason=body.reason)


@router.get("/roles", response_model=dict[str, list[str]])
def roles(ws: Authenticated) -> dict[str, list[str]]:
    return ws.roles.available()


@router.post("/roles/grant", status_code=204)
def grant(body: RoleIn, ws: Authenticated) -> None:
    ws.roles.grant(body.username, body.role, reason=body.reason)


@router.post("/roles/revoke", status_code=204)
def revoke(body: RoleRevokeIn, ws: Authenticated) -> None:
    ws.roles.revoke(body.username, body.role, reason=body.reason)


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(ws: Authenticated, username: str | None = None) -> list[dict[str, object]]:
    return [t.to_dict() for t in ws.tokens.list(username)]


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def create_token(body: TokenIn, ws: Authenticated) -> dict[str, Any]:
    info, text = ws.tokens.create(body.name, roles=body.roles, expires_days=body.expires_days,
                                  username=body.username, kind=body.kind)
    return {"info": info.to_dict(), "token": text}


@router.post("/tokens/{token_id}/revoke", status_code=204)
def revoke_token(token_id: str, body: ReasonIn, ws: Authenticated) -> None:
    ws.tokens.revoke(token_id, reason=body.reason)
