"""Uncertainty: conformal prediction (MAPIE), bootstrap / seed ensembles, and MC dropout.

* :class:`ConformalClassifier` — split-conformal prediction *sets* (LAC, APS, RAPS) around a
  fitted classifier; :class:`ConformalRegressor` — prediction *intervals* (split, CV+,
  jackknife+-after-bootstrap, CQR). Both measure empirical coverage and mean set size /
  interval width on held-out rows (:class:`ConformalCoverage`), and both do Mondrian
  (per-group) conformal prediction: pass ``groups`` to ``fit`` and each group gets its own
  conformal quantile, hence the target coverage *within* the group, not only on average.
  MAPIE 1.x has no Mondrian class, so that is one MAPIE conformalizer per group.
* :class:`BootstrapEnsembleRegressor` / :class:`BootstrapEnsembleClassifier` — clones of any
  scikit-learn estimator fitted on bootstrap samples with their own ``random_state``
  (Lakshminarayanan et al. 2017); the spread of the members is the uncertainty.
* :func:`mc_dropout_classification` / :func:`mc_dropout_regression` — T stochastic forward
  passes of a PyTorch module with only its dropout layers in training mode (Gal & Ghahramani
  2016). torch is imported when these are called, so it stays an optional dependency.

Everything random is seeded from ``random_state``: the same call twice gives the same numbers.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone, is_classifier
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import check_is_fitted

from gxpml.errors import InvalidInput
from gxpml.validation.calibration import (
    _as_features,
    _check_fitted,
    _check_fraction,
    _check_lengths,
    _label_index,
    _labels,
    _n_rows,
)
from gxpml.validation.estimate import Estimate, json_number, percentile_interval

if TYPE_CHECKING:
    import torch

__all__ = [
    "BootstrapEnsembleClassifier",
    "BootstrapEnsembleRegressor",
    "ClassificationUncertainty",
    "ConformalClassifier",
    "ConformalCoverage",
    "ConformalRegressor",
    "GroupCoverage",
    "RegressionUncertainty",
    "mc_dropout_classification",
    "mc_dropout_regression",
]

FloatArray = npt.NDArray[np.float64]

CLASSIFICATION_METHODS = ("lac", "aps", "raps")
REGRESSION_METHODS = ("split", "cross", "jackknife_plus_ab", "cqr")
_RAPS_TUNING_SHARE = 0.2  # MAPIE's RAPS keeps this share of the rows to choose k*


# --------------------------------------------------------------------------- result types


def _frozen(values: Any) -> FloatArray:
    array = np.array(values, dtype=float)
    array.flags.writeable = False
    return array


def _json_list(values: FloatArray) -> list[Any]:
    if values.ndim == 1:
        return [json_number(float(v)) for v in values]
    return [_json_list(row) for row in values]


@dataclass(frozen=True)
class GroupCoverage:
    """Coverage and mean set size / interval width within one group of held-out rows."""

    group: str
    n: int
    coverage: Estimate
    mean_size: Estimate

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "n": self.n, "coverage": self.coverage.to_dict(),
                "mean_size": self.mean_size.to_dict()}


@dataclass(frozen=True)
class ConformalCoverage:
    """What a conformal predictor achieved on held-out rows.

    ``mean_size`` is the mean prediction-set size (classification) or interval width
    (regression); ``size_kind`` says which. ``groups`` holds per-group figures when groups were
    given to ``evaluate``; ``mondrian`` says whether calibration itself was per group.
    """

    task: Literal["classification", "regression"]
    method: str
    confidence_level: float
    mondrian: bool
    n_calibration: int
    n: int
    coverage: Estimate
    mean_size: Estimate
    groups: tuple[GroupCoverage, ...] = ()

    @property
    def size_kind(self) -> str:
        return "set_size" if self.task == "classification" else "interval_width"

    def group(self, name: Hashable) -> GroupCoverage:
        """The figures of group ``name`` (compared as text)."""
        for g in self.groups:
            if g.group == str(name):
                return g
        raise InvalidInput(f"No group {name!r} in this result; groups are "
                           f"{[g.group for g in self.groups]}.")

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "method": self.method,
                "confidence_level": self.confidence_level, "mondrian": self.mondrian,
                "n_calibration": self.n_calibration, "n": self.n,
                "coverage": self.coverage.to_dict(), "size_kind": self.size_kind,
                "mean_size": self.mean_size.to_dict(),
                "groups": [g.to_dict() for g in self.groups]}


@dataclass(frozen=True, eq=False)
class RegressionUncertainty:
    """Per-row predictive mean and standard deviation over ensemble members / dropout passes."""

    mean: FloatArray
    std: FloatArray
    n_members: int

    def to_dict(self) -> dict[str, Any]:
        return {"n_members": self.n_members, "mean_std": json_number(float(self.std.mean())),
                "mean": _json_list(self.mean), "std": _json_list(self.std)}


@dataclass(frozen=True, eq=False)
class ClassificationUncertainty:
    """Per-row predictive distribution and its decomposition (entropies in nats).

    ``predictive_entropy`` H[E p] = ``expected_entropy`` E[H p] (aleatoric) +
    ``mutual_information`` (epistemic: members / passes that disagree). ``disagreement`` is the
    share of members whose top class differs from the averaged prediction's.
    """

    classes: tuple[Any, ...]
    proba: FloatArray
    predictive_entropy: FloatArray
    expected_entropy: FloatArray
    mutual_information: FloatArray
    disagreement: FloatArray
    n_members: int

    def to_dict(self) -> dict[str, Any]:
        return {"classes": [c.item() if isinstance(c, np.generic) else c for c in self.classes],
                "n_members": self.n_members,
                "mean_predictive_entropy": json_number(float(self.predictive_entropy.mean())),
                "mean_mutual_information": json_number(float(self.mutual_information.mean())),
                "proba": _json_list(self.proba),
                "predictive_entropy": _json_list(self.predictive_entropy),
                "expected_entropy": _json_list(self.expected_entropy),
                "mutual_information": _json_list(self.mutual_information),
                "disagreement": _json_list(self.disagreement)}


def _entropy(p: FloatArray) -> FloatArray:
    safe = np.clip(p, 1e-300, 1.0)
    return np.asarray(-(p * np.log(safe)).sum(axis=-1), dtype=float)


def _decompose(member_proba: FloatArray, classes: tuple[Any, ...]) -> ClassificationUncertainty:
    """``member_proba`` is (members, rows, classes)."""
    mean = member_proba.mean(axis=0)
    predictive = _entropy(mean)
    expected = _entropy(member_proba).mean(axis=0)
    disagreement = (member_proba.argmax(axis=2) != mean.argmax(axis=1)).mean(axis=0)
    return ClassificationUncertainty(
        classes=classes, proba=_frozen(mean), predictive_entropy=_frozen(predictive),
        expected_entropy=_frozen(expected),
        mutual_information=_frozen(np.clip(predictive - expected, 0.0, None)),
        disagreement=_frozen(disagreement), n_members=member_proba.shape[0])


# --------------------------------------------------------------------------- helpers


def _mean_estimate(values: FloatArray, n_bootstrap: int, level: float,
                   rng: np.random.Generator) -> Estimate:
    """The mean of ``values`` with its bootstrap percentile interval."""
    point = float(values.mean())
    if n_bootstrap == 0 or values.size < 2:
        return Estimate(point)
    means = np.empty(n_bootstrap)
    chunk = max(1, 2_000_000 // values.size)  # bounded memory for large held-out sets
    for start in range(0, n_bootstrap, chunk):
        stop = min(n_bootstrap, start + chunk)
        idx = rng.integers(0, values.size, size=(stop - start, values.size))
        means[start:stop] = values[idx].mean(axis=1)
    low, high = percentile_interval(means, level)
    return Estimate(point, low, high, level)


def _check_confidence(confidence_level: float) -> None:
    if isinstance(confidence_level, bool) or not isinstance(confidence_level, float | int):
        raise InvalidInput(f"confidence_level must be a number strictly between 0 and 1 "
                           f"(e.g. 0.9 for 90 % coverage), got {confidence_level!r}.")
    if not (0.0 < confidence_level < 1.0):
        raise InvalidInput(f"confidence_level must be strictly between 0 and 1 (e.g. 0.9 for "
                           f"90 % coverage; alpha = 1 - confidence_level), got "
                           f"{confidence_level!r}.")


def _min_rows(confidence_level: float) -> int:
    # MAPIE's rule: the conformal quantile at level 1-alpha needs n >= max(1/a, 1/(1-a)).
    alpha = 1.0 - confidence_level
    return math.ceil(max(1.0 / alpha, 1.0 / confidence_level) - 1e-9)


def _check_enough_rows(n: int, confidence_level: float, where: str, share: float = 1.0) -> None:
    needed = _min_rows(confidence_level)
    usable = math.floor(n * share)
    if usable < needed:
        extra = "" if share == 1.0 else f" (of which {usable} are used for scores)"
        raise InvalidInput(
            f"Too few calibration rows {where}: {n}{extra}, but confidence_level "
            f"{confidence_level} needs at least {math.ceil(needed / share)}. Pass more held-out "
            "rows or lower confidence_level.")


def _check_seed(random_state: Any) -> int:
    if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
        raise InvalidInput(f"random_state must be an integer seed (results must be "
                           f"reproducible), got {random_state!r}.")
    return int(random_state)


def _groups(groups: Any, n: int) -> npt.NDArray[Any] | None:
    if groups is None:
        return None
    values = np.asarray(groups)
    if values.ndim != 1:
        raise InvalidInput(f"groups must be one group label per row (1-D), got shape "
                           f"{values.shape}.")
    _check_lengths(X=n, groups=values.size)
    if values.dtype.kind == "f" and np.isnan(values).any():
        raise InvalidInput("groups contains NaN; give every row a group label.")
    return values


def _mapie_call(call: Callable[[], Any]) -> Any:
    """Run a MAPIE call, reporting its ValueErrors as gxpml's InvalidInput.

    MAPIE probes a prefit model with a bare numpy row; a model fitted on a DataFrame then
    warns that the row has no feature names. The probe is MAPIE's, not the caller's: the
    warning says nothing about the caller's data, so it is silenced here only.
    """
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="X does not have valid feature names", category=UserWarning)
            return call()
    except ValueError as exc:
        raise InvalidInput(f"MAPIE refused the input: {exc}") from exc


class _Conformal(BaseEstimator):  # type: ignore[misc]
    """Shared Mondrian bookkeeping: one fitted conformalizer per group (or one for all)."""

    confidence_level: float
    random_state: int
    conformalizers_: dict[Any, Any]
    n_calibration_: int

    def _per_group(self, X: Any, groups: npt.NDArray[Any] | None,
                   predict: Callable[[Any, Any], FloatArray], width: int) -> FloatArray:
        n = _n_rows(X)
        if not self.mondrian_:
            return predict(self.conformalizers_[None], X)
        if groups is None:
            raise InvalidInput("This predictor was calibrated per group (Mondrian); pass the "
                               "groups of the rows to predict as well.")
        unknown = set(np.unique(groups).tolist()) - set(self.conformalizers_)
        if unknown:
            raise InvalidInput(f"Group(s) {sorted(map(str, unknown))} had no calibration rows; "
                               f"calibrated groups are {sorted(map(str, self.conformalizers_))}.")
        out = np.zeros((n, width))
        for key, conformalizer in self.conformalizers_.items():
            rows = np.flatnonzero(groups == key)
            if rows.size:
                out[rows] = predict(conformalizer, _safe_indexing(X, rows))
        return out

    def _report(self, task: Literal["classification", "regression"], method: str,
                covered: FloatArray, size: FloatArray, groups: npt.NDArray[Any] | None,
                n_bootstrap: int, level: float) -> ConformalCoverage:
        if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 0:
            raise InvalidInput(f"n_bootstrap must be a non-negative integer, got {n_bootstrap!r}.")
        _check_fraction("level", level)
        rng = np.random.default_rng(self.random_state)
        per_group: list[GroupCoverage] = []
        if groups is not None:
            for key in np.unique(groups):
                rows = groups == key
                per_group.append(GroupCoverage(
                    str(key), int(rows.sum()),
                    _mean_estimate(covered[rows], n_bootstrap, level, rng),
                    _mean_estimate(size[rows], n_bootstrap, level, rng)))
        return ConformalCoverage(
            task=task, method=method, confidence_level=float(self.confidence_level),
            mondrian=self.mondrian_, n_calibration=self.n_calibration_, n=int(covered.size),
            coverage=_mean_estimate(covered, n_bootstrap, level, rng),
            mean_size=_mean_estimate(size, n_bootstrap, level, rng), groups=tuple(per_group))


# --------------------------------------------------------------------------- classification


class ConformalClassifier(_Conformal):
    """Split-conformal prediction sets around a fitted classifier (MAPIE).

    ``method``: ``"lac"`` (least ambiguous sets), ``"aps"`` (adaptive prediction sets) or
    ``"raps"`` (regularised APS; MAPIE keeps 20 % of the calibration rows to tune it). With
    ``randomized=True`` APS/RAPS randomise whether the last label enters the set, which makes
    coverage exact instead of conservative; the draw is seeded by ``random_state``.

    ``fit(X, y, groups=None)`` takes *held-out* calibration rows; the wrapped model is never
    refitted. With ``groups`` it calibrates each group separately (Mondrian).
    """

    def __init__(self, estimator: Any, *, method: Literal["lac", "aps", "raps"] = "lac",
                 confidence_level: float = 0.9, randomized: bool = True,
                 random_state: int = 0) -> None:
        self.estimator = estimator
        self.method = method
        self.confidence_level = confidence_level
        self.randomized = randomized
        self.random_state = random_state

    def fit(self, X: Any, y: Any, groups: Any = None) -> ConformalClassifier:
        """Compute conformity scores on held-out ``X``, ``y`` (per group when ``groups``)."""
        from mapie.classification import SplitConformalClassifier  # type: ignore[import-untyped]

        if self.method not in CLASSIFICATION_METHODS:
            raise InvalidInput(f"method must be one of {list(CLASSIFICATION_METHODS)}, got "
                               f"{self.method!r}.")
        _check_confidence(self.confidence_level)
        seed = _check_seed(self.random_state)
        _check_fitted(self.estimator)
        if not hasattr(self.estimator, "predict_proba"):
            raise InvalidInput(
                f"{type(self.estimator).__name__} has no predict_proba; conformal prediction "
                "sets are built from class probabilities. Wrap the fitted model in "
                "TemperatureScaling or IsotonicCalibration (fitted on other held-out rows).")
        X = _as_features(X)
        labels = _labels(y, min_classes=1)
        _check_lengths(X=_n_rows(X), y=labels.size)
        self.classes_ = np.asarray(self.estimator.classes_)
        _label_index(labels, self.classes_, self.classes_.size)  # unknown labels fail here
        group_of = _groups(groups, labels.size)
        share = 1.0 - _RAPS_TUNING_SHARE if self.method == "raps" else 1.0
        parts: dict[Any, npt.NDArray[np.intp]] = (
            {None: np.arange(labels.size)} if group_of is None
            else {key: np.flatnonzero(group_of == key) for key in np.unique(group_of).tolist()})
        for key, rows in parts.items():
            where = "" if key is None else f"in group {key!r}"
            _check_enough_rows(rows.size, self.confidence_level, where or "in total", share)
        self.conformalizers_ = {}
        for key, rows in parts.items():
            conformalizer = SplitConformalClassifier(
                self.estimator, confidence_level=self.confidence_level,
                conformity_score=self.method, prefit=True, random_state=seed)
            _mapie_call(lambda c=conformalizer, r=rows: c.conformalize(  # type: ignore[misc]
                _safe_indexing(X, r), labels[r]))
            self.conformalizers_[key] = conformalizer
        self.mondrian_ = group_of is not None
        self.n_calibration_ = int(labels.size)
        if hasattr(self.estimator, "n_features_in_"):
            self.n_features_in_ = self.estimator.n_features_in_
        return self

    def predict(self, X: Any) -> npt.NDArray[Any]:
        """The wrapped model's point predictions."""
        check_is_fitted(self, "conformalizers_")
        return np.asarray(self.estimator.predict(_as_features(X)))

    def predict_set(self, X: Any, groups: Any = None) -> npt.NDArray[np.bool_]:
        """Boolean ``(n_rows, n_classes)``: column ``j`` is in the set iff ``classes_[j]`` is."""
        check_is_fitted(self, "conformalizers_")
        X = _as_features(X)
        group_of = _groups(groups, _n_rows(X))
        include: bool | str = "randomized" if self.randomized else True

        def one(conformalizer: Any, rows_x: Any) -> FloatArray:
            params = None if self.method == "lac" else {"include_last_label": include}
            _, sets = _mapie_call(lambda: conformalizer.predict_set(
                rows_x, conformity_score_params=params))
            return np.asarray(sets[:, :, 0], dtype=float)

        return self._per_group(X, group_of, one, self.classes_.size).astype(bool)

    def evaluate(self, X: Any, y: Any, groups: Any = None, *, n_bootstrap: int = 1000,
                 level: float = 0.95) -> ConformalCoverage:
        """Empirical coverage and mean set size on held-out ``X``, ``y`` (also per group).

        Intervals are bootstrap percentile intervals over rows, seeded by ``random_state``.
        """
        check_is_fitted(self, "conformalizers_")
        X = _as_features(X)
        labels = _labels(y, min_classes=1)
        _check_lengths(X=_n_rows(X), y=labels.size)
        group_of = _groups(groups, labels.size)
        sets = self.predict_set(X, group_of)
        truth = _label_index(labels, self.classes_, self.classes_.size)
        covered = sets[np.arange(labels.size), truth].astype(float)
        return self._report("classification", self.method, covered,
                            sets.sum(axis=1).astype(float), group_of, n_bootstrap, level)


