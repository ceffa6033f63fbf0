"""Evaluation of a model's predictions: metrics with bootstrap intervals, a best-constant
baseline, subgroups, curves, and the paired comparison of two models on the same rows.

Pure functions over arrays (no workspace, no I/O). The metric set is SageMaker Model
Monitor's (REFERENCE.md §6)::

    regression   mae mse rmse r2
    binary       accuracy precision recall tpr tnr fpr fnr f0_5 f1 f2
                 roc_auc pr_auc log_loss brier          (the last four need scores)
    multiclass   accuracy precision_weighted recall_weighted f1_weighted
                 precision_macro recall_macro f1_macro
                 log_loss                               (needs class probabilities)

plus the confusion matrix of every classifier. Conventions, chosen once:

* Binary: the classes are ``labels`` (default: the sorted values seen in ``y_true`` and
  ``y_pred``); the positive class is the second, and a 1-D ``y_score`` is its probability,
  as scikit-learn's ``predict_proba(X)[:, 1]``. Without ``y_pred`` a row is predicted
  positive when its score is above ``threshold`` (0.5), as ``predict`` does.
* A binary ratio whose denominator is zero (precision with no positive prediction, recall
  with no positive label, AUC with one class) is undefined: NaN, never a silent 0. The
  multiclass averages count such a class as 0, as scikit-learn's ``zero_division=0``.
* The baseline is the best constant on the evaluated data itself, as Model Monitor reports:
  the mean (mse, rmse, r2) or median (mae) of ``y_true``; the majority class (first in
  ``labels`` on a tie) and the class priors as probabilities.
* Intervals are percentile bootstrap intervals (rows resampled with replacement, seeded by
  ``seed``); each resample is a row of counts, so every metric is computed as a weighted
  metric of the original rows and the whole bootstrap is a few matrix operations.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped]

from gxpml.errors import InvalidInput
from gxpml.validation.estimate import Estimate, json_number, percentile_interval

__all__ = [
    "METRICS",
    "PROBLEMS",
    "CalibrationCurve",
    "Comparison",
    "ConfusionMatrix",
    "Curves",
    "Evaluation",
    "MetricComparison",
    "MetricInfo",
    "PrCurve",
    "Predictions",
    "Problem",
    "RocCurve",
    "SubgroupRow",
    "compare",
    "evaluate",
    "infer_problem",
    "metric_names",
    "predictions_of",
]

Problem = Literal["binary", "multiclass", "regression"]
PROBLEMS: tuple[Problem, ...] = ("binary", "multiclass", "regression")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

# An integer label with more distinct values than this is taken for a regression target.
_MAX_INFERRED_CLASSES = 20
# Resample counts are built in chunks of at most this many cells (rows x resamples).
_CHUNK_CELLS = 2_000_000
_MAX_CURVE_POINTS = 200
_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class MetricInfo:
    """What a metric measures, for which problems, and which way is better."""

    name: str
    higher_is_better: bool
    problems: tuple[Problem, ...]
    needs_scores: bool
    description: str

    @property
    def direction(self) -> str:
        return "higher" if self.higher_is_better else "lower"


def _info(name: str, higher: bool, problems: str, scores: bool, text: str) -> MetricInfo:
    return MetricInfo(name, higher, cast(tuple[Problem, ...], tuple(problems.split())), scores, text)


METRICS: Mapping[str, MetricInfo] = {m.name: m for m in (
    _info("mae", False, "regression", False, "mean absolute error"),
    _info("mse", False, "regression", False, "mean squared error"),
    _info("rmse", False, "regression", False, "root mean squared error"),
    _info("r2", True, "regression", False, "coefficient of determination"),
    _info("accuracy", True, "binary multiclass", False, "share of rows predicted right"),
    _info("precision", True, "binary", False, "tp / (tp + fp)"),
    _info("recall", True, "binary", False, "tp / (tp + fn), the same as tpr"),
    _info("tpr", True, "binary", False, "true positive rate, tp / (tp + fn)"),
    _info("tnr", True, "binary", False, "true negative rate, tn / (tn + fp)"),
    _info("fpr", False, "binary", False, "false positive rate, fp / (fp + tn)"),
    _info("fnr", False, "binary", False, "false negative rate, fn / (fn + tp)"),
    _info("f0_5", True, "binary", False, "F-beta with beta 0.5 (precision weighs more)"),
    _info("f1", True, "binary", False, "F-beta with beta 1"),
    _info("f2", True, "binary", False, "F-beta with beta 2 (recall weighs more)"),
    _info("roc_auc", True, "binary", True, "area under the ROC curve"),
    _info("pr_auc", True, "binary", True, "average precision (area under the PR curve)"),
    _info("log_loss", False, "binary multiclass", True, "mean negative log-likelihood"),
    _info("brier", False, "binary", True, "mean squared error of the probability"),
    _info("precision_weighted", True, "multiclass", False, "precision per class, weighted by support"),
    _info("recall_weighted", True, "multiclass", False, "recall per class, weighted by support"),
    _info("f1_weighted", True, "multiclass", False, "F1 per class, weighted by support"),
    _info("precision_macro", True, "multiclass", False, "precision per class, unweighted mean"),
    _info("recall_macro", True, "multiclass", False, "recall per class, unweighted mean"),
    _info("f1_macro", True, "multiclass", False, "F1 per class, unweighted mean"),
)}


def metric_names(problem: Problem | None = None, *, scores: bool = True) -> tuple[str, ...]:
    """The metric names for ``problem`` (all when None); without ``scores`` only label metrics."""
    return tuple(m.name for m in METRICS.values()
                 if (problem is None or problem in m.problems) and (scores or not m.needs_scores))


# ---------------------------------------------------------------------------------------------
# Result types


def _plain(value: Any) -> Any:
    """A label as a JSON-safe plain value."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return json_number(value)
    return str(value)


def _floats(values: Sequence[float]) -> list[float | str | None]:
    return [json_number(v) for v in values]


