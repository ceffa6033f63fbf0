"""Calibration: ECE per REFERENCE.md §5, reliability data, temperature scaling and isotonic."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from gxpml.errors import InvalidInput
from gxpml.validation.calibration import (
    IsotonicCalibration,
    TemperatureScaling,
    expected_calibration_error,
    positive_class_reliability,
    reliability_diagram,
)

# --------------------------------------------------------------------------- fixtures


class Overconfident(ClassifierMixin, BaseEstimator):
    """A fitted logistic regression whose logits are multiplied by ``sharpness``.

    ``predict_proba`` is softmax(sharpness · z): same ranking, so same predictions, but far too
    sure of itself. It has no decision_function, so temperature scaling must work from
    log(predict_proba).
    """

    def __init__(self, base: LogisticRegression, sharpness: float = 4.0) -> None:
        self.base = base
        self.sharpness = sharpness

    def fit(self, X, y):  # pragma: no cover - only ever used already fitted
        raise AssertionError("Overconfident wraps a fitted model")

    def __sklearn_is_fitted__(self) -> bool:
        return True

    @property
    def classes_(self):
        return self.base.classes_

    def _z(self, X):
        z = self.base.decision_function(X)
        if z.ndim == 1:
            z = np.column_stack([np.zeros_like(z), z])
        return self.sharpness * z

    def predict_proba(self, X):
        z = self._z(X)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X):
        return self.classes_[self._z(X).argmax(axis=1)]


class OverconfidentWithLogits(Overconfident):
    """The same over-confident model, also exposing its (sharpened) decision_function."""

    def decision_function(self, X):
        return self.sharpness * self.base.decision_function(X)


def _split(n_classes: int, seed: int = 0):
    X, y = make_classification(n_samples=4000, n_features=8, n_informative=5,
                               n_classes=n_classes, flip_y=0.05, class_sep=0.8,
                               random_state=seed)
    return (X[:1000], y[:1000]), (X[1000:2500], y[1000:2500]), (X[2500:], y[2500:])


@pytest.fixture(scope="module")
def three_class():
    (Xtr, ytr), cal, test = _split(3)
    base = LogisticRegression(max_iter=1000).fit(Xtr, ytr)
    return base, cal, test


@pytest.fixture(scope="module")
def binary():
    (Xtr, ytr), cal, test = _split(2, seed=1)
    base = LogisticRegression(max_iter=1000).fit(Xtr, ytr)
    return base, cal, test


# --------------------------------------------------------------------------- ECE by hand


def test_ece_matches_the_hand_computed_example():
    # Five binary rows, M = 5 bins (0,.2] (.2,.4] (.4,.6] (.6,.8] (.8,1]; confidence is the
    # probability of the predicted class:
    #   P(1)  pred conf  y  correct  bin
    #   0.90   1   0.90  1   yes     (.8,1]
    #   0.85   1   0.85  0   no      (.8,1]
    #   0.30   0   0.70  0   yes     (.6,.8]
    #   0.55   1   0.55  0   no      (.4,.6]
    #   0.40   0   0.60  1   no      (.4,.6]   0.6 sits on an edge: bins are right-closed
    # (.8,1]:  n=2  conf=(0.90+0.85)/2=0.875  acc=1/2  |gap|=0.375  weight 2/5 -> 0.150
    # (.6,.8]: n=1  conf=0.70             acc=1    |gap|=0.300  weight 1/5 -> 0.060
    # (.4,.6]: n=2  conf=(0.55+0.60)/2=0.575  acc=0  |gap|=0.575  weight 2/5 -> 0.230
    # ECE = 0.150 + 0.060 + 0.230 = 0.440; MCE = 0.575
    p1 = np.array([0.90, 0.85, 0.30, 0.55, 0.40])
    y = np.array([1, 0, 0, 0, 1])
    report = reliability_diagram(y, np.column_stack([1 - p1, p1]), n_bins=5)

    assert report.ece == pytest.approx(0.44)
    assert report.mce == pytest.approx(0.575)
    assert [b.count for b in report.bins] == [0, 0, 2, 1, 2]
    assert report.bins[2].mean_confidence == pytest.approx(0.575)
    assert report.bins[2].accuracy == 0.0
    assert report.bins[4].mean_confidence == pytest.approx(0.875)
    assert report.bins[4].accuracy == 0.5
    assert report.bins[0].mean_confidence is None  # empty bins have nothing to plot
    assert report.accuracy == pytest.approx(2 / 5)
    # 1-D P(positive) for a binary model means the same thing.
    assert expected_calibration_error(y, p1, n_bins=5) == pytest.approx(0.44)


def test_ece_uses_the_top_label_confidence_for_several_classes():
    # Two rows, M = 2 bins [0,.5] (.5,1]:
    #   [0.5, 0.3, 0.2] y=0: conf 0.5 (edge -> first bin), correct -> |1 - 0.5| · 1/2 = 0.25
    #   [0.2, 0.2, 0.6] y=1: conf 0.6, wrong                       -> |0 - 0.6| · 1/2 = 0.30
    proba = [[0.5, 0.3, 0.2], [0.2, 0.2, 0.6]]
    assert expected_calibration_error([0, 1], proba, n_bins=2) == pytest.approx(0.55)
    # Labels are matched to columns through ``classes`` (a model's classes_).
    assert expected_calibration_error(["a", "b"], proba, n_bins=2,
                                      classes=["a", "b", "c"]) == pytest.approx(0.55)


def test_ece_defaults_to_15_bins_and_is_zero_when_confidence_equals_accuracy():
    # Every row 0.75 confident and exactly 3 of 4 right: perfectly calibrated.
    proba = np.tile([0.25, 0.75], (4, 1))
    report = reliability_diagram([1, 1, 1, 0], proba)
    assert report.n_bins == 15 and len(report.bins) == 15
    assert report.ece == pytest.approx(0.0)


def test_reliability_report_is_plain_json():
    report = reliability_diagram([1, 0, 1], [0.9, 0.2, 0.4], n_bins=4)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["n_bins"] == 4 and len(data["bins"]) == 4
    assert data["bins"][0] == {"lower": 0.0, "upper": 0.25, "count": 0,
                               "mean_confidence": None, "accuracy": None}


def test_positive_class_reliability_reports_observed_positive_rate_per_bin():
    # P(positive) 0.1, 0.2 -> bin [0,.5]: mean 0.15, positives 1/2;
    #             0.7, 0.9 -> bin (.5,1]:  mean 0.80, positives 2/2.
    curve = positive_class_reliability(["y", "n", "y", "y"], [0.1, 0.2, 0.7, 0.9],
                                       n_bins=2, positive_label="y")
    assert [b.count for b in curve] == [2, 2]
    assert curve[0].mean_predicted == pytest.approx(0.15)
    assert curve[0].fraction_positive == 0.5
    assert curve[1].mean_predicted == pytest.approx(0.8)
    assert curve[1].fraction_positive == 1.0


# --------------------------------------------------------------------------- calibrators


@pytest.mark.parametrize("kind", [OverconfidentWithLogits, Overconfident])
def test_temperature_scaling_lowers_ece_of_an_overconfident_model(three_class, kind):
    base, (Xc, yc), (Xt, yt) = three_class
    model = kind(base, sharpness=4.0)
    before = expected_calibration_error(yt, model.predict_proba(Xt), classes=model.classes_)

    scaled = TemperatureScaling(model).fit(Xc, yc)
    after = expected_calibration_error(yt, scaled.predict_proba(Xt), classes=scaled.classes_)

    assert scaled.logit_source_ == ("decision_function" if kind is OverconfidentWithLogits
                                    else "predict_proba")
    assert scaled.temperature_ > 2.0  # it undid most of the ×4 sharpening
    assert scaled.nll_after_ < scaled.nll_before_
    assert before > 0.1
    assert after < before / 2
    np.testing.assert_allclose(scaled.predict_proba(Xt).sum(axis=1), 1.0)


def test_temperature_scaling_never_changes_a_prediction(three_class):
    base, (Xc, yc), (Xt, yt) = three_class
    model = OverconfidentWithLogits(base, sharpness=4.0)
    scaled = TemperatureScaling(model).fit(Xc, yc)

    np.testing.assert_array_equal(scaled.predict(Xt), model.predict(Xt))
    assert scaled.score(Xt, yt) == model.score(Xt, yt)  # accuracy unchanged
    np.testing.assert_array_equal(scaled.predict_proba(Xt).argmax(axis=1),
                                  model.predict_proba(Xt).argmax(axis=1))


def test_temperature_scaling_binary_decision_function(binary):
    base, (Xc, yc), (Xt, yt) = binary
    model = OverconfidentWithLogits(base, sharpness=5.0)
    before = expected_calibration_error(yt, model.predict_proba(Xt))
    scaled = TemperatureScaling(model).fit(Xc, yc)
    assert scaled.predict_proba(Xt).shape == (len(yt), 2)
    assert expected_calibration_error(yt, scaled.predict_proba(Xt)) < before / 2
    np.testing.assert_array_equal(scaled.predict(Xt), base.predict(Xt))


def test_isotonic_calibration_lowers_ece_of_an_overconfident_model(three_class):
    base, (Xc, yc), (Xt, yt) = three_class
    model = Overconfident(base, sharpness=4.0)
    before = expected_calibration_error(yt, model.predict_proba(Xt), classes=model.classes_)

    iso = IsotonicCalibration(model).fit(Xc, yc)
    after = expected_calibration_error(yt, iso.predict_proba(Xt), classes=iso.classes_)

    assert after < before / 2
    np.testing.assert_array_equal(iso.classes_, model.classes_)
    assert iso.predict(Xt).shape == yt.shape
    assert iso.score(Xt, yt) > 0.5


def test_calibrators_have_estimator_manners(three_class):
    base, (Xc, yc), _ = three_class
    scaler = TemperatureScaling(base, logits="predict_proba")
    assert scaler.get_params()["logits"] == "predict_proba"
    assert not hasattr(scaler, "temperature_")  # __init__ only stores parameters
    assert scaler.fit(Xc, yc) is scaler
    fresh = clone(scaler)  # a scikit-learn clone: same parameters, nothing learned
    assert fresh.get_params()["logits"] == "predict_proba"
    assert not hasattr(fresh, "temperature_")
    iso = IsotonicCalibration(base)
    assert iso.fit(Xc, yc) is iso


def test_calibration_is_deterministic(three_class):
    base, (Xc, yc), (Xt, _) = three_class
    a = TemperatureScaling(base).fit(Xc, yc)
    b = TemperatureScaling(base).fit(Xc, yc)
    assert a.temperature_ == b.temperature_
    np.testing.assert_array_equal(IsotonicCalibration(base).fit(Xc, yc).predict_proba(Xt),
                                  IsotonicCalibration(base).fit(Xc, yc).predict_proba(Xt))


# --------------------------------------------------------------------------- bad input


def test_ece_rejects_mismatched_lengths_and_unknown_labels():
    with pytest.raises(InvalidInput, match="one row per sample"):
        expected_calibration_error([0, 1, 1], [[0.5, 0.5], [0.2, 0.8]])
    with pytest.raises(InvalidInput, match="Label 'z' is not one of the classes"):
        expected_calibration_error(["a", "z"], [[0.5, 0.5], [0.2, 0.8]], classes=["a", "b"])
    with pytest.raises(InvalidInput, match="n_bins must be a positive integer"):
        expected_calibration_error([0, 1], [0.4, 0.6], n_bins=0)
    with pytest.raises(InvalidInput, match="outside \\[0, 1\\]"):
        expected_calibration_error([0, 1], [[2.0, -1.0], [0.2, 0.8]])


def test_calibrators_reject_bad_input(three_class):
    base, (Xc, yc), _ = three_class
    with pytest.raises(InvalidInput, match="single class"):
        TemperatureScaling(base).fit(Xc[yc == 0], yc[yc == 0])
    X_nan = Xc.copy()
    X_nan[3, 2] = np.nan
    with pytest.raises(InvalidInput, match="NaN"):
        TemperatureScaling(base).fit(X_nan, yc)
    with pytest.raises(InvalidInput, match="NaN"):
        IsotonicCalibration(base).fit(X_nan, yc)
    with pytest.raises(InvalidInput, match="one row per sample.*X has 1500.*y has 1499"):
        TemperatureScaling(base).fit(Xc, yc[:-1])
    with pytest.raises(InvalidInput, match="LogisticRegression is not fitted"):
        TemperatureScaling(LogisticRegression()).fit(Xc, yc)
    with pytest.raises(InvalidInput, match="LinearSVC has no predict_proba"):
        TemperatureScaling(LinearSVC().fit(Xc, yc), logits="predict_proba").fit(Xc, yc)
    with pytest.raises(InvalidInput, match="never saw"):
        IsotonicCalibration(base).fit(Xc, np.where(yc == 0, 7, yc))
