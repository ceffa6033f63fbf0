"""Running the API under uvicorn: ``gxpml server``.

Binds to loopback unless told otherwise. With a certificate it speaks TLS 1.2 or newer only.
With ``workers > 1`` uvicorn starts that many processes; they share nothing but the database
and the object store, and the audit chain stays totally ordered because every writer locks
its head in the database.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from gxpml.api.app import create_app
from gxpml.config import load_settings
from gxpml.errors import ConfigError

__all__ = ["app_from_env", "serve"]


class _Config(uvicorn.Config):
    """uvicorn's config with TLS < 1.2 refused (in every worker process)."""

    def load(self) -> None:
        super().load()
        if self.ssl is not None:
            self.ssl.minimum_version = ssl.TLSVersion.TLSv1_2


def app_from_env() -> FastAPI:
    """The app for the workspace in ``GXPML_HOME`` (uvicorn's factory in worker processes)."""
    return create_app(os.environ.get("GXPML_HOME"))


def serve(
    home: str | Path | None = None, *, host: str = "127.0.0.1", port: int = 8080, workers: int = 1,
    tls_cert: str | Path | None = None, tls_key: str | Path | None = None, log_level: str = "info",
) -> None:
    """Serve the workspace at ``home`` until interrupted."""
    settings = load_settings(home)  # fail here, with a clear message, not in a worker
    if (tls_cert is None) != (tls_key is None):
        raise ConfigError("TLS needs both --tls-cert and --tls-key.")
    for path in (tls_cert, tls_key):
        if path is not None and not Path(path).is_file():
            raise ConfigError(f"TLS file {path} does not exist.")
    if workers < 1:
        raise ConfigError("--workers must be at least 1.")
    os.environ["GXPML_HOME"] = str(settings.home)
    config = _Config(
        "gxpml.api.server:app_from_env", factory=True, host=host, port=port, workers=workers,
        ssl_certfile=str(tls_cert) if tls_cert else None, ssl_keyfile=str(tls_key) if tls_key else None,
        log_level=log_level, proxy_headers=False, server_header=False, date_header=True,
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    if workers > 1:
        sock = config.bind_socket()
        uvicorn.supervisors.Multiprocess(config, sockets=[sock]).run()
    else:
        server.run()
