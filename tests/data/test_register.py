"""Registering dataset versions: numbering, catalog metadata, derivation, profiles, and the
errors a user meets when the input is wrong."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from gxpml.errors import Conflict, InvalidInput, NotFound, PermissionDenied


def test_versions_are_numbered_and_each_records_what_it_was_derived_from(workspace: Any, diabetes: pd.DataFrame) -> None:
    raw = workspace.data.register(
        "diabetes", diabetes, description="Efron et al. 2004", owner="admin", phi=True, retention_days=3650,
        read_roles=["data-scientist"], source_uri="https://www4.stat.ncsu.edu/~boos/var.select/diabetes.html",
    )
    adults = workspace.data.register("diabetes", diabetes[diabetes.age >= 30].reset_index(drop=True),
                                     derived_from="diabetes:1")
    cohort = workspace.data.register("diabetes-cohort", diabetes.head(100), derived_from="diabetes:2")

    assert (raw.ref, adults.ref, cohort.ref) == ("diabetes:1", "diabetes:2", "diabetes-cohort:1")
    assert (raw.derived_from, adults.derived_from, cohort.derived_from) == (None, "diabetes:1", "diabetes:2")
    assert adults.num_rows == int((diabetes.age >= 30).sum())
    # catalog metadata belongs to the dataset: the second version shows the first's
    assert (adults.description, adults.owner, adults.phi, adults.retention_days, adults.read_roles) == (
        "Efron et al. 2004", "admin", True, 3650, ["data-scientist"])
    assert adults.retain_until == adults.created_at + pd.Timedelta(days=3650)
    assert workspace.data.show("diabetes").ref == "diabetes:2"  # a bare name is the latest
    assert [v.ref for v in workspace.data.list()] == ["diabetes:2", "diabetes-cohort:1"]
    assert [v.ref for v in workspace.data.list("diabetes")] == ["diabetes:1", "diabetes:2"]


def test_derived_versions_are_lineage_edges(workspace: Any, diabetes: pd.DataFrame) -> None:
    raw = workspace.data.register("diabetes", diabetes)
    clean = workspace.data.register("diabetes-clean", diabetes.dropna(), derived_from="diabetes:1")
    up = workspace.lineage.ancestors(f"dataset_version:{clean.id}")
    assert up.edges == [(f"dataset_version:{raw.id}", f"dataset_version:{clean.id}", "derived-from")]


def test_the_record_holds_counts_and_the_profile_holds_statistics(workspace: Any, diabetes: pd.DataFrame) -> None:
    version = workspace.data.register("diabetes", diabetes)
    assert version.summary["patient_id"] == {"count": 442, "nulls": 0, "distinct": 442}
    assert version.summary["age"] == {"count": 442, "nulls": 0}  # no values on the record
    profile = workspace.data.profile("diabetes:1")
    age = profile["columns"]["age"]
    assert (age["min"], age["max"]) == (diabetes.age.min(), diabetes.age.max())
    assert age["mean"] == pytest.approx(diabetes.age.mean())
    assert age["std"] == pytest.approx(diabetes.age.std())
    assert profile["columns"]["sex"]["type"] == "int64"
    assert profile["rows"] == 442 and profile["digest"] == version.digest


def test_changing_catalog_metadata_needs_update_with_a_reason(workspace: Any, diabetes: pd.DataFrame) -> None:
    workspace.data.register("diabetes", diabetes, phi=False)
    with pytest.raises(Conflict, match=r"exists with phi=False \(not True\).*ws.data.update"):
        workspace.data.register("diabetes", diabetes.head(10), phi=True)
    updated = workspace.data.update("diabetes", phi=True, read_roles=["data-scientist"], reason="holds patient ids")
    assert (updated.phi, updated.read_roles) == (True, ["data-scientist"])
    [event] = workspace.audit.log(action="dataset.update")
    assert event.reason == "holds patient ids" and event.old == {"phi": False, "read_roles": None}


# --------------------------------------------------------------------------- bad input


def test_a_missing_file_is_not_found(workspace: Any, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"Cannot register .*absent\.csv: the file does not exist\."):
        workspace.data.register("x", tmp_path / "absent.csv")


def test_an_unsupported_format_is_refused(workspace: Any, tmp_path: Path) -> None:
    sheet = tmp_path / "labs.xlsx"
    sheet.write_bytes(b"PK\x03\x04")
    with pytest.raises(InvalidInput, match=r"Cannot register labs\.xlsx: the format of '\.xlsx' files is not supported\. "
                                           r"Use CSV \(\.csv, \.csv\.gz\) or Parquet \(\.parquet\)"):
        workspace.data.register("labs", sheet)


def test_an_unreadable_file_says_why(workspace: Any, mode: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"this is not parquet at all")
    with pytest.raises(InvalidInput, match=r"Cannot read .*\.parquet as Parquet: .*Is it a complete Parquet file\?"):
        workspace.data.register("broken", broken)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(InvalidInput, match=r"Cannot register .*\.csv: the file is empty \(not even a header row\)\."):
        workspace.data.register("empty", empty)
    if mode == "local" and os.geteuid() != 0:  # a file the user may not read (the server reads uploads)
        secret = tmp_path / "secret.csv"
        secret.write_text("a\n1\n")
        secret.chmod(0)
        with pytest.raises(InvalidInput, match=r"Cannot read .*secret\.csv: Permission denied\. Check its permissions\."):
            workspace.data.register("secret", secret)
    assert workspace.data.list() == []


def test_unknown_datasets_and_versions_are_not_found(workspace: Any, diabetes: pd.DataFrame) -> None:
    with pytest.raises(NotFound, match=r"No dataset named 'nope'\. List datasets with `gxpml data list`\."):
        workspace.data.show("nope")
    workspace.data.register("diabetes", diabetes)
    with pytest.raises(NotFound, match=r"Dataset diabetes has no version 7 \(its latest is diabetes:1\)\."):
        workspace.data.load("diabetes:7")
    with pytest.raises(NotFound, match=r"No dataset named 'nope'"):
        workspace.data.register("diabetes", diabetes.head(5), derived_from="nope:1")
    with pytest.raises(InvalidInput, match=r"NAME:VERSION with VERSION a number from 1, e.g. labs:3; got 'diabetes:0'"):
        workspace.data.show("diabetes:0")


def test_bad_names_and_options_are_refused(workspace: Any, diabetes: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match=r"A dataset name is 1-200 letters, digits"):
        workspace.data.register("no spaces", diabetes)
    with pytest.raises(InvalidInput, match=r"Unknown role\(s\) in read_roles: 'clinician'"):
        workspace.data.register("diabetes", diabetes, read_roles=["clinician"])
    with pytest.raises(InvalidInput, match=r"retention_days must be a whole number of days from 1; got 0"):
        workspace.data.register("diabetes", diabetes, retention_days=0)
    with pytest.raises(NotFound, match=r"No user named 'ghost' to own dataset diabetes"):
        workspace.data.register("diabetes", diabetes, owner="ghost")
    assert workspace.data.list() == []


def test_dataframes_with_a_named_index_or_unsupported_types_are_refused(workspace: Any, diabetes: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match=r"named index.*df.reset_index\(\)"):
        workspace.data.register("diabetes", diabetes.set_index("patient_id"))
    nested = pd.DataFrame({"visits": [[1, 2], [3]]})
    with pytest.raises(InvalidInput, match=r"Column 'visits' has type list<item: int64>, which datasets do not hold"):
        workspace.data.register("nested", nested)


def test_registering_needs_the_role(user_with: Any, diabetes: pd.DataFrame, workspace: Any) -> None:
    reviewer = user_with("reviewer")
    with pytest.raises(PermissionDenied, match=r"reviewer \(reviewer\) may not data.register"):
        reviewer.data.register("diabetes", diabetes)
    [denial] = workspace.audit.log(action="access.denied")
    assert denial.new["permission"] == "data.register"
    scientist = user_with("data-scientist")
    assert scientist.data.register("diabetes", diabetes).owner == "data_scientist"
    assert [v.ref for v in reviewer.data.list()] == ["diabetes:1"]  # reviewers see the catalog

