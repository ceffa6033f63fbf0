"""The hash chain: how an audit event is hashed and linked to the one before it.

``hash = SHA-256(canonical_json(event without hash))``, where the event includes
``prev_hash``. ``old`` and ``new`` are stored as canonical JSON text, so the canonical form
of a whole event can be assembled from its stored columns without re-parsing them; that is
what makes verification fast. :func:`event_payload` is the only place the form is defined.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

__all__ = ["EVENT_FIELDS", "GENESIS_HASH", "event_hash", "event_payload"]

#: ``prev_hash`` of the first event.
GENESIS_HASH = "0" * 64

#: The hashed fields, in the (sorted) order canonical JSON puts them.
EVENT_FIELDS = (
    "action", "actor_id", "actor_name", "entity_id", "entity_type", "new", "old",
    "prev_hash", "reason", "request_id", "seq", "ts",
)

_encode = json.JSONEncoder(ensure_ascii=False).encode
# What json escapes when ensure_ascii is off: quotes, backslashes and control characters.
# Strings without them (ids, hashes, timestamps, most names) are quoted as they are.
_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\]').search


def _dumps(value: str) -> str:
    return _encode(value) if _NEEDS_ESCAPE(value) else '"' + value + '"'


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
    # Fast path: when no text field needs escaping (nearly always), quote them as they are.
    # One scan of all of them costs less than seven encoder calls; ``verify`` runs this per event.
    if not _NEEDS_ESCAPE(f"{ts}{actor_id}{actor_name}{action}{entity_type}{entity_id}{reason}{request_id}{prev_hash}"):
        return (
            f'{{"action":"{action}","actor_id":"{actor_id}","actor_name":"{actor_name}",'
            f'"entity_id":{"null" if entity_id is None else chr(34) + entity_id + chr(34)},'
            f'"entity_type":{"null" if entity_type is None else chr(34) + entity_type + chr(34)},'
            f'"new":{"null" if new is None else new},"old":{"null" if old is None else old},'
            f'"prev_hash":"{prev_hash}",'
            f'"reason":{"null" if reason is None else chr(34) + reason + chr(34)},'
            f'"request_id":{"null" if request_id is None else chr(34) + request_id + chr(34)},'
            f'"seq":{int(seq)},"ts":"{ts}"}}'
        )
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
