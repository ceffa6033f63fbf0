"""``ws.audit``: read, verify, export and checkpoint the audit trail."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from gxpml.audit.export import EVENT_COLUMNS, verify_export, write_export
from gxpml.audit.verify import VerifyReport, verify_database
from gxpml.canonical import format_ts
from gxpml.errors import Conflict
from gxpml.store.tables import AuditCheckpoint, AuditEvent, AuditHead

if TYPE_CHECKING:
    from gxpml.workspace import Workspace

__all__ = ["AuditRecord", "AuditTrail"]


@dataclass(frozen=True)
class AuditRecord:
    """One audit event as the SDK returns it."""

    seq: int
    ts: str
    actor_id: str
    actor_name: str
    action: str
    entity_type: str | None
    entity_id: str | None
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    reason: str | None
    request_id: str | None
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditRecord:
        return cls(**{f: data[f] for f in cls.__dataclass_fields__})


def _record(row: AuditEvent) -> AuditRecord:
    return AuditRecord(
        seq=row.seq, ts=row.ts, actor_id=row.actor_id, actor_name=row.actor_name, action=row.action,
        entity_type=row.entity_type, entity_id=row.entity_id,
        old=None if row.old is None else json.loads(row.old),
        new=None if row.new is None else json.loads(row.new),
        reason=row.reason, request_id=row.request_id, prev_hash=row.prev_hash, hash=row.hash,
    )


def _ts(value: dt.datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return format_ts(value)


class AuditTrail:
    """``ws.audit``."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def log(
        self, *, actor: str | None = None, entity: str | None = None, action: str | None = None,
        since: dt.datetime | str | None = None, until: dt.datetime | str | None = None,
        limit: int | None = 100, newest_first: bool = False,
    ) -> list[AuditRecord]:
        """Events matching every filter given. ``actor`` is a user name or id; ``entity`` is
        ``TYPE`` or ``TYPE:ID``; ``action`` matches exactly or, ending in ``*``, by prefix."""
        ws = self._ws
        ws._db.authorize(ws.actor, "audit.read")
        query = select(AuditEvent)
        if actor:
            from gxpml.store.tables import User

            with ws._db.read() as session:
                user_id = session.scalars(select(User.id).where(User.username == actor)).first()
            query = query.where(AuditEvent.actor_id == (user_id or actor))
        if entity:
            etype, _, eid = entity.partition(":")
            query = query.where(AuditEvent.entity_type == etype)
            if eid:
                query = query.where(AuditEvent.entity_id == eid)
        if action:
            query = query.where(AuditEvent.action.startswith(action[:-1]) if action.endswith("*") else AuditEvent.action == action)
        if since:
            query = query.where(AuditEvent.ts >= _ts(since))
        if until:
            query = query.where(AuditEvent.ts <= _ts(until))
        query = query.order_by(AuditEvent.seq.desc() if newest_first else AuditEvent.seq)
        if limit:
            query = query.limit(limit)
        with ws._db.read() as session:
            return [_record(row) for row in session.scalars(query)]

    def verify(self) -> VerifyReport:
        """Verify the whole trail (see :mod:`gxpml.audit.verify`); never raises on tampering."""
        ws = self._ws
        ws._db.authorize(ws.actor, "audit.verify")
        with ws._db.connect() as conn:
            return verify_database(conn, workspace_id=ws.settings.workspace_id, public_key_hex=ws._signer.public_key_hex)

    def checkpoint(self) -> int:
        """Sign the current chain head now; returns its sequence number."""
        ws = self._ws
        with ws._db.write(ws.actor, "audit.checkpoint") as uow:
            head = uow.session.get(AuditHead, 1)
            assert head is not None
            if uow.session.get(AuditCheckpoint, head.seq) is not None:
                raise Conflict(f"Event {head.seq} has a checkpoint already.")
            ws._db.add_checkpoint(uow.session.connection(), head.seq, head.hash)
            return head.seq

    def export(
        self, path: str | Path, *, fmt: str = "jsonl", since: dt.datetime | str | None = None,
        until: dt.datetime | str | None = None,
    ) -> dict[str, Any]:
        """Write the events of a time range, with what is needed to verify them offline."""
        ws = self._ws
        ws._db.authorize(ws.actor, "audit.export")
        since_s, until_s = _ts(since), _ts(until)
        path = Path(path)
        with ws._db.connect() as conn:
            sql = f"SELECT {', '.join(EVENT_COLUMNS)} FROM audit_events"
            clauses, params = [], {}
            if since_s:
                clauses.append("ts >= :since")
                params["since"] = since_s
            if until_s:
                clauses.append("ts <= :until")
                params["until"] = until_s
            if clauses:
                sql += " WHERE " + " AND ".join(clauses)
            sql += " ORDER BY seq"
            from sqlalchemy import text

            def rows() -> Iterator[tuple[Any, ...]]:
                for row in conn.execute(text(sql), params).yield_per(5000):
                    yield tuple(row)

            cps = [
                {"seq": r.seq, "hash": r.hash, "ts": r.ts, "key_id": r.key_id, "signature": r.signature}
                for r in conn.execute(select(AuditCheckpoint.__table__).order_by(AuditCheckpoint.seq))
            ]
            manifest = write_export(
                path, rows(), cps, signer=ws._signer, workspace_id=ws.settings.workspace_id,
                fmt=fmt, since=since_s, until=until_s,
            )
        with ws._db.transaction(ws.actor, "audit.export", claim=True) as uow:
            uow.event("audit.export", new={"file": path.name, "format": fmt, "since": since_s, "until": until_s,
                                           "count": manifest["count"], "first_seq": manifest["first_seq"],
                                           "last_seq": manifest["last_seq"]})
        return manifest

    @staticmethod
    def verify_file(path: str | Path) -> VerifyReport:
        """Verify an export offline (no workspace needed)."""
        return verify_export(Path(path))
