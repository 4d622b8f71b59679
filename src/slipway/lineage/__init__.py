"""Lineage from raw data to every prediction: nodes, edges, upstream and downstream queries."""

from slipway.lineage._service import RELATIONS, Edge, LineageGraph, LineageService, NodeRef, mark_retired, record_edges

__all__ = ["RELATIONS", "Edge", "LineageGraph", "LineageService", "NodeRef", "mark_retired", "record_edges"]
