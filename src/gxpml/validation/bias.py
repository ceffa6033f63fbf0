"""Bias metrics as SageMaker Clarify defines them, each with a seeded bootstrap interval.

:func:`bias_report` computes Clarify's pre-training metrics (CI, DPL, KL, JS, LP, TVD, KS,
CDDL) and, when predictions are given, its post-training metrics (DPPL, DI, DCA, DCR, DAR,
DRR, RD, SD, AD, TE, CDDPL, FT, GE) for one facet column: facet *d* is the sensitive group
(the given value(s), or the values above a threshold), facet *a* is the rest. The label and
the predictions are collapsed to positive (a value in ``positive``) against the rest, as
Clarify does.

Conventions, each taken from Clarify (``smclarify`` 0.5) unless said otherwise:

* ``divide``: 0/0 → 0 and x/0 → ±inf; a difference of two ratios that are both +inf is 0.
* TE is ``FN_d/FP_d − FN_a/FP_a``, the definition Clarify's code computes (its documentation
  writes ``FP_a/FN_a − FP_d/FN_d``); :data:`TE_DEFINITION` says so in every result.
* KL, JS, LP, TVD and KS compare the distributions of the collapsed label in facets *a* and
  *d*, over both label values, with ``0·log 0 = 0``; KL is +inf when a label value occurs
  in *a* and never in *d*. (Clarify's code first drops label values absent from either facet,
  which understates LP/TVD/KS in that case; we follow the formulas.)
* CDDL/CDDPL: per stratum of ``group``, ``DD_i = n_d(0)/n(0) − n_d(1)/n(1)`` with a ratio
  over an empty denominator taken as 0, weighted by stratum size; undefined when the whole
  data has a single (predicted) class. Without ``group`` they are reported as not computed.
* FT: a k-nearest-neighbours classifier (k = 5; k = 1 when facet *a* has at most 9 rows, as
  Clarify does) is fitted on facet *a*'s ``features`` and predicted labels, then predicts
  facet *d*; ``FT = (#(ŷ=1, knn=0) − #(ŷ=0, knn=1)) / n_d``. Without features it is reported
  as not computed.
* GE: generalized entropy with α = 2 over ``b_i = ŷ_i − y_i + 1``; undefined (left out of
  the interval) in a resample where every row is a false negative.

Bootstrap: every metric is a function of the counts in the cells stratum × flip × facet ×
label × prediction (GE of the counts of b ∈ {0, 1, 2}, which are label × prediction cells).
A resample of the n rows is therefore a multinomial draw of n over the cells with the
observed proportions: ``rng.multinomial(n, p, size=n_bootstrap)`` draws all resamples at
once and each metric is computed for all of them with array arithmetic, so the cost does not
grow with n. The flip-test indicator of each row is computed once on the data as given and
resampled with its cell (the k-NN is not refitted per resample), so FT's interval reflects
sampling of rows, not refitting. A resample in which a facet is empty leaves every facet
metric undefined (NaN); undefined resamples are left out of the interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped]

from gxpml.errors import InvalidInput
from gxpml.validation.estimate import Estimate, json_number, percentile_interval

__all__ = [
    "ALL_METRICS",
    "POST_TRAINING_METRICS",
    "PRE_TRAINING_METRICS",
    "TE_DEFINITION",
    "BiasMetric",
    "BiasReport",
    "FacetBias",
    "bias_report",
    "group_metrics_table",
]

FloatArray = npt.NDArray[np.float64]
Stage = Literal["pre-training", "post-training"]

TE_DEFINITION = "FN_d/FP_d - FN_a/FP_a (as Clarify's code computes it)"
FT_NEIGHBORS = 5
# Clarify falls back to one neighbour when facet a is this small (FT_SAMPLES_COUNT_THRESHOLD).
FT_SMALL_FACET = 9
MAX_FACET_VALUES = 100
# Bootstrap resamples are evaluated in chunks of at most this many cells (~16 MB of counts).
_CHUNK_CELLS = 2_000_000


@dataclass(frozen=True)
class _Spec:
    title: str
    description: str
    stage: Stage
    value_range: str
    ideal: float


_SPECS: dict[str, _Spec] = {
    "CI": _Spec("Class Imbalance",
                "Relative difference in facet sizes: (n_a - n_d) / (n_a + n_d).",
                "pre-training", "[-1, 1]", 0.0),
    "DPL": _Spec("Difference in Proportions of Labels",
                 "Positive-label rate of facet a minus that of facet d: q_a - q_d.",
                 "pre-training", "[-1, 1]", 0.0),
    "KL": _Spec("Kullback-Leibler Divergence",
                "Divergence of facet a's label distribution from facet d's: "
                "sum_y P_a(y) log(P_a(y)/P_d(y)).",
                "pre-training", "[0, +inf)", 0.0),
    "JS": _Spec("Jensen-Shannon Divergence",
                "Symmetric divergence of the facets' label distributions: "
                "(KL(P_a||P) + KL(P_d||P)) / 2, P = (P_a + P_d) / 2.",
                "pre-training", "[0, ln 2]", 0.0),
    "LP": _Spec("Lp-Norm",
                "L2 distance between the facets' label distributions.",
                "pre-training", "[0, sqrt(2)]", 0.0),
    "TVD": _Spec("Total Variation Distance",
                 "Half the L1 distance between the facets' label distributions.",
                 "pre-training", "[0, 1]", 0.0),
    "KS": _Spec("Kolmogorov-Smirnov Distance",
                "Largest difference between the facets' label distributions: "
                "max_y |P_a(y) - P_d(y)|.",
                "pre-training", "[0, 1]", 0.0),
    "CDDL": _Spec("Conditional Demographic Disparity in Labels",
                  "Stratum-size weighted mean of n_d(0)/n(0) - n_d(1)/n(1) over the group "
                  "strata, on the labels.",
                  "pre-training", "[-1, 1]", 0.0),
    "DPPL": _Spec("Difference in Positive Proportions in Predicted Labels",
                  "Predicted-positive rate of facet a minus that of facet d: q'_a - q'_d.",
                  "post-training", "[-1, 1]", 0.0),
    "DI": _Spec("Disparate Impact",
                "Ratio of predicted-positive rates: q'_d / q'_a.",
                "post-training", "[0, +inf)", 1.0),
    "DCA": _Spec("Difference in Conditional Acceptance",
                 "Observed over predicted positives, facet a minus facet d: "
                 "n_a(1)/n'_a(1) - n_d(1)/n'_d(1).",
                 "post-training", "(-inf, +inf)", 0.0),
    "DCR": _Spec("Difference in Conditional Rejection",
                 "Observed over predicted negatives, facet d minus facet a: "
                 "n_d(0)/n'_d(0) - n_a(0)/n'_a(0).",
                 "post-training", "(-inf, +inf)", 0.0),
    "DAR": _Spec("Difference in Acceptance Rates",
                 "Precision of facet a minus that of facet d: TP_a/n'_a(1) - TP_d/n'_d(1).",
                 "post-training", "[-1, 1]", 0.0),
    "DRR": _Spec("Difference in Rejection Rates",
                 "Negative predictive value of facet d minus that of facet a: "
                 "TN_d/n'_d(0) - TN_a/n'_a(0).",
                 "post-training", "[-1, 1]", 0.0),
    "RD": _Spec("Recall Difference",
                "Recall of facet a minus that of facet d.",
                "post-training", "[-1, 1]", 0.0),
    "SD": _Spec("Specificity Difference",
                "Specificity of facet d minus that of facet a.",
                "post-training", "[-1, 1]", 0.0),
    "AD": _Spec("Accuracy Difference",
                "Accuracy of facet a minus that of facet d.",
                "post-training", "[-1, 1]", 0.0),
    "TE": _Spec("Treatment Equality",
                "Difference in false-negative to false-positive ratios: "
                "FN_d/FP_d - FN_a/FP_a.",
                "post-training", "(-inf, +inf)", 0.0),
    "CDDPL": _Spec("Conditional Demographic Disparity in Predicted Labels",
                   "Stratum-size weighted mean of n'_d(0)/n'(0) - n'_d(1)/n'(1) over the "
                   "group strata, on the predictions.",
                   "post-training", "[-1, 1]", 0.0),
    "FT": _Spec("Flip Test",
                "Net share of facet d rows whose prediction differs from that of their "
                "k nearest facet-a neighbours: (flips to positive - flips to negative) / n_d.",
                "post-training", "[-1, 1]", 0.0),
    "GE": _Spec("Generalized Entropy",
                "Generalized entropy index (alpha = 2) of the benefits b = y_hat - y + 1.",
                "post-training", "[0, +inf)", 0.0),
}

PRE_TRAINING_METRICS: tuple[str, ...] = tuple(
    name for name, spec in _SPECS.items() if spec.stage == "pre-training")
POST_TRAINING_METRICS: tuple[str, ...] = tuple(
    name for name, spec in _SPECS.items() if spec.stage == "post-training")
ALL_METRICS: tuple[str, ...] = PRE_TRAINING_METRICS + POST_TRAINING_METRICS


# -- results ------------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    """A facet or label value as JSON: numpy scalars unwrapped, anything exotic as text."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return json_number(value)
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


