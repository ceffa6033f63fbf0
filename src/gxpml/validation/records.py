"""What the validation service returns: criteria locks and validation records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gxpml.canonical import format_ts, parse_ts

__all__ = ["CriteriaLockInfo", "ValidationInfo"]


@dataclass(frozen=True)
class CriteriaLockInfo:
    """Acceptance criteria locked for a run before its model was tested.

    ``replaces`` names earlier locks of the run with other criteria; ``after_tests`` names
    validations that ran under those earlier criteria — criteria changed after a test run,
    which the validation report flags.
    """

    id: str
    run_id: str
    digest: str
    artifact: str
    entries: int
    locked_by: str
    locked_at: dt.datetime
    replaces: tuple[str, ...] = ()
    after_tests: tuple[str, ...] = ()

    @property
    def changed_after_tests(self) -> bool:
        return bool(self.after_tests)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "run_id": self.run_id, "digest": self.digest, "artifact": self.artifact,
                "entries": self.entries, "locked_by": self.locked_by, "locked_at": format_ts(self.locked_at),
                "replaces": list(self.replaces), "after_tests": list(self.after_tests)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CriteriaLockInfo:
        return cls(id=data["id"], run_id=data["run_id"], digest=data["digest"], artifact=data["artifact"],
                   entries=int(data["entries"]), locked_by=data["locked_by"], locked_at=parse_ts(data["locked_at"]),
                   replaces=tuple(data.get("replaces", ())), after_tests=tuple(data.get("after_tests", ())))


@dataclass(frozen=True)
class ValidationInfo:
    """One validation of a run's model: under which criteria, on which data, its outcome
    (``passed`` is None when no criteria were declared) and the digests of its evidence."""

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
    created_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "run_id": self.run_id, "lock_id": self.lock_id, "model": self.model,
                "dataset": self.dataset, "passed": self.passed, "results": self.results,
                "report_html": self.report_html, "report_pdf": self.report_pdf, "created_by": self.created_by,
                "created_at": format_ts(self.created_at)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValidationInfo:
        return cls(**{**{k: data[k] for k in cls.__dataclass_fields__ if k != "created_at"},
                      "created_at": parse_ts(data["created_at"])})
