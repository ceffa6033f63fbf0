"""Declared inputs: ``run.use_dataset`` reads a dataset version (or one split of it) and records
exactly which version, content digest and split assignment the run read; with the code,
environment and models of the run, they become lineage edges."""

from __future__ import annotations

from typing import Any

import pytest

from gxpml import Conflict, InvalidInput, NotFound


@pytest.fixture
def dataset(workspace: Any, breast_cancer: tuple[Any, ...]) -> Any:
    """The breast-cancer training rows registered as ``bc`` and split 75/25 with seed 1."""
    X_train, _, y_train, _ = breast_cancer
    frame = X_train.assign(target=y_train).reset_index(drop=True)
    workspace.data.register("bc", frame, description="Wisconsin breast cancer (scikit-learn)")
    workspace.data.split("bc", test=0.25, seed=1, sequester_test=False)
    return workspace.data.show("bc")


def test_use_dataset_returns_the_rows_and_records_the_version_digest_and_split(workspace: Any, dataset: Any) -> None:
    with workspace.start_run(experiment="inputs") as run:
        train = run.use_dataset("bc", split="train")
        everything = run.use_dataset("bc:1")
    [split] = dataset.splits
    assert len(train) == split.counts["train"] and len(everything) == dataset.num_rows
    first, second = workspace.runs.get(run.id).inputs
    assert (first.ref, first.version_id, first.split, first.split_id) == ("bc:1", dataset.id, "train", split.id)
    assert f"sha256:{first.digest}" == dataset.digest
    assert (second.ref, second.split, second.split_id) == ("bc:1", None, None)


def test_a_name_alone_is_pinned_to_the_latest_version(workspace: Any, dataset: Any, breast_cancer: tuple[Any, ...]) -> None:
    _, X_test, _, y_test = breast_cancer
    workspace.data.register("bc", X_test.assign(target=y_test).reset_index(drop=True))
    with workspace.start_run(experiment="inputs") as run:
        rows = run.use_dataset("bc")
    assert len(rows) == len(X_test)
    [declared] = workspace.runs.get(run.id).inputs
    assert declared.ref == "bc:2" and declared.version_id == workspace.data.show("bc:2").id


def test_bad_inputs_are_refused(workspace: Any, dataset: Any) -> None:
    workspace.data.register("unsplit", workspace.data.load("bc:1").head(20))
    with workspace.start_run(experiment="inputs") as run:
        with pytest.raises(NotFound):
            run.use_dataset("absent")
        with pytest.raises(InvalidInput, match="split"):
            run.use_dataset("bc", split="holdout")
        with pytest.raises(NotFound, match="has no split"):
            run.use_dataset("unsplit", split="train")
    with pytest.raises(Conflict, match="is finished"):
        run.use_dataset("bc")
    assert workspace.runs.get(run.id).inputs == ()


def test_the_lineage_of_a_model_reaches_its_data_split_version_code_and_environment(
    workspace: Any, dataset: Any, breast_cancer: tuple[Any, ...],
) -> None:
    from sklearn.tree import DecisionTreeClassifier

    with workspace.start_run(experiment="inputs", seed=4) as run:
        train = run.use_dataset("bc", split="train")
        clf = DecisionTreeClassifier(random_state=run.seed).fit(train.drop(columns="target"), train.target)
        model = run.log_model(clf, name="tree")
    recorded = workspace.runs.get(run.id)
    [split] = dataset.splits
    up = workspace.lineage.ancestors(f"model:{model.id}")
    assert up.nodes[f"run:{run.id}"] == 1
    assert up.nodes[f"dataset_split:{split.id}"] == 2
    assert up.nodes[f"dataset_version:{dataset.id}"] == 3
    assert up.nodes[f"environment:{recorded.source.environment_digest}"] == 2
    code = recorded.source.git_commit if recorded.source.git_dirty is False else recorded.source.code_digest
    assert up.nodes[f"code:{code}"] == 2
    assert (f"run:{run.id}", f"model:{model.id}", "produced") in up.edges