@dataclass(frozen=True)
class BiasMetric:
    """One Clarify bias metric for one facet: its estimate, or why it was not computed."""

    name: str
    title: str
    description: str
    stage: Stage
    value_range: str
    ideal: float
    estimate: Estimate | None
    reason: str | None = None

    @property
    def computed(self) -> bool:
        return self.estimate is not None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "description": self.description,
                "stage": self.stage, "range": self.value_range, "ideal": self.ideal,
                "computed": self.computed,
                "estimate": None if self.estimate is None else self.estimate.to_dict(),
                "reason": self.reason}


@dataclass(frozen=True)
class FacetBias:
    """The metrics for one split of the facet column into d (sensitive) and a (the rest)."""

    facet: str
    sensitive: str
    values: tuple[Any, ...] | None
    threshold: float | None
    n_a: int
    n_d: int
    metrics: tuple[BiasMetric, ...]

    def metric(self, name: str) -> BiasMetric:
        """The metric called ``name`` (a Clarify abbreviation such as ``"DI"``)."""
        for metric in self.metrics:
            if metric.name == name:
                return metric
        raise InvalidInput(
            f"No bias metric {name!r} in this result; it has: "
            f"{', '.join(m.name for m in self.metrics)}.")

    def to_dict(self) -> dict[str, Any]:
        return {"facet": self.facet, "sensitive": self.sensitive,
                "values": None if self.values is None else [_json_value(v) for v in self.values],
                "threshold": json_number(self.threshold), "n_a": self.n_a, "n_d": self.n_d,
                "metrics": [m.to_dict() for m in self.metrics]}


