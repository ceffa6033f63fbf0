"""Explanations of a fitted model: local (SHAP, LIME, counterfactuals), global (mean |SHAP|,
permutation importance, partial dependence and ICE, a surrogate tree) and their stability.

One :class:`ModelExplainer` wraps a fitted model and learns from reference data (usually the
training rows) what every explanation needs: feature names, per-feature scales and observed
ranges, the k-means background of Kernel SHAP. Every method is seeded by ``random_state``: the
same call twice gives the same numbers, which a validation record depends on.

SHAP (REFERENCE.md §4)
    *Tree ensembles* (scikit-learn forests, extra trees, (hist) gradient boosting, decision
    trees, LightGBM, XGBoost — also as the last step of a ``Pipeline``) get exact tree SHAP
    (``shap.TreeExplainer``, path-dependent). Attributions are in the model's raw output: the
    class probability for scikit-learn forests and trees, log-odds for binary boosted models,
    the softmax margin for multi-class boosted models, the prediction for regressors. For a
    Pipeline they refer to the *transformed* features (``feature_space == "transformed"``,
    names from ``get_feature_names_out``). *Any other model* gets Kernel SHAP as SageMaker
    Clarify runs it: a k-means background of ``n_background`` centres (seeded; values rounded
    to observed ones and weighted by cluster size, like ``shap.kmeans``) and
    ``nsamples = min(2·M + 2048, 2^M − 2)``; or the Permutation explainer on request. These
    explain ``predict_proba`` of one class (``explained_class``; a binary model's positive
    class by default) or ``predict`` of a regressor, on the input features.

LIME
    ``lime.lime_tabular`` with a fresh explainer seeded by ``random_state`` on every call, so
    two calls give identical weights (an unseeded LIME never does).

Counterfactuals
    A deterministic greedy coordinate search over quantile grids of the reference data (see
    :meth:`ModelExplainer.counterfactual`); the result is verified by predicting it.

Stability
    Gaussian noise of ``noise × std`` per feature, ``repeats`` times; the Spearman rank
    correlation between original and noisy attributions, per row (signed attributions) and of
    the global mean-|attribution| ranking. Below ``threshold`` (0.8 by default) an explanation
    is flagged unstable.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped]
from scipy.stats import rankdata  # type: ignore[import-untyped]
from sklearn.base import BaseEstimator, is_classifier
from sklearn.cluster import KMeans
from sklearn.exceptions import NotFittedError
from sklearn.inspection import partial_dependence as sk_partial_dependence
from sklearn.inspection import permutation_importance as sk_permutation_importance
from sklearn.metrics import accuracy_score, check_scoring, r2_score
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor, export_text
from sklearn.utils.validation import check_is_fitted

from gxpml.errors import InvalidInput
from gxpml.validation.estimate import json_number

__all__ = [
    "Counterfactual",
    "FeatureChange",
    "FeatureCurve",
    "LimeExplanation",
    "ModelExplainer",
    "PartialDependence",
    "PermutationImportance",
    "ProgressCallback",
    "ShapExplanation",
    "StabilityReport",
    "SurrogateTree",
    "clarify_nsamples",
]

FloatArray = npt.NDArray[np.float64]
ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while a long explanation runs."""

DEFAULT_STABILITY_THRESHOLD = 0.8
_TREE_CHUNK = 2000  # rows per TreeExplainer call: a progress tick every chunk

_SKLEARN_TREES = {
    # class name -> (raw output of a classifier, handles NaN as shap reads it)
    "RandomForestClassifier": ("probability", False),
    "RandomForestRegressor": ("prediction", False),
    "ExtraTreesClassifier": ("probability", False),
    "ExtraTreesRegressor": ("prediction", False),
    "DecisionTreeClassifier": ("probability", False),
    "DecisionTreeRegressor": ("prediction", False),
    "ExtraTreeClassifier": ("probability", False),
    "ExtraTreeRegressor": ("prediction", False),
    "GradientBoostingClassifier": ("log_odds", False),
    "GradientBoostingRegressor": ("prediction", False),
    "HistGradientBoostingClassifier": ("log_odds", True),
    "HistGradientBoostingRegressor": ("raw_score", True),
}
_BOOSTER_TREES = {
    ("lightgbm", "LGBMClassifier"): "log_odds",
    ("lightgbm", "LGBMRegressor"): "raw_score",
    ("xgboost", "XGBClassifier"): "log_odds",
    ("xgboost", "XGBRegressor"): "raw_score",
    ("xgboost", "XGBRFClassifier"): "log_odds",
    ("xgboost", "XGBRFRegressor"): "raw_score",
}


# --------------------------------------------------------------------------- JSON helpers


