"""``audit verify``: recompute every hash and signature, and replay record state.

Checks, in order of the chain:

1. sequence numbers run 1, 2, 3, ... without gaps (a deleted or reordered event shows here);
2. each event's ``prev_hash`` is the hash of the event before it;
3. each event's ``hash`` is the SHA-256 of its canonical form (an edited field shows here);
4. each checkpoint's Ed25519 signature verifies and signs the hash of its event;
5. the chain head row agrees with the last event;
6. every audited record's current state equals the state its last event recorded, so a row
   edited directly in the database (bypassing gxpml) is named;
7. every sealed segment's rows still hash to the sealed digest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Boolean, Connection, Table, select

from gxpml.audit.chain import GENESIS_HASH, event_payload
from gxpml.audit.checkpoints import checkpoint_message, key_id_of, verify_signature
from gxpml.canonical import canonical_json
from gxpml.store.tables import AuditCheckpoint, Audited, AuditHead, Segment
from gxpml.store.uow import segment_digest

__all__ = ["Problem", "VerifyReport", "register_segment_source", "verify_events", "verify_database"]

import hashlib

#: Loaders of the rows of a sealed segment, by segment kind: ``(connection, segment_id) -> rows``.
SEGMENT_SOURCES: dict[str, Callable[[Connection, str], Iterable[Mapping[str, Any]]]] = {}

MAX_PROBLEMS = 100

#: Checks of the chain itself; record and segment checks name records, not a failing event.
CHAIN_CHECKS = frozenset({"sequence", "link", "hash", "checkpoint", "head"})


def register_segment_source(kind: str, loader: Callable[[Connection, str], Iterable[Mapping[str, Any]]]) -> None:
    """Tell verify how to re-read the rows of segments of ``kind``, in sealing order."""
    SEGMENT_SOURCES[kind] = loader


@dataclass(frozen=True)
class Problem:
    """One failed check; ``seq`` is the event (or checkpoint) sequence number when there is one."""

    check: str
    message: str
    seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "message": self.message, "seq": self.seq}


@dataclass
class VerifyReport:
    events: int = 0
    checkpoints: int = 0
    records: int = 0
    segments: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_failure(self) -> int | None:
        """The lowest sequence number at which the chain itself fails (None if it holds)."""
        seqs = [p.seq for p in self.problems if p.seq is not None and p.check in CHAIN_CHECKS]
        return min(seqs) if seqs else None

    def add(self, check: str, message: str, seq: int | None = None) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(check, message, seq))

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "events": self.events, "checkpoints": self.checkpoints,
            "records": self.records, "segments": self.segments, "head_seq": self.head_seq,
            "head_hash": self.head_hash, "first_failure": self.first_failure,
            "problems": [p.to_dict() for p in self.problems],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VerifyReport:
        return cls(
            events=data["events"], checkpoints=data["checkpoints"], records=data["records"],
            segments=data["segments"], head_seq=data["head_seq"], head_hash=data["head_hash"],
            problems=[Problem(p["check"], p["message"], p["seq"]) for p in data["problems"]],
        )


_COLUMNS = ("seq", "ts", "actor_id", "actor_name", "action", "entity_type", "entity_id",
            "old", "new", "reason", "request_id", "prev_hash", "hash")


def verify_events(
    rows: Iterable[tuple[Any, ...]], checkpoints: Mapping[int, Mapping[str, Any]],
    *, workspace_id: str, public_key_hex: str, report: VerifyReport,
    first_seq: int = 1, prev_hash: str = GENESIS_HASH,
    on_event: Callable[[tuple[Any, ...]], None] | None = None,
) -> None:
    """Check a run of events (tuples in ``_COLUMNS`` order) and the checkpoints among them."""
    sha256 = hashlib.sha256
    expected = first_seq
    prev = prev_hash
    hashes_at: dict[int, str] = {}
    wanted = set(checkpoints)
    broken = False
    for row in rows:
        seq, ts, actor_id, actor_name, action, etype, eid, old, new, reason, rid, row_prev, row_hash = row
        report.events += 1
        if seq != expected:
            if seq > expected:
                report.add("sequence", f"Events {expected}..{seq - 1} are missing: the chain jumps from {expected - 1} to {seq}.", expected)
            else:
                report.add("sequence", f"Event {seq} appears out of order after event {expected - 1}.", seq)
            broken = True
        if row_prev != prev:
            if not broken:
                report.add("link", f"Event {seq} does not link to the event before it (prev_hash {row_prev[:12]}… ≠ {prev[:12]}…): an event before it was removed, inserted or reordered.", seq)
            broken = True
        payload = event_payload(
            seq=seq, ts=ts, actor_id=actor_id, actor_name=actor_name, action=action,
            entity_type=etype, entity_id=eid, old=old, new=new, reason=reason,
            request_id=rid, prev_hash=row_prev,
        )
        if sha256(payload.encode("utf-8")).hexdigest() != row_hash:
            report.add("hash", f"Event {seq} was altered: its content does not match its hash.", seq)
            broken = True
        if seq in wanted:
            hashes_at[seq] = row_hash
        if on_event is not None:
            on_event(row)
        prev = row_hash
        expected = seq + 1
        report.head_seq, report.head_hash = seq, row_hash
    for seq in sorted(checkpoints):
        cp = checkpoints[seq]
        report.checkpoints += 1
        if cp["key_id"] != key_id_of(public_key_hex):
            report.add("checkpoint", f"Checkpoint at event {seq} was signed by an unknown key {cp['key_id']}.", seq)
            continue
        message = checkpoint_message(workspace_id=workspace_id, seq=seq, hash=cp["hash"], ts=cp["ts"])
        if not verify_signature(public_key_hex, message, cp["signature"]):
            report.add("checkpoint", f"Checkpoint at event {seq}: the signature does not verify (the checkpoint was altered or forged).", seq)
        elif seq not in hashes_at:
            if seq < expected:
                report.add("checkpoint", f"Checkpoint at event {seq} refers to an event that is missing.", seq)
        elif hashes_at[seq] != cp["hash"]:
            report.add("checkpoint", f"Checkpoint at event {seq} signed hash {cp['hash'][:12]}… but the event now hashes to {hashes_at[seq][:12]}…: the chain was rewritten.", seq)


def _stream(conn: Connection, sql: str, size: int = 10_000) -> Iterator[tuple[Any, ...]]:
    """Rows straight from the driver (a server-side cursor on PostgreSQL), in batches: the
    chain can be longer than memory, and SQLAlchemy's row objects would cost a third of the
    verification time."""
    conn.exec_driver_sql("SELECT 1")  # make sure the connection's transaction has begun
    driver = conn.connection.driver_connection
    assert driver is not None
    if conn.dialect.name == "postgresql":
        cursor = driver.cursor(name=f"gxpml_verify_{id(conn)}")
        cursor.itersize = size
    else:
        cursor = driver.cursor()
    try:
        cursor.execute(sql)
        while batch := cursor.fetchmany(size):
            yield from batch
    finally:
        cursor.close()


def verify_database(conn: Connection, *, workspace_id: str, public_key_hex: str) -> VerifyReport:
    """Verify the whole chain, checkpoints, head, record state and segments of a database."""
    report = VerifyReport()
    checkpoints = {
        row.seq: {"hash": row.hash, "ts": row.ts, "key_id": row.key_id, "signature": row.signature}
        for row in conn.execute(select(AuditCheckpoint.__table__))
    }
    latest: dict[tuple[str, str], tuple[int, str | None]] = {}
    # An event carries a record's state when its ``new`` holds exactly the record's columns
    # (other events about a record, such as a denied login, carry other keys). Canonical JSON
    # sorts keys, so a cheap prefix test picks candidates; the key set is checked on compare.
    prefixes = {
        entity: '{"' + min(c.key for c in model.__table__.columns) + '":'
        for entity, model in Audited.registry_by_entity.items()
    }

    def remember(row: tuple[Any, ...]) -> None:
        prefix = prefixes.get(row[5])
        if prefix is not None and row[6] is not None and row[8] is not None and row[8].startswith(prefix):
            latest[(row[5], row[6])] = (row[0], row[8])

    verify_events(
        _stream(conn, f"SELECT {', '.join(_COLUMNS)} FROM audit_events ORDER BY seq"),
        checkpoints, workspace_id=workspace_id, public_key_hex=public_key_hex,
        report=report, on_event=remember,
    )
    head = conn.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one_or_none()
    if head is None:
        report.add("head", "The chain head row is missing.")
    elif (head.seq, head.hash) != (report.head_seq, report.head_hash):
        if head.seq > report.head_seq:
            report.add("head", f"The chain head says the last event is {head.seq}, but the last event found is {report.head_seq}: events at the end were deleted.", report.head_seq + 1)
        else:
            report.add("head", f"The chain head (event {head.seq}) does not match the last event found ({report.head_seq}).", head.seq + 1)
    _verify_records(conn, latest, report)
    _verify_segments(conn, report)
    return report


def _column_readers(table: Table, dialect: Any) -> list[tuple[str, Any]]:
    """How to turn each raw driver value into what the record's events carry. Timestamps are
    stored as the very text the events hold (UTCDateTime), so they are taken as they are;
    only booleans (0/1 on SQLite) need SQLAlchemy's result processor."""
    readers: list[tuple[str, Any]] = []
    for column in table.columns:
        processor = (column.type.result_processor(dialect, None)  # type: ignore[no-untyped-call]
                     if isinstance(column.type, Boolean) else None)
        readers.append((column.key, processor))
    return readers


