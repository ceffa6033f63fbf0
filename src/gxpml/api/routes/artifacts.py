"""Artifacts, streamed up and down with digest checks on both ends, and the master key."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from typing import Any, BinaryIO, cast

import anyio
import anyio.from_thread
import anyio.to_thread
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from gxpml.api.deps import Authenticated
from gxpml.api.schemas import ArtifactOut, FsckIn, FsckOut, KeysOut, RotateIn, RotateOut
from gxpml.artifacts.objects import parse_digest

router = APIRouter(tags=["artifacts"])

DIGEST_HEADER = "X-Content-SHA256"


class _BodyReader(io.RawIOBase):
    """A blocking file-like view of the request body, for the SDK running in a worker thread:
    each read pulls the next chunk from the event loop, so memory stays flat."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = bytearray()
        self._done = False

    def readable(self) -> bool:
        return True

    async def _next(self) -> bytes | None:
        try:
            return await self._chunks.__anext__()
        except StopAsyncIteration:
            return None

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._buffer) < size):
            chunk = anyio.from_thread.run(self._next)
            if chunk is None:
                self._done = True
            else:
                self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


@router.post("/artifacts", response_model=ArtifactOut, status_code=201,
             openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def put_artifact(
    request: Request, ws: Authenticated,
    name: str | None = Query(default=None, max_length=500),
    x_content_sha256: str | None = Header(default=None, description="SHA-256 of the body; checked before anything is stored"),
) -> dict[str, Any]:
    """Store the request body (streamed, any size). Send its SHA-256 in X-Content-SHA256."""
    expected = None if x_content_sha256 is None else parse_digest(x_content_sha256)
    reader = cast(BinaryIO, io.BufferedReader(_BodyReader(request.stream().__aiter__()), buffer_size=1 << 20))
    info = await anyio.to_thread.run_sync(lambda: ws.artifacts.put(reader, name=name, expected_digest=expected))
    return info.to_dict()


@router.get("/artifacts", response_model=list[ArtifactOut])
def list_artifacts(ws: Authenticated) -> list[dict[str, Any]]:
    return [a.to_dict() for a in ws.artifacts.list()]


@router.get("/artifacts/{digest}", response_model=ArtifactOut)
def artifact_info(digest: str, ws: Authenticated) -> dict[str, Any]:
    return ws.artifacts.info(digest).to_dict()


@router.get("/artifacts/{digest}/content", response_class=StreamingResponse,
            responses={200: {"content": {"application/octet-stream": {}}, "description": "The verified content"}})
def artifact_content(digest: str, ws: Authenticated) -> StreamingResponse:
    """The content, streamed; X-Content-SHA256 carries the digest for the client to check.
    Should the stored bytes fail verification mid-stream, the connection is cut short."""
    info = ws.artifacts.info(digest)
    chunks: Iterator[bytes] = ws.artifacts.open(info.digest)
    return StreamingResponse(chunks, media_type="application/octet-stream",
                             headers={DIGEST_HEADER: info.digest, "Content-Length": str(info.size)})


@router.post("/artifacts/{digest}/verify", status_code=204)
def verify_artifact(digest: str, ws: Authenticated) -> None:
    ws.artifacts.verify(digest)


@router.post("/artifacts/fsck", response_model=FsckOut)
def fsck(body: FsckIn, ws: Authenticated) -> dict[str, Any]:
    return ws.artifacts.fsck(remove_orphans=body.remove_orphans).to_dict()


@router.get("/keys", response_model=KeysOut)
def keys(ws: Authenticated) -> dict[str, Any]:
    return ws.keys.show()


@router.post("/keys/rotate", response_model=RotateOut)
def rotate(body: RotateIn, ws: Authenticated) -> dict[str, Any]:
    return ws.keys.rotate(reason=body.reason, destroy_old=body.destroy_old)
