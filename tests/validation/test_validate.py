"""``validate``: criteria are locked before the model is tested; the report holds every
section; the same validation twice gives the same results.json; criteria changed after a
test run are flagged; the evidence is stored and linked in lineage — locally and through
the server, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pypdf import PdfReader
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from gxpml.errors import Conflict, InvalidInput, NotFound
from gxpml.validation.report import SECTION_TITLES
from gxpml.validation.validate import validate
from support import DIABETES_FEATURES as FEATURES
from support import diabetes_frame as diabetes
from support import train_diabetes_run as trained_run

CRITERIA = """
- {metric: r2, min: 0.2, split: test}
- {metric: mae, max: 70, split: test, bound: upper}
- {metric: mae, max: 80, split: test, subgroup: sex=2}
- {metric: DPPL, min: -0.5, max: 0.5, split: test}
"""
QUICK = {"n_bootstrap": 50, "pdf": False}


@pytest.fixture
def ready(workspace: Any) -> tuple[Any, str]:
    workspace.data.register("diabetes", diabetes())
    workspace.data.split("diabetes", test=0.25, validation=0.2, group="patient_id", seed=42)
    return workspace, trained_run(workspace)


def test_a_validation_locks_the_criteria_first_and_records_its_evidence(
    ready: tuple[Any, str], tmp_path: Path,
) -> None:
    ws, run_id = ready
    outcome = validate(ws, run_id, criteria=CRITERIA, out=tmp_path / "out", facet="sex", label="progression",
                       n_bootstrap=100)
    assert outcome.passed is True and [j.status for j in outcome.judgements] == ["pass"] * 4
    for path in outcome.files.values():
        assert path.stat().st_size > 1000

    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["problem"] == "regression" and results["data"]["evaluated_on"] == "test"
    assert results["model"]["features"] == FEATURES and results["criteria"]["lock_id"] == outcome.lock.id
    r2 = results["evaluation"]["test"]["metrics"]["r2"]
    assert r2["lower"] < r2["point"] < r2["upper"] and outcome.judgements[0].value == r2["point"]
    assert {row["subgroup"] for row in results["evaluation"]["test"]["subgroups"]} == {"sex=1", "sex=2"}
    assert {m["name"] for m in results["bias"]["facets"][0]["metrics"]} >= {"DPPL", "DI", "CI", "GE", "FT"}
    assert 0.75 <= results["uncertainty"]["conformal"]["coverage"]["point"] <= 1.0
    assert [f for f, _ in results["explanations"]["shap"]["mean_abs"]][0] in {"ltg", "bmi"}
    assert results["explanations"]["immutable"] == ["sex"]
    assert all(c["counterfactual"]["sex"] == test_sex for c, test_sex in zip(
        results["explanations"]["counterfactuals"], ws.data.load("diabetes", split="test")["sex"], strict=False))

    # the PDF has every section and the signature block left for the registry
    text = "\n".join(page.extract_text() for page in PdfReader(tmp_path / "out" / "report.pdf").pages)
    for title in SECTION_TITLES:
        assert title in text, title
    assert "Approver" in text and "r2 " in text

    # stored, recorded, linked; the lock's event precedes the evaluation's record
    [recorded] = ws.validations.list(run_id)
    assert recorded.id == outcome.validation.id and recorded.passed is True and recorded.dataset == "diabetes:1"
    assert ws.artifacts.read_bytes(recorded.results) == (tmp_path / "out" / "results.json").read_bytes()
    assert ws.artifacts.read_bytes(recorded.report_pdf) == (tmp_path / "out" / "report.pdf").read_bytes()
    downstream = ws.lineage.descendants(f"run:{run_id}").nodes
    assert {f"validation:{recorded.id}", f"report:{recorded.report_html}", f"report:{recorded.report_pdf}"} <= set(downstream)
    actions = [e.action for e in ws.audit.log(limit=500)]
    assert actions.index("validation.lock") < actions.index("validation.record")  # locked before it was tested
    assert outcome.lock.locked_at < recorded.created_at
    assert ws.audit.verify().ok


def test_bad_input_is_refused_before_anything_is_recorded(ready: tuple[Any, str], tmp_path: Path) -> None:
    ws, run_id = ready
    with pytest.raises(InvalidInput, match=r"No facet column 'gender' in the data; its columns are \[.*'sex'"):
        validate(ws, run_id, criteria=CRITERIA, out=tmp_path, facet="gender", label="progression", **QUICK)
    with pytest.raises(InvalidInput, match=r"entry 1 of 1.*metric"):
        validate(ws, run_id, criteria="- {metrik: r2, min: 0.1, split: test}", out=tmp_path, label="progression")
    with pytest.raises(NotFound, match="No run 'run_0000000000000000'"):
        validate(ws, "run_0000000000000000", criteria=CRITERIA, out=tmp_path)
    with pytest.raises(InvalidInput, match=r"Name the label column with --label"):
        validate(ws, run_id, criteria=CRITERIA, out=tmp_path)
    with pytest.raises(InvalidInput, match=r"Immutable feature\(s\) \['height'\] are not model inputs"):
        validate(ws, run_id, criteria=CRITERIA, out=tmp_path, label="progression", immutable=["height"])
    assert ws.validations.list(run_id) == [] and ws.validations.locks(run_id) == []  # nothing recorded
    running = ws.start_run(experiment="validation", seed=1)
    try:
        with pytest.raises(Conflict, match=f"Run {running.id} is running: only a finished run's model is validated"):
            ws.validations.lock_criteria(running.id, CRITERIA)
    finally:
        running.end()


def test_the_same_validation_twice_gives_identical_results(local: Any, tmp_path: Path) -> None:
    local.data.register("diabetes", diabetes())
    local.data.split("diabetes", test=0.25, validation=0.2, group="patient_id", seed=42)
    run_id = trained_run(local)
    first = validate(local, run_id, criteria=CRITERIA, out=tmp_path / "a", facet="sex", label="progression", **QUICK)
    second = validate(local, run_id, criteria=CRITERIA, out=tmp_path / "b", facet="sex", label="progression", **QUICK)
    assert (tmp_path / "a" / "results.json").read_bytes() == (tmp_path / "b" / "results.json").read_bytes()
    assert first.lock.id == second.lock.id  # the same criteria: the same lock
    assert first.validation.results == second.validation.results  # one digest
    other = validate(local, run_id, criteria=CRITERIA, out=tmp_path / "c", facet="sex", label="progression",
                     seed=8, **QUICK)
    assert other.results["evaluation"]["test"]["metrics"]["r2"] != first.results["evaluation"]["test"]["metrics"]["r2"]


def test_criteria_changed_after_a_test_run_are_flagged(local: Any, tmp_path: Path) -> None:
    local.data.register("diabetes", diabetes())
    local.data.split("diabetes", test=0.25, validation=0.2, group="patient_id", seed=42)
    run_id = trained_run(local)
    strict = "- {metric: r2, min: 0.9, split: test}\n"
    failed = validate(local, run_id, criteria=strict, out=tmp_path / "a", label="progression", **QUICK)
    assert failed.passed is False and failed.judgements[0].status == "fail"
    assert "< 0.9 on test: fail" in failed.judgements[0].sentence

    relaxed = "- {metric: r2, min: 0.1, split: test}\n"
    again = validate(local, run_id, criteria=relaxed, out=tmp_path / "b", label="progression", **QUICK)
    assert again.passed is True
    assert again.lock.after_tests == (failed.validation.id,) and again.lock.replaces == (failed.lock.digest,)
    assert again.results["criteria"]["changed_after_tests"] is True
    html = (tmp_path / "b" / "report.html").read_text()
    assert "Criteria changed after a test run" in html and failed.validation.id in html
    # recording under a lock that is no longer the latest is refused
    with pytest.raises(Conflict, match=f"Criteria lock {failed.lock.id} is not the latest lock of run {run_id}"):
        local.validations.record(run_id, model="model", results=again.validation.results,
                                 report_html=again.validation.report_html, lock_id=failed.lock.id, passed=True)


def test_a_classifier_gets_calibration_roc_and_conformal_sets(local: Any, tmp_path: Path) -> None:
    frame = load_breast_cancer(as_frame=True).frame
    frame["site"] = np.where(np.arange(len(frame)) % 3 == 0, "A", "B")
    local.data.register("cancer", frame)
    local.data.split("cancer", test=0.3, validation=0.2, seed=1)
    features = [c for c in frame.columns if c not in ("target", "site")]
    with local.start_run(experiment="validation", seed=3) as run:
        train = run.use_dataset("cancer", split="train")
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000)).fit(train[features], train["target"])
        run.log_model(model, name="logreg", input_example=train[features].head(2))
    criteria = "- {metric: roc_auc, min: 0.9, split: test, bound: lower}\n- {metric: accuracy, min: 0.85, split: validation}\n"
    outcome = validate(local, run.id, criteria=criteria, out=tmp_path, facet="site", **QUICK)
    results = outcome.results
    assert results["problem"] == "binary" and outcome.passed is True
    assert set(results["evaluation"]) == {"test", "validation"}
    assert results["evaluation"]["test"]["curves"]["roc"]["fpr"][0] == 0.0
    calibration = results["uncertainty"]["calibration"]
    assert set(calibration) == {"before", "temperature", "isotonic"} and calibration["temperature"]["temperature"] > 0
    assert results["uncertainty"]["conformal"]["task"] == "classification"
    assert {g["group"] for g in results["uncertainty"]["mondrian"]["groups"]} == {"A", "B"}
    html = (tmp_path / "report.html").read_text()
    assert "Reliability diagram" in html and "ROC curve (test)" in html


def test_models_and_data_that_cannot_be_validated_get_clear_errors(local: Any, tmp_path: Path) -> None:
    frame = load_breast_cancer(as_frame=True).frame
    features = [c for c in frame.columns if c != "target"][:5]
    local.data.register("cancer", frame)
    local.data.split("cancer", test=0.3, seed=1)
    with local.start_run(experiment="validation", seed=3) as run:
        train = run.use_dataset("cancer", split="train")
        svc = LinearSVC().fit(train[features], train["target"])
        run.log_model(svc, name="svc", input_example=train[features].head(2))
    with pytest.raises(InvalidInput, match="LinearSVC has no predict_proba; validation of a classifier needs"):
        validate(local, run.id, criteria=None, out=tmp_path, **QUICK)

    one_class = frame[frame["target"] == 1].copy()
    one_class.loc[one_class.index[:5], features[0]] = np.nan
    local.data.register("benign", one_class)
    with local.start_run(experiment="validation", seed=3) as run2:
        data = run2.use_dataset("cancer", split="train")
        logreg = LogisticRegression(max_iter=3000).fit(data[features], data["target"])
        run2.log_model(logreg, name="logreg", input_example=data[features].head(2))
    with pytest.raises(InvalidInput, match=r"The rows have missing values \(NaN\) in the model's inputs"):
        validate(local, run2.id, criteria=None, out=tmp_path, data="benign", **QUICK)
    local.data.register("benign", frame[frame["target"] == 1])
    with pytest.raises(InvalidInput, match=r"The label has one class only \(1\)"):
        validate(local, run2.id, criteria=None, out=tmp_path, data="benign:2", **QUICK)
    local.data.register("whole", frame)
    with pytest.raises(InvalidInput, match="Dataset version whole:1 has no split, so it has no test rows"):
        validate(local, run2.id, criteria="- {metric: accuracy, min: 0.5, split: test}", out=tmp_path,
                 data="whole", **QUICK)
    assert local.validations.locks(run2.id) == []  # refused before the criteria were locked


def test_a_candidate_is_compared_with_a_baseline_model_for_non_inferiority(local: Any, tmp_path: Path) -> None:
    from sklearn.dummy import DummyRegressor

    local.data.register("diabetes", diabetes())
    local.data.split("diabetes", test=0.25, validation=0.2, group="patient_id", seed=42)
    candidate = trained_run(local)
    weak = trained_run(local, DummyRegressor(strategy="mean"))
    outcome = validate(local, candidate, criteria=None, out=tmp_path, label="progression", facet="sex",
                       baseline=weak, margin=5.0, **QUICK)
    comparison = outcome.results["comparison"]
    assert comparison["baseline_run"] == weak and comparison["split"] == "test"
    mae = comparison["metrics"]["mae"]
    assert mae["direction"] == "lower" and mae["difference"]["point"] < 0  # the model errs less than the mean
    assert mae["non_inferior"] == (mae["difference"]["upper"] < 5.0)
    r2 = comparison["metrics"]["r2"]
    assert r2["non_inferior"] == (r2["difference"]["lower"] > -5.0) and r2["baseline"]["point"] < 0.05
    # reversed, the mean predictor is not shown non-inferior to the model on r2 at a small margin
    reverse = validate(local, weak, criteria=None, out=tmp_path / "rev", label="progression",
                       baseline=candidate, margin=0.01, **QUICK)
    assert reverse.results["comparison"]["metrics"]["r2"]["non_inferior"] is False
    groups = outcome.results["bias"]["groups"]
    assert groups["columns"][:2] == ["group", "kind"] and {row[0] for row in groups["rows"]} >= {"1", "2"}
    assert outcome.results["explanations"]["lime"]["conditions"]
    html = (tmp_path / "report.html").read_text()
    assert "Against the baseline model" in html and "fairlearn MetricFrame" in html and "LIME (seeded)" in html
    with pytest.raises(InvalidInput, match="margin must be a finite number >= 0"):
        validate(local, candidate, criteria=None, out=tmp_path, label="progression", baseline=weak, margin=-1.0)
