"""``ws.validations`` of a workspace reached through ``gxpml server``: the same methods as
:class:`gxpml.validation.service.Validations`, over ``/api/v1/runs/{id}/criteria`` and
``/api/v1/validations``."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from gxpml.validation.records import CriteriaLockInfo, ValidationInfo

if TYPE_CHECKING:
    from gxpml.remote import RemoteWorkspace

__all__ = ["RemoteValidations"]


def _id(run_id: str) -> str:
    return quote(str(run_id), safe="")


class RemoteValidations:
    def __init__(self, ws: RemoteWorkspace) -> None:
        self._ws = ws

    def lock_criteria(self, run_id: str, criteria: str) -> CriteriaLockInfo:
        return CriteriaLockInfo.from_dict(self._ws._json(
            "POST", f"/runs/{_id(run_id)}/criteria", json={"criteria": criteria}))

    def locks(self, run_id: str) -> list[CriteriaLockInfo]:
        return [CriteriaLockInfo.from_dict(x) for x in self._ws._json("GET", f"/runs/{_id(run_id)}/criteria")]

    def record(
        self, run_id: str, *, model: str, results: str, report_html: str, report_pdf: str | None = None,
        lock_id: str | None = None, dataset: str | None = None, passed: bool | None = None,
    ) -> ValidationInfo:
        body = {"model": model, "results": results, "report_html": report_html, "report_pdf": report_pdf,
                "lock_id": lock_id, "dataset": dataset, "passed": passed}
        return ValidationInfo.from_dict(self._ws._json("POST", f"/runs/{_id(run_id)}/validations", json=body))

    def list(self, run_id: str | None = None) -> list[ValidationInfo]:
        params = {} if run_id is None else {"run_id": run_id}
        return [ValidationInfo.from_dict(x) for x in self._ws._json("GET", "/validations", params=params)]
