"""Splits are deterministic, never leak a group across splits, put the latest rows in an
out-of-time test split, and count every read of a sequestered test split."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gxpml.data.models import SPLITS
from gxpml.data.splits import assign
from gxpml.errors import Conflict, InvalidInput, NotFound


@pytest.fixture
def visits(diabetes: pd.DataFrame) -> pd.DataFrame:
    """The diabetes patients with three visits each, on dated days (1,326 rows)."""
    rows = diabetes.loc[diabetes.index.repeat(3)].reset_index(drop=True)
    rows["visit"] = pd.Timestamp("2021-01-04") + pd.to_timedelta(np.arange(len(rows)) % 500, unit="D")
    rows["site"] = "S" + (rows.index % 7).astype(str)
    return rows


def test_the_same_split_twice_is_the_same_split(workspace: Any, diabetes: pd.DataFrame) -> None:
    workspace.data.register("diabetes", diabetes)
    first = workspace.data.split("diabetes:1", test=0.2, validation=0.1, seed=42)
    again = workspace.data.split("diabetes:1", test=0.2, validation=0.1, seed=42)
    assert again.id == first.id and again.assignment_digest == first.assignment_digest
    assert first.counts == {"train": 310, "validation": 44, "test": 88}
    assert first.method == "random" and first.sequestered

    # the assignment depends on the data, parameters and seed only: another dataset with the
    # same rows is split identically, a different seed differently
    workspace.data.register("diabetes-copy", diabetes)
    copy = workspace.data.split("diabetes-copy", test=0.2, validation=0.1, seed=42)
    assert copy.assignment_digest == first.assignment_digest
    assert (workspace.data.load("diabetes:1", split="train").patient_id.tolist()
            == workspace.data.load("diabetes-copy:1", split="train").patient_id.tolist())


def test_a_different_seed_gives_a_different_split(workspace: Any, diabetes: pd.DataFrame) -> None:
    workspace.data.register("a", diabetes)
    workspace.data.register("b", diabetes)
    first = workspace.data.split("a", test=0.25, seed=1, sequester_test=False)
    second = workspace.data.split("b", test=0.25, seed=2, sequester_test=False)
    assert first.counts == second.counts and first.assignment_digest != second.assignment_digest


def test_splits_partition_the_rows(workspace: Any, diabetes: pd.DataFrame) -> None:
    workspace.data.register("diabetes", diabetes)
    workspace.data.split("diabetes", test=0.2, validation=0.2, seed=7)
    parts = {name: workspace.data.load("diabetes", split=name) for name in ("train", "validation", "test")}
    ids = [set(p.patient_id) for p in parts.values()]
    assert sum(len(i) for i in ids) == 442 and set.union(*ids) == set(diabetes.patient_id)
    assert parts["train"].columns.tolist() == diabetes.columns.tolist()


def test_a_group_aware_split_never_puts_a_patient_in_two_splits(workspace: Any, visits: pd.DataFrame) -> None:
    workspace.data.register("visits", visits)
    split = workspace.data.split("visits", test=0.2, validation=0.1, group="patient_id", seed=3)
    assert split.method == "group"
    parts = {name: set(workspace.data.load("visits", split=name).patient_id) for name in SPLITS}
    assert not parts["train"] & parts["test"] and not parts["train"] & parts["validation"]
    assert not parts["validation"] & parts["test"]
    assert split.counts["test"] >= 0.2 * len(visits) and split.counts["test"] % 3 == 0  # whole patients


def test_an_out_of_time_split_puts_the_latest_rows_in_test(workspace: Any, visits: pd.DataFrame) -> None:
    workspace.data.register("visits", visits)
    split = workspace.data.split("visits", test=0.2, validation=0.1, time="visit", seed=0)
    assert split.method == "time"
    train, val, test = (workspace.data.load("visits", split=name) for name in ("train", "validation", "test"))
    assert train.visit.max() < val.visit.min() and val.visit.max() < test.visit.min()
    assert test.visit.max() == visits.visit.max()
    assert len(test) >= round(0.2 * len(visits))  # rows sharing the boundary day stay together


def test_group_and_time_together_put_the_latest_starting_groups_in_test(workspace: Any, visits: pd.DataFrame) -> None:
    workspace.data.register("visits", visits)
    split = workspace.data.split("visits", test=0.25, group="site", time="visit", seed=0, sequester_test=False)
    assert split.method == "group-time"
    train, test = workspace.data.load("visits", split="train"), workspace.data.load("visits", split="test")
    assert not set(train.site) & set(test.site)
    first_visit = visits.groupby("site").visit.min()
    assert first_visit[list(set(test.site))].min() >= first_visit[list(set(train.site))].max()


def test_reads_of_a_sequestered_test_split_are_counted_and_audited(workspace: Any, diabetes: pd.DataFrame) -> None:
    workspace.data.register("diabetes", diabetes)
    split = workspace.data.split("diabetes", test=0.2, seed=42)
    workspace.data.load("diabetes", split="train")
    workspace.data.load("diabetes", split="train")
    assert workspace.data.show("diabetes").splits[0].test_reads == 0

    test = workspace.data.load("diabetes", split="test")
    workspace.data.load("diabetes")  # all rows: the test rows too
    assert workspace.data.show("diabetes").splits[0].test_reads == 2
    events = workspace.audit.log(action="dataset.test_read")
    assert [(e.entity_type, e.entity_id, e.actor_name, e.new) for e in events] == [
        ("dataset_split", split.id, "Ada Admin", {"dataset": "diabetes:1", "split": "test", "rows": len(test)}),
        ("dataset_split", split.id, "Ada Admin", {"dataset": "diabetes:1", "split": "all", "rows": 442}),
    ]


def test_a_sequestered_split_cannot_be_redone_differently(workspace: Any, diabetes: pd.DataFrame) -> None:
    workspace.data.register("diabetes", diabetes)
    workspace.data.split("diabetes", test=0.2, seed=42)
    with pytest.raises(Conflict, match=r"Dataset version diabetes:1 has a sequestered test split already \(spl_\w+, "
                                       r"test=0.2, validation=0.0, seed=42\); splitting it differently would expose"):
        workspace.data.split("diabetes", test=0.3, seed=42)


def test_an_unsequestered_split_can_be_replaced_and_the_newest_is_current(workspace: Any, diabetes: pd.DataFrame) -> None:
    workspace.data.register("diabetes", diabetes)
    first = workspace.data.split("diabetes", test=0.2, seed=1, sequester_test=False)
    second = workspace.data.split("diabetes", test=0.3, seed=1, sequester_test=False)
    assert [(s.id, s.current) for s in workspace.data.show("diabetes").splits] == [(first.id, False), (second.id, True)]
    assert len(workspace.data.load("diabetes", split="test")) == second.counts["test"] == 133
    workspace.data.load("diabetes", split="test")
    assert workspace.audit.log(action="dataset.test_read") == []


def test_bad_split_requests_say_what_is_wrong(workspace: Any, diabetes: pd.DataFrame) -> None:
    workspace.data.register("diabetes", diabetes.assign(site=None))
    with pytest.raises(NotFound, match=r"Dataset version diabetes:1 has no split, so it has no test rows\. Split it first"):
        workspace.data.load("diabetes", split="test")
    with pytest.raises(InvalidInput, match=r"split must be one of train, validation, test"):
        workspace.data.load("diabetes", split="holdout")
    with pytest.raises(InvalidInput, match=r"test must be a fraction from 0 up to \(not including\) 1; got 1.5"):
        workspace.data.split("diabetes", test=1.5, seed=1)
    with pytest.raises(InvalidInput, match=r"test \+ validation must be above 0 and below 1"):
        workspace.data.split("diabetes", test=0.6, validation=0.5, seed=1)
    with pytest.raises(InvalidInput, match=r"seed must be a whole number from 0 to 2\*\*63-1; got -1"):
        workspace.data.split("diabetes", test=0.2, seed=-1)
    with pytest.raises(InvalidInput, match=r"Dataset version diabetes:1 has no column 'patient' to group by; its columns: patient_id, age"):
        workspace.data.split("diabetes", test=0.2, group="patient", seed=1)
    with pytest.raises(InvalidInput, match=r"The group column 'site' has 442 missing value\(s\)"):
        workspace.data.split("diabetes", test=0.2, group="site", seed=1)
    with pytest.raises(InvalidInput, match=r"The time column 'patient_id' is string; an out-of-time split needs a datetime or a number"):
        workspace.data.split("diabetes", test=0.2, time="patient_id", seed=1)
    assert workspace.data.show("diabetes").splits == []


# --------------------------------------------------------------------------- properties


@settings(max_examples=200, deadline=None)
@given(
    groups=st.lists(st.integers(0, 30), min_size=2, max_size=300),
    test=st.floats(0.05, 0.5), validation=st.floats(0, 0.3), seed=st.integers(0, 2**63 - 1),
)
def test_no_group_ever_lands_in_two_splits(groups: list[int], test: float, validation: float, seed: int) -> None:
    column = pa.array([f"patient-{g}" for g in groups])
    try:
        result = assign(len(groups), test=test, validation=validation, seed=seed, group=column)
    except InvalidInput as exc:  # too few groups for three non-empty splits: refused, never leaked
        assert "would be empty" in str(exc)
        return
    split_of: dict[int, int] = {}
    for group, code in zip(groups, result.codes.tolist(), strict=True):
        assert split_of.setdefault(group, code) == code
    again = assign(len(groups), test=test, validation=validation, seed=seed, group=column)
    assert np.array_equal(again.codes, result.codes)


@settings(max_examples=100, deadline=None)
@given(times=st.lists(st.integers(0, 50), min_size=2, max_size=200), test=st.floats(0.05, 0.6))
def test_out_of_time_test_rows_are_never_earlier_than_train_rows(times: list[int], test: float) -> None:
    column = pa.array(times, pa.int64())
    try:
        result = assign(len(times), test=test, validation=0.0, seed=0, time=column)
    except InvalidInput:
        return  # every row at one time: no train rows to keep
    codes = result.codes
    train, held_out = np.array(times)[codes == SPLITS["train"]], np.array(times)[codes == SPLITS["test"]]
    assert train.max() < held_out.min()
    assert len(held_out) >= round(test * len(times))
