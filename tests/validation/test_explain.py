"""Explanations: SHAP (tree and kernel), LIME, counterfactuals, global explanations, stability."""

from __future__ import annotations

import json
import math
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.ensemble import (
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from gxpml.errors import InvalidInput
from gxpml.validation.explain import ModelExplainer, clarify_nsamples

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    """300 rows: a, b, c informative, d and e pure noise."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 5)), columns=["a", "b", "c", "d", "e"])
    logit = 2.0 * X["a"] - 1.5 * X["b"] + 1.0 * X["c"]
    y = (logit + rng.normal(scale=0.5, size=300) > 0).astype(int).to_numpy()
    return X, y


@pytest.fixture(scope="module")
def forest(data: tuple[pd.DataFrame, np.ndarray]) -> RandomForestClassifier:
    X, y = data
    return RandomForestClassifier(n_estimators=30, max_depth=5, random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def logistic(data: tuple[pd.DataFrame, np.ndarray]) -> Any:
    X, y = data
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)


def dumps(result: Any) -> str:
    return json.dumps(result.to_dict(), sort_keys=True, allow_nan=False)


# --------------------------------------------------------------------------- SHAP


def test_tree_shap_of_a_forest_adds_up_to_its_probability_per_row(data, forest):
    X, _ = data
    explanation = ModelExplainer(forest).fit(X).shap_values(X.iloc[:80])
    assert explanation.method == "tree"
    assert explanation.output == "probability"
    assert explanation.explained_class == 1
    total = explanation.base_values + explanation.values.sum(axis=1)
    np.testing.assert_allclose(total, forest.predict_proba(X.iloc[:80])[:, 1], atol=1e-9)


def test_tree_shap_of_lightgbm_adds_up_to_its_log_odds_and_class_0_is_the_mirror(data):
    X, y = data
    model = lgb.LGBMClassifier(n_estimators=30, num_leaves=8, verbose=-1,
                               random_state=0).fit(X, y)
    positive = ModelExplainer(model).fit(X).shap_values(X)
    assert positive.output == "log_odds"
    raw = model.predict(X, raw_score=True)
    np.testing.assert_allclose(positive.model_output, raw, atol=1e-6)
    negative = ModelExplainer(model, explained_class=0).fit(X).shap_values(X)
    np.testing.assert_allclose(negative.values, -positive.values)
    np.testing.assert_allclose(negative.model_output, -raw, atol=1e-6)


def test_tree_shap_takes_nan_for_a_model_that_routes_missing_values(data):
    X, y = data
    X = X.copy()
    X.loc[::7, "b"] = np.nan
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y)
    explanation = ModelExplainer(model).fit(X).shap_values(X)
    np.testing.assert_allclose(explanation.model_output, model.decision_function(X), atol=1e-6)


def test_tree_at_the_end_of_a_pipeline_is_explained_on_the_transformed_features(data):
    X, y = data
    X = X.assign(site=np.arange(len(X)) % 3)
    prep = ColumnTransformer([("num", StandardScaler(), ["a", "b", "c", "d", "e"]),
                              ("cat", OneHotEncoder(), ["site"])])
    model = make_pipeline(prep, HistGradientBoostingClassifier(max_iter=20, random_state=0))
    model.fit(X, y)
    explanation = ModelExplainer(model).fit(X).shap_values(X.iloc[:50])
    assert explanation.method == "tree"
    assert explanation.feature_space == "transformed"
    assert explanation.feature_names == tuple(model[:-1].get_feature_names_out())
    assert "cat__site_2" in explanation.feature_names
    np.testing.assert_allclose(explanation.model_output,
                               model.decision_function(X.iloc[:50]), atol=1e-6)


def test_kernel_shap_agrees_with_tree_shap_on_an_additive_tree_model():
    # Stumps make the model additive; with the whole (40-row) training set as the k-means
    # background and all 2^3 − 2 coalitions, both methods compute the same exact Shapley values.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3))
    y = 3 * X[:, 0] + np.sin(2 * X[:, 1]) + rng.normal(scale=0.1, size=40)
    model = GradientBoostingRegressor(max_depth=1, n_estimators=30, random_state=0).fit(X, y)
    tree = ModelExplainer(model).fit(X).shap_values(X[:10])
    kernel = ModelExplainer(model, shap_method="kernel", n_background=40).fit(X)
    kernel_values = kernel.shap_values(X[:10])
    assert kernel_values.method == "kernel" and kernel_values.nsamples == 6
    np.testing.assert_allclose(kernel_values.values, tree.values, atol=1e-6)
    np.testing.assert_allclose(kernel_values.base_values, tree.base_values, atol=1e-6)


def test_kernel_shap_explains_the_positive_class_probability(data, logistic):
    X, _ = data
    explainer = ModelExplainer(logistic, n_background=10).fit(X)
    assert explainer.shap_method_ == "kernel"
    assert explainer.background_.shape == (10, 5)
    assert explainer.background_weights_.sum() == len(X)
    explanation = explainer.shap_values(X.iloc[:30])
    assert explanation.output == "probability"
    np.testing.assert_allclose(explanation.model_output,
                               logistic.predict_proba(X.iloc[:30])[:, 1], atol=1e-9)
    assert {name for name, _ in explanation.ranking()[-2:]} == {"d", "e"}  # the noise


def test_permutation_shap_is_available_on_request(data, logistic):
    X, _ = data
    explanation = ModelExplainer(logistic, shap_method="permutation",
                                 n_background=10).fit(X).shap_values(X.iloc[:4])
    assert explanation.method == "permutation"
    np.testing.assert_allclose(explanation.model_output,
                               logistic.predict_proba(X.iloc[:4])[:, 1], atol=1e-6)


def test_clarify_sample_count_follows_its_formula():
    assert clarify_nsamples(3) == 6
    assert clarify_nsamples(11) == 2046
    assert clarify_nsamples(12) == 2 * 12 + 2048
    assert clarify_nsamples(30) == 2108


def test_multiclass_needs_a_named_class_and_then_explains_it():
    X, y = make_classification(n_samples=150, n_features=4, n_informative=3, n_redundant=0,
                               n_classes=3, random_state=0)
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    with pytest.raises(InvalidInput, match=r"3 classes .* explained_class"):
        ModelExplainer(model).fit(X)
    explanation = ModelExplainer(model, explained_class=2).fit(X).shap_values(X[:20])
    np.testing.assert_allclose(explanation.model_output, model.predict_proba(X[:20])[:, 2],
                               atol=1e-9)


def test_progress_is_reported_up_to_the_total(data, logistic):
    X, _ = data
    seen: list[tuple[int, int]] = []
    ModelExplainer(logistic, n_background=10).fit(X).shap_values(
        X.iloc[:3], progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


# --------------------------------------------------------------------------- LIME


def test_lime_gives_identical_weights_for_the_same_call_and_depends_on_the_seed(data, logistic):
    X, _ = data
    explainer = ModelExplainer(logistic).fit(X)
    first = explainer.lime(X, 7, num_samples=1000)
    second = explainer.lime(X, 7, num_samples=1000)
    assert dumps(first) == dumps(second)
    other = ModelExplainer(logistic, random_state=1).fit(X).lime(X, 7, num_samples=1000)
    assert other.weights != first.weights
    assert first.model_prediction == pytest.approx(logistic.predict_proba(X.iloc[[7]])[0, 1])
    # the model's strongest features carry the largest local weights
    strongest = sorted(range(5), key=lambda j: -abs(first.weights[j]))[:2]
    assert {first.feature_names[j] for j in strongest} == {"a", "b"}


def test_lime_explains_a_regressor_with_the_prediction_sign(data):
    X, _ = data
    y = 4 * X["a"].to_numpy() - 0.1 * X["d"].to_numpy()
    model = LinearRegression().fit(X, y)
    explanation = ModelExplainer(model).fit(X).lime(X, 0, num_samples=500)
    assert explanation.explained_class is None
    assert explanation.weights[0] > 0 and abs(explanation.weights[0]) == max(
        abs(w) for w in explanation.weights)


# --------------------------------------------------------------------------- counterfactuals


@pytest.mark.parametrize("model_name", ["forest", "logistic"])
def test_counterfactual_really_flips_the_prediction_and_keeps_immutables(
        data, request, model_name):
    X, _ = data
    model = request.getfixturevalue(model_name)
    explainer = ModelExplainer(model).fit(X)
    for row in (0, 5, 11):
        result = explainer.counterfactual(X, row, immutable=["a", "d"])
        assert result.found, result.message
        before = model.predict(X.iloc[[row]])[0]
        counterfactual = pd.DataFrame([result.counterfactual])[list(X.columns)]
        assert model.predict(counterfactual)[0] == 1 - before == result.target
        assert counterfactual.at[0, "a"] == X.at[row, "a"]
        assert counterfactual.at[0, "d"] == X.at[row, "d"]
        changed = {c.feature for c in result.changes}
        assert changed and not changed & {"a", "d"}
        untouched = [c for c in X.columns if c not in changed]
        assert (counterfactual[untouched].to_numpy() == X.loc[[row], untouched].to_numpy()).all()
        for change in result.changes:  # default bounds: the observed range
            assert X[change.feature].min() <= change.new <= X[change.feature].max()
            assert change.scaled_change == pytest.approx(
                abs(change.new - change.old) / explainer.scale_[list(X.columns).index(
                    change.feature)])
        assert result.distance == pytest.approx(sum(c.scaled_change for c in result.changes))


def test_counterfactual_respects_explicit_bounds(data, logistic):
    X, _ = data
    row = int(np.flatnonzero(logistic.predict(X) == 1)[0])
    result = ModelExplainer(logistic).fit(X).counterfactual(
        X, row, immutable=["a"], bounds={"b": (None, X.at[row, "b"])})
    assert result.found
    new_b = result.counterfactual["b"]
    assert new_b <= X.at[row, "b"]


def test_counterfactual_reports_not_found_when_only_immutable_features_matter(data):
    X, y = data
    stump = DecisionTreeClassifier(max_depth=1, random_state=0).fit(X[["a"]].assign(
        b=0.0, c=0.0, d=0.0, e=0.0), y)
    assert stump.tree_.feature[0] == 0  # the stump splits on a only
    result = ModelExplainer(stump).fit(X).counterfactual(X, 0, immutable=["a"])
    assert not result.found
    assert result.changes == () and math.isnan(result.distance)
    assert "no change" in result.message
    json.dumps(result.to_dict(), allow_nan=False)


def test_counterfactual_of_a_regressor_reaches_the_target_interval(data):
    X, _ = data
    model = LinearRegression().fit(X, 2 * X["a"] + X["b"])
    explainer = ModelExplainer(model).fit(X)
    result = explainer.counterfactual(X, 3, target=(1.0, 2.0), immutable=["b"])
    assert result.found
    prediction = model.predict(pd.DataFrame([result.counterfactual])[list(X.columns)])[0]
    assert 1.0 <= prediction <= 2.0
    assert result.target == [1.0, 2.0]
    assert [c.feature for c in result.changes] == ["a"]  # c, d, e do not move the prediction
    # a single value is a threshold to cross from where the prediction is
    crossing = explainer.counterfactual(X, 3, target=0.0)
    assert crossing.found and crossing.counterfactual_prediction >= 0.0
    assert crossing.to_dict()["target"] == [0.0, "inf"]


def test_counterfactual_to_a_chosen_class_of_a_multiclass_model():
    X, y = make_classification(n_samples=200, n_features=4, n_informative=3, n_redundant=0,
                               n_classes=3, random_state=3)
    model = LogisticRegression().fit(X, y)
    row = int(np.flatnonzero(model.predict(X) == 0)[0])
    result = ModelExplainer(model, explained_class=0).fit(X).counterfactual(X, row, target=2)
    assert result.found
    assert model.predict(np.array([list(result.counterfactual.values())]))[0] == 2


# --------------------------------------------------------------------------- global


def test_permutation_importance_ranks_an_informative_feature_above_noise(data, forest):
    X, y = data
    result = ModelExplainer(forest).fit(X).permutation_importance(X, y, n_repeats=4)
    mean = dict(zip(result.feature_names, result.importances_mean, strict=True))
    assert mean["a"] > mean["d"] + 0.05 and mean["a"] > mean["e"] + 0.05
    assert result.ranking()[0][0] == "a"
    assert all(s >= 0 for s in result.importances_std) and any(
        s > 0 for s in result.importances_std)
    assert result.baseline_score == pytest.approx(forest.score(X, y))


def test_partial_dependence_gives_a_grid_an_average_and_downsampled_ice_lines(data, forest):
    X, _ = data
    result = ModelExplainer(forest).fit(X).partial_dependence(
        X, ["a", 3], grid_resolution=12, ice_lines=7)
    assert [c.feature for c in result.curves] == ["a", "d"]
    for curve in result.curves:
        assert len(curve.grid) == 12 and len(curve.average) == 12
        assert len(curve.ice) == 7 and all(len(line) == 12 for line in curve.ice)
        assert len(set(curve.ice_rows)) == 7
        assert all(0.0 <= v <= 1.0 for v in curve.average)
    a = result.curves[0]
    assert a.average[-1] > a.average[0]  # P(class 1) rises with a
    # one ICE line is the model along the grid with the other features of its row fixed
    row = X.iloc[[a.ice_rows[0]] * 12].copy()
    row["a"] = a.grid
    np.testing.assert_allclose(a.ice[0], forest.predict_proba(row)[:, 1], atol=1e-12)


def test_partial_dependence_average_is_the_mean_of_all_ice_lines(data, logistic):
    X, _ = data
    small = X.iloc[:40]
    curve = ModelExplainer(logistic).fit(X).partial_dependence(
        small, ["b"], grid_resolution=5, ice_lines=40).curves[0]
    np.testing.assert_allclose(curve.average, np.mean(curve.ice, axis=0), atol=1e-12)


def test_partial_dependence_takes_an_integer_feature_on_its_values(data):
    X, y = data
    X = X.assign(visits=np.arange(len(X)) % 4)
    model = LogisticRegression().fit(X, y + 0 * X["visits"])
    curve = ModelExplainer(model).fit(X).partial_dependence(X, ["visits"]).curves[0]
    assert curve.grid == (0.0, 1.0, 2.0, 3.0) and len(curve.average) == 4


def test_surrogate_fidelity_is_agreement_with_the_model_on_the_held_out_rows(data, forest):
    X, _ = data
    surrogate = ModelExplainer(forest).fit(X).surrogate_tree(X, max_depth=2, holdout=0.3)
    rows = list(surrogate.fidelity_rows)
    assert len(rows) == 90 and surrogate.measured_on == "holdout"
    expected = np.mean(surrogate.tree.predict(X.iloc[rows].to_numpy())
                       == forest.predict(X.iloc[rows]))
    assert surrogate.fidelity == pytest.approx(expected)
    assert surrogate.fidelity_metric == "agreement" and 0.5 < surrogate.fidelity <= 1.0
    assert surrogate.tree.get_depth() <= 2 and surrogate.n_leaves <= 4
    assert "class:" in surrogate.rules and any(n in surrogate.rules for n in "abc")


def test_surrogate_of_a_regressor_reports_r2_on_all_rows_when_nothing_is_held_out(data):
    X, _ = data
    model = GradientBoostingRegressor(n_estimators=20, random_state=0).fit(
        X, X["a"] ** 2 + X["b"])
    surrogate = ModelExplainer(model).fit(X).surrogate_tree(X, max_depth=3, holdout=0.0)
    assert surrogate.measured_on == "all rows" and len(surrogate.fidelity_rows) == len(X)
    assert surrogate.fidelity_metric == "r2"
    expected = r2_score(model.predict(X), surrogate.tree.predict(X.to_numpy()))
    assert surrogate.fidelity == pytest.approx(expected)
    assert surrogate.fidelity == surrogate.train_fidelity


# --------------------------------------------------------------------------- stability


def test_explanations_are_less_stable_under_large_noise_than_small(data, forest):
    X, _ = data
    explainer = ModelExplainer(forest).fit(X)
    small = explainer.stability(X, noise=0.02, repeats=3, max_rows=60)
    large = explainer.stability(X, noise=2.0, repeats=3, max_rows=60)
    assert small.per_row_mean > large.per_row_mean + 0.3
    assert small.global_rank_correlation >= large.global_rank_correlation
    assert small.stable and small.per_row_mean >= 0.8
    assert not large.stable
    assert len(large.rows) == 60 and len(large.per_row) == 60
    below = {r for r, v in zip(large.rows, large.per_row, strict=True) if v < 0.8}
    assert set(large.unstable_rows) == below and below


def test_lime_stability_is_measured_too(data, logistic):
    X, _ = data
    report = ModelExplainer(logistic).fit(X).stability(
        X.iloc[:6], method="lime", noise=0.01, repeats=2, lime_samples=500)
    assert report.method == "lime" and report.per_row_mean > 0.5


# --------------------------------------------------------------------------- determinism


def test_every_explanation_is_identical_when_asked_twice(data, logistic, forest):
    X, y = data

    def run() -> list[str]:
        kernel = ModelExplainer(logistic, n_background=10).fit(X)
        tree = ModelExplainer(forest).fit(X)
        return [
            dumps(kernel.shap_values(X.iloc[:3])),
            dumps(tree.shap_values(X.iloc[:20])),
            dumps(kernel.lime(X, 2, num_samples=500)),
            dumps(tree.counterfactual(X, 4, immutable=["e"])),
            dumps(tree.permutation_importance(X, y, n_repeats=2)),
            dumps(tree.partial_dependence(X, ["b"], grid_resolution=5, ice_lines=4)),
            dumps(tree.surrogate_tree(X)),
            dumps(tree.stability(X, repeats=2, max_rows=20)),
        ]

    assert run() == run()


# --------------------------------------------------------------------------- bad input


def test_nan_is_refused_where_the_explainer_cannot_take_it(data, logistic, forest):
    X, _ = data
    holed = X.copy()
    holed.loc[3, "c"] = np.nan
    with pytest.raises(InvalidInput, match=r"missing values; column\(s\) \['c'\] hold NaN"):
        ModelExplainer(logistic).fit(holed)
    explainer = ModelExplainer(logistic, n_background=10).fit(X)
    with pytest.raises(InvalidInput, match="cannot take missing values"):
        explainer.shap_values(holed.iloc[:5])
    with pytest.raises(InvalidInput, match="cannot take missing values"):
        explainer.lime(holed, 3)
    with pytest.raises(InvalidInput, match="cannot take missing values"):
        explainer.counterfactual(holed, 3)
    with pytest.raises(InvalidInput, match="Tree SHAP of RandomForestClassifier cannot take"):
        ModelExplainer(forest).fit(X).shap_values(holed)


def test_a_classifier_without_predict_proba_is_refused_where_probabilities_are_needed(data):
    X, y = data
    svc = SVC().fit(X, y)
    explainer = ModelExplainer(svc).fit(X)
    for call in (lambda: explainer.lime(X, 0), lambda: explainer.shap_values(X.iloc[:2]),
                 lambda: explainer.partial_dependence(X, ["a"])):
        with pytest.raises(InvalidInput, match="SVC has no predict_proba"):
            call()
    # a counterfactual needs only predictions: it uses the decision function as its guide
    assert explainer.counterfactual(X, 0).found


def test_unknown_feature_names_are_refused_with_the_column_list(data, forest):
    X, _ = data
    explainer = ModelExplainer(forest).fit(X)
    with pytest.raises(InvalidInput, match=r"unknown feature\(s\) \['age'\]; the columns are "
                                           r"\['a', 'b', 'c', 'd', 'e'\]"):
        explainer.counterfactual(X, 0, immutable=["age", "a"])
    with pytest.raises(InvalidInput, match=r"bounds names unknown feature\(s\) \['sex'\]"):
        explainer.counterfactual(X, 0, bounds={"sex": (0, 1)})
    with pytest.raises(InvalidInput, match=r"feature 'z' does not exist; the columns are"):
        explainer.partial_dependence(X, ["z"])
    with pytest.raises(InvalidInput, match=r"X lacks column\(s\) \['e'\]"):
        explainer.shap_values(X.drop(columns="e"))


def test_a_row_out_of_range_is_refused(data, forest):
    X, _ = data
    explainer = ModelExplainer(forest).fit(X)
    with pytest.raises(InvalidInput, match=r"row 300 is out of range: X has 300 rows"):
        explainer.counterfactual(X, 300)
    with pytest.raises(InvalidInput, match=r"row -301 is out of range"):
        explainer.lime(X, -301)


def test_a_regression_counterfactual_without_a_target_is_refused(data):
    X, _ = data
    model = LinearRegression().fit(X, X["a"])
    with pytest.raises(InvalidInput, match="regression model needs a target"):
        ModelExplainer(model).fit(X).counterfactual(X, 0)


def test_other_caller_mistakes_are_named(data, forest):
    X, y = data
    with pytest.raises(InvalidInput, match="RandomForestClassifier is not fitted"):
        ModelExplainer(RandomForestClassifier()).fit(X)
    with pytest.raises(InvalidInput, match=r"ModelExplainer is not fitted; call fit"):
        ModelExplainer(forest).shap_values(X)
    with pytest.raises(InvalidInput, match=r"explained_class=7 is not one of .* \[0, 1\]"):
        ModelExplainer(forest, explained_class=7).fit(X)
    with pytest.raises(InvalidInput, match="shap_method='tree' needs a tree ensemble"):
        ModelExplainer(LogisticRegression().fit(X, y), shap_method="tree").fit(X)
    with pytest.raises(InvalidInput, match=r"target=5 is not one of the model's classes"):
        ModelExplainer(forest).fit(X).counterfactual(X, 0, target=5)
