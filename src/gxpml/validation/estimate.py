"""An estimate with its bootstrap interval, and the JSON form every validation result uses.

Every number a validation computes is reported as an :class:`Estimate`: the point value on
the data as given and, when it was bootstrapped, the percentile interval at ``level``.
Results are written to ``results.json`` with :func:`json_number`, which keeps infinities and
undefined values (Clarify's ``x/0 → ±inf``) readable instead of failing strict JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Estimate", "json_number", "percentile_interval"]


def json_number(value: float | None) -> float | str | None:
    """``value`` as strict JSON: finite floats as they are, ``inf``/``-inf``/``nan`` as those strings."""
    if value is None:
        return None
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


@dataclass(frozen=True)
class Estimate:
    """A point value and, when bootstrapped, its ``level`` percentile interval."""

    point: float
    lower: float | None = None
    upper: float | None = None
    level: float | None = None

    def bound(self, which: str) -> float | None:
        """The ``point``, ``lower`` or ``upper`` value (acceptance criteria judge one of them)."""
        if which not in ("point", "lower", "upper"):
            raise ValueError(f"bound must be point, lower or upper, got {which!r}")
        value: float | None = getattr(self, which)
        return value

    def to_dict(self) -> dict[str, Any]:
        return {"point": json_number(self.point), "lower": json_number(self.lower),
                "upper": json_number(self.upper), "level": self.level}


def percentile_interval(samples: npt.ArrayLike, level: float = 0.95) -> tuple[float, float]:
    """The two-sided percentile interval of bootstrap ``samples``, ignoring undefined (NaN) resamples."""
    values = np.asarray(samples, dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return math.nan, math.nan
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high)
