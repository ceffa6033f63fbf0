"""What the dataset SDK returns: dataset versions and splits, local and remote alike.

Light on purpose (no pandas): the remote SDK and the CLI import these.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass, field
from typing import Any

from gxpml.canonical import parse_ts
from gxpml.errors import InvalidInput

__all__ = ["SPLITS", "DatasetVersionInfo", "SplitInfo", "VersionStatus", "parse_name", "parse_ref"]

#: The parts a split assigns rows to, and the code each has in a stored assignment.
SPLITS = {"train": 0, "validation": 1, "test": 2}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class VersionStatus(enum.StrEnum):
    """The lifecycle of a dataset version."""

    #: No check failed (or none were declared): the data may be read.
    READY = "ready"
    #: A declared check failed: reads are refused until the version is overridden.
    BLOCKED = "blocked"
    #: A check failed, and someone allowed its use anyway with a recorded reason.
    OVERRIDDEN = "overridden"
    #: Its data keys were destroyed: the record stays, the data is gone for good.
    ERASED = "erased"


def parse_name(name: str) -> str:
    """Check a dataset name: letters, digits, ``.``, ``_``, ``-``; up to 200 characters."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput(
            f"A dataset name is 1-200 letters, digits, '.', '_' or '-', starting with a letter or "
            f"digit; got {name!r}."
        )
    return name


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``"name"`` (the latest version) or ``"name:3"``; returns ``(name, version or None)``."""
    if not isinstance(ref, str):
        raise InvalidInput(f"A dataset reference is NAME or NAME:VERSION, e.g. labs:3; got {ref!r}.")
    name, sep, version = ref.partition(":")
    if not sep or version == "latest":
        return parse_name(name), None
    if not version.isdigit() or int(version) < 1:
        raise InvalidInput(
            f"A dataset reference is NAME or NAME:VERSION with VERSION a number from 1, e.g. labs:3; got {ref!r}."
        )
    return parse_name(name), int(version)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _dt(value: str | None) -> dt.datetime | None:
    return None if value is None else parse_ts(value)


@dataclass(frozen=True)
class SplitInfo:
    """A seeded assignment of a dataset version's rows to train, validation and test."""

    id: str
    dataset: str  # the version's reference, NAME:VERSION
    method: str  # random | group | time | group-time
    test: float
    validation: float
    group: str | None
    time: str | None
    seed: int
    sequestered: bool
    counts: dict[str, int]
    assignment_digest: str  # sha256:… over the row-by-row assignment
    artifact: str  # sha256:… of the stored assignment
    created_at: dt.datetime
    created_by: str
    current: bool  # the split ``load(..., split=...)`` uses
    test_reads: int  # recorded reads of the test rows (sequestered splits)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "dataset": self.dataset, "method": self.method, "test": self.test,
            "validation": self.validation, "group": self.group, "time": self.time, "seed": self.seed,
            "sequestered": self.sequestered, "counts": dict(self.counts),
            "assignment_digest": self.assignment_digest, "artifact": self.artifact,
            "created_at": self.created_at.isoformat(), "created_by": self.created_by,
            "current": self.current, "test_reads": self.test_reads,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SplitInfo:
        return cls(
            id=data["id"], dataset=data["dataset"], method=data["method"], test=data["test"],
            validation=data["validation"], group=data["group"], time=data["time"], seed=data["seed"],
            sequestered=data["sequestered"], counts=dict(data["counts"]),
            assignment_digest=data["assignment_digest"], artifact=data["artifact"],
            created_at=parse_ts(data["created_at"]), created_by=data["created_by"],
            current=data["current"], test_reads=data["test_reads"],
        )


@dataclass(frozen=True)
class DatasetVersionInfo:
    """One version of a dataset, with its dataset's catalog metadata.

    ``digest`` identifies the content (rows and schema, see docs/data.md); ``artifact`` is the
    stored Parquet file. ``summary`` holds per-column counts only; the statistics are in the
    profile (:meth:`Data.profile`), readable by those who may read the data.
    """

    id: str
    name: str
    version: int
    status: VersionStatus
    digest: str
    artifact: str
    num_rows: int
    columns: list[dict[str, str]]  # [{"name", "type"}] in order
    summary: dict[str, dict[str, Any]]
    checks: list[dict[str, Any]]  # [{"column", "check", "failures"}]; empty: none declared
    checks_spec: str | None
    override_reason: str | None
    derived_from: str | None  # NAME:VERSION
    source_format: str
    source_uri: str | None
    description: str | None
    owner: str | None
    phi: bool
    retention_days: int | None
    read_roles: list[str] | None
    created_at: dt.datetime
    created_by: str
    erased_at: dt.datetime | None = None
    splits: list[SplitInfo] = field(default_factory=list)

    @property
    def ref(self) -> str:
        """``NAME:VERSION``."""
        return f"{self.name}:{self.version}"

    @property
    def failed_checks(self) -> list[dict[str, Any]]:
        return [c for c in self.checks if c["failures"]]

    @property
    def retain_until(self) -> dt.datetime | None:
        """When the retention period ends (None: no period set)."""
        if self.retention_days is None:
            return None
        return self.created_at + dt.timedelta(days=self.retention_days)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "version": self.version, "ref": self.ref,
            "status": self.status.value, "digest": self.digest, "artifact": self.artifact,
            "num_rows": self.num_rows, "columns": [dict(c) for c in self.columns],
            "summary": self.summary, "checks": [dict(c) for c in self.checks],
            "checks_spec": self.checks_spec, "override_reason": self.override_reason,
            "derived_from": self.derived_from, "source_format": self.source_format,
            "source_uri": self.source_uri, "description": self.description, "owner": self.owner,
            "phi": self.phi, "retention_days": self.retention_days,
            "read_roles": None if self.read_roles is None else list(self.read_roles),
            "created_at": self.created_at.isoformat(), "created_by": self.created_by,
            "erased_at": _iso(self.erased_at), "retain_until": _iso(self.retain_until),
            "splits": [s.to_dict() for s in self.splits],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetVersionInfo:
        return cls(
            id=data["id"], name=data["name"], version=data["version"],
            status=VersionStatus(data["status"]), digest=data["digest"], artifact=data["artifact"],
            num_rows=data["num_rows"], columns=[dict(c) for c in data["columns"]],
            summary=data["summary"], checks=[dict(c) for c in data["checks"]],
            checks_spec=data["checks_spec"], override_reason=data["override_reason"],
            derived_from=data["derived_from"], source_format=data["source_format"],
            source_uri=data["source_uri"], description=data["description"], owner=data["owner"],
            phi=data["phi"], retention_days=data["retention_days"],
            read_roles=None if data["read_roles"] is None else list(data["read_roles"]),
            created_at=parse_ts(data["created_at"]), created_by=data["created_by"],
            erased_at=_dt(data["erased_at"]),
            splits=[SplitInfo.from_dict(s) for s in data["splits"]],
        )
