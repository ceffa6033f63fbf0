"""``ws.data``: register, check, profile, split, load and erase dataset versions.

    v = ws.data.register("labs", "labs.csv", checks="labs.yaml", phi=True, read_roles=["data-scientist"])
    ws.data.split("labs", test=0.2, group="patient_id", seed=42)
    train = ws.data.load("labs:1", split="train")

A version is stored once, as Parquet in the artifact store (encrypted), and named by the
content digest of its rows and schema (:mod:`gxpml.data.digest`). Its record keeps the schema,
counts, the results of its checks and its lifecycle state (:class:`VersionStatus`); values
derived from the rows (profile statistics, failing values) are kept in an encrypted artifact
beside the data, so that erasing a version destroys them with it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gxpml.artifacts.catalog import trusted_read
from gxpml.canonical import canonical_json, format_ts, new_id, utcnow
from gxpml.data.checks import CheckRunner, ChecksSpec, parse_checks
from gxpml.data.digest import ContentDigest
from gxpml.data.frames import open_source, write_parquet
from gxpml.data.models import (
    SPLITS,
    DatasetVersionInfo,
    SplitInfo,
    VersionStatus,
    parse_name,
    parse_ref,
)
from gxpml.data.profile import Profile
from gxpml.data.splits import assign
from gxpml.data.tables import Dataset, DatasetSplit, DatasetVersion
from gxpml.errors import Conflict, InvalidInput, NotFound, PermissionDenied, ReasonRequired
from gxpml.identity.roles import ROLES
from gxpml.lineage.graph import link
from gxpml.store.tables import ArtifactKey, ArtifactRecord, AuditEvent, User

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]

    from gxpml.store.uow import UnitOfWork
    from gxpml.workspace import Workspace

__all__ = ["Data"]

TEST_READ = "dataset.test_read"
_UNSET: Any = object()


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class Data:
    """``ws.data``: the dataset catalog of a workspace."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    # ------------------------------------------------------------------ registering

    def register(
        self, name: str, source: Any, *, description: str | None = None, source_uri: str | None = None,
        owner: str | None = None, phi: bool | None = None, retention_days: int | None = None,
        read_roles: Sequence[str] | None = None, checks: str | Path | dict[str, Any] | None = None,
        derived_from: str | None = None, override_reason: str | None = None,
    ) -> DatasetVersionInfo:
        """Register ``source`` (a CSV or Parquet path, or a pandas DataFrame) as the next
        version of dataset ``name``; returns it.

        Content identical to an existing version of the dataset returns that version and
        records nothing new. ``checks`` (a YAML/JSON file or a dict, see docs/data.md) run
        on the data: if one fails, the version is registered but *blocked* — reading it is
        refused — unless ``override_reason`` says why it may be used anyway (audited).

        Catalog metadata (``description``, ``owner``, ``phi``, ``retention_days``,
        ``read_roles``) is set by the first version; later versions may repeat it but not
        change it (use :meth:`update`). ``derived_from`` names the version this one was made
        from (``NAME:VERSION``).
        """
        return self._register(
            name, source, description=description, source_uri=source_uri, owner=owner, phi=phi,
            retention_days=retention_days, read_roles=read_roles, checks=checks,
            derived_from=derived_from, override_reason=override_reason,
        )

    def _register(
        self, name: str, source: Any, *, description: str | None, source_uri: str | None,
        owner: str | None, phi: bool | None, retention_days: int | None,
        read_roles: Sequence[str] | None, checks: str | Path | dict[str, Any] | ChecksSpec | None,
        derived_from: str | None, override_reason: str | None, source_format: str | None = None,
    ) -> DatasetVersionInfo:
        ws = self._ws
        ws._db.authorize(ws.actor, "data.register")
        parse_name(name)
        roles = _check_roles(read_roles)
        if retention_days is not None and (isinstance(retention_days, bool) or not isinstance(retention_days, int)
                                           or retention_days < 1):
            raise InvalidInput(f"retention_days must be a whole number of days from 1; got {retention_days!r}.")
        if phi is not None and not isinstance(phi, bool):
            raise InvalidInput(f"phi must be true or false; got {phi!r}.")
        override_reason = (override_reason or "").strip() or None
        spec = None if checks is None else parse_checks(checks)
        catalog = {"description": description, "owner": owner, "phi": phi, "retention_days": retention_days,
                   "read_roles": roles}
        with ws._db.read() as session:
            parent = None if derived_from is None else self._resolve(session, derived_from)[1]
            dataset = session.scalars(select(Dataset).where(Dataset.name == name)).one_or_none()
            if owner is not None and session.scalars(select(User.id).where(User.username == owner)).first() is None:
                raise NotFound(f"No user named {owner!r} to own dataset {name}. List users with `gxpml user list`.")
            if dataset is not None:
                _same_catalog(dataset, catalog)

        src = open_source(source, declared_types=spec.declared_types if spec else None, source_format=source_format)
        if spec is not None:
            spec.validate_schema(src.type_names)
        if source_uri is None and source_format is None:  # a local file: where it was
            source_uri = src.uri
        version_id = new_id("dsv")

        with tempfile.TemporaryDirectory(prefix="gxpml-data-") as tmp:
            parquet = Path(tmp) / "data.parquet"
            digest, profile, runner = _ingest(src, spec, parquet, version_id, name)

            with ws._db.read() as session:
                same = self._identical(session, name, digest)
                if same is not None:
                    if same.status == VersionStatus.BLOCKED and override_reason:
                        return self._override(same.id, override_reason)
                    return self._info(session, same)

            results = runner.results() if runner else []
            failed = [r for r in results if r["failures"]]
            if failed and override_reason:
                ws._db.authorize(ws.actor, "data.override")
                status = VersionStatus.OVERRIDDEN
            elif failed:
                status = VersionStatus.BLOCKED
            else:
                status, override_reason = VersionStatus.READY, None

            artifacts = ws.artifacts
            stored = artifacts.put(parquet, name=f"dataset {name} {version_id}.parquet")
            report = {"dataset": name, "version_id": version_id, "digest": f"sha256:{digest}",
                      "profile": profile.to_dict(), "checks": runner.details() if runner else []}
            profile_info = artifacts.put(canonical_json(report).encode("utf-8"),
                                         name=f"dataset {name} {version_id} profile.json")
            spec_digest = None
            if spec is not None:
                spec_digest = artifacts.put(spec.canonical(), name=f"dataset {name} checks.json").digest

        with ws._db.write(ws.actor, "dataset.register", reason=override_reason, permission="data.register") as uow:
            session = uow.session
            same = self._identical(session, name, digest)
            if same is not None:  # registered concurrently
                return self._info(session, same)
            dataset = session.scalars(select(Dataset).where(Dataset.name == name)).one_or_none()
            if dataset is None:
                dataset = Dataset(
                    name=name, description=description, owner=owner or ws.actor.username, phi=bool(phi),
                    retention_days=retention_days, read_roles=None if roles is None else canonical_json(roles),
                    created_by=ws.actor.username,
                )
                session.add(dataset)
                session.flush()
            else:
                _same_catalog(dataset, catalog)
            latest = session.scalar(select(func.max(DatasetVersion.version)).where(DatasetVersion.dataset_id == dataset.id))
            version = DatasetVersion(
                id=version_id, dataset_id=dataset.id, version=(latest or 0) + 1, status=status.value,
                digest=digest, artifact=stored.digest, profile_artifact=profile_info.digest,
                schema=canonical_json([{"name": n, "type": t} for n, t in src.type_names.items()]),
                num_rows=profile.rows, summary=canonical_json(profile.summary()),
                source_format=src.format, source_uri=source_uri, derived_from=parent.id if parent else None,
                checks_spec=spec_digest, checks=None if spec is None else canonical_json(results),
                override_reason=override_reason, created_by=ws.actor.username,
            )
            session.add(version)
            session.flush()
            if parent is not None:
                _link(uow, f"dataset_version:{parent.id}", f"dataset_version:{version.id}", "derived-from")
            return self._info(session, version)

    def _identical(self, session: Session, name: str, digest: str) -> DatasetVersion | None:
        return session.scalars(
            select(DatasetVersion).join(Dataset, Dataset.id == DatasetVersion.dataset_id)
            .where(Dataset.name == name, DatasetVersion.digest == digest,
                   DatasetVersion.status != VersionStatus.ERASED.value)
            .order_by(DatasetVersion.version)
        ).first()

    def _override(self, version_id: str, reason: str) -> DatasetVersionInfo:
        ws = self._ws
        ws._db.authorize(ws.actor, "data.override")
        with ws._db.write(ws.actor, "dataset.override", reason=reason, permission="data.override") as uow:
            version = uow.session.get(DatasetVersion, version_id)
            assert version is not None
            if version.status == VersionStatus.BLOCKED.value:
                version.status = VersionStatus.OVERRIDDEN.value
                version.override_reason = reason
                uow.session.flush()
            return self._info(uow.session, version)

    def update(
        self, name: str, *, reason: str, description: str | None = None, owner: str | None = None,
        phi: bool | None = None, retention_days: int | None = None, read_roles: Sequence[str] | None = None,
    ) -> DatasetVersionInfo:
        """Change the catalog metadata of dataset ``name`` (its owner or an administrator);
        returns its latest version. Arguments left out are unchanged."""
        ws = self._ws
        if not reason or not reason.strip():
            raise ReasonRequired(f"Changing dataset {name} needs a reason: pass reason=... or --reason.")
        roles = _check_roles(read_roles)
        if retention_days is not None and (isinstance(retention_days, bool) or not isinstance(retention_days, int)
                                           or retention_days < 1):
            raise InvalidInput(f"retention_days must be a whole number of days from 1; got {retention_days!r}.")
        with ws._db.read() as session:
            dataset = self._dataset(session, parse_name(name))
            if owner is not None and session.scalars(select(User.id).where(User.username == owner)).first() is None:
                raise NotFound(f"No user named {owner!r} to own dataset {name}. List users with `gxpml user list`.")
        self._authorize_owner(dataset, "data.update")
        with ws._db.transaction(ws.actor, "dataset.update", reason=reason.strip(), claim=True) as uow:
            record = uow.session.get(Dataset, dataset.id)
            assert record is not None
            changes = {"description": description, "owner": owner, "phi": phi, "retention_days": retention_days,
                       "read_roles": None if roles is None else canonical_json(roles)}
            for key, value in changes.items():
                if value is not None:
                    setattr(record, key, value)
            uow.session.flush()
            latest = self._version(uow.session, record, None)
            return self._info(uow.session, latest)

    # ------------------------------------------------------------------ reading

    def list(self, name: str | None = None) -> list[DatasetVersionInfo]:
        """The latest version of every dataset, by name; with ``name``, every version of it."""
        ws = self._ws
        ws._db.authorize(ws.actor, "data.list")
        with ws._db.read() as session:
            if name is not None:
                dataset = self._dataset(session, parse_name(name))
                versions = session.scalars(select(DatasetVersion).where(DatasetVersion.dataset_id == dataset.id)
                                           .order_by(DatasetVersion.version)).all()
                return [self._info(session, v, splits=False) for v in versions]
            latest = (select(DatasetVersion.dataset_id, func.max(DatasetVersion.version).label("version"))
                      .group_by(DatasetVersion.dataset_id).subquery())
            rows = session.scalars(
                select(DatasetVersion)
                .join(latest, (latest.c.dataset_id == DatasetVersion.dataset_id) & (latest.c.version == DatasetVersion.version))
                .join(Dataset, Dataset.id == DatasetVersion.dataset_id).order_by(Dataset.name)
            ).all()
            return [self._info(session, v, splits=False) for v in rows]

    def show(self, ref: str) -> DatasetVersionInfo:
        """One version (``"name"``: the latest; ``"name:3"``), with its splits."""
        ws = self._ws
        ws._db.authorize(ws.actor, "data.list")
        with ws._db.read() as session:
            return self._info(session, self._resolve(session, ref)[1])

    def profile(self, ref: str) -> dict[str, Any]:
        """The statistical profile of a version and the failing values of its checks (read
        from its encrypted profile artifact: needs the right to read the data)."""
        ws = self._ws
        ws._db.authorize(ws.actor, "data.read")
        with ws._db.read() as session:
            dataset, version = self._resolve(session, ref)
        self._authorize_read(dataset)
        ref = f"{dataset.name}:{version.version}"
        if version.status == VersionStatus.ERASED.value:
            raise Conflict(_erased_message(ref, version))
        with trusted_read():
            report: dict[str, Any] = json.loads(ws.artifacts.read_bytes(version.profile_artifact))
        return {"dataset": ref, "digest": f"sha256:{version.digest}", **report["profile"], "checks": report["checks"]}

    def load(self, ref: str, split: str | None = None) -> pd.DataFrame:
        """The rows of a version as a pandas DataFrame; with ``split``, only its ``"train"``,
        ``"validation"`` or ``"test"`` rows (of the version's current split).

        Reading the test rows of a sequestered split — or the whole version, which holds
        them — is recorded in the audit trail and counted in :meth:`show`.
        """
        with self._reading(ref, split) as (path, mask):
            table = pq.read_table(path)
            if mask is not None:
                table = table.filter(pa.array(mask))
            frame = table.replace_schema_metadata(None).to_pandas()
        return frame

    def _export(self, ref: str, split: str | None, dest: Path) -> None:
        """Write what :meth:`load` returns to ``dest`` as Parquet, streaming (for the server)."""
        with self._reading(ref, split) as (path, mask):
            if mask is None:
                shutil.copyfile(path, dest)
                return
            with pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20) as file:
                schema = file.schema_arrow

                def batches() -> Iterator[pa.RecordBatch]:
                    start = 0
                    for batch in file.iter_batches(batch_size=65_536):
                        keep = mask[start:start + batch.num_rows]
                        start += batch.num_rows
                        yield batch.filter(pa.array(keep))

                write_parquet(batches(), schema, dest)

    @contextmanager
    def _reading(self, ref: str, split: str | None) -> Iterator[tuple[Path, np.ndarray[Any, Any] | None]]:
        """Authorize a read, yield the decrypted Parquet file and the rows' mask; on success,
        record the read of sequestered test rows."""
        ws = self._ws
        ws._db.authorize(ws.actor, "data.read")
        if split is not None and split not in SPLITS:
            raise InvalidInput(f"split must be one of train, validation, test (or None for all rows); got {split!r}.")
        with ws._db.read() as session:
            dataset, version = self._resolve(session, ref)
            current = self._current_split(session, version.id)
        ref = f"{dataset.name}:{version.version}"
        self._authorize_read(dataset)
        _usable(ref, version)
        if split is not None and current is None:
            raise NotFound(
                f"Dataset version {ref} has no split, so it has no {split} rows. Split it first: "
                f"ws.data.split({ref!r}, test=0.2, seed=42) or `gxpml data split {ref} --test 0.2 --seed 42`."
            )
        with tempfile.TemporaryDirectory(prefix="gxpml-data-") as tmp:
            path = Path(tmp) / "data.parquet"
            with trusted_read():
                ws.artifacts.get(version.artifact, path)
            mask = None
            if split is not None and current is not None:
                codes = _read_codes(ws, current.artifact, Path(tmp) / "split.parquet")
                mask = codes == SPLITS[split]
            yield path, mask
            if current is not None and current.sequestered and split in (None, "test"):
                rows = int(mask.sum()) if mask is not None else version.num_rows
                with ws._db.transaction(ws.actor, TEST_READ) as uow:
                    uow.event(TEST_READ, entity_type="dataset_split", entity_id=current.id,
                              new={"dataset": ref, "split": split or "all", "rows": rows})

    # ------------------------------------------------------------------ splitting

    def split(
        self, ref: str, *, test: float = 0.2, validation: float = 0.0, group: str | None = None,
        time: str | None = None, seed: int, sequester_test: bool = True,
    ) -> SplitInfo:
        """Assign the rows of a version to train, validation and test, deterministically
        (see :mod:`gxpml.data.splits`); the assignment is stored and becomes the version's
        current split. The same parameters again return the same split.

        ``group``: a column whose values (patients, sites) never span two splits. ``time``:
        a datetime or number column; the latest rows form the test split. With
        ``sequester_test`` every read of the test rows is recorded, and a version with a
        sequestered test split cannot be split again differently.
        """
        ws = self._ws
        ws._db.authorize(ws.actor, "data.split")
        test, validation = _fraction("test", test), _fraction("validation", validation)
        if test + validation >= 1 or test + validation == 0:
            raise InvalidInput(
                f"test + validation must be above 0 and below 1, leaving rows to train on; got {test} + {validation}."
            )
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
            raise InvalidInput(f"seed must be a whole number from 0 to 2**63-1; got {seed!r}.")
        sequestered = bool(sequester_test) and test > 0
        params = {"test": test, "validation": validation, "group": group, "time": time, "seed": seed,
                  "sequestered": sequestered}
        with ws._db.read() as session:
            dataset, version = self._resolve(session, ref)
            current = self._current_split(session, version.id)
        ref = f"{dataset.name}:{version.version}"
        self._authorize_read(dataset)
        _usable(ref, version)
        if current is not None:
            if _split_params(current) == params:
                with ws._db.read() as session:
                    return self._split_info(session, current, ref, current=True)
            if current.sequestered:
                raise Conflict(
                    f"Dataset version {ref} has a sequestered test split already ({current.id}, "
                    f"{_describe(_split_params(current))}); splitting it differently would expose its test rows. "
                    "Use that split, or register a new dataset version."
                )
        names = [c["name"] for c in json.loads(version.schema)]
        for role, column in (("group", group), ("time", time)):
            if column is not None and column not in names:
                raise InvalidInput(f"Dataset version {ref} has no column {column!r} to {role} by; its columns: {', '.join(names)}.")
        split_id = new_id("spl")
        with tempfile.TemporaryDirectory(prefix="gxpml-data-") as tmp:
            path = Path(tmp) / "data.parquet"
            with trusted_read():
                ws.artifacts.get(version.artifact, path)
            columns = [c for c in dict.fromkeys([group, time]) if c is not None]
            table = pq.read_table(path, columns=columns) if columns else None
            result = assign(
                version.num_rows, test=test, validation=validation, seed=seed,
                group=None if group is None or table is None else table.column(group),
                time=None if time is None or table is None else table.column(time),
                group_name=group, time_name=time,
            )
            codes_path = Path(tmp) / "split.parquet"
            codes_table = pa.table({"split": pa.array(result.codes, type=pa.uint8())})
            write_parquet(codes_table, codes_table.schema, codes_path,
                          metadata={"gxpml.split_id": split_id, "gxpml.dataset": ref})
            stored = ws.artifacts.put(codes_path, name=f"dataset {ref} split {split_id}.parquet")
        with ws._db.write(ws.actor, "dataset.split", permission="data.split") as uow:
            record = DatasetSplit(
                id=split_id, version_id=version.id, method=result.method, params=canonical_json(params),
                seed=seed, sequestered=sequestered, artifact=stored.digest,
                assignment_digest=result.digest, counts=canonical_json(result.counts),
                created_by=ws.actor.username,
            )
            uow.session.add(record)
            uow.session.flush()
            _link(uow, f"dataset_version:{version.id}", f"dataset_split:{split_id}", "derived-from")
            return self._split_info(uow.session, record, ref, current=True)

    # ------------------------------------------------------------------ erasing

    def erase(self, ref: str, *, reason: str, before_retention_end: bool = False) -> DatasetVersionInfo:
        """Erase a version's data by destroying its data keys (crypto-shredding): the Parquet
        file, its profile and its split assignments become unreadable for good, while the
        version's record, digest and the audit trail of the erasure remain. Administrators
        and the dataset's owner only. A version still inside its dataset's retention period
        is erased only with ``before_retention_end=True`` (a legal duty to erase, such as a
        data subject's request, outranks the retention policy); the event records it."""
        ws = self._ws
        if not reason or not reason.strip():
            raise ReasonRequired(f"Erasing dataset version {ref} needs a reason: pass reason=... or --reason.")
        if parse_ref(ref)[1] is None:
            raise InvalidInput(f"Name the version to erase, e.g. {ref}:1: erasing is for good, so 'the latest' will not do.")
        with ws._db.read() as session:
            dataset, version = self._resolve(session, ref)
            splits = session.scalars(select(DatasetSplit).where(DatasetSplit.version_id == version.id)).all()
        ref = f"{dataset.name}:{version.version}"
        self._authorize_owner(dataset, "data.erase")
        if version.status == VersionStatus.ERASED.value:
            raise Conflict(_erased_message(ref, version))
        retain_until: dt.datetime | None = None
        if dataset.retention_days is not None:
            created = version.created_at if version.created_at.tzinfo else version.created_at.replace(tzinfo=dt.UTC)
            retain_until = created + dt.timedelta(days=dataset.retention_days)
        early = retain_until is not None and utcnow() < retain_until
        if retain_until is not None and early and not before_retention_end:
            raise Conflict(
                f"Dataset version {ref} is under retention until {format_ts(retain_until)} (its dataset keeps data "
                f"{dataset.retention_days} days). Erase it earlier only when a legal duty requires it: pass "
                "before_retention_end=True (--before-retention-end) and name that duty in the reason."
            )
        digests = [version.artifact, version.profile_artifact, *(s.artifact for s in splits)]
        with ws._db.transaction(ws.actor, "dataset.erase", reason=reason.strip(), claim=True) as uow:
            record = uow.session.get(DatasetVersion, version.id)
            assert record is not None
            if record.status == VersionStatus.ERASED.value:
                raise Conflict(_erased_message(ref, record))
            now = utcnow()
            record.status, record.erased_at = VersionStatus.ERASED.value, now
            destroyed = 0
            for digest in digests:
                artifact = uow.session.get(ArtifactRecord, digest)
                if artifact is not None and artifact.erased_at is None:
                    artifact.erased_at = now
                key = uow.session.get(ArtifactKey, digest)
                if key is not None:
                    uow.session.delete(key)
                    destroyed += 1
            uow.session.flush()
            uow.event("dataset.erase", entity_type="dataset_version", entity_id=version.id,
                      new={"dataset": ref, "artifacts": [f"sha256:{d}" for d in digests], "data_keys_destroyed": destroyed,
                           "retain_until": None if retain_until is None else format_ts(retain_until),
                           "before_retention_end": early})
            info = self._info(uow.session, record)
        # The keys are gone, so the objects are noise; remove them too (the only protection
        # when the workspace stores artifacts unencrypted).
        objects = ws.artifacts._objects
        for digest in digests:
            objects.remove(digest, missing_ok=True)
        return info

    # ------------------------------------------------------------------ helpers

    def _authorize_read(self, dataset: Dataset) -> None:
        ws = self._ws
        roles = _loads(dataset.read_roles)
        actor = ws.actor
        if roles is None or actor.username == dataset.owner or set(roles) & set(actor.roles):
            return
        ws._db.record_denial(actor, f"data.read:{dataset.name}")
        held = ", ".join(sorted(actor.roles)) or "no roles"
        allowed = ", ".join(roles) or "no role"
        raise PermissionDenied(
            f"{actor.username} ({held}) may not read dataset {dataset.name}: it is readable by {allowed} "
            f"and its owner {dataset.owner} only. Ask its owner or an administrator."
        )

    def _authorize_owner(self, dataset: Dataset, permission: str) -> None:
        ws = self._ws
        if ws.actor.authenticated and ws.actor.username == dataset.owner:
            return
        ws._db.authorize(ws.actor, permission)

    def _dataset(self, session: Session, name: str) -> Dataset:
        dataset = session.scalars(select(Dataset).where(Dataset.name == name)).one_or_none()
        if dataset is None:
            raise NotFound(f"No dataset named {name!r}. List datasets with `gxpml data list`.")
        return dataset

    def _version(self, session: Session, dataset: Dataset, number: int | None) -> DatasetVersion:
        query = select(DatasetVersion).where(DatasetVersion.dataset_id == dataset.id)
        if number is None:
            found = session.scalars(query.order_by(DatasetVersion.version.desc())).first()
        else:
            found = session.scalars(query.where(DatasetVersion.version == number)).one_or_none()
        if found is None:
            latest = session.scalar(select(func.max(DatasetVersion.version)).where(DatasetVersion.dataset_id == dataset.id))
            raise NotFound(f"Dataset {dataset.name} has no version {number} (its latest is {dataset.name}:{latest}).")
        return found

    def _resolve(self, session: Session, ref: str) -> tuple[Dataset, DatasetVersion]:
        name, number = parse_ref(ref)
        dataset = self._dataset(session, name)
        return dataset, self._version(session, dataset, number)

    def _current_split(self, session: Session, version_id: str) -> DatasetSplit | None:
        return session.scalars(
            select(DatasetSplit).where(DatasetSplit.version_id == version_id)
            .order_by(DatasetSplit.created_at.desc(), DatasetSplit.id.desc())
        ).first()

    def _split_info(self, session: Session, split: DatasetSplit, ref: str, *, current: bool,
                    reads: int | None = None) -> SplitInfo:
        if reads is None:
            reads = session.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.entity_type == "dataset_split", AuditEvent.entity_id == split.id,
                AuditEvent.action == TEST_READ)) or 0
        params = json.loads(split.params)
        return SplitInfo(
            id=split.id, dataset=ref, method=split.method, test=params["test"], validation=params["validation"],
            group=params["group"], time=params["time"], seed=split.seed, sequestered=split.sequestered,
            counts=json.loads(split.counts), assignment_digest=f"sha256:{split.assignment_digest}",
            artifact=f"sha256:{split.artifact}", created_at=split.created_at, created_by=split.created_by,
            current=current, test_reads=int(reads),
        )

    def _info(self, session: Session, version: DatasetVersion, *, splits: bool = True) -> DatasetVersionInfo:
        dataset = session.get(Dataset, version.dataset_id)
        assert dataset is not None
        ref = f"{dataset.name}:{version.version}"
        derived = None
        if version.derived_from is not None:
            row = session.execute(
                select(Dataset.name, DatasetVersion.version).join(DatasetVersion, DatasetVersion.dataset_id == Dataset.id)
                .where(DatasetVersion.id == version.derived_from)
            ).first()
            derived = f"{row[0]}:{row[1]}" if row else version.derived_from
        split_infos: list[SplitInfo] = []
        if splits:
            records = session.scalars(select(DatasetSplit).where(DatasetSplit.version_id == version.id)
                                      .order_by(DatasetSplit.created_at, DatasetSplit.id)).all()
            reads: dict[str | None, int] = {}
            if records:
                reads = {entity: count for entity, count in session.execute(
                    select(AuditEvent.entity_id, func.count()).where(
                        AuditEvent.entity_type == "dataset_split", AuditEvent.action == TEST_READ,
                        AuditEvent.entity_id.in_([s.id for s in records]))
                    .group_by(AuditEvent.entity_id))}
            split_infos = [self._split_info(session, s, ref, current=i == len(records) - 1, reads=reads.get(s.id, 0))
                           for i, s in enumerate(records)]
        return DatasetVersionInfo(
            id=version.id, name=dataset.name, version=version.version, status=VersionStatus(version.status),
            digest=f"sha256:{version.digest}", artifact=f"sha256:{version.artifact}", num_rows=version.num_rows,
            columns=json.loads(version.schema), summary=json.loads(version.summary),
            checks=_loads(version.checks) or [],
            checks_spec=None if version.checks_spec is None else f"sha256:{version.checks_spec}",
            override_reason=version.override_reason, derived_from=derived, source_format=version.source_format,
            source_uri=version.source_uri, description=dataset.description, owner=dataset.owner, phi=dataset.phi,
            retention_days=dataset.retention_days, read_roles=_loads(dataset.read_roles),
            created_at=version.created_at, created_by=version.created_by, erased_at=version.erased_at,
            splits=split_infos,
        )


