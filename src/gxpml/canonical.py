"""Canonical JSON, digests, ids and timestamps: the bytes every hash in gxpml is taken over.

Canonical JSON is ``json.dumps`` with sorted keys, no insignificant whitespace and UTF-8
kept as is; timestamps are UTC ISO-8601 with microseconds and a ``Z``. The same record
therefore always hashes to the same digest, on any machine and either database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from typing import Any

__all__ = [
    "canonical_json",
    "format_ts",
    "new_id",
    "parse_ts",
    "sha256_hex",
    "utcnow",
]


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return format_ts(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def canonical_json(value: Any) -> str:
    """Serialize ``value`` so that equal values always give identical text."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default,
        allow_nan=False,
    )


def sha256_hex(data: str | bytes) -> str:
    """The SHA-256 of ``data`` (text is UTF-8 encoded) as 64 lowercase hex digits."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def utcnow() -> dt.datetime:
    """Now, timezone-aware in UTC."""
    return dt.datetime.now(dt.UTC)


def format_ts(value: dt.datetime) -> str:
    """UTC ISO-8601 with microseconds, e.g. ``2026-11-27T09:54:57.000123Z``; sorts as text."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(text: str) -> dt.datetime:
    """Parse a timestamp written by :func:`format_ts` (or any ISO-8601 form) as UTC."""
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def new_id(prefix: str) -> str:
    """A random, URL-safe id with a readable type prefix, e.g. ``usr_5f2c0a9e1b7d43aa``."""
    return f"{prefix}_{secrets.token_hex(8)}"
