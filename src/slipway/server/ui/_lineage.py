"""The lineage explorer: the graph around any object, upstream and downstream; click a node to move to it.

The graph comes from :class:`~slipway.lineage.LineageService` (what an object came from, what was made
from it, up to a depth); this module only merges the two walks and draws them with :mod:`._graph`.
Each node links to the explorer centred on it; ``/lineage/{kind}/{id}/open`` sends the browser to the
object's own page where the UI has one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse

from slipway._backend import Backend
from slipway._kinds import ObjectKind
from slipway.errors import NotFound
from slipway.lineage import LineageGraph
from slipway.server._operations import backend_of
from slipway.server.ui._graph import GraphNode, layout, render_svg
from slipway.server.ui._pipelines import execution_url
from slipway.server.ui._render import UIRoute, render, svg

router = APIRouter(route_class=UIRoute)

DEFAULT_DEPTH = 3
MAX_DEPTH = 8
Depth = Annotated[int, Query(ge=1, le=MAX_DEPTH, description="hops to follow each way")]


def lineage_url(kind: str, object_id: str) -> str:
    """The explorer centred on an object (other pages link here)."""
    return f"/lineage/{quote(kind, safe='')}/{quote(object_id, safe='')}"


def merged_graph(root: tuple[str, str], walks: list[LineageGraph]) -> str:
    """The upstream and downstream walks as one SVG graph, the root highlighted."""
    names: dict[tuple[str, str], str | None] = {}
    retired: set[tuple[str, str]] = set()
    for walk in walks:
        for node in walk.nodes:
            names[node.key] = names.get(node.key) or node.name
            if node.retired:
                retired.add(node.key)
    edges = dict.fromkeys((e.src, e.dst) for walk in walks for e in walk.edges)
    nodes = [
        GraphNode(
            id=f"{kind}:{object_id}",
            label=name or _short(object_id),
            status="root" if (kind, object_id) == root else "",
            href=lineage_url(kind, object_id),
            detail=kind.replace("_", " ") + (" · retired" if (kind, object_id) in retired else ""),
        )
        for (kind, object_id), name in sorted(names.items())
    ]
    return render_svg(layout(nodes, [(f"{s[0]}:{s[1]}", f"{d[0]}:{d[1]}") for s, d in edges]), css_class="lineage")


def _short(object_id: str) -> str:
    """An id without a name: its tail, which is what differs between siblings (a path, an id's end)."""
    return object_id if len(object_id) <= 20 else "…" + object_id[-19:]


@router.get("/lineage")
def lineage_index(request: Request) -> HTMLResponse:
    """Where to start: the objects people usually begin from, and a form for any kind and id."""
    backend = backend_of(request)
    return render(
        request,
        "lineage/index.html",
        title="Lineage",
        datasets=backend.datasets.list_datasets(),
        endpoints=backend.serving.list_endpoints(),
        monitors=backend.monitoring.list_monitors(),
        executions=backend.pipelines.list_executions(limit=10),
    )


@router.get("/lineage/find")
def lineage_find(kind: str, object_id: str) -> RedirectResponse:
    """The index page's form: to the explorer for what was typed."""
    return RedirectResponse(lineage_url(kind.strip(), object_id.strip()), status_code=303)


@router.get("/lineage/{kind}/{object_id:path}/open")
def lineage_open(request: Request, kind: str, object_id: str) -> RedirectResponse:
    """To the object's own page, found through its service (404 where the UI has no page for the kind)."""
    return RedirectResponse(_object_page(backend_of(request), kind, object_id), status_code=303)


@router.get("/lineage/{kind}/{object_id:path}")
def lineage_page(request: Request, kind: str, object_id: str, depth: Depth = DEFAULT_DEPTH) -> HTMLResponse:
    service = backend_of(request).lineage
    up = service.upstream(kind, object_id, depth)
    down = service.downstream(kind, object_id, depth)
    name = next((n.name for n in (*up.nodes, *down.nodes) if n.key == (kind, object_id) and n.name), None)
    return render(
        request,
        "lineage/node.html",
        title=f"Lineage of {name or object_id}",
        kind=kind,
        object_id=object_id,
        name=name,
        depth=depth,
        max_depth=MAX_DEPTH,
        graph=svg(merged_graph((kind, object_id), [up, down])),
        upstream=[n for n in up.nodes if n.key != (kind, object_id)],
        downstream=[n for n in down.nodes if n.key != (kind, object_id)],
        known=len(up.edges) + len(down.edges) > 0,
        url=lineage_url(kind, object_id),
    )


# Kinds whose lineage node is named the way their page is addressed: (path template, name separator).
_NAMED_PAGES: dict[str, tuple[str, str | None]] = {
    ObjectKind.DATASET: ("/datasets/{0}", None),
    ObjectKind.DATASET_VERSION: ("/datasets/{0}/versions/{1}", ":"),
    ObjectKind.MODEL_GROUP: ("/models/{0}", None),
    ObjectKind.MODEL_VERSION: ("/models/{0}/versions/{1}", "/"),
    ObjectKind.ENDPOINT: ("/endpoints/{0}", None),
    # A variant is named endpoint/variant; the endpoint's page lists its variants.
    ObjectKind.ENDPOINT_VARIANT: ("/endpoints/{0}", "/"),
    ObjectKind.MONITOR: ("/monitoring/{0}", None),
}


def _object_page(backend: Backend, kind: str, object_id: str) -> str:
    """The UI page of a lineage node: through its service, or by the name lineage records for it."""
    resolve = _RESOLVERS.get(kind)
    if resolve is not None:
        return resolve(backend, object_id)
    if kind not in _NAMED_PAGES:
        raise NotFound(f"the UI has no page for a {kind.replace('_', ' ')}", field="kind")
    root = backend.lineage.downstream(kind, object_id, 0).nodes[0]
    if not root.name:
        raise NotFound(f"no {kind.replace('_', ' ')} {object_id!r} in the lineage graph", field="object_id")
    template, separator = _NAMED_PAGES[kind]
    parts = root.name.rsplit(separator, 1) if separator else [root.name]
    return template.format(*(quote(p, safe="") for p in parts))


def _run_page(backend: Backend, run_id: str) -> str:
    return f"/runs/{quote(run_id, safe='')}"


def _artifact_page(backend: Backend, object_id: str) -> str:
    """A run's artifact (``run/<run id>/<path>``); other owners' files have no page of their own."""
    owner, _, rest = object_id.partition("/")
    run_id, _, path = rest.partition("/")
    if owner != ObjectKind.RUN or not path:
        raise NotFound("the UI shows the files of runs only; this one belongs to a step or a model", field="kind")
    return f"/runs/{quote(run_id, safe='')}/artifacts/{quote(path)}"


def _execution_page(backend: Backend, execution_id: str) -> str:
    return execution_url(backend.pipelines.get_execution(execution_id))


def _step_page(backend: Backend, step_id: str) -> str:
    """The step's page within the execution that contains it (lineage records that edge)."""
    for kind, execution_id in (n.key for n in backend.lineage.upstream(ObjectKind.STEP_EXECUTION, step_id, 1).nodes):
        if kind == ObjectKind.PIPELINE_EXECUTION:
            execution = backend.pipelines.get_execution(execution_id)
            for step in execution.steps:
                if step.id == step_id:
                    return f"{execution_url(execution)}/steps/{quote(step.step_name, safe='')}"
    raise NotFound(f"no pipeline execution contains the step execution {step_id!r}", field="object_id")


def _feature_group_page(backend: Backend, group_id: str) -> str:
    for group in backend.features.list_groups():
        if group.id == group_id:
            return f"/features/{quote(group.name, safe='')}"
    raise NotFound(f"no feature group with id {group_id!r}", field="object_id")


def _monitor_execution_page(backend: Backend, execution_id: str) -> str:
    run = backend.monitoring.get_execution(execution_id)
    return f"/monitoring/{quote(run.monitor, safe='')}/executions/{quote(run.id, safe='')}"


_RESOLVERS: dict[str, Callable[[Backend, str], str]] = {
    ObjectKind.RUN: _run_page,
    ObjectKind.ARTIFACT: _artifact_page,
    ObjectKind.PIPELINE_EXECUTION: _execution_page,
    ObjectKind.STEP_EXECUTION: _step_page,
    ObjectKind.FEATURE_GROUP: _feature_group_page,
    ObjectKind.MONITOR_EXECUTION: _monitor_execution_page,
}
