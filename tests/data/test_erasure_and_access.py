"""Erasure destroys a version's data keys while its record, digest and audit trail remain;
access to the data follows the roles, and the dataset's own read_roles narrow it further."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select

from gxpml.data.tables import DatasetVersion
from gxpml.errors import Conflict, InvalidInput, NotFound, PermissionDenied, ReasonRequired
from gxpml.store.tables import ArtifactKey, ArtifactRecord
from gxpml.workspace import Workspace


def test_erased_data_is_unreadable_while_the_record_verifies(workspace: Any, local: Workspace, diabetes: pd.DataFrame) -> None:
    version = workspace.data.register("diabetes", diabetes, phi=True)
    split = workspace.data.split("diabetes", test=0.2, group="patient_id", seed=1)
    kept = workspace.data.register("diabetes", diabetes.head(100))  # another version stays readable

    erased = workspace.data.erase("diabetes:1", reason="GDPR Art. 17 request #4711")
    assert (erased.status.value, erased.digest, erased.num_rows) == ("erased", version.digest, 442)
    assert erased.erased_at is not None and erased.splits[0].assignment_digest == split.assignment_digest

    message = r"Dataset version diabetes:1 was erased on .*: its data keys were destroyed and its data cannot be read by anyone"
    for read in (lambda: workspace.data.load("diabetes:1"), lambda: workspace.data.load("diabetes:1", split="train"),
                 lambda: workspace.data.profile("diabetes:1"), lambda: workspace.data.split("diabetes:1", test=0.3, seed=2)):
        with pytest.raises(Conflict, match=message):
            read()
    for digest in (version.artifact, split.artifact):  # not through the artifact store either
        with pytest.raises(NotFound, match=r"was erased on .*its content is gone by design"):
            workspace.artifacts.read_bytes(digest)

    with local._db.read() as session:  # the keys are gone and the objects with them
        stored = [version.artifact, split.artifact]
        digests = [d.removeprefix("sha256:") for d in stored]
        assert session.scalars(select(ArtifactKey).where(ArtifactKey.digest.in_(digests))).all() == []
        assert all(r.erased_at is not None for r in session.scalars(select(ArtifactRecord).where(ArtifactRecord.digest.in_(digests))))
        assert session.get(DatasetVersion, version.id) is not None
    assert not any(local.artifacts._objects.exists(d) for d in digests)

    assert len(workspace.data.load("diabetes:2")) == 100
    assert workspace.audit.verify().ok
    events = workspace.audit.log(action="dataset.erase")
    assert {e.reason for e in events} == {"GDPR Art. 17 request #4711"}
    changed = {(e.entity_type, e.old.get("status") if e.old else None) for e in events}
    assert ("dataset_version", "ready") in changed and ("artifact", None) in changed
    [summary] = [e for e in events if e.new and "data_keys_destroyed" in e.new]
    assert summary.new["data_keys_destroyed"] == 3 and summary.new["dataset"] == "diabetes:1"
    with pytest.raises(Conflict, match="was erased on"):
        workspace.data.erase("diabetes:1", reason="again")
    assert kept.status.value == "ready"


def test_erasing_needs_a_reason_and_a_version_number(workspace: Any, diabetes: pd.DataFrame) -> None:
    workspace.data.register("diabetes", diabetes)
    with pytest.raises(ReasonRequired, match=r"Erasing dataset version diabetes:1 needs a reason"):
        workspace.data.erase("diabetes:1", reason=" ")
    with pytest.raises(InvalidInput, match=r"Name the version to erase, e.g. diabetes:1"):
        workspace.data.erase("diabetes", reason="oops")
    assert workspace.data.show("diabetes:1").status.value == "ready"


def test_data_under_retention_is_erased_only_when_a_legal_duty_is_named(workspace: Any, diabetes: pd.DataFrame) -> None:
    version = workspace.data.register("trial", diabetes, retention_days=3650)
    assert version.retain_until is not None and (version.retain_until - version.created_at).days == 3650
    with pytest.raises(Conflict, match=r"Dataset version trial:1 is under retention until 20\d\d-.*Z \(its dataset keeps "
                                       r"data 3650 days\)\. .*pass before_retention_end=True"):
        workspace.data.erase("trial:1", reason="tidy up")
    assert workspace.data.show("trial:1").status.value == "ready"
    assert len(workspace.data.load("trial:1")) == 442  # nothing was lost by the refusal

    erased = workspace.data.erase("trial:1", reason="GDPR Art. 17 request #12", before_retention_end=True)
    assert erased.status.value == "erased"
    [event] = [e for e in workspace.audit.log(action="dataset.erase") if e.new and "before_retention_end" in e.new]
    assert event.new["before_retention_end"] is True and event.new["retain_until"].startswith(str(version.retain_until.year))
    assert workspace.audit.verify().ok


def test_only_an_administrator_or_the_owner_may_erase(workspace: Any, user_with: Any, diabetes: pd.DataFrame) -> None:
    scientist, other = user_with("data-scientist"), user_with("service")
    scientist.data.register("own", diabetes)
    workspace.data.register("admins", diabetes.head(10))
    with pytest.raises(PermissionDenied, match=r"data_scientist \(data-scientist\) may not data.erase"):
        scientist.data.erase("admins:1", reason="tidy up")
    with pytest.raises(PermissionDenied, match=r"service \(service\) may not data.erase"):
        other.data.erase("own:1", reason="tidy up")
    assert scientist.data.erase("own:1", reason="consent withdrawn").status.value == "erased"
    denials = [e.new["permission"] for e in workspace.audit.log(action="access.denied")]
    assert denials == ["data.erase", "data.erase"]


def test_reading_data_follows_roles_and_read_roles(workspace: Any, user_with: Any, diabetes: pd.DataFrame) -> None:
    workspace.data.register("open", diabetes)
    workspace.data.register("restricted", diabetes, phi=True, read_roles=["data-scientist"])
    reviewer, service, scientist = user_with("reviewer"), user_with("service"), user_with("data-scientist")

    # reviewers and auditors see the catalog, never the rows
    assert [v.ref for v in reviewer.data.list()] == ["open:1", "restricted:1"]
    assert reviewer.data.show("restricted").phi is True
    with pytest.raises(PermissionDenied, match=r"reviewer \(reviewer\) may not data.read"):
        reviewer.data.load("open")

    # read_roles narrows who may read: a pipeline token may read "open" but not "restricted"
    assert len(service.data.load("open")) == 442
    with pytest.raises(PermissionDenied, match=(
        r"service \(service\) may not read dataset restricted: it is readable by data-scientist and its owner "
        r"admin only\. Ask its owner or an administrator\.")):
        service.data.load("restricted")
    with pytest.raises(PermissionDenied, match="may not read dataset restricted"):
        service.data.split("restricted", test=0.2, seed=1)
    assert len(scientist.data.load("restricted")) == 442
    assert len(workspace.data.load("restricted")) == 442  # its owner

    denials = [e.new["permission"] for e in workspace.audit.log(action="access.denied")]
    assert denials == ["data.read", "data.read:restricted", "data.read:restricted"]


def test_owner_only_datasets(workspace: Any, user_with: Any, diabetes: pd.DataFrame) -> None:
    scientist = user_with("data-scientist")
    scientist.data.register("mine", diabetes, read_roles=[])
    assert len(scientist.data.load("mine")) == 442
    with pytest.raises(PermissionDenied, match="readable by no role and its owner data_scientist only"):
        workspace.data.load("mine")
