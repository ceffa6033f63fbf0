"""Request dependencies: the workspace acting as the request's authenticated actor."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPBearer

from gxpml.errors import AuthenticationError, RateLimited
from gxpml.workspace import Workspace

__all__ = ["Actorless", "Authenticated", "LoginLimiter", "actorless", "authenticated"]


def _root(request: Request) -> Workspace:
    ws: Workspace = request.app.state.workspace
    return ws


_bearer = HTTPBearer(auto_error=False, description="A session token (POST /api/v1/login) or an API token.")


def authenticated(request: Request, _scheme: Annotated[object, Security(_bearer)] = None) -> Workspace:
    """The workspace as the bearer token's actor; 401 without a valid token."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError(
            "Not logged in: send 'Authorization: Bearer <token>' (a session from "
            "POST /api/v1/login, or an API token)."
        )
    root = _root(request)
    return root._as_actor(root._auth.authenticate(token.strip()))


def actorless(request: Request) -> Workspace:
    """The workspace with no actor, for routes that authenticate themselves (login)."""
    return _root(request)._as_actor(_root(request).actor)


Authenticated = Annotated[Workspace, Depends(authenticated)]
Actorless = Annotated[Workspace, Depends(actorless)]


class LoginLimiter:
    """At most ``limit`` login attempts per user name and per client address per ``window``
    seconds in this process; the database-backed lockout applies across processes too."""

    def __init__(self, limit: int = 10, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                hits = self._hits[key]
                while hits and now - hits[0] > self.window:
                    hits.popleft()
                if len(hits) >= self.limit:
                    raise RateLimited(
                        f"Too many login attempts; wait {int(self.window - (now - hits[0])) + 1} s and retry."
                    )
            for key in keys:
                self._hits[key].append(now)

