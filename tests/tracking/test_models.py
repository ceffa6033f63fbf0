"""Models: saved with skops (trusted types recorded), never a raw pickle unless the caller
opts in, with the input signature and example; loading checks the digest first."""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from gxpml import Conflict, IntegrityError, InvalidInput, NotFound
from gxpml.workspace import Workspace


def damage(local: Workspace, digest: str) -> None:
    """Flip one byte of a stored object, as a failing disk or a careless admin would."""
    obj = Path(local.settings.artifact_url) / "objects" / digest[:2] / digest
    content = bytearray(obj.read_bytes())
    content[len(content) // 2] ^= 0xFF
    obj.write_bytes(bytes(content))


@pytest.fixture
def foreign(breast_cancer: tuple[Any, ...]) -> Any:
    """A fitted pipeline holding a function from outside scikit-learn (``operator.neg``)."""
    X_train, _, y_train, _ = breast_cancer
    return make_pipeline(FunctionTransformer(operator.neg), StandardScaler(), LogisticRegression(max_iter=5000)).fit(X_train, y_train)


def test_a_model_whose_stored_bytes_were_altered_is_not_loaded(
    workspace: Any, local: Workspace, breast_cancer: tuple[Any, ...],
) -> None:
    X_train, _, y_train, _ = breast_cancer
    with workspace.start_run(experiment="models", seed=1) as run:
        model = run.log_model(DecisionTreeClassifier(random_state=1).fit(X_train, y_train), name="tree")
    assert model.trusted_types == ("sklearn.tree._tree.Tree",)  # library types are trusted and recorded
    damage(local, model.digest)
    with pytest.raises(IntegrityError):
        workspace.runs.load_model(run.id, "tree")


def test_a_model_holding_a_foreign_type_is_refused_unless_someone_vouches_for_it(
    workspace: Any, foreign: Any, breast_cancer: tuple[Any, ...],
) -> None:
    _, X_test, _, _ = breast_cancer
    with workspace.start_run(experiment="models") as run:
        with pytest.raises(InvalidInput, match=r"types that are not part of its library: _operator\.neg.*pass trusted=\[\.\.\.\]"):
            run.log_model(foreign, name="pipeline")
        model = run.log_model(foreign, name="pipeline", trusted=["_operator.neg"])
    assert model.format == "skops"
    assert model.trusted_types == ("_operator.neg",) and model.vouched_types == ("_operator.neg",)
    loaded = workspace.runs.load_model(run.id, "pipeline")
    np.testing.assert_array_equal(loaded.predict(X_test), foreign.predict(X_test))


def test_a_raw_pickle_is_written_and_read_only_when_the_caller_opts_in(
    workspace: Any, foreign: Any, breast_cancer: tuple[Any, ...],
) -> None:
    _, X_test, _, _ = breast_cancer
    with workspace.start_run(experiment="models") as run:
        model = run.log_model(foreign, name="pickled", allow_pickle=True)
    assert model.format == "pickle" and model.trusted_types == ()
    with pytest.raises(InvalidInput, match=r"was saved as a raw pickle; loading it can run arbitrary code\. Pass allow_pickle=True"):
        workspace.runs.load_model(run.id, "pickled")
    loaded = workspace.runs.load_model(run.id, "pickled", allow_pickle=True)
    np.testing.assert_array_equal(loaded.predict(X_test), foreign.predict(X_test))


def test_library_models_are_never_pickled_even_when_pickle_is_allowed(workspace: Any, breast_cancer: tuple[Any, ...]) -> None:
    X_train, _, y_train, _ = breast_cancer
    with workspace.start_run(experiment="models") as run:
        model = run.log_model(DecisionTreeClassifier().fit(X_train, y_train), name="tree", allow_pickle=True)
    assert model.format == "skops"


def test_a_model_record_cannot_trust_more_than_its_file_needs(workspace: Any, foreign: Any) -> None:
    data = skops.io.dumps(foreign)
    digest = workspace.artifacts.put(data, name="crafted.skops").digest
    common = {"digest": digest, "flavor": "sklearn", "format": "skops", "signature": {}, "libraries": {}}
    with workspace.start_run(experiment="models") as run:
        with pytest.raises(InvalidInput, match=r"needs the trusted types \['_operator.neg'\], but the record names \['_operator.neg', 'builtins.eval'\]"):
            workspace.runs.add_model(run.id, "crafted", trusted_types=["builtins.eval", "_operator.neg"], vouched_types=[], **common)
        with pytest.raises(InvalidInput, match="holds types nobody vouched for: _operator.neg"):
            workspace.runs.add_model(run.id, "crafted", trusted_types=["_operator.neg"], vouched_types=[], **common)
        not_skops = workspace.artifacts.put(b"not a zip file", name="junk").digest
        with pytest.raises(InvalidInput, match="The model file is not a skops file"):
            workspace.runs.add_model(run.id, "junk", trusted_types=[], vouched_types=[], **{**common, "digest": not_skops})


def test_the_signature_comes_from_the_example_or_else_the_fitted_model(workspace: Any) -> None:
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    with workspace.start_run(experiment="models") as run:
        bare = run.log_model(clf, name="bare")
        example = run.log_model(clf, name="with-example", input_example=X[:2].astype(np.float32))
    assert bare.signature == {"from": "model", "inputs": [{"name": None, "dtype": None}] * 3}
    assert bare.example_digest is None
    assert example.signature == {"from": "input_example", "inputs": [{"name": None, "dtype": "float32"}] * 3}
    assert workspace.artifacts.read_bytes(example.example_digest).startswith(b'{"data":[[')


def test_model_names_are_unique_in_a_run_and_unknown_names_are_not_found(workspace: Any) -> None:
    clf = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    with workspace.start_run(experiment="models") as run:
        run.log_model(clf, name="clf")
        with pytest.raises(Conflict, match="has a model named 'clf' already"):
            run.log_model(clf, name="clf")
        with pytest.raises(InvalidInput, match="log_model takes scikit-learn"):
            run.log_model({"weights": [1, 2]}, name="dict")
    with pytest.raises(NotFound, match=rf"Run {run.id} has no model named 'other' \(models: clf\)"):
        workspace.runs.load_model(run.id, "other")


def test_the_same_fitted_model_is_stored_as_the_same_bytes(workspace: Any, breast_cancer: tuple[Any, ...]) -> None:
    """Two fits with the same seed give one digest: skops' id()-based member names and zip
    times are normalized, which is what lets a reproduced run match its model byte for byte."""
    X_train, X_test, y_train, _ = breast_cancer

    def fit() -> Any:
        return make_pipeline(StandardScaler(), DecisionTreeClassifier(random_state=3)).fit(X_train, y_train)

    with workspace.start_run(experiment="models") as run:
        first = run.log_model(fit(), name="first")
        second = run.log_model(fit(), name="second")
        other = run.log_model(make_pipeline(StandardScaler(), DecisionTreeClassifier(random_state=3, max_depth=2))
                              .fit(X_train, y_train), name="other")
    assert first.digest == second.digest != other.digest
    loaded = workspace.runs.load_model(run.id, "second")
    np.testing.assert_array_equal(loaded.predict(X_test), fit().predict(X_test))


def test_a_lightgbm_model_is_logged_with_skops_and_loads_with_the_same_predictions(
    workspace: Any, breast_cancer: tuple[Any, ...],
) -> None:
    from lightgbm import LGBMClassifier

    X_train, X_test, y_train, _ = breast_cancer
    model = LGBMClassifier(n_estimators=20, random_state=1, verbose=-1).fit(X_train, y_train)
    with workspace.start_run(experiment="models") as run:
        info = run.log_model(model, name="lgbm", input_example=X_test[:2])
    assert (info.flavor, info.format) == ("lightgbm", "skops")
    assert "lightgbm.basic.Booster" in info.trusted_types and "collections.OrderedDict" in info.trusted_types
    assert info.vouched_types == ()  # nothing foreign: no one had to vouch
    loaded = workspace.runs.load_model(run.id, "lgbm")
    np.testing.assert_array_equal(loaded.predict_proba(X_test), model.predict_proba(X_test))
