"""The content-addressed object store: bytes by the SHA-256 of their plaintext.

Layout under the store's root (a local folder or ``s3://bucket/prefix``)::

    objects/<first 2 hex digits>/<64 hex digits>   published objects, plain or encrypted
    tmp/<uuid>                                     staged by put(), not yet published

Writing is two steps so that a catalog can record the object in between: :meth:`put` streams
the source into ``tmp/`` while hashing (and encrypting), and :meth:`publish` makes it visible
at its address in one atomic step. A crash leaves at most a temp file (see
:meth:`ObjectStore.iter_temps`), never a partial object under ``objects/``.

The store keeps no metadata: whether an object is encrypted, and with which data key, is the
catalog's to remember.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Self

import fsspec  # type: ignore[import-untyped]
from fsspec.implementations.local import LocalFileSystem  # type: ignore[import-untyped]

from gxpml.artifacts.crypto import (
    DEFAULT_CHUNK_SIZE,
    HEADER_SIZE,
    DecryptionError,
    StreamDecryptor,
    StreamEncryptor,
    iter_blocks,
)
from gxpml.errors import IntegrityError, InvalidInput, NotFound, StorageError

__all__ = ["ObjectStore", "StagedObject", "TempObject", "parse_digest"]

_DIGEST = re.compile(r"(?:sha256:)?([0-9a-f]{64})")
_SHARD = re.compile(r"[0-9a-f]{2}")
# Remote writes buffer one multipart part (S3's minimum is 5 MiB); 16 MiB parts keep memory
# flat and still allow objects up to 160 GB within S3's 10,000-part limit.
_REMOTE_BLOCK_SIZE = 16 << 20
_RESTORE_HINT = (
    "Restore it from a backup or re-register it; "
    "run `gxpml artifacts fsck` to check the whole store."
)


def parse_digest(value: str) -> str:
    """Return the 64 hex digits of a SHA-256 digest given as ``<hex>`` or ``sha256:<hex>``."""
    match = _DIGEST.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        shown = value if len(repr(value)) <= 80 else f"{str(value)[:72]}..."
        raise InvalidInput(
            "An artifact digest must be 64 lowercase hex characters, optionally prefixed "
            f"with 'sha256:'. Got {shown!r}."
        )
    return match.group(1)


@dataclass(frozen=True)
class StagedObject:
    """An object written by :meth:`ObjectStore.put` but not yet published."""

    digest: str  # SHA-256 of the plaintext, 64 hex digits
    size: int  # plaintext bytes
    stored_size: int  # bytes in the store (plaintext size plus encryption overhead)
    tmp_path: str  # where it waits, inside the store


@dataclass(frozen=True)
class TempObject:
    """A leftover temp file, e.g. from a crash between put and publish."""

    tmp_path: str
    modified: datetime  # timezone-aware UTC


class ObjectStore:
    """Content-addressed objects in a local folder or an fsspec URL such as ``s3://b/p``."""

    def __init__(
        self,
        url: str,
        *,
        storage_options: dict[str, Any] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        self.url = url
        self.chunk_size = chunk_size
        try:
            self._fs, root = fsspec.core.url_to_fs(url, **(storage_options or {}))
        except (ImportError, ValueError, TypeError) as exc:
            raise InvalidInput(f"Cannot open object store {url!r}: {exc}") from exc
        self._root = root.rstrip("/")
        self._local = isinstance(self._fs, LocalFileSystem)
        self._errors = (OSError,) if self._local else _remote_errors()

    def __repr__(self) -> str:
        return f"ObjectStore({self.url!r})"

    # -- writing ------------------------------------------------------------------------

    def put(self, source: BinaryIO | str | os.PathLike[str], *, dek: bytes | None) -> StagedObject:
        """Stream ``source`` (an open binary file or a local path) into a temp file,
        encrypting with ``dek`` unless it is None, and return what was staged. Nothing under
        ``objects/`` changes until :meth:`publish`."""
        if isinstance(source, (str, os.PathLike)):
            try:
                handle = open(source, "rb")  # noqa: SIM115 - closed by the with below
            except FileNotFoundError as exc:
                raise NotFound(f"Cannot store {source}: the file does not exist.") from exc
            except OSError as exc:
                raise StorageError(f"Cannot read the file to store: {exc}") from exc
            with handle:
                return self.put(handle, dek=dek)
        encryptor = None if dek is None else StreamEncryptor(dek, chunk_size=self.chunk_size)
        tmp_path = f"{self._root}/tmp/{uuid.uuid4().hex}"
        hasher = hashlib.sha256()
        size = stored = 0
        try:
            self._fs.makedirs(f"{self._root}/tmp", exist_ok=True)
            with (
                self._fs.open(tmp_path, "wb", block_size=_REMOTE_BLOCK_SIZE) as out,
                _WriteBehind(out) as writer,
            ):
                if encryptor is not None:
                    writer.write(encryptor.header)
                    stored += len(encryptor.header)
                for block, last in _read_source(source, self.chunk_size):
                    hasher.update(block)
                    size += len(block)
                    if encryptor is not None:
                        block = encryptor.encrypt_chunk(block, final=last)
                    stored += len(block)
                    writer.write(block)
        except BaseException as exc:
            self._remove_quietly(tmp_path)
            if isinstance(exc, self._errors):
                raise StorageError(f"Cannot write to object store {self.url}: {exc}") from exc
            raise
        return StagedObject(hasher.hexdigest(), size, stored, tmp_path)

    def publish(self, staged: StagedObject) -> None:
        """Make ``staged`` visible at its address in one atomic step.

        An object already at that address is replaced. For plaintext that changes nothing;
        an encrypted object, though, is readable only with the data key it was written
        with, so the catalog decides: if it already holds the digest, discard the staged
        object instead of publishing it.
        """
        target = self._object_path(staged.digest)
        try:
            if self._local:
                self._publish_local(staged.tmp_path, target)
            else:
                # A copy on S3 (and similar stores) appears whole or not at all.
                self._fs.mv(staged.tmp_path, target)
        except FileNotFoundError as exc:
            raise NotFound(
                f"Staged object {staged.tmp_path} for sha256:{staged.digest} no longer "
                "exists: it was discarded or cleaned up. Put the file again."
            ) from exc
        except self._errors as exc:
            raise StorageError(
                f"Cannot publish sha256:{staged.digest} in {self.url}: {exc}"
            ) from exc

    def _publish_local(self, tmp_path: str, target: str) -> None:
        # Flush the bytes before the rename, and the rename itself after: after a power cut
        # or SIGKILL the address holds the whole object or nothing.
        fd = os.open(tmp_path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        directory = os.path.dirname(target)
        os.makedirs(directory, exist_ok=True)
        os.replace(tmp_path, target)
        _fsync_directory(directory)

    def discard(self, staged: StagedObject | TempObject) -> None:
        """Delete a staged object or a leftover temp file; no error if it is already gone."""
        try:
            self._fs.rm_file(staged.tmp_path)
        except FileNotFoundError:
            pass
        except self._errors as exc:
            raise StorageError(f"Cannot delete {staged.tmp_path}: {exc}") from exc

    def remove(self, digest: str, *, missing_ok: bool = False) -> None:
        """Delete the object ``digest``."""
        digest = parse_digest(digest)
        try:
            self._fs.rm_file(self._object_path(digest))
        except FileNotFoundError as exc:
            if not missing_ok:
                raise self._not_found(digest) from exc
        except self._errors as exc:
            raise StorageError(f"Cannot delete sha256:{digest} in {self.url}: {exc}") from exc

    # -- inspecting ---------------------------------------------------------------------

    def exists(self, digest: str) -> bool:
        """Return whether the object ``digest`` is published."""
        digest = parse_digest(digest)
        path = self._object_path(digest)
        self._fs.invalidate_cache(path)  # another process may have written since
        try:
            return bool(self._fs.isfile(path))
        except self._errors as exc:
            raise StorageError(f"Cannot reach object store {self.url}: {exc}") from exc

    def stored_size(self, digest: str) -> int:
        """Return the number of bytes the object ``digest`` occupies in the store."""
        digest = parse_digest(digest)
        path = self._object_path(digest)
        self._fs.invalidate_cache(path)
        try:
            return int(self._fs.size(path))
        except FileNotFoundError as exc:
            raise self._not_found(digest) from exc
        except self._errors as exc:
            raise StorageError(f"Cannot reach object store {self.url}: {exc}") from exc

    def iter_digests(self) -> Iterator[str]:
        """Yield the digest of every published object, in order, one shard listing at a
        time (a store of millions of objects is never listed in one piece)."""
        for shard_path in self._list(f"{self._root}/objects"):
            shard = shard_path["name"].rsplit("/", 1)[-1]
            if shard_path["type"] != "directory" or not _SHARD.fullmatch(shard):
                continue
            for info in self._list(shard_path["name"]):
                name = info["name"].rsplit("/", 1)[-1]
                if info["type"] == "file" and _DIGEST.fullmatch(name) and name[:2] == shard:
                    yield name

    def iter_temps(self) -> Iterator[TempObject]:
        """Yield leftover temp files with their modification times, for cleanup after a
        crash. A temp file younger than the longest upload may still be in use."""
        for info in self._list(f"{self._root}/tmp"):
            if info["type"] == "file":
                yield TempObject(info["name"], _modified(info))

    def _list(self, path: str) -> list[dict[str, Any]]:
        self._fs.invalidate_cache(path)  # another process may have written since
        try:
            entries = self._fs.ls(path, detail=True)
        except FileNotFoundError:
            return []
        except self._errors as exc:
            raise StorageError(f"Cannot list object store {self.url}: {exc}") from exc
        return sorted(entries, key=lambda info: str(info["name"]))

    # -- reading ------------------------------------------------------------------------

    def open(self, digest: str, *, dek: bytes | None) -> Iterator[bytes]:
        """Stream the plaintext of object ``digest``, decrypting with ``dek`` unless None.

        With a ``dek`` every chunk is authenticated before it is yielded. Without one, the
        SHA-256 is checked only once the last byte is read, so the caller must consume the
        iterator to the end and discard what it got if IntegrityError is raised there.
        """
        digest = parse_digest(digest)
        path = self._object_path(digest)
        if not self.exists(digest):  # fail here, not at the caller's first next()
            raise self._not_found(digest)
        return self._stream(digest, path, dek)

    def _stream(self, digest: str, path: str, dek: bytes | None) -> Iterator[bytes]:
        hasher = hashlib.sha256()
        try:
            with self._fs.open(
                path, "rb", block_size=_REMOTE_BLOCK_SIZE, cache_type="readahead"
            ) as stored:
                if dek is None:
                    for block, _ in iter_blocks(stored, self.chunk_size):
                        hasher.update(block)
                        yield block
                else:
                    decryptor = StreamDecryptor(dek, stored.read(HEADER_SIZE))
                    for block, last in iter_blocks(stored, decryptor.sealed_chunk_size):
                        plain = decryptor.decrypt_chunk(block, final=last)
                        hasher.update(plain)
                        yield plain
        except DecryptionError as exc:
            raise self._corrupt(digest, f"decryption failed ({exc})") from exc
        except FileNotFoundError as exc:
            raise self._not_found(digest) from exc
        except self._errors as exc:
            raise StorageError(f"Cannot read sha256:{digest} from {self.url}: {exc}") from exc
        if hasher.hexdigest() != digest:
            raise self._corrupt(digest, f"its content hashes to sha256:{hasher.hexdigest()}")

    def get(self, digest: str, dest: str | os.PathLike[str], *, dek: bytes | None) -> None:
        """Write the verified plaintext of ``digest`` to the local file ``dest``. The file
        appears (or is replaced) only after verification; on failure ``dest`` is untouched.
        """
        chunks = self.open(digest, dek=dek)
        dest = Path(dest)
        temp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
        try:
            with open(temp, "xb") as out:
                with _WriteBehind(out) as writer:
                    for chunk in chunks:
                        writer.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, dest)
        except BaseException as exc:
            temp.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise StorageError(f"Cannot write {dest}: {exc}") from exc
            raise

    def verify(self, digest: str, *, dek: bytes | None) -> None:
        """Read the object ``digest`` through and raise IntegrityError unless it verifies."""
        for _ in self.open(digest, dek=dek):
            pass

    # -- helpers ------------------------------------------------------------------------

    def _object_path(self, digest: str) -> str:
        return f"{self._root}/objects/{digest[:2]}/{digest}"

    def _not_found(self, digest: str) -> NotFound:
        return NotFound(
            f"Artifact sha256:{digest} is not in the object store {self.url}. If the catalog "
            f"lists it, the object was lost: {_RESTORE_HINT}"
        )

    def _corrupt(self, digest: str, reason: str) -> IntegrityError:
        return IntegrityError(
            f"Artifact sha256:{digest} failed verification: {reason}. {_RESTORE_HINT}"
        )

    def _remove_quietly(self, path: str) -> None:
        try:
            self._fs.rm_file(path)
        except self._errors:
            pass  # the caller is already failing; the temp shows up in iter_temps()


def _read_source(source: BinaryIO, chunk_size: int) -> Iterator[tuple[bytes, bool]]:
    # Told apart from the store's own OSErrors, which put() reports as write failures.
    try:
        yield from iter_blocks(source, chunk_size)
    except OSError as exc:
        raise StorageError(f"Cannot read the file to store: {exc}") from exc


class _WriteBehind:
    """Writes on one background thread, in order, with at most ``depth`` chunks waiting.

    SHA-256, AES-GCM and file or network writes all release the GIL, so on two cores
    hashing and encrypting the next chunk overlaps with writing this one: about twice the
    throughput of doing them in turn, at the cost of ``depth`` chunks of memory.
    """

    def __init__(self, out: Any, depth: int = 3) -> None:
        self._out = out
        self._depth = depth
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gxpml-write")
        self._pending: deque[Future[Any]] = deque()

    def write(self, data: bytes) -> None:
        self._pending.append(self._pool.submit(self._out.write, data))
        if len(self._pending) >= self._depth:
            self._pending.popleft().result()  # re-raises the writer's error here

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                while self._pending:
                    self._pending.popleft().result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)


@functools.cache
def _remote_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a remote filesystem may raise for a failed call: s3fs translates most
    S3 errors to OSError, but connection failures surface as botocore exceptions."""
    errors: list[type[BaseException]] = [OSError]
    try:
        from botocore.exceptions import (  # type: ignore[import-untyped]
            BotoCoreError,
            ClientError,
        )
    except ImportError:
        pass
    else:
        errors += [BotoCoreError, ClientError]
    return tuple(errors)


def _modified(info: dict[str, Any]) -> datetime:
    value = info.get("mtime", info.get("LastModified", info.get("created")))
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(value or 0), tz=UTC)


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
