"""``gxpml validate RUN_ID``: evaluate a run's model against acceptance criteria locked
beforehand, and write the evidence — ``results.json``, ``report.html``, ``report.pdf``.

The order is the point: the criteria are parsed and **locked** (stored, digest in the audit
trail) before any number is computed; then the model (digest verified) is evaluated on the
dataset's splits, calibrated, explained and checked for bias; the criteria are judged; the
three files are written, stored as artifacts and recorded as one validation of the run,
linked in lineage. Everything is seeded (default: the run's seed), so the same validation
twice gives the same ``results.json`` byte for byte.

Which rows are used for what (documented in docs/validation.md):

- ``test`` (or ``all`` when the dataset version has no split): performance with bootstrap
  intervals, subgroups, bias, explanations, conformal coverage, calibration after fitting;
- ``validation`` (else half of the test rows, seeded): fitting calibrators and conformal
  predictors — never the rows they are judged on;
- ``train``: the background of the explanations and the members of the ensemble; any split
  a criterion names is evaluated too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from gxpml.canonical import canonical_json
from gxpml.errors import InvalidInput, NotFound
from gxpml.validation.criteria import Criteria, Judgement, judge, parse_criteria
from gxpml.validation.estimate import Estimate, json_number
from gxpml.validation.metrics import Problem
from gxpml.validation.records import CriteriaLockInfo, ValidationInfo

if TYPE_CHECKING:
    from gxpml.remote import RemoteWorkspace
    from gxpml.tracking.records import ModelInfo, RunInfo
    from gxpml.workspace import Workspace

    AnyWorkspace: TypeAlias = Workspace | RemoteWorkspace

__all__ = ["ValidationOutcome", "validate"]

SPLITS = ("train", "validation", "test", "all")
#: Rows explained locally, and rows re-explained under noise (SHAP on more rows is cheap
#: for trees but not for kernel SHAP).
EXPLAIN_ROWS = 1000
LOCAL_ROWS = 3
STABILITY_ROWS = 50
COUNTERFACTUAL_ROWS = 3
PDP_FEATURES = 3
CONFIDENCE = 0.9

Step = Callable[[str], None]


@dataclass(frozen=True)
class ValidationOutcome:
    """What :func:`validate` wrote and recorded."""

    validation: ValidationInfo
    lock: CriteriaLockInfo | None
    judgements: tuple[Judgement, ...]
    results: Mapping[str, Any]
    out: Path

    @property
    def passed(self) -> bool | None:
        """True when every criterion passed; None when no criteria were declared."""
        return self.validation.passed

    @property
    def files(self) -> dict[str, Path]:
        return {name: self.out / name for name in ("results.json", "report.html", "report.pdf")}


# ----------------------------------------------------------------------------- inputs


def _pick_model(run: RunInfo, name: str | None) -> ModelInfo:
    if not run.models:
        raise NotFound(f"Run {run.id} logged no model; validate a run that called run.log_model(...).")
    if name is None:
        if len(run.models) > 1:
            names = ", ".join(m.name for m in run.models)
            raise InvalidInput(f"Run {run.id} logged several models ({names}); name one with --model NAME.")
        return run.models[0]
    for model in run.models:
        if model.name == name:
            return model
    raise NotFound(f"Run {run.id} has no model named {name!r}; it has {', '.join(m.name for m in run.models)}.")


def _dataset_ref(run: RunInfo, data: str | None) -> str:
    if data is not None:
        return data
    refs = sorted({i.ref for i in run.inputs if i.kind == "dataset"})
    if len(refs) == 1:
        return refs[0]
    if not refs:
        raise InvalidInput(f"Run {run.id} declared no dataset input; name the data with --data DATASET[:VERSION].")
    raise InvalidInput(f"Run {run.id} read several datasets ({', '.join(refs)}); name one with --data.")


def _features(model: ModelInfo, fitted: Any, columns: list[str], label: str) -> list[str]:
    inputs = (model.signature or {}).get("inputs") or []
    names = [str(i["name"]) for i in inputs if i.get("name") is not None]
    if not names:
        names = [str(n) for n in getattr(fitted, "feature_names_in_", [])]
    if not names:
        raise InvalidInput(f"Model {model.name!r} records no input column names (log it with an input_example "
                           "DataFrame); gxpml cannot tell which columns it reads.")
    missing = [n for n in names if n not in columns]
    if missing:
        raise InvalidInput(f"The data lacks the model's input columns {missing}; it has {columns}.")
    if label in names:
        raise InvalidInput(f"The label {label!r} is one of the model's inputs; name the real label with --label.")
    return names


def _problem(model: Any, y: Any) -> Problem:
    """The model's kind decides (a classifier's classes), the labels otherwise; a label with
    a single class is refused either way."""
    from sklearn.base import is_classifier, is_regressor

    from gxpml.validation.metrics import infer_problem

    guessed = infer_problem(y)
    if is_regressor(model):
        return "regression"
    if is_classifier(model):
        return "binary" if len(getattr(model, "classes_", ())) == 2 else "multiclass"
    return guessed


def _allows_nan(model: Any) -> bool:
    tags = getattr(model, "__sklearn_tags__", None)
    try:
        return bool(tags().input_tags.allow_nan) if callable(tags) else False
    except Exception:  # an estimator of the caller's own with broken tags: assume it cannot
        return False


def _check_missing(model: Any, frame: pd.DataFrame, features: list[str], label: str, split: str) -> None:
    missing = [c for c in features if frame[c].isna().any()]
    where = "rows" if split == "all" else f"{split} rows"
    if missing and not _allows_nan(model):
        rows = int(frame[missing].isna().any(axis=1).sum())
        raise InvalidInput(f"The {where} have missing values (NaN) in the model's inputs {missing} ({rows} rows), "
                           f"and {type(model).__name__} does not accept NaN. Impute or drop them in a new dataset "
                           "version and validate on that (--data NAME:VERSION).")
    if frame[label].isna().any():
        raise InvalidInput(f"The label {label!r} is missing (NaN) in {int(frame[label].isna().sum())} {where}; "
                           "a validation needs every row's true outcome.")


def _label(columns: list[str], label: str | None) -> str:
    if label is not None:
        if label not in columns:
            raise InvalidInput(f"No label column {label!r} in the data; its columns are {columns}.")
        return label
    for guess in ("target", "label", "y"):
        if guess in columns:
            return guess
    raise InvalidInput(f"Name the label column with --label; the data has {columns}.")


class _Data:
    """The rows of each split, read once (reads of a sequestered test split are recorded)."""

    def __init__(self, ws: AnyWorkspace, ref: str) -> None:
        self.ws, self.version = ws, ws.data.show(ref)
        self.ref = self.version.ref
        self.has_split = any(s.current for s in self.version.splits)
        self._frames: dict[str, pd.DataFrame] = {}

    def names(self) -> tuple[str, ...]:
        return ("train", "validation", "test") if self.has_split else ("all",)

    def frame(self, split: str) -> pd.DataFrame:
        if split not in self._frames:
            if split == "all":
                self._frames[split] = self.ws.data.load(self.ref)
            elif not self.has_split:
                raise InvalidInput(f"Dataset version {self.ref} has no split, so it has no {split} rows: split it "
                                   f"(gxpml data split {self.ref} --test 0.2 --seed N) or use split: all.")
            else:
                self._frames[split] = self.ws.data.load(self.ref, split=split)
        return self._frames[split]

    @property
    def evaluation(self) -> str:
        return "test" if self.has_split else "all"


# ----------------------------------------------------------------------------- computing


def _binary(values: Any, problem: str, positive: Any, threshold: float | None) -> np.ndarray[Any, Any]:
    """Outcomes as 0/1 for the bias metrics: the positive class, or above the threshold."""
    arr = np.asarray(values)
    if problem == "regression":
        assert threshold is not None
        return np.asarray(arr.astype(float) > threshold, dtype=int)
    return np.asarray(arr == positive, dtype=int)


def _positive(labels: tuple[Any, ...] | None, positive: Any) -> Any:
    if positive is not None:
        return positive
    if labels is None:
        return None
    return labels[-1]  # binary: the greater label (1, True, "yes" sorts last in most encodings)


def _lookup_bias(report: Any, split: str) -> dict[tuple[str, str | None, str], Estimate]:
    out: dict[tuple[str, str | None, str], Estimate] = {}
    for index, facet in enumerate(report.facets):
        for metric in facet.metrics:
            if metric.estimate is None:
                continue
            sensitive = ",".join(str(v) for v in facet.values) if facet.values else f">{facet.threshold:g}"
            out[(split, f"{facet.facet}={sensitive}", metric.name)] = metric.estimate
            if index == 0:
                out.setdefault((split, None, metric.name), metric.estimate)
    return out


def _explanations(model: Any, train: pd.DataFrame, test: pd.DataFrame, y_test: Any, features: list[str],
                  problem: str, immutable: Sequence[str], positive: Any, threshold: float | None,
                  seed: int) -> dict[str, Any]:
    from gxpml.validation.explain import ModelExplainer

    explained_class = positive if problem == "binary" else None
    explainer = ModelExplainer(model, explained_class=explained_class, random_state=seed).fit(train[features])
    rows = test[features].iloc[:EXPLAIN_ROWS]
    shap = explainer.shap_values(rows)
    ranking = shap.ranking()
    out: dict[str, Any] = {
        "shap": {"method": shap.method, "output": shap.output, "explained_class": _plain(shap.explained_class),
                 "feature_space": shap.feature_space, "rows": len(rows),
                 "mean_abs": [[f, json_number(v)] for f, v in ranking],
                 "local": [{"row": i, "base": json_number(float(shap.base_values[i])),
                            "output": json_number(float(shap.model_output[i])),
                            "values": [[f, json_number(float(shap.values[i][j]))]
                                       for j, f in enumerate(shap.feature_names)]}
                           for i in range(min(LOCAL_ROWS, len(rows)))]},
    }
    lime = explainer.lime(test[features], 0, num_samples=2000)
    out["lime"] = {"row": 0, "conditions": lime.to_dict()["conditions"], "intercept": json_number(lime.intercept),
                   "local_prediction": json_number(lime.local_prediction),
                   "model_prediction": json_number(lime.model_prediction), "score": json_number(lime.score)}
    out["permutation_importance"] = explainer.permutation_importance(test[features], y_test).to_dict()
    top = [f for f, _ in ranking[:PDP_FEATURES]]
    out["partial_dependence"] = explainer.partial_dependence(test[features], top).to_dict()
    out["surrogate"] = explainer.surrogate_tree(test[features]).to_dict()
    out["stability"] = explainer.stability(test[features], max_rows=STABILITY_ROWS).to_dict()
    counterfactuals = []
    for row in range(min(COUNTERFACTUAL_ROWS, len(test))):
        target: Any = None
        if problem == "regression":
            assert threshold is not None
            predicted = float(np.ravel(model.predict(test[features].iloc[[row]]))[0])
            target = (-math.inf, threshold) if predicted > threshold else (threshold, math.inf)
        found = explainer.counterfactual(test[features], row, target=target, immutable=list(immutable))
        counterfactuals.append(found.to_dict())
    out["counterfactuals"] = counterfactuals
    out["immutable"] = list(immutable)
    return out


def _uncertainty(model: Any, problem: str, calib: pd.DataFrame, test: pd.DataFrame, features: list[str],
                 label: str, facet: str | None, n_bootstrap: int, seed: int) -> dict[str, Any]:
    from gxpml.validation.uncertainty import ConformalClassifier, ConformalRegressor

    out: dict[str, Any] = {"calibration_rows": len(calib), "confidence_level": CONFIDENCE}
    X_cal, y_cal, X_test, y_test = calib[features], calib[label], test[features], test[label]
    conformal: Any
    if problem == "regression":
        conformal = ConformalRegressor(model, method="split", confidence_level=CONFIDENCE, random_state=seed)
    else:
        conformal = ConformalClassifier(model, method="lac", confidence_level=CONFIDENCE, random_state=seed)
    out["conformal"] = conformal.fit(X_cal, y_cal).evaluate(X_test, y_test, n_bootstrap=n_bootstrap).to_dict()
    if facet is not None:
        try:
            mondrian = (ConformalRegressor(model, method="split", confidence_level=CONFIDENCE, random_state=seed)
                        if problem == "regression" else
                        ConformalClassifier(model, method="lac", confidence_level=CONFIDENCE, random_state=seed))
            mondrian.fit(X_cal, y_cal, groups=calib[facet])
            out["mondrian"] = mondrian.evaluate(X_test, y_test, groups=test[facet], n_bootstrap=n_bootstrap).to_dict()
        except InvalidInput as exc:  # e.g. too few calibration rows in a group: say so in the report
            out["mondrian"] = {"error": exc.message}
    if problem != "regression":
        from gxpml.validation.calibration import (
            IsotonicCalibration,
            TemperatureScaling,
            reliability_diagram,
        )

        proba = model.predict_proba(X_test)
        out["calibration"] = {"before": reliability_diagram(y_test, proba, classes=list(model.classes_)).to_dict()}
        for name, calibrator in (("temperature", TemperatureScaling(model)), ("isotonic", IsotonicCalibration(model))):
            fitted = calibrator.fit(X_cal, y_cal)
            report = reliability_diagram(y_test, fitted.predict_proba(X_test), classes=list(model.classes_)).to_dict()
            if name == "temperature":
                report["temperature"] = json_number(float(fitted.temperature_))
            out["calibration"][name] = report
    return out


def _ensemble(model: Any, problem: str, train: pd.DataFrame, test: pd.DataFrame, features: list[str],
              label: str, seed: int) -> dict[str, Any]:
    from sklearn.base import clone

    from gxpml.validation.uncertainty import BootstrapEnsembleClassifier, BootstrapEnsembleRegressor

    members = 5
    if problem == "regression":
        regressors = BootstrapEnsembleRegressor(clone(model), n_members=members, random_state=seed)
        std = np.asarray(regressors.fit(train[features], train[label]).predict_uncertainty(test[features]).std,
                         dtype=float)
        return {"members": members, "kind": "bootstrap", "mean_std": json_number(float(std.mean())),
                "max_std": json_number(float(std.max()))}
    classifiers = BootstrapEnsembleClassifier(clone(model), n_members=members, random_state=seed)
    spread = classifiers.fit(train[features], train[label]).predict_uncertainty(test[features])
    entropy = np.asarray(spread.predictive_entropy, dtype=float)
    mi = np.asarray(spread.mutual_information, dtype=float)
    return {"members": members, "kind": "bootstrap", "mean_predictive_entropy": json_number(float(entropy.mean())),
            "mean_mutual_information": json_number(float(mi.mean()))}


#: Libraries whose versions decide the numbers of a validation.
VALIDATION_LIBRARIES = ("gxpml", "numpy", "pandas", "scikit-learn", "scipy", "skops", "shap", "lime", "mapie",
                        "fairlearn", "lightgbm", "xgboost", "torch", "plotly", "weasyprint")


def _environment(ws: AnyWorkspace, run: RunInfo) -> dict[str, Any]:
    """The training environment the run recorded, and the libraries this validation ran with."""
    import importlib.metadata
    import platform

    trained: dict[str, Any] = {}
    if run.source.environment_digest:
        trained = dict(json.loads(ws.artifacts.read_bytes(run.source.environment_digest)))
    packages = trained.get("packages", {})
    validating = {}
    for name in VALIDATION_LIBRARIES:
        try:
            validating[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {
        "training": {"digest": run.source.environment_digest,
                     "python": (trained.get("python") or {}).get("version"),
                     "platform": (trained.get("platform") or {}).get("platform"),
                     "cpu": (trained.get("cpu") or {}).get("model"),
                     "packages": {k: packages[k] for k in sorted(packages) if k in VALIDATION_LIBRARIES}},
        "validation": {"python": platform.python_version(), "packages": validating},
    }


# ----------------------------------------------------------------------------- the entry point


@contextmanager
def _steps(progress: bool, total: int) -> Iterator[Step]:
    if not progress:
        yield lambda _text: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description:<44}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("validating", total=total)
        started = [False]

        def step(text: str) -> None:
            if started[0]:
                bar.advance(task)
            started[0] = True
            bar.update(task, description=text)

        yield step
        bar.advance(task)


def _read_text(criteria: str | Path | None) -> str | None:
    if criteria is None:
        return None
    if isinstance(criteria, Path):
        try:
            return criteria.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"Cannot read the criteria file {criteria}: {exc}.") from exc
    return criteria


def validate(
    ws: AnyWorkspace, run_id: str, *, criteria: str | Path | None, out: str | Path,
    data: str | None = None, label: str | None = None, facet: str | None = None,
    facet_values: Sequence[Any] | None = None, group: str | None = None, positive: Any = None,
    threshold: float | None = None,
    model: str | None = None, immutable: Sequence[str] | None = None, model_card: Mapping[str, str] | None = None,
    baseline: str | None = None, margin: float = 0.0,
    n_bootstrap: int = 1000, seed: int | None = None, pdf: bool = True, progress: bool = False,
) -> ValidationOutcome:
    """Validate run ``run_id``'s model: lock ``criteria`` (YAML text or a Path) first, then
    evaluate, calibrate, explain and check bias on the data (default: the dataset the run
    read), judge the criteria and write ``results.json``, ``report.html`` and ``report.pdf``
    to ``out``; store them and record the validation. ``facet`` is the protected attribute
    (e.g. ``sex``) with ``facet_values`` its disfavoured value(s) (default: each value
    against the rest) and ``group`` a strata column for CDDL/CDDPL; ``positive`` the favourable
    label (classification) and ``threshold`` the value above which a regression outcome counts
    as positive for the bias metrics (default: the median label of the evaluation rows). ``immutable`` features are never
    changed by counterfactuals (default: the facet). ``baseline`` names a finished run whose
    model the candidate is compared with on the evaluation rows (paired bootstrap), non-inferior
    within ``margin``. Seeded by ``seed`` (default: the run's)."""
    from gxpml.validation.bias import bias_report, group_metrics_table
    from gxpml.validation.metrics import evaluate, predictions_of
    from gxpml.validation.report import build_document

    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 0:
        raise InvalidInput(f"n_bootstrap must be a whole number >= 0, got {n_bootstrap!r}.")
    text = _read_text(criteria)
    parsed: Criteria | None = parse_criteria(text) if text is not None else None  # bad criteria fail first
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 <= margin < math.inf:
        raise InvalidInput(f"margin must be a finite number >= 0, got {margin!r}.")
    run = ws.runs.get(run_id)
    chosen = _pick_model(run, model)
    reference = ws.runs.get(baseline) if baseline is not None else None
    reference_model = _pick_model(reference, None) if reference is not None else None
    folder = Path(out)
    with _steps(progress, 9) as step:
        step("loading the model (digest verified)")
        fitted = ws.runs.load_model(run.id, chosen.name)
        other = ws.runs.load_model(reference.id, reference_model.name) \
            if reference is not None and reference_model is not None else None
        source = _Data(ws, _dataset_ref(run, data))
        columns = [str(c["name"]) for c in source.version.columns]  # checked before any row is read
        label_column = _label(columns, label)
        features = _features(chosen, fitted, columns, label_column)
        for role, column in (("facet", facet), ("group", group)):
            if column is not None and column not in columns:
                raise InvalidInput(f"No {role} column {column!r} in the data; its columns are {columns}.")
        fixed = list(immutable) if immutable is not None else ([facet] if facet in features else [])
        unknown_fixed = [f for f in fixed if f not in features]
        if unknown_fixed:
            raise InvalidInput(f"Immutable feature(s) {unknown_fixed} are not model inputs; the inputs are {features}.")
        named = sorted({e.split for e in parsed.entries}) if parsed is not None else []
        unknown_splits = [s for s in named if s not in SPLITS]
        if unknown_splits:
            raise InvalidInput(f"Criteria name the split(s) {unknown_splits}; use train, validation, test or all.")
        if not source.has_split and [s for s in named if s != "all"]:
            raise InvalidInput(f"Dataset version {source.ref} has no split, so it has no {named[0]} rows: split it "
                               f"(gxpml data split {source.ref} --test 0.2 --seed N) or name split: all in the criteria.")
        step("locking the acceptance criteria")
        lock = ws.validations.lock_criteria(run.id, text) if text is not None else None
        step("reading the data")
        evaluation_split = source.evaluation
        test = source.frame(evaluation_split)
        _check_missing(fitted, test, features, label_column, evaluation_split)
        problem = _problem(fitted, test[label_column])
        if problem != "regression" and not hasattr(fitted, "predict_proba"):
            raise InvalidInput(f"{type(fitted).__name__} has no predict_proba; validation of a classifier needs class "
                               "probabilities (calibration, ROC, conformal sets). Log a probabilistic model.")
        rng_seed = run.seed if seed is None else int(seed)
        splits = sorted({evaluation_split, *named}, key=SPLITS.index)

        step("evaluating performance with bootstrap intervals")
        evaluations: dict[str, Any] = {}
        lookup: dict[tuple[str, str | None, str], Estimate] = {}
        positive_label: Any = None
        for split in splits:
            frame = source.frame(split)
            if split != evaluation_split:  # that one was checked before the model's kind was read
                _check_missing(fitted, frame, features, label_column, split)
            predictions = predictions_of(fitted, frame[features], problem)
            groups = {facet: frame[facet].astype(str)} if facet is not None else None
            result = evaluate(frame[label_column], **predictions.as_kwargs(), problem=problem, groups=groups,
                              n_bootstrap=n_bootstrap, seed=rng_seed)
            evaluations[split] = result.to_dict()
            lookup.update(result.lookup(split))
            if split == evaluation_split:
                positive_label = _positive(result.labels, positive)

        comparison: dict[str, Any] | None = None
        if other is not None and reference is not None:
            from gxpml.validation.metrics import compare

            assert reference_model is not None
            other_features = _features(reference_model, other, columns, label_column)
            result_cmp = compare(test[label_column], candidate=predictions_of(fitted, test[features], problem),
                                 baseline=predictions_of(other, test[other_features], problem), margin=float(margin),
                                 problem=problem, n_bootstrap=max(n_bootstrap, 1), seed=rng_seed)
            comparison = {"baseline_run": reference.id, "split": evaluation_split, **result_cmp.to_dict(),
                          "baseline_model": reference_model.name}

        step("checking bias")
        bias: dict[str, Any] | None = None
        cut = threshold
        if problem == "regression" and cut is None:
            cut = float(np.median(test[label_column].astype(float)))
        if facet is not None:
            if problem == "multiclass" and positive is None:
                raise InvalidInput("Bias metrics need a favourable outcome: pass --positive LABEL for a multiclass model.")
            predicted = np.asarray(fitted.predict(test[features]))
            predicted_column = f"{label_column} (predicted)"
            frame = pd.DataFrame({label_column: _binary(test[label_column], problem, positive_label, cut),
                                  predicted_column: _binary(predicted, problem, positive_label, cut),
                                  facet: test[facet].to_numpy()})
            if group is not None:
                frame["__group__"] = test[group].to_numpy()
            numeric = test[features].select_dtypes("number")
            report = bias_report(frame, label=label_column, facet=facet, positive=1, predicted=predicted_column,
                                 facet_values=list(facet_values) if facet_values else None,
                                 features=numeric.to_numpy(dtype=float) if numeric.shape[1] else None,
                                 group="__group__" if group is not None else None,
                                 n_bootstrap=n_bootstrap, seed=rng_seed)
            bias = {**report.to_dict(),
                    "outcome": ({"threshold": json_number(cut), "positive": f"{label_column} above {cut:g}"}
                                if problem == "regression" else {"positive": f"{label_column} = {_plain(positive_label)}"})}
            lookup.update(_lookup_bias(report, evaluation_split))
            table = group_metrics_table(frame, label=label_column, predicted=predicted_column, facet=facet, positive=1)
            bias["groups"] = {"columns": [str(c) for c in table.columns],
                              "rows": [[_cell(v) for v in row] for row in table.itertuples(index=False)]}

        step("uncertainty and calibration")
        calib = source.frame("validation") if source.has_split else test.sample(frac=0.5, random_state=rng_seed)
        judged = test if source.has_split else test.drop(index=calib.index)
        uncertainty = _uncertainty(fitted, problem, calib, judged, features, label_column, facet,
                                   n_bootstrap, rng_seed)
        train = source.frame("train") if source.has_split else calib
        uncertainty["ensemble"] = _ensemble(fitted, problem, train, test, features, label_column, rng_seed)

        step("explaining the model")
        explanations = _explanations(fitted, train, test, test[label_column], features, problem, fixed,
                                     positive_label, cut, rng_seed)

        step("judging the criteria")
        judgements = tuple(judge(parsed, lookup)) if parsed is not None else ()
        passed = None if parsed is None else all(j.passed for j in judgements)
        environment = _environment(ws, run)
        lineage = ws.lineage.ancestors(f"run:{run.id}")
        results: dict[str, Any] = {
            "format": "gxpml.validation/1",
            "run": {"id": run.id, "experiment": run.experiment, "name": run.name, "seed": run.seed,
                    "params": dict(run.params), "git_commit": run.source.git_commit,
                    "code_digest": run.source.code_digest},
            "model": {"name": chosen.name, "digest": chosen.digest, "flavor": chosen.flavor,
                      "format": chosen.format, "class": f"{type(fitted).__module__}.{type(fitted).__name__}",
                      "features": features},
            "data": {"dataset": source.ref, "digest": source.version.digest, "rows": source.version.num_rows,
                     "splits": {s: len(source.frame(s)) for s in SPLITS if s in source._frames},
                     "label": label_column,
                     "facet": facet, "group": group, "evaluated_on": evaluation_split,
                     "calibrated_on": "validation" if source.has_split else "half of all rows (seeded)"},
            "problem": problem, "seed": rng_seed, "n_bootstrap": n_bootstrap,
            "model_card": dict(model_card or {}),
            "criteria": None if parsed is None else {
                **parsed.to_dict(), "lock_id": lock.id if lock else None,
                "replaces": list(lock.replaces) if lock else [], "after_tests": list(lock.after_tests) if lock else [],
                "changed_after_tests": bool(lock and lock.after_tests)},
            "judgements": [j.to_dict() for j in judgements],
            "passed": passed,
            "evaluation": evaluations,
            "comparison": comparison,
            "bias": bias,
            "uncertainty": uncertainty,
            "explanations": explanations,
            "environment": environment,
            "lineage": lineage.to_dict(),
        }
        data_bytes = (canonical_json(results) + "\n").encode("utf-8")

        step("writing the report")
        document = build_document(json.loads(data_bytes))
        from gxpml.reports import render_html, render_pdf

        folder.mkdir(parents=True, exist_ok=True)
        html = render_html(document).encode("utf-8")
        pdf_bytes = render_pdf(document) if pdf else None
        (folder / "results.json").write_bytes(data_bytes)
        (folder / "report.html").write_bytes(html)
        if pdf_bytes is not None:
            (folder / "report.pdf").write_bytes(pdf_bytes)
        stored = {name: ws.artifacts.put(content, name=f"validation-{run.id}-{name}").digest
                  for name, content in (("results.json", data_bytes), ("report.html", html), ("report.pdf", pdf_bytes))
                  if content is not None}
        record = ws.validations.record(
            run.id, model=chosen.name, results=stored["results.json"], report_html=stored["report.html"],
            report_pdf=stored.get("report.pdf"), lock_id=lock.id if lock else None, dataset=source.ref, passed=passed)
    return ValidationOutcome(validation=record, lock=lock, judgements=judgements, results=results, out=folder)


def _cell(value: Any) -> Any:
    value = _plain(value)
    return json_number(value) if isinstance(value, float) else value


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
