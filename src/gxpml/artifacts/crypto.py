"""Streaming authenticated encryption of artifact bytes (chunked AES-256-GCM).

An object of any size is encrypted chunk by chunk, so neither side ever holds more than a
couple of chunks, and every chunk is authenticated before its plaintext is released. The
construction follows STREAM (Hoang, Reyhanitabar, Rogaway, Vizár 2015)::

    header = b"GXPA" | version (1 byte, = 1) | nonce prefix (8 random bytes)
             | chunk size (4 bytes, big-endian)
    chunk i = AES-256-GCM(dek).encrypt(nonce = prefix | i (4 bytes, big-endian),
                                       plaintext chunk i,
                                       aad = header | final flag (1 byte: 1 last, 0 other))

Every chunk but the last holds exactly ``chunk size`` plaintext bytes; the last holds
``0 < n <= chunk size`` bytes, or 0 bytes only when the whole plaintext is empty. The counter
in the nonce pins each chunk's position, the final flag detects truncation at a chunk
boundary, and the header in the AAD binds every chunk to this stream's header.

Failures raise :class:`DecryptionError`, a crypto-level error; the object store turns it
into :class:`gxpml.errors.IntegrityError` naming the artifact.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from typing import BinaryIO, Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gxpml.errors import InvalidInput

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "HEADER_SIZE",
    "MAX_CHUNK_SIZE",
    "TAG_SIZE",
    "DecryptionError",
    "StreamDecryptor",
    "StreamEncryptor",
    "decrypt_stream",
    "encrypt_stream",
    "encrypted_size",
    "generate_data_key",
    "iter_blocks",
]

MAGIC = b"GXPA"
VERSION = 1
KEY_SIZE = 32
TAG_SIZE = 16
DEFAULT_CHUNK_SIZE = 1 << 20
# A corrupt header must not make a reader allocate gigabytes before the first tag check.
MAX_CHUNK_SIZE = 64 << 20
_HEADER = struct.Struct(">4sB8sI")
HEADER_SIZE = _HEADER.size
_MAX_CHUNKS = 1 << 32  # the counter is 4 bytes
_FINAL = b"\x01"
_NOT_FINAL = b"\x00"


class DecryptionError(Exception):
    """Stored bytes are not an intact encryption under this key (tampered, truncated, or
    the wrong key)."""


def generate_data_key() -> bytes:
    """Return a new random 256-bit data encryption key (DEK)."""
    return AESGCM.generate_key(bit_length=256)


def encrypted_size(plain_size: int, chunk_size: int = DEFAULT_CHUNK_SIZE) -> int:
    """Return the stored size of ``plain_size`` plaintext bytes encrypted with ``chunk_size``."""
    chunks = max(1, -(-plain_size // chunk_size))
    return HEADER_SIZE + plain_size + chunks * TAG_SIZE


def _check_key(dek: bytes) -> AESGCM:
    if len(dek) != KEY_SIZE:
        raise InvalidInput(
            f"A data encryption key must be {KEY_SIZE} bytes (AES-256). Got {len(dek)} bytes."
        )
    return AESGCM(dek)


class StreamEncryptor:
    """Encrypts one stream: emit :attr:`header`, then call :meth:`encrypt_chunk` for each
    chunk in order, with ``final=True`` for the last one."""

    def __init__(self, dek: bytes, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise InvalidInput(
                f"The encryption chunk size must be between 1 and {MAX_CHUNK_SIZE} bytes. "
                f"Got {chunk_size}."
            )
        self._aead = _check_key(dek)
        self.chunk_size = chunk_size
        self._prefix = os.urandom(8)
        self.header = _HEADER.pack(MAGIC, VERSION, self._prefix, chunk_size)
        self._aad = self.header + _NOT_FINAL
        self._counter = 0
        self._finished = False

    def encrypt_chunk(self, chunk: bytes | bytearray | memoryview, *, final: bool) -> bytes:
        """Return the sealed chunk (ciphertext and 16-byte tag)."""
        if self._finished:
            raise RuntimeError("encrypt_chunk() called after the final chunk")
        size = len(chunk)
        if size > self.chunk_size or (size < self.chunk_size and not final):
            raise ValueError(f"only the final chunk may be shorter than {self.chunk_size} bytes")
        if size == 0 and self._counter > 0:
            raise ValueError("only an empty stream has an empty final chunk")
        if self._counter >= _MAX_CHUNKS:
            raise ValueError("stream too long for the 32-bit chunk counter")
        nonce = self._prefix + self._counter.to_bytes(4, "big")
        self._counter += 1
        if final:
            self._finished = True
            return self._aead.encrypt(nonce, chunk, self.header + _FINAL)
        return self._aead.encrypt(nonce, chunk, self._aad)


class StreamDecryptor:
    """Decrypts one stream: construct it from the stored header, then call
    :meth:`decrypt_chunk` for each sealed chunk of :attr:`sealed_chunk_size` bytes (the last
    may be shorter) in order, with ``final=True`` for the last one."""

    def __init__(self, dek: bytes, header: bytes) -> None:
        self._aead = _check_key(dek)
        if len(header) != HEADER_SIZE:
            raise DecryptionError("the stored object is shorter than the encryption header")
        magic, version, prefix, chunk_size = _HEADER.unpack(header)
        if magic != MAGIC:
            raise DecryptionError("the stored object is not a gxpml encrypted object")
        if version != VERSION:
            raise DecryptionError(f"unknown encryption format version {version}")
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise DecryptionError(f"implausible chunk size {chunk_size} in the header")
        self.header = bytes(header)
        self.chunk_size = chunk_size
        self.sealed_chunk_size = chunk_size + TAG_SIZE
        self._prefix = prefix
        self._aad = self.header + _NOT_FINAL
        self._counter = 0
        self.finished = False

    def decrypt_chunk(self, sealed: bytes | bytearray | memoryview, *, final: bool) -> bytes:
        """Authenticate and return the plaintext of the next chunk."""
        if self.finished:
            raise DecryptionError("data follows the final chunk")
        if self._counter >= _MAX_CHUNKS:
            raise DecryptionError("stream too long for the 32-bit chunk counter")
        size = len(sealed)
        if size > self.sealed_chunk_size or (size < self.sealed_chunk_size and not final):
            raise DecryptionError(f"chunk {self._counter} has the wrong length")
        if final and size == 0:
            raise DecryptionError(
                "the stream is truncated: its final chunk is missing"
                if self._counter
                else "the stream is truncated: it has a header but no chunks"
            )
        nonce = self._prefix + self._counter.to_bytes(4, "big")
        aad = self.header + _FINAL if final else self._aad
        try:
            plain = self._aead.decrypt(nonce, sealed, aad)
        except InvalidTag as exc:
            if final and self._is_intact_middle_chunk(nonce, sealed):
                raise DecryptionError(
                    f"the stream is truncated: its final chunk is missing after chunk "
                    f"{self._counter}"
                ) from exc
            where = "final chunk" if final else "chunk"
            raise DecryptionError(
                f"{where} {self._counter} failed authentication "
                "(altered, truncated, reordered, or the wrong key)"
            ) from exc
        if final and not plain and self._counter > 0:
            # An encryptor never emits this; refuse it rather than trust it.
            raise DecryptionError("empty final chunk after data")
        self._counter += 1
        self.finished = final
        return plain

    def _is_intact_middle_chunk(self, nonce: bytes, sealed: bytes | bytearray | memoryview) -> bool:
        # Only to word the error: a "last" chunk that authenticates as a middle one means
        # the stream was cut at a chunk boundary, not altered.
        if len(sealed) != self.sealed_chunk_size:
            return False
        try:
            self._aead.decrypt(nonce, sealed, self._aad)
        except InvalidTag:
            return False
        return True


@runtime_checkable
class _Readable(Protocol):
    def read(self, size: int, /) -> bytes | None: ...


def _read_full(source: _Readable, size: int) -> bytes:
    """Read ``size`` bytes, or fewer only at end of input (pipes and sockets return short
    reads before their end)."""
    data = source.read(size)
    if data is None:
        raise ValueError("non-blocking sources are not supported")
    if len(data) == size or not data:
        return data
    parts = [data]
    missing = size - len(data)
    while missing:
        more = source.read(missing)
        if not more:
            break
        parts.append(more)
        missing -= len(more)
    return b"".join(parts)


class _IterableReader:
    """``read(size)`` over an iterable of byte strings of any sizes."""

    def __init__(self, pieces: Iterable[bytes]) -> None:
        self._pieces = iter(pieces)
        self._buffer = bytearray()

    def read(self, size: int) -> bytes:
        if not self._buffer:
            piece = next(self._pieces, b"")
            if len(piece) == size:  # the common case: the producer's chunks already fit
                return bytes(piece)
            self._buffer += piece
        while len(self._buffer) < size:
            more = next(self._pieces, None)
            if more is None:
                break
            self._buffer += more
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


def _as_reader(source: _Readable | Iterable[bytes]) -> _Readable:
    # Test for read() first: a binary file is also an iterable, of lines.
    if isinstance(source, _Readable):
        return source
    return _IterableReader(source)


def iter_blocks(source: _Readable | Iterable[bytes], size: int) -> Iterator[tuple[bytes, bool]]:
    """Yield ``(block, is_last)`` with every block exactly ``size`` bytes except the last,
    which may be shorter, and is empty only when the input is. One block of look-ahead
    tells the last block apart even when the input length is an exact multiple of ``size``.
    """
    reader = _as_reader(source)
    current = _read_full(reader, size)
    while current:
        following = _read_full(reader, size)
        if not following:
            break
        yield current, False
        current = following
    yield current, True


def encrypt_stream(
    plaintext: BinaryIO | Iterable[bytes], dek: bytes, *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Iterator[bytes]:
    """Yield the stored form of ``plaintext``: the header, then one sealed chunk at a time."""
    encryptor = StreamEncryptor(dek, chunk_size=chunk_size)
    yield encryptor.header
    for block, last in iter_blocks(plaintext, chunk_size):
        yield encryptor.encrypt_chunk(block, final=last)


def decrypt_stream(stored: BinaryIO | Iterable[bytes], dek: bytes) -> Iterator[bytes]:
    """Yield the plaintext of ``stored`` one authenticated chunk at a time.

    Raises :class:`DecryptionError` at the first chunk that fails, or at the end if the
    stream stops before its final chunk; nothing unauthenticated is ever yielded.
    """
    reader = _as_reader(stored)
    decryptor = StreamDecryptor(dek, _read_full(reader, HEADER_SIZE))
    for block, last in iter_blocks(reader, decryptor.sealed_chunk_size):
        yield decryptor.decrypt_chunk(block, final=last)
