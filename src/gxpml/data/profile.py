"""A statistical profile of a dataset, computed in one streaming pass.

Per column: ``count`` (values present) and ``nulls``; for numbers ``min``, ``max``, ``mean``
and ``std`` (sample standard deviation, merged batch by batch with Chan's formula); for
booleans ``true``; for datetimes ``min`` and ``max``; for strings ``distinct``, counted exactly
up to :data:`DISTINCT_LIMIT` values (beyond that ``distinct`` is null and
``distinct_over_limit`` true). :meth:`Profile.summary` keeps only the counts: it is what the
dataset version record holds, while the statistics, which are derived from the values, live
in the encrypted profile artifact.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from gxpml.data.frames import type_name

__all__ = ["DISTINCT_LIMIT", "Profile"]

DISTINCT_LIMIT = 100_000


class _Column:
    def __init__(self, name: str, kind: str) -> None:
        self.name, self.kind = name, kind
        self.count = self.nulls = 0
        self.n = 0
        self.mean = self.m2 = 0.0
        self.min: Any = None
        self.max: Any = None
        self.true = 0
        self.distinct: set[str] | None = set()

    def update(self, column: pa.Array) -> None:
        nulls = column.null_count
        self.nulls += nulls
        self.count += len(column) - nulls
        if len(column) == nulls:
            return
        if self.kind in ("int64", "float64"):
            values = np.asarray(column.drop_null().to_numpy(zero_copy_only=False), dtype=np.float64)
            if self.kind == "int64":  # exact: int64 extremes may not fit a float
                minmax = pc.min_max(column)
                self._extremes(minmax["min"].as_py(), minmax["max"].as_py())
            else:
                self._extremes(values.min().item(), values.max().item())
            finite = values[np.isfinite(values)]
            if len(finite):
                n_b, mean_b = len(finite), float(finite.mean())
                m2_b = float(((finite - mean_b) ** 2).sum())
                n = self.n + n_b
                delta = mean_b - self.mean
                self.mean += delta * n_b / n
                self.m2 += m2_b + delta * delta * self.n * n_b / n
                self.n = n
        elif self.kind == "bool":
            self.true += int(pc.sum(column).as_py() or 0)
        elif self.kind.startswith("datetime"):  # as microseconds: Python's datetime ends at year 9999
            minmax = pc.min_max(column.view(pa.int64()))
            self._extremes(minmax["min"].as_py(), minmax["max"].as_py())
        elif self.kind == "string" and self.distinct is not None:
            self.distinct.update(pc.unique(column.drop_null()).to_pylist())
            if len(self.distinct) > DISTINCT_LIMIT:
                self.distinct = None

    def _extremes(self, low: Any, high: Any) -> None:
        if self.min is None or low < self.min:
            self.min = low
        if self.max is None or high > self.max:
            self.max = high

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind, "count": self.count, "nulls": self.nulls}
        if self.kind in ("int64", "float64"):
            out["min"], out["max"] = _number(self.min), _number(self.max)
            out["mean"] = _number(self.mean) if self.n else None
            out["std"] = _number(math.sqrt(self.m2 / (self.n - 1))) if self.n > 1 else None
        elif self.kind == "bool":
            out["true"] = self.true
        elif self.kind.startswith("datetime"):
            out["min"], out["max"] = _iso(self.min, self.kind), _iso(self.max, self.kind)
        elif self.kind == "string":
            out["distinct"] = None if self.distinct is None else len(self.distinct)
            out["distinct_over_limit"] = self.distinct is None
        return out


def _iso(micros: int | None, kind: str) -> str | None:
    if micros is None:
        return None
    scalar = pa.scalar(micros, pa.timestamp("us", tz="UTC" if kind == "datetime[UTC]" else None))
    try:
        return str(scalar.as_py().isoformat())
    except (ValueError, OverflowError):  # beyond Python's datetimes: Arrow's own rendering
        return str(scalar)


def _number(value: Any) -> Any:
    """JSON has no infinities: they are written as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return "inf" if value > 0 else "-inf" if value < 0 else None
    return value


class Profile:
    """Feed canonical batches with :meth:`update`; read :meth:`to_dict` / :meth:`summary`."""

    def __init__(self, schema: pa.Schema) -> None:
        self.rows = 0
        self._columns = [_Column(f.name, type_name(f.type)) for f in schema]

    def update(self, batch: pa.RecordBatch) -> None:
        self.rows += batch.num_rows
        for column, values in zip(self._columns, batch.columns, strict=True):
            column.update(values)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "columns": {c.name: c.to_dict() for c in self._columns}}

    def summary(self) -> dict[str, dict[str, Any]]:
        """Counts only, per column: safe to keep on the record after the data is erased."""
        summary: dict[str, dict[str, Any]] = {}
        for c in self._columns:
            entry: dict[str, Any] = {"count": c.count, "nulls": c.nulls}
            if c.kind == "string":
                entry["distinct"] = None if c.distinct is None else len(c.distinct)
            summary[c.name] = entry
        return summary
