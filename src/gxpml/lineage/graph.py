"""Recording edges and querying ancestors / descendants with recursive SQL."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, text

from gxpml.errors import InvalidInput, NotFound
from gxpml.lineage.tables import LineageEdge
from gxpml.store.uow import UnitOfWork

if TYPE_CHECKING:
    from gxpml.workspace import Workspace

__all__ = ["EDGE_TYPES", "Lineage", "LineageGraph", "link", "parse_node"]

#: Edge types (after W3C PROV and SageMaker Lineage Tracking), all pointing downstream.
EDGE_TYPES = {
    "produced": "a run produced a model, report or other output",
    "derived-from": "a dataset version (or model) was derived from an earlier one",
    "contributed-to": "an input (a dataset version, a split) contributed to a run",
    "associated-with": "code or an environment was associated with a run",
}
_NODE = re.compile(r"^[a-z][a-z_]{0,31}:[A-Za-z0-9._:@/-]{1,160}$")
MAX_DEPTH = 100


def parse_node(node: str) -> str:
    """Check a ``type:id`` node reference."""
    if not isinstance(node, str) or not _NODE.match(node):
        raise InvalidInput(
            f"A lineage node is written TYPE:ID, e.g. run:run_5f2c0a9e1b7d43aa or "
            f"dataset_version:dsv_…; got {node!r}."
        )
    return node


def link(uow: UnitOfWork, upstream: str, downstream: str, edge_type: str) -> None:
    """Record, inside ``uow``, that ``upstream`` was used in making ``downstream``."""
    if edge_type not in EDGE_TYPES:
        raise InvalidInput(f"Unknown lineage edge type {edge_type!r}; known: {', '.join(EDGE_TYPES)}.")
    uow.insert(LineageEdge, upstream=parse_node(upstream), downstream=parse_node(downstream), edge_type=edge_type)


@dataclass
class LineageGraph:
    """The result of a lineage query: the start node, the nodes reached (with their distance)
    and the edges among them."""

    root: str
    direction: str
    nodes: dict[str, int] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root, "direction": self.direction,
            "nodes": [{"id": n, "type": n.split(":", 1)[0], "depth": d}
                      for n, d in sorted(self.nodes.items(), key=lambda item: (item[1], item[0]))],
            "edges": [{"upstream": u, "downstream": d, "type": t} for u, d, t in sorted(self.edges)],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LineageGraph:
        return cls(
            root=data["root"], direction=data["direction"],
            nodes={n["id"]: n["depth"] for n in data["nodes"]},
            edges=[(e["upstream"], e["downstream"], e["type"]) for e in data["edges"]],
        )

    def types(self) -> set[str]:
        return {n.split(":", 1)[0] for n in self.nodes}


def _walk_sql(direction: str, typed: bool) -> str:
    near, far = ("downstream", "upstream") if direction == "up" else ("upstream", "downstream")
    where = " AND e.edge_type IN :types" if typed else ""
    return (
        "WITH RECURSIVE walk(node, depth) AS ("
        f" SELECT e.{far}, 1 FROM lineage_edges e WHERE e.{near} = :root{where}"
        " UNION"
        f" SELECT e.{far}, w.depth + 1 FROM lineage_edges e JOIN walk w ON e.{near} = w.node"
        f" WHERE w.depth < :depth{where}"
        ") SELECT node, MIN(depth) FROM walk GROUP BY node"
    )


class Lineage:
    """``ws.lineage``: ancestors and descendants of any node."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def _walk(self, node: str, direction: str, depth: int, types: Iterable[str] | None) -> LineageGraph:
        ws = self._ws
        ws._db.authorize(ws.actor, "lineage.read")
        node = parse_node(node)
        if not 1 <= depth <= MAX_DEPTH:
            raise InvalidInput(f"depth must be between 1 and {MAX_DEPTH}, got {depth}.")
        type_list = sorted(set(types)) if types else None
        for t in type_list or []:
            if t not in EDGE_TYPES:
                raise InvalidInput(f"Unknown lineage edge type {t!r}; known: {', '.join(EDGE_TYPES)}.")
        statement = text(_walk_sql(direction, type_list is not None))
        params: dict[str, Any] = {"root": node, "depth": depth}
        if type_list is not None:
            statement = statement.bindparams(bindparam("types", expanding=True))
            params["types"] = type_list
        graph = LineageGraph(root=node, direction=direction)
        with ws._db.connect() as conn:
            graph.nodes = {row[0]: int(row[1]) for row in conn.execute(statement, params)}
            if not graph.nodes:
                known = conn.execute(
                    text("SELECT 1 FROM lineage_edges WHERE upstream = :n OR downstream = :n LIMIT 1"), {"n": node}
                ).first()
                if known is None:
                    raise NotFound(f"{node} has no lineage: nothing was recorded as made from or with it.")
                return graph
            members = {node, *graph.nodes}
            edge_sql = text(
                "SELECT upstream, downstream, edge_type FROM lineage_edges WHERE downstream IN :chunk"
            ).bindparams(bindparam("chunk", expanding=True))
            ordered = sorted(members)
            edges = set()
            for start in range(0, len(ordered), 500):
                for up, down, kind in conn.execute(edge_sql, {"chunk": ordered[start:start + 500]}):
                    if up in members and (type_list is None or kind in type_list):
                        edges.add((up, down, kind))
            graph.edges = sorted(edges)
        return graph

    def ancestors(self, node: str, *, depth: int = MAX_DEPTH, types: list[str] | None = None) -> LineageGraph:
        """Everything ``node`` was made from, up to ``depth`` edges away."""
        return self._walk(node, "up", depth, types)

    def descendants(self, node: str, *, depth: int = MAX_DEPTH, types: list[str] | None = None) -> LineageGraph:
        """Everything made from ``node``, up to ``depth`` edges away."""
        return self._walk(node, "down", depth, types)
