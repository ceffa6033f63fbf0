"""Exports verify offline, and any change to an exported file is caught."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gxpml.errors import PermissionDenied
from gxpml.workspace import Workspace
from support import PASSWORD


@pytest.fixture
def busy(workspace: Workspace) -> Workspace:
    for i in range(4):
        workspace.users.add(f"user{i}", f"User {i}", password=PASSWORD, roles=["reviewer"])
    workspace.audit.checkpoint()
    workspace.users.disable("user1", reason="left")
    return workspace


def test_a_jsonl_export_verifies_offline_with_its_checkpoints(busy: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "trail.jsonl"
    manifest = busy.audit.export(out)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["type"] == "header" and lines[-1]["type"] == "manifest"
    assert sum(1 for r in lines if r["type"] == "event") == manifest["count"] == busy.audit.verify().head_seq - 1
    assert sum(1 for r in lines if r["type"] == "checkpoint") == 1
    report = busy.audit.verify_file(out)
    assert report.ok, report.problems
    assert report.checkpoints == 1
    # the export itself is an audited action
    assert busy.audit.log(action="audit.export")[0].new["count"] == manifest["count"]  # type: ignore[index]


def test_a_time_range_export_holds_only_that_range_and_still_verifies(busy: Workspace, tmp_path: Path) -> None:
    events = busy.audit.log(limit=None)
    since, until = events[3].ts, events[6].ts
    out = tmp_path / "range.jsonl"
    manifest = busy.audit.export(out, since=since, until=until)
    assert (manifest["first_seq"], manifest["last_seq"]) == (events[3].seq, events[6].seq)
    assert busy.audit.verify_file(out).ok


def test_an_edited_line_in_a_jsonl_export_is_named(busy: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "trail.jsonl"
    busy.audit.export(out)
    lines = out.read_text().splitlines()
    event = json.loads(lines[3])
    event["actor_name"] = "Someone Else"
    lines[3] = json.dumps(event, sort_keys=True, separators=(",", ":"))
    out.write_text("\n".join(lines) + "\n")
    report = busy.audit.verify_file(out)
    assert not report.ok
    assert report.first_failure == event["seq"]
    assert any("manifest" == p.check for p in report.problems)


def test_a_truncated_export_is_caught(busy: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "trail.jsonl"
    busy.audit.export(out)
    lines = out.read_text().splitlines()
    events_only = [line for line in lines if json.loads(line)["type"] != "checkpoint"]
    out.write_text("\n".join(events_only[:-2] + events_only[-1:]) + "\n")  # drop the last event
    report = busy.audit.verify_file(out)
    assert not report.ok
    assert any("manifest" == p.check for p in report.problems)


def test_a_csv_export_verifies_and_an_edited_cell_is_named(busy: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "trail.csv"
    busy.audit.export(out, fmt="csv")
    assert busy.audit.verify_file(out).ok
    rows = list(csv.reader(out.open(newline="")))
    rows[2][rows[0].index("action")] = "user.nothing"
    with out.open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    report = busy.audit.verify_file(out)
    assert report.first_failure == int(rows[2][0])


def test_only_permitted_roles_may_export(busy: Workspace, tmp_path: Path, login: Callable[[str, str], Any]) -> None:
    busy.users.add("dana", "Dana Scientist", password=PASSWORD, roles=["data-scientist"])
    busy.users.add("audrey", "Audrey Auditor", password=PASSWORD, roles=["auditor"])
    with login("dana", PASSWORD) as dana:
        with pytest.raises(PermissionDenied, match="may not audit.export"):
            dana.audit.export(tmp_path / "x.jsonl")
    with login("audrey", PASSWORD) as audrey:
        audrey.audit.export(tmp_path / "y.jsonl")
        assert audrey.audit.verify().ok
    assert not (tmp_path / "x.jsonl").exists()
