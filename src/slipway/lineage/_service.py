"""Lineage: every object is a node, every "made from" is an edge pointing downstream.

An edge ``src -> dst`` with relation ``produced`` reads "src produced dst"; upstream of an object
is what it came from, downstream is what was made from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, and_, or_, select, update

from slipway._operations import Api
from slipway._time import now_ms
from slipway.lineage._tables import lineage_edges, lineage_nodes
from slipway.security import Permission, requires
from slipway.store import Database, insert_ignore, upsert

api = Api("lineage")  # the REST routes and remote methods derive from these declarations (slipway._operations)
RELATIONS = ("produced", "consumed", "derived_from", "registered_as", "deployed_as", "monitored_by", "contains")


@dataclass(frozen=True, order=True)
class NodeRef:
    """One object in the graph: its kind, id and readable name.

    ``retired`` marks an object that no longer serves, as its domain says (an endpoint variant no
    longer in the endpoint's traffic); it stays in the graph, since what it did remains true.
    """

    kind: str
    id: str
    name: str | None = None
    retired: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.id)


@dataclass(frozen=True)
class Edge:
    src: tuple[str, str]
    dst: tuple[str, str]
    relation: str


@dataclass(frozen=True)
class LineageGraph:
    root: tuple[str, str]
    nodes: tuple[NodeRef, ...]
    edges: tuple[Edge, ...]


def record_edges(conn: Connection, edges: Iterable[tuple[NodeRef, NodeRef, str]]) -> None:
    """Record ``(src, dst, relation)`` edges and their nodes inside the caller's transaction.

    Idempotent: recording the same edge twice keeps one. A node's name is updated when given.
    """
    now = now_ms()
    node_rows: dict[tuple[str, str], dict[str, object]] = {}
    edge_rows = []
    for src, dst, relation in edges:
        if relation not in RELATIONS:
            raise ValueError(f"unknown lineage relation {relation!r}; known: {', '.join(RELATIONS)}")
        for node in (src, dst):
            node_rows[node.key] = {"kind": node.kind, "object_id": node.id, "name": node.name, "created_at": now}
        edge_rows.append(
            {
                "src_kind": src.kind,
                "src_id": src.id,
                "dst_kind": dst.kind,
                "dst_id": dst.id,
                "relation": relation,
                "created_at": now,
            }
        )
    named = [r for r in node_rows.values() if r["name"] is not None]
    unnamed = [r for r in node_rows.values() if r["name"] is None]
    upsert(conn, lineage_nodes, named, keys=("kind", "object_id"), update=("name",))
    insert_ignore(conn, lineage_nodes, unnamed)
    insert_ignore(conn, lineage_edges, edge_rows)


def mark_retired(conn: Connection, nodes: Iterable[NodeRef], *, retired: bool = True) -> None:
    """Mark ``nodes`` retired (or live again) inside the caller's transaction; unknown nodes are ignored."""
    keys = {node.key for node in nodes}
    if not keys:
        return
    n = lineage_nodes.c
    match = or_(*(and_(n.kind == kind, n.object_id == object_id) for kind, object_id in keys))
    conn.execute(update(lineage_nodes).where(match).values(retired_at=now_ms() if retired else None))


class LineageService:
    """Queries over the lineage graph.

    Example:
        >>> graph = client.lineage.downstream("dataset_version", version.id)  # doctest: +SKIP
        >>> [(n.kind, n.name) for n in graph.nodes]  # doctest: +SKIP
        [('dataset_version', 'abalone:1'), ('run', 'train')]
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    @api.get("/lineage/{kind}/{object_id}/upstream")
    @requires(Permission.READ)
    def upstream(self, kind: str, object_id: str, depth: int = 3) -> LineageGraph:
        """What ``(kind, object_id)`` came from, up to ``depth`` hops.

        Args:
            kind: the object's kind (``run``, ``dataset_version``, ``model_version``, ...).
            object_id: the object's id.
            depth: how many edges away to look.
        """
        return self._walk(kind, object_id, depth, upstream=True)

    @api.get("/lineage/{kind}/{object_id}/downstream")
    @requires(Permission.READ)
    def downstream(self, kind: str, object_id: str, depth: int = 3) -> LineageGraph:
        """What was made from ``(kind, object_id)``, up to ``depth`` hops.

        Args:
            kind: the object's kind (``run``, ``dataset_version``, ``model_version``, ...).
            object_id: the object's id.
            depth: how many edges away to look.
        """
        return self._walk(kind, object_id, depth, upstream=False)

    def _walk(self, kind: str, object_id: str, depth: int, *, upstream: bool) -> LineageGraph:
        e = lineage_edges.c
        near, far = (
            ((e.dst_kind, e.dst_id), (e.src_kind, e.src_id))
            if upstream
            else ((e.src_kind, e.src_id), (e.dst_kind, e.dst_id))
        )
        seen: set[tuple[str, str]] = {(kind, object_id)}
        frontier = [(kind, object_id)]
        edges: list[Edge] = []
        with self._db.read() as conn:
            for _ in range(max(depth, 0)):
                if not frontier:
                    break
                cond = or_(*(and_(near[0] == k, near[1] == i) for k, i in frontier))
                rows = conn.execute(select(lineage_edges).where(cond)).all()
                frontier = []
                for r in rows:
                    edges.append(Edge((r.src_kind, r.src_id), (r.dst_kind, r.dst_id), r.relation))
                    nxt = (r.src_kind, r.src_id) if upstream else (r.dst_kind, r.dst_id)
                    if nxt not in seen:
                        seen.add(nxt)
                        frontier.append(nxt)
            names: dict[tuple[str, str], tuple[str | None, bool]] = {}
            if seen:
                cond = or_(*(and_(lineage_nodes.c.kind == k, lineage_nodes.c.object_id == i) for k, i in seen))
                names = {(r.kind, r.object_id): (r.name, r.retired_at is not None)
                         for r in conn.execute(select(lineage_nodes).where(cond))}
        nodes = tuple(sorted(NodeRef(k, i, *names.get((k, i), (None, False))) for k, i in seen))
        return LineageGraph(root=(kind, object_id), nodes=nodes, edges=tuple(dict.fromkeys(edges)))