# --------------------------------------------------------------------------- module helpers


def _ingest(src: Any, spec: ChecksSpec | None, parquet: Path, version_id: str, name: str
            ) -> tuple[str, Profile, CheckRunner | None]:
    """One pass over the source: digest, profile, checks, and the canonical Parquet file."""
    digest = ContentDigest(src.schema)
    profile = Profile(src.schema)
    runner = CheckRunner(spec, src.type_names) if spec is not None else None
    schema = src.schema.with_metadata({"gxpml.dataset": name, "gxpml.version_id": version_id})
    with pq.ParquetWriter(parquet, schema, compression="zstd", use_dictionary=False) as writer:
        for batch in src.batches():
            digest.update(batch)
            profile.update(batch)
            if runner is not None:
                runner.update(batch)
            writer.write_batch(batch)
        value = digest.hexdigest()
        writer.add_key_value_metadata({"gxpml.digest": f"sha256:{value}"})
    return value, profile, runner


def _read_codes(ws: Workspace, digest: str, path: Path) -> np.ndarray[Any, Any]:
    with trusted_read():
        ws.artifacts.get(digest, path)
    return np.asarray(pq.read_table(path).column("split").to_numpy(), dtype=np.uint8)


def _link(uow: UnitOfWork, upstream: str, downstream: str, edge_type: str) -> None:
    link(uow, upstream, downstream, edge_type)


