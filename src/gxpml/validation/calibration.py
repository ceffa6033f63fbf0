"""Calibration: expected calibration error, reliability-diagram data, and two calibrators.

ECE follows Guo et al. (2017) as REFERENCE.md §5 states it::

    ECE = Σ_m (|B_m| / n) · |acc(B_m) − conf(B_m)|

over ``M`` equal-width bins of the *top-label* confidence (the probability of the predicted
class; for a binary model that is ``max(p, 1 − p)``). Bin ``m`` (1-based) holds confidences in
``((m−1)/M, m/M]``; the first bin also holds an exact 0.

The calibrators wrap an already fitted classifier and learn only the mapping from its scores to
probabilities, on held-out data:

* :class:`TemperatureScaling` — one scalar ``T`` fitted by NLL; ``softmax(z / T)``. Dividing all
  logits by the same positive ``T`` keeps their order, so predictions (and accuracy) never change.
* :class:`IsotonicCalibration` — scikit-learn's ``CalibratedClassifierCV`` over a
  ``FrozenEstimator`` (one-vs-rest isotonic regression, renormalised).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize_scalar  # type: ignore[import-untyped]
from scipy.special import log_softmax, softmax  # type: ignore[import-untyped]
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_is_fitted

from gxpml.errors import InvalidInput
from gxpml.validation.estimate import json_number

__all__ = [
    "CalibrationReport",
    "IsotonicCalibration",
    "PositiveRateBin",
    "ReliabilityBin",
    "TemperatureScaling",
    "expected_calibration_error",
    "positive_class_reliability",
    "reliability_diagram",
]

FloatArray = npt.NDArray[np.float64]

DEFAULT_BINS = 15


# --------------------------------------------------------------------------- result types


@dataclass(frozen=True)
class ReliabilityBin:
    """One bar of a reliability diagram: rows whose top-label confidence fell in ``(lower, upper]``.

    ``mean_confidence`` and ``accuracy`` are ``None`` for an empty bin (nothing to plot).
    """

    lower: float
    upper: float
    count: int
    mean_confidence: float | None
    accuracy: float | None

    @property
    def gap(self) -> float:
        """``|accuracy − mean_confidence|``, 0 for an empty bin."""
        if self.accuracy is None or self.mean_confidence is None:
            return 0.0
        return abs(self.accuracy - self.mean_confidence)

    def to_dict(self) -> dict[str, Any]:
        return {"lower": self.lower, "upper": self.upper, "count": self.count,
                "mean_confidence": json_number(self.mean_confidence),
                "accuracy": json_number(self.accuracy)}


@dataclass(frozen=True)
class CalibrationReport:
    """ECE, MCE and the reliability-diagram bins they were computed from."""

    ece: float
    mce: float
    n_bins: int
    n_samples: int
    accuracy: float
    mean_confidence: float
    bins: tuple[ReliabilityBin, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"ece": json_number(self.ece), "mce": json_number(self.mce),
                "n_bins": self.n_bins, "n_samples": self.n_samples,
                "accuracy": json_number(self.accuracy),
                "mean_confidence": json_number(self.mean_confidence),
                "bins": [b.to_dict() for b in self.bins]}


@dataclass(frozen=True)
class PositiveRateBin:
    """One point of a binary reliability curve: rows with P(positive) in ``(lower, upper]``."""

    lower: float
    upper: float
    count: int
    mean_predicted: float | None
    fraction_positive: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"lower": self.lower, "upper": self.upper, "count": self.count,
                "mean_predicted": json_number(self.mean_predicted),
                "fraction_positive": json_number(self.fraction_positive)}


# --------------------------------------------------------------------------- input checks


def _check_fraction(name: str, value: float) -> None:
    if not (0.0 < value < 1.0):
        raise InvalidInput(f"{name} must be strictly between 0 and 1, got {value!r}.")


def _check_n_bins(n_bins: int) -> None:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise InvalidInput(f"n_bins must be a positive integer, got {n_bins!r}; the default is "
                           f"{DEFAULT_BINS} (Guo et al. 2017).")


def _as_features(X: Any, name: str = "X") -> Any:
    """``X`` unchanged (estimators take DataFrames), after refusing NaN / inf in numeric data."""
    try:
        values = np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        return X  # non-numeric columns: the estimator's own pipeline judges them
    if values.ndim == 0 or values.shape[0] == 0:
        raise InvalidInput(f"{name} is empty; pass at least one row.")
    if not np.all(np.isfinite(values)):
        bad = int(np.sum(~np.isfinite(values)))
        raise InvalidInput(f"{name} contains {bad} NaN or infinite value(s); impute or drop "
                           "those rows before calling.")
    return X


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value, so messages show ``'a'`` not ``np.str_('a')``."""
    return value.item() if isinstance(value, np.generic) else value


