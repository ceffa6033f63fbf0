"""Fixtures for the tracking tests: real clinical data (scikit-learn's breast-cancer set) and
helpers to read what a run recorded."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split


@pytest.fixture(scope="session")
def breast_cancer() -> tuple[Any, Any, Any, Any]:
    """``X_train, X_test, y_train, y_test`` as DataFrames / Series, split with a fixed seed."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return tuple(train_test_split(X, y, test_size=0.25, random_state=0, stratify=y))  # type: ignore[return-value]


@pytest.fixture
def environment_of() -> Callable[[Any, str], dict[str, Any]]:
    """``environment_of(workspace, run_id)``: the environment JSON the run recorded, read
    back from the artifact store."""

    def read(workspace: Any, run_id: str) -> dict[str, Any]:
        digest = workspace.runs.get(run_id).source.environment_digest
        return dict(json.loads(workspace.artifacts.read_bytes(digest)))

    return read