def _check_roles(read_roles: Sequence[str] | None) -> list[str] | None:
    if read_roles is None:
        return None
    if isinstance(read_roles, str):
        read_roles = [read_roles]
    unknown = [r for r in read_roles if r not in ROLES]
    if unknown:
        raise InvalidInput(f"Unknown role(s) in read_roles: {', '.join(map(repr, unknown))}; roles: {', '.join(ROLES)}.")
    return sorted(set(read_roles))


def _same_catalog(dataset: Dataset, catalog: dict[str, Any]) -> None:
    current = {"description": dataset.description, "owner": dataset.owner, "phi": dataset.phi,
               "retention_days": dataset.retention_days, "read_roles": _loads(dataset.read_roles)}
    differs = [f"{key}={current[key]!r} (not {value!r})" for key, value in catalog.items()
               if value is not None and value != current[key]]
    if differs:
        raise Conflict(
            f"Dataset {dataset.name} exists with {', '.join(differs)}. Register its new version without "
            f"changing the catalog metadata, or change it first with ws.data.update({dataset.name!r}, ..., reason=...)."
        )


def _fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 <= value < 1:
        raise InvalidInput(f"{name} must be a fraction from 0 up to (not including) 1; got {value!r}.")
    return float(value)


def _split_params(split: DatasetSplit) -> dict[str, Any]:
    params: dict[str, Any] = json.loads(split.params)
    return params