@dataclass(frozen=True)
class BiasReport:
    """Bias metrics for one label and facet column, one :class:`FacetBias` per facet split."""

    label: str
    positive: tuple[Any, ...]
    facet: str
    predicted: str | None
    group: str | None
    n_rows: int
    n_bootstrap: int
    level: float
    seed: int
    te_definition: str
    facets: tuple[FacetBias, ...]

    def metric(self, name: str, index: int = 0) -> BiasMetric:
        """The metric called ``name`` of facet split ``index`` (the first by default)."""
        return self.facets[index].metric(name)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "positive": [_json_value(v) for v in self.positive],
                "facet": self.facet, "predicted": self.predicted, "group": self.group,
                "n_rows": self.n_rows, "n_bootstrap": self.n_bootstrap, "level": self.level,
                "seed": self.seed, "te_definition": self.te_definition,
                "facets": [f.to_dict() for f in self.facets]}


# -- the metrics, on cell counts ------------------------------------------------------------
#
# Counts have shape (B, S, 3, 2, 2, 2): resample, stratum, flip (0 none, 1 to positive,
# 2 to negative), facet (0 = a, 1 = d), label (1 = positive), prediction (1 = positive).


def _divide(num: FloatArray, den: FloatArray) -> FloatArray:
    """Clarify's divide, element-wise: 0/0 → 0, x/0 → ±inf."""
    safe = np.where(den == 0, 1.0, den)
    at_zero = np.where(num == 0, 0.0, np.copysign(np.inf, num))
    return np.where(den == 0, at_zero, num / safe)


def _difference(x: FloatArray, y: FloatArray) -> FloatArray:
    """``x - y``, but 0 when both are +inf (Clarify's rule for differences of ratios)."""
    both_inf = np.isinf(x) & (x == y)
    return np.where(both_inf, 0.0, x - y)


def _ratio_or_zero(num: FloatArray, den: FloatArray) -> FloatArray:
    """``num/den``, 0 where ``den`` is 0 (Clarify's CDD inside a stratum)."""
    return np.where(den == 0, 0.0, num / np.where(den == 0, 1.0, den))


def _kl(p: FloatArray, q: FloatArray) -> FloatArray:
    """KL(p‖q) over the last axis, with 0·log(0/q) = 0 and p·log(p/0) = +inf."""
    safe_q = np.where(q == 0, 1.0, q)
    safe_p = np.where(p == 0, 1.0, p)
    terms = np.where(p == 0, 0.0, np.where(q == 0, np.inf, p * np.log(safe_p / safe_q)))
    result: FloatArray = terms.sum(axis=-1)
    return result


class _Cells:
    """Derived counts of a batch of cell-count tables, shared by the metric functions."""

    def __init__(self, counts: FloatArray) -> None:
        self.counts = counts
        n = counts.sum(axis=(1, 2))  # (B, facet, label, prediction)
        self.tn = n[:, :, 0, 0]
        self.fp = n[:, :, 0, 1]
        self.fn = n[:, :, 1, 0]
        self.tp = n[:, :, 1, 1]
        self.size = n.sum(axis=(2, 3))  # (B, facet)
        self.pos = self.tp + self.fn
        self.neg = self.tn + self.fp
        self.pred_pos = self.tp + self.fp
        self.pred_neg = self.tn + self.fn
        self.total = self.size.sum(axis=1)

    def rate(self, count: FloatArray) -> FloatArray:
        result: FloatArray = count / np.where(self.size == 0, 1.0, self.size)
        return result

    def label_distributions(self) -> tuple[FloatArray, FloatArray]:
        """P_a and P_d over (negative, positive), each of shape (B, 2)."""
        q = self.rate(self.pos)
        dist = np.stack([1.0 - q, q], axis=-1)
        return dist[:, 0], dist[:, 1]


def _ci(c: _Cells) -> FloatArray:
    na, nd = c.size[:, 0], c.size[:, 1]
    result: FloatArray = (na - nd) / (na + nd)
    return result


def _dpl(c: _Cells) -> FloatArray:
    q = c.rate(c.pos)
    result: FloatArray = q[:, 0] - q[:, 1]
    return result


def _kl_metric(c: _Cells) -> FloatArray:
    pa, pd_ = c.label_distributions()
    return _kl(pa, pd_)


def _js(c: _Cells) -> FloatArray:
    pa, pd_ = c.label_distributions()
    mid = (pa + pd_) / 2.0
    result: FloatArray = 0.5 * (_kl(pa, mid) + _kl(pd_, mid))
    return result


