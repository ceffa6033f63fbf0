"""The gxpml REST API: a thin FastAPI adapter over the SDK (``create_app``)."""

from gxpml.api.app import create_app

__all__ = ["create_app"]
