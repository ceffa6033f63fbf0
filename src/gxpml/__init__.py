"""gxpml: machine learning for regulated (GxP) settings.

The public SDK is what this module exports; everything else is importable but not promised.

    import gxpml
    ws = gxpml.Workspace.open("lab", user="alice", password=...)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gxpml.errors import (
    AccountLocked,
    AuditChainBroken,
    AuthenticationError,
    ConfigError,
    Conflict,
    GxpmlError,
    IntegrityError,
    InvalidInput,
    NotFound,
    PasswordExpired,
    PasswordPolicyError,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ReasonRequired,
    StorageError,
    TokenExpired,
    TransferDamaged,
)
from gxpml.tracking.records import RunStatus
from gxpml.tracking.run import Run, start_run
from gxpml.workspace import Workspace

if TYPE_CHECKING:
    from gxpml.validation.validate import validate

__version__ = "0.1.0"

__all__ = [
    "AccountLocked",
    "AuditChainBroken",
    "AuthenticationError",
    "ConfigError",
    "Conflict",
    "GxpmlError",
    "IntegrityError",
    "InvalidInput",
    "NotFound",
    "PasswordExpired",
    "PasswordPolicyError",
    "PayloadTooLarge",
    "PermissionDenied",
    "RateLimited",
    "ReasonRequired",
    "Run",
    "RunStatus",
    "StorageError",
    "TokenExpired",
    "TransferDamaged",
    "Workspace",
    "__version__",
    "start_run",
    "validate",
]


def __getattr__(name: str) -> Any:
    # ``validate`` pulls in pandas and the validation stack: imported on first use, so that
    # ``import gxpml`` (and every CLI command) stays quick.
    if name == "validate":
        from gxpml.validation.validate import validate

        return validate
    raise AttributeError(f"module 'gxpml' has no attribute {name!r}")
