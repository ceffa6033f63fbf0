"""TLS: the server speaks TLS 1.2 and 1.3 only, and the SDK trusts only certificates it can verify.

A private CA and a server certificate for 127.0.0.1/localhost are made with ``cryptography``
for the module. The server runs in-process (``LiveServer``, the same ``_Config`` as
``serve()``) for most tests, and once as ``gxpml server --tls-cert --tls-key``, which is what
users run.

The TLS 1.1 client lowers its own OpenSSL security level (``@SECLEVEL=0``), which OpenSSL 3
needs before it offers TLS 1.1 at all; a control handshake against a permissive test server
proves it really can speak TLS 1.1 here, so a refusal comes from the server. Where the local
OpenSSL cannot speak TLS 1.1 at all, the refusal tests fall back to asserting the server's
``SSLContext.minimum_version``.

Python >= 3.10 with OpenSSL 3 already gives every server context a TLS 1.2 floor, so on such a
platform a plain uvicorn refuses TLS 1.1 too. One test therefore simulates a platform whose
default still allows TLS 1.0 and checks that gxpml's own floor holds there.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
import uvicorn.config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from api.subprocess_server import Servers, free_port
from gxpml.errors import ConfigError
from gxpml.workspace import Workspace
from support import ADMIN_PASSWORD, LiveServer, make_workspace

#: gxpml.remote hands a CA bundle path to httpx as ``verify=<str>``, which httpx 0.28 deprecates
#: (pinned by test_a_ca_bundle_path_is_used_without_deprecation_warnings); the tests that check
#: the behaviour let that one warning through.


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    """``gxpml server`` subprocesses for this test, all stopped at teardown."""
    with Servers(tmp_path) as started:
        yield started


@dataclass(frozen=True)
class Pki:
    ca: Path  # the private CA's certificate (PEM): what clients are told to trust
    cert: Path  # the server certificate, for 127.0.0.1 and localhost
    key: Path  # its private key
    other_ca: Path  # an unrelated CA, which must not be accepted for the server


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "gxpml tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _make_ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name)).issuer_name(_name(common_name))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert = _make_ca("gxpml test CA")
    _, other_cert = _make_ca("some other CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1")).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(ca=folder / "ca.pem", cert=folder / "server.pem", key=folder / "server.key",
              other_ca=folder / "other-ca.pem")
    pki.ca.write_bytes(_pem(ca_cert))
    pki.other_ca.write_bytes(_pem(other_cert))
    pki.cert.write_bytes(_pem(cert))
    pki.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    pki.key.chmod(0o600)
    return pki


@pytest.fixture(scope="module")
def tls_server(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A workspace served over HTTPS by an in-process uvicorn with gxpml's ``_Config``."""
    ws = make_workspace(tmp_path_factory.mktemp("tls") / "ws", None)
    ws.close()
    live = LiveServer(ws.settings.home, ssl_certfile=str(pki.cert), ssl_keyfile=str(pki.key))
    try:
        yield live
    finally:
        live.stop()


# ---------------------------------------------------------------------------- TLS clients


def _legacy(name: str) -> ssl.TLSVersion:
    with warnings.catch_warnings():  # TLSv1 and TLSv1_1 are deprecated names: that is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        return getattr(ssl.TLSVersion, name)  # type: ignore[no-any-return]


def tls11_client(ca: Path) -> ssl.SSLContext:
    """A client that offers TLS 1.0 and 1.1 only, with OpenSSL's own floor lowered."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = _legacy("TLSv1")
        ctx.maximum_version = _legacy("TLSv1_1")
    return ctx


def pinned_client(ca: Path, version: ssl.TLSVersion) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    ctx.minimum_version = ctx.maximum_version = version
    return ctx


def handshake(ctx: ssl.SSLContext, port: int) -> str:
    """Connect, complete a TLS handshake with 127.0.0.1:port and return the version spoken."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        return str(tls.version())


