"""The API keeps to its own OpenAPI document: schemathesis over real HTTP, as administrator.

The document is the one the live server serves (``GET /openapi.json``); every operation in it
is fuzzed with schema-valid and schema-violating requests, and every response must be no
server error and match what the document says: a documented status, content type, headers
and body schema (the errors with the ``ErrorOut`` shape the document declares globally).

``GXPML_FUZZ_EXAMPLES`` sets the examples per operation: 15 by default, so the suite stays
fast; ``make fuzz`` runs 500.

The fuzzer authenticates with an administrator's API token, not a session: ``POST /logout``
ends sessions but leaves API tokens alone, and disabling one's own account is refused, so no
generated request can lock the fuzzer out. Deviations the fuzzer found are pinned below as
strict xfails, each with the request that shows it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx
import pytest
import schemathesis
from hypothesis import settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gxpml.api import create_app
from support import LiveServer, make_workspace, new_pg_schema

EXAMPLES = int(os.environ.get("GXPML_FUZZ_EXAMPLES", "15"))

_ISOLATED = ("GXPML_HOME", "GXPML_TOKEN", "GXPML_PASSWORD", "GXPML_NEW_PASSWORD",
             "GXPML_DATABASE_URL", "GXPML_ARTIFACT_URL", "GXPML_S3_ENDPOINT_URL", "GXPML_SERVER")


@dataclass(frozen=True)
class Target:
    server: LiveServer
    token: str = field(repr=False)  # an administrator's API token
    token_id: str
    home: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _serve(folder: Path, database_url: str | None) -> Iterator[Target]:
    with pytest.MonkeyPatch.context() as mp:
        # This outlives tests: isolate its setup as tests/conftest.py isolates each test.
        for name in _ISOLATED:
            mp.delenv(name, raising=False)
        mp.setenv("GXPML_SESSION_FILE", str(folder / "sessions.json"))
        ws = make_workspace(folder / "ws", database_url)
        info, token = ws.tokens.create("fuzzer", expires_days=1)
        server = LiveServer(ws.settings.home)
        try:
            yield Target(server, token, info.id, ws.settings.home)
        finally:
            server.stop()
            ws.close()


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """One workspace (SQLite) and one live server for the whole module."""
    yield from _serve(tmp_path_factory.mktemp("fuzz"), None)


@pytest.fixture(scope="module")
def pg_target(tmp_path_factory: pytest.TempPathFactory, pg_database: str) -> Iterator[Target]:
    """The same on PostgreSQL, for the deviations only it shows."""
    yield from _serve(tmp_path_factory.mktemp("fuzz-pg"), new_pg_schema(pg_database))


@pytest.fixture(scope="module")
def api_schema(target: Target) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{target.server.url}/openapi.json")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32's fixture-based loader reads and writes ``node._nodeid``, which
    pytest 9.2 renamed (AttributeError otherwise); pytest itself no longer reads it."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


def _unparsable_json_400(response: schemathesis.Response) -> bool:
    """The known deviation pinned by test_a_body_that_is_not_json_gets_a_documented_status."""
    try:
        return response.status_code == 400 and response.json()["error"]["message"] == "There was an error parsing the body"
    except (ValueError, KeyError, TypeError):
        return False


def status_code_conformance_but_known_400(ctx: schemathesis.CheckContext, response: schemathesis.Response,
                                          case: schemathesis.Case) -> bool | None:
    """status_code_conformance, except for the one pinned deviation (remove this wrapper when
    the xfail below starts passing)."""
    if _unparsable_json_400(response):
        return None
    return status_code_conformance(ctx, response, case)


#: What every response must satisfy. Not here: positive_data_acceptance (the document does not
#: carry the SDK's business rules, e.g. user name syntax or a non-empty reason, so schema-valid
#: requests are rightly refused with 422), negative_data_rejection and unsupported_method
#: (their findings are pinned below), and the stateful checks.
CHECKS = [not_a_server_error, status_code_conformance_but_known_400, content_type_conformance,
          response_headers_conformance, response_schema_conformance]

schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None)  # deadline: a real server, not a pure function
def test_every_response_keeps_to_the_document(case: schemathesis.Case, target: Target) -> None:
    if (case.path_parameters or {}).get("token_id") == target.token_id:
        case.path_parameters["token_id"] = "tok_0000000000000000"  # never revoke the fuzzer's own token
    case.call_and_validate(base_url=target.server.url, headers=target.headers, checks=CHECKS)


# ---------------------------------------------------------------------------- found by the fuzzer


def _documented_statuses(target: Target, method: str, path: str) -> set[int]:
    document = httpx.get(f"{target.server.url}/openapi.json").raise_for_status().json()
    return {int(s) for s in document["paths"][path][method.lower()]["responses"]}


def test_a_body_that_is_not_json_gets_a_documented_status(target: Target) -> None:
    response = httpx.post(f"{target.server.url}/api/v1/audit/export", content=b'{"format": "\xff"}',
                          headers={**target.headers, "Content-Type": "application/json"})
    assert response.status_code in _documented_statuses(target, "POST", "/api/v1/audit/export")


@pytest.mark.parametrize("value", ["yes", 1, "1"], ids=["yes", "int 1", "str 1"])
def test_a_flag_must_be_a_json_boolean(target: Target, value: object) -> None:
    response = httpx.post(f"{target.server.url}/api/v1/artifacts/fsck", json={"remove_orphans": value},
                          headers=target.headers)
    assert response.status_code == 422, response.text


def test_a_method_not_allowed_names_the_allowed_methods(target: Target) -> None:
    response = httpx.delete(f"{target.server.url}/api/v1/users", headers=target.headers)
    assert response.status_code == 405
    assert set(response.headers.get("allow", "").replace(" ", "").split(",")) == {"GET", "POST"}


def test_an_upload_that_does_not_match_its_digest_is_a_client_error(target: Target) -> None:
    response = httpx.post(f"{target.server.url}/api/v1/artifacts", content=b"hello",
                          headers={**target.headers, "X-Content-SHA256": "sha256:" + "0" * 64})
    assert 400 <= response.status_code < 500, response.text


@pytest.mark.parametrize(("method", "path", "kwargs"), [
    ("POST", "/api/v1/login", {"json": {"username": "ad\x00min", "password": "a guessed passphrase"}}),
    ("POST", "/api/v1/users", {"json": {"username": "nul", "full_name": "Nul\x00Byte", "password": "a long enough passphrase"}}),
    ("POST", "/api/v1/tokens", {"json": {"name": "laptop\x00", "expires_days": 1}}),
    ("GET", "/api/v1/users/ad%00min", {}),
    ("GET", "/api/v1/audit/events", {"params": {"actor": "ad\x00min"}}),
], ids=["login", "add user", "create token", "user path", "events query"])
def test_a_nul_character_is_invalid_input_on_postgresql(pg_target: Target, method: str, path: str,
                                                       kwargs: dict[str, object]) -> None:
    response = httpx.request(method, f"{pg_target.server.url}{path}", headers=pg_target.headers, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 422, response.text


def test_an_export_with_a_nul_character_is_invalid_input_on_postgresql(pg_target: Target) -> None:
    response = httpx.post(f"{pg_target.server.url}/api/v1/audit/export", json={"since": "a\x00b"},
                          headers=pg_target.headers)
    assert response.status_code == 422, response.text


def test_an_unexpected_error_is_answered_with_its_request_id(target: Target) -> None:
    app = create_app(target.home)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("an unexpected failure")

    async def get_boom() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gxpml.test") as client:
            return await client.get("/boom", headers={"X-Request-ID": "boom-1"})

    response = anyio.run(get_boom)
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "InternalError"
    assert response.json()["error"]["request_id"] == "boom-1"
    assert response.headers.get("x-request-id") == "boom-1"