# --------------------------------------------------------------------------- regression


class ConformalRegressor(_Conformal):
    """Conformal prediction intervals for a regressor (MAPIE).

    ``method`` decides what ``estimator`` and ``fit(X, y)`` are:

    * ``"split"`` — ``estimator`` is already fitted; ``X, y`` are held-out calibration rows.
      Only this method takes ``groups`` (Mondrian: one calibration per group).
    * ``"cross"`` — CV+ (Barber et al. 2021): ``estimator`` is unfitted; ``cv`` folds of
      ``X, y`` are fitted and scored out of fold.
    * ``"jackknife_plus_ab"`` — jackknife+-after-bootstrap over ``n_resamplings`` bootstraps.
    * ``"cqr"`` — conformalized quantile regression: ``estimator`` is an unfitted regressor
      with a quantile loss (e.g. ``GradientBoostingRegressor(loss="quantile")``); a seeded
      ``calibration_size`` share of ``X, y`` calibrates, the rest trains.
    """

    def __init__(self, estimator: Any, *,
                 method: Literal["split", "cross", "jackknife_plus_ab", "cqr"] = "split",
                 confidence_level: float = 0.9, cv: int = 5, n_resamplings: int = 30,
                 calibration_size: float = 0.3, random_state: int = 0) -> None:
        self.estimator = estimator
        self.method = method
        self.confidence_level = confidence_level
        self.cv = cv
        self.n_resamplings = n_resamplings
        self.calibration_size = calibration_size
        self.random_state = random_state

    def fit(self, X: Any, y: Any, groups: Any = None) -> ConformalRegressor:
        """Calibrate (for ``cross``, ``jackknife_plus_ab`` and ``cqr`` also fit); see the class."""
        from mapie.regression import (  # type: ignore[import-untyped]
            ConformalizedQuantileRegressor,
            CrossConformalRegressor,
            JackknifeAfterBootstrapRegressor,
            SplitConformalRegressor,
        )

        if self.method not in REGRESSION_METHODS:
            raise InvalidInput(f"method must be one of {list(REGRESSION_METHODS)}, got "
                               f"{self.method!r}.")
        _check_confidence(self.confidence_level)
        seed = _check_seed(self.random_state)
        X = _as_features(X)
        target = np.asarray(y, dtype=float)
        if target.ndim != 1:
            raise InvalidInput(f"y must be one number per row (1-D), got shape {target.shape}.")
        if not np.all(np.isfinite(target)):
            raise InvalidInput("y contains NaN or infinite values; drop those rows first.")
        _check_lengths(X=_n_rows(X), y=target.size)
        group_of = _groups(groups, target.size)
        if group_of is not None and self.method != "split":
            raise InvalidInput(f"Mondrian (per-group) calibration needs method='split', got "
                               f"method={self.method!r}; fit the model first and pass held-out "
                               "rows with their groups.")
        level = self.confidence_level
        self.conformalizers_ = {}
        if self.method == "split":
            _check_fitted(self.estimator)
            parts: dict[Any, npt.NDArray[np.intp]] = (
                {None: np.arange(target.size)} if group_of is None
                else {k: np.flatnonzero(group_of == k) for k in np.unique(group_of).tolist()})
            for key, rows in parts.items():
                _check_enough_rows(rows.size, level,
                                   "in total" if key is None else f"in group {key!r}")
            for key, rows in parts.items():
                split = SplitConformalRegressor(self.estimator, confidence_level=level,
                                                prefit=True)
                _mapie_call(lambda c=split, r=rows: c.conformalize(  # type: ignore[misc]
                    _safe_indexing(X, r), target[r]))
                self.conformalizers_[key] = split
        elif self.method == "cqr":
            _check_fraction("calibration_size", self.calibration_size)
            n_cal = round(target.size * self.calibration_size)
            _check_enough_rows(n_cal, level, f"in the calibration share "
                               f"({self.calibration_size} of {target.size})")
            order = np.random.default_rng(seed).permutation(target.size)
            cal, train = order[:n_cal], order[n_cal:]
            cqr = ConformalizedQuantileRegressor(clone(self.estimator), confidence_level=level)
            _mapie_call(lambda: cqr.fit(_safe_indexing(X, train), target[train]).conformalize(
                _safe_indexing(X, cal), target[cal]))
            self.conformalizers_[None] = cqr
        else:
            _check_enough_rows(target.size, level, "in total")
            if self.method == "cross":
                model: Any = CrossConformalRegressor(clone(self.estimator), confidence_level=level,
                                                     method="plus", cv=self.cv, random_state=seed)
            else:
                model = JackknifeAfterBootstrapRegressor(
                    clone(self.estimator), confidence_level=level, method="plus",
                    resampling=self.n_resamplings, random_state=seed)
            _mapie_call(lambda: model.fit_conformalize(X, target))
            self.conformalizers_[None] = model
        self.mondrian_ = group_of is not None
        self.n_calibration_ = int(target.size)
        self.n_features_in_ = int(np.asarray(X).shape[1]) if np.ndim(X) == 2 else None
        return self

    def predict(self, X: Any, groups: Any = None) -> FloatArray:
        """Point predictions (the MAPIE predictor's; for ``split``, the wrapped model's)."""
        check_is_fitted(self, "conformalizers_")
        X = _as_features(X)
        out = self._per_group(
            X, _groups(groups, _n_rows(X)),
            lambda c, rows_x: np.asarray(c.predict(rows_x), dtype=float).reshape(-1, 1), 1)
        return np.asarray(out[:, 0], dtype=float)

    def predict_interval(self, X: Any, groups: Any = None) -> FloatArray:
        """``(n_rows, 2)``: lower and upper bound of each row's interval."""
        check_is_fitted(self, "conformalizers_")
        X = _as_features(X)

        def one(conformalizer: Any, rows_x: Any) -> FloatArray:
            _, bounds = _mapie_call(lambda: conformalizer.predict_interval(rows_x))
            return np.asarray(bounds[:, :, 0], dtype=float)

        return self._per_group(X, _groups(groups, _n_rows(X)), one, 2)

    def evaluate(self, X: Any, y: Any, groups: Any = None, *, n_bootstrap: int = 1000,
                 level: float = 0.95) -> ConformalCoverage:
        """Empirical coverage and mean interval width on held-out ``X``, ``y`` (also per group)."""
        check_is_fitted(self, "conformalizers_")
        X = _as_features(X)
        target = np.asarray(y, dtype=float)
        if target.ndim != 1 or not np.all(np.isfinite(target)):
            raise InvalidInput("y must be a 1-D array of finite numbers.")
        _check_lengths(X=_n_rows(X), y=target.size)
        group_of = _groups(groups, target.size)
        bounds = self.predict_interval(X, group_of)
        covered = ((bounds[:, 0] <= target) & (target <= bounds[:, 1])).astype(float)
        return self._report("regression", self.method, covered, bounds[:, 1] - bounds[:, 0],
                            group_of, n_bootstrap, level)


