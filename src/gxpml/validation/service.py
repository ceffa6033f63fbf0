"""``ws.validations``: lock acceptance criteria before a run's model is tested, and record
each validation with the digests of its evidence (results, HTML and PDF reports).

The computation itself (:func:`gxpml.validation.validate.validate`) runs in the caller's
process, locally or against a server; this service is the record of it. Each write is one
unit of work: the row, its audit event and its lineage edges commit together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from gxpml.artifacts.objects import parse_digest
from gxpml.errors import Conflict, InvalidInput, NotFound
from gxpml.lineage.graph import link
from gxpml.store.tables import ArtifactRecord
from gxpml.tracking.records import RunStatus
from gxpml.tracking.runs import _known
from gxpml.tracking.tables import Run, RunModel
from gxpml.validation.records import CriteriaLockInfo, ValidationInfo
from gxpml.validation.tables import CriteriaLock, Validation

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gxpml.workspace import Workspace

__all__ = ["Validations"]


def _lock_info(session: Session, lock: CriteriaLock) -> CriteriaLockInfo:
    earlier = session.scalars(select(CriteriaLock).where(CriteriaLock.run_id == lock.run_id,
                                                         CriteriaLock.locked_at < lock.locked_at,
                                                         CriteriaLock.digest != lock.digest)).all()
    other_ids = [e.id for e in earlier]
    tested = session.scalars(select(Validation.id).where(Validation.lock_id.in_(other_ids))
                             .order_by(Validation.created_at)).all() if other_ids else []
    return CriteriaLockInfo(
        id=lock.id, run_id=lock.run_id, digest=lock.digest, artifact=lock.artifact, entries=lock.entries,
        locked_by=lock.locked_by, locked_at=lock.locked_at,
        replaces=tuple(sorted({e.digest for e in earlier})), after_tests=tuple(tested))


def _validation_info(row: Validation) -> ValidationInfo:
    return ValidationInfo(**{k: getattr(row, k) for k in ValidationInfo.__dataclass_fields__})


class Validations:
    """Criteria locks and validation records of a workspace (``ws.validations``)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def lock_criteria(self, run_id: str, criteria: str) -> CriteriaLockInfo:
        """Lock the acceptance ``criteria`` (YAML text) for run ``run_id`` before its model is
        tested. The criteria are checked, stored in canonical form and their digest recorded
        with a timestamp in the audit trail. Locking the same criteria again returns the
        existing lock; other criteria make a new lock that says which validations ran under
        the old ones (criteria changed after a test run)."""
        from gxpml.validation.criteria import parse_criteria

        parsed = parse_criteria(criteria)
        ws = self._ws
        ws._db.authorize(ws.actor, "model.validate")
        with ws._db.read() as session:
            self._validatable(session, run_id)
            latest = session.scalars(select(CriteriaLock).where(CriteriaLock.run_id == run_id)
                                     .order_by(CriteriaLock.locked_at.desc())).first()
            if latest is not None and latest.digest == parsed.digest:  # the criteria in force already
                return _lock_info(session, latest)
        stored = ws.artifacts.put(parsed.canonical().encode("utf-8"), name=f"criteria-{run_id}.json").digest
        with ws._db.write(ws.actor, "validation.lock", permission="model.validate") as uow:
            self._validatable(uow.session, run_id)
            row = uow.insert(CriteriaLock, run_id=run_id, digest=parsed.digest, artifact=stored,
                             entries=len(parsed.entries), locked_by=ws.actor.id)
            link(uow, f"run:{run_id}", f"criteria:{row['id']}", "associated-with")
        with ws._db.read() as session:
            lock = session.get(CriteriaLock, row["id"])
            assert lock is not None
            return _lock_info(session, lock)

    def locks(self, run_id: str) -> list[CriteriaLockInfo]:
        """The criteria locked for run ``run_id``, oldest first."""
        ws = self._ws
        ws._db.authorize(ws.actor, "run.read")
        with ws._db.read() as session:
            _known(session, run_id)
            rows = session.scalars(select(CriteriaLock).where(CriteriaLock.run_id == run_id)
                                   .order_by(CriteriaLock.locked_at)).all()
            return [_lock_info(session, r) for r in rows]

    def record(
        self, run_id: str, *, model: str, results: str, report_html: str, report_pdf: str | None = None,
        lock_id: str | None = None, dataset: str | None = None, passed: bool | None = None,
    ) -> ValidationInfo:
        """Record a validation of run ``run_id``'s ``model`` whose evidence is stored (the
        artifacts ``results``, ``report_html`` and ``report_pdf``), and link the reports in
        lineage: the run *contributed-to* each. ``lock_id`` is the criteria lock it ran
        under (its latest, else Conflict: criteria are locked before testing)."""
        digests = {"results": parse_digest(results), "report_html": parse_digest(report_html)}
        if report_pdf is not None:
            digests["report_pdf"] = parse_digest(report_pdf)
        if passed is not None and not isinstance(passed, bool):
            raise InvalidInput(f"passed must be true, false or null, got {passed!r}.")
        if passed is not None and lock_id is None:
            raise InvalidInput("A pass or fail needs the criteria lock it was judged under (lock_id).")
        ws = self._ws
        with ws._db.write(ws.actor, "validation.record", permission="model.validate") as uow:
            run = self._validatable(uow.session, run_id)
            if model not in set(uow.session.scalars(select(RunModel.name).where(RunModel.run_id == run.id))):
                raise NotFound(f"Run {run_id} has no model named {model!r}; see gxpml runs show {run_id}.")
            if lock_id is not None:
                latest = uow.session.scalars(select(CriteriaLock).where(CriteriaLock.run_id == run_id)
                                             .order_by(CriteriaLock.locked_at.desc())).first()
                if latest is None or latest.id != lock_id:
                    raise Conflict(f"Criteria lock {lock_id} is not the latest lock of run {run_id}"
                                   + (f" ({latest.id} is)" if latest else "") + ": validate under the criteria in force.")
            for digest in digests.values():
                if uow.session.get(ArtifactRecord, digest) is None:
                    raise NotFound(f"No artifact sha256:{digest} in this workspace: store it first (ws.artifacts.put).")
            row = uow.insert(Validation, run_id=run_id, lock_id=lock_id, model=model, dataset=dataset, passed=passed,
                             created_by=ws.actor.id, **digests)
            validation = f"validation:{row['id']}"
            link(uow, f"run:{run_id}", validation, "contributed-to")
            for digest in digests.values():
                link(uow, validation, f"report:{digest}", "produced")
        return _validation_info(Validation(**row))

    def list(self, run_id: str | None = None) -> list[ValidationInfo]:
        """Validations, newest first (of one run when ``run_id`` is given)."""
        ws = self._ws
        ws._db.authorize(ws.actor, "run.read")
        with ws._db.read() as session:
            query = select(Validation).order_by(Validation.created_at.desc())
            if run_id is not None:
                _known(session, run_id)
                query = query.where(Validation.run_id == run_id)
            return [_validation_info(r) for r in session.scalars(query.limit(1000))]

    @staticmethod
    def _validatable(session: Session, run_id: str) -> Run:
        run = _known(session, run_id)
        if run.status != RunStatus.FINISHED.value:
            raise Conflict(f"Run {run_id} is {run.status}: only a finished run's model is validated. "
                           "End the run first (it ends when its `with` block completes).")
        return run

