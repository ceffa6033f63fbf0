"""The dataset routes over plain HTTP: uploads and downloads are streamed and digest-checked."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from gxpml.workspace import Workspace
from support import LiveServer


@pytest.fixture
def http(local: Workspace, server: LiveServer) -> httpx.Client:
    _, token = local.tokens.create("http", expires_days=1)
    return httpx.Client(base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {token}"})


def test_an_upload_is_checked_against_its_digest(http: httpx.Client, files: dict[str, Path], local: Workspace) -> None:
    body = files["csv"].read_bytes()
    damaged = http.post("/datasets/diabetes/versions", params={"format": "csv"}, content=body,
                        headers={"X-Content-SHA256": hashlib.sha256(body + b"x").hexdigest()})
    assert damaged.status_code == 422 and damaged.json()["error"]["type"] == "TransferDamaged"
    assert "damaged in transfer. Nothing was registered" in damaged.json()["error"]["message"]
    assert local.data.list() == []

    created = http.post("/datasets/diabetes/versions", params={"format": "csv", "phi": "true", "read_roles": ""},
                        content=body, headers={"X-Content-SHA256": hashlib.sha256(body).hexdigest()})
    assert created.status_code == 201, created.text
    assert (created.json()["ref"], created.json()["phi"], created.json()["read_roles"]) == ("diabetes:1", True, [])


def test_a_download_is_parquet_with_its_digest(http: httpx.Client, local: Workspace, diabetes: Any) -> None:
    local.data.register("diabetes", diabetes)
    local.data.split("diabetes", test=0.25, seed=5, sequester_test=False)
    response = http.get("/datasets/diabetes/versions/latest/data", params={"split": "test"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/octet-stream"
    assert response.headers["x-content-sha256"] == hashlib.sha256(response.content).hexdigest()
    table = pq.read_table(io.BytesIO(response.content))
    assert table.num_rows == int(0.25 * 442 + 0.5) and table.column_names == list(diabetes.columns)
    assert http.get("/datasets/diabetes/versions/0/data").status_code == 422  # versions count from 1
