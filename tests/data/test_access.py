"""Dataset rows are read through ws.data only, never around it through the artifacts API."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from gxpml.errors import PermissionDenied
from gxpml.workspace import Workspace
from support import PASSWORD


def test_dataset_rows_cannot_be_read_around_ws_data_through_the_artifacts_api(workspace: Any, login: Any, local: Workspace) -> None:
    """Reviewers hold artifact.read; the dataset's own rules must still apply."""
    version = workspace.data.register("guarded", pd.DataFrame({"a": [1, 2, 3]}), read_roles=["data-scientist"])
    local.users.add("rita", "Rita Reviewer", password=PASSWORD, roles=["reviewer"])
    rita = login("rita", PASSWORD)
    with pytest.raises(PermissionDenied, match="holds dataset data; read it with ws.data.load"):
        rita.artifacts.read_bytes(version.artifact)
    denial = local.audit.log(action="access.denied", newest_first=True)[0]
    assert denial.new is not None and denial.new["permission"] == f"artifact.read:{version.artifact.removeprefix('sha256:')}"
    assert workspace.data.load("guarded")["a"].tolist() == [1, 2, 3]  # the owner still reads it
