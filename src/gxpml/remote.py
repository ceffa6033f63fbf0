"""The SDK's remote mode: the same interface as a local :class:`~gxpml.Workspace`, over HTTP.

    ws = gxpml.Workspace.connect("https://gxpml.example.org", token=...)   # or GXPML_SERVER/GXPML_TOKEN
    ws.artifacts.put("data.csv")

Every method of the local workspace's services exists here with the same signature (a test
holds them to it) and returns the same types. Failures are clear errors, never silent
retries: a connection error is a :class:`StorageError`, a refused certificate a
:class:`ConfigError`, a digest mismatch in transfer an :class:`IntegrityError`; every write
carries an ``Idempotency-Key`` so a retry by any proxy cannot apply it twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import ssl
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO

import httpx

from gxpml import errors
from gxpml.artifacts.catalog import ArtifactInfo, FsckReport
from gxpml.artifacts.objects import parse_digest
from gxpml.audit.export import verify_export
from gxpml.audit.trail import AuditRecord
from gxpml.audit.verify import VerifyReport
from gxpml.canonical import format_ts
from gxpml.data.remote import RemoteData
from gxpml.errors import (
    AuthenticationError,
    ConfigError,
    GxpmlError,
    IntegrityError,
    InvalidInput,
    NotFound,
    StorageError,
)
from gxpml.identity.roles import permissions_for
from gxpml.identity.tokens import TokenInfo
from gxpml.identity.users import UserInfo
from gxpml.lineage.graph import MAX_DEPTH, LineageGraph, parse_node
from gxpml.validation.remote import RemoteValidations
from gxpml.store.uow import ANONYMOUS, Actor
from gxpml.tracking.remote import RemoteRuns

if TYPE_CHECKING:
    from gxpml.tracking.run import Run

__all__ = ["RemoteWorkspace"]

CHUNK = 1 << 20
DIGEST_HEADER = "X-Content-SHA256"
_BY_STATUS: dict[int, type[GxpmlError]] = {
    401: AuthenticationError, 403: errors.PermissionDenied, 404: NotFound, 409: errors.Conflict,
    413: errors.PayloadTooLarge, 422: InvalidInput, 429: errors.RateLimited, 503: StorageError,
}


def _error_from(response: httpx.Response) -> GxpmlError:
    try:
        detail = response.json()["error"]
        type_name, message = str(detail["type"]), str(detail["message"])
        request_id = detail.get("request_id")
    except (ValueError, KeyError, TypeError):
        type_name, message, request_id = "", f"The server answered {response.status_code} {response.reason_phrase}.", None
    cls = getattr(errors, type_name, None)
    if not (isinstance(cls, type) and issubclass(cls, GxpmlError)):
        cls = _BY_STATUS.get(response.status_code, GxpmlError)
    if response.status_code >= 500 and request_id and request_id not in message:
        message += f" (request id {request_id})"
    return cls(message)


def tls_context(verify: bool | str) -> ssl.SSLContext | bool:
    """What httpx should verify the server against: the system CAs (True), a CA bundle file
    (a path), or nothing (False, only for tests)."""
    if isinstance(verify, bool):
        return verify
    if not Path(verify).is_file():
        raise ConfigError(f"The CA bundle {verify} does not exist. Check verify=... or GXPML_CA_BUNDLE.")
    try:
        return ssl.create_default_context(cafile=verify)
    except ssl.SSLError as exc:
        raise ConfigError(f"The CA bundle {verify} is not a valid PEM certificate file: {exc}.") from exc


def _ts(value: dt.datetime | str | None) -> str | None:
    return value if value is None or isinstance(value, str) else format_ts(value)


class RemoteWorkspace:
    """A workspace served by ``gxpml server``."""

    def __init__(self, url: str, *, token: str | None = None, verify: bool | str = True,
                 timeout: float = 300.0) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._http = httpx.Client(
            base_url=self.url + "/api/v1", verify=tls_context(verify),
            timeout=httpx.Timeout(timeout, connect=10.0), follow_redirects=False,
        )
        self.actor: Actor = ANONYMOUS
        self.users = RemoteUsers(self)
        self.roles = RemoteRoles(self)
        self.tokens = RemoteTokens(self)
        self.audit = RemoteAudit(self)
        self.artifacts = RemoteArtifacts(self)
        self.keys = RemoteKeys(self)
        self.data = RemoteData(self)
        self.lineage = RemoteLineage(self)
        self.runs = RemoteRuns(self)
        self.validations = RemoteValidations(self)
        if token:
            self.actor = self._whoami()

    # ------------------------------------------------------------------ transport

    def _headers(self, method: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        headers.update(extra or {})
        if method != "GET":
            headers["Idempotency-Key"] = uuid.uuid4().hex
        return headers

    def _send(self, method: str, path: str, *, stream: bool = False, headers: dict[str, str] | None = None,
              **kwargs: Any) -> httpx.Response:
        request = self._http.build_request(method, path, headers=self._headers(method, headers), **kwargs)
        try:
            response = self._http.send(request, stream=stream)
        except httpx.ConnectError as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc) or "certificate" in str(exc).lower():
                raise ConfigError(
                    f"The TLS certificate of {self.url} could not be verified ({exc}). If the server uses "
                    "a private CA, pass verify='/path/to/ca.pem' or set GXPML_CA_BUNDLE."
                ) from exc
            raise StorageError(f"Cannot reach the gxpml server at {self.url}: {exc}. Check the URL and that `gxpml server` runs.") from exc
        except httpx.TimeoutException as exc:
            raise StorageError(f"The gxpml server at {self.url} did not answer in time ({type(exc).__name__}). "
                               "The request may or may not have been applied: check `gxpml audit log` before retrying.") from exc
        except httpx.TransportError as exc:
            raise StorageError(f"The connection to {self.url} failed: {exc}. The request may or may not have been "
                               "applied: check `gxpml audit log` before retrying.") from exc
        if response.status_code >= 400:
            if stream:
                response.read()
                response.close()
            raise _error_from(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        return None if response.status_code == 204 else response.json()

    def _whoami(self) -> Actor:
        data = self._json("GET", "/whoami")
        roles = frozenset(data["roles"])
        return Actor(id=data["id"], username=data["username"], name=data["name"], roles=roles,
                     permissions=permissions_for(roles), token_id=data["token_id"])

    # ------------------------------------------------------------------ sessions

    def login(self, username: str, password: str, *, remember: bool = False) -> str:
        """Authenticate and act as ``username``; returns the session token."""
        data = self._json("POST", "/login", json={"username": username, "password": password})
        self._token = data["token"]
        self.actor = self._whoami()
        if remember:
            from gxpml.workspace import _read_sessions, _write_sessions

            sessions = _read_sessions()
            sessions[f"server:{self.url}"] = self._token
            _write_sessions(sessions)
        return str(self._token)

    def logout(self) -> None:
        """End the session in use (API tokens are left alone) and forget the stored one."""
        from gxpml.workspace import _read_sessions, _write_sessions

        if self._token and self.actor.authenticated:
            self._json("POST", "/logout")
        sessions = _read_sessions()
        stored = sessions.pop(f"server:{self.url}", None)
        if stored is not None:
            if stored != self._token:  # end the stored session too, as a local logout does
                try:
                    self._send("POST", "/logout", headers={"Authorization": f"Bearer {stored}"})
                except AuthenticationError:
                    pass  # it had ended already
            _write_sessions(sessions)
        self._token = None
        self.actor = ANONYMOUS

    def start_run(
        self, experiment: str, *, seed: int | None = None, name: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Run:
        """Start a tracked run on the server (see ``ws.runs.start``)."""
        return self.runs.start(experiment, seed=seed, name=name, tags=tags)

    def info(self) -> dict[str, Any]:
        data: dict[str, Any] = self._json("GET", "/workspace")
        return {**data, "server": self.url}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteWorkspace:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RemoteWorkspace({self.url!r}, actor={self.actor.username!r})"


class _Service:
    def __init__(self, ws: RemoteWorkspace) -> None:
        self._ws = ws


class RemoteUsers(_Service):
    def add(self, username: str, full_name: str, *, password: str, email: str | None = None,
            roles: list[str] | tuple[str, ...] = ()) -> UserInfo:
        return UserInfo.from_dict(self._ws._json("POST", "/users", json={
            "username": username, "full_name": full_name, "password": password, "email": email, "roles": list(roles)}))

    def get(self, username: str) -> UserInfo:
        return UserInfo.from_dict(self._ws._json("GET", f"/users/{username}"))

    def list(self) -> list[UserInfo]:
        return [UserInfo.from_dict(u) for u in self._ws._json("GET", "/users")]

    def disable(self, username: str, *, reason: str) -> UserInfo:
        return UserInfo.from_dict(self._ws._json("POST", f"/users/{username}/disable", json={"reason": reason}))

    def enable(self, username: str, *, reason: str) -> UserInfo:
        return UserInfo.from_dict(self._ws._json("POST", f"/users/{username}/enable", json={"reason": reason}))

    def unlock(self, username: str, *, reason: str) -> UserInfo:
        return UserInfo.from_dict(self._ws._json("POST", f"/users/{username}/unlock", json={"reason": reason}))

    def change_password(self, username: str, old_password: str, new_password: str) -> None:
        self._ws._json("POST", f"/users/{username}/password",
                       json={"old_password": old_password, "new_password": new_password})

    def reset_password(self, username: str, new_password: str, *, reason: str) -> None:
        self._ws._json("POST", f"/users/{username}/password-reset", json={"new_password": new_password, "reason": reason})


class RemoteRoles(_Service):
    def available(self) -> dict[str, list[str]]:
        result: dict[str, list[str]] = self._ws._json("GET", "/roles")
        return result

    def grant(self, username: str, role: str, *, reason: str | None = None) -> None:
        self._ws._json("POST", "/roles/grant", json={"username": username, "role": role, "reason": reason})

    def revoke(self, username: str, role: str, *, reason: str) -> None:
        self._ws._json("POST", "/roles/revoke", json={"username": username, "role": role, "reason": reason})


class RemoteTokens(_Service):
    def create(self, name: str, *, roles: list[str] | None = None, expires_days: int = 90,
               username: str | None = None, kind: str = "api") -> tuple[TokenInfo, str]:
        data = self._ws._json("POST", "/tokens", json={
            "name": name, "roles": roles, "expires_days": expires_days, "username": username, "kind": kind})
        return TokenInfo.from_dict(data["info"]), str(data["token"])

    def list(self, username: str | None = None) -> list[TokenInfo]:
        params = {"username": username} if username else None
        return [TokenInfo.from_dict(t) for t in self._ws._json("GET", "/tokens", params=params)]

    def revoke(self, token_id: str, *, reason: str) -> None:
        self._ws._json("POST", f"/tokens/{token_id}/revoke", json={"reason": reason})


class RemoteAudit(_Service):
    def log(self, *, actor: str | None = None, entity: str | None = None, action: str | None = None,
            since: dt.datetime | str | None = None, until: dt.datetime | str | None = None,
            limit: int | None = 100, newest_first: bool = False) -> list[AuditRecord]:
        params: dict[str, Any] = {k: v for k, v in {
            "actor": actor, "entity": entity, "action": action, "since": _ts(since), "until": _ts(until),
            "limit": limit if limit else 100_000, "newest_first": newest_first}.items() if v is not None}
        return [AuditRecord.from_dict(e) for e in self._ws._json("GET", "/audit/events", params=params)]

    def verify(self) -> VerifyReport:
        return VerifyReport.from_dict(self._ws._json("POST", "/audit/verify"))

    def checkpoint(self) -> int:
        return int(self._ws._json("POST", "/audit/checkpoint")["seq"])

    def export(self, path: str | Path, *, fmt: str = "jsonl", since: dt.datetime | str | None = None,
               until: dt.datetime | str | None = None) -> dict[str, Any]:
        path = Path(path)
        response = self._ws._send("POST", "/audit/export", stream=True,
                                  json={"format": fmt, "since": _ts(since), "until": _ts(until)})
        with tempfile.TemporaryDirectory(prefix="gxpml-export-") as tmp:
            download = Path(tmp) / "download"
            try:
                with open(download, "wb") as fh:
                    for chunk in response.iter_bytes(CHUNK):
                        fh.write(chunk)
            finally:
                response.close()
            if fmt == "csv":
                with zipfile.ZipFile(download) as zf:
                    (Path(tmp) / "csv").write_bytes(zf.read("export.csv"))
                    manifest_text = zf.read("export.csv.manifest.json")
                path.with_name(path.name + ".manifest.json").write_bytes(manifest_text)
                os.replace(Path(tmp) / "csv", path)
            else:
                os.replace(download, path)
        import json

        if fmt == "csv":
            manifest: dict[str, Any] = json.loads(path.with_name(path.name + ".manifest.json").read_text())["manifest"]
        else:
            with open(path, "rb") as fh:
                last = b""
                for line in fh:
                    last = line
            manifest = json.loads(last)
        return manifest

    @staticmethod
    def verify_file(path: str | Path) -> VerifyReport:
        """Verify an export offline (no server needed)."""
        return verify_export(Path(path))


class RemoteArtifacts(_Service):
    def put(self, source: str | Path | bytes | BinaryIO, *, name: str | None = None,
            expected_digest: str | None = None) -> ArtifactInfo:
        """Upload ``source`` streamed; its SHA-256 travels with it and is checked on both ends."""
        if isinstance(source, bytes):
            source = io.BytesIO(source)
        if isinstance(source, (str, Path)):
            path = Path(source)
            if not path.is_file():
                raise NotFound(f"Cannot store {path}: the file does not exist.")
            name = name if name is not None else path.name
            with open(path, "rb") as fh:
                return self._upload(fh, name, expected_digest)
        return self._upload(source, name, expected_digest)

    def _upload(self, fh: BinaryIO, name: str | None, expected_digest: str | None) -> ArtifactInfo:
        digest: str | None = None
        if fh.seekable():
            start = fh.tell()
            h = hashlib.sha256()
            while chunk := fh.read(CHUNK):
                h.update(chunk)
            digest = h.hexdigest()
            fh.seek(start)
            if expected_digest is not None and parse_digest(expected_digest) != digest:
                raise IntegrityError(f"The content hashes to sha256:{digest}, not the expected {expected_digest}. Nothing was sent.")
        sent = hashlib.sha256()

        def body() -> Iterator[bytes]:
            while chunk := fh.read(CHUNK):
                sent.update(chunk)
                yield chunk

        headers = {"Content-Type": "application/octet-stream"}
        claimed = digest or (parse_digest(expected_digest) if expected_digest else None)
        if claimed:
            headers[DIGEST_HEADER] = claimed
        params = {"name": name} if name is not None else None
        info = ArtifactInfo.from_dict(self._ws._json("POST", "/artifacts", content=body(), headers=headers, params=params))
        if info.digest != sent.hexdigest():
            raise IntegrityError(
                f"The server stored sha256:{info.digest} but sha256:{sent.hexdigest()} was sent: the transfer "
                "was damaged. Run `gxpml artifacts fsck` on the server and send the file again."
            )
        return info

    def info(self, digest: str) -> ArtifactInfo:
        return ArtifactInfo.from_dict(self._ws._json("GET", f"/artifacts/{parse_digest(digest)}"))

    def list(self) -> list[ArtifactInfo]:
        return [ArtifactInfo.from_dict(a) for a in self._ws._json("GET", "/artifacts")]

    def open(self, digest: str) -> Iterator[bytes]:
        """Stream the content; its digest is checked at the end (IntegrityError: discard it)."""
        digest = parse_digest(digest)
        response = self._ws._send("GET", f"/artifacts/{digest}/content", stream=True)
        return self._verified(response, digest)

    def _verified(self, response: httpx.Response, digest: str) -> Iterator[bytes]:
        h = hashlib.sha256()
        try:
            if response.headers.get(DIGEST_HEADER) != digest:
                raise IntegrityError(f"The server sent a different object than sha256:{digest}.")
            try:
                for chunk in response.iter_bytes(CHUNK):
                    h.update(chunk)
                    yield chunk
            except httpx.TransportError as exc:
                raise IntegrityError(
                    f"The download of sha256:{digest} was cut short ({exc}); the server may have found the "
                    "stored object damaged. Run `gxpml artifacts verify` on it."
                ) from exc
        finally:
            response.close()
        if h.hexdigest() != digest:
            raise IntegrityError(f"The content received for sha256:{digest} hashes to sha256:{h.hexdigest()}: "
                                 "it was damaged in transfer. Download it again.")

    def read_bytes(self, digest: str) -> bytes:
        return b"".join(self.open(digest))

    def get(self, digest: str, dest: str | Path) -> Path:
        """Download to ``dest``; nothing is written there unless the digest verifies."""
        dest = Path(dest)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent or None)
        try:
            with os.fdopen(fd, "wb") as fh:
                for chunk in self.open(digest):
                    fh.write(chunk)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return dest

    def verify(self, digest: str) -> None:
        self._ws._json("POST", f"/artifacts/{parse_digest(digest)}/verify")

    def fsck(self, *, remove_orphans: bool = False, progress: Callable[[int, int], None] | None = None) -> FsckReport:
        """Runs on the server; ``progress`` is called once, at the end."""
        report = FsckReport.from_dict(self._ws._json("POST", "/artifacts/fsck", json={"remove_orphans": remove_orphans}))
        if progress is not None:
            progress(report.checked, report.checked)
        return report


class RemoteKeys(_Service):
    def show(self) -> dict[str, Any]:
        result: dict[str, Any] = self._ws._json("GET", "/keys")
        return result

    def rotate(self, *, reason: str, destroy_old: bool = False) -> dict[str, Any]:
        result: dict[str, Any] = self._ws._json("POST", "/keys/rotate", json={"reason": reason, "destroy_old": destroy_old})
        return result


class RemoteLineage(_Service):
    def ancestors(self, node: str, *, depth: int = MAX_DEPTH, types: list[str] | None = None) -> LineageGraph:
        return self._walk(node, "up", depth, types)

    def descendants(self, node: str, *, depth: int = MAX_DEPTH, types: list[str] | None = None) -> LineageGraph:
        return self._walk(node, "down", depth, types)

    def _walk(self, node: str, direction: str, depth: int, types: list[str] | None) -> LineageGraph:
        params: dict[str, Any] = {"direction": direction, "depth": depth}
        if types:
            params["types"] = types
        return LineageGraph.from_dict(self._ws._json("GET", f"/lineage/{parse_node(node)}", params=params))
