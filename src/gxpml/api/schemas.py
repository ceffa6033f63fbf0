"""The REST API's request and response bodies (pydantic): validated once, at the edge."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Name = Field(min_length=1, max_length=200)
Reason = Field(max_length=2000, description="Why (Annex 11 §9); recorded in the audit trail.")


class Body(BaseModel):
    """Request bodies are strict: no unknown fields, no coercion ("yes" is not a boolean)."""

    model_config = ConfigDict(extra="forbid", strict=True)


# ---------------------------------------------------------------- requests


class LoginIn(Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class UserIn(Body):
    username: str = Field(min_length=1, max_length=64)
    full_name: str = Name
    password: str = Field(min_length=1, max_length=1024)
    email: str | None = Field(default=None, max_length=254)
    roles: list[str] = Field(default_factory=list, max_length=10)


class ReasonIn(Body):
    reason: str = Reason


class PasswordChangeIn(Body):
    old_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class PasswordResetIn(Body):
    new_password: str = Field(min_length=1, max_length=1024)
    reason: str = Reason


class RoleIn(Body):
    username: str = Field(min_length=1, max_length=64)
    role: str = Field(min_length=1, max_length=32)
    reason: str | None = Field(default=None, max_length=2000)


class RoleRevokeIn(Body):
    username: str = Field(min_length=1, max_length=64)
    role: str = Field(min_length=1, max_length=32)
    reason: str = Reason


class TokenIn(Body):
    name: str = Name
    roles: list[str] | None = Field(default=None, max_length=10)
    expires_days: int = Field(default=90, ge=1, le=3650)
    username: str | None = Field(default=None, max_length=64)
    kind: Literal["api", "service"] = "api"


class ExportIn(Body):
    format: Literal["jsonl", "csv"] = "jsonl"
    since: str | None = Field(default=None, max_length=40)
    until: str | None = Field(default=None, max_length=40)


class FsckIn(Body):
    remove_orphans: bool = False


class RotateIn(Body):
    reason: str = Reason
    destroy_old: bool = False


# ---------------------------------------------------------------- responses


class ErrorDetail(BaseModel):
    type: str
    message: str
    request_id: str | None


class ErrorOut(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: Literal["ok"]


class SessionOut(BaseModel):
    token: str
    username: str


class ActorOut(BaseModel):
    id: str
    username: str
    name: str
    roles: list[str]
    token_id: str | None


class UserOut(BaseModel):
    id: str
    username: str
    full_name: str
    email: str | None
    status: str
    roles: list[str]
    created_at: str
    password_changed_at: str
    failed_logins: int


class TokenOut(BaseModel):
    id: str
    username: str
    kind: str
    name: str | None
    roles: list[str] | None
    created_at: str
    expires_at: str | None
    revoked_at: str | None


class TokenCreated(BaseModel):
    info: TokenOut
    token: str = Field(description="The token text; shown once, store it safely.")


class EventOut(BaseModel):
    seq: int
    ts: str
    actor_id: str
    actor_name: str
    action: str
    entity_type: str | None
    entity_id: str | None
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    reason: str | None
    request_id: str | None
    prev_hash: str
    hash: str


class ProblemOut(BaseModel):
    check: str
    message: str
    seq: int | None


class VerifyOut(BaseModel):
    ok: bool
    events: int
    checkpoints: int
    records: int
    segments: int
    head_seq: int
    head_hash: str
    first_failure: int | None
    problems: list[ProblemOut]


class CheckpointOut(BaseModel):
    seq: int


class ArtifactOut(BaseModel):
    digest: str
    size: int
    stored_size: int
    encrypted: bool
    name: str | None
    created_at: str
    erased_at: str | None


class FsckOut(BaseModel):
    ok: bool
    checked: int
    problems: list[str]
    orphans: list[str]
    stale_temps: list[str]
    removed: list[str]


class KeysOut(BaseModel):
    master_key_id: str
    data_keys_by_master_key: dict[str, int]
    signing_key_id: str
    signing_public_key: str


class RotateOut(BaseModel):
    old_key_id: str
    new_key_id: str
    rewrapped: int
    destroyed: list[str]
    retired: list[str]


class WorkspaceOut(BaseModel):
    workspace_id: str
    encryption: bool
    signing_key: str
    actor: str


class LineageNodeOut(BaseModel):
    id: str
    type: str
    depth: int


class LineageEdgeOut(BaseModel):
    upstream: str
    downstream: str
    type: str


class LineageOut(BaseModel):
    root: str
    direction: Literal["up", "down"]
    nodes: list[LineageNodeOut]
    edges: list[LineageEdgeOut]
