"""Lineage queries."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query

from gxpml.api.deps import Authenticated
from gxpml.api.schemas import LineageOut
from gxpml.lineage.graph import MAX_DEPTH

router = APIRouter(prefix="/lineage", tags=["lineage"])


@router.get("/{node:path}", response_model=LineageOut)
def lineage(
    node: str, ws: Authenticated,
    direction: Literal["up", "down"] = "up",
    depth: int = Query(default=MAX_DEPTH, ge=1, le=MAX_DEPTH),
    types: list[str] | None = Query(default=None, max_length=4),
) -> dict[str, Any]:
    """Ancestors (``up``) or descendants (``down``) of ``node`` (``TYPE:ID``)."""
    walk = ws.lineage.ancestors if direction == "up" else ws.lineage.descendants
    return walk(node, depth=depth, types=types).to_dict()
