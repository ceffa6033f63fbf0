"""Lineage: a typed graph over everything gxpml records (DESIGN.md invariant 4).

Nodes are ``type:id`` strings (``dataset_version:dsv_…``, ``run:run_…``, ``model:…``,
``code:<commit or sha256>``, ``environment:<sha256>``); edges are typed and point
downstream, from what was used to what was made. They are created by the SDK calls that
make things (:func:`link`), never by hand, and each is an audited record.
"""

from gxpml.lineage.graph import EDGE_TYPES, Lineage, LineageGraph, link, parse_node

__all__ = ["EDGE_TYPES", "Lineage", "LineageGraph", "link", "parse_node"]