def _describe(params: dict[str, Any]) -> str:
    parts = [f"test={params['test']}", f"validation={params['validation']}"]
    parts += [f"{k}={params[k]}" for k in ("group", "time") if params[k]]
    return ", ".join([*parts, f"seed={params['seed']}"])


def _erased_message(ref: str, version: DatasetVersion) -> str:
    when = version.erased_at.isoformat() if version.erased_at else "earlier"
    return (f"Dataset version {ref} was erased on {when}: its data keys were destroyed and its data cannot "
            "be read by anyone. Its record and digest remain (gxpml data show).")


def _usable(ref: str, version: DatasetVersion) -> None:
    """Conflict unless the version's data may be used (ready or overridden)."""
    if version.status == VersionStatus.ERASED.value:
        raise Conflict(_erased_message(ref, version))
    if version.status == VersionStatus.BLOCKED.value:
        failed = [c for c in _loads(version.checks) or [] if c["failures"]]
        listed = "; ".join(f"{c['column']}: {_short(c['check'])} failed on {c['failures']} row(s)" for c in failed)
        raise Conflict(
            f"Dataset version {ref} is blocked: {len(failed)} data quality check(s) failed ({listed}). "
            f"Fix the data and register it again, or register the same data with override_reason=... "
            f"(--override-reason) to allow its use; the override is recorded in the audit trail."
        )


def _short(label: str, limit: int = 60) -> str:
    return label if len(label) <= limit else label[:limit - 1] + "…"

