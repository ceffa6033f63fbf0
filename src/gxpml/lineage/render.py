"""Lineage graphs as text, DOT (Graphviz) or Mermaid."""

from __future__ import annotations

import json

from gxpml.lineage.graph import LineageGraph

__all__ = ["FORMATS", "render"]

FORMATS = ("text", "json", "dot", "mermaid")


def _dot_id(node: str) -> str:
    return json.dumps(node)


def render(graph: LineageGraph, fmt: str = "text") -> str:
    """``graph`` in one of :data:`FORMATS`."""
    if fmt == "json":
        return json.dumps(graph.to_dict(), indent=2, sort_keys=True)
    if fmt == "dot":
        lines = ["digraph lineage {", "  rankdir=LR;", f"  {_dot_id(graph.root)} [style=bold];"]
        lines += [f"  {_dot_id(n)};" for n in sorted(graph.nodes)]
        lines += [f"  {_dot_id(u)} -> {_dot_id(d)} [label={json.dumps(t)}];" for u, d, t in graph.edges]
        return "\n".join([*lines, "}"])
    if fmt == "mermaid":
        names = {n: f"n{i}" for i, n in enumerate(sorted({graph.root, *graph.nodes}))}
        lines = ["graph LR"]
        lines += [f'  {names[n]}["{n}"]' for n in sorted(names)]
        lines += [f"  {names[u]} -- {t} --> {names[d]}" for u, d, t in graph.edges]
        return "\n".join(lines)
    if fmt != "text":
        from gxpml.errors import InvalidInput

        raise InvalidInput(f"Unknown lineage format {fmt!r}; use one of {', '.join(FORMATS)}.")
    arrow = "<-" if graph.direction == "up" else "->"
    lines = [graph.root]
    for node, depth in sorted(graph.nodes.items(), key=lambda item: (item[1], item[0])):
        # how this node connects one step toward the root
        via = sorted(t for u, d, t in graph.edges if (u if graph.direction == "up" else d) == node)
        lines.append(f"{'  ' * depth}{arrow} {node}  [{', '.join(dict.fromkeys(via))}]")
    return "\n".join(lines)