# --------------------------------------------------------------------------- ensembles


class _BootstrapEnsemble(BaseEstimator):  # type: ignore[misc]
    def __init__(self, estimator: Any, *, n_members: int = 10, bootstrap: bool = True,
                 random_state: int = 0) -> None:
        self.estimator = estimator
        self.n_members = n_members
        self.bootstrap = bootstrap
        self.random_state = random_state

    def _fit_members(self, X: Any, y: npt.NDArray[Any], stratify: bool) -> None:
        if isinstance(self.n_members, bool) or not isinstance(self.n_members, int) \
                or self.n_members < 1:
            raise InvalidInput(f"n_members must be a positive integer, got {self.n_members!r}.")
        if not hasattr(self.estimator, "fit"):
            raise InvalidInput(f"{type(self.estimator).__name__} has no fit method; pass a "
                               "scikit-learn estimator.")
        rng = np.random.default_rng(_check_seed(self.random_state))
        seeds = rng.integers(0, 2**31 - 1, size=self.n_members)
        has_seed = "random_state" in self.estimator.get_params()
        self.members_ = []
        for seed in seeds:
            member = clone(self.estimator)
            if has_seed:
                member.set_params(random_state=int(seed))
            if self.bootstrap:
                if stratify:  # resample within each class so every member sees every class
                    rows = np.concatenate([rng.choice(np.flatnonzero(y == c),
                                                      size=int((y == c).sum()))
                                           for c in np.unique(y)])
                else:
                    rows = rng.integers(0, y.size, size=y.size)
                member.fit(_safe_indexing(X, rows), y[rows])
            else:
                member.fit(X, y)
            self.members_.append(member)
        self.n_features_in_ = getattr(self.members_[0], "n_features_in_", None)


