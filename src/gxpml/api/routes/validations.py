"""Validation records: criteria locked before testing, and validations with their evidence.
The computation runs in the client (``gxpml validate``); these routes record it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from gxpml.api.deps import Authenticated

router = APIRouter(tags=["validations"])

RunId = Annotated[str, Path(min_length=1, max_length=64)]
Digest = Field(max_length=71, description="sha256:<64 hex digits>")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CriteriaIn(_Body):
    criteria: str = Field(min_length=1, max_length=200_000, description="The acceptance criteria, YAML.")


class CriteriaLockOut(BaseModel):
    id: str
    run_id: str
    digest: str
    artifact: str
    entries: int
    locked_by: str
    locked_at: str
    replaces: list[str]
    after_tests: list[str]


class ValidationIn(_Body):
    model: str = Field(min_length=1, max_length=250)
    results: str = Digest
    report_html: str = Digest
    report_pdf: str | None = Field(default=None, max_length=71)
    lock_id: str | None = Field(default=None, max_length=32)
    dataset: str | None = Field(default=None, max_length=300)
    passed: bool | None = None


class ValidationOut(BaseModel):
    id: str
    run_id: str
    lock_id: str | None
    model: str
    dataset: str | None
    passed: bool | None
    results: str
    report_html: str
    report_pdf: str | None
    created_by: str
    created_at: str


@router.post("/runs/{run_id}/criteria", response_model=CriteriaLockOut, status_code=201)
def lock_criteria(body: CriteriaIn, ws: Authenticated, run_id: RunId) -> dict[str, Any]:
    """Lock acceptance criteria for the run's model before it is tested."""
    return ws.validations.lock_criteria(run_id, body.criteria).to_dict()


@router.get("/runs/{run_id}/criteria", response_model=list[CriteriaLockOut])
def criteria_locks(ws: Authenticated, run_id: RunId) -> list[dict[str, Any]]:
    """The criteria locked for the run, oldest first."""
    return [lock.to_dict() for lock in ws.validations.locks(run_id)]


@router.post("/runs/{run_id}/validations", response_model=ValidationOut, status_code=201)
def record_validation(body: ValidationIn, ws: Authenticated, run_id: RunId) -> dict[str, Any]:
    """Record a validation whose results and reports are stored (``POST /artifacts`` first)."""
    return ws.validations.record(run_id, **body.model_dump()).to_dict()


@router.get("/validations", response_model=list[ValidationOut])
def list_validations(
    ws: Authenticated, run_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[dict[str, Any]]:
    """Validations, newest first."""
    return [v.to_dict() for v in ws.validations.list(run_id)]
