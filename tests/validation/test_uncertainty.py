"""Uncertainty: conformal coverage (MAPIE), Mondrian groups, ensembles, MC dropout."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures
from sklearn.svm import LinearSVC

from gxpml.errors import InvalidInput
from gxpml.validation.calibration import TemperatureScaling
from gxpml.validation.uncertainty import (
    BootstrapEnsembleClassifier,
    BootstrapEnsembleRegressor,
    ConformalClassifier,
    ConformalRegressor,
    mc_dropout_classification,
    mc_dropout_regression,
)

TARGET = 0.9
TOLERANCE = 0.03  # on 3000 held-out rows the sampling s.d. of coverage is about 0.006

# --------------------------------------------------------------------------- data


@pytest.fixture(scope="module")
def classes3():
    """A fitted 3-class model, 2000 calibration rows and 3000 held-out test rows."""
    X, y = make_classification(n_samples=6000, n_features=8, n_informative=5, n_classes=3,
                               flip_y=0.05, class_sep=0.8, random_state=0)
    model = LogisticRegression(max_iter=1000).fit(X[:1000], y[:1000])
    return model, (X[1000:3000], y[1000:3000]), (X[3000:], y[3000:])


def _linear(n: int, rng: np.random.Generator):
    """y = x·w + noise; the 30 % of rows in group "noisy" have 6× the noise of "quiet" rows."""
    X = rng.normal(size=(n, 3))
    groups = np.where(rng.random(n) < 0.3, "noisy", "quiet")
    noise = rng.normal(size=n) * np.where(groups == "noisy", 3.0, 0.5)
    return X, X @ np.array([1.0, 2.0, -1.0]) + noise, groups


@pytest.fixture(scope="module")
def linear():
    """1000 training, 2000 calibration and 3000 held-out test rows."""
    rng = np.random.default_rng(7)
    return _linear(1000, rng), _linear(2000, rng), _linear(3000, rng)


# --------------------------------------------------------------------------- classification


@pytest.mark.parametrize("method", ["lac", "aps", "raps"])
def test_prediction_sets_cover_the_target_share_of_held_out_rows(classes3, method):
    model, (Xc, yc), (Xt, yt) = classes3
    conformal = ConformalClassifier(model, method=method, confidence_level=TARGET).fit(Xc, yc)
    result = conformal.evaluate(Xt, yt)

    assert abs(result.coverage.point - TARGET) <= TOLERANCE
    assert result.n == 3000 and result.n_calibration == 2000
    assert 1.0 <= result.mean_size.point < 3.0  # informative: smaller than "all classes"
    assert result.coverage.lower < result.coverage.point < result.coverage.upper
    sets = conformal.predict_set(Xt)
    assert sets.shape == (3000, 3) and sets.dtype == bool
    assert result.mean_size.point == pytest.approx(sets.sum(axis=1).mean())


def test_lac_gives_smaller_sets_than_aps(classes3):
    # LAC minimises the mean set size; APS trades size for adaptivity.
    model, (Xc, yc), (Xt, yt) = classes3
    lac = ConformalClassifier(model, method="lac").fit(Xc, yc).evaluate(Xt, yt)
    aps = ConformalClassifier(model, method="aps").fit(Xc, yc).evaluate(Xt, yt)
    assert lac.mean_size.point < aps.mean_size.point


def test_higher_confidence_gives_larger_sets_and_more_coverage(classes3):
    model, (Xc, yc), (Xt, yt) = classes3
    low = ConformalClassifier(model, confidence_level=0.8).fit(Xc, yc).evaluate(Xt, yt)
    high = ConformalClassifier(model, confidence_level=0.95).fit(Xc, yc).evaluate(Xt, yt)
    assert high.coverage.point > low.coverage.point
    assert high.mean_size.point > low.mean_size.point


def test_mondrian_classification_covers_a_group_with_noisy_labels():
    # Group "b" has 30 % of its labels scrambled: one pooled quantile under-covers it.
    X, y = make_classification(n_samples=6000, n_features=6, n_informative=4, n_classes=3,
                               random_state=3)
    rng = np.random.default_rng(3)
    groups = np.where(rng.random(6000) < 0.5, "a", "b")
    scramble = (groups == "b") & (rng.random(6000) < 0.3)
    y = np.where(scramble, rng.integers(0, 3, 6000), y)
    model = LogisticRegression(max_iter=1000).fit(X[:1000], y[:1000])
    cal, test = slice(1000, 3000), slice(3000, None)

    pooled = ConformalClassifier(model).fit(X[cal], y[cal]).evaluate(X[test], y[test],
                                                                     groups[test])
    mondrian = ConformalClassifier(model).fit(X[cal], y[cal], groups[cal]).evaluate(
        X[test], y[test], groups[test])

    assert pooled.group("b").coverage.point < TARGET - TOLERANCE
    assert not pooled.mondrian and mondrian.mondrian
    for name in ("a", "b"):  # ~1000 calibration and ~1500 test rows per group
        assert abs(mondrian.group(name).coverage.point - TARGET) <= 0.04
    assert mondrian.group("b").mean_size.point > mondrian.group("a").mean_size.point


def test_conformal_classifier_accepts_a_calibrated_model(classes3):
    # A model without predict_proba can be wrapped in a calibrator first (composition).
    _, (Xc, yc), (Xt, yt) = classes3
    svc = LinearSVC().fit(Xc[:1000], yc[:1000])
    scaled = TemperatureScaling(svc).fit(Xc[1000:1500], yc[1000:1500])
    result = ConformalClassifier(scaled).fit(Xc[1500:], yc[1500:]).evaluate(Xt, yt)
    assert abs(result.coverage.point - TARGET) <= TOLERANCE + 0.01
    np.testing.assert_array_equal(ConformalClassifier(scaled).fit(Xc[1500:], yc[1500:])
                                  .predict(Xt), svc.predict(Xt))


# --------------------------------------------------------------------------- regression


def test_split_conformal_intervals_cover_the_target(linear):
    (Xtr, ytr, _), (Xc, yc, _), (Xt, yt, _) = linear
    model = LinearRegression().fit(Xtr, ytr)
    conformal = ConformalRegressor(model).fit(Xc, yc)
    result = conformal.evaluate(Xt, yt)

    assert abs(result.coverage.point - TARGET) <= TOLERANCE
    bounds = conformal.predict_interval(Xt)
    assert bounds.shape == (3000, 2) and (bounds[:, 0] < bounds[:, 1]).all()
    assert result.mean_size.point == pytest.approx((bounds[:, 1] - bounds[:, 0]).mean())
    np.testing.assert_allclose(conformal.predict(Xt), model.predict(Xt))


@pytest.mark.parametrize(("method", "estimator"), [
    ("cross", LinearRegression()),
    ("jackknife_plus_ab", LinearRegression()),
    ("cqr", GradientBoostingRegressor(loss="quantile", n_estimators=50, random_state=0)),
])
def test_cross_jackknife_and_cqr_intervals_cover_the_target(linear, method, estimator):
    (Xtr, ytr, _), (Xc, yc, _), (Xt, yt, _) = linear
    X, y = np.vstack([Xtr, Xc]), np.concatenate([ytr, yc])
    result = ConformalRegressor(estimator, method=method).fit(X, y).evaluate(Xt, yt)
    assert result.method == method
    assert abs(result.coverage.point - TARGET) <= TOLERANCE


def test_mondrian_regression_covers_each_group_where_pooled_split_does_not(linear):
    (Xtr, ytr, _), (Xc, yc, gc), (Xt, yt, gt) = linear
    model = LinearRegression().fit(Xtr, ytr)

    pooled = ConformalRegressor(model).fit(Xc, yc).evaluate(Xt, yt, gt)
    mondrian = ConformalRegressor(model).fit(Xc, yc, gc).evaluate(Xt, yt, gt)

    # One pooled quantile is too narrow for the noisy group (and too wide for the quiet one).
    assert pooled.group("noisy").coverage.point < TARGET - 0.05
    assert pooled.group("quiet").coverage.point > TARGET + 0.05
    # Each group has only ~600 calibration and ~900 test rows: allow 0.04.
    for name in ("noisy", "quiet"):
        assert abs(mondrian.group(name).coverage.point - TARGET) <= 0.04
        assert mondrian.group(name).n == int((gt == name).sum())
    assert mondrian.group("noisy").mean_size.point > 3 * mondrian.group("quiet").mean_size.point


def test_conformal_results_are_seeded_and_json_safe(classes3):
    model, (Xc, yc), (Xt, yt) = classes3

    def run() -> dict:
        return ConformalClassifier(model, method="raps").fit(Xc, yc).evaluate(
            Xt, yt, groups=yt % 2).to_dict()

    first = run()
    assert run() == first
    data = json.loads(json.dumps(first, allow_nan=False))
    assert data["size_kind"] == "set_size"
    assert set(data["coverage"]) == {"point", "lower", "upper", "level"}
    assert [g["group"] for g in data["groups"]] == ["0", "1"]


# --------------------------------------------------------------------------- ensembles


def test_ensemble_spread_grows_off_the_training_distribution():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(300, 1))
    y = np.sin(2 * x[:, 0]) + rng.normal(scale=0.1, size=300)
    ensemble = BootstrapEnsembleRegressor(
        make_pipeline(PolynomialFeatures(3), Ridge(alpha=1e-3)), n_members=20).fit(x, y)

    inside = ensemble.predict_uncertainty(np.linspace(-0.9, 0.9, 50).reshape(-1, 1))
    outside = ensemble.predict_uncertainty(np.linspace(3, 4, 50).reshape(-1, 1))

    assert outside.std.mean() > 10 * inside.std.mean()
    assert inside.std.min() > 0
    assert inside.n_members == 20
    np.testing.assert_allclose(ensemble.predict(x[:5]), ensemble.predict_uncertainty(x[:5]).mean)


def test_classification_ensemble_decomposes_entropy(classes3):
    _, (Xc, yc), (Xt, _) = classes3
    ensemble = BootstrapEnsembleClassifier(LogisticRegression(max_iter=500),
                                           n_members=8).fit(Xc[:300], yc[:300])
    u = ensemble.predict_uncertainty(Xt[:200])

    np.testing.assert_allclose(u.proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(u.proba, ensemble.predict_proba(Xt[:200]))
    np.testing.assert_allclose(u.predictive_entropy, u.expected_entropy + u.mutual_information,
                               atol=1e-12)
    assert (u.mutual_information >= 0).all() and u.mutual_information.max() > 0
    assert (u.predictive_entropy <= np.log(3) + 1e-12).all()
    assert 0 < u.disagreement.max() <= 1
    np.testing.assert_array_equal(ensemble.classes_, [0, 1, 2])
    assert json.dumps(u.to_dict(), allow_nan=False)


def test_identical_members_have_no_epistemic_uncertainty(classes3):
    # A seed ensemble of a deterministic model without bootstrap: all members agree.
    _, (Xc, yc), (Xt, _) = classes3
    u = BootstrapEnsembleClassifier(LogisticRegression(max_iter=500), n_members=3,
                                    bootstrap=False).fit(Xc, yc).predict_uncertainty(Xt[:50])
    np.testing.assert_allclose(u.mutual_information, 0.0, atol=1e-12)
    assert (u.disagreement == 0).all()


def test_ensembles_are_seeded_and_have_estimator_manners(linear):
    (X, y, _), _, _ = linear
    ensemble = BootstrapEnsembleRegressor(LinearRegression(), n_members=5, random_state=3)
    assert not hasattr(ensemble, "members_")
    assert ensemble.fit(X, y) is ensemble
    again = clone(ensemble).fit(X, y)
    np.testing.assert_array_equal(ensemble.predict_uncertainty(X).std,
                                  again.predict_uncertainty(X).std)
    other = BootstrapEnsembleRegressor(LinearRegression(), n_members=5, random_state=4).fit(X, y)
    assert not np.array_equal(ensemble.predict_uncertainty(X).std,
                              other.predict_uncertainty(X).std)
    assert ensemble.score(X, y) > 0.5  # a RegressorMixin: composes with scikit-learn


# --------------------------------------------------------------------------- MC dropout


def _net(dropout: bool = True):
    import torch

    torch.manual_seed(0)
    layers = [torch.nn.Linear(4, 32), torch.nn.BatchNorm1d(32), torch.nn.ReLU()]
    if dropout:
        layers.append(torch.nn.Dropout(p=0.3))
    layers.append(torch.nn.Linear(32, 3))
    net = torch.nn.Sequential(*layers)
    net.train()
    net(torch.randn(64, 4))  # give batch norm non-trivial running statistics
    return net


def test_mc_dropout_spread_is_positive_and_seeded():
    import torch

    net = _net()
    X = np.random.default_rng(0).normal(size=(20, 4))
    bn = net[1]
    running_mean = bn.running_mean.clone()
    rng_state = torch.random.get_rng_state()

    first = mc_dropout_classification(net, X, n_passes=30, random_state=1)
    again = mc_dropout_classification(net, X, n_passes=30, random_state=1)
    other = mc_dropout_classification(net, X, n_passes=30, random_state=2)

    assert first.mutual_information.mean() > 0
    assert first.n_members == 30
    np.testing.assert_allclose(first.proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(first.proba, again.proba)
    assert not np.array_equal(first.proba, other.proba)
    # Batch norm stayed in eval mode (running stats untouched); modes and the caller's
    # global RNG are as they were.
    assert torch.equal(bn.running_mean, running_mean)
    assert net.training and all(m.training for m in net.modules())
    assert torch.equal(torch.random.get_rng_state(), rng_state)


def test_mc_dropout_regression_gives_mean_and_std_per_row():
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(),
                              torch.nn.Dropout(0.2), torch.nn.Linear(16, 1)).eval()
    X = torch.randn(10, 4)
    u = mc_dropout_regression(net, X, n_passes=25, random_state=0)
    assert u.mean.shape == (10,) and u.std.shape == (10,)
    assert (u.std > 0).all()
    assert not net.training and not net[2].training  # eval mode restored
    assert u.to_dict() == mc_dropout_regression(net, X, n_passes=25).to_dict()


# --------------------------------------------------------------------------- bad input


def test_conformal_rejects_bad_input(classes3):
    model, (Xc, yc), _ = classes3
    with pytest.raises(InvalidInput, match="LinearSVC has no predict_proba; conformal"):
        ConformalClassifier(LinearSVC().fit(Xc, yc)).fit(Xc, yc)
    for level in (0.0, 1.0, 1.5, -0.1):
        with pytest.raises(InvalidInput, match="confidence_level must be strictly between 0 and 1"):
            ConformalClassifier(model, confidence_level=level).fit(Xc, yc)
    with pytest.raises(InvalidInput, match="Too few calibration rows in total: 5.*at least 10"):
        ConformalClassifier(model).fit(Xc[:5], yc[:5])
    with pytest.raises(InvalidInput, match="Too few calibration rows in group 'b': 9"):
        ConformalRegressor(LinearRegression().fit(Xc, yc)).fit(
            Xc[:59], yc[:59], ["a"] * 50 + ["b"] * 9)
    with pytest.raises(InvalidInput, match="at least 100"):
        ConformalClassifier(model, confidence_level=0.99).fit(Xc[:60], yc[:60])
    X_nan = Xc.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(InvalidInput, match="X contains 1 NaN"):
        ConformalClassifier(model).fit(X_nan, yc)
    with pytest.raises(InvalidInput, match="one row per sample.*X has 2000.*y has 10"):
        ConformalClassifier(model).fit(Xc, yc[:10])
    with pytest.raises(InvalidInput, match="method must be one of"):
        ConformalClassifier(model, method="top-k").fit(Xc, yc)
    with pytest.raises(InvalidInput, match="is not fitted"):
        ConformalRegressor(LinearRegression()).fit(Xc, yc)


def test_mondrian_needs_groups_at_prediction_and_a_split_method(linear):
    (Xtr, ytr, _), (Xc, yc, gc), (Xt, _, _) = linear
    conformal = ConformalRegressor(LinearRegression().fit(Xtr, ytr)).fit(Xc, yc, gc)
    with pytest.raises(InvalidInput, match="calibrated per group \\(Mondrian\\); pass the groups"):
        conformal.predict_interval(Xt)
    with pytest.raises(InvalidInput, match="Group\\(s\\) \\['other'\\] had no calibration rows"):
        conformal.predict_interval(Xt[:3], ["quiet", "noisy", "other"])
    with pytest.raises(InvalidInput, match="needs method='split'"):
        ConformalRegressor(LinearRegression(), method="cross").fit(Xc, yc, gc)


def test_ensembles_and_mc_dropout_reject_bad_input(classes3):
    _, (Xc, yc), _ = classes3
    with pytest.raises(InvalidInput, match="LinearSVC has no predict_proba"):
        BootstrapEnsembleClassifier(LinearSVC()).fit(Xc, yc)
    with pytest.raises(InvalidInput, match="single class"):
        BootstrapEnsembleClassifier(LogisticRegression()).fit(Xc[yc == 1], yc[yc == 1])
    with pytest.raises(InvalidInput, match="n_members must be a positive integer"):
        BootstrapEnsembleRegressor(LinearRegression(), n_members=0).fit(Xc, yc)
    with pytest.raises(InvalidInput, match="is a classifier; use BootstrapEnsembleClassifier"):
        BootstrapEnsembleRegressor(LogisticRegression()).fit(Xc, yc)
    with pytest.raises(InvalidInput, match="Sequential has no dropout layer"):
        mc_dropout_classification(_net(dropout=False), Xc[:5, :4])
    X_nan = Xc[:5, :4].copy()
    X_nan[1, 1] = np.nan
    with pytest.raises(InvalidInput, match="NaN"):
        mc_dropout_regression(_net(), X_nan)
    with pytest.raises(InvalidInput, match="n_passes must be an integer of at least 2"):
        mc_dropout_regression(_net(), Xc[:5, :4], n_passes=1)
