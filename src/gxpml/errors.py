"""The one exception tree of gxpml.

Every error a user can meet is a ``GxpmlError``; each knows the HTTP status the REST API
answers with and the exit code the CLI ends with. Errors from SQLAlchemy, fsspec, boto or
cryptography are mapped to this tree where they cross into gxpml (``raise ... from exc``).

    GxpmlError                      500  exit 1
    ├── ConfigError                 500  exit 3   workspace missing, unreadable or corrupt config
    ├── InvalidInput                422  exit 2   a value the caller can fix
    │   ├── ReasonRequired          422  exit 2   a change or retirement without a reason
    │   ├── PasswordPolicyError     422  exit 2   password too short, reused, ...
    │   └── PayloadTooLarge         413  exit 2   a request body over the server's limit
    ├── NotFound                    404  exit 4   unknown id, user, digest
    ├── Conflict                    409  exit 5   already exists, illegal state transition
    ├── AuthenticationError         401  exit 6   no or bad credentials
    │   ├── TokenExpired            401  exit 6   session or API token expired / revoked
    │   ├── PasswordExpired         401  exit 6   password older than the policy allows
    │   └── AccountLocked           401  exit 6   too many failed logins, or disabled
    ├── PermissionDenied            403  exit 7   authenticated, but the role does not grant it
    ├── RateLimited                 429  exit 10  too many attempts (logins); wait and retry
    ├── IntegrityError              500  exit 8   a digest, hash or signature does not verify
    │   ├── AuditChainBroken        500  exit 8   ``audit verify`` found a failing event
    │   └── TransferDamaged         422  exit 8   content received does not match its digest
    └── StorageError                503  exit 9   database or object store unreachable / failed
"""

from __future__ import annotations

from typing import ClassVar

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
    "StorageError",
    "TokenExpired",
    "TransferDamaged",
]


class GxpmlError(Exception):
    """Root of every error gxpml raises on purpose."""

    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def type_name(self) -> str:
        """The name clients see in ``{"error": {"type": ...}}``."""
        return type(self).__name__


class ConfigError(GxpmlError):
    """The workspace is missing, or its configuration cannot be read."""

    exit_code = 3


class InvalidInput(GxpmlError):
    """The caller passed a value that gxpml cannot accept; fix it and retry."""

    http_status = 422
    exit_code = 2


class ReasonRequired(InvalidInput):
    """A GxP record was changed or retired without a reason (Annex 11 §9)."""


class PasswordPolicyError(InvalidInput):
    """A new password breaks the workspace's password policy."""


class PayloadTooLarge(InvalidInput):
    """The request body is larger than the server accepts for this route."""

    http_status = 413


class NotFound(GxpmlError):
    """The named thing does not exist."""

    http_status = 404
    exit_code = 4


class Conflict(GxpmlError):
    """The thing exists already, or is in a state that forbids the action."""

    http_status = 409
    exit_code = 5


class AuthenticationError(GxpmlError):
    """No credentials, or credentials that do not identify an active user."""

    http_status = 401
    exit_code = 6


class TokenExpired(AuthenticationError):
    """The session or API token expired or was revoked."""


class PasswordExpired(AuthenticationError):
    """The password is older than the policy allows and must be changed."""


class AccountLocked(AuthenticationError):
    """The account is locked after failed logins, or disabled."""


class PermissionDenied(GxpmlError):
    """The actor is known but no role of theirs grants the action."""

    http_status = 403
    exit_code = 7


class RateLimited(GxpmlError):
    """Too many attempts in a short time (e.g. logins); wait before retrying."""

    http_status = 429
    exit_code = 10


class IntegrityError(GxpmlError):
    """A digest, hash or signature does not verify: data was altered or damaged."""

    exit_code = 8


class AuditChainBroken(IntegrityError):
    """The audit trail fails verification; ``sequence`` names the first failing event."""

    def __init__(self, message: str, sequence: int | None = None) -> None:
        super().__init__(message)
        self.sequence = sequence


class TransferDamaged(IntegrityError):
    """Content sent to gxpml does not hash to the digest sent with it: nothing was stored;
    send it again. (A client's or the network's fault, hence a 4xx over HTTP.)"""

    http_status = 422


class StorageError(GxpmlError):
    """The metadata database or the object store failed or cannot be reached."""

    http_status = 503
    exit_code = 9
