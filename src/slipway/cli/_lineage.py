"""``slipway lineage show KIND ID``: walk the lineage graph from any object, up or down.

Each command opens ``Client.lineage`` of the current settings (embedded, or the server's when
``SLIPWAY_SERVER_URL`` is set) and calls one of its walks; the graph is the service's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import RenderableType
from rich.markup import escape
from rich.tree import Tree

from slipway._config import load_settings
from slipway.cli import _output
from slipway.cli._output import JsonFlag
from slipway.client import Client

if TYPE_CHECKING:
    from slipway.lineage import LineageGraph, NodeRef

lineage_app = typer.Typer(
    help="Where an object came from and what was made from it: datasets, runs, pipeline executions, model "
    "versions, endpoints and their variants, monitors.",
    short_help="Walk the lineage graph up or down from any object.",
    no_args_is_help=True,
)


@lineage_app.command("show")
def show_command(
    kind: Annotated[str, typer.Argument(metavar="KIND", help="endpoint, model_version, run, dataset_version, "
                                        "pipeline_execution, step_execution, ...", show_default=False)],
    object_id: Annotated[str, typer.Argument(metavar="ID", help="The object's id.", show_default=False)],
    up: Annotated[bool, typer.Option("--up/--down", help="What it came from (--up, the default), or what "
                                     "was made from it (--down).")] = True,
    depth: Annotated[int, typer.Option("--depth", min=1, max=50, help="How many hops to follow.")] = 6,
    as_json: JsonFlag = False,
) -> None:
    """Show the lineage of an object, e.g. `slipway lineage show endpoint ID --up --depth 8`: an endpoint's
    variants (retired ones marked), the model versions, the run and pipeline execution that made them, the datasets."""
    with Client(load_settings()) as client:
        walk = client.lineage.upstream if up else client.lineage.downstream
        graph = walk(kind, object_id, depth=depth)
    _output.emit(as_json, lambda: graph_json(graph), lambda: graph_tree(graph, up=up))


def graph_json(graph: LineageGraph) -> dict[str, Any]:
    return {"root": list(graph.root),
            "nodes": [{"kind": n.kind, "id": n.id, "name": n.name, "retired": n.retired} for n in graph.nodes],
            "edges": [{"src": list(e.src), "dst": list(e.dst), "relation": e.relation} for e in graph.edges]}


def graph_tree(graph: LineageGraph, *, up: bool) -> RenderableType:
    """The walk as a tree from its root: each object under the one it was reached from, with the relation."""
    nodes = {n.key: n for n in graph.nodes}
    if not graph.edges:
        return f"[dim]No lineage recorded for {graph.root[0]} {graph.root[1]}.[/dim]"
    children: dict[tuple[str, str], list[tuple[str, tuple[str, str]]]] = {}
    for e in graph.edges:
        near, far = (e.dst, e.src) if up else (e.src, e.dst)
        children.setdefault(near, []).append((e.relation, far))
    tree = Tree(_label(nodes.get(graph.root), graph.root), guide_style="dim")
    seen = {graph.root}

    def grow(branch: Tree, key: tuple[str, str]) -> None:
        for relation, far in sorted(children.get(key, []), key=lambda item: (item[1][0], str(item[1][1]))):
            sub = branch.add(f"[dim]{relation}[/dim] {_label(nodes.get(far), far)}")
            if far not in seen:
                seen.add(far)
                grow(sub, far)

    grow(tree, graph.root)
    return tree


def _label(node: NodeRef | None, key: tuple[str, str]) -> str:
    name = node.name if node is not None and node.name else key[1]
    retired = " [yellow](retired)[/yellow]" if node is not None and node.retired else ""
    return f"[bold]{key[0]}[/bold] {escape(name)} [dim]{key[1]}[/dim]{retired}"