class BootstrapEnsembleRegressor(RegressorMixin, _BootstrapEnsemble):  # type: ignore[misc]
    """``n_members`` clones of a regressor, each on its own bootstrap sample and seed.

    ``predict`` is the members' mean; :meth:`predict_uncertainty` adds their standard
    deviation, which grows where the training data gave the members no agreement (e.g. off the
    training distribution). ``bootstrap=False`` gives a pure seed ensemble.
    """

    def fit(self, X: Any, y: Any) -> BootstrapEnsembleRegressor:
        X = _as_features(X)
        target = np.asarray(y, dtype=float)
        if target.ndim != 1 or not np.all(np.isfinite(target)):
            raise InvalidInput("y must be a 1-D array of finite numbers.")
        _check_lengths(X=_n_rows(X), y=target.size)
        if is_classifier(self.estimator):
            raise InvalidInput(f"{type(self.estimator).__name__} is a classifier; use "
                               "BootstrapEnsembleClassifier.")
        self._fit_members(X, target, stratify=False)
        return self

    def _member_predictions(self, X: Any) -> FloatArray:
        check_is_fitted(self, "members_")
        X = _as_features(X)
        return np.stack([np.asarray(m.predict(X), dtype=float) for m in self.members_])

    def predict(self, X: Any) -> FloatArray:
        """The members' mean prediction."""
        return np.asarray(self._member_predictions(X).mean(axis=0), dtype=float)

    def predict_uncertainty(self, X: Any) -> RegressionUncertainty:
        """Per-row mean and standard deviation over the members (ddof=0)."""
        preds = self._member_predictions(X)
        return RegressionUncertainty(_frozen(preds.mean(axis=0)), _frozen(preds.std(axis=0)),
                                     len(self.members_))


