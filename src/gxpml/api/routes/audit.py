"""The audit trail: read, verify, checkpoint, export."""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from gxpml.api.deps import Authenticated
from gxpml.api.schemas import CheckpointOut, EventOut, ExportIn, VerifyOut

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/events", response_model=list[EventOut])
def events(
    ws: Authenticated,
    actor: str | None = Query(default=None, max_length=64),
    entity: str | None = Query(default=None, max_length=200),
    action: str | None = Query(default=None, max_length=64),
    since: str | None = Query(default=None, max_length=40),
    until: str | None = Query(default=None, max_length=40),
    limit: int | None = Query(default=100, ge=1, le=100_000),
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    return [e.to_dict() for e in ws.audit.log(actor=actor, entity=entity, action=action, since=since,
                                              until=until, limit=limit, newest_first=newest_first)]


@router.post("/verify", response_model=VerifyOut)
def verify(ws: Authenticated) -> dict[str, Any]:
    return ws.audit.verify().to_dict()


@router.post("/checkpoint", response_model=CheckpointOut)
def checkpoint(ws: Authenticated) -> dict[str, int]:
    return {"seq": ws.audit.checkpoint()}


def _stream_file(folder: tempfile.TemporaryDirectory[str], path: Path) -> Iterator[bytes]:
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                yield chunk
    finally:
        folder.cleanup()


@router.post("/export", response_class=StreamingResponse,
             responses={200: {"content": {"application/x-ndjson": {}, "application/zip": {}},
                              "description": "JSON Lines export, or a zip of the CSV and its signed manifest"}})
def export(body: ExportIn, ws: Authenticated) -> StreamingResponse:
    """The export file (JSON Lines), or for CSV a zip holding the CSV and its manifest."""
    folder = tempfile.TemporaryDirectory(prefix="gxpml-export-")
    try:
        target = Path(folder.name) / f"audit-export.{body.format}"
        ws.audit.export(target, fmt=body.format, since=body.since, until=body.until)
        if body.format == "jsonl":
            return StreamingResponse(_stream_file(folder, target), media_type="application/x-ndjson")
        bundle = Path(folder.name) / "audit-export.zip"
        with zipfile.ZipFile(bundle, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.write(target, "export.csv")
            zf.write(target.with_name(target.name + ".manifest.json"), "export.csv.manifest.json")
        return StreamingResponse(_stream_file(folder, bundle), media_type="application/zip")
    except BaseException:
        folder.cleanup()
        raise
