"""Runs: the record API a remote :class:`~gxpml.tracking.run.Run` writes through, and reads."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from gxpml.api.deps import Authenticated
from gxpml.tracking.records import MAX_SEED, MAX_STEP, Metric, RunSource
from gxpml.tracking.runs import MAX_COMPARE, MAX_LIST

router = APIRouter(prefix="/runs", tags=["runs"])

RunId = Annotated[str, Path(min_length=1, max_length=64)]
Status = Literal["running", "finished", "failed", "killed"]
Digest = Field(default=None, max_length=71, description="sha256:<64 hex digits>")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- requests


class SourceIn(_Body):
    environment_digest: str | None = Digest
    entry_point: str | None = Field(default=None, max_length=1000)
    code_digest: str | None = Digest
    code_artifact: str | None = Digest
    git_commit: str | None = Field(default=None, max_length=64)
    git_dirty: bool | None = None


class RunIn(_Body):
    experiment: str = Field(min_length=1, max_length=200)
    seed: int = Field(ge=0, le=MAX_SEED)
    name: str | None = Field(default=None, max_length=200)
    tags: dict[str, str] = Field(default_factory=dict, max_length=200)
    source: SourceIn = Field(default_factory=SourceIn)


class MetricIn(_Body):
    key: str = Field(min_length=1, max_length=250)
    value: float
    step: int = Field(ge=0, le=MAX_STEP)
    ts: dt.datetime


class BatchIn(_Body):
    params: dict[str, Any] = Field(default_factory=dict, max_length=1000)
    metrics: list[MetricIn] = Field(default_factory=list, max_length=20_000)
    tags: dict[str, str] = Field(default_factory=dict, max_length=200)


class InputIn(_Body):
    dataset: str = Field(min_length=1, max_length=300, description="NAME or NAME:VERSION")
    split: str | None = Field(default=None, max_length=32, description="train, validation or test")


class ArtifactLinkIn(_Body):
    digest: str = Field(max_length=71)
    name: str = Field(min_length=1, max_length=500)
    kind: str = Field(default="artifact", max_length=32, description="artifact, environment, code, model or example")


class ReportIn(_Body):
    digest: str = Field(max_length=71)
    kind: str = Field(max_length=32, description="reproduction or validation")
    produced_by: str | None = Field(default=None, max_length=64, description="the run that made the report")


class ReportOut(BaseModel):
    node: str


class ModelIn(_Body):
    name: str = Field(min_length=1, max_length=250)
    digest: str = Field(max_length=71)
    flavor: str = Field(min_length=1, max_length=32)
    format: str = Field(max_length=16, description="skops or pickle")
    trusted_types: list[str] = Field(default_factory=list, max_length=1000)
    vouched_types: list[str] = Field(default_factory=list, max_length=1000)
    signature: dict[str, Any] = Field(default_factory=dict)
    libraries: dict[str, str] = Field(default_factory=dict, max_length=100)
    example_digest: str | None = Digest


class EndIn(_Body):
    status: str = Field(default="finished", max_length=16, description="finished, failed or killed")
    error: str | None = Field(default=None, max_length=20_000)


class KillIn(_Body):
    reason: str = Field(max_length=2000, description="Why (recorded in the audit trail).")


# ---------------------------------------------------------------- responses


class SourceOut(BaseModel):
    environment_digest: str | None
    entry_point: str | None
    code_digest: str | None
    code_artifact: str | None
    git_commit: str | None
    git_dirty: bool | None


class InputOut(BaseModel):
    id: str
    kind: str
    ref: str
    version_id: str | None
    digest: str | None
    split: str | None
    split_id: str | None
    created_at: str


class ArtifactLinkOut(BaseModel):
    name: str
    kind: str
    digest: str
    created_at: str


class ModelOut(BaseModel):
    id: str
    run_id: str
    name: str
    flavor: str
    format: str
    digest: str
    trusted_types: list[str]
    vouched_types: list[str]
    signature: dict[str, Any]
    example_digest: str | None
    libraries: dict[str, str]
    created_at: str


class RunOut(BaseModel):
    id: str
    experiment: str
    name: str | None
    status: Status
    seed: int
    created_by: str
    started_at: str
    ended_at: str | None
    error: str | None
    source: SourceOut
    params: dict[str, Any]
    metrics: dict[str, float]
    tags: dict[str, str]
    inputs: list[InputOut]
    artifacts: list[ArtifactLinkOut]
    models: list[ModelOut]


class ComparisonOut(BaseModel):
    run_ids: list[str]
    params: dict[str, dict[str, Any]]
    metrics: dict[str, dict[str, float | None]]
    differing_params: list[str]
    differing_metrics: list[str]


class MetricOut(BaseModel):
    key: str
    value: float
    step: int
    ts: str


# ---------------------------------------------------------------- routes


@router.get("", response_model=list[RunOut])
def list_runs(
    ws: Authenticated,
    experiment: str | None = Query(default=None, max_length=200),
    status: str | None = Query(default=None, max_length=16, description="running, finished, failed or killed"),
    limit: int = Query(default=100, ge=1, le=MAX_LIST),
) -> list[dict[str, Any]]:
    """Runs, newest first."""
    return [r.to_dict() for r in ws.runs.list(experiment=experiment, status=status, limit=limit)]


@router.post("", response_model=RunOut, status_code=201)
def create_run(body: RunIn, ws: Authenticated) -> dict[str, Any]:
    """Record a new running run (the client captured its environment and stored it first)."""
    source = RunSource(**body.source.model_dump())
    return ws.runs.create(body.experiment, seed=body.seed, name=body.name, tags=body.tags, source=source).to_dict()


@router.get("/compare", response_model=ComparisonOut)
def compare_runs(
    ws: Authenticated, ids: Annotated[list[str], Query(min_length=1, max_length=MAX_COMPARE)],
) -> dict[str, Any]:
    """Params and latest metrics of runs side by side, and which differ."""
    return ws.runs.compare(ids).to_dict()


@router.get("/{run_id}", response_model=RunOut)
def get_run(ws: Authenticated, run_id: RunId) -> dict[str, Any]:
    return ws.runs.get(run_id).to_dict()


@router.get("/{run_id}/metrics", response_model=list[MetricOut])
def metric_history(
    ws: Authenticated, run_id: RunId, key: Annotated[str, Query(min_length=1, max_length=250)],
) -> list[dict[str, Any]]:
    """Every point of one metric, in the order logged."""
    return [p.to_dict() for p in ws.runs.metrics(run_id, key)]


@router.post("/{run_id}/batch", status_code=204)
def log_batch(body: BatchIn, ws: Authenticated, run_id: RunId) -> None:
    """Params, metric points (sealed as one segment) and tags, in one unit of work."""
    points = [Metric(key=m.key, value=m.value, step=m.step,
                     ts=m.ts if m.ts.tzinfo else m.ts.replace(tzinfo=dt.UTC)) for m in body.metrics]
    ws.runs.log_batch(run_id, params=body.params, metrics=points, tags=body.tags)


@router.post("/{run_id}/inputs", response_model=InputOut, status_code=201)
def log_input(body: InputIn, ws: Authenticated, run_id: RunId) -> dict[str, Any]:
    return ws.runs.log_input(run_id, body.dataset, split=body.split).to_dict()


@router.post("/{run_id}/artifacts", response_model=ArtifactLinkOut, status_code=201)
def log_artifact(body: ArtifactLinkIn, ws: Authenticated, run_id: RunId) -> dict[str, Any]:
    """Link a stored artifact (``POST /artifacts`` first) to the run."""
    return ws.runs.log_artifact(run_id, body.digest, name=body.name, kind=body.kind).to_dict()


@router.post("/{run_id}/models", response_model=ModelOut, status_code=201)
def add_model(body: ModelIn, ws: Authenticated, run_id: RunId) -> dict[str, Any]:
    """Record a model file (stored with ``POST /artifacts`` first) as an output of the run."""
    return ws.runs.add_model(
        run_id, body.name, digest=body.digest, flavor=body.flavor, format=body.format,
        trusted_types=body.trusted_types, vouched_types=body.vouched_types, signature=body.signature,
        libraries=body.libraries, example_digest=body.example_digest,
    ).to_dict()


@router.post("/{run_id}/reports", response_model=ReportOut, status_code=201)
def attach_report(body: ReportIn, ws: Authenticated, run_id: RunId) -> dict[str, Any]:
    """Link a stored report (``POST /artifacts`` first) about the run in lineage."""
    return {"node": ws.runs.attach_report(run_id, body.digest, kind=body.kind, produced_by=body.produced_by)}


@router.post("/{run_id}/end", response_model=RunOut)
def end_run(body: EndIn, ws: Authenticated, run_id: RunId) -> dict[str, Any]:
    return ws.runs.end(run_id, body.status, error=body.error).to_dict()


@router.post("/{run_id}/kill", response_model=RunOut)
def kill_run(body: KillIn, ws: Authenticated, run_id: RunId) -> dict[str, Any]:
    return ws.runs.kill(run_id, reason=body.reason).to_dict()
