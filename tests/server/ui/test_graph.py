"""The layered graph layout behind the pipeline DAG and the lineage explorer."""

from __future__ import annotations

import random
import time
from xml.etree import ElementTree

import pytest

from slipway.server.ui._graph import NODE_HEIGHT, NODE_WIDTH, GraphNode, Layout, layout, render_svg


def _random_dag(count: int, seed: int = 7) -> tuple[list[GraphNode], list[tuple[str, str]]]:
    rng = random.Random(seed)
    statuses = ["Succeeded", "Running", "Pending"]
    nodes = [GraphNode(f"n{i}", f"step {i}", status=rng.choice(statuses)) for i in range(count)]
    edges = [
        (f"n{rng.randrange(max(0, i - 12), i)}", f"n{i}") for i in range(1, count) for _ in range(rng.randint(1, 2))
    ]
    return nodes, edges


def _boxes_overlap(graph: Layout) -> list[tuple[str, str]]:
    placed = sorted(graph.nodes, key=lambda p: (p.y, p.x))
    clashes = []
    for a, b in zip(placed, placed[1:], strict=False):
        if a.y == b.y and b.x - a.x < NODE_WIDTH:
            clashes.append((a.node.id, b.node.id))
    return clashes


def test_a_hundred_nodes_do_not_overlap_and_every_edge_points_down() -> None:
    nodes, edges = _random_dag(100)
    graph = layout(nodes, edges)
    assert len(graph.nodes) == 100
    assert _boxes_overlap(graph) == []
    where = {p.node.id: p for p in graph.nodes}
    assert len(graph.edges) == len(set(edges))
    for edge in graph.edges:
        src, dst = where[edge.src], where[edge.dst]
        assert src.layer < dst.layer
        ys = [y for _, y in edge.points]
        assert ys == sorted(ys), f"edge {edge.src}->{edge.dst} goes up somewhere"
        assert edge.points[0] == (src.x, src.y + NODE_HEIGHT)
        assert edge.points[-1] == (dst.x, dst.y)
    assert all(p.x - NODE_WIDTH / 2 >= 0 and p.x + NODE_WIDTH / 2 <= graph.width for p in graph.nodes)


def test_a_hundred_nodes_lay_out_well_under_50_ms() -> None:
    nodes, edges = _random_dag(100)
    best = min(_timed(nodes, edges) for _ in range(3))
    assert best < 0.05, f"layout of 100 nodes took {best * 1000:.1f} ms"


def _timed(nodes: list[GraphNode], edges: list[tuple[str, str]]) -> float:
    start = time.perf_counter()
    layout(nodes, edges)
    return time.perf_counter() - start


def test_ordering_removes_crossings_a_naive_order_has() -> None:
    # Given in an order that crosses both edges of the second layer: a->d, b->c.
    nodes = [GraphNode(n, n) for n in "abcd"]
    graph = layout(nodes, [("a", "d"), ("b", "c")])
    assert graph.crossings == 0
    x = {p.node.id: p.x for p in graph.nodes}
    assert (x["a"] < x["b"]) == (x["d"] < x["c"])


def test_longest_path_layers_and_long_edges_bend_around_nodes() -> None:
    nodes = [GraphNode(n, n) for n in ("data", "prep", "train", "register")]
    edges = [("data", "prep"), ("prep", "train"), ("train", "register"), ("data", "register")]
    graph = layout(nodes, edges)
    layers = {p.node.id: p.layer for p in graph.nodes}
    assert layers == {"data": 0, "prep": 1, "train": 2, "register": 3}
    long_edge = next(e for e in graph.edges if (e.src, e.dst) == ("data", "register"))
    assert len(long_edge.points) == 4  # through one dummy in each of the two layers in between
    column = {p.node.id: p.x for p in graph.nodes}
    assert all(abs(x - column["prep"]) >= NODE_WIDTH / 2 for x, _ in long_edge.points[1:-1])


def test_a_cycle_is_drawn_with_every_node_placed() -> None:
    nodes = [GraphNode(n, n) for n in "abc"]
    graph = layout(nodes, [("a", "b"), ("b", "c"), ("c", "a"), ("a", "a"), ("a", "zzz")])
    assert sorted(p.node.id for p in graph.nodes) == ["a", "b", "c"]
    assert {(e.src, e.dst) for e in graph.edges} == {("a", "b"), ("b", "c"), ("c", "a")}
    assert _boxes_overlap(graph) == []


def test_duplicate_node_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        layout([GraphNode("a", "x"), GraphNode("a", "y")], [])


def test_svg_escapes_text_and_links_each_node() -> None:
    evil = '<script>alert(1)</script>"'
    nodes = [
        GraphNode("a", evil, status="Failed", href='/runs/a?x="1"&y=<2>', detail="<b>"),
        GraphNode("b", "plain", status="Succeeded"),
    ]
    svg = render_svg(layout(nodes, [("a", "b")]))
    assert "<script>" not in svg and "<b>" not in svg
    tree = ElementTree.fromstring(svg)  # well-formed XML
    ns = {"s": "http://www.w3.org/2000/svg"}
    links = tree.findall(".//s:a", ns)
    assert [a.get("href") for a in links] == ['/runs/a?x="1"&y=<2>']
    groups = {g.get("data-node"): g for g in tree.iter("{http://www.w3.org/2000/svg}g")}
    assert groups["a"].get("data-status") == "Failed"
    assert groups["a"].find("s:rect", ns).get("fill") != groups["b"].find("s:rect", ns).get("fill")
    texts = [t.text for t in tree.iter("{http://www.w3.org/2000/svg}text")]
    assert "<script>alert(1)</s…" in texts  # shortened to fit, shown literally
    assert len(tree.findall(".//s:path[@class='edge']", ns)) == 1


def test_an_empty_graph_renders() -> None:
    svg = render_svg(layout([], []))
    assert ElementTree.fromstring(svg).tag.endswith("svg")