def _n_rows(X: Any) -> int:
    return int(X.shape[0]) if hasattr(X, "shape") else len(X)


def _check_lengths(**arrays: int) -> None:
    lengths = set(arrays.values())
    if len(lengths) > 1:
        shown = ", ".join(f"{k} has {v}" for k, v in arrays.items())
        raise InvalidInput(f"Inputs must have one row per sample, but {shown} rows; pass "
                           "matching arrays.")


def _check_fitted(estimator: Any, role: str = "estimator") -> None:
    try:
        check_is_fitted(estimator)
    except NotFittedError as exc:
        raise InvalidInput(f"The {role} {type(estimator).__name__} is not fitted; fit it on "
                           "training data first, then calibrate it on held-out data.") from exc
    except TypeError as exc:
        raise InvalidInput(f"The {role} {type(estimator).__name__} is not a scikit-learn "
                           "estimator; wrap it so it has fit/predict.") from exc


def _labels(y: Any, *, min_classes: int = 2, name: str = "y") -> npt.NDArray[Any]:
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise InvalidInput(f"{name} must be one label per row (1-D), got shape {labels.shape}.")
    if labels.size == 0:
        raise InvalidInput(f"{name} is empty; pass at least one labelled row.")
    if labels.dtype.kind == "f" and np.isnan(labels).any():
        raise InvalidInput(f"{name} contains NaN labels; drop those rows first.")
    if min_classes > 1 and np.unique(labels).size < min_classes:
        raise InvalidInput(f"{name} holds a single class ({_plain(labels[0])!r}); calibration "
                           "needs held-out rows of at least two classes.")
    return labels


def _probabilities(proba: Any) -> FloatArray:
    p = np.asarray(proba, dtype=float)
    if p.ndim == 1:  # binary: P(positive class)
        p = np.column_stack([1.0 - p, p])
    if p.ndim != 2 or p.shape[1] < 2:
        raise InvalidInput(f"proba must be (n_rows, n_classes) with at least two columns, or "
                           f"1-D P(positive) for a binary model; got shape {p.shape}.")
    if not np.all(np.isfinite(p)):
        raise InvalidInput("proba contains NaN or infinite values; check the model's output.")
    if (p < 0).any() or (p > 1).any():
        raise InvalidInput("proba has values outside [0, 1]; pass probabilities (predict_proba), "
                           "not scores.")
    return p


def _label_index(labels: npt.NDArray[Any], classes: Any, n_columns: int) -> npt.NDArray[np.intp]:
    cls = np.arange(n_columns) if classes is None else np.asarray(classes)
    if cls.size != n_columns:
        raise InvalidInput(f"classes has {cls.size} entries but proba has {n_columns} columns; "
                           "pass the model's classes_.")
    order = np.argsort(cls, kind="stable")
    pos = np.searchsorted(cls[order], labels)
    pos = np.clip(pos, 0, cls.size - 1)
    found = cls[order][pos] == labels
    if not found.all():
        missing = _plain(labels[~found][0])
        raise InvalidInput(f"Label {missing!r} is not one of the classes {cls.tolist()}; pass "
                           "classes=model.classes_ (the order of proba's columns).")
    return np.asarray(order[pos], dtype=np.intp)


def _bin_index(values: FloatArray, n_bins: int) -> npt.NDArray[np.intp]:
    # Edges are i/M exactly (not linspace), so a confidence of 0.6 lands in (0.4, 0.6].
    inner = np.arange(1, n_bins) / n_bins
    return np.asarray(np.searchsorted(inner, values, side="left"), dtype=np.intp)


# --------------------------------------------------------------------------- ECE


