"""Layered drawing of a directed graph as inline SVG: pipeline DAGs and the lineage explorer.

A Sugiyama-style layout, small enough to read in one sitting and fast enough to run per request:

1. **Cycles** are broken by reversing the edges that close them (a lineage graph may hold one), so
   every edge that is kept points from a lower layer to a higher one.
2. **Layers** by longest path from the sources: a node sits one layer below its lowest predecessor.
3. **Dummy nodes** are put on edges that span several layers, so long edges take part in ordering
   and are drawn as smooth paths around the nodes, not through them.
4. **Order** within layers by barycenters (the mean position of the neighbours in the layer
   above, then below), a few sweeps, keeping the order with the fewest crossings seen.
5. **Coordinates**: each node is pulled toward the mean x of its neighbours in alternate sweeps,
   then pushed apart so that no two nodes of a layer are closer than one node width plus a gap.

100 nodes lay out in a few milliseconds. The output is SVG text with every label escaped; each
node is a link (``href``) and carries ``data-node`` so a page script can recolour it.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

NODE_WIDTH = 150
NODE_HEIGHT = 36
H_GAP = 24
DUMMY_WIDTH = 8
V_GAP = 46
MARGIN = 12
_SWEEPS = 8
_LABEL_CHARS = 20

# Fill colours by status (pipeline steps) or kind (lineage), with a neutral default.
STATUS_COLOURS: Mapping[str, str] = {
    "Pending": "#d9dde3",
    "Running": "#4c9be8",
    "Waiting": "#f2c14e",
    "Succeeded": "#5cb85c",
    "Cached": "#9fd39f",
    "Skipped": "#eceff3",
    "Failed": "#e05c5c",
    "Stopped": "#b08ad8",
    "root": "#f58518",
}
DEFAULT_COLOUR = "#c9d6e8"


@dataclass(frozen=True)
class GraphNode:
    """A node to draw.

    Attributes:
        id: unique within the graph; edges refer to it.
        label: the text shown (escaped, shortened to fit; the full text is the tooltip).
        status: picks the fill colour from :data:`STATUS_COLOURS` (e.g. a step status, or ``root``).
        href: where clicking the node leads (None: not a link).
        detail: a second, smaller line (a step type, a duration, an object kind).
    """

    id: str
    label: str
    status: str = ""
    href: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class PlacedNode:
    node: GraphNode
    layer: int
    x: float  # centre
    y: float  # top


@dataclass(frozen=True)
class PlacedEdge:
    src: str
    dst: str
    points: tuple[tuple[float, float], ...]  # from the bottom of src to the top of dst, through dummies


@dataclass(frozen=True)
class Layout:
    nodes: tuple[PlacedNode, ...]
    edges: tuple[PlacedEdge, ...]
    width: float
    height: float
    crossings: int = 0


@dataclass
class _Work:
    """The layout's working state: real nodes are indices 0..n-1, dummies come after."""

    layer: list[int]
    succ: list[list[int]]
    pred: list[list[int]]
    chains: list[tuple[str, str, list[int]]] = field(default_factory=list)  # (src id, dst id, path of indices)


def layout(nodes: Sequence[GraphNode], edges: Iterable[tuple[str, str]]) -> Layout:
    """Place ``nodes`` in layers so that edges point downward, with few crossings and no overlaps.

    Edges naming an unknown node, self-loops and duplicates are ignored.

    Raises:
        ValueError: if two nodes share an id.
    """
    index = {node.id: i for i, node in enumerate(nodes)}
    if len(index) != len(nodes):
        raise ValueError("graph node ids must be unique")
    pairs = list(dict.fromkeys((index[s], index[d]) for s, d in edges if s in index and d in index and s != d))
    kept = _acyclic(len(nodes), pairs)
    work = _layered(len(nodes), kept, pairs, nodes)
    layers = _order(work)
    crossings = _crossings(layers, work.succ)
    xs = _coordinates(layers, work, len(nodes))
    return _place(nodes, work, layers, xs, crossings)


def _acyclic(count: int, pairs: list[tuple[int, int]]) -> set[tuple[int, int]]:
    """The edges, with those closing a cycle reversed (a depth-first search's back edges)."""
    succ: list[list[int]] = [[] for _ in range(count)]
    for s, d in pairs:
        succ[s].append(d)
    state = [0] * count  # 0 unseen, 1 on the stack, 2 done
    back: set[tuple[int, int]] = set()
    for start in range(count):
        if state[start]:
            continue
        stack = [(start, iter(succ[start]))]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state[child] == 1:
                back.add((node, child))
            elif state[child] == 0:
                state[child] = 1
                stack.append((child, iter(succ[child])))
    return {(d, s) if (s, d) in back else (s, d) for s, d in pairs}