class BootstrapEnsembleClassifier(ClassifierMixin, _BootstrapEnsemble):  # type: ignore[misc]
    """``n_members`` clones of a classifier on stratified bootstrap samples with their own seeds.

    ``predict_proba`` is the members' mean; :meth:`predict_uncertainty` adds predictive
    entropy, its aleatoric / epistemic (mutual information) split, and member disagreement.
    """

    def fit(self, X: Any, y: Any) -> BootstrapEnsembleClassifier:
        if not hasattr(self.estimator, "predict_proba"):
            raise InvalidInput(f"{type(self.estimator).__name__} has no predict_proba; an "
                               "ensemble's uncertainty is computed from its members' class "
                               "probabilities. Use a probabilistic classifier.")
        X = _as_features(X)
        labels = _labels(y)
        _check_lengths(X=_n_rows(X), y=labels.size)
        self.classes_ = np.unique(labels)
        self._fit_members(X, labels, stratify=True)
        return self

    def _member_proba(self, X: Any) -> FloatArray:
        check_is_fitted(self, "members_")
        X = _as_features(X)
        return np.stack([np.asarray(m.predict_proba(X), dtype=float) for m in self.members_])

    def predict_proba(self, X: Any) -> FloatArray:
        """The members' mean class probabilities, columns in the order of ``classes_``."""
        return np.asarray(self._member_proba(X).mean(axis=0), dtype=float)

    def predict(self, X: Any) -> npt.NDArray[Any]:
        """The class with the largest mean probability."""
        return np.asarray(self.classes_[self.predict_proba(X).argmax(axis=1)])

    def predict_uncertainty(self, X: Any) -> ClassificationUncertainty:
        """Mean probabilities, predictive entropy, mutual information and disagreement."""
        return _decompose(self._member_proba(X), tuple(self.classes_.tolist()))


