"""``ws.artifacts`` and ``ws.keys``: the object store joined to the metadata store.

A put streams the source into the object store's ``tmp/`` while hashing and encrypting
(outside any lock), then, inside one unit of work, publishes the object at its address and
records it with its wrapped data key and an audit event. A crash before the commit leaves at
most an unrecorded object, which ``fsck`` reports as an orphan; a recorded object is always
complete. Each object has its own data key (AES-256-GCM) wrapped by the workspace master key
(envelope encryption); rotating the master key re-wraps data keys and rewrites no object.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from sqlalchemy import func, select

from gxpml.artifacts.crypto import generate_data_key
from gxpml.artifacts.keys import FileKeyProvider, KeyProvider, unwrap_data_key, wrap_data_key
from gxpml.artifacts.objects import ObjectStore, parse_digest
from gxpml.canonical import parse_ts, utcnow
from gxpml.errors import Conflict, GxpmlError, NotFound, ReasonRequired, TransferDamaged
from gxpml.store.tables import ArtifactKey, ArtifactRecord

if TYPE_CHECKING:
    from gxpml.workspace import Workspace

__all__ = ["ArtifactInfo", "Artifacts", "FsckReport", "Keys"]

#: Temp files older than this are leftovers of a crashed put, not a put in progress.
STALE_TEMP = dt.timedelta(hours=1)

#: Checks a domain adds on reads of the artifacts it owns, ``(workspace, digest) -> None``
#: raising PermissionDenied: dataset rows, for instance, are read through ``ws.data``
#: (which applies the dataset's own read roles and counts sequestered reads), not here.
READ_GUARDS: list[Callable[[Workspace, str], None]] = []
_trusted_read: ContextVar[bool] = ContextVar("gxpml_trusted_artifact_read", default=False)


@contextmanager
def trusted_read() -> Iterator[None]:
    """Reads by a domain service that has applied its own access checks already."""
    token = _trusted_read.set(True)
    try:
        yield
    finally:
        _trusted_read.reset(token)


@dataclass(frozen=True)
class ArtifactInfo:
    digest: str
    size: int
    stored_size: int
    encrypted: bool
    name: str | None
    created_at: dt.datetime
    erased_at: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "digest": f"sha256:{self.digest}", "size": self.size, "stored_size": self.stored_size,
            "encrypted": self.encrypted, "name": self.name, "created_at": self.created_at.isoformat(),
            "erased_at": self.erased_at.isoformat() if self.erased_at else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArtifactInfo:
        return cls(
            digest=parse_digest(data["digest"]), size=data["size"], stored_size=data["stored_size"],
            encrypted=data["encrypted"], name=data["name"], created_at=parse_ts(data["created_at"]),
            erased_at=None if data["erased_at"] is None else parse_ts(data["erased_at"]),
        )


def _info(record: ArtifactRecord) -> ArtifactInfo:
    return ArtifactInfo(
        digest=record.digest, size=record.size, stored_size=record.stored_size,
        encrypted=record.encrypted, name=record.name, created_at=record.created_at,
        erased_at=record.erased_at,
    )


@dataclass
class FsckReport:
    """What ``fsck`` found: problems with recorded objects, and unrecorded (orphan) objects."""

    checked: int = 0
    problems: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    stale_temps: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "checked": self.checked, "problems": self.problems,
            "orphans": [f"sha256:{d}" for d in self.orphans], "stale_temps": self.stale_temps,
            "removed": self.removed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FsckReport:
        return cls(
            checked=data["checked"], problems=list(data["problems"]),
            orphans=[parse_digest(d) for d in data["orphans"]], stale_temps=list(data["stale_temps"]),
            removed=list(data["removed"]),
        )


def open_object_store(ws: Workspace) -> ObjectStore:
    return ObjectStore(ws.settings.artifact_url, storage_options=ws.settings.artifact_options or None)


class Artifacts:
    """``ws.artifacts``: put, get, verify, list and fsck content-addressed artifacts."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._objects = open_object_store(ws)
        self._keys: KeyProvider = FileKeyProvider(ws.settings.master_keys_dir)

    # -------------------------------------------------------------- writing

    def put(
        self, source: str | Path | bytes | BinaryIO, *, name: str | None = None,
        expected_digest: str | None = None,
    ) -> ArtifactInfo:
        """Store ``source`` (a path, bytes or a binary stream, read in chunks) and return it.

        Storing content that is stored already records nothing new and returns the existing
        artifact: the address is the digest of the content. With ``expected_digest`` the
        content must hash to it, or nothing is stored (a transfer that went wrong).
        """
        expected = None if expected_digest is None else parse_digest(expected_digest)
        ws = self._ws
        ws._db.authorize(ws.actor, "artifact.put")
        if isinstance(source, bytes):
            source = io.BytesIO(source)
        if name is None and isinstance(source, (str, Path)):
            name = Path(source).name
        dek = generate_data_key() if ws.settings.encryption else None
        staged = self._objects.put(source, dek=dek)
        if expected is not None and staged.digest != expected:
            self._objects.discard(staged)
            raise TransferDamaged(
                f"The content received hashes to sha256:{staged.digest}, not the expected "
                f"sha256:{expected}: it was damaged in transfer. Nothing was stored; send it again."
            )
        try:
            with ws._db.write(ws.actor, "artifact.put") as uow:
                existing = uow.session.get(ArtifactRecord, staged.digest)
                if existing is not None:
                    if existing.erased_at is not None:
                        raise Conflict(
                            f"Artifact sha256:{staged.digest} was erased on {existing.erased_at.isoformat()}; "
                            "its content cannot be stored again under the same record."
                        )
                    self._objects.discard(staged)
                    return _info(existing)
                self._objects.publish(staged)
                record = ArtifactRecord(
                    digest=staged.digest, size=staged.size, stored_size=staged.stored_size,
                    encrypted=dek is not None, name=name,
                )
                uow.add(record)
                if dek is not None:
                    key_id = self._keys.current_key_id()
                    wrapped = wrap_data_key(self._keys.get_key(key_id), dek, digest=staged.digest)
                    uow.session.add(ArtifactKey(digest=staged.digest, key_id=key_id, wrapped=wrapped))
                uow.session.flush()
                return _info(record)
        except BaseException:
            # Not recorded: the staged temp (if still there) is garbage. A published but
            # unrecorded object is an orphan that fsck reports; a later put re-publishes it.
            try:
                self._objects.discard(staged)
            except GxpmlError:
                pass
            raise

    # -------------------------------------------------------------- reading

    def info(self, digest: str) -> ArtifactInfo:
        ws = self._ws
        ws._db.authorize(ws.actor, "artifact.read")
        with ws._db.read() as session:
            return _info(self._record(session, parse_digest(digest)))

    def list(self) -> list[ArtifactInfo]:
        ws = self._ws
        ws._db.authorize(ws.actor, "artifact.read")
        with ws._db.read() as session:
            return [_info(r) for r in session.scalars(select(ArtifactRecord).order_by(ArtifactRecord.created_at))]

    def _record(self, session: Any, digest: str) -> ArtifactRecord:
        record: ArtifactRecord | None = session.get(ArtifactRecord, digest)
        if record is None:
            raise NotFound(f"No artifact sha256:{digest} in this workspace. List artifacts with `gxpml artifacts list`.")
        if record.erased_at is not None:
            raise NotFound(f"Artifact sha256:{digest} was erased on {record.erased_at.isoformat()}; its content is gone by design.")
        return record

    def _data_key(self, digest: str, permission: str = "artifact.read") -> bytes | None:
        ws = self._ws
        ws._db.authorize(ws.actor, permission)
        with ws._db.read() as session:
            record = self._record(session, digest)
            encrypted = record.encrypted
            key = session.get(ArtifactKey, digest) if encrypted else None
        if not _trusted_read.get():
            for guard in READ_GUARDS:
                guard(ws, digest)
        if not encrypted:
            return None
        if key is None:
            raise NotFound(f"The data key of artifact sha256:{digest} is missing; the content cannot be decrypted.")
        return unwrap_data_key(self._keys.get_key(key.key_id), key.wrapped, digest=digest)

    def open(self, digest: str) -> Iterator[bytes]:
        """Stream the content. Every encrypted chunk is authenticated before it is yielded;
        the digest is checked at the end (IntegrityError there means: discard what you read)."""
        digest = parse_digest(digest)
        return self._objects.open(digest, dek=self._data_key(digest))

    def read_bytes(self, digest: str) -> bytes:
        """The whole content, verified (for small artifacts)."""
        return b"".join(self.open(digest))

    def get(self, digest: str, dest: str | Path) -> Path:
        """Write the verified content to ``dest``; nothing is written if verification fails."""
        digest = parse_digest(digest)
        self._objects.get(digest, dest, dek=self._data_key(digest))
        return Path(dest)

    def verify(self, digest: str) -> None:
        """Read the artifact through; IntegrityError naming the digest if it does not verify."""
        digest = parse_digest(digest)
        self._objects.verify(digest, dek=self._data_key(digest, "artifact.verify"))

    # -------------------------------------------------------------- checking

    def fsck(
        self, *, remove_orphans: bool = False, progress: Callable[[int, int], None] | None = None,
    ) -> FsckReport:
        """Check every recorded object against its digest and report unrecorded ones."""
        ws = self._ws
        ws._db.authorize(ws.actor, "artifact.verify")
        if remove_orphans:
            ws._db.authorize(ws.actor, "artifact.fsck")
        report = FsckReport()
        with ws._db.read() as session:
            records = {r.digest: r.encrypted for r in session.scalars(
                select(ArtifactRecord).where(ArtifactRecord.erased_at.is_(None)))}
            keys = {k.digest: (k.key_id, k.wrapped) for k in session.scalars(select(ArtifactKey))}
            erased = set(session.scalars(select(ArtifactRecord.digest).where(ArtifactRecord.erased_at.is_not(None))))
        present = set(self._objects.iter_digests())
        total = len(records)
        for i, (digest, encrypted) in enumerate(sorted(records.items()), start=1):
            report.checked += 1
            try:
                if digest not in present:
                    raise NotFound(f"Artifact sha256:{digest} is recorded but its object is missing from {self._objects.url}.")
                dek = None
                if encrypted:
                    if digest not in keys:
                        raise NotFound(f"Artifact sha256:{digest} has no data key.")
                    key_id, wrapped = keys[digest]
                    dek = unwrap_data_key(self._keys.get_key(key_id), wrapped, digest=digest)
                self._objects.verify(digest, dek=dek)
            except GxpmlError as exc:
                report.problems.append(exc.message)
            if progress is not None:
                progress(i, total)
        report.orphans = sorted(present - set(records) - erased)
        cutoff = utcnow() - STALE_TEMP
        stale = [t for t in self._objects.iter_temps() if t.modified < cutoff]
        report.stale_temps = [t.tmp_path for t in stale]
        if remove_orphans and (report.orphans or stale):
            for digest in report.orphans:
                self._objects.remove(digest, missing_ok=True)
                report.removed.append(f"sha256:{digest}")
            for temp in stale:
                self._objects.discard(temp)
                report.removed.append(temp.tmp_path)
            with ws._db.write(ws.actor, "artifact.fsck", permission="artifact.fsck") as uow:
                uow.event("artifact.fsck", new={"removed": report.removed}, reason="fsck --remove-orphans")
        return report


