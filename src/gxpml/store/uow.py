"""The unit of work: the one write path of gxpml.

Every state change runs as::

    with db.write(actor, "user.create") as uow:   # authorize, then BEGIN (writers queue here)
        uow.session.add(User(...))                # write
    # flush: an audit event per changed record is appended to the chain; commit: all or nothing

Events are derived from the ORM flush (``before_flush``), so a record of an :class:`Audited`
table cannot be inserted or updated without its event: a flush outside a unit of work is
refused, and so is any INSERT/UPDATE/DELETE statement on an audited table or on the audit
tables that does not come from such a flush (an engine-level guard). Deleting a GxP record
is refused: records are retired (tombstoned) with a reason instead.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, Table, event, insert, inspect
from sqlalchemy.exc import DataError, DBAPIError, SQLAlchemyError
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session, attributes

from gxpml.audit.chain import GENESIS_HASH, event_hash
from gxpml.audit.checkpoints import Signer, checkpoint_message
from gxpml.canonical import canonical_json, format_ts, sha256_hex, utcnow
from gxpml.errors import (
    Conflict,
    GxpmlError,
    IntegrityError,
    InvalidInput,
    PermissionDenied,
    ReasonRequired,
    StorageError,
)
from gxpml.store.engine import WRITE, redact_url
from gxpml.store.tables import AuditCheckpoint, Audited, AuditEvent, Base, Segment

__all__ = ["ANONYMOUS", "SYSTEM", "Actor", "Database", "UnitOfWork", "record_state", "request_id_var"]

#: The request or session id written into events (set by the REST server per request).
request_id_var: ContextVar[str | None] = ContextVar("gxpml_request_id", default=None)


@dataclass
class IdempotencyClaim:
    """The ``Idempotency-Key`` of the current request; claimed by its first write."""

    key: str
    claimed: bool = False


#: Set by the REST server for write requests that carry an ``Idempotency-Key``.
idempotency_var: ContextVar[IdempotencyClaim | None] = ContextVar("gxpml_idempotency", default=None)
IDEMPOTENCY_TTL = dt.timedelta(days=1)

_UOW = "gxpml_uow"
_FLUSHING = "gxpml_flushing"


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (through a session or API token) or gxpml itself."""

    id: str
    username: str
    name: str
    roles: frozenset[str] = frozenset()
    permissions: frozenset[str] = frozenset()
    token_id: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "username": self.username, "name": self.name,
                "roles": sorted(self.roles), "token_id": self.token_id}

    @property
    def authenticated(self) -> bool:
        return self.id != ANONYMOUS.id

    def can(self, permission: str) -> bool:
        """Deny by default: true only for a permission one of the actor's roles grants."""
        if permission == "self":
            return self.authenticated
        if "*" in self.permissions or permission in self.permissions:
            return True
        domain = permission.split(".", 1)[0]
        return f"{domain}.*" in self.permissions


SYSTEM = Actor(id="system", username="system", name="gxpml system", permissions=frozenset({"*"}))
ANONYMOUS = Actor(id="anonymous", username="anonymous", name="anonymous")


