"""Acceptance criteria: parsed from YAML, validated entry by entry, locked by a digest, and
judged against estimates with a sentence per criterion."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gxpml.canonical import sha256_hex
from gxpml.errors import InvalidInput
from gxpml.validation.criteria import BIAS_METRICS, Criterion, judge, parse_criteria
from gxpml.validation.estimate import Estimate
from gxpml.validation.metrics import evaluate

DOCUMENT = """
- metric: roc_auc
  min: 0.85
  split: test
  bound: lower
- {metric: fnr, max: 0.1, split: test, subgroup: "sex = 1"}
- {metric: DPPL, min: -0.1, max: 0.1, split: test}
"""


def test_a_document_parses_into_entries_with_defaults() -> None:
    criteria = parse_criteria(DOCUMENT)
    assert criteria.entries == (
        Criterion("roc_auc", "test", min=0.85, bound="lower"),
        Criterion("fnr", "test", max=0.1, subgroup="sex=1"),      # spaces around = dropped
        Criterion("DPPL", "test", min=-0.1, max=0.1),             # both: a range
    )
    assert criteria.entries[1].bound == "point"                    # the default
    assert criteria.entries[0].describe() == "roc_auc lower bound ≥ 0.85 on test"
    assert criteria.entries[2].describe() == "DPPL within [-0.1, 0.1] on test"


def test_the_digest_locks_the_content_not_the_formatting(tmp_path: Path) -> None:
    criteria = parse_criteria(DOCUMENT)
    assert criteria.digest == sha256_hex(criteria.canonical())
    reformatted = """
