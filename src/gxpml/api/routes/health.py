"""Liveness and readiness: the only routes without authentication."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text

from gxpml.api.schemas import Health
from gxpml.errors import StorageError

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Health)
def readyz(request: Request) -> dict[str, str]:
    """The metadata database answers (503 otherwise)."""
    try:
        with request.app.state.workspace._db.engine.connect() as conn:
            conn.execute(text("SELECT seq FROM audit_head WHERE id = 1")).scalar_one()
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        raise StorageError("The metadata database does not answer; the server is not ready.") from exc
    return {"status": "ok"}