def reliability_diagram(y_true: Any, proba: Any, *, n_bins: int = DEFAULT_BINS,
                        classes: Any = None) -> CalibrationReport:
    """Top-label reliability bins and the ECE / MCE they give.

    ``proba`` is ``(n, k)`` with columns in the order of ``classes`` (default ``0..k-1``; pass
    ``model.classes_``), or 1-D P(positive) for a binary model. ``y_true`` holds labels.
    """
    _check_n_bins(n_bins)
    p = _probabilities(proba)
    labels = _labels(y_true, min_classes=1, name="y_true")
    _check_lengths(y_true=labels.size, proba=p.shape[0])
    truth = _label_index(labels, classes, p.shape[1])
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == truth).astype(float)
    which = _bin_index(confidence, n_bins)
    n = labels.size
    bins: list[ReliabilityBin] = []
    ece = 0.0
    mce = 0.0
    for m in range(n_bins):
        members = which == m
        count = int(members.sum())
        if count == 0:
            bins.append(ReliabilityBin(m / n_bins, (m + 1) / n_bins, 0, None, None))
            continue
        conf = float(confidence[members].mean())
        acc = float(correct[members].mean())
        bins.append(ReliabilityBin(m / n_bins, (m + 1) / n_bins, count, conf, acc))
        ece += count / n * abs(acc - conf)
        mce = max(mce, abs(acc - conf))
    return CalibrationReport(ece=ece, mce=mce, n_bins=n_bins, n_samples=n,
                             accuracy=float(correct.mean()),
                             mean_confidence=float(confidence.mean()), bins=tuple(bins))


def expected_calibration_error(y_true: Any, proba: Any, *, n_bins: int = DEFAULT_BINS,
                               classes: Any = None) -> float:
    """ECE over ``n_bins`` equal-width top-label confidence bins (REFERENCE.md §5)."""
    return reliability_diagram(y_true, proba, n_bins=n_bins, classes=classes).ece


def positive_class_reliability(y_true: Any, proba_positive: Any, *, n_bins: int = 10,
                               positive_label: Any = 1) -> tuple[PositiveRateBin, ...]:
    """The binary reliability curve: per bin of P(positive), the observed positive rate.

    Like scikit-learn's ``calibration_curve(strategy="uniform")`` but keeping empty bins and
    counts, so a plot can show where the data are thin.
    """
    _check_n_bins(n_bins)
    p = np.asarray(proba_positive, dtype=float)
    if p.ndim != 1:
        raise InvalidInput(f"proba_positive must be 1-D P(positive), got shape {p.shape}; pass "
                           "predict_proba(X)[:, 1].")
    if not np.all(np.isfinite(p)) or (p < 0).any() or (p > 1).any():
        raise InvalidInput("proba_positive must be probabilities in [0, 1] without NaN.")
    labels = _labels(y_true, min_classes=1, name="y_true")
    _check_lengths(y_true=labels.size, proba_positive=p.size)
    positive = (labels == positive_label).astype(float)
    which = _bin_index(p, n_bins)
    out: list[PositiveRateBin] = []
    for m in range(n_bins):
        members = which == m
        count = int(members.sum())
        out.append(PositiveRateBin(
            m / n_bins, (m + 1) / n_bins, count,
            float(p[members].mean()) if count else None,
            float(positive[members].mean()) if count else None))
    return tuple(out)


# --------------------------------------------------------------------------- calibrators


def _logits(estimator: Any, X: Any, source: str) -> FloatArray:
    if source == "decision_function":
        z = np.asarray(estimator.decision_function(X), dtype=float)
        if z.ndim == 1:  # binary: softmax([0, z]) == sigmoid(z)
            z = np.column_stack([np.zeros_like(z), z])
        return z
    proba = np.asarray(estimator.predict_proba(X), dtype=float)
    # log of a probability is a logit up to a per-row constant, which softmax ignores.
    return np.asarray(np.log(np.clip(proba, 1e-12, 1.0)), dtype=float)


