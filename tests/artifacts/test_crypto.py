"""The chunked AEAD format, the data-key envelope and the file key provider."""

from __future__ import annotations

import io
import os
import stat
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gxpml.artifacts.crypto import (
    HEADER_SIZE,
    TAG_SIZE,
    DecryptionError,
    StreamDecryptor,
    StreamEncryptor,
    decrypt_stream,
    encrypt_stream,
    encrypted_size,
    generate_data_key,
)
from gxpml.artifacts.keys import FileKeyProvider, unwrap_data_key, wrap_data_key
from gxpml.errors import ConfigError, Conflict, IntegrityError, InvalidInput, NotFound

DIGEST_A = "a" * 64
DIGEST_B = "b" * 64


def encrypt(data: bytes, dek: bytes, chunk_size: int) -> bytes:
    return b"".join(encrypt_stream([data], dek, chunk_size=chunk_size))


def decrypt(stored: bytes, dek: bytes) -> bytes:
    return b"".join(decrypt_stream(io.BytesIO(stored), dek))


def sealed_chunks(stored: bytes) -> list[bytes]:
    """Split a stored stream into its sealed chunks (the header excluded)."""
    chunk_size = struct.unpack(">I", stored[13:HEADER_SIZE])[0]
    body, step = stored[HEADER_SIZE:], chunk_size + TAG_SIZE
    return [body[i : i + step] for i in range(0, len(body), step)]


# -- the stream format --------------------------------------------------------------------


def test_header_is_magic_version_nonce_prefix_and_chunk_size() -> None:
    stored = encrypt(b"hello", generate_data_key(), chunk_size=4096)

    assert stored[:4] == b"GXPA"
    assert stored[4] == 1
    assert struct.unpack(">I", stored[13:17]) == (4096,)
    assert len(stored) == encrypted_size(5, 4096) == HEADER_SIZE + 5 + TAG_SIZE


def test_each_stream_has_a_fresh_nonce_prefix() -> None:
    dek = generate_data_key()

    first, second = encrypt(b"same", dek, 64), encrypt(b"same", dek, 64)

    assert first[5:13] != second[5:13]
    assert first != second


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 128, 129, 64 * 5 + 3])
def test_round_trip_around_chunk_boundaries(size: int) -> None:
    dek, data = generate_data_key(), os.urandom(size)

    stored = encrypt(data, dek, chunk_size=64)

    assert len(stored) == encrypted_size(size, 64)
    assert decrypt(stored, dek) == data


def test_empty_input_is_one_empty_final_chunk() -> None:
    stored = encrypt(b"", generate_data_key(), chunk_size=64)

    assert len(stored) == HEADER_SIZE + TAG_SIZE


def test_input_of_whole_chunks_has_no_extra_empty_chunk() -> None:
    stored = encrypt(b"x" * 128, generate_data_key(), chunk_size=64)

    assert len(sealed_chunks(stored)) == 2


@settings(max_examples=200)
@given(
    pieces=st.lists(st.binary(max_size=300), max_size=8),
    chunk_size=st.integers(min_value=1, max_value=100),
    read_pieces=st.integers(min_value=1, max_value=50),
)
def test_any_bytes_in_any_pieces_round_trip(
    pieces: list[bytes], chunk_size: int, read_pieces: int
) -> None:
    dek, data = generate_data_key(), b"".join(pieces)

    stored = b"".join(encrypt_stream(pieces, dek, chunk_size=chunk_size))
    resplit = [stored[i : i + read_pieces] for i in range(0, len(stored), read_pieces)]

    assert len(stored) == encrypted_size(len(data), chunk_size)
    assert b"".join(decrypt_stream(resplit, dek)) == data


@settings(max_examples=200)
@given(
    data=st.binary(max_size=400),
    chunk_size=st.integers(min_value=1, max_value=64),
    position=st.integers(min_value=0),
    bit=st.integers(min_value=0, max_value=7),
)
def test_any_flipped_bit_fails_decryption(
    data: bytes, chunk_size: int, position: int, bit: int
) -> None:
    dek = generate_data_key()
    stored = bytearray(encrypt(data, dek, chunk_size))
    stored[position % len(stored)] ^= 1 << bit

    with pytest.raises(DecryptionError):
        decrypt(bytes(stored), dek)


@settings(max_examples=200)
@given(
    data=st.binary(max_size=400),
    chunk_size=st.integers(min_value=1, max_value=64),
    cut=st.integers(min_value=1),
)
def test_any_truncation_fails_decryption(data: bytes, chunk_size: int, cut: int) -> None:
    dek = generate_data_key()
    stored = encrypt(data, dek, chunk_size)

    with pytest.raises(DecryptionError):
        decrypt(stored[: -(1 + cut % len(stored))], dek)