# --------------------------------------------------------------------------- record state


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return format_ts(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def record_state(model: type[Audited], values: Mapping[str, Any]) -> dict[str, Any]:
    """The state of a record as its audit events carry it: every column, secrets as digests."""
    state: dict[str, Any] = {}
    for column in model.__table__.columns:
        value = _encode(values[column.key])
        if column.key in model.__audit_redact__ and value is not None:
            value = "sha256:" + sha256_hex(str(value))
        state[column.key] = value
    return state


def _entity_id(obj: Audited) -> str:
    identity = inspect(obj).mapper.primary_key_from_instance(obj)
    return "/".join(str(part) for part in identity)


def _fill_defaults(obj: Audited) -> None:
    """Apply Python-side column defaults now, so the event can carry the full state."""
    for column in obj.__table__.columns:
        if getattr(obj, column.key) is None and column.default is not None:
            default = column.default
            if default.is_callable:
                setattr(obj, column.key, default.arg(None))
            elif default.is_scalar:
                setattr(obj, column.key, default.arg)


# --------------------------------------------------------------------------- unit of work


@dataclass
class UnitOfWork:
    """One transaction: the records it changes and the audit events that say so.

    Records change through the ORM (``uow.session``; events derived at flush) or, on hot
    paths, through :meth:`insert` (a Core statement and its event, no ORM flush). Either way
    the event is in the same transaction, and nothing else may write an audited table.
    """

    connection: Connection
    actor: Actor
    action: str
    reason: str | None
    request_id: str | None
    _head_seq: int = 0
    _head_hash: str = GENESIS_HASH
    #: The events this unit of work appends, as rows of ``audit_events``; they are written
    #: in one statement at the end, inside the same transaction as the records.
    events: list[dict[str, Any]] = field(default_factory=list)

    _session: Session | None = None

    @property
    def session(self) -> Session:
        """An ORM session on this unit of work's connection and transaction (made on first use)."""
        if self._session is None:
            self._session = Session(
                bind=self.connection, autoflush=False, expire_on_commit=False,
                join_transaction_mode="rollback_only",
            )
            self._session.info[_UOW] = self
        return self._session

    def add(self, obj: Audited) -> None:
        self.session.add(obj)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read statement (``?`` placeholders) on this transaction's connection,
        on the driver directly: for hot write paths that check something first."""
        if self.connection.dialect.paramstyle != "qmark":
            sql = sql.replace("?", "%s")
        cursor = self.connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, tuple(params))
            return [tuple(row) for row in cursor.fetchall()]
        except Exception as exc:
            raise _dbapi_error(self.connection, exc) from exc
        finally:
            cursor.close()

    def insert(self, model: type[Audited], /, **values: Any) -> dict[str, Any]:
        """Insert one record with a Core statement and append its event: the fast path for
        high-volume writes. Column defaults are applied; returns the full values written."""
        table = model.__table__
        assert isinstance(table, Table)
        row = {}
        for column in table.columns:
            value = values.pop(column.key, None)
            if value is None and column.default is not None:
                default = column.default
                value = default.arg(None) if default.is_callable else default.arg
            row[column.key] = value
        if values:
            raise TypeError(f"{model.__name__} has no column(s) {', '.join(sorted(values))}")
        entity_id = "/".join(str(row[c.key]) for c in table.primary_key.columns)
        self._append(
            action=self.action, entity_type=model.__audit_entity__, entity_id=entity_id,
            old=None, new=canonical_json(record_state(model, row)), reason=self.reason,
        )
        sql, processors = _raw_insert(model, self.connection.dialect)
        params = [process(row[key]) if process else row[key] for key, process in processors]
        cursor = self.connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, params)
        except Exception as exc:
            raise _dbapi_error(self.connection, exc) from exc
        finally:
            cursor.close()
        return row

    def event(
        self, action: str, *, entity_type: str | None = None, entity_id: str | None = None,
        new: Mapping[str, Any] | None = None, old: Mapping[str, Any] | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Append an event that no record change implies (a login, a key rotation, an alert)."""
        return self._append(
            action=action, entity_type=entity_type, entity_id=entity_id,
            old=None if old is None else canonical_json(dict(old)),
            new=None if new is None else canonical_json(dict(new)),
            reason=reason if reason is not None else self.reason,
        )

    def seal_segment(
        self, kind: str, rows: Iterable[Mapping[str, Any]], *, owner_id: str | None = None,
    ) -> Segment:
        """Seal a batch of high-volume rows: one record (and one event) holds their digest."""
        digest, count = segment_digest(rows)
        row = self.insert(Segment, kind=kind, owner_id=owner_id, count=count, digest=digest)
        return Segment(**row)

    def _append(
        self, *, action: str, entity_type: str | None, entity_id: str | None,
        old: str | None, new: str | None, reason: str | None,
    ) -> dict[str, Any]:
        fields: dict[str, Any] = dict(
            seq=self._head_seq + 1, ts=format_ts(utcnow()), actor_id=self.actor.id,
            actor_name=self.actor.name, action=action, entity_type=entity_type,
            entity_id=entity_id, old=old, new=new, reason=reason,
            request_id=self.request_id, prev_hash=self._head_hash,
        )
        fields["hash"] = event_hash(**fields)
        self.events.append(fields)
        self._head_seq, self._head_hash = fields["seq"], fields["hash"]
        return fields


_INSERT_CHECKPOINT = insert(AuditCheckpoint)
_RAW_INSERTS: dict[tuple[type[Base], str], tuple[str, list[tuple[str, Any]]]] = {}
_EVENT_KEYS = [c.key for c in AuditEvent.__table__.columns]


def _placeholder(dialect: Any) -> str:
    return "?" if dialect.paramstyle == "qmark" else "%s"


def _raw_insert(model: type[Base], dialect: Any) -> tuple[str, list[tuple[str, Any]]]:
    """An INSERT for ``model`` in the driver's own SQL, with SQLAlchemy's bind processors per
    column (so the stored values are exactly what the ORM would store). The hot path of
    every write runs on the driver directly: SQLAlchemy's per-statement overhead is most of
    a write's cost otherwise (see docs/benchmarks.md)."""
    key = (model, dialect.name)
    cached = _RAW_INSERTS.get(key)
    if cached is None:
        table = model.__table__
        assert isinstance(table, Table)
        columns = list(table.columns)
        ph = _placeholder(dialect)
        sql = (f"INSERT INTO {table.name} ({', '.join(c.name for c in columns)}) "
               f"VALUES ({', '.join(ph for _ in columns)})")
        cached = _RAW_INSERTS[key] = (sql, [(c.key, c.type.bind_processor(dialect)) for c in columns])
    return cached


def _dbapi_error(conn: Connection, exc: Exception) -> GxpmlError:
    """A driver error on the raw hot path, mapped like SQLAlchemy's would be."""
    module = conn.dialect.loaded_dbapi
    if isinstance(exc, getattr(module, "IntegrityError", ())):
        return Conflict(f"The change was refused by the database: {str(exc).strip().splitlines()[0]}")
    return _storage_error(conn.engine, exc)


def segment_digest(rows: Iterable[Mapping[str, Any]]) -> tuple[str, int]:
    """SHA-256 over the canonical JSON lines of ``rows`` (in order) and their count."""
    import hashlib

    h = hashlib.sha256()
    count = 0
    for row in rows:
        h.update(canonical_json(dict(row)).encode("utf-8"))
        h.update(b"\n")
        count += 1
    return h.hexdigest(), count


@event.listens_for(Session, "before_flush")
def _derive_audit_events(session: Session, _ctx: Any, _instances: Any) -> None:
    """Turn every change of an audited record into an audit event, in the same flush."""
    uow: UnitOfWork | None = session.info.get(_UOW)
    new = [o for o in session.new if isinstance(o, Audited)]
    dirty = [o for o in session.dirty if isinstance(o, Audited) and session.is_modified(o)]
    deleted = [o for o in session.deleted if isinstance(o, Audited)]
    if uow is None:
        if new or dirty or deleted:
            raise IntegrityError(
                "Refusing to change GxP records outside a unit of work: every change must be "
                "audited. Use Database.write(actor, action) (gxpml's SDK does this for you)."
            )
        return
    if deleted:
        names = ", ".join(f"{o.__audit_entity__} {_entity_id(o)}" for o in deleted)
        raise Conflict(
            f"GxP records are never deleted ({names}). Retire the record with a reason instead."
        )
    session.connection().info[_FLUSHING] = True
    for obj in new:
        _fill_defaults(obj)
    for obj in sorted(new, key=lambda o: (o.__audit_entity__, _entity_id(o))):
        model = type(obj)
        state = record_state(model, {c.key: getattr(obj, c.key) for c in model.__table__.columns})
        uow._append(
            action=uow.action, entity_type=model.__audit_entity__, entity_id=_entity_id(obj),
            old=None, new=canonical_json(state), reason=uow.reason,
        )
    for obj in sorted(dirty, key=lambda o: (o.__audit_entity__, _entity_id(o))):
        model = type(obj)
        if not uow.reason:
            raise ReasonRequired(
                f"Changing {model.__audit_entity__} {_entity_id(obj)} needs a reason "
                "(Annex 11 §9): pass reason=... in the SDK or --reason on the CLI."
            )
        old_values: dict[str, Any] = {}
        for column in model.__table__.columns:
            history = attributes.get_history(obj, column.key)
            if history.deleted:
                old_values[column.key] = history.deleted[0]
        old_state = record_state(model, {**{c.key: getattr(obj, c.key) for c in model.__table__.columns}, **old_values})
        old = {k: old_state[k] for k in old_values}
        state = record_state(model, {c.key: getattr(obj, c.key) for c in model.__table__.columns})
        uow._append(
            action=uow.action, entity_type=model.__audit_entity__, entity_id=_entity_id(obj),
            old=canonical_json(old), new=canonical_json(state), reason=uow.reason,
        )


@event.listens_for(Session, "after_flush_postexec")
def _end_flush(session: Session, _ctx: Any) -> None:
    if _UOW in session.info:
        session.connection().info[_FLUSHING] = False


_DML = re.compile(r'^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)


def _protected_tables() -> frozenset[str]:
    tables = {cls.__tablename__ for cls in Audited.registry_by_entity.values()}
    return frozenset(tables | {AuditEvent.__tablename__, AuditCheckpoint.__tablename__})


def _install_write_guard(engine: Engine) -> None:
    """Refuse DML on audited and audit tables unless it comes from a unit of work's flush."""
    protected = _protected_tables()

    @event.listens_for(engine, "before_cursor_execute")
    def _guard(conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool) -> None:
        match = _DML.match(statement)
        if match and match.group(1).lower() in protected and not conn.info.get(_FLUSHING):
            raise IntegrityError(
                f"Refusing an unaudited write to {match.group(1)}: GxP records change only "
                "through a unit of work, which records the audit event."
            )


# --------------------------------------------------------------------------- database


class Database:
    """The metadata store: read sessions, and write units of work that append to the chain."""

    def __init__(
        self, engine: Engine, *, workspace_id: str, signer: Signer | None,
        checkpoint_interval: int = 1000,
    ) -> None:
        self.engine = engine
        self.workspace_id = workspace_id
        self.signer = signer
        self.checkpoint_interval = checkpoint_interval
        self._write_engine = engine.execution_options(**{WRITE: True})
        # Writers queue on the head row: SQLite's BEGIN IMMEDIATE has locked the database
        # already; PostgreSQL locks the row.
        lock = "" if engine.dialect.name == "sqlite" else " FOR UPDATE"
        self._head_select = f"SELECT seq, hash FROM audit_head WHERE id = 1{lock}"
        _install_write_guard(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read session; closing it rolls back, and loaded objects stay readable."""
        try:
            with Session(self.engine, autoflush=False, expire_on_commit=False) as session:
                yield session
        except DBAPIError as exc:
            raise _storage_error(self.engine, exc) from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read statement run on the driver directly (``?`` placeholders): for hot
        read paths such as authenticating every request, where SQLAlchemy's per-statement
        overhead would be most of the cost. Values come back as the driver gives them."""
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                if self.engine.dialect.paramstyle != "qmark":
                    sql = sql.replace("?", "%s")
                cursor.execute(sql, tuple(params))
                rows = [tuple(row) for row in cursor.fetchall()]
            finally:
                cursor.close()
            raw.rollback()
        except Exception as exc:
            raw.invalidate() if getattr(raw, "invalidate", None) else None
            raise _storage_error(self.engine, exc) from exc
        finally:
            raw.close()
        return rows

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A read connection (for streaming queries), with driver errors mapped."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except DBAPIError as exc:
            raise _storage_error(self.engine, exc) from exc

    @contextmanager
    def write(
        self, actor: Actor, action: str, *, reason: str | None = None,
        permission: str | None = None,
    ) -> Iterator[UnitOfWork]:
        """Authorize ``actor`` for ``permission`` (default: ``action``), then one transaction."""
        self.authorize(actor, permission or action)
        with self.transaction(actor, action, reason=reason, claim=True) as uow:
            yield uow

    @contextmanager
    def transaction(
        self, actor: Actor, action: str, *, reason: str | None = None, claim: bool = False,
    ) -> Iterator[UnitOfWork]:
        """One write transaction without an authorization check: for gxpml's own events
        (logins, denials) and for commands that authorize in their own way first.

        ``claim``: use up the request's Idempotency-Key. Authorized changes do (via
        :meth:`write`); gxpml's own records of an attempt — a denial, a failed login — never
        do, so a refused request retried with its key is refused (and recorded) again."""
        try:
            with self._write_engine.connect() as conn, conn.begin():
                cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
                try:
                    cursor.execute(self._head_select)
                    head = cursor.fetchone()
                finally:
                    cursor.close()
                if head is None:
                    raise StorageError(
                        "The audit trail has no head row: this database was not initialised "
                        "by gxpml. Run `gxpml upgrade` or `gxpml init`."
                    )
                uow = UnitOfWork(
                    connection=conn, actor=actor, action=action, reason=reason,
                    request_id=request_id_var.get() or actor.token_id,
                    _head_seq=head[0], _head_hash=head[1],
                )
                start = head[0]
                key = idempotency_var.get() if claim else None
                if key is not None and not key.claimed:
                    self._claim(conn, key, actor)
                try:
                    yield uow
                    if uow._session is not None:
                        uow._session.flush()
                    if uow.events:
                        self._append_events(conn, uow, start)
                finally:
                    # The flag lives on the pooled DBAPI connection: never let it outlive
                    # this unit of work, even when a flush failed half-way.
                    conn.info.pop(_FLUSHING, None)
                    if uow._session is not None:
                        uow._session.info.pop(_UOW, None)
                        uow._session.close()
        except GxpmlError:
            raise
        except DBAPIError as exc:
            if isinstance(exc, SAIntegrityError):
                raise Conflict(f"The change was refused by the database: {str(exc.orig).strip().splitlines()[0]}") from exc
            raise _storage_error(self.engine, exc) from exc
        except SQLAlchemyError as exc:
            raise Conflict(f"The change was refused by the database: {exc.__class__.__name__}: {exc.orig if hasattr(exc, 'orig') else exc}") from exc

    def _claim(self, conn: Connection, claim: IdempotencyClaim, actor: Actor) -> None:
        """Record the request's key in this transaction; a key seen before means a retry of
        a request that was applied: refuse it rather than apply it twice."""
        key = sha256_hex(f"{actor.id}\n{claim.key}")
        now = utcnow()
        ph = _placeholder(conn.dialect)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(f"SELECT 1 FROM idempotency_keys WHERE key = {ph}", (key,))
            if cursor.fetchone() is not None:
                raise Conflict(
                    f"This request (Idempotency-Key {claim.key}) was applied already; it was not "
                    "applied again. Check its effect in `gxpml audit log`."
                )
            cursor.execute(f"INSERT INTO idempotency_keys (key, actor_id, created_at) VALUES ({ph}, {ph}, {ph})",
                           (key, actor.id, format_ts(now)))
            if secrets.randbelow(100) == 0:  # now and then, forget keys older than a day
                cursor.execute(f"DELETE FROM idempotency_keys WHERE created_at < {ph}",
                               (format_ts(now - IDEMPOTENCY_TTL),))
        finally:
            cursor.close()
        claim.claimed = True

    def _append_events(self, conn: Connection, uow: UnitOfWork, start: int) -> None:
        """Write the unit of work's events and move the chain head, in its transaction.
        Core statements compiled once: this is the hot path of every write."""
        sql, _ = _raw_insert(AuditEvent, conn.dialect)
        ph = _placeholder(conn.dialect)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sql, [[event[k] for k in _EVENT_KEYS] for event in uow.events])
            cursor.execute(f"UPDATE audit_head SET seq = {ph}, hash = {ph} WHERE id = 1",
                           (uow._head_seq, uow._head_hash))
        except Exception as exc:
            raise _dbapi_error(conn, exc) from exc
        finally:
            cursor.close()
        conn.info[_FLUSHING] = True
        try:
            interval = self.checkpoint_interval
            if self.signer is not None and interval > 0 and uow._head_seq // interval > start // interval:
                self.add_checkpoint(conn, uow._head_seq, uow._head_hash)
        finally:
            conn.info[_FLUSHING] = False

    def add_checkpoint(self, conn: Connection, seq: int, hash: str) -> dict[str, Any]:
        """Sign the chain head at ``seq`` (inside the caller's transaction)."""
        if self.signer is None:
            raise IntegrityError("This workspace has no signing key; checkpoints cannot be signed.")
        ts = format_ts(utcnow())
        message = checkpoint_message(workspace_id=self.workspace_id, seq=seq, hash=hash, ts=ts)
        checkpoint = {"seq": seq, "hash": hash, "ts": ts, "key_id": self.signer.key_id,
                      "signature": self.signer.sign(message)}
        flushing = conn.info.get(_FLUSHING)
        conn.info[_FLUSHING] = True
        try:
            conn.execute(_INSERT_CHECKPOINT, checkpoint)
        finally:
            conn.info[_FLUSHING] = flushing
        return checkpoint

    def authorize(self, actor: Actor, permission: str) -> None:
        """Raise PermissionDenied (and record the denial) unless ``actor`` holds ``permission``."""
        if actor.can(permission):
            return
        self.record_denial(actor, permission)
        if not actor.authenticated:
            from gxpml.errors import AuthenticationError

            raise AuthenticationError(
                f"Not logged in: {permission} needs an authenticated user. Run `gxpml login --user NAME` "
                "or set GXPML_TOKEN."
            )
        roles = ", ".join(sorted(actor.roles)) or "no roles"
        raise PermissionDenied(
            f"{actor.username} ({roles}) may not {permission}. Ask an administrator to grant a role "
            "that allows it (gxpml role grant USER ROLE)."
        )

    def record_denial(self, actor: Actor, permission: str) -> None:
        """Every denial is an audit event (21 CFR 11.300(d): report unauthorized attempts)."""
        with self.transaction(actor, "access.denied") as uow:
            uow.event(
                "access.denied", entity_type="user", entity_id=actor.id,
                new={"permission": permission, "actor": actor.username, "token_id": actor.token_id},
            )


def _storage_error(engine: Engine, exc: Exception) -> GxpmlError:
    """A driver error as gxpml's: a value the database cannot hold (e.g. a NUL character,
    which PostgreSQL refuses) is the caller's to fix; anything else is the storage's."""
    data_errors: tuple[type[BaseException], ...] = (DataError, *_data_errors(engine))
    if isinstance(exc, data_errors) or isinstance(getattr(exc, "orig", None), data_errors):
        return InvalidInput(
            "A value cannot be stored or searched for: it contains a character or number the "
            "database does not accept (such as a NUL character). Remove it and retry."
        )
    return _unreachable(engine, exc)


def _data_errors(engine: Engine) -> tuple[type[BaseException], ...]:
    error = getattr(engine.dialect.loaded_dbapi, "DataError", None)
    return (error,) if isinstance(error, type) else ()


def _unreachable(engine: Engine, exc: Exception) -> StorageError:
    detail = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(getattr(exc, "orig", exc)).strip() else type(exc).__name__
    return StorageError(
        f"The metadata database {redact_url(str(engine.url))} failed: {detail}. "
        "Check that it is reachable and not full, then retry."
    )