class TemperatureScaling(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Temperature scaling of a fitted classifier (Guo et al. 2017).

    ``fit(X, y)`` takes *held-out* rows and fits one scalar ``temperature_`` by minimising the
    negative log-likelihood of ``softmax(z / T)``; ``z`` is ``decision_function(X)`` or
    ``log(predict_proba(X))`` (``logits="auto"`` prefers the decision function). ``T > 1``
    softens an over-confident model; predictions never change.
    """

    def __init__(self, estimator: Any, *, logits: Literal["auto", "decision_function",
                                                          "predict_proba"] = "auto",
                 bounds: tuple[float, float] = (0.05, 50.0)) -> None:
        self.estimator = estimator
        self.logits = logits
        self.bounds = bounds

    def _source(self) -> str:
        has_df = hasattr(self.estimator, "decision_function")
        has_pp = hasattr(self.estimator, "predict_proba")
        if self.logits not in ("auto", "decision_function", "predict_proba"):
            raise InvalidInput(f"logits must be 'auto', 'decision_function' or 'predict_proba', "
                               f"got {self.logits!r}.")
        if self.logits == "decision_function" and not has_df:
            raise InvalidInput(f"{type(self.estimator).__name__} has no decision_function; use "
                               "logits='predict_proba' or 'auto'.")
        if self.logits == "predict_proba" and not has_pp:
            raise InvalidInput(f"{type(self.estimator).__name__} has no predict_proba; use "
                               "logits='decision_function' or 'auto'.")
        if not (has_df or has_pp):
            raise InvalidInput(f"{type(self.estimator).__name__} has no predict_proba or "
                               "decision_function; temperature scaling needs class scores.")
        if self.logits == "auto":
            return "decision_function" if has_df else "predict_proba"
        return str(self.logits)

    def fit(self, X: Any, y: Any) -> TemperatureScaling:
        """Fit ``temperature_`` on held-out ``X``, ``y`` (not the model's training rows)."""
        low, high = self.bounds
        if not (0 < low < high):
            raise InvalidInput(f"bounds must be 0 < low < high, got {self.bounds!r}.")
        _check_fitted(self.estimator)
        source = self._source()
        X = _as_features(X)
        labels = _labels(y)
        _check_lengths(X=_n_rows(X), y=labels.size)
        classes = np.asarray(self.estimator.classes_)
        z = _logits(self.estimator, X, source)
        truth = _label_index(labels, classes, z.shape[1])
        rows = np.arange(labels.size)

        def nll(log_t: float) -> float:
            return float(-log_softmax(z / math.exp(log_t), axis=1)[rows, truth].mean())

        # Search log T: NLL is smooth and unimodal in it over the useful range.
        found = minimize_scalar(nll, bounds=(math.log(low), math.log(high)), method="bounded",
                                options={"xatol": 1e-6})
        self.temperature_ = float(math.exp(found.x))
        self.nll_before_ = nll(0.0)
        self.nll_after_ = float(found.fun)
        self.classes_ = classes
        self.logit_source_ = source
        if hasattr(self.estimator, "n_features_in_"):
            self.n_features_in_ = self.estimator.n_features_in_
        return self

    def predict_proba(self, X: Any) -> FloatArray:
        """``softmax(z / temperature_)``, columns in the order of ``classes_``."""
        check_is_fitted(self, "temperature_")
        z = _logits(self.estimator, _as_features(X), self.logit_source_)
        return np.asarray(softmax(z / self.temperature_, axis=1), dtype=float)

    def predict(self, X: Any) -> npt.NDArray[Any]:
        """The class of the largest logit: the wrapped model's ranking, so accuracy is unchanged."""
        check_is_fitted(self, "temperature_")
        z = _logits(self.estimator, _as_features(X), self.logit_source_)
        return np.asarray(self.classes_[z.argmax(axis=1)])


class IsotonicCalibration(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Isotonic calibration of a fitted classifier on held-out data.

    A thin wrapper over ``CalibratedClassifierCV(FrozenEstimator(estimator),
    method="isotonic")``: the wrapped model is never refitted. Multi-class is one-vs-rest and
    renormalised, so unlike temperature scaling the predicted class can change.
    """

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def fit(self, X: Any, y: Any) -> IsotonicCalibration:
        """Fit the isotonic maps on held-out ``X``, ``y``."""
        _check_fitted(self.estimator)
        if not (hasattr(self.estimator, "predict_proba")
                or hasattr(self.estimator, "decision_function")):
            raise InvalidInput(f"{type(self.estimator).__name__} has no predict_proba or "
                               "decision_function; isotonic calibration needs class scores.")
        X = _as_features(X)
        labels = _labels(y)
        _check_lengths(X=_n_rows(X), y=labels.size)
        unknown = np.setdiff1d(np.unique(labels), np.asarray(self.estimator.classes_))
        if unknown.size:
            raise InvalidInput(f"y holds label(s) {unknown.tolist()} the model never saw; "
                               f"its classes are {np.asarray(self.estimator.classes_).tolist()}.")
        self.calibrator_ = CalibratedClassifierCV(FrozenEstimator(self.estimator),
                                                  method="isotonic").fit(X, labels)
        self.classes_ = np.asarray(self.calibrator_.classes_)
        if hasattr(self.estimator, "n_features_in_"):
            self.n_features_in_ = self.estimator.n_features_in_
        return self

    def predict_proba(self, X: Any) -> FloatArray:
        """Calibrated probabilities, columns in the order of ``classes_``."""
        check_is_fitted(self, "calibrator_")
        return np.asarray(self.calibrator_.predict_proba(_as_features(X)), dtype=float)

    def predict(self, X: Any) -> npt.NDArray[Any]:
        """The class with the largest calibrated probability."""
        check_is_fitted(self, "calibrator_")
        return np.asarray(self.calibrator_.predict(_as_features(X)))