- {bound: lower, split: test, min: 0.85, metric: roc_auc}
- {metric: fnr, max: 0.10, split: test, subgroup: sex=1, bound: point}
- {metric: DPPL, max: 0.1, min: -0.1, split: test}
"""
    assert parse_criteria(reformatted).digest == criteria.digest
    assert parse_criteria(DOCUMENT.replace("0.85", "0.84")).digest != criteria.digest
    file = tmp_path / "criteria.yaml"
    file.write_text(DOCUMENT, encoding="utf-8")
    assert parse_criteria(file).digest == criteria.digest
    data = json.loads(json.dumps(criteria.to_dict(), allow_nan=False))
    assert data["digest"] == criteria.digest and data["entries"][1]["subgroup"] == "sex=1"


def test_every_bias_metric_is_a_valid_metric_name() -> None:
    text = "\n".join(f"- {{metric: {name}, max: 0.2, split: test}}" for name in BIAS_METRICS)
    assert len(parse_criteria(text).entries) == 21


@pytest.mark.parametrize(("text", "message"), [
    ("- {metric: roc_auc, min: 0.85, split: test", r"not valid YAML"),
    ("metric: roc_auc", r"must be a YAML list of entries .*; got a dict"),
    ("", r"must be a YAML list .*; got nothing"),
    ("[]", r"list is empty"),
    ("- roc_auc >= 0.85", r"entry 1 of 1 is not a mapping"),
    ("- {metric: f1, min: 0.5, split: test}\n- {metric: auc, min: 0.85, split: test}",
     r"entry 2 of 2 has unknown metric 'auc'.* Valid metrics: mae, .*roc_auc.*, CI, DPL"),
    ("- {metric: rocauc, min: 0.85, split: test}", r"Did you mean roc_auc\?"),
    ("- {min: 0.85, split: test}", r"entry 1 of 1 has no metric"),
    ("- {metric: roc_auc, min: 0.85}", r"entry 1 of 1 \(roc_auc\) has no split"),
    ("- {metric: roc_auc, split: test}", r"\(roc_auc\) has neither min nor max"),
    ("- {metric: roc_auc, min: '0.85', split: test}", r"min must be a number, got '0.85'"),
    ("- {metric: roc_auc, min: true, split: test}", r"min must be a number, got True"),
    ("- {metric: roc_auc, max: .nan, split: test}", r"max must be a finite number"),
    ("- {metric: roc_auc, min: 0.9, max: 0.8, split: test}", r"min 0.9 is above max 0.8"),
    ("- {metric: roc_auc, min: 0.85, split: test, bound: median}",
     r"bound must be one of point, lower, upper, got 'median'"),
    ("- {metric: roc_auc, min: 0.85, split: test, subgroup: female}",
     r"subgroup must read column=value \(e.g. sex=1\), got 'female'"),
    ("- {metric: roc_auc, minimum: 0.85, split: test}",
     r"has unknown field\(s\) minimum; the fields are metric, min, max, split, subgroup, bound"),
    ("- {metric: roc_auc, min: 0.85, split: ''}", r"split must be a non-empty text"),
    ("criteria.yaml", r"to read a file, pass it as a path \(pathlib.Path\)"),
])
def test_a_bad_document_is_refused_naming_the_entry(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_criteria(text)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"Cannot read the acceptance criteria file .*nope.yaml"):
        parse_criteria(tmp_path / "nope.yaml")


# --- judging --------------------------------------------------------------------------------


def test_judgements_pass_fail_and_missing_with_a_sentence_each() -> None:
    criteria = parse_criteria(DOCUMENT)
    lookup = {
        ("test", None, "roc_auc"): Estimate(0.93, lower=0.91, upper=0.95, level=0.95),
        ("test", "sex=1", "fnr"): Estimate(0.14, lower=0.09, upper=0.2, level=0.95),
    }
    auc, fnr, dppl = judge(criteria, lookup)
    assert auc.status == "pass" and auc.passed and auc.value == 0.91  # the lower bound
    assert auc.sentence == "roc_auc lower bound 0.91 ≥ 0.85 on test: pass"
    assert fnr.status == "fail" and not fnr.passed and fnr.value == 0.14  # the point value
    assert fnr.sentence == "fnr 0.14 > 0.1 on test (sex=1): fail"
    assert dppl.status == "missing" and not dppl.passed and dppl.value is None
    assert dppl.sentence == "DPPL on test: missing, no such result was computed: fail"
    data = json.loads(json.dumps([j.to_dict() for j in (auc, fnr, dppl)], allow_nan=False))
    assert [d["status"] for d in data] == ["pass", "fail", "missing"]
    assert data[0]["min"] == 0.85 and data[0]["bound"] == "lower"


def test_thresholds_are_inclusive_and_ranges_judge_both_ends() -> None:
    criteria = parse_criteria("- {metric: DPPL, min: -0.1, max: 0.1, split: test}\n"
                              "- {metric: mae, max: 2, split: valid, bound: upper}")
    inside = judge(criteria, {("test", None, "DPPL"): Estimate(0.1),
                              ("valid", None, "mae"): Estimate(1.5, 1.0, 2.0, 0.95)})
    assert [j.status for j in inside] == ["pass", "pass"]
    assert inside[0].sentence == "DPPL 0.1 within [-0.1, 0.1] on test: pass"
    assert inside[1].sentence == "mae upper bound 2 ≤ 2 on valid: pass"
    below = judge(criteria, {("test", None, "DPPL"): Estimate(-0.25),
                             ("valid", None, "mae"): Estimate(1.5, 1.0, 2.5, 0.95)})
    assert below[0].sentence == "DPPL -0.25 < -0.1 on test: fail"
    assert below[1].sentence == "mae upper bound 2.5 > 2 on valid: fail"


def test_an_undefined_or_unavailable_value_fails_with_a_reason() -> None:
    criteria = parse_criteria("- {metric: precision, min: 0.5, split: test}\n"
                              "- {metric: recall, min: 0.5, split: test, bound: lower}")
    nan, no_interval = judge(criteria, {("test", None, "precision"): Estimate(math.nan),
                                        ("test", None, "recall"): Estimate(0.8)})
    assert nan.status == "fail" and "undefined (NaN" in nan.sentence
    assert nan.to_dict()["value"] == "nan"
    assert no_interval.status == "fail" and no_interval.value is None
    assert "recall lower bound on test: not available" in no_interval.sentence


def test_criteria_judge_an_evaluation_through_its_lookup() -> None:
    y = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0] * 5
    score = [0.9, 0.8, 0.7, 0.3, 0.6, 0.55, 0.4, 0.2, 0.1, 0.3] * 5
    sex = [1, 0] * 25
    ev = evaluate(y, y_score=score, groups={"sex": sex}, n_bootstrap=100, seed=0)
    criteria = parse_criteria("- {metric: roc_auc, min: 0.8, split: test}\n"
                              "- {metric: accuracy, min: 0.99, split: test, subgroup: sex=1}\n"
                              "- {metric: roc_auc, min: 0.8, split: holdout}")
    results = judge(criteria, ev.lookup("test"))
    assert [j.status for j in results] == ["pass", "fail", "missing"]
    assert results[0].value == pytest.approx(20.5 / 24)