def _lp(c: _Cells) -> FloatArray:
    pa, pd_ = c.label_distributions()
    result: FloatArray = np.sqrt(((pa - pd_) ** 2).sum(axis=-1))
    return result


def _tvd(c: _Cells) -> FloatArray:
    pa, pd_ = c.label_distributions()
    result: FloatArray = 0.5 * np.abs(pa - pd_).sum(axis=-1)
    return result


def _ks(c: _Cells) -> FloatArray:
    pa, pd_ = c.label_distributions()
    result: FloatArray = np.abs(pa - pd_).max(axis=-1)
    return result


def _cdd(c: _Cells, axis: int) -> FloatArray:
    """Conditional demographic disparity on the labels (``axis=-1`` sums predictions out)
    or on the predictions (``axis=-2`` sums labels out)."""
    outcome = c.counts.sum(axis=2).sum(axis=axis)  # (B, S, facet, outcome)
    per_stratum_neg = outcome[..., 0].sum(axis=-1)
    per_stratum_pos = outcome[..., 1].sum(axis=-1)
    rejected = _ratio_or_zero(outcome[:, :, 1, 0], per_stratum_neg)
    accepted = _ratio_or_zero(outcome[:, :, 1, 1], per_stratum_pos)
    stratum_size = per_stratum_neg + per_stratum_pos
    weighted: FloatArray = (stratum_size * (rejected - accepted)).sum(axis=1) / c.total
    single_class = (per_stratum_neg.sum(axis=1) == 0) | (per_stratum_pos.sum(axis=1) == 0)
    result: FloatArray = np.where(single_class, np.nan, weighted)
    return result


def _cddl(c: _Cells) -> FloatArray:
    return _cdd(c, axis=-1)


def _cddpl(c: _Cells) -> FloatArray:
    return _cdd(c, axis=-2)


def _dppl(c: _Cells) -> FloatArray:
    q = c.rate(c.pred_pos)
    result: FloatArray = q[:, 0] - q[:, 1]
    return result


def _di(c: _Cells) -> FloatArray:
    q = c.rate(c.pred_pos)
    return _divide(q[:, 1], q[:, 0])


def _dca(c: _Cells) -> FloatArray:
    ratio = _divide(c.pos, c.pred_pos)
    return _difference(ratio[:, 0], ratio[:, 1])


def _dcr(c: _Cells) -> FloatArray:
    ratio = _divide(c.neg, c.pred_neg)
    return _difference(ratio[:, 1], ratio[:, 0])


def _dar(c: _Cells) -> FloatArray:
    ratio = _divide(c.tp, c.pred_pos)
    return _difference(ratio[:, 0], ratio[:, 1])


def _drr(c: _Cells) -> FloatArray:
    ratio = _divide(c.tn, c.pred_neg)
    return _difference(ratio[:, 1], ratio[:, 0])


def _rd(c: _Cells) -> FloatArray:
    ratio = _divide(c.tp, c.pos)
    return _difference(ratio[:, 0], ratio[:, 1])


def _sd(c: _Cells) -> FloatArray:
    ratio = _divide(c.tn, c.neg)
    return _difference(ratio[:, 1], ratio[:, 0])


def _ad(c: _Cells) -> FloatArray:
    ratio = _divide(c.tp + c.tn, c.size)
    return _difference(ratio[:, 0], ratio[:, 1])


def _te(c: _Cells) -> FloatArray:
    ratio = _divide(c.fn, c.fp)
    return _difference(ratio[:, 1], ratio[:, 0])


def _ft(c: _Cells) -> FloatArray:
    flips_d = c.counts[:, :, :, 1].sum(axis=(1, 3, 4))  # (B, flip)
    return _divide(flips_d[:, 1] - flips_d[:, 2], c.size[:, 1])


def _ge(c: _Cells) -> FloatArray:
    n = c.total
    ones = (c.tn + c.tp).sum(axis=1)  # b = 1: correct
    twos = c.fp.sum(axis=1)  # b = 2: false positive (b = 0, false negative, adds nothing)
    mean = (ones + 2.0 * twos) / n
    safe_mean = np.where(mean == 0, 1.0, mean)
    value = ((ones + 4.0 * twos) / safe_mean**2 - n) / (2.0 * n)
    result: FloatArray = np.where(mean == 0, np.nan, value)
    return result


_FUNCTIONS: dict[str, Callable[[_Cells], FloatArray]] = {
    "CI": _ci, "DPL": _dpl, "KL": _kl_metric, "JS": _js, "LP": _lp, "TVD": _tvd, "KS": _ks,
    "CDDL": _cddl, "DPPL": _dppl, "DI": _di, "DCA": _dca, "DCR": _dcr, "DAR": _dar,
    "DRR": _drr, "RD": _rd, "SD": _sd, "AD": _ad, "TE": _te, "CDDPL": _cddpl, "FT": _ft,
    "GE": _ge,
}
# GE does not look at the facet, so a resample with an empty facet leaves it defined.
_FACET_FREE = frozenset({"GE"})


