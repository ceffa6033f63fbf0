"""Clarify's bias metrics: each definition on a hand-counted table, the facet kinds, the
bootstrap, the fairlearn group table and every input the caller can get wrong."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gxpml.errors import InvalidInput
from gxpml.validation import bias
from gxpml.validation.bias import (
    ALL_METRICS,
    POST_TRAINING_METRICS,
    PRE_TRAINING_METRICS,
    TE_DEFINITION,
    BiasReport,
    bias_report,
    group_metrics_table,
)


def expand(table: list[tuple[Any, ...]], columns: tuple[str, ...]) -> pd.DataFrame:
    """A frame with ``count`` copies of each row ``(*values, count)`` of ``table``."""
    rows = [values[:-1] for values in table for _ in range(values[-1])]
    return pd.DataFrame(rows, columns=list(columns))


def point(report: BiasReport, name: str, index: int = 0) -> float:
    estimate = report.metric(name, index).estimate
    assert estimate is not None, report.metric(name, index).reason
    return estimate.point


# The worked example: 20 applicants, facet sex with d = "F"; label 1 = approved.
#
#   facet  y  y_hat  count           facet a = M (12 rows)      facet d = F (8 rows)
#   M      1  1      4   TP_a        n_a(1)  = 4 + 2 = 6         n_d(1)  = 1 + 2 = 3
#   M      1  0      2   FN_a        n'_a(1) = 4 + 2 = 6         n'_d(1) = 1 + 1 = 2
#   M      0  1      2   FP_a        n_a(0)  = 6, n'_a(0) = 6    n_d(0)  = 5, n'_d(0) = 6
#   M      0  0      4   TN_a
#   F      1  1      1   TP_d
#   F      1  0      2   FN_d
#   F      0  1      1   FP_d
#   F      0  0      4   TN_d
WORKED = [("M", 1, 1, 4), ("M", 1, 0, 2), ("M", 0, 1, 2), ("M", 0, 0, 4),
          ("F", 1, 1, 1), ("F", 1, 0, 2), ("F", 0, 1, 1), ("F", 0, 0, 4)]


@pytest.fixture
def worked() -> BiasReport:
    frame = expand(WORKED, ("sex", "approved", "model"))
    return bias_report(frame, label="approved", facet="sex", facet_values=["F"], positive=1,
                       predicted="model", n_bootstrap=0)


def test_worked_example_sizes(worked: BiasReport) -> None:
    facet = worked.facets[0]
    assert (facet.n_a, facet.n_d) == (12, 8)
    assert worked.n_rows == 20
    assert facet.sensitive == "sex in ['F']"


def test_pre_training_metrics_on_the_worked_example(worked: BiasReport) -> None:
    # q_a = 6/12 = 0.5, q_d = 3/8 = 0.375; P_a = (0.5, 0.5), P_d = (0.625, 0.375)
    assert point(worked, "CI") == pytest.approx((12 - 8) / 20)  # 0.2
    assert point(worked, "DPL") == pytest.approx(0.5 - 0.375)
    kl = 0.5 * math.log(0.5 / 0.625) + 0.5 * math.log(0.5 / 0.375)
    assert point(worked, "KL") == pytest.approx(kl)
    mid = (0.5625, 0.4375)
    js = 0.5 * (0.5 * math.log(0.5 / mid[0]) + 0.5 * math.log(0.5 / mid[1])
                + 0.625 * math.log(0.625 / mid[0]) + 0.375 * math.log(0.375 / mid[1]))
    assert point(worked, "JS") == pytest.approx(js)
    assert point(worked, "LP") == pytest.approx(math.sqrt(0.125**2 + 0.125**2))
    assert point(worked, "TVD") == pytest.approx(0.5 * (0.125 + 0.125))
    assert point(worked, "KS") == pytest.approx(0.125)


def test_post_training_metrics_on_the_worked_example(worked: BiasReport) -> None:
    # q'_a = 6/12 = 0.5, q'_d = 2/8 = 0.25
    assert point(worked, "DPPL") == pytest.approx(0.5 - 0.25)
    assert point(worked, "DI") == pytest.approx(0.25 / 0.5)
    assert point(worked, "DCA") == pytest.approx(6 / 6 - 3 / 2)  # n_a(1)/n'_a(1) - n_d(1)/n'_d(1)
    assert point(worked, "DCR") == pytest.approx(5 / 6 - 6 / 6)  # n_d(0)/n'_d(0) - n_a(0)/n'_a(0)
    assert point(worked, "DAR") == pytest.approx(4 / 6 - 1 / 2)  # TP/n'(1), a minus d
    assert point(worked, "DRR") == pytest.approx(4 / 6 - 4 / 6)  # TN/n'(0), d minus a
    assert point(worked, "RD") == pytest.approx(4 / 6 - 1 / 3)  # recall a minus d
    assert point(worked, "SD") == pytest.approx(4 / 5 - 4 / 6)  # specificity d minus a
    assert point(worked, "AD") == pytest.approx(8 / 12 - 5 / 8)  # accuracy a minus d
    assert point(worked, "TE") == pytest.approx(2 / 1 - 2 / 2)  # FN_d/FP_d - FN_a/FP_a
    # GE: b = 0 for the 4 FN, 1 for the 13 correct, 2 for the 3 FP; mean b = 19/20
    ge = (13 * (1 / 0.95) ** 2 + 3 * (2 / 0.95) ** 2 - 20) / (2 * 20)
    assert point(worked, "GE") == pytest.approx(ge)


def test_metric_metadata_and_the_te_choice(worked: BiasReport) -> None:
    facet = worked.facets[0]
    assert [m.name for m in facet.metrics] == list(ALL_METRICS)
    assert {m.name for m in facet.metrics if m.stage == "pre-training"} == set(
        PRE_TRAINING_METRICS)
    assert worked.metric("DI").ideal == 1.0
    assert all(m.ideal == 0.0 for m in facet.metrics if m.name != "DI")
    assert worked.metric("CI").value_range == "[-1, 1]"
    assert worked.metric("TE").description == (
        "Difference in false-negative to false-positive ratios: FN_d/FP_d - FN_a/FP_a.")
    assert worked.te_definition == TE_DEFINITION
    assert worked.to_dict()["te_definition"].startswith("FN_d/FP_d - FN_a/FP_a")


def test_without_group_or_features_cdd_and_ft_are_not_computed(worked: BiasReport) -> None:
    for name in ("CDDL", "CDDPL"):
        assert worked.metric(name).estimate is None
        assert "group=" in str(worked.metric(name).reason)
    assert worked.metric("FT").estimate is None
    assert "features=" in str(worked.metric("FT").reason)
    assert worked.to_dict()["facets"][0]["metrics"][ALL_METRICS.index("FT")]["computed"] is False


def test_pre_training_only_without_predictions() -> None:
    frame = expand(WORKED, ("sex", "approved", "model"))
    report = bias_report(frame, label="approved", facet="sex", facet_values="F", positive=1,
                         n_bootstrap=0)
    assert [m.name for m in report.facets[0].metrics] == list(PRE_TRAINING_METRICS)
    assert report.predicted is None


def test_metric_subset_in_clarify_order() -> None:
    frame = expand(WORKED, ("sex", "approved", "model"))
    report = bias_report(frame, label="approved", facet="sex", facet_values=["F"], positive=1,
                         predicted="model", metrics=["DI", "CI"], n_bootstrap=0)
    assert [m.name for m in report.facets[0].metrics] == ["CI", "DI"]


def test_labels_are_collapsed_to_positive_values() -> None:
    # Three label classes; "approved" and "referred" both count as positive.
    frame = expand([("M", "approved", 3), ("M", "referred", 3), ("M", "declined", 6),
                    ("F", "approved", 1), ("F", "declined", 7)], ("sex", "outcome"))
    report = bias_report(frame, label="outcome", facet="sex", facet_values=["F"],
                         positive=["approved", "referred"], n_bootstrap=0)
    assert point(report, "DPL") == pytest.approx(6 / 12 - 1 / 8)


# -- Clarify's divide: 0/0 → 0, x/0 → ±inf ---------------------------------------------


def test_division_by_zero_follows_clarify() -> None:
    # a: FN 2, TN 2 (no predicted positive);  d: TP 1, FP 1, FN 1, TN 1
    frame = expand([("a", 1, 0, 2), ("a", 0, 0, 2),
                    ("d", 1, 1, 1), ("d", 0, 1, 1), ("d", 1, 0, 1), ("d", 0, 0, 1)],
                   ("f", "y", "p"))
    report = bias_report(frame, label="y", facet="f", facet_values="d", positive=1,
                         predicted="p", n_bootstrap=0)
    assert point(report, "DI") == math.inf  # (2/4) / (0/4): x/0
    assert point(report, "DCA") == math.inf  # n_a(1)/n'_a(1) = 2/0 = inf, minus 2/2
    assert point(report, "DAR") == pytest.approx(0.0 - 1 / 2)  # TP_a/n'_a(1) = 0/0 = 0
    assert point(report, "TE") == -math.inf  # FN_d/FP_d = 1, FN_a/FP_a = 2/0 = inf
    assert point(report, "DCR") == pytest.approx(2 / 2 - 2 / 4)
    dumped = json.dumps(report.to_dict(), allow_nan=False)
    assert '"point": "inf"' in dumped and '"point": "-inf"' in dumped


def test_two_infinite_ratios_differ_by_zero_and_zero_over_zero_is_zero() -> None:
    # No predicted positive anywhere: a: FN 2, TN 2;  d: FN 1, TN 3
    frame = expand([("a", 1, 0, 2), ("a", 0, 0, 2), ("d", 1, 0, 1), ("d", 0, 0, 3)],
                   ("f", "y", "p"))
    report = bias_report(frame, label="y", facet="f", facet_values="d", positive=1,
                         predicted="p", n_bootstrap=0)
    assert point(report, "DI") == 0.0  # (0/4) / (0/4) = 0/0
    assert point(report, "DCA") == 0.0  # 2/0 - 1/0 = inf - inf, taken as 0
    assert point(report, "TE") == 0.0  # FN/FP = inf in both facets
    assert point(report, "DPPL") == 0.0


def test_infinite_resamples_give_a_readable_interval() -> None:
    frame = expand([("a", 1, 0, 2), ("a", 0, 0, 2),
                    ("d", 1, 1, 1), ("d", 0, 1, 1), ("d", 1, 0, 1), ("d", 0, 0, 1)],
                   ("f", "y", "p"))
    report = bias_report(frame, label="y", facet="f", facet_values="d", positive=1,
                         predicted="p", n_bootstrap=200, seed=3)
    estimate = report.metric("DI").estimate
    assert estimate is not None
    assert estimate.point == math.inf and estimate.upper == math.inf
    json.dumps(report.to_dict(), allow_nan=False)


def test_kl_is_infinite_when_a_label_value_never_occurs_in_facet_d() -> None:
    # P_a = (0.5, 0.5), P_d = (1, 0): KL(P_a‖P_d) has 0.5·log(0.5/0) = +inf
    frame = expand([("a", 1, 2), ("a", 0, 2), ("d", 0, 4)], ("f", "y"))
    report = bias_report(frame, label="y", facet="f", facet_values="d", positive=1,
                         n_bootstrap=0)
    assert point(report, "KL") == math.inf
    mid = (0.75, 0.25)
    js = 0.5 * (0.5 * math.log(0.5 / mid[0]) + 0.5 * math.log(0.5 / mid[1])
                + 1.0 * math.log(1.0 / mid[0]))  # 0·log 0 = 0
    assert point(report, "JS") == pytest.approx(js)
    assert point(report, "TVD") == pytest.approx(0.5)
    assert point(report, "KS") == pytest.approx(0.5)


# -- CDDL / CDDPL with strata -------------------------------------------------------------

# stratum s1 (10 rows): positives d 1, a 4 → n(1) = 5; negatives d 3, a 2 → n(0) = 5
#                       DD = 3/5 - 1/5 = 0.4
# stratum s2 (6 rows):  positives d 2, a 2 → n(1) = 4; negatives d 0, a 2 → n(0) = 2
#                       DD = 0/2 - 2/4 = -0.5
# stratum s3 (2 rows):  positives d 2 → n(1) = 2; no negatives: n_d(0)/n(0) = 0/0 = 0
#                       DD = 0 - 2/2 = -1
# CDD = (10·0.4 + 6·(-0.5) + 2·(-1)) / 18 = -1/18
STRATA = [("s1", "d", 1, 1), ("s1", "a", 1, 4), ("s1", "d", 0, 3), ("s1", "a", 0, 2),
          ("s2", "d", 1, 2), ("s2", "a", 1, 2), ("s2", "a", 0, 2),
          ("s3", "d", 1, 2)]


def test_cddl_weights_each_stratum_by_its_size() -> None:
    frame = expand(STRATA, ("dept", "f", "y"))
    report = bias_report(frame, label="y", facet="f", facet_values="d", positive=1,
                         group="dept", n_bootstrap=0)
    assert point(report, "CDDL") == pytest.approx((10 * 0.4 + 6 * -0.5 + 2 * -1) / 18)
    assert report.group == "dept"


def test_cddpl_is_cdd_on_the_predictions() -> None:
    frame = expand(STRATA, ("dept", "f", "model"))
    frame["y"] = np.arange(len(frame)) % 2  # a label unrelated to the predictions
    report = bias_report(frame, label="y", facet="f", facet_values="d", positive=1,
                         predicted="model", group="dept", n_bootstrap=0)
    assert point(report, "CDDPL") == pytest.approx(-1 / 18)


def test_cddpl_is_not_computed_when_predictions_have_one_class() -> None:
    frame = expand(STRATA, ("dept", "f", "y"))
    frame["model"] = 0
    report = bias_report(frame, label="y", facet="f", facet_values="d", positive=1,
                         predicted="model", group="dept", n_bootstrap=0)
    assert report.metric("CDDPL").estimate is None
    assert "single class" in str(report.metric("CDDPL").reason)
    assert report.metric("CDDL").estimate is not None


def test_ge_of_a_tiny_example() -> None:
    # y = (1, 1, 1, 0), y_hat = (0, 0, 0, 1): b = y_hat - y + 1 = (0, 0, 0, 2), mean 0.5
    # GE = (1/(2n)) sum((b/mean)^2 - 1) = ((0 + 0 + 0 + 16) - 4) / 8
    report = bias_report(label=[1, 1, 1, 0], facet=["a", "a", "d", "d"], facet_values="d",
                         positive=1, predicted=[0, 0, 0, 1], n_bootstrap=0)
    assert point(report, "GE") == pytest.approx((16 - 4) / 8)


# -- Flip test ----------------------------------------------------------------------------


def test_flip_test_with_five_neighbours() -> None:
    # Facet a (10 rows): x = 0..4 predicted 1, x = 10..14 predicted 0, so the 5 nearest
    # a-neighbours of x ≤ 4 vote 1 and of x ≥ 10 vote 0. Facet d (4 rows):
    #   x = 2,  y_hat 0, neighbours 1 → flip to negative
    #   x = 12, y_hat 1, neighbours 0 → flip to positive
    #   x = 13, y_hat 1, neighbours 0 → flip to positive
    #   x = 1,  y_hat 1, neighbours 1 → no flip
    # FT = (2 - 1) / 4
    x = [0, 1, 2, 3, 4, 10, 11, 12, 13, 14, 2, 12, 13, 1]
    p = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1]
    f = ["a"] * 10 + ["d"] * 4
    frame = pd.DataFrame({"x": x, "f": f, "p": p, "y": [1, 0] * 7})
    report = bias_report(frame, label="y", facet="f", facet_values="d", positive=1,
                         predicted="p", features=["x"], n_bootstrap=0)
    assert point(report, "FT") == pytest.approx((2 - 1) / 4)


def test_flip_test_uses_one_neighbour_for_a_small_facet_a() -> None:
    # Facet a has 3 rows (≤ 9, so k = 1 as in Clarify): x = 0 → 1, x = 10, 11 → 0.
    # d: x = 1 y_hat 0 (nearest 0 says 1: to negative), x = 9 y_hat 1 (nearest 10 says 0:
    # to positive), x = 0.5 y_hat 0 (to negative). FT = (1 - 2) / 3
    features = np.array([[0.0], [10.0], [11.0], [1.0], [9.0], [0.5]])
    report = bias_report(label=[1, 0, 1, 0, 1, 0], facet=["a", "a", "a", "d", "d", "d"],
                         facet_values="d", positive=1, predicted=[1, 0, 0, 0, 1, 0],
                         features=features, n_bootstrap=0)
    assert point(report, "FT") == pytest.approx(-1 / 3)


# -- facets -------------------------------------------------------------------------------


def test_multi_valued_facet_groups_its_values_into_d() -> None:
    # A: 10 rows, 6 positive;  B: 6 rows, 2 positive;  C: 4 rows, 1 positive
    frame = expand([("A", 1, 6), ("A", 0, 4), ("B", 1, 2), ("B", 0, 4), ("C", 1, 1),
                    ("C", 0, 3)], ("region", "y"))
    report = bias_report(frame, label="y", facet="region", facet_values=["B", "C"],
                         positive=1, n_bootstrap=0)
    facet = report.facets[0]
    assert (facet.n_a, facet.n_d) == (10, 10)
    assert facet.values == ("B", "C")
    assert point(report, "CI") == 0.0
    assert point(report, "DPL") == pytest.approx(6 / 10 - 3 / 10)


def test_continuous_facet_puts_values_above_the_threshold_in_d() -> None:
    # ages 30, 35, 40 (a: 40 is not above 40) and 45, 50 (d); label positive for 30, 35, 45
    frame = pd.DataFrame({"age": [30, 35, 40, 45, 50], "y": [1, 1, 0, 1, 0]})
    report = bias_report(frame, label="y", facet="age", threshold=40, positive=1,
                         n_bootstrap=0)
    facet = report.facets[0]
    assert (facet.n_a, facet.n_d, facet.threshold) == (3, 2, 40.0)
    assert facet.sensitive == "age > 40"
    assert point(report, "DPL") == pytest.approx(2 / 3 - 1 / 2)
    assert point(report, "CI") == pytest.approx((3 - 2) / 5)


def test_without_facet_values_each_value_is_reported_against_the_rest() -> None:
    frame = expand([("A", 1, 6), ("A", 0, 4), ("B", 1, 2), ("B", 0, 4), ("C", 1, 1),
                    ("C", 0, 3)], ("region", "y"))
    report = bias_report(frame, label="y", facet="region", positive=1, n_bootstrap=0)
    assert [f.values for f in report.facets] == [("A",), ("B",), ("C",)]
    assert [(f.n_a, f.n_d) for f in report.facets] == [(10, 10), (14, 6), (16, 4)]
    # C against A ∪ B: q_a = 8/16, q_d = 1/4
    assert point(report, "DPL", 2) == pytest.approx(8 / 16 - 1 / 4)


def test_per_value_adds_each_value_after_the_chosen_split() -> None:
    frame = expand([("A", 1, 6), ("A", 0, 4), ("B", 1, 2), ("B", 0, 4), ("C", 1, 1),
                    ("C", 0, 3)], ("region", "y"))
    report = bias_report(frame, label="y", facet="region", facet_values=["B", "C"],
                         positive=1, per_value=True, n_bootstrap=0)
    assert [f.values for f in report.facets] == [("B", "C"), ("A",), ("B",), ("C",)]


def test_arrays_instead_of_a_frame() -> None:
    frame = expand(WORKED, ("sex", "approved", "model"))
    from_arrays = bias_report(label=frame.approved.to_numpy(), facet=frame.sex.to_list(),
                              facet_values="F", positive=1, predicted=frame.model.to_numpy(),
                              n_bootstrap=0)
    assert point(from_arrays, "TE") == pytest.approx(1.0)
    assert from_arrays.label == "label" and from_arrays.facet == "facet"


# -- bootstrap ----------------------------------------------------------------------------


def biased_frame(rows: int, seed: int) -> pd.DataFrame:
    """Rows with a clear bias against facet d, strata and two numeric features."""
    rng = np.random.default_rng(seed)
    d = rng.random(rows) < 0.35
    x = rng.normal(size=(rows, 2))
    y = rng.random(rows) < np.where(d, 0.3, 0.6)
    p = np.where(rng.random(rows) < 0.8, y, ~y) & ~(d & (rng.random(rows) < 0.3))
    return pd.DataFrame({"f": np.where(d, "d", "a"), "y": y.astype(int), "p": p.astype(int),
                         "g": rng.integers(0, 3, size=rows), "x1": x[:, 0], "x2": x[:, 1]})


def full_report(frame: pd.DataFrame, **kwargs: Any) -> BiasReport:
    return bias_report(frame, label="y", facet="f", facet_values="d", positive=1,
                       predicted="p", group="g", features=["x1", "x2"], **kwargs)


def test_same_seed_same_numbers_other_seed_other_numbers() -> None:
    frame = biased_frame(600, seed=1)
    first = full_report(frame, n_bootstrap=300, seed=7)
    again = full_report(frame, n_bootstrap=300, seed=7)
    other = full_report(frame, n_bootstrap=300, seed=8)
    assert first.to_dict() == again.to_dict()
    assert first.to_dict() != other.to_dict()
    assert first.to_dict()["seed"] == 7


def test_every_interval_contains_its_point_estimate() -> None:
    report = full_report(biased_frame(3000, seed=2), n_bootstrap=500, level=0.95)
    for metric in report.facets[0].metrics:
        estimate = metric.estimate
        assert estimate is not None, metric.name
        assert estimate.level == 0.95
        assert estimate.lower is not None and estimate.upper is not None
        assert estimate.lower <= estimate.point <= estimate.upper, metric.name


def test_intervals_shrink_with_more_data() -> None:
    small = biased_frame(400, seed=3)
    large = pd.concat([small] * 25, ignore_index=True)  # same proportions, 25x the rows
    kwargs: dict[str, Any] = {"label": "y", "facet": "f", "facet_values": "d", "positive": 1,
                              "predicted": "p", "group": "g", "n_bootstrap": 400, "seed": 0}
    narrow, wide = bias_report(large, **kwargs), bias_report(small, **kwargs)
    for name in ALL_METRICS:
        if name == "FT":
            continue  # needs features; not computed here
        n_est, w_est = narrow.metric(name).estimate, wide.metric(name).estimate
        assert n_est is not None and w_est is not None
        assert n_est.point == pytest.approx(w_est.point), name
        assert n_est.upper is not None and n_est.lower is not None
        assert w_est.upper is not None and w_est.lower is not None
        # sqrt(25) = 5 times narrower in theory; ask for half
        assert n_est.upper - n_est.lower < 0.5 * (w_est.upper - w_est.lower), name


def test_chunked_resampling_gives_the_same_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    # Many strata make the resamples large, so they are drawn and evaluated in chunks; the
    # draws come from one generator in order, so chunking does not change any number.
    frame = biased_frame(500, seed=6)
    whole = full_report(frame, n_bootstrap=100, seed=1)
    monkeypatch.setattr(bias, "_CHUNK_CELLS", 24 * 3 * 7)  # 7 resamples per chunk
    assert full_report(frame, n_bootstrap=100, seed=1).to_dict() == whole.to_dict()


def test_no_bootstrap_gives_points_only() -> None:
    report = full_report(biased_frame(200, seed=4), n_bootstrap=0)
    estimate = report.metric("DPL").estimate
    assert estimate is not None and estimate.lower is None and estimate.level is None


def test_to_dict_is_strict_json() -> None:
    report = full_report(biased_frame(300, seed=5), n_bootstrap=50)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    metric = data["facets"][0]["metrics"][0]
    assert set(metric) == {"name", "title", "description", "stage", "range", "ideal",
                           "computed", "estimate", "reason"}
    assert metric["name"] == "CI" and metric["stage"] == "pre-training"
    assert set(metric["estimate"]) == {"point", "lower", "upper", "level"}
    assert data["facets"][0]["values"] == ["d"]


# -- fairlearn group table ----------------------------------------------------------------


def test_group_metrics_table_on_the_worked_example() -> None:
    frame = expand(WORKED, ("sex", "approved", "model"))
    table = group_metrics_table(frame, label="approved", predicted="model", facet="sex",
                                positive=1)
    assert list(table["group"]) == ["F", "M", "overall", "difference", "ratio"]
    assert list(table["kind"]) == ["group", "group", "overall", "difference", "ratio"]
    rows = table.set_index("group")
    expected = {  # F: TP 1, FN 2, FP 1, TN 4;  M: TP 4, FN 2, FP 2, TN 4
        "F": {"count": 8, "selection_rate": 2 / 8, "accuracy": 5 / 8, "precision": 1 / 2,
              "recall": 1 / 3, "false_positive_rate": 1 / 5, "false_negative_rate": 2 / 3,
              "specificity": 4 / 5},
        "M": {"count": 12, "selection_rate": 6 / 12, "accuracy": 8 / 12, "precision": 4 / 6,
              "recall": 4 / 6, "false_positive_rate": 2 / 6, "false_negative_rate": 2 / 6,
              "specificity": 4 / 6},
        "overall": {"count": 20, "selection_rate": 8 / 20, "accuracy": 13 / 20,
                    "precision": 5 / 8, "recall": 5 / 9},
        "difference": {"selection_rate": 0.5 - 0.25, "recall": 4 / 6 - 1 / 3},
        "ratio": {"selection_rate": 0.25 / 0.5, "accuracy": (5 / 8) / (8 / 12)},
    }
    for group, values in expected.items():
        for column, value in values.items():
            assert rows.loc[group, column] == pytest.approx(value), (group, column)


# -- bad input ----------------------------------------------------------------------------


@pytest.fixture
def frame() -> pd.DataFrame:
    return expand(WORKED, ("sex", "approved", "model"))


def test_missing_facet_column_names_the_columns(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match=r"facet column 'gender' is not in the data; "
                                           r"its columns are: sex, approved, model"):
        bias_report(frame, label="approved", facet="gender", positive=1)


def test_column_name_without_a_frame() -> None:
    with pytest.raises(InvalidInput, match="no data frame was given"):
        bias_report(label="approved", facet=["a", "b"], positive=1)


def test_label_with_a_single_class(frame: pd.DataFrame) -> None:
    frame["approved"] = 1
    with pytest.raises(InvalidInput, match="single class: all 20 rows are positive"):
        bias_report(frame, label="approved", facet="sex", facet_values="F", positive=1)
    frame["approved"] = 0
    with pytest.raises(InvalidInput, match="single class: every row is 0, none of them positive"):
        bias_report(frame, label="approved", facet="sex", facet_values="F", positive=1)


def test_positive_value_absent_from_the_label(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match=r"No label value is positive.*none of them in "
                                           r"positive=\['yes'\]"):
        bias_report(frame, label="approved", facet="sex", facet_values="F", positive="yes")


def test_facet_value_not_present(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match=r"Facet value\(s\) 'X' are not present in column "
                                           r"'sex'; its values are: 'M', 'F'"):
        bias_report(frame, label="approved", facet="sex", facet_values=["F", "X"], positive=1)


def test_empty_facet_groups(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match=r"Facet a .* is empty"):
        bias_report(frame, label="approved", facet="sex", facet_values=["F", "M"], positive=1)
    ages = pd.DataFrame({"age": [20, 30, 40], "y": [0, 1, 0]})
    with pytest.raises(InvalidInput, match=r"Facet d \(age > 90\) is empty"):
        bias_report(ages, label="y", facet="age", threshold=90, positive=1)
    with pytest.raises(InvalidInput, match=r"Facet a \(the rows not in age > 10\) is empty"):
        bias_report(ages, label="y", facet="age", threshold=10, positive=1)
    with pytest.raises(InvalidInput, match="Facet a .* is empty"):
        bias_report(label=[0, 1], facet=["F", "F"], positive=1)


@pytest.mark.parametrize("column", ["approved", "sex", "model"])
def test_missing_values(frame: pd.DataFrame, column: str) -> None:
    frame[column] = frame[column].astype(object)
    frame.loc[4, column] = None
    with pytest.raises(InvalidInput, match=rf"'{column}' has 1 missing value\(s\).*row\(s\) 4"):
        bias_report(frame, label="approved", facet="sex", facet_values="F", positive=1,
                    predicted="model")


def test_missing_values_in_group_and_features(frame: pd.DataFrame) -> None:
    frame["g"] = [1.0] * 19 + [math.nan]
    with pytest.raises(InvalidInput, match=r"group column 'g' has 1 missing value"):
        bias_report(frame, label="approved", facet="sex", facet_values="F", positive=1,
                    group="g")
    with pytest.raises(InvalidInput, match=r"features contain missing values"):
        bias_report(frame, label="approved", facet="sex", facet_values="F", positive=1,
                    predicted="model", features=["g"])


def test_length_mismatch(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match=r"Length mismatch: the predicted 'predicted' has 3 "
                                           r"rows but the label 'approved' has 20"):
        bias_report(frame, label="approved", facet="sex", facet_values="F", positive=1,
                    predicted=[1, 0, 1])
    with pytest.raises(InvalidInput, match="Length mismatch: the facet"):
        bias_report(label=[0, 1, 0], facet=["a", "b"], positive=1)
    with pytest.raises(InvalidInput, match="features have 2 rows but the label has 20"):
        bias_report(frame, label="approved", facet="sex", facet_values="F", positive=1,
                    predicted="model", features=np.zeros((2, 3)))
    with pytest.raises(InvalidInput, match="Length mismatch"):
        group_metrics_table(label=[0, 1, 0], predicted=[0, 1], facet=["a", "b", "a"],
                            positive=1)


def test_unknown_metric_name(frame: pd.DataFrame, worked: BiasReport) -> None:
    with pytest.raises(InvalidInput, match=r"Unknown bias metric\(s\) 'XYZ'; the metrics are: "
                                           r"CI, DPL"):
        bias_report(frame, label="approved", facet="sex", facet_values="F", positive=1,
                    metrics=["CI", "XYZ"])
    with pytest.raises(InvalidInput, match=r"No bias metric 'XYZ' in this result"):
        worked.metric("XYZ")


def test_post_training_metric_without_predictions(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match=r"DI are post-training metrics .* predicted="):
        bias_report(frame, label="approved", facet="sex", facet_values="F", positive=1,
                    metrics=["DI"])


def test_facet_split_options(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match="either facet_values .* or threshold"):
        bias_report(frame, label="approved", facet="sex", facet_values="F", threshold=1.0,
                    positive=1)
    with pytest.raises(InvalidInput, match="threshold needs a numeric facet"):
        bias_report(frame, label="approved", facet="sex", threshold=1.0, positive=1)
    with pytest.raises(InvalidInput, match="does not apply to a continuous facet"):
        bias_report(label=[0, 1], facet=[1.0, 2.0], threshold=1.5, positive=1, per_value=True)
    many = pd.DataFrame({"x": np.arange(150.0), "y": np.arange(150) % 2})
    with pytest.raises(InvalidInput, match="150 distinct values, too many"):
        bias_report(many, label="y", facet="x", positive=1)


def test_bad_features_and_options(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match="features include the facet column 'sex'"):
        bias_report(frame, label="approved", facet="sex", facet_values="F", positive=1,
                    predicted="model", features=["sex"])
    with pytest.raises(InvalidInput, match=r"Feature column\(s\) 'nope' are not in the data"):
        bias_report(frame, label="approved", facet="sex", facet_values="F", positive=1,
                    predicted="model", features=["nope"])
    frame["colour"] = "red"
    with pytest.raises(InvalidInput, match="features must be numeric"):
        bias_report(frame, label="approved", facet="sex", facet_values="F", positive=1,
                    predicted="model", features=["colour"])
    with pytest.raises(InvalidInput, match="n_bootstrap must be an integer >= 0; got -1"):
        bias_report(frame, label="approved", facet="sex", positive=1, n_bootstrap=-1)
    with pytest.raises(InvalidInput, match="level must be between 0 and 1"):
        bias_report(frame, label="approved", facet="sex", positive=1, level=95)


def test_all_metric_name_lists_are_consistent() -> None:
    assert ALL_METRICS == PRE_TRAINING_METRICS + POST_TRAINING_METRICS
    assert PRE_TRAINING_METRICS == ("CI", "DPL", "KL", "JS", "LP", "TVD", "KS", "CDDL")
    assert POST_TRAINING_METRICS == ("DPPL", "DI", "DCA", "DCR", "DAR", "DRR", "RD", "SD",
                                     "AD", "TE", "CDDPL", "FT", "GE")