def test_dropping_the_final_chunk_is_detected_as_truncation() -> None:
    dek = generate_data_key()
    stored = encrypt(os.urandom(64 * 3), dek, chunk_size=64)

    with pytest.raises(DecryptionError, match="final chunk is missing"):
        decrypt(stored[: -(64 + TAG_SIZE)], dek)


def test_a_header_without_chunks_is_truncated() -> None:
    dek = generate_data_key()
    stored = encrypt(b"abc", dek, chunk_size=64)

    with pytest.raises(DecryptionError, match="header but no chunks"):
        decrypt(stored[:HEADER_SIZE], dek)


def test_swapped_chunks_fail_decryption() -> None:
    dek = generate_data_key()
    stored = encrypt(os.urandom(64 * 3), dek, chunk_size=64)
    first, second, third = sealed_chunks(stored)

    with pytest.raises(DecryptionError, match="chunk 0 failed authentication"):
        decrypt(stored[:HEADER_SIZE] + second + first + third, dek)


def test_a_chunk_from_another_stream_under_the_same_key_fails() -> None:
    dek = generate_data_key()
    one = encrypt(os.urandom(128), dek, chunk_size=64)
    other = encrypt(os.urandom(128), dek, chunk_size=64)
    spliced = one[:HEADER_SIZE] + sealed_chunks(one)[0] + sealed_chunks(other)[1]

    with pytest.raises(DecryptionError, match="final chunk 1 failed authentication"):
        decrypt(spliced, dek)


def test_appended_bytes_fail_decryption() -> None:
    dek = generate_data_key()
    stored = encrypt(os.urandom(64 * 2), dek, chunk_size=64)

    with pytest.raises(DecryptionError):
        decrypt(stored + b"\x00" * (64 + TAG_SIZE), dek)


def test_wrong_key_fails_decryption() -> None:
    stored = encrypt(b"secret", generate_data_key(), chunk_size=64)

    with pytest.raises(DecryptionError, match="the wrong key"):
        decrypt(stored, generate_data_key())


def test_plaintext_is_not_mistaken_for_an_encrypted_object() -> None:
    with pytest.raises(DecryptionError, match="not a gxpml encrypted object"):
        decrypt(b"just some plain bytes, long enough", generate_data_key())


def test_an_implausible_chunk_size_is_refused_before_reading_a_chunk() -> None:
    header = b"GXPA\x01" + os.urandom(8) + struct.pack(">I", 2**31)

    with pytest.raises(DecryptionError, match="implausible chunk size"):
        StreamDecryptor(generate_data_key(), header)


def test_chunks_before_a_damaged_one_are_released_and_none_after() -> None:
    dek = generate_data_key()
    data = bytes(range(64)) * 4
    stored = bytearray(encrypt(data, dek, chunk_size=64))
    stored[HEADER_SIZE + 2 * (64 + TAG_SIZE) + 5] ^= 1
    released = []

    with pytest.raises(DecryptionError, match="chunk 2 failed"):
        for chunk in decrypt_stream(io.BytesIO(bytes(stored)), dek):
            released.append(chunk)

    assert b"".join(released) == data[:128]


def test_encryptor_refuses_a_short_chunk_that_is_not_final() -> None:
    encryptor = StreamEncryptor(generate_data_key(), chunk_size=64)

    with pytest.raises(ValueError, match="only the final chunk may be shorter"):
        encryptor.encrypt_chunk(b"short", final=False)


def test_a_data_key_must_be_32_bytes() -> None:
    with pytest.raises(InvalidInput, match="must be 32 bytes .AES-256.. Got 16 bytes"):
        StreamEncryptor(b"k" * 16)


# -- wrapping data keys -------------------------------------------------------------------


def test_wrapped_data_key_unwraps_for_its_digest_with_or_without_prefix() -> None:
    master, dek = os.urandom(32), generate_data_key()

    wrapped = wrap_data_key(master, dek, digest=DIGEST_A)

    assert len(wrapped) == 12 + 32 + 16
    assert unwrap_data_key(master, wrapped, digest=DIGEST_A) == dek
    assert unwrap_data_key(master, wrapped, digest=f"sha256:{DIGEST_A}") == dek


def test_wrapped_data_key_moved_to_another_digest_fails() -> None:
    master = os.urandom(32)
    wrapped = wrap_data_key(master, generate_data_key(), digest=DIGEST_A)

    with pytest.raises(IntegrityError, match=f"artifact sha256:{DIGEST_B} does not verify"):
        unwrap_data_key(master, wrapped, digest=DIGEST_B)


def test_wrapped_data_key_under_another_master_key_fails() -> None:
    wrapped = wrap_data_key(os.urandom(32), generate_data_key(), digest=DIGEST_A)

    with pytest.raises(IntegrityError, match=DIGEST_A):
        unwrap_data_key(os.urandom(32), wrapped, digest=DIGEST_A)


