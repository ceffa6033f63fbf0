"""The hash chain: how an audit event is hashed and linked to the one before it.

``hash = SHA-256(canonical_json(event without hash))``, where the event includes
``prev_hash``. ``old`` and ``new`` are stored as canonical JSON text, so the canonical form
of a whole event can be assembled from its stored columns without re-parsing them; that is
what makes verification fast. :func:`event_payload` is the only place the form is defined.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["EVENT_FIELDS", "GENESIS_HASH", "event_hash", "event_payload"]

#: ``prev_hash`` of the first event.
GENESIS_HASH = "0" * 64

#: The hashed fields, in the (sorted) order canonical JSON puts them.
EVENT_FIELDS = (
    "action", "actor_id", "actor_name", "entity_id", "entity_type", "new", "old",
    "prev_hash", "reason", "request_id", "seq", "ts",
)

_dumps = json.JSONEncoder(ensure_ascii=False).encode


def _text(value: str | None) -> str:
    return "null" if value is None else _dumps(value)


def _raw(value: str | None) -> str:
    return "null" if value is None else value


def event_payload(
    *, seq: int, ts: str, actor_id: str, actor_name: str, action: str,
    entity_type: str | None, entity_id: str | None, old: str | None, new: str | None,
    reason: str | None, request_id: str | None, prev_hash: str, **_ignored: Any,
) -> str:
    """The canonical JSON of an event without its hash (``old``/``new`` are canonical JSON text)."""
    return (
        '{"action":' + _dumps(action)
        + ',"actor_id":' + _dumps(actor_id)
        + ',"actor_name":' + _dumps(actor_name)
        + ',"entity_id":' + _text(entity_id)
        + ',"entity_type":' + _text(entity_type)
        + ',"new":' + _raw(new)
        + ',"old":' + _raw(old)
        + ',"prev_hash":' + _dumps(prev_hash)
        + ',"reason":' + _text(reason)
        + ',"request_id":' + _text(request_id)
        + ',"seq":' + str(int(seq))
        + ',"ts":' + _dumps(ts)
        + "}"
    )


def event_hash(**fields: Any) -> str:
    """SHA-256 hex of :func:`event_payload`."""
    return hashlib.sha256(event_payload(**fields).encode("utf-8")).hexdigest()
