"""Data quality checks run on registration: a failed check blocks use of the version until
someone overrides it with a reason, which the audit trail keeps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from gxpml.errors import Conflict, InvalidInput, NotFound, PermissionDenied


def with_bad_rows(diabetes: pd.DataFrame) -> pd.DataFrame:
    bad = diabetes.copy()
    bad.loc[3, "age"] = 130  # out of range
    bad.loc[7, "sex"] = 3  # not a known code
    bad.loc[9, "patient_id"] = bad.loc[8, "patient_id"]  # a duplicate id
    return bad


def test_passing_checks_are_recorded_and_the_version_is_ready(
    workspace: Any, diabetes: pd.DataFrame, checks: dict[str, Any], tmp_path: Path,
) -> None:
    path = tmp_path / "diabetes.yaml"
    path.write_text(_yaml(checks))
    version = workspace.data.register("diabetes", diabetes, checks=path)
    assert version.status.value == "ready"
    assert {(c["column"], c["check"]) for c in version.checks} >= {
        ("patient_id", "not_null"), ("patient_id", "unique"), ("patient_id", 'str_matches("^P[0-9]{4}$")'),
        ("age", "in_range(max=100, min=18)"), ("sex", "isin([1, 2])"), ("progression", "ge(0)"),
    }
    assert all(c["failures"] == 0 for c in version.checks)
    assert version.checks_spec is not None
    assert json.loads(workspace.artifacts.read_bytes(version.checks_spec))["columns"]["age"]["dtype"] == "int64"
    assert len(workspace.data.load("diabetes")) == 442


def test_failed_checks_block_use_until_overridden_with_a_reason(
    workspace: Any, diabetes: pd.DataFrame, checks: dict[str, Any],
) -> None:
    bad = with_bad_rows(diabetes)
    blocked = workspace.data.register("diabetes", bad, checks=checks)
    assert blocked.status.value == "blocked"
    assert {(c["column"], c["check"], c["failures"]) for c in blocked.failed_checks} == {
        ("age", "in_range(max=100, min=18)", 1), ("sex", "isin([1, 2])", 1), ("patient_id", "unique", 1),
    }
    message = (r"Dataset version diabetes:1 is blocked: 3 data quality check\(s\) failed \(.*age: "
               r"in_range\(max=100, min=18\) failed on 1 row\(s\).*\)\. Fix the data and register it again, or "
               r"register the same data with override_reason=\.\.\.")
    with pytest.raises(Conflict, match=message):
        workspace.data.load("diabetes:1")
    with pytest.raises(Conflict, match="is blocked"):
        workspace.data.split("diabetes:1", test=0.2, seed=1)

    # the failing values are kept with the data, for those who may read it
    failing = {(c["column"], c["check"]): c["examples"] for c in workspace.data.profile("diabetes:1")["checks"]}
    assert failing[("age", "in_range(max=100, min=18)")] == [{"row": 3, "value": 130}]

    overridden = workspace.data.register("diabetes", bad, checks=checks,
                                         override_reason="age 130 is a transcription error fixed in v2; sex 3 = unknown")
    assert (overridden.id, overridden.status.value) == (blocked.id, "overridden")
    assert len(workspace.data.load("diabetes:1")) == 442
    [event] = workspace.audit.log(action="dataset.override")
    assert event.reason == "age 130 is a transcription error fixed in v2; sex 3 = unknown"
    assert event.old == {"status": "blocked", "override_reason": None}


def test_an_override_given_at_registration_is_audited(workspace: Any, diabetes: pd.DataFrame, checks: dict[str, Any]) -> None:
    version = workspace.data.register("diabetes", with_bad_rows(diabetes), checks=checks, override_reason="pilot data")
    assert (version.status.value, version.override_reason) == ("overridden", "pilot data")
    [event] = [e for e in workspace.audit.log(action="dataset.register") if e.entity_type == "dataset_version"]
    assert event.reason == "pilot data" and event.new["status"] == "overridden"


def test_pipelines_cannot_override_failed_checks(user_with: Any, diabetes: pd.DataFrame, checks: dict[str, Any]) -> None:
    service = user_with("service")
    with pytest.raises(PermissionDenied, match=r"may not data.override"):
        service.data.register("diabetes", with_bad_rows(diabetes), checks=checks, override_reason="ship it")
    assert service.data.list() == []
    assert service.data.register("diabetes", with_bad_rows(diabetes), checks=checks).status.value == "blocked"


def test_a_schema_mismatch_registers_nothing(workspace: Any, diabetes: pd.DataFrame, checks: dict[str, Any]) -> None:
    renamed = diabetes.rename(columns={"sex": "gender"}).assign(age=diabetes.age.astype("float64"))
    with pytest.raises(InvalidInput, match=(
        r"The data does not match the declared schema \(checks\): column 'age' is float64, declared int64; "
        r"column 'sex' is missing; undeclared column\(s\) 'gender' \(strict: true\)\. Fix the data or the "
        r"checks file; nothing was registered\.")):
        workspace.data.register("diabetes", renamed, checks=checks)
    assert workspace.data.list() == []


def test_declared_types_decide_how_csv_text_is_read(workspace: Any, tmp_path: Path) -> None:
    csv = tmp_path / "sites.csv"
    csv.write_text("site,zip\nS1,01234\nS2,98765\n")
    as_numbers = workspace.data.register("sites", csv)
    assert as_numbers.columns[1] == {"name": "zip", "type": "int64"}
    as_text = workspace.data.register("sites-text", csv, checks={"columns": {"zip": {"dtype": "string"}}})
    assert workspace.data.load("sites-text").zip.tolist() == ["01234", "98765"]
    assert as_text.digest != as_numbers.digest
    with pytest.raises(InvalidInput, match=r"column 'site' of .*sites\.csv is declared int64 but holds 'S1'"):
        workspace.data.register("sites-int", csv, checks={"columns": {"site": {"dtype": "int64"}}})


@pytest.mark.parametrize(("text", "message"), [
    ("columns: [age", r"The checks file bad.yaml is not valid YAML at line 1, column 14: expected ',' or ']'"),
    ("columns:\n  age:\n    checks: {gte: 0}\n",
     r"malformed at columns.age.checks.gte: unknown check 'gte'; known: eq, ne, ge, gt, le, lt, in_range"),
    ("columns:\n  age:\n    dtype: integer32\n", r"malformed at columns.age.dtype: unknown dtype 'integer32'"),
    ("columns:\n  age:\n    checks: {in_range: {min: 0}}\n", r"in_range needs both min and max"),
    ("columns:\n  id:\n    checks: {str_matches: '(['}\n", r"'\(\[' is not a valid regular expression"),
    ("colums: {}\n", r"malformed at the top level: unknown key\(s\) 'colums'; known: columns, strict, description"),
    ("- age\n", r"must hold a mapping with a 'columns' key; got list"),
])
def test_a_malformed_checks_file_says_what_is_wrong(workspace: Any, diabetes: pd.DataFrame, tmp_path: Path,
                                                    text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInput, match=message):
        workspace.data.register("diabetes", diabetes, checks=path)


def test_checks_that_cannot_apply_to_a_column_are_refused(workspace: Any, diabetes: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"str_matches applies to string columns, and 'age' is int64"):
        workspace.data.register("diabetes", diabetes, checks={"columns": {"age": {"checks": {"str_matches": "^1"}}}})
    with pytest.raises(InvalidInput, match=r"ge compares 'age' \(int64\) with 'old', which is not a number"):
        workspace.data.register("diabetes", diabetes, checks={"columns": {"age": {"checks": {"ge": "old"}}}})
    with pytest.raises(NotFound, match=r"The checks file .*missing.yaml does not exist"):
        workspace.data.register("diabetes", diabetes, checks=tmp_path / "missing.yaml")
    json_checks = tmp_path / "checks.json"
    json_checks.write_text('{"columns": {"age": {"checks": {"ge": 0,}}}}')
    with pytest.raises(InvalidInput, match=r"The checks file checks.json is not valid JSON: .* at line 1"):
        workspace.data.register("diabetes", diabetes, checks=json_checks)


def _yaml(data: Any) -> str:
    import yaml

    return str(yaml.safe_dump(data))
