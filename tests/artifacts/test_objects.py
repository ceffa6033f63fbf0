"""The content-addressed object store on a local folder."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gxpml.artifacts.crypto import HEADER_SIZE, TAG_SIZE, encrypted_size, generate_data_key
from gxpml.artifacts.keys import unwrap_data_key, wrap_data_key
from gxpml.artifacts.objects import ObjectStore, parse_digest
from gxpml.errors import IntegrityError, InvalidInput, NotFound, StorageError

CHUNK = 64  # small chunks put every boundary within a few hundred bytes
MISSING = "0" * 64


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(str(tmp_path / "store"), chunk_size=CHUNK)


def add(store: ObjectStore, data: bytes, dek: bytes | None) -> str:
    staged = store.put(io.BytesIO(data), dek=dek)
    store.publish(staged)
    return staged.digest


def read(store: ObjectStore, digest: str, dek: bytes | None) -> bytes:
    return b"".join(store.open(digest, dek=dek))


def object_file(store: ObjectStore, digest: str) -> Path:
    return Path(store.url) / "objects" / digest[:2] / digest


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


ENCRYPTION = pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])


def dek_for(encrypted: bool) -> bytes | None:
    return generate_data_key() if encrypted else None


# -- round trips --------------------------------------------------------------------------


@ENCRYPTION
@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 5 * CHUNK + 7])
def test_round_trip_around_chunk_boundaries(store: ObjectStore, encrypted: bool, size: int) -> None:
    data, dek = os.urandom(size), dek_for(encrypted)

    staged = store.put(io.BytesIO(data), dek=dek)
    store.publish(staged)

    assert staged.digest == hashlib.sha256(data).hexdigest()
    assert staged.size == size
    expected_stored = encrypted_size(size, CHUNK) if encrypted else size
    assert staged.stored_size == store.stored_size(staged.digest) == expected_stored
    assert read(store, staged.digest, dek) == data


@ENCRYPTION
def test_round_trip_with_the_default_chunk_size(tmp_path: Path, encrypted: bool) -> None:
    store, dek = ObjectStore(str(tmp_path / "store")), dek_for(encrypted)
    for size in (1 << 20, (1 << 20) + 1):
        data = os.urandom(size)

        digest = add(store, data, dek)

        assert read(store, digest, dek) == data


def test_plaintext_is_stored_unchanged(store: ObjectStore) -> None:
    digest = add(store, b"plain bytes", None)

    assert object_file(store, digest).read_bytes() == b"plain bytes"


def test_encrypted_object_does_not_contain_the_plaintext(store: ObjectStore) -> None:
    data = b"confidential batch record " * 20

    digest = add(store, data, generate_data_key())

    assert b"confidential" not in object_file(store, digest).read_bytes()


def test_put_accepts_a_path(store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(b"weights")

    staged = store.put(source, dek=None)

    assert staged.digest == hashlib.sha256(b"weights").hexdigest()


def test_put_of_a_missing_path_is_not_found(store: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="model.bin: the file does not exist"):
        store.put(tmp_path / "model.bin", dek=None)


def test_put_of_a_directory_is_a_storage_error(store: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="Cannot read the file to store: .*Is a directory"):
        store.put(tmp_path, dek=None)


class Trickle(io.RawIOBase):
    """A pipe-like source: every read returns at most 7 bytes."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self._data.read(min(7, len(buffer)))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@ENCRYPTION
def test_short_reads_from_the_source_still_give_whole_chunks(
    store: ObjectStore, encrypted: bool
) -> None:
    data, dek = os.urandom(4 * CHUNK + 3), dek_for(encrypted)

    staged = store.put(Trickle(data), dek=dek)
    store.publish(staged)

    assert read(store, staged.digest, dek) == data
    assert staged.stored_size == (encrypted_size(len(data), CHUNK) if encrypted else len(data))


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=1000),
    chunk_size=st.integers(min_value=1, max_value=200),
    encrypted=st.booleans(),
)
def test_any_bytes_round_trip_with_any_chunk_size(
    data: bytes, chunk_size: int, encrypted: bool
) -> None:
    dek = dek_for(encrypted)
    with tempfile.TemporaryDirectory() as root:
        store = ObjectStore(root, chunk_size=chunk_size)

        digest = add(store, data, dek)

        assert digest == hashlib.sha256(data).hexdigest()
        assert read(store, digest, dek) == data
        store.verify(digest, dek=dek)


