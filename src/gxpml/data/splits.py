"""Deterministic train/validation/test assignments: seeded, group-aware, out-of-time.

The same rows, parameters and seed always give the same assignment, on any machine and any
numpy version: nothing here draws from a random number generator whose stream could change.
Rows (or groups) are ordered by a keyed hash of their position (or value) and the seed, and
the order is cut at the requested fractions.

* **random**: rows are ordered by ``splitmix64(row number XOR splitmix64(seed))``; the first
  ``floor(test·n + 0.5)`` rows are test, the next ``floor(validation·n + 0.5)`` validation, the rest train.
* **group**: every distinct value of the group column (a patient, a site) is ordered by
  ``SHA-256(seed, canonical JSON of the value)``; whole groups go to test until it holds at
  least ``test·n`` rows, then to validation likewise, the rest to train. A group is never in
  two splits.
* **time**: rows are ordered by the time column; the latest ``floor(test·n + 0.5)`` rows are test,
  the ``floor(validation·n + 0.5)`` before them validation, the earliest train. Rows sharing a time
  stay together, in the later split, so every test time is after every train time.
* **group and time**: groups are ordered by their earliest time; the latest groups are test.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from gxpml.canonical import canonical_json
from gxpml.data.models import SPLITS
from gxpml.errors import InvalidInput

__all__ = ["Assignment", "assign", "assignment_digest"]

TRAIN, VALIDATION, TEST = SPLITS["train"], SPLITS["validation"], SPLITS["test"]
_M1, _M2, _GOLDEN = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class Assignment:
    method: str
    codes: np.ndarray[Any, np.dtype[np.uint8]]  # one of SPLITS' codes per row

    @property
    def counts(self) -> dict[str, int]:
        found = np.bincount(self.codes, minlength=3)
        return {name: int(found[code]) for name, code in SPLITS.items()}

    @property
    def digest(self) -> str:
        return assignment_digest(self.codes)


def assignment_digest(codes: np.ndarray[Any, np.dtype[np.uint8]]) -> str:
    """SHA-256 over ``gxpml-split/1\\n`` and one byte per row (0 train, 1 validation, 2 test)."""
    h = hashlib.sha256(b"gxpml-split/1\n")
    h.update(np.ascontiguousarray(codes, dtype=np.uint8).tobytes())
    return h.hexdigest()


def _splitmix64(x: np.ndarray[Any, np.dtype[np.uint64]]) -> np.ndarray[Any, np.dtype[np.uint64]]:
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def _rounded(fraction: float, n: int) -> int:
    return int(math.floor(fraction * n + 0.5))


def assign(
    num_rows: int, *, test: float, validation: float, seed: int,
    group: pa.ChunkedArray | pa.Array | None = None, time: pa.ChunkedArray | pa.Array | None = None,
    group_name: str | None = None, time_name: str | None = None,
) -> Assignment:
    """The assignment of ``num_rows`` rows; ``group``/``time`` are the columns' values."""
    if num_rows == 0:
        raise InvalidInput("Cannot split an empty dataset version (it has no rows).")
    times = None if time is None else _time_values(time, time_name or "time")
    if group is not None:
        codes, method = _by_group(group, group_name or "group", num_rows, test, validation, seed, times)
    elif times is not None:
        codes, method = _by_time(times, time_name or "time", num_rows, test, validation), "time"
    else:
        codes, method = _random(num_rows, test, validation, seed), "random"
    result = Assignment(method, codes)
    counts = result.counts
    wanted = {"train": True, "validation": validation > 0, "test": test > 0}
    empty = [name for name, needed in wanted.items() if needed and counts[name] == 0]
    if empty:
        unit = "groups" if group is not None else "rows"
        raise InvalidInput(
            f"Cannot split {num_rows} rows with test={test}, validation={validation}: the "
            f"{' and '.join(empty)} split(s) would be empty. Use larger fractions, or more {unit}."
        )
    return result