def _evaluate(names: Sequence[str], counts: FloatArray) -> dict[str, FloatArray]:
    """Every metric in ``names`` for each table in ``counts`` (shape (B, S, 3, 2, 2, 2))."""
    with np.errstate(all="ignore"):
        cells = _Cells(counts)
        empty = (cells.size == 0).any(axis=1)
        values: dict[str, FloatArray] = {}
        for name in names:
            value = np.asarray(_FUNCTIONS[name](cells), dtype=float)
            if name not in _FACET_FREE:
                value = np.where(empty, np.nan, value)
            values[name] = value
    return values


def _interval(samples: FloatArray, level: float) -> tuple[float, float]:
    """``percentile_interval``, robust to resamples at ±inf (Clarify's x/0): interpolating
    between two infinities gives NaN, so those bounds are read off the nearest order statistic."""
    with np.errstate(invalid="ignore"):
        low, high = percentile_interval(samples, level)
    finite = samples[~np.isnan(samples)]
    if finite.size and (math.isnan(low) or math.isnan(high)):
        alpha = (1.0 - level) / 2.0
        near_low, near_high = np.quantile(finite, [alpha, 1.0 - alpha], method="nearest")
        low = float(near_low) if math.isnan(low) else low
        high = float(near_high) if math.isnan(high) else high
    return low, high


# -- inputs -------------------------------------------------------------------------------


