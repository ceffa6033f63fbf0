"""Fixtures for the artifact store tests: a moto S3 server reached through the real s3fs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[tuple[str, dict[str, Any]]]:
    """Start moto's S3 server on a free local port, create a bucket, and yield
    ``(url, storage_options)`` for ``s3://<bucket>``. Credentials are fake and passed
    explicitly, so nothing in the environment is read or changed."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    bucket = f"gxpml-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **credentials).create_bucket(
        Bucket=bucket
    )
    storage_options = {
        "key": credentials["aws_access_key_id"],
        "secret": credentials["aws_secret_access_key"],
        "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"},
    }
    try:
        yield f"s3://{bucket}", storage_options
    finally:
        server.stop()