def _random(n: int, test: float, validation: float, seed: int) -> np.ndarray[Any, np.dtype[np.uint8]]:
    key = _splitmix64(np.array([seed], dtype=np.uint64))[0]
    order = np.argsort(_splitmix64(np.arange(n, dtype=np.uint64) ^ key), kind="stable")
    codes = np.full(n, TRAIN, dtype=np.uint8)
    n_test, n_val = _rounded(test, n), _rounded(validation, n)
    codes[order[:n_test]] = TEST
    codes[order[n_test:n_test + n_val]] = VALIDATION
    return codes


def _time_values(column: pa.ChunkedArray | pa.Array, name: str) -> np.ndarray[Any, Any]:
    if column.null_count:
        raise InvalidInput(
            f"The time column {name!r} has {column.null_count} missing value(s); an out-of-time split "
            "needs a time on every row. Fill or drop them in a new version first."
        )
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.int64()) if isinstance(column, pa.ChunkedArray) else column.view(pa.int64())
    elif not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        raise InvalidInput(
            f"The time column {name!r} is {column.type}; an out-of-time split needs a datetime or a "
            "number (declare its dtype as datetime in the checks file if it holds dates as text)."
        )
    return np.asarray(column.to_numpy() if isinstance(column, pa.ChunkedArray) else column.to_numpy(zero_copy_only=False))


def _by_time(times: np.ndarray[Any, Any], name: str, n: int, test: float, validation: float) -> np.ndarray[Any, np.dtype[np.uint8]]:
    codes = np.full(n, TRAIN, dtype=np.uint8)
    ordered = np.sort(times, kind="stable")
    n_test, n_val = _rounded(test, n), _rounded(validation, n)
    remaining = n
    for code, count in ((TEST, n_test), (VALIDATION, n_val)):
        if count == 0 or remaining == 0:
            continue
        boundary = ordered[max(remaining - count, 0)]
        chosen = (times >= boundary) & (codes == TRAIN)
        codes[chosen] = code
        remaining = int(np.count_nonzero(codes == TRAIN))
        ordered = ordered[:remaining]
    return codes


def _group_key(seed: int, value: Any) -> bytes:
    return hashlib.sha256(f"{seed}\n".encode() + canonical_json(value).encode("utf-8")).digest()


def _by_group(
    column: pa.ChunkedArray | pa.Array, name: str, n: int, test: float, validation: float, seed: int,
    times: np.ndarray[Any, Any] | None,
) -> tuple[np.ndarray[Any, np.dtype[np.uint8]], str]:
    if column.null_count:
        raise InvalidInput(
            f"The group column {name!r} has {column.null_count} missing value(s); every row needs a group "
            "so that no group can land in two splits. Fill or drop them in a new version first."
        )
    uniques = pc.unique(column)
    index = np.asarray(pc.index_in(column, value_set=uniques).to_numpy(), dtype=np.int64)
    sizes = np.bincount(index, minlength=len(uniques))
    values = uniques.to_pylist()
    keys = [_group_key(seed, v if not hasattr(v, "isoformat") else v.isoformat()) for v in values]
    if times is None:
        order = sorted(range(len(values)), key=lambda g: keys[g])
        method = "group"
    else:
        first = np.full(len(values), np.inf)
        np.minimum.at(first, index, times.astype(np.float64))
        # latest-starting groups first, so that they fill test, then validation
        order = sorted(range(len(values)), key=lambda g: (-first[g], keys[g]))
        method = "group-time"
    group_codes = np.full(len(values), TRAIN, dtype=np.uint8)
    targets = [(TEST, test * n), (VALIDATION, validation * n)]
    position = 0
    for code, target in targets:
        if target <= 0:
            continue
        filled = 0
        while position < len(order) - 1 and filled < target:  # keep at least one group for train
            group_codes[order[position]] = code
            filled += int(sizes[order[position]])
            position += 1
    return group_codes[index], method