def _as_values(value: Any) -> tuple[Any, ...]:
    """One value or a sequence of values, as a tuple."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray, pd.Index,
                                                                  pd.Series, set, frozenset)):
        return (value,)
    return tuple(value)


def _column(data: pd.DataFrame | None, value: Any, role: str) -> tuple[pd.Series, str]:
    """A column of ``data`` named ``value``, or ``value`` itself as a series; and its name."""
    if isinstance(value, str):
        if data is None:
            raise InvalidInput(
                f"{role} is given as the column name {value!r} but no data frame was given: "
                f"pass the frame as data=..., or pass {role} as an array.")
        if value not in data.columns:
            present = ", ".join(map(str, data.columns))
            raise InvalidInput(
                f"The {role} column {value!r} is not in the data; its columns are: {present}. "
                f"Pass one of them as {role}=....")
        return data[value].reset_index(drop=True), value
    if isinstance(value, pd.Series):
        name = str(value.name) if value.name is not None else role
        return value.reset_index(drop=True), name
    array = np.asarray(value)
    if array.ndim != 1:
        raise InvalidInput(
            f"{role} must be a column name or a one-dimensional array; got an array of shape "
            f"{array.shape}.")
    return pd.Series(array), role


def _check_no_missing(series: pd.Series, name: str, role: str) -> None:
    missing = series.isna().to_numpy()
    if missing.any():
        rows = ", ".join(str(i) for i in np.flatnonzero(missing)[:5])
        raise InvalidInput(
            f"The {role} column {name!r} has {int(missing.sum())} missing value(s) (NaN/None), "
            f"e.g. at row(s) {rows}; bias metrics need a value on every row: drop or impute "
            f"those rows first.")


def _show(values: Sequence[Any], limit: int = 20) -> str:
    shown = ", ".join(repr(_json_value(v)) for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def _features(data: pd.DataFrame | None, features: Any, facet_name: str,
              n_rows: int) -> npt.NDArray[np.float64]:
    if isinstance(features, str) or (
            isinstance(features, Sequence) and features and all(isinstance(f, str) for f in features)):
        names = [features] if isinstance(features, str) else list(features)
        if data is None:
            raise InvalidInput(
                "features are given as column names but no data frame was given: pass the "
                "frame as data=..., or pass features as a 2-D array.")
        absent = [f for f in names if f not in data.columns]
        if absent:
            raise InvalidInput(
                f"Feature column(s) {', '.join(map(repr, absent))} are not in the data; its "
                f"columns are: {', '.join(map(str, data.columns))}.")
        if facet_name in names:
            raise InvalidInput(
                f"features include the facet column {facet_name!r}; the flip test compares "
                f"the facets on the other features, so leave it out.")
        raw: Any = data[names]
    else:
        raw = features
    try:
        matrix = np.asarray(raw, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            "features must be numeric (the flip test measures distances between rows); "
            "encode categorical features as numbers first.") from exc
    if matrix.ndim == 1:
        matrix = matrix.reshape(-1, 1)
    if matrix.ndim != 2:
        raise InvalidInput(f"features must be a 2-D array; got shape {matrix.shape}.")
    if matrix.shape[0] != n_rows:
        raise InvalidInput(
            f"features have {matrix.shape[0]} rows but the label has {n_rows}; pass one "
            f"feature row per label.")
    if np.isnan(matrix).any():
        raise InvalidInput(
            "features contain missing values (NaN); the flip test needs a value in every "
            "feature: drop or impute them first.")
    return matrix


@dataclass(frozen=True)
class _Split:
    """One facet split: which rows are facet d, and how to describe it."""

    d: npt.NDArray[np.bool_]
    sensitive: str
    values: tuple[Any, ...] | None
    threshold: float | None


def _splits(facet: pd.Series, facet_name: str, facet_values: Any, threshold: float | None,
            per_value: bool) -> list[_Split]:
    splits: list[_Split] = []
    unique = list(pd.unique(facet))
    if threshold is not None:
        if facet_values is not None:
            raise InvalidInput(
                "Give either facet_values (a categorical facet) or threshold (a continuous "
                "facet), not both.")
        if per_value:
            raise InvalidInput(
                "per_value=True reports each facet value against the rest; it does not apply "
                "to a continuous facet split at a threshold.")
        if not pd.api.types.is_numeric_dtype(facet) or pd.api.types.is_bool_dtype(facet):
            raise InvalidInput(
                f"threshold needs a numeric facet, but column {facet_name!r} has dtype "
                f"{facet.dtype}; pass facet_values=... for a categorical facet.")
        d = (facet > threshold).to_numpy(dtype=bool)
        splits.append(_Split(d, f"{facet_name} > {threshold}", None, float(threshold)))
    elif facet_values is not None:
        values = _as_values(facet_values)
        if not values:
            raise InvalidInput("facet_values is empty; give the sensitive facet value(s).")
        absent = [v for v in values if not (facet == v).any()]
        if absent:
            raise InvalidInput(
                f"Facet value(s) {_show(absent)} are not present in column {facet_name!r}; "
                f"its values are: {_show(unique)}.")
        d = facet.isin(values).to_numpy(dtype=bool)
        splits.append(_Split(d, f"{facet_name} in [{_show(values)}]", values, None))
    else:
        per_value = True
    if per_value:
        if len(unique) > MAX_FACET_VALUES:
            raise InvalidInput(
                f"Facet column {facet_name!r} has {len(unique)} distinct values, too many to "
                f"report each against the rest (at most {MAX_FACET_VALUES}); give "
                f"facet_values=... or, for a continuous facet, threshold=....")
        for value in sorted(unique, key=lambda v: (str(type(v)), str(v))):
            d = (facet == value).to_numpy(dtype=bool)
            splits.append(_Split(d, f"{facet_name} == {_json_value(value)!r}", (value,), None))
    for split in splits:
        n_d = int(split.d.sum())
        if n_d == 0:
            raise InvalidInput(
                f"Facet d ({split.sensitive}) is empty: no row matches. Choose a threshold "
                f"below the facet's maximum or values present in the column.")
        if n_d == split.d.size:
            raise InvalidInput(
                f"Facet a (the rows not in {split.sensitive}) is empty: every row is in facet "
                f"d, so there is nothing to compare with. Choose fewer facet values or a "
                f"higher threshold.")
    return splits


def _flip_codes(features: npt.NDArray[np.float64], d: npt.NDArray[np.bool_],
                predicted: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """Per row: 1 if facet d's prediction is positive and its facet-a neighbours' is not,
    2 for the reverse, 0 otherwise (and on every facet-a row)."""
    from sklearn.neighbors import KNeighborsClassifier

    a = ~d
    k = FT_NEIGHBORS if int(a.sum()) > FT_SMALL_FACET else 1
    knn = KNeighborsClassifier(n_neighbors=k)
    knn.fit(features[a], predicted[a])
    as_if_a = np.asarray(knn.predict(features[d]), dtype=bool)
    model = predicted[d]
    codes = np.zeros(d.size, dtype=np.int64)
    codes[np.flatnonzero(d)] = np.where(model & ~as_if_a, 1, np.where(~model & as_if_a, 2, 0))
    return codes


# -- the entry point ------------------------------------------------------------------------


def bias_report(
    data: pd.DataFrame | None = None,
    *,
    label: Any,
    facet: Any,
    positive: Any,
    facet_values: Any = None,
    threshold: float | None = None,
    predicted: Any = None,
    group: Any = None,
    features: Any = None,
    per_value: bool = False,
    metrics: Sequence[str] | None = None,
    n_bootstrap: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> BiasReport:
    """Clarify's bias metrics for ``facet`` and ``label``, each with a bootstrap interval.

    ``label``, ``facet``, ``predicted`` and ``group`` are column names of ``data`` or arrays;
    ``features`` is a list of column names or a 2-D numeric array (for FT only). ``positive``
    is the positive label value or values (labels and predictions alike). Facet d is the rows
    whose facet is in ``facet_values``, or above ``threshold`` for a continuous facet; with
    neither, each facet value is reported against the rest (Clarify's default), and
    ``per_value=True`` adds those reports after the chosen split. Pre-training metrics only
    when ``predicted`` is None; ``metrics`` picks a subset by Clarify name. TE is
    :data:`TE_DEFINITION`. ``n_bootstrap=0`` gives point values only; the same ``seed`` gives
    the same intervals. See the module docstring for the conventions.
    """
    if data is not None and not isinstance(data, pd.DataFrame):
        raise InvalidInput(
            f"data must be a pandas DataFrame or None (then pass arrays); got "
            f"{type(data).__name__}.")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 0:
        raise InvalidInput(f"n_bootstrap must be an integer >= 0; got {n_bootstrap!r}.")
    if not 0.0 < level < 1.0:
        raise InvalidInput(f"level must be between 0 and 1 (e.g. 0.95); got {level!r}.")

    label_s, label_name = _column(data, label, "label")
    facet_s, facet_name = _column(data, facet, "facet")
    n = len(label_s)
    named = [(label_s, label_name, "label"), (facet_s, facet_name, "facet")]
    pred_s: pd.Series | None = None
    pred_name: str | None = None
    if predicted is not None:
        pred_s, pred_name = _column(data, predicted, "predicted")
        named.append((pred_s, pred_name, "predicted"))
    group_s: pd.Series | None = None
    group_name: str | None = None
    if group is not None:
        group_s, group_name = _column(data, group, "group")
        named.append((group_s, group_name, "group"))
    for series, name, role in named:
        if len(series) != n:
            raise InvalidInput(
                f"Length mismatch: the {role} {name!r} has {len(series)} rows but the label "
                f"{label_name!r} has {n}; pass one value per row for each.")
        _check_no_missing(series, name, role)
    if n == 0:
        raise InvalidInput("The data has no rows; bias metrics need labelled rows.")

    names = _selected_metrics(metrics, pred_s is not None)

    positives = _as_values(positive)
    if not positives:
        raise InvalidInput("positive is empty; give the positive label value(s).")
    y = label_s.isin(positives).to_numpy(dtype=bool)
    if not y.any():
        if label_s.nunique() == 1:
            raise InvalidInput(
                f"The label {label_name!r} has a single class: every row is "
                f"{_show(list(pd.unique(label_s)))}, none of them positive ([{_show(positives)}"
                f"]). Bias metrics compare outcome rates between facets, so the label needs "
                f"positive and negative rows.")
        raise InvalidInput(
            f"No label value is positive: the label {label_name!r} has values "
            f"{_show(list(pd.unique(label_s)))}, none of them in positive="
            f"[{_show(positives)}]. Pass the positive value(s) as they appear in the label.")
    if y.all():
        raise InvalidInput(
            f"The label {label_name!r} has a single class: all {n} rows are positive "
            f"([{_show(positives)}]). Bias metrics compare outcome rates between facets, so "
            f"the label needs positive and negative rows; check positive=....")
    yhat = (np.zeros(n, dtype=bool) if pred_s is None
            else pred_s.isin(positives).to_numpy(dtype=bool))

    if group_s is not None:
        strata_codes, strata = pd.factorize(group_s, sort=True)
        strata_codes = strata_codes.astype(np.int64)
        n_strata = len(strata)
    else:
        strata_codes, n_strata = np.zeros(n, dtype=np.int64), 1

    feature_matrix = (None if features is None or pred_s is None or "FT" not in names
                      else _features(data, features, facet_name, n))

    splits = _splits(facet_s, facet_name, facet_values, threshold, per_value)
    # Each row's cell without the flip and facet digits, which depend on the split.
    base = strata_codes * 24 + y.astype(np.int64) * 2 + yhat.astype(np.int64)
    reasons = _reasons(group_s is not None, feature_matrix is not None, yhat)
    seeds = np.random.SeedSequence(seed).spawn(len(splits))
    results = []
    for split, split_seed in zip(splits, seeds, strict=True):
        flips = (np.zeros(n, dtype=np.int64) if feature_matrix is None
                 else _flip_codes(feature_matrix, split.d, yhat))
        cells = base + flips * 8 + split.d.astype(np.int64) * 4
        counts = np.bincount(cells, minlength=24 * n_strata).astype(float)
        metric_results = _metric_results(names, counts, n_strata, reasons, n_bootstrap, level,
                                          split_seed)
        n_d = int(split.d.sum())
        results.append(FacetBias(facet_name, split.sensitive, split.values, split.threshold,
                                 n - n_d, n_d, metric_results))

    return BiasReport(label_name, positives, facet_name, pred_name, group_name, n, n_bootstrap,
                      level, seed, TE_DEFINITION, tuple(results))


def _metric_results(names: Sequence[str], counts: FloatArray, n_strata: int,
                    reasons: dict[str, str], n_bootstrap: int, level: float,
                    seed: np.random.SeedSequence) -> tuple[BiasMetric, ...]:
    """Each metric's point value on ``counts`` and its bootstrap interval, or its reason."""
    point = _evaluate(names, counts.reshape(1, n_strata, 3, 2, 2, 2))
    samples = _bootstrap(names, counts, n_strata, n_bootstrap, seed) if n_bootstrap else {}
    results = []
    for name in names:
        spec = _SPECS[name]
        value = float(point[name][0])
        reason = reasons.get(name)
        if reason is None and math.isnan(value):
            reason = "undefined on this data"
        estimate: Estimate | None = None
        if reason is None:
            if n_bootstrap:
                low, high = _interval(samples[name], level)
                estimate = Estimate(value, low, high, level)
            else:
                estimate = Estimate(value)
        results.append(BiasMetric(name, spec.title, spec.description, spec.stage,
                                  spec.value_range, spec.ideal, estimate, reason))
    return tuple(results)


def _bootstrap(names: Sequence[str], counts: FloatArray, n_strata: int, n_bootstrap: int,
               seed: np.random.SeedSequence) -> dict[str, FloatArray]:
    """Each metric on ``n_bootstrap`` multinomial resamples of the cell counts. Resamples are
    drawn and evaluated in chunks so that many strata do not need one huge array."""
    rng = np.random.default_rng(seed)
    n = int(counts.sum())
    observed = np.flatnonzero(counts)
    proportions = counts[observed] / n
    chunk = max(1, _CHUNK_CELLS // counts.size)
    parts: dict[str, list[FloatArray]] = {name: [] for name in names}
    for start in range(0, n_bootstrap, chunk):
        size = min(chunk, n_bootstrap - start)
        resampled = np.zeros((size, counts.size))
        resampled[:, observed] = rng.multinomial(n, proportions, size=size)
        values = _evaluate(names, resampled.reshape(size, n_strata, 3, 2, 2, 2))
        for name in names:
            parts[name].append(values[name])
    return {name: np.concatenate(parts[name]) for name in names}


def _selected_metrics(metrics: Sequence[str] | None, has_predictions: bool) -> list[str]:
    if metrics is None:
        return list(ALL_METRICS if has_predictions else PRE_TRAINING_METRICS)
    chosen = [metrics] if isinstance(metrics, str) else list(metrics)
    unknown = [m for m in chosen if m not in _SPECS]
    if unknown:
        raise InvalidInput(
            f"Unknown bias metric(s) {', '.join(map(repr, unknown))}; the metrics are: "
            f"{', '.join(ALL_METRICS)}.")
    post = [m for m in chosen if _SPECS[m].stage == "post-training"]
    if post and not has_predictions:
        raise InvalidInput(
            f"{', '.join(post)} are post-training metrics and need the model's predictions: "
            f"pass predicted=....")
    return [m for m in ALL_METRICS if m in chosen]


def _reasons(has_group: bool, has_features: bool,
             yhat: npt.NDArray[np.bool_]) -> dict[str, str]:
    """Why a metric cannot be computed on this data, before looking at its value."""
    reasons: dict[str, str] = {}
    if not has_group:
        why = "needs a group variable (strata): pass group=..."
        reasons["CDDL"] = why
        reasons["CDDPL"] = why
    elif yhat.all() or not yhat.any():
        reasons["CDDPL"] = ("undefined: the predictions have a single class, so n'(0) or "
                            "n'(1) is 0")
    if not has_features:
        reasons["FT"] = "needs the feature matrix (k-NN on facet a): pass features=..."
    return reasons


# -- fairlearn group metrics ----------------------------------------------------------------


def group_metrics_table(
    data: pd.DataFrame | None = None,
    *,
    label: Any,
    predicted: Any,
    facet: Any,
    positive: Any,
) -> pd.DataFrame:
    """Per facet value: count, selection rate, accuracy, precision, recall, FPR, FNR and
    specificity (fairlearn ``MetricFrame``), then rows ``overall``, ``difference`` (largest
    minus smallest group value) and ``ratio`` (smallest over largest).

    A plain table: the first column ``group`` holds the facet value as text or the row name,
    the second ``kind`` is ``group``, ``overall``, ``difference`` or ``ratio``. Labels and
    predictions are collapsed to positive (a value in ``positive``) against the rest.
    """
    from fairlearn.metrics import (  # type: ignore[import-untyped]
        MetricFrame,
        count,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_negative_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, precision_score

    label_s, label_name = _column(data, label, "label")
    pred_s, pred_name = _column(data, predicted, "predicted")
    facet_s, facet_name = _column(data, facet, "facet")
    for series, name, role in ((label_s, label_name, "label"), (pred_s, pred_name, "predicted"),
                               (facet_s, facet_name, "facet")):
        if len(series) != len(label_s):
            raise InvalidInput(
                f"Length mismatch: the {role} {name!r} has {len(series)} rows but the label "
                f"{label_name!r} has {len(label_s)}; pass one value per row for each.")
        _check_no_missing(series, name, role)
    positives = _as_values(positive)
    y = label_s.isin(positives).to_numpy(dtype=int)
    yhat = pred_s.isin(positives).to_numpy(dtype=int)

    def precision(y_true: Any, y_pred: Any) -> float:
        return float(precision_score(y_true, y_pred, zero_division=0))

    columns: dict[str, Callable[..., Any]] = {
        "count": count, "selection_rate": selection_rate, "accuracy": accuracy_score,
        "precision": precision, "recall": true_positive_rate,
        "false_positive_rate": false_positive_rate, "false_negative_rate": false_negative_rate,
        "specificity": true_negative_rate,
    }
    frame = MetricFrame(metrics=columns, y_true=y, y_pred=yhat,
                        sensitive_features=facet_s.rename(facet_name))
    by_group = frame.by_group
    rows: list[dict[str, Any]] = []
    for value, row in by_group.iterrows():
        rows.append({"group": str(value), "kind": "group",
                     **{name: float(row[name]) for name in columns}})
    for kind, series in (("overall", frame.overall), ("difference", frame.difference()),
                         ("ratio", frame.ratio())):
        rows.append({"group": kind, "kind": kind,
                     **{name: float(series[name]) for name in columns}})
    return pd.DataFrame(rows, columns=["group", "kind", *columns])
