"""Writes carry an Idempotency-Key: a retried request is refused, never applied twice."""

from __future__ import annotations

from typing import Any

import httpx

from gxpml.workspace import Workspace
from support import ADMIN_PASSWORD, PASSWORD, LiveServer


def _admin(server: LiveServer) -> dict[str, str]:
    token = httpx.post(f"{server.url}/api/v1/login", json={"username": "admin", "password": ADMIN_PASSWORD}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def test_a_retried_write_with_the_same_key_is_not_applied_twice(server: LiveServer, local: Workspace) -> None:
    headers = {**_admin(server), "Idempotency-Key": "key-user-bob-1"}
    body: dict[str, Any] = {"username": "bob", "full_name": "Bob Jones", "password": PASSWORD, "roles": []}
    first = httpx.post(f"{server.url}/api/v1/users", json=body, headers=headers)
    assert first.status_code == 201
    body["username"] = "bob2"  # even a different body: the key names the request
    retry = httpx.post(f"{server.url}/api/v1/users", json=body, headers=headers)
    assert retry.status_code == 409
    assert retry.json()["error"]["type"] == "Conflict"
    assert "was applied already" in retry.json()["error"]["message"]
    assert [u.username for u in local.users.list()] == ["admin", "bob"]
    fresh = httpx.post(f"{server.url}/api/v1/users", json=body, headers={**headers, "Idempotency-Key": "key-user-bob-2"})
    assert fresh.status_code == 201


def test_a_request_that_failed_can_be_retried_with_its_key(server: LiveServer, local: Workspace) -> None:
    headers = {**_admin(server), "Idempotency-Key": "retry-after-failure"}
    bad = httpx.post(f"{server.url}/api/v1/users", json={"username": "bob", "full_name": "Bob", "password": "short"}, headers=headers)
    assert bad.status_code == 422  # nothing was applied, so the key was not used up
    good = httpx.post(f"{server.url}/api/v1/users", json={"username": "bob", "full_name": "Bob", "password": PASSWORD}, headers=headers)
    assert good.status_code == 201
    assert local.audit.verify().ok


def test_the_sdk_sends_a_fresh_key_with_every_write(server: LiveServer, local: Workspace) -> None:
    with Workspace.connect(server.url, user="admin", password=ADMIN_PASSWORD) as remote:
        for i in range(3):
            remote.tokens.create(f"t{i}")
    assert len(local.tokens.list()) >= 3