@dataclass(frozen=True)
class ConfusionMatrix:
    """Counts with true labels as rows and predicted labels as columns, in ``labels`` order."""

    labels: tuple[Any, ...]
    matrix: tuple[tuple[int, ...], ...]

    def _binary(self, true: int, pred: int) -> int:
        if len(self.labels) != 2:
            raise InvalidInput("tp, fp, tn and fn exist for a binary problem only; read .matrix.")
        return self.matrix[true][pred]

    @property
    def tp(self) -> int:
        return self._binary(1, 1)

    @property
    def fp(self) -> int:
        return self._binary(0, 1)

    @property
    def tn(self) -> int:
        return self._binary(0, 0)

    @property
    def fn(self) -> int:
        return self._binary(1, 0)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"labels": [_plain(v) for v in self.labels],
                               "matrix": [list(row) for row in self.matrix]}
        if len(self.labels) == 2:
            out.update(tp=self.tp, fp=self.fp, tn=self.tn, fn=self.fn)
        return out


@dataclass(frozen=True)
class RocCurve:
    """ROC points from the highest threshold down (the first threshold is +inf)."""

    fpr: tuple[float, ...]
    tpr: tuple[float, ...]
    thresholds: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"fpr": _floats(self.fpr), "tpr": _floats(self.tpr),
                "thresholds": _floats(self.thresholds)}


@dataclass(frozen=True)
class PrCurve:
    """Precision-recall points from the highest threshold down (recall rising)."""

    precision: tuple[float, ...]
    recall: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"precision": _floats(self.precision), "recall": _floats(self.recall)}


@dataclass(frozen=True)
class CalibrationCurve:
    """Per non-empty equal-width bin of the score ((0, 0.1], (0.1, 0.2], ... with 0 in the
    first): mean score, observed positive share, rows."""

    mean_predicted: tuple[float, ...]
    observed: tuple[float, ...]
    count: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"mean_predicted": _floats(self.mean_predicted), "observed": _floats(self.observed),
                "count": list(self.count)}


@dataclass(frozen=True)
class Curves:
    """The curves of a binary classifier with scores, as plain data for plotting."""

    roc: RocCurve
    pr: PrCurve
    calibration: CalibrationCurve

    def to_dict(self) -> dict[str, Any]:
        return {"roc": self.roc.to_dict(), "pr": self.pr.to_dict(),
                "calibration": self.calibration.to_dict()}


@dataclass(frozen=True)
class SubgroupRow:
    """The metrics on the rows where ``column`` equals ``value``; ``small`` when n < the minimum."""

    column: str
    value: str
    n: int
    prevalence: float | None
    small: bool
    metrics: Mapping[str, Estimate]

    @property
    def key(self) -> str:
        """``column=value``, as acceptance criteria name a subgroup."""
        return f"{self.column}={self.value}"

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "value": self.value, "subgroup": self.key, "n": self.n,
                "prevalence": json_number(self.prevalence), "small": self.small,
                "metrics": {k: v.to_dict() for k, v in self.metrics.items()}}


@dataclass(frozen=True)
class Evaluation:
    """The result of :func:`evaluate`."""

    problem: Problem
    n: int
    labels: tuple[Any, ...] | None
    metrics: Mapping[str, Estimate]
    baseline: Mapping[str, Estimate]
    confusion: ConfusionMatrix | None
    curves: Curves | None
    subgroups: tuple[SubgroupRow, ...]
    n_bootstrap: int
    level: float
    seed: int

    def lookup(self, split: str) -> dict[tuple[str, str | None, str], Estimate]:
        """Every estimate keyed ``(split, subgroup or None, metric)``, as criteria judge them."""
        out: dict[tuple[str, str | None, str], Estimate] = {
            (split, None, name): est for name, est in self.metrics.items()}
        for row in self.subgroups:
            out.update({(split, row.key, name): est for name, est in row.metrics.items()})
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "problem": self.problem, "n": self.n,
            "labels": None if self.labels is None else [_plain(v) for v in self.labels],
            "metrics": {k: v.to_dict() for k, v in self.metrics.items()},
            "baseline": {k: v.to_dict() for k, v in self.baseline.items()},
            "confusion": None if self.confusion is None else self.confusion.to_dict(),
            "curves": None if self.curves is None else self.curves.to_dict(),
            "subgroups": [row.to_dict() for row in self.subgroups],
            "bootstrap": {"n": self.n_bootstrap, "level": self.level, "seed": self.seed},
        }