# -- content addressing -------------------------------------------------------------------


def test_same_content_has_the_same_address_whatever_the_key(store: ObjectStore) -> None:
    data = os.urandom(3 * CHUNK)
    dek_a, dek_b = generate_data_key(), generate_data_key()

    plain = store.put(io.BytesIO(data), dek=None)
    sealed_a = store.put(io.BytesIO(data), dek=dek_a)
    sealed_b = store.put(io.BytesIO(data), dek=dek_b)

    assert plain.digest == sealed_a.digest == sealed_b.digest
    assert sealed_a.tmp_path != sealed_b.tmp_path

    store.publish(sealed_a)
    assert read(store, sealed_a.digest, dek_a) == data
    store.publish(sealed_b)  # replaces: the catalog decides which copy's key it keeps
    assert read(store, sealed_b.digest, dek_b) == data
    with pytest.raises(IntegrityError, match=sealed_a.digest):
        read(store, sealed_a.digest, dek_a)


def test_iter_digests_lists_published_objects_only(store: ObjectStore) -> None:
    published = sorted(add(store, bytes([i]) * 10, None) for i in range(3))
    store.put(io.BytesIO(b"staged only"), dek=None)

    assert list(store.iter_digests()) == published


def test_iter_digests_ignores_stray_files(store: ObjectStore) -> None:
    digest = add(store, b"real", None)
    objects = Path(store.url) / "objects"
    (objects / digest[:2] / "notes.txt").write_text("stray")
    (objects / "zz").mkdir()
    (objects / "zz" / ("f" * 64)).write_text("wrong shard")
    (objects / "ab").mkdir(exist_ok=True)
    (objects / "ab" / ("c" * 64)).write_text("wrong shard")

    assert list(store.iter_digests()) == [digest]


def test_an_empty_store_lists_nothing(store: ObjectStore) -> None:
    assert list(store.iter_digests()) == []
    assert list(store.iter_temps()) == []


def test_remove_deletes_the_object(store: ObjectStore) -> None:
    digest = add(store, b"to be removed", None)

    store.remove(digest)

    assert not store.exists(digest)
    with pytest.raises(NotFound, match=digest):
        store.remove(digest)
    store.remove(digest, missing_ok=True)


# -- staging and publishing ---------------------------------------------------------------


def test_nothing_is_visible_under_objects_before_publish(store: ObjectStore) -> None:
    staged = store.put(io.BytesIO(os.urandom(500)), dek=generate_data_key())
    root = Path(store.url)

    assert files_under(root / "objects") == []
    assert not store.exists(staged.digest)
    assert [t.tmp_path for t in store.iter_temps()] == [staged.tmp_path]

    store.publish(staged)

    assert files_under(root / "objects") == [object_file(store, staged.digest)]
    assert store.exists(staged.digest)
    assert list(store.iter_temps()) == []


def test_discard_removes_the_staged_object(store: ObjectStore) -> None:
    staged = store.put(io.BytesIO(b"never published"), dek=None)

    store.discard(staged)
    store.discard(staged)  # already gone: no error

    assert list(store.iter_temps()) == []
    with pytest.raises(NotFound, match="was discarded or cleaned up. Put the file again"):
        store.publish(staged)
    assert not store.exists(staged.digest)


def test_leftover_temps_carry_their_age_and_can_be_discarded(store: ObjectStore) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    store.put(io.BytesIO(b"left behind"), dek=None)

    (temp,) = store.iter_temps()
    store.discard(temp)

    assert temp.modified.tzinfo is not None
    assert before <= temp.modified <= datetime.now(UTC)
    assert list(store.iter_temps()) == []


