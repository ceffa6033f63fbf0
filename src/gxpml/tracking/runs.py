"""``ws.runs``: start runs; read, list, compare and end them; load the models they made.

The methods in the second half (``create``, ``log_batch``, ``log_input``, ``log_artifact``,
``add_model``, ``end``, ``kill``) are the record API that a :class:`~gxpml.tracking.run.Run`
writes through, locally or over REST: each is one unit of work, and only the actor who
started a run may record to it while it is running.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, insert, select
from sqlalchemy.orm import Session

from gxpml.artifacts.objects import parse_digest
from gxpml.canonical import canonical_json, format_ts, parse_ts, utcnow
from gxpml.errors import Conflict, InvalidInput, NotFound, PermissionDenied, ReasonRequired
from gxpml.lineage.graph import link
from gxpml.store.tables import ArtifactRecord, User
from gxpml.store.uow import UnitOfWork
from gxpml.tracking.records import (
    ARTIFACT_KINDS,
    MODEL_FORMATS,
    REPORT_KINDS,
    SPLITS,
    ArtifactLink,
    InputInfo,
    Metric,
    ModelInfo,
    RunComparison,
    RunInfo,
    RunSource,
    RunStatus,
    check_key,
    check_metrics,
    check_params,
    check_seed,
    check_tags,
    check_text,
    check_transition,
    compare,
    parse_status,
)
from gxpml.tracking.tables import (
    METRIC_SEGMENT,
    MetricPoint,
    RunArtifact,
    RunInput,
    RunModel,
    RunParam,
    RunTag,
    sealed_row,
)
from gxpml.tracking.tables import Run as RunRecord

if TYPE_CHECKING:
    from gxpml.tracking.run import Run
    from gxpml.workspace import Workspace

__all__ = ["Runs"]

_RUN_ID = re.compile(r"^[A-Za-z0-9_]{1,64}$")
MAX_LIST = 10_000
MAX_COMPARE = 50
MAX_ERROR = 4000
_CHUNK = 500


class _NotOwner(Exception):
    """Raised inside a unit of work so that the denial is recorded after it rolls back."""

    def __init__(self, owner: str) -> None:
        super().__init__(owner)
        self.owner = owner


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


def _infos(session: Session, runs: Sequence[RunRecord]) -> list[RunInfo]:
    """Full infos for ``runs`` (their params, latest metrics, tags, inputs and outputs), with
    one query per kind of record rather than per run."""
    ids = [r.id for r in runs]
    params: dict[str, dict[str, Any]] = {i: {} for i in ids}
    tags: dict[str, dict[str, str]] = {i: {} for i in ids}
    metrics: dict[str, dict[str, float]] = {i: {} for i in ids}
    inputs: dict[str, list[InputInfo]] = {i: [] for i in ids}
    artifacts: dict[str, list[ArtifactLink]] = {i: [] for i in ids}
    models: dict[str, list[ModelInfo]] = {i: [] for i in ids}
    for chunk in _chunks(ids):
        for p in session.scalars(select(RunParam).where(RunParam.run_id.in_(chunk)).order_by(RunParam.key)):
            params[p.run_id][p.key] = json.loads(p.value)
        for t in session.scalars(select(RunTag).where(RunTag.run_id.in_(chunk)).order_by(RunTag.key)):
            tags[t.run_id][t.key] = t.value
        last = (select(MetricPoint.run_id, MetricPoint.key, func.max(MetricPoint.seq).label("seq"))
                .where(MetricPoint.run_id.in_(chunk)).group_by(MetricPoint.run_id, MetricPoint.key).subquery())
        latest = (select(MetricPoint.run_id, MetricPoint.key, MetricPoint.value)
                  .join(last, and_(MetricPoint.run_id == last.c.run_id, MetricPoint.key == last.c.key,
                                   MetricPoint.seq == last.c.seq))
                  .order_by(MetricPoint.key))
        for run_id, key, value in session.execute(latest):
            metrics[run_id][key] = float(value)
        for i in session.scalars(select(RunInput).where(RunInput.run_id.in_(chunk)).order_by(RunInput.created_at, RunInput.id)):
            inputs[i.run_id].append(InputInfo(id=i.id, kind=i.kind, ref=i.ref, version_id=i.version_id, digest=i.digest,
                                              split=i.split, split_id=i.split_id, created_at=i.created_at))
        for a in session.scalars(select(RunArtifact).where(RunArtifact.run_id.in_(chunk)).order_by(RunArtifact.created_at, RunArtifact.name)):
            artifacts[a.run_id].append(ArtifactLink(name=a.name, kind=a.kind, digest=a.digest, created_at=a.created_at))
        for m in session.scalars(select(RunModel).where(RunModel.run_id.in_(chunk)).order_by(RunModel.created_at, RunModel.name)):
            models[m.run_id].append(_model_info(m))
    creators = {r.created_by for r in runs}
    names: dict[str, str] = {}
    for user_id, username in session.execute(select(User.id, User.username).where(User.id.in_(creators))):
        names[user_id] = username
    return [
        RunInfo(
            id=r.id, experiment=r.experiment, name=r.name, status=RunStatus(r.status), seed=r.seed,
            created_by=names.get(r.created_by, r.created_by), started_at=r.started_at, ended_at=r.ended_at,
            error=r.error,
            source=RunSource(environment_digest=r.environment_digest, entry_point=r.entry_point,
                             code_digest=r.code_digest, code_artifact=r.code_artifact,
                             git_commit=r.git_commit, git_dirty=r.git_dirty),
            params=params[r.id], metrics=metrics[r.id], tags=tags[r.id], inputs=tuple(inputs[r.id]),
            artifacts=tuple(artifacts[r.id]), models=tuple(models[r.id]),
        )
        for r in runs
    ]


def _model_info(m: RunModel) -> ModelInfo:
    return ModelInfo(
        id=m.id, run_id=m.run_id, name=m.name, flavor=m.flavor, format=m.format, digest=m.digest,
        trusted_types=tuple(json.loads(m.trusted_types)), vouched_types=tuple(json.loads(m.vouched_types)),
        signature=json.loads(m.signature), example_digest=m.example_digest,
        libraries=json.loads(m.libraries), created_at=m.created_at,
    )


def _not_found(run_id: object) -> NotFound:
    return NotFound(f"No run {run_id!r} in this workspace. List runs with `gxpml runs list`.")


def _known(session: Session, run_id: object) -> RunRecord:
    """The run record, or NotFound (also for strings that cannot be a run id)."""
    run = session.get(RunRecord, run_id) if isinstance(run_id, str) and _RUN_ID.match(run_id) else None
    if run is None:
        raise _not_found(run_id)
    return run


class Runs:
    """``ws.runs``: runs and what they recorded."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    # ------------------------------------------------------------------ starting

    def start(
        self, experiment: str, *, seed: int | None = None, name: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Run:
        """Start a run: seed the random generators, capture the environment and record the run.
        Use it as a context manager (``with ws.runs.start(...) as run:``)."""
        from gxpml.tracking.run import begin

        return begin(self, self._ws, experiment, seed=seed, name=name, tags=tags)

    # ------------------------------------------------------------------ reading

    def get(self, run_id: str) -> RunInfo:
        """The run ``run_id`` with its params, latest metrics, tags, inputs and outputs."""
        ws = self._ws
        ws._db.authorize(ws.actor, "run.read")
        with ws._db.read() as session:
            return _infos(session, [_known(session, run_id)])[0]

    def metrics(self, run_id: str, key: str) -> list[Metric]:
        """Every point of metric ``key`` of the run, in the order logged (flushed points only)."""
        ws = self._ws
        ws._db.authorize(ws.actor, "run.read")
        check_key(key, "metric")
        with ws._db.read() as session:
            _known(session, run_id)
            rows = session.execute(
                select(MetricPoint.key, MetricPoint.value, MetricPoint.step, MetricPoint.ts)
                .where(MetricPoint.run_id == run_id, MetricPoint.key == key).order_by(MetricPoint.seq)
            ).all()
            if not rows:
                keys = session.scalars(select(MetricPoint.key).where(MetricPoint.run_id == run_id).distinct()).all()
                raise NotFound(f"Run {run_id} has no metric {key!r} (metrics: {', '.join(sorted(keys)) or 'none'}).")
        return [Metric(key=k, value=float(v), step=int(s), ts=parse_ts(ts)) for k, v, s, ts in rows]

    def list(
        self, *, experiment: str | None = None, status: str | None = None, limit: int = 100,
    ) -> list[RunInfo]:
        """Runs, newest first, optionally of one experiment and in one status."""
        ws = self._ws
        ws._db.authorize(ws.actor, "run.read")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST:
            raise InvalidInput(f"limit must be an integer from 1 to {MAX_LIST}, got {limit!r}.")
        query = select(RunRecord)
        if experiment is not None:
            query = query.where(RunRecord.experiment == check_text(experiment, "experiment"))
        if status is not None:
            query = query.where(RunRecord.status == parse_status(status).value)
        query = query.order_by(RunRecord.started_at.desc(), RunRecord.id.desc()).limit(limit)
        with ws._db.read() as session:
            return _infos(session, list(session.scalars(query)))

    def compare(self, run_ids: Sequence[str]) -> RunComparison:
        """Params and latest metrics of ``run_ids`` side by side, and which keys differ."""
        if isinstance(run_ids, str) or not 1 <= len(run_ids) <= MAX_COMPARE:
            raise InvalidInput(f"Compare takes a list of 1 to {MAX_COMPARE} run ids, got {run_ids!r:.100}.")
        ws = self._ws
        ws._db.authorize(ws.actor, "run.read")
        with ws._db.read() as session:
            found = {run_id: _known(session, run_id) for run_id in dict.fromkeys(run_ids)}
            infos = {i.id: i for i in _infos(session, list(found.values()))}
        return compare([infos[i] for i in dict.fromkeys(run_ids)])

    def load_model(self, run_id: str, name: str, *, allow_pickle: bool = False) -> Any:
        """The model ``name`` that run ``run_id`` logged. Its bytes are checked against the
        recorded digest before anything is deserialized, and skops constructs only the
        types the record trusts. A raw pickle loads only with ``allow_pickle=True``."""
        from gxpml.tracking.run import load_model

        return load_model(self._ws, self.get(run_id), name, allow_pickle=allow_pickle)

    # ------------------------------------------------------------------ the record API

    def create(
        self, experiment: str, *, seed: int, name: str | None = None,
        tags: Mapping[str, str] | None = None, source: RunSource | None = None,
    ) -> RunInfo:
        """Record a new running run (``start`` calls this after capturing the environment)."""
        experiment = str(check_text(experiment, "experiment"))
        name = check_text(name, "run name", required=False)
        seed = check_seed(seed)
        checked_tags = check_tags(tags or {})
        source = source or RunSource()
        environment, code_digest, code_artifact = (
            None if d is None else parse_digest(d)
            for d in (source.environment_digest, source.code_digest, source.code_artifact)
        )
        entry_point = check_text(source.entry_point, "entry point", max_length=1000, required=False)
        commit = check_text(source.git_commit, "git commit", max_length=64, required=False)
        ws = self._ws
        with ws._db.write(ws.actor, "run.create") as uow:
            self._require_artifacts(uow, [d for d in (environment, code_artifact) if d is not None])
            row = uow.insert(
                RunRecord, experiment=experiment, name=name, status=RunStatus.RUNNING.value, seed=seed,
                created_by=ws.actor.id, environment_digest=environment, entry_point=entry_point,
                code_digest=code_digest, code_artifact=code_artifact, git_commit=commit,
                git_dirty=None if source.git_dirty is None else bool(source.git_dirty),
            )
            for key, value in checked_tags.items():
                uow.insert(RunTag, run_id=row["id"], key=key, value=value)
            run_node = f"run:{row['id']}"
            code = commit if commit and not source.git_dirty else code_digest
            if code is not None:
                link(uow, f"code:{code}", run_node, "associated-with")
            if environment is not None:
                link(uow, f"environment:{environment}", run_node, "associated-with")
        # A new run holds nothing but what was just written: no need to read it back.
        return RunInfo(
            id=row["id"], experiment=experiment, name=name, status=RunStatus.RUNNING, seed=seed,
            created_by=ws.actor.username, started_at=row["started_at"], ended_at=None, error=None,
            source=RunSource(environment_digest=environment, entry_point=entry_point, code_digest=code_digest,
                             code_artifact=code_artifact, git_commit=commit, git_dirty=row["git_dirty"]),
            tags=dict(sorted(checked_tags.items())),
        )

    def log_batch(
        self, run_id: str, *, params: Mapping[str, Any] | None = None, metrics: Sequence[Metric] = (),
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Record params (set once each), metric points (sealed as one segment) and tags in
        one unit of work."""
        checked_params = check_params(params or {})
        checked_tags = check_tags(tags or {})
        points = check_metrics(metrics)
        if not (checked_params or checked_tags or points):
            return
        with self._recording(run_id, "run.log") as (uow, _run):
            if checked_params:
                self._write_params(uow, run_id, checked_params)
            if points:
                last = uow.session.scalar(select(func.max(MetricPoint.seq)).where(MetricPoint.run_id == run_id)) or 0
                rows = [sealed_row(run_id, last + n, p.key, p.step, p.value, format_ts(p.ts))
                        for n, p in enumerate(points, start=1)]
                segment = uow.seal_segment(METRIC_SEGMENT, rows, owner_id=run_id)
                uow.connection.execute(insert(MetricPoint), [{**r, "segment_id": segment.id} for r in rows])
            if checked_tags:
                self._write_tags(uow, run_id, checked_tags)

    def log_input(self, run_id: str, dataset: str, *, split: str | None = None) -> InputInfo:
        """Declare that the run reads ``dataset`` (``NAME[:VERSION]``, resolved here to one
        version) and, optionally, one of its splits."""
        if split is not None and split not in SPLITS:
            raise InvalidInput(f"Unknown split {split!r}; one of {', '.join(SPLITS)} (or None for all rows).")
        check_text(dataset, "dataset reference", max_length=300)
        version = self._ws.data.show(dataset)
        split_id = None
        if split is not None:
            split_id = next((s.id for s in version.splits if s.current), None)
            if split_id is None:
                raise NotFound(f"Dataset version {version.ref} has no split, so it has no {split} rows. Split it first.")
        with self._recording(run_id, "run.input") as (uow, _run):
            row = uow.insert(RunInput, run_id=run_id, kind="dataset", ref=version.ref, version_id=version.id,
                             digest=parse_digest(version.digest), split=split, split_id=split_id)
            source = f"dataset_split:{split_id}" if split_id else f"dataset_version:{version.id}"
            link(uow, source, f"run:{run_id}", "contributed-to")
        return InputInfo(**{k: row[k] for k in InputInfo.__dataclass_fields__})

    def log_artifact(self, run_id: str, digest: str, *, name: str, kind: str = "artifact") -> ArtifactLink:
        """Link the stored artifact ``digest`` to the run under ``name`` (unique in the run)."""
        digest = parse_digest(digest)
        name = str(check_text(name, "artifact name", max_length=500))
        if kind not in ARTIFACT_KINDS:
            raise InvalidInput(f"Unknown artifact kind {kind!r}; one of {', '.join(ARTIFACT_KINDS)}.")
        with self._recording(run_id, "run.artifact") as (uow, _run):
            self._require_artifacts(uow, [digest])
            existing = uow.session.scalars(select(RunArtifact).where(RunArtifact.run_id == run_id, RunArtifact.name == name)).first()
            if existing is not None:
                if existing.digest == digest:
                    return ArtifactLink(name=existing.name, kind=existing.kind, digest=existing.digest, created_at=existing.created_at)
                raise Conflict(f"Run {run_id} has an artifact named {name!r} already (sha256:{existing.digest}); "
                               "log the new content under another name.")
            row = uow.insert(RunArtifact, run_id=run_id, name=name, kind=kind, digest=digest)
        return ArtifactLink(name=row["name"], kind=row["kind"], digest=row["digest"], created_at=row["created_at"])

    def add_model(
        self, run_id: str, name: str, *, digest: str, flavor: str, format: str,
        trusted_types: Sequence[str], vouched_types: Sequence[str], signature: Mapping[str, Any],
        libraries: Mapping[str, str], example_digest: str | None = None,
    ) -> ModelInfo:
        """Record a serialized model as an output of the run (``run.log_model`` calls this
        after storing it). For skops files the trusted types are re-derived from the stored
        bytes here: a record cannot trust more than the file needs, nor a foreign type that
        nobody vouched for."""
        from gxpml.tracking.models import needs_vouching, untrusted_types

        check_key(name, "model")
        digest = parse_digest(digest)
        example = None if example_digest is None else parse_digest(example_digest)
        if format not in MODEL_FORMATS:
            raise InvalidInput(f"Unknown model format {format!r}; one of {', '.join(MODEL_FORMATS)}.")
        flavor = str(check_text(flavor, "model flavor", max_length=32))
        trusted = sorted({str(check_text(t, "trusted type", max_length=300)) for t in trusted_types})
        vouched = sorted({str(check_text(t, "vouched type", max_length=300)) for t in vouched_types})
        if format == "skops":
            ws = self._ws
            needed = untrusted_types(ws.artifacts.read_bytes(digest))
            if needed != trusted:
                raise InvalidInput(f"The model file needs the trusted types {needed}, but the record names {trusted}.")
            unvouched = [t for t in trusted if needs_vouching(t) and t not in vouched]
            if unvouched:
                raise InvalidInput(f"The model holds types nobody vouched for: {', '.join(unvouched)}. Pass trusted=[...] naming them.")
        elif trusted or vouched:
            raise InvalidInput("A pickled model has no trusted types: pickle constructs whatever it holds.")
        try:
            signature_json, libraries_json = canonical_json(dict(signature)), canonical_json(dict(libraries))
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"The model signature and libraries must be plain JSON: {exc}.") from exc
        with self._recording(run_id, "run.model") as (uow, _run):
            self._require_artifacts(uow, [digest] + ([example] if example else []))
            if uow.session.scalars(select(RunModel.id).where(RunModel.run_id == run_id, RunModel.name == name)).first():
                raise Conflict(f"Run {run_id} has a model named {name!r} already; log this one under another name.")
            row = uow.insert(
                RunModel, run_id=run_id, name=name, flavor=flavor, format=format, digest=digest,
                trusted_types=canonical_json(trusted), vouched_types=canonical_json(vouched),
                signature=signature_json, example_digest=example, libraries=libraries_json,
            )
            link(uow, f"run:{run_id}", f"model:{row['id']}", "produced")
        return _model_info(RunModel(**row))

    def attach_report(self, run_id: str, digest: str, *, kind: str, produced_by: str | None = None) -> str:
        """Link the stored report ``digest`` (a reproduction or validation report about run
        ``run_id``) in lineage: ``run:<run_id>`` *contributed-to* ``report:<digest>``, and the
        run that made the report, if any, *produced* it. The run may be finished; the report
        adds to the record and changes nothing in the run. Returns the report's node."""
        permission = REPORT_KINDS.get(kind)
        if permission is None:
            raise InvalidInput(f"Unknown report kind {kind!r}; one of {', '.join(REPORT_KINDS)}.")
        digest = parse_digest(digest)
        node = f"report:{digest}"
        ws = self._ws
        with ws._db.write(ws.actor, f"run.report.{kind}", permission=permission) as uow:
            for rid in [run_id] + ([produced_by] if produced_by is not None else []):
                _known(uow.session, rid)
            self._require_artifacts(uow, [digest])
            link(uow, f"run:{run_id}", node, "contributed-to")
            if produced_by is not None:
                link(uow, f"run:{produced_by}", node, "produced")
        return node

    def end(self, run_id: str, status: str = "finished", *, error: str | None = None) -> RunInfo:
        """End a running run as finished, failed (with the ``error``) or killed."""
        target = parse_status(status)
        if target is RunStatus.RUNNING:
            raise InvalidInput("A run is ended as finished, failed or killed; 'running' is where it starts.")
        if error is not None:
            if not isinstance(error, str):
                raise InvalidInput(f"error must be a string, got {type(error).__name__}.")
            error = error.replace("\x00", "")[:MAX_ERROR]
        reason = {
            RunStatus.FINISHED: "the run's code completed",
            RunStatus.FAILED: f"the run's code failed: {error or 'no error recorded'}",
            RunStatus.KILLED: f"the run was stopped: {error or 'interrupted'}",
        }[target]
        with self._recording(run_id, "run.end", reason=reason, running=False) as (_uow, run):
            check_transition(run_id, run.status, target)
            run.status, run.ended_at, run.error = target.value, utcnow(), error
        return self.get(run_id)

    def kill(self, run_id: str, *, reason: str) -> RunInfo:
        """Stop a running run from outside (its process died, or it must not go on). Its
        owner may kill it; anyone else needs the ``run.kill`` permission."""
        if not isinstance(reason, str) or not reason.strip():
            raise ReasonRequired("Killing a run needs a reason: pass reason=... or --reason.")
        reason = str(check_text(reason, "reason", max_length=2000))
        with self._recording(run_id, "run.kill", reason=reason, running=False, others="run.kill") as (_uow, run):
            check_transition(run_id, run.status, RunStatus.KILLED)
            run.status, run.ended_at, run.error = RunStatus.KILLED.value, utcnow(), f"killed: {reason}"
        return self.get(run_id)

    # ------------------------------------------------------------------ internals

    @contextmanager
    def _recording(
        self, run_id: str, action: str, *, reason: str | None = None, running: bool = True,
        others: str | None = None,
    ) -> Iterator[tuple[UnitOfWork, RunRecord]]:
        """A unit of work on run ``run_id``: it must exist, belong to the actor (unless the
        actor holds ``others``) and, unless ``running=False``, be running."""
        ws = self._ws
        try:
            with ws._db.write(ws.actor, action, reason=reason, permission="run.create" if others is None else "self") as uow:
                run = _known(uow.session, run_id)
                if run.created_by != ws.actor.id and not (others and ws.actor.can(others)):
                    raise _NotOwner(run.created_by)
                if running and run.status != RunStatus.RUNNING:
                    raise Conflict(
                        f"Run {run_id} is {run.status}: it accepts no more params, metrics, tags, inputs, "
                        "artifacts or models. Start a new run (ws.start_run(...)) to record more."
                    )
                yield uow, run
        except _NotOwner as denied:
            ws._db.record_denial(ws.actor, f"{action} {run_id}")
            with ws._db.read() as session:
                owner = session.scalar(select(User.username).where(User.id == denied.owner)) or denied.owner
            raise PermissionDenied(
                f"Run {run_id} was started by {owner}; only {owner} can record to it or end it. "
                "Start a run of your own (ws.start_run(...))."
            ) from None

    @staticmethod
    def _require_artifacts(uow: UnitOfWork, digests: Sequence[str]) -> None:
        for digest in digests:
            if uow.session.get(ArtifactRecord, digest) is None:
                raise NotFound(f"No artifact sha256:{digest} in this workspace: store it first (ws.artifacts.put).")

    @staticmethod
    def _write_params(uow: UnitOfWork, run_id: str, params: Mapping[str, str]) -> None:
        existing = {p.key: p.value for p in uow.session.scalars(
            select(RunParam).where(RunParam.run_id == run_id, RunParam.key.in_(list(params))))}
        for key, value in params.items():
            if key in existing:
                if existing[key] != value:
                    raise Conflict(
                        f"Param {key!r} of run {run_id} is {existing[key]} already; a param is set once and "
                        f"cannot change to {value}. Log the new value in a new run."
                    )
                continue
            uow.insert(RunParam, run_id=run_id, key=key, value=value)

    @staticmethod
    def _write_tags(uow: UnitOfWork, run_id: str, tags: Mapping[str, str]) -> None:
        existing = {t.key: t for t in uow.session.scalars(
            select(RunTag).where(RunTag.run_id == run_id, RunTag.key.in_(list(tags))))}
        changed = []
        for key, value in tags.items():
            if key not in existing:
                uow.insert(RunTag, run_id=run_id, key=key, value=value)
            elif existing[key].value != value:
                existing[key].value = value
                changed.append(key)
        if changed:
            # A changed record needs a reason; the old value stays in the update's event.
            reason, uow.reason = uow.reason, f"tag(s) {', '.join(changed)} set again while the run was running"
            try:
                uow.session.flush()
            finally:
                uow.reason = reason

