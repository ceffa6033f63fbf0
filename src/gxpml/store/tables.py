"""The metadata tables.

Tables whose models derive from :class:`Audited` hold GxP records: every insert and update
of them is turned into an audit event by the unit of work (see :mod:`gxpml.store.uow`), and
they are never deleted. The audit tables themselves, the chain head and operational data
(token activity, wrapped data keys) derive from :class:`Base` only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from gxpml.canonical import format_ts, new_id, parse_ts, utcnow

__all__ = [
    "ArtifactKey",
    "ArtifactRecord",
    "Audited",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditHead",
    "Base",
    "IdempotencyKey",
    "RoleGrant",
    "Segment",
    "Token",
    "TokenActivity",
    "UTCDateTime",
    "User",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A UTC timestamp stored as ISO-8601 text, identical on SQLite and PostgreSQL.

    Text keeps microseconds and the zone exactly as hashed into the audit trail, and sorts
    chronologically.
    """

    impl = String(27)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> str | None:
        return None if value is None else format_ts(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> dt.datetime | None:
        return None if value is None else parse_ts(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Audited(Base):
    """A GxP record: changes are audited, old values kept, deletes forbidden.

    ``__audit_entity__`` is the entity type written into events; ``__audit_redact__`` lists
    columns whose values are secrets: events carry their SHA-256, never the value.
    """

    __abstract__ = True
    __audit_entity__: ClassVar[str]
    __audit_redact__: ClassVar[frozenset[str]] = frozenset()

    registry_by_entity: ClassVar[dict[str, type[Audited]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        entity = cls.__dict__.get("__audit_entity__")
        if entity:
            Audited.registry_by_entity[entity] = cls


# --------------------------------------------------------------------------- audit trail


class AuditEvent(Base):
    """One link of the hash chain. Append-only: the database refuses updates and deletes."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(27), index=True)
    actor_id: Mapped[str] = mapped_column(String(64), index=True)
    actor_name: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity_type: Mapped[str | None] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(128))
    old: Mapped[str | None] = mapped_column(Text)
    new: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_audit_events_entity", "entity_type", "entity_id"),)


class AuditHead(Base):
    """The single row every writer locks: the last sequence number and hash of the chain."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """An Ed25519 signature over the chain head at ``seq``, like a CloudTrail digest file."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    ts: Mapped[str] = mapped_column(String(27))
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))


class IdempotencyKey(Base):
    """A write request already applied (the ``Idempotency-Key`` of an HTTP request, hashed
    with its actor): a retry of it is refused instead of applied twice. Kept a day."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    actor_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(27), index=True)


# --------------------------------------------------------------------------- identity


class User(Audited):
    """A unique person. Never deleted: disabled with a reason."""

    __tablename__ = "users"
    __audit_entity__ = "user"
    __audit_redact__ = frozenset({"password_hash", "password_history"})

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("usr"))
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16), default="active")
    password_hash: Mapped[str] = mapped_column(Text)
    password_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    password_history: Mapped[str] = mapped_column(Text, default="[]")
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RoleGrant(Audited):
    """A role held by a user; revoking sets ``revoked_at`` (the grant stays on record)."""

    __tablename__ = "role_grants"
    __audit_entity__ = "role_grant"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("rg"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Token(Audited):
    """A session or API token. Only the SHA-256 of its secret is stored."""

    __tablename__ = "tokens"
    __audit_entity__ = "token"
    __audit_redact__ = frozenset({"secret_hash"})

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("tok"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # session | api | service
    name: Mapped[str | None] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64))
    roles: Mapped[str | None] = mapped_column(Text)  # JSON list; NULL: all the user's roles
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class TokenActivity(Base):
    """When a session token was last used; operational, so not audited (it changes on every call)."""

    __tablename__ = "token_activity"

    token_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_used_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


# --------------------------------------------------------------------------- artifacts


class ArtifactRecord(Audited):
    """One content-addressed object: the SHA-256 of its plaintext is its id."""

    __tablename__ = "artifacts"
    __audit_entity__ = "artifact"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    stored_size: Mapped[int] = mapped_column(BigInteger)
    encrypted: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class ArtifactKey(Base):
    """The object's data key wrapped by a master key; re-wrapped by ``keys rotate``.

    Not a GxP record itself: key rotation is audited as one event, and destroying a row
    (crypto-shredding) is audited by the erasure of its :class:`ArtifactRecord`.
    """

    __tablename__ = "artifact_keys"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64), index=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)


class Segment(Audited):
    """A sealed batch of high-volume rows (metric points, captured predictions).

    ``digest`` is the SHA-256 over the canonical JSON lines of the batch, in order; one audit
    event records it, so changing any row later breaks verification.
    """

    __tablename__ = "segments"
    __audit_entity__ = "segment"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("seg"))
    kind: Mapped[str] = mapped_column(String(64), index=True)
    owner_id: Mapped[str | None] = mapped_column(String(128))
    count: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