class Keys:
    """``ws.keys``: the master key (envelope encryption) and the audit signing key."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._provider: KeyProvider = FileKeyProvider(ws.settings.master_keys_dir)

    def show(self) -> dict[str, Any]:
        ws = self._ws
        ws._db.authorize(ws.actor, "audit.verify")
        with ws._db.read() as session:
            counts = {k: n for k, n in session.execute(select(ArtifactKey.key_id, func.count()).group_by(ArtifactKey.key_id))}
        return {
            "master_key_id": self._provider.current_key_id(),
            "data_keys_by_master_key": counts,
            "signing_key_id": ws._signer.key_id,
            "signing_public_key": ws._signer.public_key_hex,
        }

    def rotate(self, *, reason: str, destroy_old: bool = False) -> dict[str, Any]:
        """Make a new master key current and re-wrap every data key under it (no object is
        rewritten).

        Old master keys are kept by default, retired: a database backup taken before the
        rotation still holds data keys wrapped by them. With ``destroy_old=True`` they are
        destroyed (for a compromised key) — such backups then cannot decrypt artifacts.
        """
        if not reason:
            raise ReasonRequired("Rotating the master key needs a reason: pass reason=... or --reason.")
        ws = self._ws
        ws._db.authorize(ws.actor, "keys.rotate")
        old_current = self._provider.current_key_id()
        new_key_id = self._provider.create_key()
        new_key = self._provider.get_key(new_key_id)
        cache: dict[str, bytes] = {}
        count = 0
        with ws._db.write(ws.actor, "keys.rotate", reason=reason) as uow:
            for row in uow.session.scalars(select(ArtifactKey).where(ArtifactKey.key_id != new_key_id)):
                old = cache.setdefault(row.key_id, self._provider.get_key(row.key_id))
                dek = unwrap_data_key(old, row.wrapped, digest=row.digest)
                row.wrapped = wrap_data_key(new_key, dek, digest=row.digest)
                row.key_id = new_key_id
                count += 1
            uow.session.flush()
            retired = sorted((set(cache) | {old_current}) - {new_key_id})
            uow.event("keys.rotate", entity_type="master_key", entity_id=new_key_id,
                      new={"previous": old_current, "current": new_key_id, "rewrapped": count,
                           "destroyed": retired if destroy_old else []})
        if destroy_old:
            for key_id in retired:
                self._provider.destroy_key(key_id)
        return {"old_key_id": old_current, "new_key_id": new_key_id, "rewrapped": count,
                "destroyed": retired if destroy_old else [], "retired": retired}