@pytest.mark.parametrize("damage", [lambda w: w[:-1], lambda w: w[:5], lambda w: bytes([w[0] ^ 0xFF]) + w[1:]])
def test_damaged_wrapped_data_key_fails(damage: object) -> None:
    master = os.urandom(32)
    wrapped = wrap_data_key(master, generate_data_key(), digest=DIGEST_A)

    with pytest.raises(IntegrityError, match=DIGEST_A):
        unwrap_data_key(master, damage(wrapped), digest=DIGEST_A)  # type: ignore[operator]


def test_wrapping_checks_the_digest() -> None:
    with pytest.raises(InvalidInput, match="must be 64 lowercase hex characters"):
        wrap_data_key(os.urandom(32), generate_data_key(), digest="A" * 64)


# -- the file key provider ----------------------------------------------------------------


def mode_of(path: os.PathLike[str] | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_key_directory_is_0700_and_key_files_0600_even_with_a_permissive_umask(
    tmp_path: object,
) -> None:
    directory = os.path.join(str(tmp_path), "keys")
    old_umask = os.umask(0)
    try:
        provider = FileKeyProvider.create(directory)
        provider.create_key()
    finally:
        os.umask(old_umask)

    assert mode_of(directory) == 0o700
    names = sorted(os.listdir(directory))
    assert len(names) == 3 and "current" in names
    assert all(mode_of(os.path.join(directory, name)) == 0o600 for name in names)


def test_created_key_is_current_32_bytes_and_survives_reopening(tmp_path: object) -> None:
    directory = os.path.join(str(tmp_path), "keys")
    provider = FileKeyProvider.create(directory)
    first = provider.current_key_id()

    second = provider.create_key()
    reopened = FileKeyProvider(directory)

    assert first != second
    assert reopened.current_key_id() == second
    assert len(reopened.get_key(first)) == 32
    assert reopened.get_key(first) == provider.get_key(first) != provider.get_key(second)
    assert second.startswith("mk-") and len(second) == 15


def test_destroyed_key_is_gone(tmp_path: object) -> None:
    provider = FileKeyProvider.create(os.path.join(str(tmp_path), "keys"))
    old = provider.current_key_id()
    provider.create_key()

    provider.destroy_key(old)

    with pytest.raises(NotFound, match=f"Master key {old} does not exist"):
        provider.get_key(old)


def test_current_key_cannot_be_destroyed(tmp_path: object) -> None:
    provider = FileKeyProvider.create(os.path.join(str(tmp_path), "keys"))
    current = provider.current_key_id()

    with pytest.raises(Conflict, match=f"{current} is the current key"):
        provider.destroy_key(current)

    assert len(provider.get_key(current)) == 32


def test_destroying_an_unknown_key_is_not_found(tmp_path: object) -> None:
    provider = FileKeyProvider.create(os.path.join(str(tmp_path), "keys"))

    with pytest.raises(NotFound, match="mk-000000000000 does not exist"):
        provider.destroy_key("mk-000000000000")


@pytest.mark.parametrize("key_id", ["../current", "mk-XYZ", "mk-0123456789ab.key", ""])
def test_key_ids_that_could_escape_the_directory_are_refused(tmp_path: object, key_id: str) -> None:
    provider = FileKeyProvider.create(os.path.join(str(tmp_path), "keys"))

    with pytest.raises(InvalidInput, match="master key id looks like"):
        provider.get_key(key_id)


def test_creating_over_existing_keys_is_refused(tmp_path: object) -> None:
    directory = os.path.join(str(tmp_path), "keys")
    FileKeyProvider.create(directory)

    with pytest.raises(Conflict, match="already holds master keys"):
        FileKeyProvider.create(directory)


def test_a_key_directory_readable_by_others_is_refused(tmp_path: object) -> None:
    directory = os.path.join(str(tmp_path), "keys")
    FileKeyProvider.create(directory)
    os.chmod(directory, 0o755)

    with pytest.raises(ConfigError, match="chmod 700"):
        FileKeyProvider(directory)


def test_a_missing_key_directory_says_how_to_create_it(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match="does not exist. Create it with"):
        FileKeyProvider(os.path.join(str(tmp_path), "nowhere"))


def test_a_damaged_key_file_is_an_integrity_error(tmp_path: object) -> None:
    directory = os.path.join(str(tmp_path), "keys")
    provider = FileKeyProvider.create(directory)
    key_id = provider.current_key_id()
    with open(os.path.join(directory, f"{key_id}.key"), "w") as handle:
        handle.write("not hex")

    with pytest.raises(IntegrityError, match="is damaged"):
        provider.get_key(key_id)
