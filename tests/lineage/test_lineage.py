"""Lineage queries: ancestors and descendants with depth and type filters, in every format."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gxpml.errors import InvalidInput, NotFound, PermissionDenied
from gxpml.lineage import link
from gxpml.lineage.render import render
from gxpml.workspace import Workspace
from support import PASSWORD

EDGES = [
    ("dataset_version:dsv_raw", "dataset_version:dsv_clean", "derived-from"),
    ("dataset_version:dsv_clean", "run:run_a", "contributed-to"),
    ("code:abc123", "run:run_a", "associated-with"),
    ("environment:env1", "run:run_a", "associated-with"),
    ("run:run_a", "model:mdl_a", "produced"),
    ("model:mdl_a", "report:rep_a", "contributed-to"),
]


@pytest.fixture
def graph(local: Workspace) -> Workspace:
    with local._db.write(local.actor, "lineage.record") as uow:
        for up, down, kind in EDGES:
            link(uow, up, down, kind)
    return local


def test_the_lineage_of_a_model_reaches_its_data_code_and_environment(graph: Workspace, workspace: Any) -> None:
    up = workspace.lineage.ancestors("model:mdl_a")
    assert up.nodes == {"run:run_a": 1, "dataset_version:dsv_clean": 2, "code:abc123": 2,
                        "environment:env1": 2, "dataset_version:dsv_raw": 3}
    assert ("run:run_a", "model:mdl_a", "produced") in up.edges
    assert len(up.edges) == 5


def test_depth_and_type_filters(graph: Workspace, workspace: Any) -> None:
    assert set(workspace.lineage.ancestors("model:mdl_a", depth=1).nodes) == {"run:run_a"}
    only_data = workspace.lineage.ancestors("run:run_a", types=["contributed-to", "derived-from"])
    assert set(only_data.nodes) == {"dataset_version:dsv_clean", "dataset_version:dsv_raw"}
    down = workspace.lineage.descendants("dataset_version:dsv_raw")
    assert down.nodes == {"dataset_version:dsv_clean": 1, "run:run_a": 2, "model:mdl_a": 3, "report:rep_a": 4}


def test_renderings(graph: Workspace) -> None:
    g = graph.lineage.ancestors("model:mdl_a")
    assert json.loads(render(g, "json"))["root"] == "model:mdl_a"
    dot = render(g, "dot")
    assert dot.startswith("digraph lineage {") and '"run:run_a" -> "model:mdl_a" [label="produced"]' in dot
    mermaid = render(g, "mermaid")
    assert mermaid.startswith("graph LR") and "-- produced -->" in mermaid
    text = render(g, "text").splitlines()
    assert text[0] == "model:mdl_a" and text[1].strip().startswith("<- run:run_a")


def test_bad_queries_are_clear_errors(graph: Workspace, workspace: Any) -> None:
    with pytest.raises(InvalidInput, match="TYPE:ID"):
        workspace.lineage.ancestors("no colon")
    with pytest.raises(InvalidInput, match="Unknown lineage edge type 'made'"):
        workspace.lineage.ancestors("model:mdl_a", types=["made"])
    with pytest.raises(NotFound, match="run:run_nothing has no lineage"):
        workspace.lineage.ancestors("run:run_nothing")


def test_edges_are_audited_records(graph: Workspace, tamper: Any) -> None:
    assert len(graph.audit.log(entity="lineage_edge", limit=None)) == len(EDGES)
    assert graph.audit.verify().ok
    tamper("UPDATE lineage_edges SET upstream = 'code:forged' WHERE upstream = 'code:abc123'")
    problems = graph.audit.verify().problems
    assert len(problems) == 1 and "differs from its audit trail" in problems[0].message


def test_a_service_token_cannot_read_lineage(graph: Workspace, login: Any) -> None:
    graph.users.add("svc", "Pipeline Service", password=PASSWORD, roles=["service"])
    with pytest.raises(PermissionDenied, match="may not lineage.read"):
        login("svc", PASSWORD).lineage.ancestors("model:mdl_a")
