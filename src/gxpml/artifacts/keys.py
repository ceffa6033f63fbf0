"""Master keys and the envelope that wraps each artifact's data key.

Every encrypted artifact has its own random data encryption key (DEK). The DEK is stored
only wrapped (AES-256-GCM) under a master key held by a :class:`KeyProvider`; the wrap is
bound to the artifact's digest, so a wrapped key cannot be moved to another artifact.
Destroying a master key makes every artifact whose DEK it wraps unreadable (crypto-shredding).
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import uuid
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gxpml.artifacts.objects import parse_digest
from gxpml.errors import ConfigError, Conflict, IntegrityError, InvalidInput, NotFound, StorageError

__all__ = [
    "MASTER_KEY_SIZE",
    "FileKeyProvider",
    "KeyProvider",
    "unwrap_data_key",
    "wrap_data_key",
]

MASTER_KEY_SIZE = 32
_NONCE_SIZE = 12
_KEY_ID = re.compile(r"mk-[0-9a-f]{12}")
_CURRENT = "current"


class KeyProvider(Protocol):
    """Where master keys live. :class:`FileKeyProvider` keeps them in a local directory; a
    KMS or Vault provider implements the same four methods."""

    def current_key_id(self) -> str:
        """Return the id of the key new data keys are wrapped with."""
        ...

    def get_key(self, key_id: str) -> bytes:
        """Return the 32-byte master key ``key_id``; raise NotFound if it does not exist."""
        ...

    def create_key(self) -> str:
        """Create a new random master key, make it current, and return its id."""
        ...

    def destroy_key(self, key_id: str) -> None:
        """Destroy master key ``key_id``; data keys wrapped with it become unrecoverable."""
        ...


class FileKeyProvider:
    """Master keys as files in a private directory: ``<key_id>.key`` holds the key in hex,
    ``current`` names the current key id. The directory is mode 0700 and every file 0600.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        try:
            mode = self.directory.stat().st_mode
        except FileNotFoundError as exc:
            raise ConfigError(
                f"Key directory {self.directory} does not exist. "
                "Create it with FileKeyProvider.create() (gxpml init does this)."
            ) from exc
        except OSError as exc:
            raise StorageError(f"Cannot read key directory {self.directory}: {exc}") from exc
        if stat.S_IMODE(mode) & 0o077:
            raise ConfigError(
                f"Key directory {self.directory} is accessible to other users "
                f"(mode {stat.S_IMODE(mode):o}). Restrict it: chmod 700 {self.directory}"
            )

    @classmethod
    def create(cls, directory: str | os.PathLike[str]) -> FileKeyProvider:
        """Create the key directory with a first master key and return its provider."""
        path = Path(directory)
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(path, 0o700)  # mkdir leaves an existing directory's mode alone
            if (path / _CURRENT).exists():
                raise Conflict(
                    f"Key directory {path} already holds master keys. Open it with "
                    "FileKeyProvider(directory) instead of creating it again."
                )
        except OSError as exc:
            raise StorageError(f"Cannot create key directory {path}: {exc}") from exc
        provider = cls(path)
        provider.create_key()
        return provider

    def current_key_id(self) -> str:
        """Return the id of the key new data keys are wrapped with."""
        try:
            key_id = (self.directory / _CURRENT).read_text(encoding="ascii").strip()
        except FileNotFoundError as exc:
            raise ConfigError(
                f"Key directory {self.directory} names no current master key. "
                "Create one with FileKeyProvider.create_key()."
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise StorageError(f"Cannot read {self.directory / _CURRENT}: {exc}") from exc
        if not _KEY_ID.fullmatch(key_id):
            raise ConfigError(f"{self.directory / _CURRENT} names no valid key id: {key_id!r}.")
        return key_id

    def get_key(self, key_id: str) -> bytes:
        """Return the 32-byte master key ``key_id``."""
        path = self._key_path(key_id)
        try:
            text = path.read_text(encoding="ascii").strip()
        except FileNotFoundError as exc:
            raise NotFound(
                f"Master key {key_id} does not exist in {self.directory}; it was destroyed "
                "or never created here. Artifacts whose data keys it wraps cannot be read."
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise StorageError(f"Cannot read master key {key_id}: {exc}") from exc
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = b""
        if len(key) != MASTER_KEY_SIZE:
            raise IntegrityError(
                f"Master key file {path} is damaged: it does not hold 64 hex digits. "
                "Restore it from the key backup."
            )
        return key

    def create_key(self) -> str:
        """Create a new random master key, make it current, and return its id."""
        key_id = f"mk-{secrets.token_hex(6)}"
        key = AESGCM.generate_key(bit_length=256)
        try:
            self._write_private(self._key_path(key_id), key.hex() + "\n", exclusive=True)
            self._write_private(self.directory / _CURRENT, key_id + "\n", exclusive=False)
        except OSError as exc:
            raise StorageError(f"Cannot write master key {key_id}: {exc}") from exc
        return key_id

    def destroy_key(self, key_id: str) -> None:
        """Delete master key ``key_id``. The current key cannot be destroyed; create a new
        one first."""
        path = self._key_path(key_id)
        if key_id == self.current_key_id():
            raise Conflict(
                f"Master key {key_id} is the current key and cannot be destroyed. "
                "Create a new current key first (FileKeyProvider.create_key())."
            )
        try:
            path.unlink()
            _fsync_directory(self.directory)
        except FileNotFoundError as exc:
            raise NotFound(f"Master key {key_id} does not exist in {self.directory}.") from exc
        except OSError as exc:
            raise StorageError(f"Cannot destroy master key {key_id}: {exc}") from exc

    def _key_path(self, key_id: str) -> Path:
        # The id becomes a file name: accept only ids this provider could have made.
        if not _KEY_ID.fullmatch(key_id):
            raise InvalidInput(
                f"A master key id looks like 'mk-' followed by 12 lowercase hex digits. "
                f"Got {key_id!r}."
            )
        return self.directory / f"{key_id}.key"

    def _write_private(self, path: Path, text: str, *, exclusive: bool) -> None:
        # Written under a temporary name created 0600 (never readable by others, not even
        # briefly), flushed, then renamed over the target: readers see old or new, whole.
        temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            if exclusive:
                os.link(temp, path)  # fails if the target exists, unlike replace
                os.unlink(temp)
            else:
                os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _aad(digest: str) -> bytes:
    return f"gxpml-dek:sha256:{parse_digest(digest)}".encode("ascii")


def wrap_data_key(master: bytes, dek: bytes, *, digest: str) -> bytes:
    """Return ``dek`` encrypted under ``master`` and bound to the artifact ``digest``:
    a 12-byte random nonce followed by the AES-256-GCM ciphertext and tag."""
    if len(master) != MASTER_KEY_SIZE:
        raise InvalidInput(f"A master key must be 32 bytes. Got {len(master)} bytes.")
    nonce = os.urandom(_NONCE_SIZE)
    return nonce + AESGCM(master).encrypt(nonce, dek, _aad(digest))


def unwrap_data_key(master: bytes, wrapped: bytes, *, digest: str) -> bytes:
    """Return the data key that :func:`wrap_data_key` wrapped for ``digest``."""
    if len(master) != MASTER_KEY_SIZE:
        raise InvalidInput(f"A master key must be 32 bytes. Got {len(master)} bytes.")
    aad = _aad(digest)
    try:
        return AESGCM(master).decrypt(wrapped[:_NONCE_SIZE], wrapped[_NONCE_SIZE:], aad)
    except (InvalidTag, ValueError) as exc:
        raise IntegrityError(
            f"The wrapped data key of artifact sha256:{parse_digest(digest)} does not verify: "
            "it belongs to another artifact, was altered, or the master key is wrong. "
            "Restore the catalog from a backup; run `gxpml artifacts fsck` to check the store."
        ) from exc