def get_healthz(ctx: ssl.SSLContext, port: int) -> tuple[str, bytes]:
    """A bare HTTP/1.1 GET /healthz over a TLS socket: (TLS version, raw response)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        response = b""
        while chunk := tls.recv(65536):
            response += chunk
        return str(tls.version()), response


def client_can_speak_tls11(pki: Pki) -> bool:
    """Control: does this OpenSSL complete a TLS 1.1 handshake with a server that allows it?"""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(pki.cert, pki.key)
    server_ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        server_ctx.minimum_version = _legacy("TLSv1")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve_one() -> None:
        try:
            conn, _ = listener.accept()
            with server_ctx.wrap_socket(conn, server_side=True):
                pass
        except (OSError, ssl.SSLError):
            pass

    thread = threading.Thread(target=serve_one, daemon=True)
    thread.start()
    try:
        return handshake(tls11_client(pki.ca), port) == "TLSv1.1"
    except (OSError, ssl.SSLError):
        return False
    finally:
        thread.join(timeout=10)
        listener.close()


def assert_tls11_refused(pki: Pki, port: int) -> None:
    with pytest.raises(ssl.SSLError) as refused:
        handshake(tls11_client(pki.ca), port)
    # The server drops the handshake (uvicorn sends no alert: the client sees EOF or a
    # protocol-version alert); what matters is that it is not a certificate problem.
    assert not isinstance(refused.value, ssl.SSLCertVerificationError), refused.value


# ---------------------------------------------------------------------------- versions


def test_the_server_context_refuses_everything_below_tls_1_2(tls_server: LiveServer) -> None:
    context = tls_server.server.config.ssl
    assert context is not None
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_a_tls_1_1_client_cannot_complete_a_handshake(tls_server: LiveServer, pki: Pki) -> None:
    """Falls back to the SSLContext check above when this OpenSSL cannot speak TLS 1.1."""
    if not client_can_speak_tls11(pki):
        context = tls_server.server.config.ssl
        assert context is not None and context.minimum_version >= ssl.TLSVersion.TLSv1_2
        return
    assert_tls11_refused(pki, tls_server.port)


def test_gxpml_keeps_the_tls_1_2_floor_where_the_platform_default_allows_tls_1_1(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not client_can_speak_tls11(pki):
        pytest.skip("this OpenSSL cannot speak TLS 1.1 even with @SECLEVEL=0; the context checks above stand in")
    original = uvicorn.config.create_ssl_context

    def permissive_platform(*args: object, **kwargs: object) -> ssl.SSLContext:
        context = original(*args, **kwargs)  # type: ignore[arg-type]
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = _legacy("TLSv1")
        return context

    monkeypatch.setattr(uvicorn.config, "create_ssl_context", permissive_platform)
    # Control: on this simulated platform a plain uvicorn does accept TLS 1.1 ...
    port = free_port()
    plain = uvicorn.Server(uvicorn.Config(lambda *_: None, host="127.0.0.1", port=port, log_level="error",
                                          ssl_certfile=str(pki.cert), ssl_keyfile=str(pki.key), lifespan="off"))
    thread = threading.Thread(target=plain.run, daemon=True)
    thread.start()
    try:
        for _ in range(2000):
            if plain.started or not thread.is_alive():
                break
            threading.Event().wait(0.01)
        assert handshake(tls11_client(pki.ca), port) == "TLSv1.1"
    finally:
        plain.should_exit = True
        thread.join(timeout=20)
    # ... and gxpml's server does not.
    ws = make_workspace(tmp_path / "ws", None)
    ws.close()
    live = LiveServer(ws.settings.home, ssl_certfile=str(pki.cert), ssl_keyfile=str(pki.key))
    try:
        context = live.server.config.ssl
        assert context is not None and context.minimum_version == ssl.TLSVersion.TLSv1_2
        assert_tls11_refused(pki, live.port)
        assert handshake(pinned_client(pki.ca, ssl.TLSVersion.TLSv1_2), live.port) == "TLSv1.2"
    finally:
        live.stop()


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["tls1.2", "tls1.3"])
def test_tls_1_2_and_1_3_clients_are_served(tls_server: LiveServer, pki: Pki, version: ssl.TLSVersion) -> None:
    spoken, response = get_healthz(pinned_client(pki.ca, version), tls_server.port)
    assert spoken == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
    assert response.startswith(b"HTTP/1.1 200 "), response[:200]
    assert response.endswith(b'{"status":"ok"}'), response[-200:]


def test_gxpml_server_command_serves_tls_1_2_and_newer_only(
    pki: Pki, tmp_path: Path, servers: Servers,
) -> None:
    """What users run: ``gxpml server --tls-cert --tls-key`` (uvicorn through ``serve()``)."""
    ws = make_workspace(tmp_path / "ws", None)
    ws.close()
    server = servers.spawn(ws.settings.home, tls_cert=pki.cert, tls_key=pki.key, ca=pki.ca)
    assert server.url.startswith("https://")
    port = server.port
    if client_can_speak_tls11(pki):
        assert_tls11_refused(pki, port)
    assert handshake(pinned_client(pki.ca, ssl.TLSVersion.TLSv1_2), port) == "TLSv1.2"
    assert handshake(pinned_client(pki.ca, ssl.TLSVersion.TLSv1_3), port) == "TLSv1.3"
    with Workspace.connect(server.url, user="admin", password=ADMIN_PASSWORD, verify=str(pki.ca)) as remote:
        assert remote.actor.username == "admin"
        digest = remote.artifacts.put(b"over TLS").digest
        assert remote.artifacts.read_bytes(digest) == b"over TLS"


# ---------------------------------------------------------------------------- SDK trust


def test_the_sdk_refuses_a_certificate_it_cannot_verify_by_default(tls_server: LiveServer) -> None:
    with pytest.raises(ConfigError, match=r"(?s)TLS certificate of https://127\.0\.0\.1:\d+ could not be verified"
                                          r".*GXPML_CA_BUNDLE"):
        Workspace.connect(tls_server.url, user="admin", password=ADMIN_PASSWORD)


def test_the_sdk_refuses_a_certificate_from_another_ca(tls_server: LiveServer, pki: Pki) -> None:
    with pytest.raises(ConfigError, match="certificate"):
        Workspace.connect(tls_server.url, user="admin", password=ADMIN_PASSWORD, verify=str(pki.other_ca))


def test_the_sdk_trusts_a_private_ca_passed_as_verify(tls_server: LiveServer, pki: Pki) -> None:
    with Workspace.connect(tls_server.url, user="admin", password=ADMIN_PASSWORD, verify=str(pki.ca)) as remote:
        assert remote.actor.username == "admin"
        assert remote.audit.verify().ok


def test_the_sdk_trusts_the_ca_bundle_named_by_gxpml_ca_bundle(
    tls_server: LiveServer, pki: Pki, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GXPML_CA_BUNDLE", str(pki.ca))
    with Workspace.connect(tls_server.url, user="admin", password=ADMIN_PASSWORD) as remote:
        assert remote.actor.username == "admin"
        _, token = remote.tokens.create("tls-check", expires_days=1)
    with Workspace.connect(tls_server.url, token=token) as remote:  # and with a token
        assert remote.actor.username == "admin"


def test_a_ca_bundle_path_is_used_without_deprecation_warnings(tls_server: LiveServer, pki: Pki) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with Workspace.connect(tls_server.url, user="admin", password=ADMIN_PASSWORD, verify=str(pki.ca)) as remote:
            assert remote.actor.username == "admin"


def test_a_ca_bundle_that_does_not_exist_is_a_config_error_naming_it(
    tls_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = tmp_path / "no-such-ca.pem"
    monkeypatch.setenv("GXPML_CA_BUNDLE", str(missing))
    with pytest.raises(ConfigError, match=re.escape(str(missing))):
        Workspace.connect(tls_server.url, user="admin", password=ADMIN_PASSWORD)
