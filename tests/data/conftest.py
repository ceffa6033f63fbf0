"""Fixtures for the dataset tests: real clinical data (the bundled diabetes study, 442
patients) as a DataFrame and as CSV and Parquet files, and users holding one role each."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import gxpml.datasets
from support import PASSWORD

DIABETES_CSV = Path(gxpml.datasets.__file__).parent / "diabetes.csv"

CHECKS = {
    "strict": True,
    "columns": {
        "patient_id": {"dtype": "string", "nullable": False, "unique": True, "checks": {"str_matches": "^P[0-9]{4}$"}},
        "age": {"dtype": "int64", "checks": {"in_range": {"min": 18, "max": 100}}},
        "sex": {"dtype": "int64", "checks": {"isin": [1, 2]}},
        "bmi": {"dtype": "float64", "checks": {"gt": 0}},
        "bp": {"dtype": "float64"},
        "tc": {"dtype": "int64"},
        "ldl": {"dtype": "float64"},
        "hdl": {"dtype": "float64"},
        "tch": {"dtype": "float64"},
        "ltg": {"dtype": "float64"},
        "glu": {"dtype": "int64"},
        "progression": {"dtype": "int64", "checks": {"ge": 0}},
    },
}


@pytest.fixture
def checks() -> dict[str, Any]:
    """A declared schema with checks that the diabetes study passes."""
    return json.loads(json.dumps(CHECKS))


@pytest.fixture(scope="session")
def diabetes() -> pd.DataFrame:
    """The diabetes study as pandas reads it (ints stay int64, floats float64)."""
    return pd.read_csv(DIABETES_CSV)


@pytest.fixture
def files(tmp_path: Path, diabetes: pd.DataFrame) -> dict[str, Path]:
    """The same data as ``csv`` and ``parquet`` files."""
    csv, parquet = tmp_path / "diabetes.csv", tmp_path / "diabetes.parquet"
    diabetes.to_csv(csv, index=False)
    diabetes.to_parquet(parquet, index=False)
    return {"csv": csv, "parquet": parquet}


@pytest.fixture
def user_with(workspace: Any, login: Callable[[str, str], Any]) -> Callable[[str], Any]:
    """``user_with(role)``: the workspace as a new user holding only ``role``."""
    made: dict[str, Any] = {}

    def make(role: str) -> Any:
        if role not in made:
            username = role.replace("-", "_")
            workspace.users.add(username, f"{role.title()} Tester", password=PASSWORD, roles=[role])
            made[role] = login(username, PASSWORD)
        return made[role]

    return make