@dataclass(frozen=True)
class MetricComparison:
    """Candidate − baseline for one metric, with the non-inferiority verdict at ``margin``."""

    metric: str
    higher_is_better: bool
    candidate: Estimate
    baseline: Estimate
    difference: Estimate
    margin: float
    non_inferior: bool
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "direction": "higher" if self.higher_is_better else "lower",
                "candidate": self.candidate.to_dict(), "baseline": self.baseline.to_dict(),
                "difference": self.difference.to_dict(), "margin": json_number(self.margin),
                "non_inferior": self.non_inferior, "sentence": self.sentence}


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare`: one :class:`MetricComparison` per metric."""

    problem: Problem
    n: int
    metrics: Mapping[str, MetricComparison]
    n_bootstrap: int
    level: float
    seed: int

    @property
    def non_inferior(self) -> bool:
        """True when the candidate is non-inferior on every compared metric."""
        return all(m.non_inferior for m in self.metrics.values())

    def to_dict(self) -> dict[str, Any]:
        return {"problem": self.problem, "n": self.n, "non_inferior": self.non_inferior,
                "metrics": {k: v.to_dict() for k, v in self.metrics.items()},
                "bootstrap": {"n": self.n_bootstrap, "level": self.level, "seed": self.seed}}


@dataclass(frozen=True, eq=False)
class Predictions:
    """A model's predictions on some rows: labels or values, and class probabilities.

    ``labels`` are the classes in the column order of ``y_score`` (a 1-D binary score is the
    probability of ``labels[1]``).
    """

    y_pred: npt.NDArray[Any] | None = None
    y_score: npt.NDArray[Any] | None = None
    labels: tuple[Any, ...] | None = None

    def as_kwargs(self) -> dict[str, Any]:
        """``evaluate(y, **predictions.as_kwargs())``."""
        return {"y_pred": self.y_pred, "y_score": self.y_score, "labels": self.labels}


# ---------------------------------------------------------------------------------------------
# Input checks


def _array(values: Any, name: str) -> npt.NDArray[Any]:
    if values is None:
        raise InvalidInput(f"{name} is missing.")
    arr = np.asarray(values)
    if arr.ndim == 0:
        raise InvalidInput(f"{name} must be an array of values, got a single {type(values).__name__}.")
    return arr


def _vector(values: Any, name: str, n: int | None) -> npt.NDArray[Any]:
    arr = _array(values, name)
    if arr.ndim != 1:
        raise InvalidInput(f"{name} must be one-dimensional, got shape {arr.shape}; "
                           "pass one value per row.")
    _check_length(arr, name, n)
    _check_missing(arr, name)
    return arr


def _check_length(arr: npt.NDArray[Any], name: str, n: int | None) -> None:
    if n is not None and arr.shape[0] != n:
        raise InvalidInput(f"{name} has {arr.shape[0]} rows but y_true has {n}; "
                           "pass predictions for the same rows as the labels.")


def _check_missing(arr: npt.NDArray[Any], name: str) -> None:
    missing = np.asarray(pd.isna(arr))
    if missing.any():
        rows = np.flatnonzero(missing.reshape(arr.shape[0], -1).any(axis=1))
        shown = ", ".join(str(int(r)) for r in rows[:5]) + (", ..." if rows.size > 5 else "")
        raise InvalidInput(f"{name} has {rows.size} missing value(s) (NaN) at rows {shown}; "
                           "drop those rows or fill them before evaluating.")


def _numeric(arr: npt.NDArray[Any], name: str) -> FloatArray:
    try:
        out = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be numeric for a regression; got values such as "
                           f"{arr[0]!r}. Pass problem='binary' or 'multiclass' for labels.") from None
    if not np.isfinite(out).all():
        raise InvalidInput(f"{name} has infinite values; pass finite numbers.")
    return out


def _sorted_unique(arrays: Sequence[npt.NDArray[Any]]) -> tuple[Any, ...]:
    values = pd.unique(np.concatenate([a.astype(object) for a in arrays]))
    try:
        return tuple(sorted(values))
    except TypeError:
        raise InvalidInput("The labels mix kinds of values (e.g. numbers and text): "
                           f"{list(values)[:6]!r}; use one kind in y_true and y_pred.") from None


def _single_class(value: Any) -> InvalidInput:
    return InvalidInput(f"The label has one class only ({_plain(value)!r}); a classifier cannot be "
                        "evaluated on it. Evaluate on data with both classes.")


def infer_problem(y_true: npt.ArrayLike) -> Problem:
    """``binary``, ``multiclass`` or ``regression`` from the label values.

    Two distinct values make a binary problem; otherwise floats make a regression, integers a
    multiclass problem when there are at most 20 of them (a regression beyond), and text or
    other values a multiclass problem. Pass ``problem=`` to :func:`evaluate` when this guess
    does not fit.
    """
    arr = _vector(y_true, "y_true", None)
    if arr.size == 0:
        raise InvalidInput("y_true is empty; evaluate on at least one row.")
    classes = pd.unique(arr.astype(object))
    if classes.size == 1:
        raise _single_class(classes[0])
    if classes.size == 2:
        return "binary"
    kinds = {"f" if isinstance(v, (float, np.floating)) else
             "i" if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) else
             "o" for v in classes}
    if "f" in kinds and kinds <= {"f", "i"}:
        return "regression"
    if kinds == {"i"} and classes.size > _MAX_INFERRED_CLASSES:
        return "regression"
    return "multiclass"


@dataclass(frozen=True, eq=False)
class _Prepared:
    """Validated inputs: numeric codes for classes, floats for values and scores."""

    problem: Problem
    labels: tuple[Any, ...] | None
    y: npt.NDArray[Any]  # float values (regression) or class codes
    pred: npt.NDArray[Any]
    score: FloatArray | None  # binary: P(labels[1]), (n,); multiclass: (n, k)

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    def subset(self, rows: npt.NDArray[np.bool_]) -> _Prepared:
        return _Prepared(self.problem, self.labels, self.y[rows], self.pred[rows],
                         None if self.score is None else self.score[rows])


def _codes(arr: npt.NDArray[Any], labels: tuple[Any, ...], name: str) -> IntArray:
    codes = pd.Index(list(labels), dtype=object).get_indexer(arr.astype(object))
    if (codes < 0).any():
        unknown = pd.unique(arr[codes < 0].astype(object))[:5]
        raise InvalidInput(f"{name} has values {[_plain(v) for v in unknown]!r} that are not among "
                           f"the labels {[_plain(v) for v in labels]!r}; pass labels= with every class.")
    return np.asarray(codes, dtype=np.intp)


def _scores(values: Any, problem: Problem, labels: tuple[Any, ...], n: int) -> FloatArray:
    arr = _array(values, "y_score")
    _check_length(arr, "y_score", n)
    _check_missing(arr, "y_score")
    try:
        score = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput("y_score must be numeric probabilities.") from None
    k = len(labels)
    if problem == "binary" and score.ndim == 2 and score.shape[1] == 2:
        score = score[:, 1]
    if problem == "binary" and score.ndim != 1:
        raise InvalidInput(f"y_score for a binary problem must be the positive-class probability "
                           f"(one value per row) or predict_proba's two columns; got shape {score.shape}.")
    if problem == "multiclass" and (score.ndim != 2 or score.shape[1] != k):
        raise InvalidInput(
            f"y_score for a multiclass problem must have one column per class ({k}: "
            f"{[_plain(v) for v in labels]!r}), got shape {score.shape}; pass predict_proba's "
            "output, and labels= in its column order (the model's classes_).")
    if score.size and (score.min() < 0.0 or score.max() > 1.0):
        raise InvalidInput(
            f"y_score has values outside [0, 1] (min {score.min():.4g}, max {score.max():.4g}); "
            "pass probabilities (predict_proba), not decision_function scores or logits.")
    if problem == "multiclass":
        sums = score.sum(axis=1)
        bad = np.flatnonzero(np.abs(sums - 1.0) > 1e-3)
        if bad.size:
            raise InvalidInput(f"Each row of y_score must sum to 1 (the class probabilities); "
                               f"row {int(bad[0])} sums to {sums[bad[0]]:.4g}.")
    return score


def _prepare(y_true: Any, y_pred: Any, y_score: Any, labels: Sequence[Any] | None,
             problem: str | None, threshold: float) -> _Prepared:
    y = _vector(y_true, "y_true", None)
    n = int(y.shape[0])
    if n == 0:
        raise InvalidInput("y_true is empty; evaluate on at least one row.")
    if y_pred is None and y_score is None:
        raise InvalidInput("Pass y_pred (predicted labels or values), y_score (probabilities) or both.")
    pred = None if y_pred is None else _vector(y_pred, "y_pred", n)
    if problem is None:
        if labels is not None:
            problem = "binary" if len(labels) == 2 else "multiclass"
        else:
            problem = infer_problem(y)
    if problem not in PROBLEMS:
        raise InvalidInput(f"Unknown problem {problem!r}; use one of {', '.join(PROBLEMS)}.")
    kind: Problem = problem
    if kind == "regression":
        if y_score is not None:
            raise InvalidInput("y_score is for classifiers; pass a regression's predictions as y_pred.")
        if pred is None:
            raise InvalidInput("A regression needs y_pred, the predicted values.")
        return _Prepared(kind, None, _numeric(y, "y_true"), _numeric(pred, "y_pred"), None)
    if labels is None:
        classes = _sorted_unique([y] if pred is None else [y, pred])
    else:
        classes = tuple(_plain(v) if isinstance(v, np.generic) else v for v in labels)
        if len(set(classes)) != len(classes):
            raise InvalidInput(f"labels has duplicates: {list(classes)!r}; list each class once.")
    if kind == "binary" and len(classes) != 2:
        raise InvalidInput(f"A binary problem has two classes; found {len(classes)}: "
                           f"{[_plain(v) for v in classes][:10]!r}. Pass problem='multiclass'.")
    if kind == "multiclass" and len(classes) < 2:
        raise _single_class(classes[0])
    codes = _codes(y, classes, "y_true")
    if np.unique(codes).size < 2:
        raise _single_class(classes[int(codes[0])])
    score = None if y_score is None else _scores(y_score, kind, classes, n)
    if pred is not None:
        pred_codes = _codes(pred, classes, "y_pred")
    elif kind == "binary":
        assert score is not None
        pred_codes = (score > threshold).astype(np.intp)
    else:
        assert score is not None
        pred_codes = np.argmax(score, axis=1).astype(np.intp)
    return _Prepared(kind, classes, codes, pred_codes, score)


# ---------------------------------------------------------------------------------------------
# Metrics on resamples: a chunk of resamples at once, the data as given being a chunk of one


def _ratio(num: npt.NDArray[Any], den: npt.NDArray[Any], empty: float = math.nan) -> FloatArray:
    out = np.full(np.broadcast(num, den).shape, empty)
    np.divide(num, den, out=out, where=den > 0)
    return out


class _Sample:
    """``m`` resamples of ``n`` rows: ``drawn[r]`` are the rows drawn by resample r; without
    ``drawn``, the data as given (one resample that draws every row once)."""

    def __init__(self, n: int, drawn: IntArray | None = None) -> None:
        self.n, self.drawn = n, drawn
        self.m = 1 if drawn is None else int(drawn.shape[0])
        self._weights: FloatArray | None = None

    def counts(self, codes: IntArray, n_codes: int) -> FloatArray:
        """(m, n_codes): how many drawn rows carry each code, one row per resample."""
        if self.drawn is None:
            return np.bincount(codes, minlength=n_codes)[None, :].astype(np.float64)
        shifted = codes[self.drawn] + (np.arange(self.m) * n_codes)[:, None]
        flat = np.bincount(shifted.ravel(), minlength=self.m * n_codes)
        return flat.reshape(self.m, n_codes).astype(np.float64)

    def sums(self, values: FloatArray) -> FloatArray:
        """(m,): the sum of a per-row value over the drawn rows."""
        if self.drawn is None:
            return np.array([values.sum()])
        if self._weights is None:  # times each row was drawn; shared by every sum
            assert self.drawn is not None
            shifted = self.drawn + (np.arange(self.m) * self.n)[:, None]
            flat = np.bincount(shifted.ravel(), minlength=self.m * self.n)
            self._weights = flat.reshape(self.m, self.n).astype(np.float64)
        result: FloatArray = self._weights @ values
        return result


class _Scorer:
    names: tuple[str, ...]

    def __call__(self, sample: _Sample) -> dict[str, FloatArray]:
        raise NotImplementedError


class _RegressionScorer(_Scorer):
    names = ("mae", "mse", "rmse", "r2")

    def __init__(self, y: FloatArray, pred: FloatArray) -> None:
        err = pred - y
        self.abs_err, self.sq_err = np.abs(err), err * err
        centred = y - y.mean()  # r2 is shift-invariant; centring keeps the sums accurate
        self.y, self.y2 = centred, centred * centred

    def __call__(self, sample: _Sample) -> dict[str, FloatArray]:
        n = sample.n
        sse, sy2 = sample.sums(self.sq_err), sample.sums(self.y2)
        sst = sy2 - sample.sums(self.y) ** 2 / n
        mse = sse / n
        return {"mae": sample.sums(self.abs_err) / n, "mse": mse, "rmse": np.sqrt(mse),
                "r2": 1.0 - _ratio(sse, np.where(sst > 1e-12 * sy2, sst, 0.0))}


def _f_beta(tp: FloatArray, fp: FloatArray, fn: FloatArray, beta: float) -> FloatArray:
    b2 = beta * beta
    return _ratio((1 + b2) * tp, (1 + b2) * tp + b2 * fn + fp)


class _BinaryScorer(_Scorer):
    """Every binary metric from counts of rows per (label, distinct score, prediction).

    The combinations are numbered negatives first, then positives, each from the highest
    score down. AUC and average precision are then two cumulative sums per resample: a
    positive beats the negatives scored below it and ties half of those scored the same,
    as scikit-learn counts them.
    """

    def __init__(self, y: IntArray, pred: IntArray, score: FloatArray | None) -> None:
        self.names = metric_names("binary", scores=score is not None)
        rank = np.zeros(y.size, dtype=np.intp)
        if score is not None:
            distinct, inverse = np.unique(-score, return_inverse=True)
            rank = inverse.astype(np.intp)
        n_ranks = int(rank.max()) + 1
        combos, codes = np.unique((y * n_ranks + rank) * 2 + pred, return_inverse=True)
        self.codes, self.n_codes = codes.astype(np.intp), int(combos.size)
        label, group, predicted = combos // (2 * n_ranks), (combos // 2) % n_ranks, combos % 2
        self.n_neg = int(np.sum(label == 0))
        # Per combination: is it a negative, a positive, a false or a true positive, and its
        # log loss and Brier score; one product with the counts gives every total at once.
        columns = [label == 0, label == 1, (label == 0) & (predicted == 1),
                   (label == 1) & (predicted == 1)]
        if score is not None:
            s = -distinct[group]
            p = np.clip(s, _EPS, 1 - _EPS)
            columns += [-np.where(label == 1, np.log(p), np.log1p(-p)), (s - label) ** 2]
        self.totals = np.column_stack(columns).astype(np.float64)
        if score is None:
            return
        neg_group, pos_group = group[: self.n_neg], group[self.n_neg:]
        # For each positive combination: how many negative (positive) combinations score at
        # least as high, and how many negative ones score strictly higher.
        self.neg_upto = np.searchsorted(neg_group, pos_group, side="right")
        neg_above = np.searchsorted(neg_group, pos_group, side="left")
        self.ties = np.flatnonzero(self.neg_upto != neg_above)
        self.neg_above_ties = neg_above[self.ties]
        pos_upto = np.searchsorted(pos_group, pos_group, side="right") - 1
        self.pos_upto = None if np.array_equal(pos_upto, np.arange(pos_group.size)) else pos_upto

    def __call__(self, sample: _Sample) -> dict[str, FloatArray]:
        counts = sample.counts(self.codes, self.n_codes)
        totals = counts @ self.totals
        n_neg, n_pos, fp, tp = totals[:, 0], totals[:, 1], totals[:, 2], totals[:, 3]
        tn, fn = n_neg - fp, n_pos - tp
        total = n_neg + n_pos
        out = {"accuracy": (tp + tn) / total, "precision": _ratio(tp, tp + fp),
               "recall": _ratio(tp, tp + fn), "tpr": _ratio(tp, tp + fn), "tnr": _ratio(tn, tn + fp),
               "fpr": _ratio(fp, fp + tn), "fnr": _ratio(fn, fn + tp),
               "f0_5": _f_beta(tp, fp, fn, 0.5), "f1": _f_beta(tp, fp, fn, 1.0),
               "f2": _f_beta(tp, fp, fn, 2.0)}
        if "roc_auc" in self.names:
            neg, pos = counts[:, : self.n_neg], counts[:, self.n_neg:]
            out.update(self._ranking(neg, pos, n_neg, n_pos))
            out["log_loss"], out["brier"] = totals[:, 4] / total, totals[:, 5] / total
        return out

    def _ranking(self, neg: FloatArray, pos: FloatArray, n_neg: FloatArray,
                 n_pos: FloatArray) -> dict[str, FloatArray]:
        cum_neg = np.zeros((neg.shape[0], neg.shape[1] + 1))
        np.cumsum(neg, axis=1, out=cum_neg[:, 1:])
        neg_upto = cum_neg[:, self.neg_upto]  # negatives scored >= each positive
        beaten = n_pos * n_neg - np.einsum("mg,mg->m", pos, neg_upto)
        if self.ties.size:
            tied = neg_upto[:, self.ties] - cum_neg[:, self.neg_above_ties]
            beaten += 0.5 * np.einsum("mg,mg->m", pos[:, self.ties], tied)
        pos_upto = np.cumsum(pos, axis=1)
        if self.pos_upto is not None:
            pos_upto = pos_upto[:, self.pos_upto]
        precision = pos_upto / np.maximum(pos_upto + neg_upto, 1.0)
        return {"roc_auc": _ratio(beaten, n_pos * n_neg),
                "pr_auc": _ratio(np.einsum("mg,mg->m", pos, precision), n_pos)}


class _MulticlassScorer(_Scorer):
    def __init__(self, y: IntArray, pred: IntArray, score: FloatArray | None, k: int) -> None:
        self.k, self.codes = k, (y * k + pred).astype(np.intp)
        self.names = metric_names("multiclass", scores=score is not None)
        if score is not None:
            p = np.clip(score, _EPS, 1 - _EPS)
            p = p / p.sum(axis=1, keepdims=True)
            self.log_loss = -np.log(p[np.arange(y.size), y])

    def __call__(self, sample: _Sample) -> dict[str, FloatArray]:
        matrix = sample.counts(self.codes, self.k * self.k).reshape(sample.m, self.k, self.k)
        tp = np.diagonal(matrix, axis1=1, axis2=2)
        support, predicted = matrix.sum(axis=2), matrix.sum(axis=1)
        total = support.sum(axis=1)
        precision = _ratio(tp, predicted, empty=0.0)
        recall = _ratio(tp, support, empty=0.0)
        f1 = _ratio(2 * tp, support + predicted, empty=0.0)
        seen = (support + predicted) > 0  # scikit-learn averages over the classes present
        out = {"accuracy": tp.sum(axis=1) / total}
        for name, per_class in (("precision", precision), ("recall", recall), ("f1", f1)):
            out[f"{name}_weighted"] = (per_class * support).sum(axis=1) / total
            out[f"{name}_macro"] = (per_class * seen).sum(axis=1) / seen.sum(axis=1)
        if "log_loss" in self.names:
            out["log_loss"] = sample.sums(self.log_loss) / total
        return out


def _scorer(data: _Prepared) -> _Scorer:
    if data.problem == "regression":
        return _RegressionScorer(data.y, data.pred)
    if data.problem == "binary":
        return _BinaryScorer(data.y, data.pred, data.score)
    assert data.labels is not None
    return _MulticlassScorer(data.y, data.pred, data.score, len(data.labels))


def _point(scorer: _Scorer, n: int) -> dict[str, float]:
    return {name: float(value[0]) for name, value in scorer(_Sample(n)).items()}


def _bootstrap(scorers: Sequence[_Scorer], n: int, n_bootstrap: int,
               rng: np.random.Generator) -> list[dict[str, FloatArray]]:
    """Each scorer's metrics on the same ``n_bootstrap`` resamples (paired when several),
    drawn in chunks to bound memory."""
    chunk = max(1, min(n_bootstrap, _CHUNK_CELLS // n))
    parts: list[list[dict[str, FloatArray]]] = [[] for _ in scorers]
    for start in range(0, n_bootstrap, chunk):
        sample = _Sample(n, rng.integers(0, n, size=(min(chunk, n_bootstrap - start), n)))
        for part, scorer in zip(parts, scorers, strict=True):
            part.append(scorer(sample))
    return [{name: np.concatenate([p[name] for p in part]) for name in scorer.names}
            for part, scorer in zip(parts, scorers, strict=True)]


def _estimates(scorer: _Scorer, n: int, n_bootstrap: int, level: float,
               rng: np.random.Generator) -> dict[str, Estimate]:
    point = _point(scorer, n)
    if n_bootstrap == 0:
        return {name: Estimate(value) for name, value in point.items()}
    samples = _bootstrap([scorer], n, n_bootstrap, rng)[0]
    return {name: Estimate(value, *percentile_interval(samples[name], level), level)
            for name, value in point.items()}


# ---------------------------------------------------------------------------------------------
# Baseline, confusion matrix, curves


def _baseline(data: _Prepared, names: Sequence[str]) -> dict[str, Estimate]:
    n = data.n
    if data.problem == "regression":
        y = data.y.astype(np.float64)
        at_mean = _point(_RegressionScorer(y, np.full(n, y.mean())), n)
        at_median = _point(_RegressionScorer(y, np.full(n, np.median(y))), n)
        values = {**at_mean, "mae": at_median["mae"]}
    else:
        assert data.labels is not None
        k = len(data.labels)
        prior = np.bincount(data.y, minlength=k) / n
        pred = np.full(n, int(np.argmax(prior)), dtype=np.intp)
        has_scores = data.score is not None
        if data.problem == "binary":
            score = np.full(n, prior[1]) if has_scores else None
            values = _point(_BinaryScorer(data.y, pred, score), n)
        else:
            score = np.tile(prior, (n, 1)) if has_scores else None
            values = _point(_MulticlassScorer(data.y, pred, score, k), n)
    return {name: Estimate(values[name]) for name in names}


def _confusion(data: _Prepared) -> ConfusionMatrix:
    assert data.labels is not None
    k = len(data.labels)
    matrix = np.bincount(data.y * k + data.pred, minlength=k * k).reshape(k, k)
    return ConfusionMatrix(data.labels, tuple(tuple(int(c) for c in row) for row in matrix))


def _thin(n_points: int, max_points: int) -> IntArray:
    """At most ``max_points`` indices, evenly spread, keeping the first and the last."""
    if n_points <= max_points:
        return np.arange(n_points)
    return np.unique(np.round(np.linspace(0, n_points - 1, max_points)).astype(np.intp))


def _curves(y: IntArray, score: FloatArray, n_bins: int = 10,
            max_points: int = _MAX_CURVE_POINTS) -> Curves:
    distinct, inverse = np.unique(-score, return_inverse=True)
    positive = y.astype(np.float64)
    pos = np.bincount(inverse, weights=positive, minlength=distinct.size)
    neg = np.bincount(inverse, weights=1.0 - positive, minlength=distinct.size)
    tp, fp = np.cumsum(pos), np.cumsum(neg)
    n_pos, n_neg = tp[-1], fp[-1]
    fpr = np.concatenate([[0.0], _ratio(fp, np.full_like(fp, n_neg))])
    tpr = np.concatenate([[0.0], _ratio(tp, np.full_like(tp, n_pos))])
    thresholds = np.concatenate([[math.inf], -distinct])
    keep = _thin(fpr.size, max_points)
    roc = RocCurve(tuple(fpr[keep].tolist()), tuple(tpr[keep].tolist()),
                   tuple(thresholds[keep].tolist()))
    precision = np.concatenate([[1.0], tp / (tp + fp)])
    recall = np.concatenate([[0.0], _ratio(tp, np.full_like(tp, n_pos))])
    keep = _thin(precision.size, max_points)
    pr = PrCurve(tuple(precision[keep].tolist()), tuple(recall[keep].tolist()))
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], score, side="left")  # (a, b], as Guo et al. and sklearn
    count = np.bincount(bins, minlength=n_bins)
    used = count > 0
    mean = np.bincount(bins, weights=score, minlength=n_bins)[used] / count[used]
    observed = np.bincount(bins, weights=positive, minlength=n_bins)[used] / count[used]
    calibration = CalibrationCurve(tuple(mean.tolist()), tuple(observed.tolist()),
                                   tuple(int(c) for c in count[used]))
    return Curves(roc, pr, calibration)


# ---------------------------------------------------------------------------------------------
# Subgroups


def _group_columns(groups: Any, n: int) -> dict[str, npt.NDArray[Any]]:
    if isinstance(groups, pd.Series):
        if groups.name is None:
            raise InvalidInput("The groups Series has no name; name it (groups.rename('sex')) "
                               "or pass {'sex': values}.")
        groups = {str(groups.name): groups}
    if isinstance(groups, pd.DataFrame):
        groups = {str(c): groups[c] for c in groups.columns}
    if not isinstance(groups, Mapping):
        raise InvalidInput("groups must map a column name to its values, e.g. {'sex': df['sex']}, "
                           f"or be a named Series or a DataFrame; got {type(groups).__name__}.")
    out = {}
    for name, values in groups.items():
        arr = _array(values, f"groups[{name!r}]")
        if arr.ndim != 1:
            raise InvalidInput(f"groups[{name!r}] must be one-dimensional, got shape {arr.shape}.")
        if arr.shape[0] != n:
            raise InvalidInput(f"groups[{name!r}] has {arr.shape[0]} rows but y_true has {n}; "
                               "pass the group of every evaluated row.")
        out[str(name)] = arr
    return out


def _value_text(value: Any) -> str:
    value = _plain(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _subgroups(data: _Prepared, groups: Any, min_size: int, n_bootstrap: int, level: float,
               seed: int) -> tuple[SubgroupRow, ...]:
    rows: list[SubgroupRow] = []
    for column_index, (column, values) in enumerate(_group_columns(groups, data.n).items()):
        missing = np.asarray(pd.isna(values))
        texts = np.array([_value_text(v) for v in values.astype(object)], dtype=object)
        texts[missing] = "<missing>"
        present = pd.unique(texts[~missing])
        try:
            ordered = sorted(pd.unique(values[~missing].astype(object)))
            order = list(dict.fromkeys(_value_text(v) for v in ordered))
        except TypeError:
            order = sorted(present)
        if missing.any():
            order.append("<missing>")
        for value_index, text in enumerate(order):
            part = data.subset(texts == text)
            scorer = _scorer(part)
            rng = np.random.default_rng([seed, column_index + 1, value_index])
            prevalence = float(np.mean(part.y)) if data.problem == "binary" else None
            rows.append(SubgroupRow(column, text, part.n, prevalence, part.n < min_size,
                                    _estimates(scorer, part.n, n_bootstrap, level, rng)))
    return tuple(rows)


# ---------------------------------------------------------------------------------------------
# Entry points


def _check_bootstrap(n_bootstrap: int, level: float, seed: int, minimum: int) -> None:
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, (int, np.integer)) \
            or n_bootstrap < minimum:
        raise InvalidInput(f"n_bootstrap must be an integer >= {minimum}, got {n_bootstrap!r}.")
    if not 0.0 < level < 1.0:
        raise InvalidInput(f"level must be between 0 and 1 (e.g. 0.95), got {level!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidInput(f"seed must be a non-negative integer, got {seed!r}.")


def _check_metrics(names: Sequence[str], problem: Problem, available: Sequence[str]) -> None:
    for name in names:
        if name not in METRICS:
            raise InvalidInput(f"Unknown metric {name!r}. Known metrics: {', '.join(METRICS)}.")
        if problem not in METRICS[name].problems:
            raise InvalidInput(f"Metric {name!r} does not apply to a {problem} problem; use one of "
                               f"{', '.join(metric_names(problem))}.")
        if name not in available:
            raise InvalidInput(f"Metric {name!r} needs scores (class probabilities); "
                               "pass y_score, e.g. from predictions_of(model, X, problem).")


def evaluate(y_true: npt.ArrayLike, *, y_pred: npt.ArrayLike | None = None,
             y_score: npt.ArrayLike | None = None, labels: Sequence[Any] | None = None,
             problem: Problem | None = None, groups: Any = None, min_group_size: int = 30,
             threshold: float = 0.5, n_bootstrap: int = 1000, level: float = 0.95,
             seed: int = 0) -> Evaluation:
    """Every metric that applies, with its bootstrap interval, baseline, curves and subgroups.

    ``groups`` maps a column name to the group of each row (a dict, a DataFrame or a named
    Series); each of its values gets a :class:`SubgroupRow`, flagged ``small`` below
    ``min_group_size`` rows. ``n_bootstrap=0`` gives point values only. The same arguments
    always give the same numbers.
    """
    _check_bootstrap(n_bootstrap, level, seed, 0)
    data = _prepare(y_true, y_pred, y_score, labels, problem, threshold)
    scorer = _scorer(data)
    rng = np.random.default_rng(seed)
    metrics = _estimates(scorer, data.n, n_bootstrap, level, rng)
    classifier = data.problem != "regression"
    curves = None
    if data.problem == "binary" and data.score is not None:
        curves = _curves(data.y, data.score)
    subgroups = () if groups is None else _subgroups(
        data, groups, min_group_size, n_bootstrap, level, seed)
    return Evaluation(
        problem=data.problem, n=data.n, labels=data.labels, metrics=metrics,
        baseline=_baseline(data, scorer.names),
        confusion=_confusion(data) if classifier else None, curves=curves, subgroups=subgroups,
        n_bootstrap=n_bootstrap, level=level, seed=seed)


def _as_predictions(value: Any, name: str) -> Predictions:
    if isinstance(value, Predictions):
        return value
    if value is None:
        raise InvalidInput(f"{name} is missing; pass its Predictions or its predicted labels/values.")
    return Predictions(y_pred=np.asarray(value))


def _margins(margin: float | Mapping[str, float], names: Sequence[str]) -> dict[str, float]:
    if isinstance(margin, Mapping):
        lacking = [n for n in names if n not in margin]
        if lacking:
            raise InvalidInput(f"margin has no value for {', '.join(lacking)}; give one per metric.")
        margins = {n: margin[n] for n in names}
    else:
        margins = dict.fromkeys(names, margin)
    for name, value in margins.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value < 0:
            raise InvalidInput(f"The margin for {name} must be a finite number >= 0, got {value!r}.")
    return {n: float(v) for n, v in margins.items()}


def _verdict(metric: str, higher: bool, diff: Estimate, margin: float) -> tuple[bool, str]:
    ci = f"{diff.level:.0%} CI {diff.lower:.4g} to {diff.upper:.4g}" if diff.level else "no interval"
    head = f"{metric}: candidate − baseline = {diff.point:.4g} ({ci})"
    bound = diff.lower if higher else diff.upper
    if bound is None or math.isnan(bound):
        return False, f"{head}; the interval is undefined, so non-inferiority is not shown"
    if higher:
        ok = bound > -margin
        return ok, (f"{head}; lower bound {bound:.4g} {'>' if ok else '≤'} −{margin:g} "
                    f"(margin): {'non-inferior' if ok else 'not shown non-inferior'}")
    ok = bound < margin
    return ok, (f"{head}; upper bound {bound:.4g} {'<' if ok else '≥'} +{margin:g} "
                f"(margin): {'non-inferior' if ok else 'not shown non-inferior'}")


def compare(y_true: npt.ArrayLike, *, candidate: Predictions | npt.ArrayLike,
            baseline: Predictions | npt.ArrayLike, margin: float | Mapping[str, float] = 0.0,
            metric: str | Sequence[str] | None = None, labels: Sequence[Any] | None = None,
            problem: Problem | None = None, threshold: float = 0.5, n_bootstrap: int = 1000,
            level: float = 0.95, seed: int = 0) -> Comparison:
    """Paired bootstrap of candidate − baseline on the same rows, and non-inferiority at ``margin``.

    ``candidate`` and ``baseline`` are :class:`Predictions` (or arrays of predicted labels or
    values). For a higher-is-better metric the candidate is non-inferior when the lower bound
    of the difference is above −margin; for a loss or error, when the upper bound is below
    +margin. ``metric`` names one or more metrics (default: every metric both can give);
    ``margin`` is one value or one per metric, in the metric's units.
    """
    _check_bootstrap(n_bootstrap, level, seed, 1)
    cand, base = _as_predictions(candidate, "candidate"), _as_predictions(baseline, "baseline")
    y = _vector(y_true, "y_true", None)
    if labels is None:
        labels = cand.labels or base.labels
    if labels is None and problem != "regression" and (problem is not None or
                                                         infer_problem(y) != "regression"):
        labels = _sorted_unique([np.asarray(a) for a in (y, cand.y_pred, base.y_pred)
                                 if a is not None])
    data = [_prepare(y, p.y_pred, p.y_score, labels, problem, threshold) for p in (cand, base)]
    scorers = [_scorer(d) for d in data]
    available = [n for n in scorers[0].names if n in scorers[1].names]
    names = list(available) if metric is None else [metric] if isinstance(metric, str) else list(metric)
    if not names:
        raise InvalidInput("No metric to compare; name one with metric=.")
    _check_metrics(names, data[0].problem, available)
    margins = _margins(margin, names)
    n = data[0].n
    points = [_point(s, n) for s in scorers]
    samples = _bootstrap(scorers, n, n_bootstrap, np.random.default_rng(seed))
    out: dict[str, MetricComparison] = {}
    for name in names:
        higher = METRICS[name].higher_is_better
        ests = [Estimate(p[name], *percentile_interval(s[name], level), level)
                for p, s in zip(points, samples, strict=True)]
        diff = Estimate(ests[0].point - ests[1].point,
                        *percentile_interval(samples[0][name] - samples[1][name], level), level)
        ok, sentence = _verdict(name, higher, diff, margins[name])
        out[name] = MetricComparison(name, higher, ests[0], ests[1], diff, margins[name], ok, sentence)
    return Comparison(data[0].problem, n, out, n_bootstrap, level, seed)


def predictions_of(model: Any, X: Any, problem: Problem, *, scores: bool = True) -> Predictions:
    """A fitted scikit-learn estimator's predictions on ``X``: labels or values, and, for a
    classifier, ``predict_proba`` (unless ``scores=False``) with the classes in column order."""
    from sklearn.exceptions import NotFittedError

    if problem not in PROBLEMS:
        raise InvalidInput(f"Unknown problem {problem!r}; use one of {', '.join(PROBLEMS)}.")
    name = type(model).__name__
    if problem != "regression" and scores and not hasattr(model, "predict_proba"):
        raise InvalidInput(f"{name} has no predict_proba; pass a classifier that gives "
                           "probabilities or evaluate with labels only (scores=False).")
    try:
        y_pred = np.asarray(model.predict(X))
        if problem == "regression" or not scores:
            labels = None if problem == "regression" else tuple(getattr(model, "classes_", ())) or None
            return Predictions(y_pred=y_pred, labels=labels)
        proba = np.asarray(model.predict_proba(X), dtype=np.float64)
    except NotFittedError as exc:
        raise InvalidInput(f"{name} is not fitted; fit it before evaluating it.") from exc
    labels = tuple(_plain(v) for v in model.classes_)
    if problem == "binary":
        if proba.shape[1] != 2:
            raise InvalidInput(f"{name} knows {proba.shape[1]} classes; a binary problem needs two. "
                               "Pass problem='multiclass'.")
        return Predictions(y_pred=y_pred, y_score=proba[:, 1], labels=labels)
    return Predictions(y_pred=y_pred, y_score=proba, labels=labels)
