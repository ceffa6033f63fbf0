"""Properties of the hash chain, independent of any database."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from gxpml.audit.chain import GENESIS_HASH, event_hash, event_payload
from gxpml.audit.verify import VerifyReport, verify_events
from gxpml.canonical import canonical_json, sha256_hex

text = st.text(max_size=30)
optional = st.none() | text
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
event_fields = st.fixed_dictionaries({
    "ts": text, "actor_id": text, "actor_name": text, "action": text,
    "entity_type": optional, "entity_id": optional,
    "old": st.none() | st.dictionaries(text, json_values, max_size=4),
    "new": st.none() | st.dictionaries(text, json_values, max_size=4),
    "reason": optional, "request_id": optional,
})


def _stored(fields: dict, seq: int, prev: str) -> dict:  # type: ignore[type-arg]
    row = dict(fields, seq=seq, prev_hash=prev)
    row["old"] = None if row["old"] is None else canonical_json(row["old"])
    row["new"] = None if row["new"] is None else canonical_json(row["new"])
    return row


@given(event_fields, st.integers(1, 10**9))
def test_the_fast_payload_is_exactly_the_canonical_json_of_the_event(fields: dict, seq: int) -> None:  # type: ignore[type-arg]
    stored = _stored(fields, seq, GENESIS_HASH)
    expected = canonical_json({**fields, "seq": seq, "prev_hash": GENESIS_HASH})
    assert event_payload(**stored) == expected
    assert event_hash(**stored) == sha256_hex(expected)


def _chain(events: list[dict]) -> list[tuple]:  # type: ignore[type-arg]
    rows, prev = [], GENESIS_HASH
    for i, fields in enumerate(events, start=1):
        row = _stored(fields, i, prev)
        row["hash"] = event_hash(**row)
        prev = row["hash"]
        rows.append(tuple(row[k] for k in ("seq", "ts", "actor_id", "actor_name", "action", "entity_type",
                                           "entity_id", "old", "new", "reason", "request_id", "prev_hash", "hash")))
    return rows


def _verify(rows: list[tuple]) -> VerifyReport:  # type: ignore[type-arg]
    report = VerifyReport()
    verify_events(rows, {}, workspace_id="ws", public_key_hex="00" * 32, report=report)
    return report


@settings(max_examples=60)
@given(st.lists(event_fields, min_size=1, max_size=12))
def test_an_intact_chain_verifies(events: list[dict]) -> None:  # type: ignore[type-arg]
    assert _verify(_chain(events)).ok


@settings(max_examples=60)
@given(st.lists(event_fields, min_size=2, max_size=12), st.data())
def test_changing_any_field_of_any_event_is_detected_at_that_event(events: list[dict], data: st.DataObject) -> None:  # type: ignore[type-arg]
    rows = [list(r) for r in _chain(events)]
    i = data.draw(st.integers(0, len(rows) - 1))
    column = data.draw(st.sampled_from([1, 2, 3, 4, 5, 6, 9, 10]))  # hashed text fields
    original = rows[i][column]
    replacement = data.draw(st.text(max_size=30).filter(lambda v: v != original))
    rows[i][column] = replacement
    report = _verify([tuple(r) for r in rows])
    assert report.first_failure == i + 1


@settings(max_examples=40)
@given(st.lists(event_fields, min_size=3, max_size=12), st.data())
def test_dropping_or_swapping_events_is_detected(events: list[dict], data: st.DataObject) -> None:  # type: ignore[type-arg]
    rows = _chain(events)
    i = data.draw(st.integers(0, len(rows) - 2))
    dropped = rows[:i] + rows[i + 1:]
    assert _verify(dropped).first_failure == i + 1
    swapped = list(rows)
    swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
    assert _verify(swapped).first_failure == i + 1


def test_canonical_json_is_stable_under_key_order() -> None:
    assert canonical_json({"b": 1, "a": [1, {"d": None, "c": "é"}]}) == '{"a":[1,{"c":"é","d":null}],"b":1}'
    assert json.loads(canonical_json({"x": 1})) == {"x": 1}