# --------------------------------------------------------------------------- MC dropout


def _mc_passes(module: torch.nn.Module, X: Any, n_passes: int, random_state: int) -> FloatArray:
    """``n_passes`` outputs of ``module`` on ``X`` with only dropout active: (passes, rows, ...)."""
    import torch

    if not isinstance(module, torch.nn.Module):
        raise InvalidInput(f"module must be a torch.nn.Module, got {type(module).__name__}.")
    if isinstance(n_passes, bool) or not isinstance(n_passes, int) or n_passes < 2:
        raise InvalidInput(f"n_passes must be an integer of at least 2 (a spread needs several "
                           f"passes), got {n_passes!r}.")
    seed = _check_seed(random_state)
    dropout_types = (torch.nn.Dropout, torch.nn.Dropout1d, torch.nn.Dropout2d,
                     torch.nn.Dropout3d, torch.nn.AlphaDropout, torch.nn.FeatureAlphaDropout)
    dropouts = [m for m in module.modules() if isinstance(m, dropout_types)]
    if not dropouts:
        raise InvalidInput(f"{type(module).__name__} has no dropout layer, so MC dropout would "
                           "repeat one deterministic output; add torch.nn.Dropout or use a "
                           "bootstrap ensemble.")
    if isinstance(X, torch.Tensor):
        inputs = X.detach()
    else:
        inputs = torch.as_tensor(np.asarray(_as_features(X), dtype=np.float32))
    if not bool(torch.isfinite(inputs).all()):
        raise InvalidInput("X contains NaN or infinite values; impute or drop those rows "
                           "before calling.")
    params = list(module.parameters())
    if params:
        inputs = inputs.to(dtype=params[0].dtype, device=params[0].device)
    modes = {sub: sub.training for sub in module.modules()}
    outputs = []
    try:
        module.eval()  # batch norm & co. use their running statistics ...
        for m in dropouts:
            m.train()  # ... and only dropout samples a mask
        # fork_rng: seed dropout without disturbing the caller's global torch RNG.
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(seed)
            for _ in range(n_passes):
                outputs.append(module(inputs).detach().cpu().to(torch.float64).numpy())
    finally:
        for sub, training in modes.items():
            sub.train(training)
    return np.stack(outputs)


