"""The object store on S3, through the real s3fs client against a moto server."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from typing import Any

import boto3
import pytest

from gxpml.artifacts.crypto import HEADER_SIZE, TAG_SIZE, encrypted_size, generate_data_key
from gxpml.artifacts.objects import ObjectStore
from gxpml.errors import IntegrityError, NotFound, StorageError

CHUNK = 64


@pytest.fixture
def s3(moto_s3: tuple[str, dict[str, Any]]) -> tuple[ObjectStore, Any, str, str]:
    """A store under a fresh prefix, a boto3 client to look behind its back, bucket, prefix."""
    url, options = moto_s3
    bucket, prefix = url.removeprefix("s3://"), f"store-{uuid.uuid4().hex[:8]}"
    client = boto3.client(
        "s3",
        endpoint_url=options["client_kwargs"]["endpoint_url"],
        region_name="us-east-1",
        aws_access_key_id=options["key"],
        aws_secret_access_key=options["secret"],
    )
    store = ObjectStore(f"{url}/{prefix}", storage_options=options, chunk_size=CHUNK)
    return store, client, bucket, prefix


def keys_under(client: Any, bucket: str, prefix: str) -> list[str]:
    listing = client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", []))


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
@pytest.mark.parametrize("size", [0, CHUNK, 5 * CHUNK + 3])
def test_round_trip(s3: tuple[ObjectStore, Any, str, str], encrypted: bool, size: int) -> None:
    store, *_ = s3
    data, dek = os.urandom(size), generate_data_key() if encrypted else None

    staged = store.put(io.BytesIO(data), dek=dek)
    store.publish(staged)

    assert staged.digest == hashlib.sha256(data).hexdigest()
    assert store.stored_size(staged.digest) == (encrypted_size(size, CHUNK) if encrypted else size)
    assert b"".join(store.open(staged.digest, dek=dek)) == data


def test_an_object_larger_than_one_upload_part_round_trips(
    moto_s3: tuple[str, dict[str, Any]], tmp_path: Any
) -> None:
    url, options = moto_s3
    store = ObjectStore(f"{url}/large-{uuid.uuid4().hex[:8]}", storage_options=options)
    data, dek = os.urandom(1 << 20) * 20 + b"tail", generate_data_key()  # > one 16 MiB part

    staged = store.put(io.BytesIO(data), dek=dek)
    store.publish(staged)
    store.get(staged.digest, tmp_path / "copy.bin", dek=dek)

    assert (tmp_path / "copy.bin").read_bytes() == data


def test_nothing_is_visible_under_objects_before_publish(
    s3: tuple[ObjectStore, Any, str, str],
) -> None:
    store, client, bucket, prefix = s3

    staged = store.put(io.BytesIO(b"staged"), dek=generate_data_key())

    assert keys_under(client, bucket, f"{prefix}/objects/") == []
    assert keys_under(client, bucket, f"{prefix}/tmp/") == [staged.tmp_path.split("/", 1)[1]]
    assert not store.exists(staged.digest)

    store.publish(staged)

    assert keys_under(client, bucket, f"{prefix}/objects/") == [
        f"{prefix}/objects/{staged.digest[:2]}/{staged.digest}"
    ]
    assert keys_under(client, bucket, f"{prefix}/tmp/") == []
    assert store.exists(staged.digest)
    assert list(store.iter_digests()) == [staged.digest]


def test_leftover_temps_are_listed_and_discarded(s3: tuple[ObjectStore, Any, str, str]) -> None:
    store, client, bucket, prefix = s3
    store.put(io.BytesIO(b"left behind"), dek=None)

    (temp,) = store.iter_temps()
    store.discard(temp)

    assert temp.modified.tzinfo is not None
    assert keys_under(client, bucket, f"{prefix}/tmp/") == []


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_tampering_behind_the_stores_back_fails_verification(
    s3: tuple[ObjectStore, Any, str, str], encrypted: bool
) -> None:
    store, client, bucket, prefix = s3
    dek = generate_data_key() if encrypted else None
    staged = store.put(io.BytesIO(os.urandom(4 * CHUNK)), dek=dek)
    store.publish(staged)
    key = f"{prefix}/objects/{staged.digest[:2]}/{staged.digest}"
    stored = bytearray(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    stored[HEADER_SIZE + CHUNK + TAG_SIZE + 1] ^= 0x01
    client.put_object(Bucket=bucket, Key=key, Body=bytes(stored))

    with pytest.raises(
        IntegrityError, match=rf"Artifact sha256:{staged.digest} failed verification"
    ):
        store.verify(staged.digest, dek=dek)


def test_an_object_deleted_behind_the_stores_back_is_not_found(
    s3: tuple[ObjectStore, Any, str, str],
) -> None:
    store, client, bucket, prefix = s3
    staged = store.put(io.BytesIO(b"soon gone"), dek=None)
    store.publish(staged)
    assert store.exists(staged.digest)

    client.delete_object(Bucket=bucket, Key=f"{prefix}/objects/{staged.digest[:2]}/{staged.digest}")

    assert not store.exists(staged.digest)
    with pytest.raises(NotFound, match=rf"sha256:{staged.digest} is not in the object store"):
        store.open(staged.digest, dek=None)


def test_an_unreachable_endpoint_is_a_storage_error() -> None:
    store = ObjectStore(
        f"s3://nowhere-{uuid.uuid4().hex[:8]}/prefix",
        storage_options={
            "key": "testing",
            "secret": "testing",
            "client_kwargs": {"endpoint_url": "http://127.0.0.1:9", "region_name": "us-east-1"},
            "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1},
        },
    )

    with pytest.raises(StorageError, match="Cannot"):
        store.put(io.BytesIO(b"data"), dek=None)