def _layered(count: int, kept: set[tuple[int, int]], original: list[tuple[int, int]],
             nodes: Sequence[GraphNode]) -> _Work:
    """Longest-path layers, and chains of dummy nodes along edges that span several layers."""
    preds: list[list[int]] = [[] for _ in range(count)]
    succs: list[list[int]] = [[] for _ in range(count)]
    for s, d in sorted(kept):
        preds[d].append(s)
        succs[s].append(d)
    layer = [-1] * count
    indegree = [len(p) for p in preds]
    ready = [i for i in range(count) if indegree[i] == 0]
    for i in ready:
        layer[i] = 0
    while ready:
        node = ready.pop()
        for child in succs[node]:
            layer[child] = max(layer[child], layer[node] + 1)
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    work = _Work(layer=layer, succ=[[] for _ in range(count)], pred=[[] for _ in range(count)])
    for s, d in original:
        top, bottom = (s, d) if (s, d) in kept else (d, s)
        path = [top]
        for depth in range(layer[top] + 1, layer[bottom]):
            dummy = len(work.layer)
            work.layer.append(depth)
            work.succ.append([])
            work.pred.append([])
            path.append(dummy)
        path.append(bottom)
        for a, b in zip(path, path[1:], strict=False):
            work.succ[a].append(b)
            work.pred[b].append(a)
        work.chains.append((nodes[s].id, nodes[d].id, path if top == s else path[::-1]))
    return work


def _order(work: _Work) -> list[list[int]]:
    """Nodes of each layer in the order with the fewest crossings found by barycenter sweeps."""
    depth = max(work.layer, default=-1) + 1
    layers: list[list[int]] = [[] for _ in range(depth)]
    for node, at in enumerate(work.layer):
        layers[at].append(node)
    best, best_crossings = [list(level) for level in layers], _crossings(layers, work.succ)
    for sweep in range(_SWEEPS):
        downward = sweep % 2 == 0
        span = range(1, depth) if downward else range(depth - 2, -1, -1)
        for at in span:
            neighbour_layer = layers[at - 1] if downward else layers[at + 1]
            position = {node: i for i, node in enumerate(neighbour_layer)}
            links = work.pred if downward else work.succ
            current = {node: i for i, node in enumerate(layers[at])}

            def barycenter(node: int, links: list[list[int]] = links, position: dict[int, int] = position,
                           current: dict[int, int] = current) -> float:
                near = [position[n] for n in links[node] if n in position]
                return sum(near) / len(near) if near else float(current[node])

            layers[at].sort(key=barycenter)
        crossings = _crossings(layers, work.succ)
        if crossings < best_crossings:
            best, best_crossings = [list(level) for level in layers], crossings
    return best


def _crossings(layers: list[list[int]], succ: list[list[int]]) -> int:
    """Edge crossings between consecutive layers (pairs of edges whose ends are in opposite order)."""
    total = 0
    for upper, lower in zip(layers, layers[1:], strict=False):
        position = {node: i for i, node in enumerate(lower)}
        # The lower ends of the edges taken in upper order; each inversion is a crossing.
        # O(E^2) per pair of layers is fine at the sizes a page shows.
        ends: list[int] = []
        for s in upper:
            ends.extend(sorted(position[d] for d in succ[s] if d in position))
        for i, a in enumerate(ends):
            total += sum(1 for b in ends[i + 1:] if b < a)
    return total


def _coordinates(layers: list[list[int]], work: _Work, real: int) -> dict[int, float]:
    """Centre x of every node: pulled toward its neighbours, kept in order and apart.

    Dummy nodes (index ``>= real``) are narrow: a long edge needs room for a line, not a box.
    """
    width = [float(NODE_WIDTH) if node < real else float(DUMMY_WIDTH) for node in range(len(work.layer))]
    xs: dict[int, float] = {}
    for level in layers:
        x = 0.0
        for node in level:
            xs[node] = x + width[node] / 2
            x += width[node] + H_GAP
    for sweep in range(4):
        ordered = layers if sweep % 2 == 0 else layers[::-1]
        links = work.pred if sweep % 2 == 0 else work.succ
        for level in ordered:
            wanted = [
                sum(xs[n] for n in links[node]) / len(links[node]) if links[node] else xs[node] for node in level
            ]
            placed = _separate(wanted, [width[node] for node in level])
            for node, x in zip(level, placed, strict=True):
                xs[node] = x
    low = min((xs[node] - width[node] / 2 for node in xs), default=0.0)
    return {node: x - low + MARGIN for node, x in xs.items()}


