"""Evaluation metrics: hand-computed values, baselines, bootstrap intervals, subgroups, curves,
paired comparison with non-inferiority, predictions from scikit-learn models, bad input."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.svm import LinearSVC

from gxpml.errors import InvalidInput
from gxpml.validation.metrics import (
    METRICS,
    Predictions,
    compare,
    evaluate,
    infer_problem,
    metric_names,
    predictions_of,
)

# Ten rows, four positives. With a 0.5 threshold the scores give exactly Y_PRED:
#   tp = 3 (0.9, 0.8, 0.7), fn = 1 (0.3), fp = 2 (0.6, 0.55), tn = 4 (0.4, 0.2, 0.1, 0.3)
Y_TRUE = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
Y_PRED = [1, 1, 1, 0, 1, 1, 0, 0, 0, 0]
Y_SCORE = [0.9, 0.8, 0.7, 0.3, 0.6, 0.55, 0.4, 0.2, 0.1, 0.3]


def points(evaluation_metrics: object) -> dict[str, float]:
    assert isinstance(evaluation_metrics, dict)
    return {name: est.point for name, est in evaluation_metrics.items()}


# --- every metric on a hand-computed example --------------------------------------------------


def test_binary_metrics_equal_the_hand_computed_values() -> None:
    ev = evaluate(Y_TRUE, y_pred=Y_PRED, y_score=Y_SCORE, n_bootstrap=0)
    m = points(ev.metrics)
    assert ev.problem == "binary" and ev.n == 10 and ev.labels == (0, 1)
    assert (ev.confusion.tp, ev.confusion.fp, ev.confusion.tn, ev.confusion.fn) == (3, 2, 4, 1)
    assert m["accuracy"] == pytest.approx(7 / 10)            # (tp + tn) / n
    assert m["precision"] == pytest.approx(3 / 5)            # tp / (tp + fp)
    assert m["recall"] == m["tpr"] == pytest.approx(3 / 4)   # tp / (tp + fn)
    assert m["tnr"] == pytest.approx(4 / 6)                  # tn / (tn + fp)
    assert m["fpr"] == pytest.approx(2 / 6)
    assert m["fnr"] == pytest.approx(1 / 4)
    # F-beta = (1 + b²) tp / ((1 + b²) tp + b² fn + fp)
    assert m["f1"] == pytest.approx(6 / (6 + 1 + 2))
    assert m["f0_5"] == pytest.approx(1.25 * 3 / (1.25 * 3 + 0.25 * 1 + 2))
    assert m["f2"] == pytest.approx(5 * 3 / (5 * 3 + 4 * 1 + 2))
    # AUC: of 4 x 6 pairs, 0.9, 0.8 and 0.7 beat all six negatives; 0.3 beats 0.2 and 0.1 and
    # ties 0.3 (one half): (6 + 6 + 6 + 2.5) / 24.
    assert m["roc_auc"] == pytest.approx(20.5 / 24)
    # Average precision: precision 1, 1, 1 at the first three positives, then 4/8 at 0.3
    # (all four positives and four negatives scored >= 0.3), each adding recall 1/4.
    assert m["pr_auc"] == pytest.approx((1 + 1 + 1 + 0.5) / 4)
    brier = (0.01 + 0.04 + 0.09 + 0.49 + 0.36 + 0.3025 + 0.16 + 0.04 + 0.01 + 0.09) / 10
    assert m["brier"] == pytest.approx(brier)
    likelihood = [0.9, 0.8, 0.7, 0.3, 0.4, 0.45, 0.6, 0.8, 0.9, 0.7]  # p of the true class
    assert m["log_loss"] == pytest.approx(-sum(math.log(p) for p in likelihood) / 10)


def test_binary_metrics_agree_with_scikit_learn_with_ties_and_independent_labels() -> None:
    rng = np.random.default_rng(3)
    y, pred = rng.integers(0, 2, 400), rng.integers(0, 2, 400)
    score = rng.integers(0, 11, 400) / 10  # many ties, including across the labels
    m = points(evaluate(y, y_pred=pred, y_score=score, n_bootstrap=0).metrics)
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, score))
    assert m["pr_auc"] == pytest.approx(skm.average_precision_score(y, score))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, score))
    assert m["brier"] == pytest.approx(skm.brier_score_loss(y, score))
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert m["f0_5"] == pytest.approx(skm.fbeta_score(y, pred, beta=0.5))


def test_regression_metrics_and_best_constant_baseline() -> None:
    y, pred = [1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.0, 5.0]  # errors 0.5, 0, -1, 1
    ev = evaluate(y, y_pred=pred, n_bootstrap=0)
    m = points(ev.metrics)
    assert ev.problem == "regression" and ev.confusion is None and ev.curves is None
    assert m["mae"] == pytest.approx(2.5 / 4)
    assert m["mse"] == pytest.approx((0.25 + 0 + 1 + 1) / 4)
    assert m["rmse"] == pytest.approx(0.75)
    assert m["r2"] == pytest.approx(1 - 2.25 / 5)  # SST around the mean 2.5: 2.25+0.25+0.25+2.25
    b = points(ev.baseline)
    assert b["mse"] == pytest.approx(5 / 4)        # predict the mean 2.5
    assert b["rmse"] == pytest.approx(math.sqrt(5 / 4))
    assert b["r2"] == pytest.approx(0.0)
    assert b["mae"] == pytest.approx(4 / 4)        # predict the median 2.5: 1.5+0.5+0.5+1.5


def test_multiclass_metrics_weighted_and_macro() -> None:
    y = ["a", "a", "a", "b", "b", "c"]
    pred = ["a", "a", "b", "b", "c", "c"]
    # per class (precision, recall, F1): a (2/2, 2/3, 0.8), b (1/2, 1/2, 0.5), c (1/2, 1, 2/3)
    proba = np.array([[0.8, 0.1, 0.1], [0.6, 0.2, 0.2], [0.3, 0.5, 0.2],
                      [0.2, 0.7, 0.1], [0.1, 0.3, 0.6], [0.2, 0.2, 0.6]])
    ev = evaluate(y, y_pred=pred, y_score=proba, n_bootstrap=0)
    m = points(ev.metrics)
    assert ev.problem == "multiclass" and ev.labels == ("a", "b", "c")
    assert ev.confusion.matrix == ((2, 1, 0), (0, 1, 1), (0, 0, 1))
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["precision_weighted"] == pytest.approx((3 * 1 + 2 * 0.5 + 1 * 0.5) / 6)
    assert m["recall_weighted"] == pytest.approx((3 * 2 / 3 + 2 * 0.5 + 1 * 1) / 6)
    assert m["f1_weighted"] == pytest.approx((3 * 0.8 + 2 * 0.5 + 1 * 2 / 3) / 6)
    assert m["precision_macro"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert m["recall_macro"] == pytest.approx((2 / 3 + 0.5 + 1) / 3)
    assert m["f1_macro"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    true_class_p = [0.8, 0.6, 0.3, 0.7, 0.3, 0.6]
    assert m["log_loss"] == pytest.approx(-sum(math.log(p) for p in true_class_p) / 6)
    assert m["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    # Baseline: always "a" (3 of 6); as probabilities the priors 1/2, 1/3, 1/6.
    b = points(ev.baseline)
    assert b["accuracy"] == pytest.approx(0.5)
    assert b["precision_weighted"] == pytest.approx(3 * 0.5 / 6)  # only "a" has precision 3/6
    assert b["recall_weighted"] == pytest.approx(0.5)
    prior_loss = -(3 * math.log(1 / 2) + 2 * math.log(1 / 3) + math.log(1 / 6)) / 6
    assert b["log_loss"] == pytest.approx(prior_loss)


def test_binary_baseline_is_the_majority_class_and_the_prior() -> None:
    b = points(evaluate(Y_TRUE, y_pred=Y_PRED, y_score=Y_SCORE, n_bootstrap=0).baseline)
    assert b["accuracy"] == pytest.approx(0.6)       # always 0: six of ten right
    assert math.isnan(b["precision"])                # no positive prediction: undefined
    assert b["recall"] == 0.0 and b["tnr"] == 1.0 and b["f1"] == 0.0
    assert b["roc_auc"] == pytest.approx(0.5)        # one constant score: all ties
    assert b["pr_auc"] == pytest.approx(0.4)         # the prevalence
    assert b["brier"] == pytest.approx(0.4 * 0.6)
    assert b["log_loss"] == pytest.approx(-(0.4 * math.log(0.4) + 0.6 * math.log(0.6)))


def test_text_labels_positive_class_is_the_second_and_scores_alone_give_labels() -> None:
    y = ["yes" if v else "no" for v in Y_TRUE]
    ev = evaluate(y, y_score=Y_SCORE, n_bootstrap=0)  # predicted "yes" when score > 0.5
    assert ev.labels == ("no", "yes")
    assert ev.confusion.to_dict()["tp"] == 3 and ev.confusion.fp == 2
    assert ev.metrics["roc_auc"].point == pytest.approx(20.5 / 24)
    stricter = evaluate(y, y_score=Y_SCORE, threshold=0.65, n_bootstrap=0)
    assert stricter.confusion.fp == 0 and stricter.confusion.tp == 3


def test_only_label_metrics_without_scores() -> None:
    ev = evaluate(Y_TRUE, y_pred=Y_PRED, n_bootstrap=0)
    assert set(ev.metrics) == set(metric_names("binary", scores=False))
    assert "roc_auc" not in ev.metrics and ev.curves is None


def test_infer_problem() -> None:
    assert infer_problem([0, 1, 1]) == "binary"
    assert infer_problem(["cat", "dog", "cat"]) == "binary"
    assert infer_problem([0, 1, 2, 2]) == "multiclass"
    assert infer_problem([0.0, 1.0, 2.0]) == "regression"  # floats are quantities
    assert infer_problem([0.5, 1.25, 2.0]) == "regression"
    assert infer_problem(np.arange(50)) == "regression"  # more than 20 integer values
    with pytest.raises(InvalidInput, match=r"The label has one class only \(1\); a classifier "
                                           r"cannot be evaluated on it. Evaluate on data with both"):
        infer_problem([1, 1, 1])


def test_every_metric_knows_its_direction() -> None:
    lower = {name for name, info in METRICS.items() if not info.higher_is_better}
    assert lower == {"mae", "mse", "rmse", "fpr", "fnr", "log_loss", "brier"}
    assert METRICS["roc_auc"].direction == "higher"


# --- bootstrap ------------------------------------------------------------------------------


def test_the_same_seed_gives_identical_intervals_and_another_seed_others() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    score = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.25, 300), 0, 1)
    first = evaluate(y, y_score=score, n_bootstrap=200, seed=7)
    again = evaluate(y, y_score=score, n_bootstrap=200, seed=7)
    other = evaluate(y, y_score=score, n_bootstrap=200, seed=8)
    assert first.to_dict() == again.to_dict()
    assert first.metrics["roc_auc"].lower != other.metrics["roc_auc"].lower
    auc = first.metrics["roc_auc"]
    assert auc.lower < auc.point < auc.upper and auc.level == 0.95


def test_the_vectorized_bootstrap_equals_a_loop_over_resamples() -> None:
    """The resamples are the seeded rows ``integers(0, n, (B, n))``; recomputing each metric
    with scikit-learn on those rows gives the same percentile interval."""
    rng = np.random.default_rng(1)
    n, b = 120, 150
    y = rng.integers(0, 2, n)
    score = np.round(np.clip(0.35 + 0.3 * y + rng.normal(0, 0.2, n), 0, 1), 1)  # ties
    ev = evaluate(y, y_score=score, n_bootstrap=b, seed=5)
    drawn = np.random.default_rng(5).integers(0, n, size=(b, n))
    for name, fn in (("roc_auc", skm.roc_auc_score), ("pr_auc", skm.average_precision_score),
                     ("brier", skm.brier_score_loss)):
        values = [fn(y[rows], score[rows]) for rows in drawn]
        low, high = np.quantile(values, [0.025, 0.975])
        assert ev.metrics[name].lower == pytest.approx(low)
        assert ev.metrics[name].upper == pytest.approx(high)
    accuracy = [np.mean(y[rows] == (score[rows] > 0.5)) for rows in drawn]
    assert ev.metrics["accuracy"].lower == pytest.approx(np.quantile(accuracy, 0.025))


def test_the_bootstrap_of_regression_and_multiclass_metrics_equals_a_loop() -> None:
    rng = np.random.default_rng(2)
    n, b = 90, 120
    y = rng.normal(size=n)
    pred = y + rng.normal(0, 0.5, n)
    drawn = np.random.default_rng(9).integers(0, n, size=(b, n))
    r2 = evaluate(y, y_pred=pred, problem="regression", n_bootstrap=b, seed=9).metrics["r2"]
    loop = [skm.r2_score(y[rows], pred[rows]) for rows in drawn]
    assert (r2.lower, r2.upper) == pytest.approx(tuple(np.quantile(loop, [0.025, 0.975])))
    labels, guess = rng.integers(0, 3, n), rng.integers(0, 3, n)
    f1 = evaluate(labels, y_pred=guess, n_bootstrap=b, seed=9).metrics["f1_weighted"]
    loop = [skm.f1_score(labels[rows], guess[rows], average="weighted") for rows in drawn]
    assert (f1.lower, f1.upper) == pytest.approx(tuple(np.quantile(loop, [0.025, 0.975])))


def test_the_95_percent_interval_of_accuracy_covers_the_truth_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(2024)
    truth, covered, trials = 0.8, 0, 200
    for trial in range(trials):
        y = rng.integers(0, 2, 150)
        right = rng.random(150) < truth  # each row predicted right with probability 0.8
        ev = evaluate(y, y_pred=np.where(right, y, 1 - y), n_bootstrap=200, seed=trial)
        acc = ev.metrics["accuracy"]
        covered += acc.lower <= truth <= acc.upper
    assert 0.88 <= covered / trials <= 0.99


def test_a_binary_classifier_on_100000_rows_with_1000_resamples_takes_seconds() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 100_000)
    score = np.round(np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1), 3)
    start = time.perf_counter()
    ev = evaluate(y, y_score=score, n_bootstrap=1000, seed=0)
    assert time.perf_counter() - start < 15  # a few seconds; a loop over resamples takes minutes
    assert ev.metrics["roc_auc"].point == pytest.approx(skm.roc_auc_score(y, score))
    assert ev.metrics["roc_auc"].upper - ev.metrics["roc_auc"].lower < 0.01


def test_no_resamples_give_point_values_only() -> None:
    est = evaluate(Y_TRUE, y_pred=Y_PRED, n_bootstrap=0).metrics["accuracy"]
    assert (est.lower, est.upper, est.level) == (None, None, None)


# --- subgroups, curves, JSON ----------------------------------------------------------------


def test_subgroup_table_has_metrics_n_prevalence_and_flags_small_groups() -> None:
    rng = np.random.default_rng(4)
    n = 240
    y = rng.integers(0, 2, n)
    score = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.2, n), 0, 1)
    sex = np.where(np.arange(n) < 20, 1, 0)  # twenty rows of sex=1: below the minimum of 30
    ev = evaluate(y, y_score=score, groups={"sex": sex}, n_bootstrap=100, seed=1)
    rows = {row.key: row for row in ev.subgroups}
    assert list(rows) == ["sex=0", "sex=1"]
    small, large = rows["sex=1"], rows["sex=0"]
    assert (small.n, small.small, large.n, large.small) == (20, True, 220, False)
    assert small.prevalence == pytest.approx(y[:20].mean())
    alone = evaluate(y[:20], y_score=score[:20], n_bootstrap=0)
    assert small.metrics["roc_auc"].point == pytest.approx(alone.metrics["roc_auc"].point)
    assert small.metrics["roc_auc"].lower is not None
    lookup = ev.lookup("test")
    assert lookup[("test", "sex=1", "recall")] is small.metrics["recall"]
    assert lookup[("test", None, "recall")] is ev.metrics["recall"]


def test_subgroups_from_a_dataframe_with_missing_values() -> None:
    groups = pd.DataFrame({"site": ["A", "B"] * 5, "age_band": [1.0, None] * 5})
    ev = evaluate(Y_TRUE, y_pred=Y_PRED, groups=groups, n_bootstrap=0)
    assert [row.key for row in ev.subgroups] == ["site=A", "site=B", "age_band=1",
                                                  "age_band=<missing>"]


def test_curves_as_plain_data() -> None:
    ev = evaluate(Y_TRUE, y_score=Y_SCORE, n_bootstrap=0)
    roc = ev.curves.roc
    fpr, tpr, thresholds = skm.roc_curve(Y_TRUE, Y_SCORE, drop_intermediate=False)
    assert roc.fpr == pytest.approx(fpr) and roc.tpr == pytest.approx(tpr)
    assert roc.thresholds == pytest.approx(thresholds)  # starts at +inf
    # PR from the highest threshold: (recall 0, precision 1), then 1/4 at 1, ..., 4/4 at 4/8.
    pr = ev.curves.pr
    assert pr.recall[:5] == pytest.approx([0, 0.25, 0.5, 0.75, 0.75])
    assert pr.precision[:5] == pytest.approx([1, 1, 1, 1, 0.75])
    assert pr.precision[-1] == pytest.approx(0.4) and pr.recall[-1] == 1.0
    cal = ev.curves.calibration
    # bins (0,0.1] .. (0.9,1], empty ones left out: 0.1 | 0.2 | 0.3 0.3 | 0.4 | 0.55 0.6 | 0.7 |
    # 0.8 | 0.9
    assert cal.count == (1, 1, 2, 1, 2, 1, 1, 1)
    assert cal.observed[4] == pytest.approx(0.0) and cal.mean_predicted[4] == pytest.approx(0.575)
    assert cal.observed[2] == pytest.approx(0.5) and cal.mean_predicted[2] == pytest.approx(0.3)
    observed, predicted = calibration_curve(Y_TRUE, Y_SCORE, n_bins=10)
    assert cal.observed == pytest.approx(observed) and cal.mean_predicted == pytest.approx(predicted)


def test_long_curves_are_thinned_to_200_points_keeping_both_ends() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 5000)
    score = rng.random(5000)
    roc = evaluate(y, y_score=score, n_bootstrap=0).curves.roc
    assert len(roc.fpr) <= 200 and len(roc.tpr) == len(roc.thresholds) == len(roc.fpr)
    assert (roc.fpr[0], roc.tpr[0], roc.fpr[-1], roc.tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert list(roc.fpr) == sorted(roc.fpr)


def test_to_dict_is_strict_json() -> None:
    ev = evaluate(["no", "yes"] * 20, y_score=np.linspace(0, 1, 40), groups={"g": [1, 2] * 20},
                  n_bootstrap=20)
    text = json.dumps(ev.to_dict(), allow_nan=False)
    data = json.loads(text)
    assert data["baseline"]["precision"]["point"] == "nan"  # majority "no": no positives
    assert data["curves"]["roc"]["thresholds"][0] == "inf"
    assert data["subgroups"][0]["subgroup"] == "g=1"
    assert data["confusion"]["labels"] == ["no", "yes"]


# --- comparison -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_models() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    n = 2000
    y = rng.integers(0, 2, n)
    signal = y + rng.normal(0, 0.8, n)
    good = 1 / (1 + np.exp(-2 * (signal - 0.5)))
    noisy = 1 / (1 + np.exp(-2 * (signal + rng.normal(0, 1.5, n) - 0.5)))
    return y, good, noisy


def test_a_model_compared_with_itself_differs_by_exactly_zero(two_models) -> None:
    y, good, _ = two_models
    same = Predictions(y_score=good)
    strict = compare(y, candidate=same, baseline=same, metric="roc_auc", margin=0.0, n_bootstrap=100)
    diff = strict.metrics["roc_auc"].difference
    assert (diff.point, diff.lower, diff.upper) == (0.0, 0.0, 0.0)  # paired resamples
    assert not strict.non_inferior  # the lower bound must be above -margin, strictly
    assert compare(y, candidate=same, baseline=same, metric="roc_auc", margin=0.01,
                   n_bootstrap=100).non_inferior


def test_non_inferiority_passes_for_a_better_and_fails_for_a_worse_candidate(two_models) -> None:
    y, good, noisy = two_models
    better = compare(y, candidate=Predictions(y_score=good), baseline=Predictions(y_score=noisy),
                     metric=["roc_auc", "log_loss"], margin=0.02, n_bootstrap=300, seed=3)
    auc = better.metrics["roc_auc"]
    assert auc.difference.point == pytest.approx(auc.candidate.point - auc.baseline.point)
    assert auc.difference.lower > 0 and auc.non_inferior
    assert "lower bound" in auc.sentence and auc.sentence.endswith(": non-inferior")
    loss = better.metrics["log_loss"]  # lower is better: judged on the upper bound
    assert not loss.higher_is_better and loss.difference.upper < 0.02 and loss.non_inferior
    assert "upper bound" in loss.sentence
    assert better.non_inferior

    worse = compare(y, candidate=Predictions(y_score=noisy), baseline=Predictions(y_score=good),
                    metric=["roc_auc", "log_loss"], margin=0.02, n_bootstrap=300, seed=3)
    assert worse.metrics["roc_auc"].difference.lower < -0.02
    assert not worse.metrics["roc_auc"].non_inferior and not worse.metrics["log_loss"].non_inferior
    assert worse.metrics["roc_auc"].sentence.endswith("not shown non-inferior")
    assert not worse.non_inferior
    assert json.loads(json.dumps(worse.to_dict(), allow_nan=False))["non_inferior"] is False


def test_non_inferiority_of_a_regression_error_uses_the_upper_bound() -> None:
    rng = np.random.default_rng(5)
    y = rng.normal(size=500)
    base = y + rng.normal(0, 1.0, 500)
    close = y + rng.normal(0, 1.02, 500)
    result = compare(y, candidate=close, baseline=base, metric="mae", margin=0.2, n_bootstrap=200)
    mae = result.metrics["mae"]
    assert not mae.higher_is_better and mae.difference.upper < 0.2 and mae.non_inferior
    tight = compare(y, candidate=close, baseline=base, metric="mae", margin=0.001, n_bootstrap=200)
    assert not tight.non_inferior


def test_margins_per_metric_and_all_metrics_by_default(two_models) -> None:
    y, good, noisy = two_models
    labels = (good > 0.5).astype(int)
    result = compare(y, candidate=labels, baseline=(noisy > 0.5).astype(int), n_bootstrap=50)
    assert set(result.metrics) == set(metric_names("binary", scores=False))
    with pytest.raises(InvalidInput, match="margin has no value for f1"):
        compare(y, candidate=labels, baseline=labels, metric=["accuracy", "f1"],
                margin={"accuracy": 0.01})


# --- predictions from scikit-learn models ---------------------------------------------------


def test_predictions_of_a_fitted_classifier_and_a_regressor() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = np.where(X[:, 0] + rng.normal(0, 0.5, 200) > 0, "yes", "no")
    model = LogisticRegression().fit(X, y)
    pred = predictions_of(model, X, "binary")
    assert pred.labels == ("no", "yes")
    assert pred.y_score == pytest.approx(model.predict_proba(X)[:, 1])
    ev = evaluate(y, **pred.as_kwargs(), n_bootstrap=0)
    assert ev.metrics["roc_auc"].point == pytest.approx(skm.roc_auc_score(y == "yes", pred.y_score))
    reg = LinearRegression().fit(X, X[:, 0])
    values = predictions_of(reg, X, "regression")
    assert values.y_score is None and values.y_pred == pytest.approx(reg.predict(X))


def test_predictions_of_a_classifier_without_probabilities() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 2)), np.arange(60) % 2
    svm = LinearSVC().fit(X, y)
    with pytest.raises(InvalidInput, match="LinearSVC has no predict_proba; pass a classifier that "
                                           "gives probabilities or evaluate with labels only"):
        predictions_of(svm, X, "binary")
    labels_only = predictions_of(svm, X, "binary", scores=False)
    assert labels_only.y_score is None and labels_only.labels == (0, 1)
    with pytest.raises(InvalidInput, match="LogisticRegression is not fitted"):
        predictions_of(LogisticRegression(), X, "binary")


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"y_true": [0, 1, 1], "y_pred": [0, 1]},
     r"y_pred has 2 rows but y_true has 3; pass predictions for the same rows"),
    ({"y_true": [0, 1, 1], "y_score": [0.1, 0.9]}, r"y_score has 2 rows but y_true has 3"),
    ({"y_true": [0.0, np.nan, 1.0], "y_pred": [0, 1, 1]},
     r"y_true has 1 missing value\(s\) \(NaN\) at rows 1; drop those rows"),
    ({"y_true": [0, 1, 1], "y_pred": [0, None, 1]}, r"y_pred has 1 missing value\(s\)"),
    ({"y_true": [0, 1, 1], "y_score": [0.2, np.nan, 0.9]}, r"y_score has 1 missing value\(s\)"),
    ({"y_true": [0, 1, 1], "y_score": [-0.5, 0.3, 2.0]},
     r"y_score has values outside \[0, 1\] \(min -0.5, max 2\); pass probabilities"),
    ({"y_true": [1, 1, 1], "y_pred": [1, 0, 1]},
     r"The label has one class only \(1\); a classifier cannot be evaluated on it"),
    ({"y_true": [1, 1, 1], "y_pred": [1, 0, 1], "problem": "binary"}, r"one class only"),
    ({"y_true": [0, 1, 1]}, r"Pass y_pred .*, y_score .* or both"),
    ({"y_true": [0.5, 1.5, 2.5], "y_pred": [1.0, 1.0, 2.0], "y_score": [0.1, 0.2, 0.3]},
     r"y_score is for classifiers"),
    ({"y_true": [0, 1, 2], "y_score": [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]},
     r"one column per class \(3: \[0, 1, 2\]\), got shape \(3, 2\)"),
    ({"y_true": [0, 1, 2], "y_score": [[0.5, 0.4, 0.4]] * 3}, r"row 0 sums to 1.3"),
    ({"y_true": [0, 1, 1], "y_pred": [0, 1, 2], "problem": "binary"},
     r"A binary problem has two classes; found 3"),
    ({"y_true": [0, 1, 1], "y_pred": [0, 1, 1], "labels": [0, 2]},
     r"y_true has values \[1\] that are not among the labels \[0, 2\]"),
    ({"y_true": [0, 1, 1], "y_pred": [0, 1, 1], "problem": "ranking"}, r"Unknown problem 'ranking'"),
    ({"y_true": [0, 1, 1], "y_pred": [0, 1, 1], "level": 95}, r"level must be between 0 and 1"),
    ({"y_true": [0, 1, 1], "y_pred": [0, 1, 1], "n_bootstrap": -1}, r"n_bootstrap must be an integer"),
    ({"y_true": [0, 1, 1], "y_pred": [0, 1, 1], "groups": {"sex": [1, 2]}},
     r"groups\['sex'\] has 2 rows but y_true has 3"),
    ({"y_true": [0, 1, 1], "y_pred": [0, 1, 1], "groups": pd.Series([1, 2, 2])},
     r"The groups Series has no name"),
])
def test_bad_input_is_refused_with_a_message_that_says_what_to_do(kwargs, message) -> None:
    with pytest.raises(InvalidInput, match=message):
        evaluate(**kwargs)


def test_compare_refuses_unknown_inapplicable_and_scoreless_metrics() -> None:
    with pytest.raises(InvalidInput, match=r"Unknown metric 'auc'. Known metrics: mae, mse, .*roc_auc"):
        compare(Y_TRUE, candidate=Y_PRED, baseline=Y_PRED, metric="auc")
    with pytest.raises(InvalidInput, match=r"Metric 'mae' does not apply to a binary problem"):
        compare(Y_TRUE, candidate=Y_PRED, baseline=Y_PRED, metric="mae")
    with pytest.raises(InvalidInput, match=r"Metric 'roc_auc' needs scores"):
        compare(Y_TRUE, candidate=Y_PRED, baseline=Y_PRED, metric="roc_auc")
    with pytest.raises(InvalidInput, match=r"baseline has 9 rows but y_true has 10|y_pred has 9 rows"):
        compare(Y_TRUE, candidate=Y_PRED, baseline=Y_PRED[:9], metric="accuracy")
    with pytest.raises(InvalidInput, match=r"The margin for accuracy must be a finite number >= 0"):
        compare(Y_TRUE, candidate=Y_PRED, baseline=Y_PRED, metric="accuracy", margin=-0.1)
