"""Runs: lifecycle, params, metrics, tags, artifacts, queries — locally and through the server,
on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from gxpml import Conflict, InvalidInput, NotFound, PermissionDenied, ReasonRequired, RunStatus
from support import PASSWORD

# --------------------------------------------------------------------------- the main path


def test_a_seeded_sklearn_run_records_params_metrics_and_a_model_that_loads_back_identically(
    workspace: Any, breast_cancer: tuple[Any, ...],
) -> None:
    X_train, X_test, y_train, y_test = breast_cancer
    with workspace.start_run(experiment="breast-cancer", seed=42, name="logreg") as run:
        params = {"C": 0.5, "max_iter": 5000}
        run.log_params(params)
        clf = make_pipeline(StandardScaler(), LogisticRegression(**params, random_state=run.seed)).fit(X_train, y_train)
        run.log_metrics({"accuracy": clf.score(X_test, y_test)})
        model = run.log_model(clf, name="classifier", input_example=X_test.head(5))

    recorded = workspace.runs.get(run.id)
    assert recorded.status is RunStatus.FINISHED and recorded.ended_at is not None
    assert (recorded.experiment, recorded.name, recorded.seed, recorded.created_by) == ("breast-cancer", "logreg", 42, "admin")
    assert recorded.params == params
    assert recorded.metrics == {"accuracy": clf.score(X_test, y_test)}
    assert recorded.models == (model,)
    assert model.format == "skops" and model.flavor == "sklearn"
    assert model.signature["inputs"][0] == {"name": "mean radius", "dtype": "float64"}
    assert len(model.signature["inputs"]) == X_test.shape[1]
    assert model.example_digest is not None and model.libraries["scikit-learn"]

    loaded = workspace.runs.load_model(run.id, "classifier")
    assert type(loaded) is type(clf)
    np.testing.assert_array_equal(loaded.predict(X_test), clf.predict(X_test))
    np.testing.assert_array_equal(loaded.predict_proba(X_test), clf.predict_proba(X_test))
    assert workspace.audit.verify().ok


def test_the_seed_is_applied_to_random_and_numpy_and_recorded(workspace: Any) -> None:
    with workspace.start_run(experiment="seeds", seed=7) as run:
        drawn = (random.random(), np.random.rand())
    random.seed(7)
    np.random.seed(7)
    assert drawn == (random.random(), np.random.rand())
    assert workspace.runs.get(run.id).seed == 7


def test_a_run_without_a_seed_gets_one_chosen_applied_and_recorded(workspace: Any) -> None:
    with workspace.start_run(experiment="seeds") as run:
        first = random.random()
    seed = workspace.runs.get(run.id).seed
    assert 0 <= seed < 2**32 and seed == run.seed
    random.seed(seed)
    assert random.random() == first


# --------------------------------------------------------------------------- lifecycle


def test_leaving_the_block_normally_finishes_the_run(workspace: Any) -> None:
    with workspace.start_run(experiment="lifecycle") as run:
        assert run.status is RunStatus.RUNNING
        assert workspace.runs.get(run.id).status is RunStatus.RUNNING
    assert run.status is RunStatus.FINISHED
    assert workspace.runs.get(run.id).error is None


def test_an_exception_fails_the_run_records_the_error_and_goes_on(workspace: Any) -> None:
    with pytest.raises(ZeroDivisionError), workspace.start_run(experiment="lifecycle") as run:
        run.log_metric("loss", 0.5)
        1 / 0  # noqa: B018 - the training code failing
    recorded = workspace.runs.get(run.id)
    assert recorded.status is RunStatus.FAILED
    assert recorded.error == "ZeroDivisionError: division by zero"
    assert recorded.metrics == {"loss": 0.5}  # buffered points are written before the run ends
    [event] = workspace.audit.log(entity=f"run:{run.id}", action="run.end")
    assert event.old == {"status": "running", "ended_at": None, "error": None}
    assert event.reason == "the run's code failed: ZeroDivisionError: division by zero"


def test_an_interrupt_kills_the_run(workspace: Any) -> None:
    with pytest.raises(KeyboardInterrupt), workspace.start_run(experiment="lifecycle") as run:
        raise KeyboardInterrupt
    assert workspace.runs.get(run.id).status is RunStatus.KILLED


def test_a_run_ends_once(workspace: Any) -> None:
    with workspace.start_run(experiment="lifecycle") as run:
        pass
    with pytest.raises(Conflict, match=rf"Run {run.id} is finished: it cannot become failed"):
        run.end("failed")
    with pytest.raises(Conflict, match=rf"Run {run.id} is finished: it cannot become killed"):
        workspace.runs.kill(run.id, reason="too late")
    with pytest.raises(InvalidInput, match="Unknown run status 'paused'"):
        workspace.runs.end(run.id, "paused")


def test_logging_to_a_finished_run_is_a_conflict_naming_its_state(workspace: Any, tmp_path: Path) -> None:
    with workspace.start_run(experiment="lifecycle") as run:
        pass
    (tmp_path / "notes.txt").write_text("late")
    attempts = [
        lambda: run.log_metric("loss", 0.1), lambda: run.log_metrics({"loss": 0.1}),
        lambda: run.log_param("C", 1), lambda: run.set_tag("stage", "late"),
        lambda: run.log_artifact(tmp_path / "notes.txt"),
    ]
    for attempt in attempts:
        with pytest.raises(Conflict, match=rf"Run {run.id} is finished: it accepts no more"):
            attempt()
    # The service refuses too, whoever asks: the state is checked where it is recorded.
    with pytest.raises(Conflict, match=rf"Run {run.id} is finished: it accepts no more"):
        workspace.runs.log_batch(run.id, params={"C": 1})


def test_a_run_can_be_killed_with_a_reason_and_then_accepts_nothing(workspace: Any) -> None:
    run = workspace.start_run(experiment="lifecycle")
    with pytest.raises(ReasonRequired):
        workspace.runs.kill(run.id, reason=" ")
    killed = workspace.runs.kill(run.id, reason="the node died")
    assert killed.status is RunStatus.KILLED and killed.error == "killed: the node died"
    with pytest.raises(Conflict, match="is killed: it accepts no more"):
        run.log_metrics({"loss": 1.0})  # the holder learns at its next write


def test_only_the_runs_owner_records_to_it_and_others_need_run_kill(workspace: Any, login: Any) -> None:
    workspace.users.add("dana", "Dana Scientist", password=PASSWORD, roles=["data-scientist"])
    dana = login("dana", PASSWORD)
    with dana.start_run(experiment="owned") as run:
        with pytest.raises(PermissionDenied, match=f"Run {run.id} was started by dana; only dana can record"):
            workspace.runs.log_batch(run.id, params={"C": 1})
        assert workspace.audit.log(action="access.denied")[-1].new["permission"] == f"run.log {run.id}"
    other = dana.start_run(experiment="owned")
    workspace.runs.kill(other.id, reason="admin stops it")  # admins hold run.kill
    assert dana.runs.get(other.id).status is RunStatus.KILLED
    with pytest.raises(Conflict, match=f"Run {other.id} is killed: it cannot become finished"):
        other.end()


def test_reviewers_read_runs_but_cannot_start_them(workspace: Any, login: Any) -> None:
    workspace.users.add("rita", "Rita Reviewer", password=PASSWORD, roles=["reviewer"])
    with workspace.start_run(experiment="reviewed") as run:
        pass
    rita = login("rita", PASSWORD)
    assert rita.runs.get(run.id).status is RunStatus.FINISHED
    with pytest.raises(PermissionDenied):
        rita.start_run(experiment="reviewed")


# --------------------------------------------------------------------------- params, tags, artifacts


def test_a_param_once_set_cannot_change(workspace: Any) -> None:
    with workspace.start_run(experiment="params") as run:
        run.log_param("C", 1.0)
        run.log_param("C", 1.0)  # the same value again is fine
        with pytest.raises(Conflict, match=r"Param 'C' of run .* is 1\.0 already; a param is set once and cannot change to 2\.0"):
            run.log_param("C", 2.0)
        run.log_params({"penalty": "l2", "classes": [0, 1], "np": np.int64(3), "none": None})
    assert workspace.runs.get(run.id).params == {"C": 1.0, "penalty": "l2", "classes": [0, 1], "np": 3, "none": None}


def test_params_that_are_not_plain_values_are_refused(workspace: Any) -> None:
    with workspace.start_run(experiment="params") as run:
        with pytest.raises(InvalidInput, match="Param 'estimator' is a LogisticRegression"):
            run.log_param("estimator", LogisticRegression())
        with pytest.raises(InvalidInput, match="Param name 'bad key!' is not valid"):
            run.log_param("bad key!", 1)


def test_tags_can_change_while_running_and_the_old_value_stays_in_the_trail(workspace: Any) -> None:
    with workspace.start_run(experiment="tags", tags={"stage": "draft"}) as run:
        run.set_tags({"stage": "candidate", "owner": "team-a"})
    assert workspace.runs.get(run.id).tags == {"owner": "team-a", "stage": "candidate"}
    [change] = workspace.audit.log(entity=f"run_tag:{run.id}/stage", action="run.log")
    assert change.old == {"value": "draft"} and change.new is not None and change.new["value"] == "candidate"
    assert change.reason == "tag(s) stage set again while the run was running"


def test_an_artifact_is_stored_and_linked_to_the_run(workspace: Any, tmp_path: Path) -> None:
    report = tmp_path / "confusion.csv"
    report.write_text("tp,fp\n10,1\n")
    with workspace.start_run(experiment="artifacts") as run:
        link = run.log_artifact(report)
        assert run.log_artifact(report) == link  # the same file under the same name: nothing new
        report.write_text("tp,fp\n11,0\n")
        with pytest.raises(Conflict, match="has an artifact named 'confusion.csv' already"):
            run.log_artifact(report)
        run.log_artifact(report, name="confusion-v2.csv")
        with pytest.raises(NotFound, match="does not exist"):
            run.log_artifact(tmp_path / "absent.csv")
    links = workspace.runs.get(run.id).artifacts
    assert [a.name for a in links] == ["confusion.csv", "confusion-v2.csv"]
    assert workspace.artifacts.read_bytes(links[0].digest) == b"tp,fp\n10,1\n"


# --------------------------------------------------------------------------- metrics


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, np.float64("nan")], ids=["nan", "inf", "-inf", "np.nan"])
def test_a_metric_that_is_not_finite_is_refused_naming_the_key_and_value(workspace: Any, value: float) -> None:
    with workspace.start_run(experiment="metrics") as run:
        with pytest.raises(InvalidInput, match=rf"Metric 'loss' is {value}: metrics must be finite numbers"):
            run.log_metric("loss", value)
        with pytest.raises(InvalidInput, match="Metric 'auc' is"):
            run.log_metrics({"ok": 1.0, "auc": value})
    assert workspace.runs.get(run.id).metrics == {}  # a refused batch records nothing


@pytest.mark.parametrize("value", ["0.9", None, True, [1.0]], ids=["str", "None", "bool", "list"])
def test_a_metric_that_is_not_a_number_is_refused_naming_the_key_and_value(workspace: Any, value: Any) -> None:
    with workspace.start_run(experiment="metrics") as run, pytest.raises(InvalidInput, match=r"Metric 'loss' must be a number, got"):
        run.log_metric("loss", value)


def test_metric_history_keeps_the_order_logged_with_steps_defaulting_per_key(workspace: Any) -> None:
    with workspace.start_run(experiment="metrics") as run:
        for loss in (0.9, 0.5, 0.3):
            run.log_metric("loss", loss)
        run.log_metric("auc", 0.8, step=10)
        run.log_metric("auc", 0.85)
        run.log_metric("count", 3)  # ints are numbers too
        with pytest.raises(InvalidInput, match="The step of metric 'auc' must be an integer >= 0"):
            run.log_metric("auc", 0.9, step=-1)
    history = workspace.runs.metrics(run.id, "loss")
    assert [(p.step, p.value) for p in history] == [(0, 0.9), (1, 0.5), (2, 0.3)]
    assert [(p.step, p.value) for p in workspace.runs.metrics(run.id, "auc")] == [(10, 0.8), (11, 0.85)]
    assert workspace.runs.get(run.id).metrics == {"auc": 0.85, "count": 3.0, "loss": 0.3}
    with pytest.raises(NotFound, match=r"has no metric 'acc' \(metrics: auc, count, loss\)"):
        workspace.runs.metrics(run.id, "acc")


# --------------------------------------------------------------------------- queries


def test_list_filters_by_experiment_and_status_newest_first(workspace: Any) -> None:
    with workspace.start_run(experiment="a") as first:
        pass
    with pytest.raises(RuntimeError), workspace.start_run(experiment="a") as failed:
        raise RuntimeError("boom")
    with workspace.start_run(experiment="b") as other:
        pass
    assert [r.id for r in workspace.runs.list()] == [other.id, failed.id, first.id]
    assert [r.id for r in workspace.runs.list(experiment="a")] == [failed.id, first.id]
    assert [r.id for r in workspace.runs.list(experiment="a", status="failed")] == [failed.id]
    assert [r.id for r in workspace.runs.list(limit=1)] == [other.id]
    with pytest.raises(InvalidInput, match="Unknown run status 'done'"):
        workspace.runs.list(status="done")


def test_compare_lines_up_params_and_metrics_and_names_what_differs(workspace: Any) -> None:
    ids = []
    for C, accuracy in ((0.5, 0.91), (1.0, 0.91)):
        with workspace.start_run(experiment="compare") as run:
            run.log_params({"C": C, "penalty": "l2"})
            run.log_metrics({"accuracy": accuracy, "loss": C / 10})
        ids.append(run.id)
    result = workspace.runs.compare(ids)
    assert result.run_ids == tuple(ids)
    assert result.params == {"C": {ids[0]: 0.5, ids[1]: 1.0}, "penalty": {ids[0]: "l2", ids[1]: "l2"}}
    assert result.differing_params == ("C",)
    assert result.differing_metrics == ("loss",)
    assert result.metrics["accuracy"] == {ids[0]: 0.91, ids[1]: 0.91}


def test_an_unknown_run_id_is_not_found(workspace: Any) -> None:
    unknown = "run_0000000000000000"
    for attempt in (
        lambda: workspace.runs.get(unknown), lambda: workspace.runs.metrics(unknown, "loss"),
        lambda: workspace.runs.compare([unknown]), lambda: workspace.runs.load_model(unknown, "clf"),
        lambda: workspace.runs.kill(unknown, reason="stop"), lambda: workspace.runs.log_batch(unknown, params={"C": 1}),
    ):
        with pytest.raises(NotFound, match=f"No run '{unknown}' in this workspace. List runs with `gxpml runs list`"):
            attempt()


def test_module_level_start_run_uses_the_default_workspace(local: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import gxpml

    _info, token = local.tokens.create("training job", expires_days=1)
    monkeypatch.setenv("GXPML_HOME", str(local.settings.home))
    monkeypatch.setenv("GXPML_TOKEN", token)
    with gxpml.start_run(experiment="default", seed=1) as run:
        run.log_metric("loss", 0.25)
    assert local.runs.get(run.id).metrics == {"loss": 0.25}


def test_a_report_about_a_finished_run_is_linked_in_lineage(workspace: Any) -> None:
    with workspace.start_run(experiment="reports", seed=1) as made:
        pass
    with workspace.start_run(experiment="reports", seed=1) as checker:
        pass
    digest = workspace.artifacts.put(b'{"matched": true}', name="report.json").digest
    node = workspace.runs.attach_report(made.id, digest, kind="reproduction", produced_by=checker.id)
    assert node == f"report:{digest}"
    assert {f"run:{made.id}", f"run:{checker.id}"} <= set(workspace.lineage.ancestors(node).nodes)
    assert workspace.runs.get(made.id).status.value == "finished"  # the run itself is unchanged

    with pytest.raises(InvalidInput, match="Unknown report kind 'summary'; one of reproduction, validation"):
        workspace.runs.attach_report(made.id, digest, kind="summary")
    with pytest.raises(NotFound, match="No run 'run_nope'"):
        workspace.runs.attach_report("run_nope", digest, kind="reproduction")
    with pytest.raises(NotFound, match=r"No artifact sha256:0{64} in this workspace"):
        workspace.runs.attach_report(made.id, "0" * 64, kind="reproduction")


def test_the_run_create_returns_is_the_run_recorded(workspace: Any) -> None:
    from gxpml.tracking.records import RunSource

    created = workspace.runs.create("returned", seed=3, name="r", tags={"b": "2", "a": "1"},
                                    source=RunSource(entry_point="train.py", code_digest="ab" * 32, git_commit="c0ffee",
                                                     git_dirty=False))
    try:
        assert created == workspace.runs.get(created.id)
        assert list(created.tags) == ["a", "b"] and created.created_by == "admin"
    finally:
        workspace.runs.end(created.id)