def _verify_records(conn: Connection, latest: Mapping[tuple[str, str], tuple[int, str | None]], report: VerifyReport) -> None:
    seen: set[tuple[str, str]] = set()
    sha = hashlib.sha256
    for entity, model in sorted(Audited.registry_by_entity.items()):
        table = model.__table__
        assert isinstance(table, Table)
        if not conn.dialect.has_table(conn, table.name):
            continue
        readers = _column_readers(table, conn.dialect)
        redact = model.__audit_redact__
        pk = [i for i, c in enumerate(table.columns) if c.primary_key]
        names = ", ".join(c.name for c in table.columns)
        for raw in _stream(conn, f"SELECT {names} FROM {table.name}"):
            state: dict[str, Any] = {}
            for (name, processor), value in zip(readers, raw, strict=True):
                if processor is not None:
                    value = processor(value)
                if name in redact and value is not None:
                    value = "sha256:" + sha(str(value).encode("utf-8")).hexdigest()
                state[name] = value
            entity_id = "/".join(str(raw[i]) for i in pk)
            seen.add((entity, entity_id))
            report.records += 1
            recorded = latest.get((entity, entity_id))
            if recorded is None:
                report.add("record", f"{entity} {entity_id} has no audit event: it was written outside gxpml.")
                continue
            text = canonical_json(state)
            if text != recorded[1]:
                changed = _diff(json.loads(recorded[1] or "{}"), state)
                report.add(
                    "record",
                    f"{entity} {entity_id} differs from its audit trail (last event {recorded[0]}): "
                    f"{changed}. It was changed outside gxpml.",
                    recorded[0],
                )
    for key, (seq, _) in latest.items():
        if key not in seen and key[0] in Audited.registry_by_entity:
            report.add("record", f"{key[0]} {key[1]} is in the audit trail (event {seq}) but missing from the database: it was deleted outside gxpml.", seq)


def _diff(recorded: Mapping[str, Any], found: Mapping[str, Any]) -> str:
    parts = []
    for key in sorted(set(recorded) | set(found)):
        if recorded.get(key) != found.get(key):
            parts.append(f"{key} recorded {recorded.get(key)!r}, found {found.get(key)!r}")
    return "; ".join(parts) or "columns differ"


def _verify_segments(conn: Connection, report: VerifyReport) -> None:
    if not conn.dialect.has_table(conn, Segment.__tablename__):
        return
    for row in conn.execute(select(Segment.__table__)):
        segment = row._mapping
        report.segments += 1
        loader = SEGMENT_SOURCES.get(segment["kind"])
        if loader is None:
            continue
        digest, count = segment_digest(loader(conn, segment["id"]))
        if (digest, count) != (segment["digest"], segment["count"]):
            report.add("segment", f"Segment {segment['id']} ({segment['kind']}) no longer matches its sealed digest: {count} rows now, {segment['count']} sealed; a row was changed, added or removed.")