def _jlabel(value: Any) -> Any:
    """A class label as JSON: numpy scalars become Python ones, anything odd its ``str``."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return json_number(value)
    if isinstance(value, np.generic):
        return _jlabel(value.item())
    return str(value)


def _jfloats(values: Any) -> list[Any]:
    """A 1-d or 2-d float array as nested lists of :func:`json_number`."""
    array = np.asarray(values, dtype=float)
    if array.ndim == 1:
        return [json_number(v) for v in array.tolist()]
    return [_jfloats(line) for line in array]


def _readonly(values: Any) -> FloatArray:
    array = np.array(values, dtype=float)
    array.setflags(write=False)
    return array


# --------------------------------------------------------------------------- result types


@dataclass(frozen=True, eq=False)
class ShapExplanation:
    """SHAP attributions of some rows: ``base_values[i] + values[i].sum()`` is the model's
    output for row ``i`` in the space named by ``output``."""

    method: str  # "tree", "kernel" or "permutation"
    output: str  # "probability", "log_odds", "margin", "prediction" or "raw_score"
    explained_class: Any  # class label whose output is explained; None for a regressor
    feature_names: tuple[str, ...]
    feature_space: str  # "input", or "transformed" for a Pipeline's tree step
    values: FloatArray  # (rows, features)
    base_values: FloatArray  # (rows,)
    background_size: int | None = None  # k-means centres (kernel / permutation)
    nsamples: int | None = None  # coalitions per row (kernel) or max_evals (permutation)

    @property
    def model_output(self) -> FloatArray:
        """``base_values + values.sum(axis=1)``: what the attributions add up to."""
        return np.asarray(self.base_values + self.values.sum(axis=1), dtype=float)

    @property
    def mean_abs(self) -> FloatArray:
        """Global importance: mean |SHAP| per feature, in ``feature_names`` order."""
        return np.asarray(np.abs(self.values).mean(axis=0), dtype=float)

    def ranking(self) -> list[tuple[str, float]]:
        """Features by mean |SHAP|, largest first (ties keep ``feature_names`` order)."""
        order = np.argsort(-self.mean_abs, kind="stable")
        return [(self.feature_names[j], float(self.mean_abs[j])) for j in order]

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method, "output": self.output,
            "explained_class": _jlabel(self.explained_class),
            "feature_names": list(self.feature_names), "feature_space": self.feature_space,
            "background_size": self.background_size, "nsamples": self.nsamples,
            "base_values": _jfloats(self.base_values), "values": _jfloats(self.values),
            "global_ranking": [{"feature": name, "mean_abs_shap": json_number(value)}
                               for name, value in self.ranking()],
        }


@dataclass(frozen=True)
class LimeExplanation:
    """LIME's local linear model around one row. ``weights`` has one entry per feature (0 for
    a feature LIME did not select); ``conditions`` are LIME's readable terms, e.g.
    ``("age > 61.00", 0.12)``."""

    row: int
    explained_class: Any
    feature_names: tuple[str, ...]
    weights: tuple[float, ...]
    conditions: tuple[tuple[str, float], ...]
    intercept: float
    local_prediction: float  # the local linear model at the row
    model_prediction: float  # the model's explained output at the row
    score: float  # R² of the local model on its weighted neighbourhood
    num_samples: int
    random_state: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row, "explained_class": _jlabel(self.explained_class),
            "feature_names": list(self.feature_names), "weights": _jfloats(self.weights),
            "conditions": [{"condition": c, "weight": json_number(w)}
                           for c, w in self.conditions],
            "intercept": json_number(self.intercept),
            "local_prediction": json_number(self.local_prediction),
            "model_prediction": json_number(self.model_prediction),
            "score": json_number(self.score), "num_samples": self.num_samples,
            "random_state": self.random_state,
        }


@dataclass(frozen=True)
class FeatureChange:
    """One feature a counterfactual changes; ``scaled_change = |new − old| / scale``."""

    feature: str
    old: float
    new: float
    scaled_change: float

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "old": json_number(self.old),
                "new": json_number(self.new), "scaled_change": json_number(self.scaled_change)}


@dataclass(frozen=True)
class Counterfactual:
    """The smallest change found that moves one row's prediction to ``target``.

    ``found`` is true only when the model, asked again, predicts the counterfactual row as
    the target. ``distance`` is the L1 norm of the change in scaled units (``scale``).
    """

    row: int
    found: bool
    target: Any  # the class label(s) or the [low, high] interval the prediction must reach
    original_prediction: Any
    counterfactual_prediction: Any
    changes: tuple[FeatureChange, ...]
    distance: float
    scale: str
    counterfactual: Mapping[str, Any]  # the full counterfactual row (None when not found)
    immutable: tuple[str, ...]
    model_calls: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row, "found": self.found, "target": _jtarget(self.target),
            "original_prediction": _jlabel(self.original_prediction),
            "counterfactual_prediction": _jlabel(self.counterfactual_prediction),
            "changes": [change.to_dict() for change in self.changes],
            "distance": json_number(self.distance), "scale": self.scale,
            "counterfactual": {k: _jlabel(v) for k, v in self.counterfactual.items()},
            "immutable": list(self.immutable), "model_calls": self.model_calls,
            "message": self.message,
        }


def _jtarget(target: Any) -> Any:
    if isinstance(target, (list, tuple)):
        return [_jlabel(t) for t in target]
    return _jlabel(target)


@dataclass(frozen=True)
class PermutationImportance:
    """scikit-learn permutation importance: the drop in ``scoring`` when a feature is shuffled,
    mean and standard deviation over ``n_repeats`` seeded shuffles."""

    feature_names: tuple[str, ...]
    importances_mean: tuple[float, ...]
    importances_std: tuple[float, ...]
    baseline_score: float
    scoring: str
    n_repeats: int
    random_state: int

    def ranking(self) -> list[tuple[str, float, float]]:
        """``(feature, mean, std)`` by mean importance, largest first."""
        order = np.argsort(-np.asarray(self.importances_mean), kind="stable")
        return [(self.feature_names[j], self.importances_mean[j], self.importances_std[j])
                for j in order]

    def to_dict(self) -> dict[str, Any]:
        return {
            "scoring": self.scoring, "n_repeats": self.n_repeats,
            "random_state": self.random_state, "baseline_score": json_number(self.baseline_score),
            "ranking": [{"feature": f, "mean": json_number(m), "std": json_number(s)}
                        for f, m, s in self.ranking()],
        }


@dataclass(frozen=True)
class FeatureCurve:
    """Partial dependence of one feature: ``average[g]`` over all rows at ``grid[g]``, and
    ``ice[i][g]`` for the downsampled rows ``ice_rows[i]``."""

    feature: str
    grid: tuple[float, ...]
    average: tuple[float, ...]
    ice: tuple[tuple[float, ...], ...]
    ice_rows: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "grid": _jfloats(self.grid),
                "average": _jfloats(self.average),
                "ice": [_jfloats(line) for line in self.ice], "ice_rows": list(self.ice_rows)}


@dataclass(frozen=True)
class PartialDependence:
    """Partial dependence and ICE curves, as data for a plot."""

    output: str  # "probability" (of explained_class) or "prediction"
    explained_class: Any
    curves: tuple[FeatureCurve, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"output": self.output, "explained_class": _jlabel(self.explained_class),
                "curves": [curve.to_dict() for curve in self.curves]}


@dataclass(frozen=True, eq=False)
class SurrogateTree:
    """A depth-limited decision tree fitted to the model's predictions.

    ``fidelity`` is agreement (accuracy against the model's predicted labels) for a classifier
    and R² against its predictions for a regressor, measured on ``fidelity_rows``: the seeded
    held-out part when ``holdout > 0``, otherwise all rows given (in-sample, optimistic).
    """

    max_depth: int
    fidelity: float
    fidelity_metric: str  # "agreement" or "r2"
    measured_on: str  # "holdout" or "all rows"
    train_fidelity: float
    fidelity_rows: tuple[int, ...]
    n_leaves: int
    rules: str  # sklearn.tree.export_text
    feature_names: tuple[str, ...]
    tree: Any = field(repr=False)  # the fitted DecisionTreeClassifier / DecisionTreeRegressor

    def to_dict(self) -> dict[str, Any]:
        return {"max_depth": self.max_depth, "fidelity": json_number(self.fidelity),
                "fidelity_metric": self.fidelity_metric, "measured_on": self.measured_on,
                "train_fidelity": json_number(self.train_fidelity),
                "n_fidelity_rows": len(self.fidelity_rows), "n_leaves": self.n_leaves,
                "rules": self.rules, "feature_names": list(self.feature_names)}


@dataclass(frozen=True)
class StabilityReport:
    """How much explanations move under small input noise (Spearman rank correlations).

    ``per_row_mean`` averages, over rows and repeats, the correlation of each row's signed
    attributions with its noisy re-explanation (rows whose attributions are constant have no
    rank correlation and are left out); ``global_rank_correlation`` averages, over repeats,
    the correlation of the mean-|attribution| feature ranking. ``stable`` requires both to
    reach ``threshold``; ``unstable_rows`` lists rows whose own mean is below it.
    """

    method: str
    noise: float
    repeats: int
    threshold: float
    rows: tuple[int, ...]
    per_row: tuple[float, ...]
    per_row_mean: float
    global_rank_correlation: float
    unstable_rows: tuple[int, ...]
    stable: bool
    random_state: int

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "noise": self.noise, "repeats": self.repeats,
                "threshold": self.threshold, "rows": list(self.rows),
                "per_row": _jfloats(self.per_row), "per_row_mean": json_number(self.per_row_mean),
                "global_rank_correlation": json_number(self.global_rank_correlation),
                "unstable_rows": list(self.unstable_rows), "stable": self.stable,
                "random_state": self.random_state}


# --------------------------------------------------------------------------- small helpers


def clarify_nsamples(n_features: int) -> int:
    """Kernel SHAP coalitions per row as Clarify sets them: ``min(2·M + 2048, 2^M − 2)``."""
    if n_features <= 1:
        return 1
    if n_features >= 30:  # 2^M − 2 is then far above 2·M + 2048
        return 2 * n_features + 2048
    return min(2 * n_features + 2048, (1 << n_features) - 2)


def _import_shap() -> Any:
    # shap's import touches matplotlib colormap setters that now warn (PendingDeprecation);
    # the warning is about shap's plotting code, not ours, and must not fail strict runs.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        import shap  # type: ignore[import-untyped]
    return shap


@contextmanager
def _numpy_global_seed(seed: int) -> Iterator[None]:
    """Seed numpy's global RNG for a block and restore it after: shap's Kernel and
    Permutation explainers draw from the global RNG and take no generator."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _spearman_rows(a: FloatArray, b: FloatArray) -> FloatArray:
    """Spearman correlation of ``a[i]`` with ``b[i]`` for every row; NaN for a constant row."""
    ra = rankdata(a, axis=1)
    rb = rankdata(b, axis=1)
    ra = ra - ra.mean(axis=1, keepdims=True)
    rb = rb - rb.mean(axis=1, keepdims=True)
    denom = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    out = np.full(a.shape[0], np.nan)
    ok = denom > 0
    out[ok] = (ra[ok] * rb[ok]).sum(axis=1) / denom[ok]
    return out


def _nanmean(values: FloatArray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else math.nan


def _split_pipeline(model: Any) -> tuple[Any | None, Any]:
    """``(preprocessing, final estimator)``; preprocessing is None for a bare model."""
    if isinstance(model, Pipeline) and len(model.steps) > 1:
        return model[:-1], model.steps[-1][1]
    if isinstance(model, Pipeline):
        return None, model.steps[-1][1]
    return None, model


def _tree_info(estimator: Any, classifier: bool, n_classes: int) -> tuple[str, bool] | None:
    """``(output space, NaN-capable)`` when shap's TreeExplainer can explain ``estimator``."""
    cls = type(estimator)
    module = cls.__module__.split(".")[0]
    if module == "sklearn" and cls.__name__ in _SKLEARN_TREES:
        output, nan_ok = _SKLEARN_TREES[cls.__name__]
    elif (module, cls.__name__) in _BOOSTER_TREES:
        output, nan_ok = _BOOSTER_TREES[(module, cls.__name__)], True
    else:
        return None
    if classifier and output == "log_odds" and n_classes > 2:
        output = "margin"
    return output, nan_ok


# --------------------------------------------------------------------------- the explainer


class ModelExplainer(BaseEstimator):  # type: ignore[misc]
    """Explanations of one fitted ``model`` (an estimator or a scikit-learn ``Pipeline``).

    ``fit(X)`` takes reference data, usually the training rows, and learns: ``feature_names_``,
    ``is_classifier_``, ``classes_`` and ``class_index_`` (the explained class), the SHAP
    ``shap_method_`` (``"tree"`` for tree ensembles when ``shap_method="auto"``), per-feature
    ``std_``, ``scale_`` (MAD, or std when ``scale="std"``; a zero MAD falls back to the std and
    a zero std to 1), ``lower_``/``upper_`` (observed range) and, for Kernel/Permutation SHAP,
    ``background_``/``background_weights_``. The model itself is never refitted.

    Parameters: ``explained_class`` — the class label whose output is explained (a binary
    model's second class, ``classes_[1]``, when None; required for more than two classes);
    ``shap_method`` — ``"auto"``, ``"tree"``, ``"kernel"`` or ``"permutation"``;
    ``n_background`` — k-means centres for Kernel/Permutation SHAP (10–50 is usual);
    ``nsamples`` — Kernel SHAP coalitions per row (None: Clarify's
    ``min(2·M + 2048, 2^M − 2)``); ``scale`` — the unit of counterfactual distances;
    ``random_state`` — seeds every random step.
    """

    def __init__(self, model: Any, *, explained_class: Any = None,
                 shap_method: Literal["auto", "tree", "kernel", "permutation"] = "auto",
                 n_background: int = 20, nsamples: int | None = None,
                 scale: Literal["mad", "std"] = "mad", random_state: int = 0) -> None:
        self.model = model
        self.explained_class = explained_class
        self.shap_method = shap_method
        self.n_background = n_background
        self.nsamples = nsamples
        self.scale = scale
        self.random_state = random_state

    # ---------------------------------------------------------------- fit

    def fit(self, X: Any, y: Any = None) -> ModelExplainer:
        """Learn feature names, scales, ranges and the SHAP background from reference ``X``
        (``y`` is ignored; accepted so the explainer composes with scikit-learn)."""
        if self.shap_method not in ("auto", "tree", "kernel", "permutation"):
            raise InvalidInput(f"shap_method must be 'auto', 'tree', 'kernel' or 'permutation', "
                               f"got {self.shap_method!r}.")
        if self.scale not in ("mad", "std"):
            raise InvalidInput(f"scale must be 'mad' or 'std', got {self.scale!r}.")
        if not (isinstance(self.n_background, int) and self.n_background >= 1):
            raise InvalidInput(f"n_background must be a positive integer, got "
                               f"{self.n_background!r}; 10 to 50 k-means centres is usual.")
        try:
            check_is_fitted(self.model)
        except NotFittedError as exc:
            raise InvalidInput(f"{type(self.model).__name__} is not fitted; fit the model "
                               "before explaining it.") from exc
        except TypeError as exc:
            raise InvalidInput(f"{type(self.model).__name__} is not a scikit-learn style "
                               "estimator (no fit/predict); pass a fitted model.") from exc

        self.wants_frame_ = hasattr(self.model, "feature_names_in_")
        if isinstance(X, pd.DataFrame):
            names = [str(c) for c in X.columns]
            if self.wants_frame_:
                expected = [str(c) for c in self.model.feature_names_in_]
                if sorted(expected) != sorted(names):
                    raise InvalidInput(f"X has columns {names} but the model was fitted on "
                                       f"{expected}; pass the model's training columns.")
                names = expected
        else:
            array = np.asarray(X)
            if array.ndim != 2:
                raise InvalidInput(f"X must be 2-dimensional (rows × features), got shape "
                                   f"{array.shape}.")
            if self.wants_frame_:
                names = [str(c) for c in self.model.feature_names_in_]
            else:
                names = [f"x{j}" for j in range(array.shape[1])]
        self.feature_names_ = tuple(names)
        self.n_features_in_ = len(names)
        reference = self._frame(X)

        self.is_classifier_ = bool(is_classifier(self.model)) or (
            hasattr(self.model, "classes_") and hasattr(self.model, "predict_proba"))
        self.classes_ = np.asarray(self.model.classes_) if self.is_classifier_ else None
        self.class_index_ = self._class_index()

        _, final = _split_pipeline(self.model)
        n_classes = 0 if self.classes_ is None else len(self.classes_)
        info = _tree_info(final, self.is_classifier_, n_classes)
        if self.shap_method == "tree" and info is None:
            raise InvalidInput(f"shap_method='tree' needs a tree ensemble; "
                               f"{type(final).__name__} is not one. Use 'auto' or 'kernel'.")
        method = self.shap_method
        if method == "auto":
            method = "tree" if info is not None else "kernel"
        self.shap_method_ = method
        self.tree_output_ = info[0] if info is not None else None
        self.tree_handles_nan_ = bool(info[1]) if info is not None else False

        numeric = reference.select_dtypes(include="number")
        self.numeric_features_ = tuple(str(c) for c in numeric.columns)
        values = numeric.to_numpy(dtype=float)
        with warnings.catch_warnings():  # an all-NaN column: its statistics are NaN, caught below
            warnings.simplefilter("ignore", RuntimeWarning)
            std = np.nanstd(values, axis=0)
            median = np.nanmedian(values, axis=0)
            mad = np.nanmedian(np.abs(values - median), axis=0)
            self.lower_ = np.nanmin(values, axis=0) if len(values) else std
            self.upper_ = np.nanmax(values, axis=0) if len(values) else std
        std = np.where(np.isfinite(std), std, 0.0)
        self.std_ = std
        base = mad if self.scale == "mad" else std
        base = np.where(np.isfinite(base) & (base > 0), base, std)
        self.scale_ = np.where(base > 0, base, 1.0)
        self.reference_ = reference

        if method in ("kernel", "permutation"):
            self._fit_background(reference)
        return self

    def _class_index(self) -> int | None:
        if self.classes_ is None:
            if self.explained_class is not None:
                raise InvalidInput(f"explained_class={self.explained_class!r} was given but "
                                   f"{type(self.model).__name__} is a regressor; leave it None.")
            return None
        classes = [_jlabel(c) for c in self.classes_]
        if self.explained_class is None:
            if len(classes) == 2:
                return 1
            raise InvalidInput(f"The model has {len(classes)} classes {classes}; name the one "
                               "to explain with explained_class=<label>.")
        matches = [i for i, c in enumerate(classes) if c == self.explained_class]
        if not matches:
            raise InvalidInput(f"explained_class={self.explained_class!r} is not one of the "
                               f"model's classes {classes}.")
        return matches[0]

    def _fit_background(self, reference: pd.DataFrame) -> None:
        """Seeded k-means summary of the reference rows, as ``shap.kmeans`` builds it (centres
        rounded to the nearest observed value per feature, weighted by cluster size) but with
        our ``random_state`` instead of shap's fixed 0."""
        data = self._numeric_only(reference, "Kernel/Permutation SHAP")
        unique = np.unique(data, axis=0)
        k = min(self.n_background, len(unique))
        kmeans = KMeans(n_clusters=k, random_state=self.random_state, n_init=10).fit(data)
        centres = np.array(kmeans.cluster_centers_, dtype=float)
        for j in range(data.shape[1]):
            nearest = np.abs(data[:, j][None, :] - centres[:, j][:, None]).argmin(axis=1)
            centres[:, j] = data[nearest, j]
        self.background_ = centres
        self.background_weights_ = np.bincount(kmeans.labels_, minlength=k).astype(float)

    # ---------------------------------------------------------------- input handling

    def _check(self) -> None:
        if not hasattr(self, "feature_names_"):
            raise InvalidInput("This ModelExplainer is not fitted; call fit(X_reference) with "
                               "the model's training rows first.")

    def _frame(self, X: Any) -> pd.DataFrame:
        """``X`` as a DataFrame with ``feature_names_`` columns in order."""
        names = list(self.feature_names_)
        if isinstance(X, pd.DataFrame):
            columns = [str(c) for c in X.columns]
            missing = [n for n in names if n not in columns]
            if missing:
                raise InvalidInput(f"X lacks column(s) {missing}; expected the columns {names}.")
            frame = X.copy()
            frame.columns = columns
            frame = frame[names].reset_index(drop=True)
        else:
            array = np.asarray(X)
            if array.ndim == 1:
                array = array.reshape(1, -1)
            if array.ndim != 2 or array.shape[1] != len(names):
                raise InvalidInput(f"X has shape {array.shape}; expected rows × "
                                   f"{len(names)} features ({names}).")
            frame = pd.DataFrame(array, columns=names)
        if len(frame) == 0:
            raise InvalidInput("X has no rows; pass at least one row to explain.")
        return frame

    def _numeric_only(self, frame: pd.DataFrame, what: str) -> FloatArray:
        other = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
        if other:
            raise InvalidInput(f"{what} needs numeric features; column(s) {other} are not. "
                               "Encode them, or explain a Pipeline whose last step is a tree "
                               "ensemble.")
        values = np.asarray(frame.to_numpy(dtype=float), dtype=float)
        self._no_nan(values, list(frame.columns), what)
        return values

    @staticmethod
    def _no_nan(values: FloatArray, names: Sequence[str], what: str) -> None:
        bad = np.isnan(values).any(axis=0)
        if bad.any():
            columns = [names[int(j)] for j in np.flatnonzero(bad)]
            raise InvalidInput(f"{what} cannot take missing values; column(s) {columns} hold "
                               "NaN. Impute them first (or explain a model that handles NaN "
                               "with tree SHAP).")

    def _to_model(self, frame: pd.DataFrame) -> Any:
        """What the model's predict takes: the frame if it was fitted with feature names
        (passing an array would warn), else the bare array."""
        return frame if self.wants_frame_ else frame.to_numpy()

    def _from_array(self, values: FloatArray) -> Any:
        return self._to_model(pd.DataFrame(values, columns=list(self.feature_names_)))

    def _row(self, frame: pd.DataFrame, row: int) -> int:
        if isinstance(row, bool) or not isinstance(row, (int, np.integer)):
            raise InvalidInput(f"row must be an integer position, got {row!r}.")
        if not -len(frame) <= row < len(frame):
            raise InvalidInput(f"row {row} is out of range: X has {len(frame)} rows "
                               f"(0 to {len(frame) - 1}).")
        return int(row) % len(frame)

    def _need_proba(self, what: str) -> None:
        if self.is_classifier_ and not hasattr(self.model, "predict_proba"):
            raise InvalidInput(f"{what} explains class probabilities, but "
                               f"{type(self.model).__name__} has no predict_proba. Refit it "
                               "with probabilities (e.g. SVC(probability=True)) or wrap it in "
                               "CalibratedClassifierCV.")

    def _explained_output(self, values: FloatArray) -> FloatArray:
        """The output LIME and Kernel SHAP explain: ``P(explained_class)`` or the prediction."""
        model_input = self._from_array(values)
        if self.is_classifier_:
            proba = np.asarray(self.model.predict_proba(model_input), dtype=float)
            return np.asarray(proba[:, self.class_index_], dtype=float)
        return np.asarray(self.model.predict(model_input), dtype=float).reshape(-1)

    def _explained_label(self) -> Any:
        if self.classes_ is None or self.class_index_ is None:
            return None
        return self.classes_[self.class_index_]

    # ---------------------------------------------------------------- SHAP

    def shap_values(self, X: Any, *, progress: ProgressCallback | None = None) -> ShapExplanation:
        """SHAP attributions of every row of ``X`` (tree SHAP, or Kernel/Permutation SHAP on
        the explained class probability; see the module docstring)."""
        self._check()
        frame = self._frame(X)
        if self.shap_method_ == "tree":
            return self._tree_shap(frame, progress)
        self._need_proba("Kernel/Permutation SHAP")
        data = self._numeric_only(frame, "Kernel/Permutation SHAP")
        if self.shap_method_ == "kernel":
            return self._kernel_shap(data, progress)
        return self._permutation_shap(data, progress)

    def _tree_shap(self, frame: pd.DataFrame, progress: ProgressCallback | None) -> ShapExplanation:
        shap = _import_shap()
        prep, final = _split_pipeline(self.model)
        model_input = self._to_model(frame)
        if prep is not None:
            transformed = prep.transform(model_input)
            if hasattr(transformed, "toarray"):
                transformed = transformed.toarray()
            try:
                names = [str(n) for n in prep.get_feature_names_out()]
            except (AttributeError, ValueError, TypeError):
                names = [f"t{j}" for j in range(np.shape(transformed)[1])]
            space = "transformed"
        else:
            transformed, names, space = model_input, list(self.feature_names_), "input"
        if not self.tree_handles_nan_:
            numeric = (transformed.select_dtypes(include="number")
                       if isinstance(transformed, pd.DataFrame) else transformed)
            array = np.asarray(numeric, dtype=float)
            if np.isnan(array).any():
                raise InvalidInput(
                    f"Tree SHAP of {type(final).__name__} cannot take missing values (shap "
                    "does not follow its NaN routing); impute X first, or use a model that "
                    "handles NaN natively (HistGradientBoosting, LightGBM, XGBoost).")
        explainer = shap.TreeExplainer(final)
        n = np.shape(transformed)[0]
        chunks: list[FloatArray] = []
        for start in range(0, n, _TREE_CHUNK):
            part = transformed.iloc[start:start + _TREE_CHUNK] if isinstance(
                transformed, pd.DataFrame) else transformed[start:start + _TREE_CHUNK]
            with warnings.catch_warnings():
                # shap notes that a LightGBM binary model now returns one array, not a list:
                # we normalise every shape below, so the notice is noise.
                warnings.filterwarnings("ignore", message="LightGBM binary classifier")
                raw = explainer.shap_values(part)
            chunks.append(self._pick_output(raw))
            if progress is not None:
                progress(min(start + _TREE_CHUNK, n), n)
        values = np.concatenate(chunks, axis=0)
        base = self._pick_expected(explainer.expected_value)
        return ShapExplanation(
            method="tree", output=str(self.tree_output_),
            explained_class=self._explained_label(), feature_names=tuple(names),
            feature_space=space, values=_readonly(values),
            base_values=_readonly(np.full(len(values), base)))

    def _pick_output(self, raw: Any) -> FloatArray:
        """One output's (rows, features) attributions out of shap's list / 2-d / 3-d forms."""
        if isinstance(raw, list):
            raw = np.stack([np.asarray(r, dtype=float) for r in raw], axis=-1)
        values = np.asarray(raw, dtype=float)
        if values.ndim == 2:
            # One output: a regressor, or a binary boosted model's log-odds of classes_[1].
            if self.class_index_ == 0:
                return np.asarray(-values, dtype=float)
            return values
        if values.ndim == 3:
            return np.asarray(values[:, :, self.class_index_ or 0], dtype=float)
        raise InvalidInput(f"shap returned attributions of shape {values.shape}; gxpml "
                           "explains single-output models only.")

    def _pick_expected(self, expected: Any) -> float:
        array = np.atleast_1d(np.asarray(expected, dtype=float)).reshape(-1)
        if array.size == 1:
            return float(-array[0] if self.class_index_ == 0 else array[0])
        return float(array[self.class_index_ or 0])

    def _kernel_shap(self, data: FloatArray, progress: ProgressCallback | None) -> ShapExplanation:
        shap = _import_shap()
        from shap.utils._legacy import DenseData  # type: ignore[import-untyped]

        names = list(self.feature_names_)
        background = DenseData(self.background_.copy(), names, None,
                               self.background_weights_.copy())
        nsamples = self.nsamples or clarify_nsamples(len(names))
        values = np.empty_like(data)
        with _numpy_global_seed(self.random_state):
            explainer = shap.KernelExplainer(self._explained_output, background)
            for i in range(len(data)):
                # l1_reg=False: every feature gets its attribution, as Clarify reports them.
                values[i] = np.asarray(explainer.shap_values(
                    data[i:i + 1], nsamples=nsamples, l1_reg=False, silent=True),
                    dtype=float).reshape(-1)
                if progress is not None:
                    progress(i + 1, len(data))
        base = float(np.asarray(explainer.expected_value, dtype=float).reshape(-1)[0])
        return ShapExplanation(
            method="kernel", output="probability" if self.is_classifier_ else "prediction",
            explained_class=self._explained_label(), feature_names=tuple(names),
            feature_space="input", values=_readonly(values),
            base_values=_readonly(np.full(len(values), base)),
            background_size=len(self.background_), nsamples=nsamples)

    def _permutation_shap(self, data: FloatArray,
                          progress: ProgressCallback | None) -> ShapExplanation:
        shap = _import_shap()
        names = list(self.feature_names_)
        max_evals = self.nsamples or max(500, 2 * len(names) + 1)
        masker = shap.maskers.Independent(self.background_, max_samples=len(self.background_))
        values = np.empty_like(data)
        base = np.empty(len(data))
        step = 50
        with _numpy_global_seed(self.random_state):
            explainer = shap.PermutationExplainer(self._explained_output, masker,
                                                  seed=self.random_state)
            for start in range(0, len(data), step):
                result = explainer(data[start:start + step], max_evals=max_evals, silent=True)
                values[start:start + step] = np.asarray(result.values, dtype=float)
                base[start:start + step] = np.asarray(result.base_values, dtype=float)
                if progress is not None:
                    progress(min(start + step, len(data)), len(data))
        return ShapExplanation(
            method="permutation",
            output="probability" if self.is_classifier_ else "prediction",
            explained_class=self._explained_label(), feature_names=tuple(names),
            feature_space="input", values=_readonly(values), base_values=_readonly(base),
            background_size=len(self.background_), nsamples=max_evals)

    # ---------------------------------------------------------------- LIME

    def lime(self, X: Any, row: int, *, num_features: int | None = None,
             num_samples: int = 5000) -> LimeExplanation:
        """LIME tabular explanation of ``X[row]`` (seeded: the same call gives the same
        weights). ``num_features`` caps the features LIME selects (all by default)."""
        self._check()
        frame = self._frame(X)
        index = self._row(frame, row)
        self._need_proba("LIME")
        data = self._numeric_only(frame.iloc[[index]], "LIME")[0]
        training = self._numeric_only(self.reference_, "LIME")
        k = len(self.feature_names_) if num_features is None else int(num_features)
        if not 1 <= k <= len(self.feature_names_):
            raise InvalidInput(f"num_features must be between 1 and "
                               f"{len(self.feature_names_)}, got {num_features!r}.")
        if num_samples < 10:
            raise InvalidInput(f"num_samples must be at least 10, got {num_samples!r}.")
        return self._lime_row(data, training, index, k, num_samples)

    def _lime_row(self, data: FloatArray, training: FloatArray, index: int, k: int,
                  num_samples: int) -> LimeExplanation:
        from lime.lime_tabular import LimeTabularExplainer  # type: ignore[import-untyped]

        names = list(self.feature_names_)
        if self.is_classifier_:
            mode, label = "classification", int(self.class_index_ or 0)
            class_names = [str(c) for c in list(self.classes_ if self.classes_ is not None
                                                else [])]

            def predict(values: FloatArray) -> FloatArray:
                return np.asarray(self.model.predict_proba(self._from_array(values)),
                                  dtype=float)
        else:
            # LIME stores a regression explanation under label 1 (label 0 is negated).
            mode, label, class_names = "regression", 1, None

            def predict(values: FloatArray) -> FloatArray:
                return np.asarray(self.model.predict(self._from_array(values)),
                                  dtype=float).reshape(-1)
        # A fresh explainer per call: LIME's RandomState advances with every explanation.
        explainer = LimeTabularExplainer(
            training, mode=mode, feature_names=names, class_names=class_names,
            discretize_continuous=True, random_state=self.random_state)
        if mode == "classification":
            exp = explainer.explain_instance(data, predict, labels=(label,), num_features=k,
                                             num_samples=num_samples)
        else:
            exp = explainer.explain_instance(data, predict, num_features=k,
                                             num_samples=num_samples)
        weights = np.zeros(len(names))
        for j, w in exp.as_map()[label]:
            weights[int(j)] = float(w)
        conditions = tuple((str(c), float(w)) for c, w in exp.as_list(label=label))
        local = np.asarray(exp.local_pred, dtype=float).reshape(-1)
        return LimeExplanation(
            row=index, explained_class=self._explained_label(), feature_names=tuple(names),
            weights=tuple(float(w) for w in weights), conditions=conditions,
            intercept=float(exp.intercept[label]),
            local_prediction=float(local[0]) if local.size else math.nan,
            model_prediction=float(self._explained_output(data.reshape(1, -1))[0]),
            score=float(exp.score), num_samples=num_samples, random_state=self.random_state)

    # ---------------------------------------------------------------- counterfactuals

    def counterfactual(self, X: Any, row: int, *, target: Any = None,
                       immutable: Sequence[str] = (),
                       bounds: Literal["observed"] | Mapping[str, tuple[float | None,
                                                                        float | None]] | None
                       = "observed",
                       grid_size: int = 25, max_changes: int | None = None,
                       max_steps: int = 50) -> Counterfactual:
        """The smallest change to ``X[row]``'s mutable features that moves its prediction to
        ``target``, found by a deterministic greedy coordinate search.

        ``target``: for a classifier a class label (None: a binary model's other class, a
        multi-class model's any other class); for a regressor a value the prediction must
        reach (crossing it from where it is) or a ``(low, high)`` interval — required.
        ``immutable`` features (e.g. age, sex) are never changed, nor are non-numeric ones.
        ``bounds``: ``"observed"`` keeps each feature within the reference data's range;
        a mapping ``{feature: (low, high)}`` (None for open) overrides it per feature on top
        of the observed range; None drops the limits (the grid still spans observed values).

        Search: each feature's candidates are ``grid_size`` quantiles of its reference values
        (observed values, so integer features stay integer) within its bounds. Each step tries
        every single-feature move from the current point: if some moves reach the target the
        one with the smallest distance wins; otherwise the move with the largest gain in the
        target score (target-class probability margin, or closeness to the interval) per unit
        of scaled step. Then each changed feature is reverted if the target still holds, and
        moved back to the grid value closest to its original that still holds. Values between
        grid points are never tried: a regression interval narrower than the grid's spacing can
        be missed (raise ``grid_size``). Distance is
        ``Σ |new − old| / scale_`` (L1 in MAD or std units). The found row is predicted once
        more; ``found`` is that verdict.
        """
        self._check()
        frame = self._frame(X)
        index = self._row(frame, row)
        names = list(self.feature_names_)
        if isinstance(immutable, str):  # one name, not its letters
            immutable = [immutable]
        unknown = [f for f in immutable if f not in names]
        if unknown:
            raise InvalidInput(f"immutable names unknown feature(s) {unknown}; the columns are "
                               f"{names}.")
        if grid_size < 2:
            raise InvalidInput(f"grid_size must be at least 2, got {grid_size!r}.")
        original = frame.iloc[[index]].reset_index(drop=True)
        numeric = [n for n in names if n in self.numeric_features_]
        self._no_nan(original[numeric].to_numpy(dtype=float), numeric, "A counterfactual")
        goal = self._goal(original, target)
        lows, highs = self._bounds(bounds, names)

        mutable = [n for n in numeric if n not in immutable]
        num_index = {n: i for i, n in enumerate(self.numeric_features_)}
        x0 = original[numeric].to_numpy(dtype=float)[0]
        col = {n: i for i, n in enumerate(numeric)}
        scale = np.array([self.scale_[num_index[n]] for n in numeric])
        grids: dict[str, FloatArray] = {}
        ref = self.reference_
        for n in mutable:
            observed = ref[n].to_numpy(dtype=float)
            observed = observed[~np.isnan(observed)]
            grid = np.unique(np.quantile(observed, np.linspace(0, 1, grid_size),
                                         method="nearest")) if observed.size else np.array([])
            lo, hi = lows[n], highs[n]
            extra = [b for b in (lo, hi) if math.isfinite(b)]
            grid = np.unique(np.concatenate([grid, np.asarray(extra, dtype=float)]))
            grid = grid[(grid >= lo) & (grid <= hi) & (grid != x0[col[n]])]
            if grid.size:
                grids[n] = grid

        calls = 0

        def evaluate(points: FloatArray) -> tuple[FloatArray, npt.NDArray[np.bool_], Any]:
            nonlocal calls
            calls += len(points)
            batch = original.loc[original.index.repeat(len(points))].reset_index(drop=True)
            batch[numeric] = points
            return goal.assess(self.model, self._to_model(batch))

        def distance(point: FloatArray) -> float:
            return float((np.abs(point - x0) / scale).sum())

        score0, hit0, pred0 = evaluate(x0.reshape(1, -1))
        original_prediction = pred0[0]

        def result(point: FloatArray | None, message: str) -> Counterfactual:
            if point is None:
                return Counterfactual(
                    row=index, found=False, target=goal.describe(),
                    original_prediction=original_prediction, counterfactual_prediction=None,
                    changes=(), distance=math.nan, scale=self.scale, counterfactual={},
                    immutable=tuple(immutable), model_calls=calls, message=message)
            _, hit, pred = evaluate(point.reshape(1, -1))
            changes = tuple(
                FeatureChange(feature=n, old=float(x0[col[n]]), new=float(point[col[n]]),
                              scaled_change=float(abs(point[col[n]] - x0[col[n]]) / scale[col[n]]))
                for n in numeric if point[col[n]] != x0[col[n]])
            row_values = {n: original.at[0, n] for n in names}
            row_values.update({n: float(point[col[n]]) for n in numeric})
            found = bool(hit[0])
            return Counterfactual(
                row=index, found=found, target=goal.describe(),
                original_prediction=original_prediction, counterfactual_prediction=pred[0],
                changes=changes, distance=distance(point), scale=self.scale,
                counterfactual=row_values if found else {}, immutable=tuple(immutable),
                model_calls=calls,
                message=message if found else "the search's point does not reach the target "
                                              "when predicted again; no counterfactual")

        if hit0[0]:
            return result(x0.copy(), "the row is already predicted as the target")
        if not grids:
            return result(None, "no mutable numeric feature has values to move to within its "
                                "bounds")

        point, score = x0.copy(), float(score0[0])
        reached = False
        for _ in range(max_steps):
            changed = {n for n in numeric if point[col[n]] != x0[col[n]]}
            moves: list[tuple[str, float]] = []
            for n in mutable:
                if n not in grids:
                    continue
                if max_changes is not None and n not in changed and len(changed) >= max_changes:
                    continue
                moves.extend((n, float(g)) for g in grids[n] if g != point[col[n]])
            if not moves:
                break
            candidates = np.repeat(point.reshape(1, -1), len(moves), axis=0)
            for i, (n, g) in enumerate(moves):
                candidates[i, col[n]] = g
            scores, hits, _ = evaluate(candidates)
            if hits.any():
                dists = np.array([distance(c) for c in candidates])
                dists[~hits] = np.inf
                point = candidates[int(np.argmin(dists))]
                reached = True
                break
            steps = np.array([abs(g - point[col[n]]) / scale[col[n]] for n, g in moves])
            gains = scores - score
            if not (gains > 1e-12).any():
                break
            ratio = np.where(gains > 1e-12, gains / np.maximum(steps, 1e-12), -np.inf)
            best = int(np.argmax(ratio))
            point, score = candidates[best], float(scores[best])
        if not reached:
            return result(None, "the greedy search found no change of the mutable features "
                                "within their bounds that reaches the target")

        # Sparsify: undo changes that the target does not need, smallest first.
        for n in sorted((n for n in numeric if point[col[n]] != x0[col[n]]),
                        key=lambda n: abs(point[col[n]] - x0[col[n]]) / scale[col[n]]):
            trial = point.copy()
            trial[col[n]] = x0[col[n]]
            if evaluate(trial.reshape(1, -1))[1][0]:
                point = trial
        # Shrink: move each changed feature to the grid value nearest its original that holds.
        for n in [n for n in numeric if point[col[n]] != x0[col[n]]]:
            j, old, new = col[n], x0[col[n]], point[col[n]]
            between = [g for g in grids.get(n, np.array([]))
                       if min(old, new) <= g <= max(old, new) and g != new]
            if not between:
                continue
            between.sort(key=lambda g: abs(g - old))
            trials = np.repeat(point.reshape(1, -1), len(between), axis=0)
            trials[:, j] = between
            hits = evaluate(trials)[1]
            if hits.any():
                point = trials[int(np.argmax(hits))]
        return result(point, "found")

    def _goal(self, original: pd.DataFrame, target: Any) -> _Goal:
        if not self.is_classifier_:
            if target is None:
                raise InvalidInput("A counterfactual of a regression model needs a target: a "
                                   "value to reach or a (low, high) interval.")
            if isinstance(target, (tuple, list)):
                if len(target) != 2 or not float(target[0]) <= float(target[1]):
                    raise InvalidInput(f"target interval must be (low, high) with low ≤ high, "
                                       f"got {target!r}.")
                return _RegressionGoal(float(target[0]), float(target[1]))
            value = float(target)
            current = float(np.asarray(self.model.predict(self._to_model(original)))[0])
            if current < value:
                return _RegressionGoal(value, math.inf)
            return _RegressionGoal(-math.inf, value)
        assert self.classes_ is not None
        classes = list(self.classes_)
        current = np.asarray(self.model.predict(self._to_model(original)))[0]
        if target is None:
            wanted = [c for c in classes if c != current]
        else:
            if not any(c == target for c in classes):
                raise InvalidInput(f"target={target!r} is not one of the model's classes "
                                   f"{[_jlabel(c) for c in classes]}.")
            wanted = [target]
        return _ClassGoal(classes, wanted)

    def _bounds(self, bounds: Any, names: list[str]) -> tuple[dict[str, float], dict[str, float]]:
        lows = {n: -math.inf for n in names}
        highs = {n: math.inf for n in names}
        if bounds is None:
            return lows, highs
        for i, n in enumerate(self.numeric_features_):
            if math.isfinite(self.lower_[i]):
                lows[n], highs[n] = float(self.lower_[i]), float(self.upper_[i])
        if isinstance(bounds, str):
            if bounds != "observed":
                raise InvalidInput(f"bounds must be 'observed', None or a mapping "
                                   f"{{feature: (low, high)}}, got {bounds!r}.")
            return lows, highs
        unknown = [f for f in bounds if f not in names]
        if unknown:
            raise InvalidInput(f"bounds names unknown feature(s) {unknown}; the columns are "
                               f"{names}.")
        for n, (lo, hi) in bounds.items():
            lows[n] = -math.inf if lo is None else float(lo)
            highs[n] = math.inf if hi is None else float(hi)
            if lows[n] > highs[n]:
                raise InvalidInput(f"bounds for {n!r} have low {lo} above high {hi}.")
        return lows, highs

    # ---------------------------------------------------------------- global explanations

    def permutation_importance(self, X: Any, y: Any, *, n_repeats: int = 5,
                               scoring: str | None = None) -> PermutationImportance:
        """scikit-learn permutation importance on ``X``, ``y`` (seeded; ``scoring`` None uses
        the model's ``score``: accuracy for a classifier, R² for a regressor)."""
        self._check()
        frame = self._frame(X)
        target = np.asarray(y)
        if target.shape[0] != len(frame):
            raise InvalidInput(f"y has {target.shape[0]} values but X has {len(frame)} rows; "
                               "pass one label per row.")
        if n_repeats < 1:
            raise InvalidInput(f"n_repeats must be at least 1, got {n_repeats!r}.")
        model_input = self._to_model(frame)
        try:
            scorer = check_scoring(self.model, scoring=scoring)
        except ValueError as exc:
            raise InvalidInput(f"scoring={scoring!r} is not a scikit-learn scorer name: "
                               f"{exc}") from exc
        baseline = float(scorer(self.model, model_input, target))
        result = sk_permutation_importance(self.model, model_input, target, scoring=scoring,
                                           n_repeats=n_repeats, random_state=self.random_state,
                                           n_jobs=1)
        return PermutationImportance(
            feature_names=self.feature_names_,
            importances_mean=tuple(float(v) for v in result.importances_mean),
            importances_std=tuple(float(v) for v in result.importances_std),
            baseline_score=baseline,
            scoring=scoring or ("accuracy" if self.is_classifier_ else "r2"),
            n_repeats=n_repeats, random_state=self.random_state)

    def partial_dependence(self, X: Any, features: Sequence[str | int], *,
                           grid_resolution: int = 20, ice_lines: int = 50,
                           percentiles: tuple[float, float] = (0.05, 0.95)) -> PartialDependence:
        """Partial dependence (average over all rows of ``X``) and ICE curves (a seeded sample
        of ``ice_lines`` rows) for a few ``features``, on the explained class probability of a
        classifier or the prediction of a regressor (brute force, so both agree)."""
        self._check()
        frame = self._frame(X)
        names = list(self.feature_names_)
        chosen: list[str] = []
        for f in features:
            if isinstance(f, (int, np.integer)) and not isinstance(f, bool):
                if not 0 <= int(f) < len(names):
                    raise InvalidInput(f"feature index {f} is out of range: there are "
                                       f"{len(names)} features ({names}).")
                chosen.append(names[int(f)])
            elif f in names:
                chosen.append(str(f))
            else:
                raise InvalidInput(f"feature {f!r} does not exist; the columns are {names}.")
        if not chosen:
            raise InvalidInput("features is empty; name at least one feature to plot.")
        self._need_proba("Partial dependence")
        for name in chosen:
            if name not in self.numeric_features_:
                raise InvalidInput(f"Partial dependence needs numeric features; {name!r} is not.")
            self._no_nan(frame[[name]].to_numpy(dtype=float), [name], "Partial dependence")
        rng = np.random.default_rng(self.random_state)
        n_ice = min(ice_lines, len(frame))
        ice_rows = np.sort(rng.choice(len(frame), size=n_ice, replace=False))
        # scikit-learn refuses integer columns for partial dependence (its grid would be
        # rounded into them); the curve is a float grid, so the feature is handed over as float.
        as_float = frame.copy()
        for name in chosen:
            as_float[name] = as_float[name].astype(float)
        model_input = self._to_model(as_float)
        response = "predict_proba" if self.is_classifier_ else "auto"
        curves = []
        for name in chosen:
            position = names.index(name)
            bunch = sk_partial_dependence(
                self.model, model_input, [position], kind="both", method="brute",
                response_method=response, grid_resolution=grid_resolution,
                percentiles=percentiles)
            average = np.asarray(bunch["average"], dtype=float)
            individual = np.asarray(bunch["individual"], dtype=float)
            if self.is_classifier_:
                k = int(self.class_index_ or 0)
                if average.shape[0] == 1:  # binary: sklearn returns classes_[1] only
                    average = average if k == 1 else 1.0 - average
                    individual = individual if k == 1 else 1.0 - individual
                    k = 0
            else:
                k = 0
            curves.append(FeatureCurve(
                feature=name,
                grid=tuple(float(v) for v in np.asarray(bunch["grid_values"][0], dtype=float)),
                average=tuple(float(v) for v in average[k]),
                ice=tuple(tuple(float(v) for v in individual[k, i]) for i in ice_rows),
                ice_rows=tuple(int(i) for i in ice_rows)))
        return PartialDependence(
            output="probability" if self.is_classifier_ else "prediction",
            explained_class=self._explained_label(), curves=tuple(curves))

    def surrogate_tree(self, X: Any, *, max_depth: int = 3,
                       holdout: float = 0.3) -> SurrogateTree:
        """A depth-limited decision tree fitted to the model's predictions on ``X``; its
        fidelity (agreement for a classifier, R² for a regressor) is measured on a seeded
        ``holdout`` share of the rows (0: on all rows, in-sample)."""
        self._check()
        frame = self._frame(X)
        if not 1 <= max_depth <= 20:
            raise InvalidInput(f"max_depth must be between 1 and 20, got {max_depth!r}; a "
                               "surrogate is meant to be read.")
        if not 0.0 <= holdout < 1.0:
            raise InvalidInput(f"holdout must be in [0, 1), got {holdout!r}.")
        data = frame.to_numpy(dtype=float) if all(
            n in self.numeric_features_ for n in frame.columns) else None
        if data is None:
            raise InvalidInput("The surrogate tree needs numeric features; encode the others.")
        predictions = np.asarray(self.model.predict(self._to_model(frame)))
        n = len(frame)
        order = np.random.default_rng(self.random_state).permutation(n)
        n_hold = round(holdout * n)
        if holdout > 0 and (n_hold < 1 or n - n_hold < 2):
            raise InvalidInput(f"X has {n} rows: too few to hold out {holdout:.0%}; pass more "
                               "rows or holdout=0.")
        hold = np.sort(order[:n_hold]) if n_hold else np.arange(n)
        train = np.sort(order[n_hold:]) if n_hold else np.arange(n)
        tree: Any
        if self.is_classifier_:
            tree = DecisionTreeClassifier(max_depth=max_depth, random_state=self.random_state)
        else:
            tree = DecisionTreeRegressor(max_depth=max_depth, random_state=self.random_state)
        tree.fit(data[train], predictions[train])
        metric: Callable[..., Any] = accuracy_score if self.is_classifier_ else r2_score
        fidelity = float(metric(predictions[hold], tree.predict(data[hold])))
        train_fidelity = float(metric(predictions[train], tree.predict(data[train])))
        names = list(self.feature_names_)
        if self.is_classifier_:
            rules = export_text(tree, feature_names=names,
                                class_names=[str(c) for c in tree.classes_], decimals=3)
        else:
            rules = export_text(tree, feature_names=names, decimals=3)
        return SurrogateTree(
            max_depth=max_depth, fidelity=fidelity,
            fidelity_metric="agreement" if self.is_classifier_ else "r2",
            measured_on="holdout" if n_hold else "all rows", train_fidelity=train_fidelity,
            fidelity_rows=tuple(int(i) for i in hold), n_leaves=int(tree.get_n_leaves()),
            rules=rules, feature_names=tuple(names), tree=tree)

    # ---------------------------------------------------------------- stability

    def stability(self, X: Any, *, method: Literal["shap", "lime"] = "shap",
                  noise: float = 0.05, repeats: int = 5,
                  threshold: float = DEFAULT_STABILITY_THRESHOLD, max_rows: int | None = 100,
                  lime_samples: int = 1000,
                  progress: ProgressCallback | None = None) -> StabilityReport:
        """Re-explain ``X`` under Gaussian noise of ``noise × std_`` per numeric feature,
        ``repeats`` times (seeded), and report the Spearman rank correlation between original
        and noisy attributions, per row and of the global ranking (see
        :class:`StabilityReport`). ``max_rows`` caps the rows (a seeded sample)."""
        self._check()
        frame = self._frame(X)
        if method not in ("shap", "lime"):
            raise InvalidInput(f"method must be 'shap' or 'lime', got {method!r}.")
        if repeats < 1 or noise < 0:
            raise InvalidInput(f"repeats must be ≥ 1 and noise ≥ 0, got repeats={repeats!r}, "
                               f"noise={noise!r}.")
        rng = np.random.default_rng(self.random_state)
        rows = np.arange(len(frame))
        if max_rows is not None and len(frame) > max_rows:
            rows = np.sort(rng.choice(len(frame), size=max_rows, replace=False))
        sample = frame.iloc[rows].reset_index(drop=True)
        numeric = list(self.numeric_features_)
        std = np.asarray(self.std_, dtype=float)

        def attributions(data: pd.DataFrame) -> FloatArray:
            if method == "shap":
                return np.asarray(self.shap_values(data).values, dtype=float)
            self._need_proba("LIME")
            values = self._numeric_only(data, "LIME")
            training = self._numeric_only(self.reference_, "LIME")
            k = len(self.feature_names_)
            return np.array([self._lime_row(values[i], training, i, k, lime_samples).weights
                             for i in range(len(values))])

        total = repeats + 1
        original = attributions(sample)
        if progress is not None:
            progress(1, total)
        per_row = np.empty((repeats, len(sample)))
        global_corr = np.empty(repeats)
        for r in range(repeats):
            noisy = sample.copy()
            shift = rng.standard_normal((len(sample), len(numeric))) * noise * std
            noisy[numeric] = noisy[numeric].to_numpy(dtype=float) + shift
            other = attributions(noisy)
            per_row[r] = _spearman_rows(original, other)
            global_corr[r] = _spearman_rows(np.abs(original).mean(axis=0, keepdims=True),
                                            np.abs(other).mean(axis=0, keepdims=True))[0]
            if progress is not None:
                progress(r + 2, total)
        with warnings.catch_warnings():  # a row constant in every repeat has no mean
            warnings.simplefilter("ignore", RuntimeWarning)
            row_means = np.nanmean(per_row, axis=0)
        per_row_mean = _nanmean(per_row.reshape(-1))
        global_mean = _nanmean(global_corr)
        unstable = tuple(int(rows[i]) for i in np.flatnonzero(row_means < threshold))
        return StabilityReport(
            method=method, noise=noise, repeats=repeats, threshold=threshold,
            rows=tuple(int(i) for i in rows), per_row=tuple(float(v) for v in row_means),
            per_row_mean=per_row_mean, global_rank_correlation=global_mean,
            unstable_rows=unstable,
            stable=bool(per_row_mean >= threshold and global_mean >= threshold),
            random_state=self.random_state)


# --------------------------------------------------------------------------- counterfactual goals


class _Goal:
    """What a counterfactual must reach, and a score that grows towards it."""

    def assess(self, model: Any, rows: Any) -> tuple[FloatArray, npt.NDArray[np.bool_], Any]:
        """``(score, reached, prediction)`` for each row."""
        raise NotImplementedError

    def describe(self) -> Any:
        raise NotImplementedError


class _ClassGoal(_Goal):
    def __init__(self, classes: list[Any], wanted: list[Any]) -> None:
        self.classes = classes
        self.wanted = wanted
        self.mask = np.array([any(c == w for w in wanted) for c in classes])

    def assess(self, model: Any, rows: Any) -> tuple[FloatArray, npt.NDArray[np.bool_], Any]:
        prediction = np.asarray(model.predict(rows))
        reached = np.array([any(p == w for w in self.wanted) for p in prediction], dtype=bool)
        if hasattr(model, "predict_proba"):
            proba = np.asarray(model.predict_proba(rows), dtype=float)
            score = proba[:, self.mask].max(axis=1) - proba[:, ~self.mask].max(axis=1)
        elif hasattr(model, "decision_function") and len(self.classes) == 2:
            margin = np.asarray(model.decision_function(rows), dtype=float).reshape(-1)
            score = margin if self.mask[1] else -margin
        else:
            score = reached.astype(float)
        return np.asarray(score, dtype=float), reached, prediction

    def describe(self) -> Any:
        return self.wanted[0] if len(self.wanted) == 1 else list(self.wanted)


class _RegressionGoal(_Goal):
    def __init__(self, low: float, high: float) -> None:
        self.low = low
        self.high = high

    def assess(self, model: Any, rows: Any) -> tuple[FloatArray, npt.NDArray[np.bool_], Any]:
        prediction = np.asarray(model.predict(rows), dtype=float).reshape(-1)
        gap = np.maximum(self.low - prediction, 0.0) + np.maximum(prediction - self.high, 0.0)
        return -gap, gap == 0, prediction

    def describe(self) -> Any:
        return [self.low, self.high]