class FailingSource(io.RawIOBase):
    def __init__(self) -> None:
        self._reads = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        self._reads += 1
        if self._reads > 3:
            raise OSError("disk went away")
        buffer[:10] = b"x" * 10
        return 10


def test_a_failing_source_leaves_no_temp(store: ObjectStore) -> None:
    with pytest.raises(StorageError, match="Cannot read the file to store: disk went away"):
        store.put(FailingSource(), dek=None)

    assert list(store.iter_temps()) == []
    assert files_under(Path(store.url) / "objects") == []


def test_sigkill_during_put_leaves_only_a_temp(tmp_path: Path) -> None:
    root = tmp_path / "store"
    script = textwrap.dedent(
        f"""
        import io, os, time
        from gxpml.artifacts.objects import ObjectStore
        from gxpml.artifacts.crypto import generate_data_key

        class Endless(io.RawIOBase):
            def readable(self):
                return True
            def readinto(self, buffer):
                time.sleep(0.001)
                buffer[:] = b"a" * len(buffer)
                return len(buffer)

        store = ObjectStore({str(root)!r}, chunk_size=4096)
        staged = store.put(Endless(), dek=generate_data_key())
        store.publish(staged)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 30
        while not any(f.stat().st_size > 100_000 for f in files_under(root / "tmp")):
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()

    store = ObjectStore(str(root))
    assert files_under(root / "objects") == []
    assert list(store.iter_digests()) == []
    assert len(list(store.iter_temps())) == 1


# -- tampering ----------------------------------------------------------------------------


def corrupt(store: ObjectStore, digest: str, edit: object) -> None:
    path = object_file(store, digest)
    path.write_bytes(edit(path.read_bytes()))  # type: ignore[operator]


def flip(position: int) -> object:
    def edit(data: bytes) -> bytes:
        changed = bytearray(data)
        changed[position] ^= 0x01
        return bytes(changed)

    return edit


@ENCRYPTION
@pytest.mark.parametrize("position", [0, HEADER_SIZE + 3, -1], ids=["first", "early", "last"])
def test_a_flipped_byte_fails_verification(
    store: ObjectStore, encrypted: bool, position: int
) -> None:
    dek = dek_for(encrypted)
    digest = add(store, os.urandom(4 * CHUNK), dek)
    corrupt(store, digest, flip(position))

    with pytest.raises(IntegrityError, match=rf"Artifact sha256:{digest} failed verification"):
        store.verify(digest, dek=dek)


def test_the_verification_error_says_what_to_do(store: ObjectStore) -> None:
    digest = add(store, b"important", None)
    corrupt(store, digest, flip(0))

    with pytest.raises(
        IntegrityError,
        match="Restore it from a backup or re-register it; run `gxpml artifacts fsck`",
    ):
        store.verify(digest, dek=None)


def test_a_truncated_plain_object_fails_verification(store: ObjectStore) -> None:
    digest = add(store, os.urandom(200), None)
    corrupt(store, digest, lambda data: data[:-1])

    with pytest.raises(IntegrityError, match=rf"sha256:{digest} .*content hashes to sha256:"):
        store.verify(digest, dek=None)


def test_an_encrypted_object_missing_its_last_chunk_fails(store: ObjectStore) -> None:
    dek = generate_data_key()
    digest = add(store, os.urandom(3 * CHUNK), dek)
    corrupt(store, digest, lambda data: data[: -(CHUNK + TAG_SIZE)])

    with pytest.raises(IntegrityError, match=rf"sha256:{digest} .*final chunk is missing"):
        store.verify(digest, dek=dek)


def test_an_encrypted_object_with_a_shortened_last_chunk_fails(store: ObjectStore) -> None:
    dek = generate_data_key()
    digest = add(store, os.urandom(3 * CHUNK), dek)
    corrupt(store, digest, lambda data: data[:-5])

    with pytest.raises(IntegrityError, match=digest):
        store.verify(digest, dek=dek)


def test_an_encrypted_object_with_swapped_chunks_fails(store: ObjectStore) -> None:
    dek = generate_data_key()
    digest = add(store, os.urandom(3 * CHUNK), dek)
    step = CHUNK + TAG_SIZE

    def swap_first_two(data: bytes) -> bytes:
        head, body = data[:HEADER_SIZE], data[HEADER_SIZE:]
        return head + body[step : 2 * step] + body[:step] + body[2 * step :]

    corrupt(store, digest, swap_first_two)

    with pytest.raises(IntegrityError, match=rf"sha256:{digest} .*chunk 0 failed authentication"):
        store.verify(digest, dek=dek)


def test_the_wrong_key_fails_verification(store: ObjectStore) -> None:
    digest = add(store, b"secret", generate_data_key())

    with pytest.raises(IntegrityError, match=rf"sha256:{digest} .*the wrong key"):
        store.verify(digest, dek=generate_data_key())


def test_reading_a_plain_object_as_encrypted_fails(store: ObjectStore) -> None:
    digest = add(store, b"plain bytes that are long enough", None)

    with pytest.raises(IntegrityError, match=rf"sha256:{digest} .*not a gxpml encrypted object"):
        store.verify(digest, dek=generate_data_key())


def test_reading_an_encrypted_object_as_plain_fails(store: ObjectStore) -> None:
    digest = add(store, b"secret", generate_data_key())

    with pytest.raises(IntegrityError, match=digest):
        store.verify(digest, dek=None)


def test_an_object_moved_to_another_address_fails(store: ObjectStore) -> None:
    dek = generate_data_key()
    first = add(store, b"first", dek)
    second = add(store, b"second", dek)
    object_file(store, second).write_bytes(object_file(store, first).read_bytes())

    with pytest.raises(IntegrityError, match=rf"sha256:{second} .*hashes to sha256:{first}"):
        store.verify(second, dek=dek)


def test_a_data_key_wrapped_for_another_object_does_not_unwrap(store: ObjectStore) -> None:
    master, dek = os.urandom(32), generate_data_key()
    first = add(store, b"first", dek)
    second = add(store, b"second", generate_data_key())
    wrapped_for_first = wrap_data_key(master, dek, digest=first)

    with pytest.raises(IntegrityError, match=rf"artifact sha256:{second} does not verify"):
        unwrap_data_key(master, wrapped_for_first, digest=second)


def test_encrypted_reads_release_only_authenticated_chunks(store: ObjectStore) -> None:
    dek, data = generate_data_key(), os.urandom(4 * CHUNK)
    digest = add(store, data, dek)
    corrupt(store, digest, flip(HEADER_SIZE + 2 * (CHUNK + TAG_SIZE) + 1))
    released = []

    with pytest.raises(IntegrityError, match=digest):
        for chunk in store.open(digest, dek=dek):
            released.append(chunk)

    assert b"".join(released) == data[: 2 * CHUNK]


# -- get ----------------------------------------------------------------------------------


@ENCRYPTION
def test_get_writes_the_verified_plaintext(
    store: ObjectStore, tmp_path: Path, encrypted: bool
) -> None:
    data, dek = os.urandom(7 * CHUNK + 1), dek_for(encrypted)
    digest = add(store, data, dek)
    dest = tmp_path / "out" / "model.bin"
    dest.parent.mkdir()

    store.get(f"sha256:{digest}", dest, dek=dek)

    assert dest.read_bytes() == data
    assert sorted(dest.parent.iterdir()) == [dest]


@ENCRYPTION
def test_a_failed_get_leaves_no_file(store: ObjectStore, tmp_path: Path, encrypted: bool) -> None:
    dek = dek_for(encrypted)
    digest = add(store, os.urandom(5 * CHUNK), dek)
    corrupt(store, digest, flip(-1))
    out = tmp_path / "out"
    out.mkdir()

    with pytest.raises(IntegrityError, match=digest):
        store.get(digest, out / "model.bin", dek=dek)

    assert list(out.iterdir()) == []


def test_a_failed_get_keeps_the_previous_file(store: ObjectStore, tmp_path: Path) -> None:
    digest = add(store, b"new content", None)
    corrupt(store, digest, flip(0))
    dest = tmp_path / "model.bin"
    dest.write_bytes(b"previous")

    with pytest.raises(IntegrityError, match=digest):
        store.get(digest, dest, dek=None)

    assert dest.read_bytes() == b"previous"
    assert list(tmp_path.glob(".model.bin.*")) == []


# -- missing objects and bad digests ------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda s, d: s.open(d, dek=None),
        lambda s, d: s.verify(d, dek=None),
        lambda s, d: s.stored_size(d),
        lambda s, d: s.get(d, Path(s.url) / "never-written", dek=None),
    ],
    ids=["open", "verify", "stored_size", "get"],
)
def test_a_missing_object_is_not_found_with_advice(store: ObjectStore, call: object) -> None:
    with pytest.raises(NotFound, match=rf"sha256:{MISSING} is not in the object store .*fsck"):
        call(store, MISSING)  # type: ignore[operator]
    assert not store.exists(MISSING)


@pytest.mark.parametrize(
    "value",
    ["", "abc", "A" * 64, "g" * 64, "0" * 63, "0" * 65, "sha1:" + "0" * 64, " " + "0" * 64],
)
def test_malformed_digests_are_refused(store: ObjectStore, value: str) -> None:
    with pytest.raises(InvalidInput, match="must be 64 lowercase hex characters"):
        store.exists(value)


def test_a_digest_may_carry_the_sha256_prefix(store: ObjectStore) -> None:
    digest = add(store, b"x", None)

    assert parse_digest(f"sha256:{digest}") == digest
    assert store.exists(f"sha256:{digest}")


# -- large files --------------------------------------------------------------------------

LARGE_FILE_SCRIPT = textwrap.dedent(
    """
    import hashlib, io, json, os, sys
    from gxpml.artifacts.objects import ObjectStore

    SIZE, root, encrypted = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
    BLOCK = os.urandom(1 << 20)

    class Generated(io.RawIOBase):
        # 1 MiB of random bytes repeated with a counter: never held whole.
        def __init__(self):
            self.position = 0
        def readable(self):
            return True
        def readinto(self, buffer):
            n = min(len(buffer), SIZE - self.position)
            start = self.position % len(BLOCK)
            first = min(n, len(BLOCK) - start)
            buffer[:first] = BLOCK[start:start + first]
            buffer[first:n] = BLOCK[:n - first]
            if n >= 8:
                buffer[:8] = self.position.to_bytes(8, "big")
            self.position += n
            return n

    def peak_mb():
        # VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's (pytest's) peak.
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024

    expected = hashlib.sha256()
    source = Generated()
    for chunk in iter(lambda: source.read(1 << 20), b""):
        expected.update(chunk)

    from gxpml.artifacts.crypto import generate_data_key
    dek = generate_data_key() if encrypted else None
    store = ObjectStore(root)
    baseline = peak_mb()
    staged = store.put(Generated(), dek=dek)
    store.publish(staged)
    after_put = peak_mb()
    dest = os.path.join(root, "copy.bin")
    store.get(staged.digest, dest, dek=dek)
    after_get = peak_mb()
    print(json.dumps({
        "digest_ok": staged.digest == expected.hexdigest(),
        "size": staged.size,
        "dest_size": os.path.getsize(dest),
        "growth_put_mb": after_put - baseline,
        "growth_get_mb": after_get - baseline,
    }))
    """
)


@pytest.mark.slow
@ENCRYPTION
def test_a_2gb_object_streams_with_flat_memory(tmp_path: Path, encrypted: bool) -> None:
    size = 2 * 1024**3
    result = subprocess.run(
        [sys.executable, "-c", LARGE_FILE_SCRIPT, str(size), str(tmp_path), str(int(encrypted))],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    report = json.loads(result.stdout)

    assert report["digest_ok"]
    assert report["size"] == report["dest_size"] == size
    assert report["growth_put_mb"] < 100, report
    assert report["growth_get_mb"] < 100, report
