"""The dataset tables: the catalog entry, its versions and their splits. All are GxP records."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gxpml.canonical import new_id, utcnow
from gxpml.store.tables import Audited, UTCDateTime

__all__ = ["Dataset", "DatasetSplit", "DatasetVersion"]


class Dataset(Audited):
    """A named dataset in the catalog: who owns it, whether it holds PHI, who may read it."""

    __tablename__ = "datasets"
    __audit_entity__ = "dataset"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("ds"))
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(64))  # a user name
    phi: Mapped[bool] = mapped_column(Boolean, default=False)
    retention_days: Mapped[int | None] = mapped_column(Integer)
    read_roles: Mapped[str | None] = mapped_column(Text)  # JSON list; NULL: every role with data.read
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))


class DatasetVersion(Audited):
    """One immutable version: its content digest, schema, profile, checks and lifecycle state.

    Values derived from the rows (profile statistics, failing values) live in encrypted
    artifacts, never on this record, so that erasing the version leaves no data behind.
    """

    __tablename__ = "dataset_versions"
    __audit_entity__ = "dataset_version"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("dsv"))
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # a VersionStatus
    digest: Mapped[str] = mapped_column(String(64), index=True)
    artifact: Mapped[str] = mapped_column(String(64))
    profile_artifact: Mapped[str] = mapped_column(String(64))  # profile and failing values
    schema: Mapped[str] = mapped_column(Text)  # canonical JSON [{"name", "type"}, ...]
    num_rows: Mapped[int] = mapped_column(BigInteger)
    summary: Mapped[str] = mapped_column(Text)  # canonical JSON {column: {count, nulls, distinct}}
    source_format: Mapped[str] = mapped_column(String(16))
    source_uri: Mapped[str | None] = mapped_column(Text)
    derived_from: Mapped[str | None] = mapped_column(String(32))  # a dataset version id
    checks_spec: Mapped[str | None] = mapped_column(String(64))  # artifact: the checks declared
    checks: Mapped[str | None] = mapped_column(Text)  # canonical JSON [{column, check, failures}]
    override_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_dataset_id_version"),)


class DatasetSplit(Audited):
    """A seeded train/validation/test assignment of a version's rows (stored as an artifact)."""

    __tablename__ = "dataset_splits"
    __audit_entity__ = "dataset_split"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("spl"))
    version_id: Mapped[str] = mapped_column(ForeignKey("dataset_versions.id"), index=True)
    method: Mapped[str] = mapped_column(String(16))  # random | group | time | group-time
    params: Mapped[str] = mapped_column(Text)  # canonical JSON of the parameters
    seed: Mapped[int] = mapped_column(BigInteger)
    sequestered: Mapped[bool] = mapped_column(Boolean)
    artifact: Mapped[str] = mapped_column(String(64))
    assignment_digest: Mapped[str] = mapped_column(String(64))
    counts: Mapped[str] = mapped_column(Text)  # canonical JSON {train, validation, test}
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