def mc_dropout_classification(module: torch.nn.Module, X: Any, *, n_passes: int = 50,
                              classes: Any = None,
                              random_state: int = 0) -> ClassificationUncertainty:
    """MC dropout for a module that outputs class logits ``(n_rows, n_classes)``.

    Each pass is ``softmax(module(X))`` with a fresh dropout mask; the result averages them
    and decomposes the uncertainty as for an ensemble. Seeded: same call, same numbers.
    """
    from scipy.special import softmax  # type: ignore[import-untyped]

    logits = _mc_passes(module, X, n_passes, random_state)
    if logits.ndim != 3:
        raise InvalidInput(f"The module must return logits of shape (n_rows, n_classes); got "
                           f"{logits.shape[1:]}.")
    labels = tuple(range(logits.shape[2])) if classes is None else tuple(classes)
    if len(labels) != logits.shape[2]:
        raise InvalidInput(f"classes has {len(labels)} entries but the module returns "
                           f"{logits.shape[2]} logits per row.")
    return _decompose(np.asarray(softmax(logits, axis=2), dtype=float), labels)


def mc_dropout_regression(module: torch.nn.Module, X: Any, *, n_passes: int = 50,
                          random_state: int = 0) -> RegressionUncertainty:
    """MC dropout for a module that outputs one number per row: mean and std over passes."""
    out = _mc_passes(module, X, n_passes, random_state)
    if out.ndim == 3 and out.shape[2] == 1:
        out = out[:, :, 0]
    if out.ndim != 2:
        raise InvalidInput(f"The module must return one number per row ((n_rows,) or "
                           f"(n_rows, 1)); got {out.shape[1:]}.")
    return RegressionUncertainty(_frozen(out.mean(axis=0)), _frozen(out.std(axis=0)),
                                 out.shape[0])
