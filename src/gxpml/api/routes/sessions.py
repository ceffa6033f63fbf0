"""Login, logout, who am I."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from gxpml.api.deps import Actorless, Authenticated
from gxpml.api.schemas import ActorOut, LoginIn, SessionOut, WorkspaceOut

router = APIRouter(tags=["sessions"])


@router.post("/login", response_model=SessionOut)
def login(body: LoginIn, ws: Actorless, request: Request) -> dict[str, str]:
    """User name + password → a session token (ends after inactivity)."""
    client = request.client.host if request.client else "unknown"
    request.app.state.login_limiter.check(f"user:{body.username}", f"ip:{client}")
    token = ws.login(body.username, body.password)
    return {"token": token, "username": ws.actor.username}


@router.post("/logout", status_code=204)
def logout(ws: Authenticated) -> None:
    """End the session whose token authenticates this request (API tokens stay valid)."""
    ws._end_session()


@router.get("/whoami", response_model=ActorOut)
def whoami(ws: Authenticated) -> dict[str, object]:
    return ws.actor.to_dict()


@router.get("/workspace", response_model=WorkspaceOut)
def workspace_info(ws: Authenticated) -> dict[str, Any]:
    info = ws.info()
    return {k: info[k] for k in ("workspace_id", "encryption", "signing_key", "actor")}
