"""``gxpml server``: serve the workspace over HTTP(S)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gxpml.cli.app import hint, workspace_path

app = typer.Typer()


@app.command("server")
def server(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to bind; loopback unless you mean otherwise.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="PEM certificate (chain); enables TLS 1.2+.")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="PEM private key of the certificate.")] = None,
) -> None:
    """Serve the workspace's REST API (OpenAPI document at /openapi.json)."""
    from gxpml.api.server import serve

    scheme = "https" if tls_cert else "http"
    if host not in {"127.0.0.1", "localhost", "::1"} and not tls_cert:
        hint(f"Serving on {host} without TLS: tokens and data cross the network in clear text.")
    hint(f"gxpml server on {scheme}://{host}:{port} (API under /api/v1, docs at /docs)")
    serve(workspace_path(ctx), host=host, port=port, workers=workers, tls_cert=tls_cert, tls_key=tls_key)
