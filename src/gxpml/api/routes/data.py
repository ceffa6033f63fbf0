"""Datasets: versions registered from uploaded files, splits, profiles, streamed data, erasure.

Data travels as the request or response body (``application/octet-stream``), streamed in both
directions: a CSV or Parquet file up, Parquet down, each with its SHA-256 in
``X-Content-SHA256`` so the other end can check it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from gxpml.api.deps import Authenticated
from gxpml.artifacts.objects import parse_digest
from gxpml.data.checks import parse_checks
from gxpml.errors import InvalidInput, TransferDamaged

router = APIRouter(prefix="/datasets", tags=["datasets"])

DIGEST_HEADER = "X-Content-SHA256"
CHUNK = 1 << 20
#: What an upload is: a file format, or a DataFrame the client sent as Parquet.
UploadFormat = Literal["csv", "csv.gz", "csv.bz2", "csv.zst", "parquet", "dataframe"]

DatasetName = Annotated[str, PathParam(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
Version = Annotated[str, PathParam(pattern=r"^([1-9][0-9]{0,8}|latest)$", description="A version number, or latest")]
Split = Literal["train", "validation", "test"]
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,199}$")


def _ref(name: str, version: str) -> str:
    return name if version == "latest" else f"{name}:{version}"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- bodies


class SplitIn(_Body):
    # Fractions and seed are checked by the SDK, so its messages are the same locally and here.
    test: float = 0.2
    validation: float = 0.0
    group: str | None = Field(default=None, min_length=1, max_length=500)
    time: str | None = Field(default=None, min_length=1, max_length=500)
    seed: int
    sequester_test: bool = True


class EraseIn(_Body):
    reason: str = Field(max_length=2000, description="Why (Annex 11 §9); recorded in the audit trail.")
    before_retention_end: bool = Field(default=False, description="Erase inside the retention period (a legal duty).")


class UpdateIn(_Body):
    reason: str = Field(max_length=2000, description="Why (Annex 11 §9); recorded in the audit trail.")
    description: str | None = Field(default=None, max_length=10_000)
    owner: str | None = Field(default=None, min_length=1, max_length=64)
    phi: bool | None = None
    retention_days: int | None = None
    read_roles: list[Annotated[str, Field(max_length=32)]] | None = Field(default=None, max_length=10)


class SplitOut(BaseModel):
    id: str
    dataset: str
    method: Literal["random", "group", "time", "group-time"]
    test: float
    validation: float
    group: str | None
    time: str | None
    seed: int
    sequestered: bool
    counts: dict[str, int]
    assignment_digest: str
    artifact: str
    created_at: str
    created_by: str
    current: bool
    test_reads: int


class ColumnOut(BaseModel):
    name: str
    type: str


class CheckOut(BaseModel):
    column: str
    check: str
    failures: int


class DatasetVersionOut(BaseModel):
    id: str
    name: str
    version: int
    ref: str
    status: Literal["ready", "blocked", "overridden", "erased"]
    digest: str
    artifact: str
    num_rows: int
    columns: list[ColumnOut]
    summary: dict[str, dict[str, Any]]
    checks: list[CheckOut]
    checks_spec: str | None
    override_reason: str | None
    derived_from: str | None
    source_format: str
    source_uri: str | None
    description: str | None
    owner: str | None
    phi: bool
    retention_days: int | None
    read_roles: list[str] | None
    created_at: str
    created_by: str
    erased_at: str | None
    retain_until: str | None
    splits: list[SplitOut]


class ProfileOut(BaseModel):
    dataset: str
    digest: str
    rows: int
    columns: dict[str, dict[str, Any]]
    checks: list[dict[str, Any]]


# ---------------------------------------------------------------- routes


@router.get("", response_model=list[DatasetVersionOut])
def list_datasets(ws: Authenticated) -> list[dict[str, Any]]:
    """The latest version of every dataset."""
    return [v.to_dict() for v in ws.data.list()]


@router.get("/{name}/versions", response_model=list[DatasetVersionOut])
def list_versions(name: DatasetName, ws: Authenticated) -> list[dict[str, Any]]:
    """Every version of one dataset, oldest first."""
    return [v.to_dict() for v in ws.data.list(name)]


@router.post(
    "/{name}/versions", response_model=DatasetVersionOut, status_code=201,
    openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
)
async def register(
    request: Request, name: DatasetName, ws: Authenticated,
    format: Annotated[UploadFormat, Query(description="What the body is: a CSV or Parquet file, or a DataFrame sent as Parquet")],
    description: str | None = Query(default=None, max_length=10_000),
    source_uri: str | None = Query(default=None, max_length=2000),
    owner: str | None = Query(default=None, min_length=1, max_length=64),
    phi: bool | None = None,
    retention_days: int | None = None,
    read_roles: str | None = Query(default=None, max_length=500, description="Comma-separated roles; empty: the owner only"),
    checks: str | None = Query(default=None, max_length=71, description="sha256: of a checks declaration stored as an artifact"),
    derived_from: str | None = Query(default=None, max_length=300, description="NAME:VERSION"),
    override_reason: str | None = Query(default=None, max_length=2000),
    filename: str | None = Query(default=None, max_length=200, description="The uploaded file's name, for messages"),
    x_content_sha256: str | None = Header(default=None, description="SHA-256 of the body; checked before anything is registered"),
) -> dict[str, Any]:
    """Register the body (streamed, any size) as the next version of dataset ``name``."""
    # Refuse before reading a byte: the body may be gigabytes (the SDK checks again).
    await anyio.to_thread.run_sync(ws._db.authorize, ws.actor, "data.register")
    if override_reason is not None:
        await anyio.to_thread.run_sync(ws._db.authorize, ws.actor, "data.override")
    expected = None if x_content_sha256 is None else parse_digest(x_content_sha256)
    tmp = Path(tempfile.mkdtemp(prefix="gxpml-upload-"))
    try:
        path = tmp / _upload_name(filename, format)
        h = hashlib.sha256()
        with open(path, "wb") as fh:
            async for chunk in request.stream():
                h.update(chunk)
                await anyio.to_thread.run_sync(fh.write, chunk)
        if expected is not None and h.hexdigest() != expected:
            raise TransferDamaged(
                f"The upload hashes to sha256:{h.hexdigest()}, not the sha256:{expected} sent with it: it was "
                "damaged in transfer. Nothing was registered; send it again."
            )
        spec = None
        if checks is not None:
            try:
                spec = parse_checks(json.loads(ws.artifacts.read_bytes(checks)))
            except ValueError as exc:
                raise InvalidInput(f"The checks artifact {checks} is not a JSON checks declaration: {exc}.") from exc
        roles = None if read_roles is None else [r.strip() for r in read_roles.split(",") if r.strip()]
        kind = "dataframe" if format == "dataframe" else "parquet" if format == "parquet" else "csv"
        info = await anyio.to_thread.run_sync(lambda: ws.data._register(
            name, path, description=description, source_uri=source_uri, owner=owner, phi=phi,
            retention_days=retention_days, read_roles=roles, checks=spec, derived_from=derived_from,
            override_reason=override_reason, source_format=kind,
        ))
        return info.to_dict()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _upload_name(filename: str | None, format: str) -> str:
    """The client's file name (so that messages name it), if it is a plain name with the
    suffix of its format; else ``data.<format>``."""
    suffix = "parquet" if format == "dataframe" else format
    if filename and _PLAIN_NAME.match(filename) and filename.lower().endswith("." + suffix):
        return filename
    return f"data.{suffix}"


@router.patch("/{name}", response_model=DatasetVersionOut)
def update(name: DatasetName, body: UpdateIn, ws: Authenticated) -> dict[str, Any]:
    """Change the catalog metadata of a dataset (its owner or an administrator)."""
    return ws.data.update(
        name, reason=body.reason, description=body.description, owner=body.owner, phi=body.phi,
        retention_days=body.retention_days, read_roles=body.read_roles,
    ).to_dict()


@router.get("/{name}/versions/{version}", response_model=DatasetVersionOut)
def show(name: DatasetName, version: Version, ws: Authenticated) -> dict[str, Any]:
    return ws.data.show(_ref(name, version)).to_dict()


@router.get("/{name}/versions/{version}/profile", response_model=ProfileOut)
def profile(name: DatasetName, version: Version, ws: Authenticated) -> dict[str, Any]:
    """The statistics of every column and the failing values of the checks."""
    return ws.data.profile(_ref(name, version))


@router.get(
    "/{name}/versions/{version}/data", response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The rows, as Parquet"}},
)
def data(name: DatasetName, version: Version, ws: Authenticated, split: Split | None = None) -> StreamingResponse:
    """The rows of a version (or of one part of its current split) as a Parquet file,
    streamed; X-Content-SHA256 carries its digest. Reading sequestered test rows is audited."""
    tmp = Path(tempfile.mkdtemp(prefix="gxpml-download-"))
    try:
        path = tmp / "data.parquet"
        ws.data._export(_ref(name, version), split, path)
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
        size = os.path.getsize(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    def chunks() -> Iterator[bytes]:
        try:
            with open(path, "rb") as fh:
                while chunk := fh.read(CHUNK):
                    yield chunk
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    return StreamingResponse(chunks(), media_type="application/octet-stream",
                             headers={DIGEST_HEADER: h.hexdigest(), "Content-Length": str(size)})


@router.post("/{name}/versions/{version}/splits", response_model=SplitOut, status_code=201)
def split(name: DatasetName, version: Version, body: SplitIn, ws: Authenticated) -> dict[str, Any]:
    """Split a version's rows into train, validation and test (the same parameters again
    return the same split)."""
    return ws.data.split(
        _ref(name, version), test=body.test, validation=body.validation, group=body.group, time=body.time,
        seed=body.seed, sequester_test=body.sequester_test,
    ).to_dict()


@router.post("/{name}/versions/{version}/erase", response_model=DatasetVersionOut)
def erase(name: DatasetName, version: Version, body: EraseIn, ws: Authenticated) -> dict[str, Any]:
    """Crypto-shred a version's data (its owner or an administrator); the record remains."""
    return ws.data.erase(_ref(name, version), reason=body.reason,
                         before_retention_end=body.before_retention_end).to_dict()