def _separate(wanted: list[float], widths: list[float]) -> list[float]:
    """Centres as close to ``wanted`` as their order, ``widths`` and the gap between boxes allow.

    Left to right each one is pushed right of its neighbour; then the row is shifted so its
    overall displacement is balanced, which keeps a layer centred under what it hangs from.
    """
    placed: list[float] = []
    for i, x in enumerate(wanted):
        placed.append(max(x, placed[-1] + (widths[i - 1] + widths[i]) / 2 + H_GAP) if placed else x)
    if placed:
        shift = sum(w - p for w, p in zip(wanted, placed, strict=True)) / len(placed)
        placed = [p + shift for p in placed]
    return placed


def _place(nodes: Sequence[GraphNode], work: _Work, layers: list[list[int]], xs: dict[int, float],
           crossings: int) -> Layout:
    def top(node: int) -> float:
        return MARGIN + work.layer[node] * (NODE_HEIGHT + V_GAP)

    placed = tuple(PlacedNode(node, work.layer[i], xs[i], top(i)) for i, node in enumerate(nodes))
    edges = []
    for src, dst, path in work.chains:
        points = [(xs[path[0]], top(path[0]) + NODE_HEIGHT)]
        for dummy in path[1:-1]:
            points.append((xs[dummy], top(dummy) + NODE_HEIGHT / 2))
        points.append((xs[path[-1]], top(path[-1])))
        if work.layer[path[0]] > work.layer[path[-1]]:  # a reversed (cycle-closing) edge leaves from the top
            points[0] = (xs[path[0]], top(path[0]))
            points[-1] = (xs[path[-1]], top(path[-1]) + NODE_HEIGHT)
        edges.append(PlacedEdge(src, dst, tuple(points)))
    width = max((xs[i] for i in range(len(nodes))), default=0.0) + NODE_WIDTH / 2 + MARGIN
    width = max([width, *(x + MARGIN for x in xs.values())])
    height = MARGIN * 2 + max(len(layers), 1) * (NODE_HEIGHT + V_GAP) - V_GAP
    return Layout(placed, tuple(edges), width, height, crossings)


def render_svg(graph: Layout, *, css_class: str = "dag") -> str:
    """The layout as an ``<svg>`` element: escaped text, one ``<a>`` per linked node, edges as paths.

    Colours are presentation attributes, not inline styles, so a strict Content-Security-Policy
    does not blank them; every node carries ``data-node`` and ``data-status`` for page scripts.
    """
    esc = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{esc(css_class)}" width="{graph.width:.0f}" '
        f'height="{graph.height:.0f}" viewBox="0 0 {graph.width:.0f} {graph.height:.0f}" role="img">',
        '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0 0L8 4L0 8z" fill="#7a8699"/></marker></defs>',
    ]
    for edge in graph.edges:
        parts.append(
            f'<path class="edge" d="{_path(edge.points)}" fill="none" stroke="#7a8699" stroke-width="1.4" '
            f'marker-end="url(#arrow)" data-src="{esc(edge.src)}" data-dst="{esc(edge.dst)}"/>'
        )
    for placed in graph.nodes:
        parts.append(_node(placed))
    parts.append("</svg>")
    return "".join(parts)


def _path(points: tuple[tuple[float, float], ...]) -> str:
    """A vertical-tangent cubic Bézier through each consecutive pair of points."""
    (x, y), rest = points[0], points[1:]
    out = [f"M{x:.1f} {y:.1f}"]
    for nx, ny in rest:
        mid = (y + ny) / 2
        out.append(f"C{x:.1f} {mid:.1f} {nx:.1f} {mid:.1f} {nx:.1f} {ny:.1f}")
        x, y = nx, ny
    return "".join(out)


def _node(placed: PlacedNode) -> str:
    esc = html.escape
    node = placed.node
    left = placed.x - NODE_WIDTH / 2
    label = node.label if len(node.label) <= _LABEL_CHARS else node.label[: _LABEL_CHARS - 1] + "…"
    detail = node.detail if len(node.detail) <= _LABEL_CHARS + 6 else node.detail[: _LABEL_CHARS + 5] + "…"
    fill = STATUS_COLOURS.get(node.status, DEFAULT_COLOUR)
    title = esc(f"{node.label} · {node.status}" if node.status else node.label)
    body = (
        f'<g class="node" data-node="{esc(node.id)}" data-status="{esc(node.status)}"><title>{title}</title>'
        f'<rect x="{left:.1f}" y="{placed.y:.1f}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="6" '
        f'fill="{fill}" stroke="#5b6676" stroke-width="1"/>'
        f'<text x="{placed.x:.1f}" y="{placed.y + 15:.1f}" text-anchor="middle" font-size="12" '
        f'fill="#1d2330">{esc(label)}</text>'
        f'<text class="detail" x="{placed.x:.1f}" y="{placed.y + 29:.1f}" text-anchor="middle" font-size="10" '
        f'fill="#3d4656">{esc(detail)}</text></g>'
    )
    if node.href is None:
        return body
    return f'<a href="{esc(node.href)}">{body}</a>'
