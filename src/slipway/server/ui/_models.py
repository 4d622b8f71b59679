"""Model registry pages: groups, a group's versions, one version with its approval, versions compared.

Approving or rejecting is a CSRF-protected form post to
:meth:`~slipway.registry.RegistryService.update_status`, the call behind ``slipway models approve``
and the REST API; it carries the status the page showed, so a decision taken on a stale page is
refused (409) rather than silently overriding someone else's. The control is drawn only for
approvers; the registry's policy refuses everyone else anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse

from slipway._backend import Backend
from slipway._kinds import ObjectKind
from slipway.errors import InvalidInput
from slipway.lineage import LineageGraph, NodeRef
from slipway.models import ModelCard
from slipway.registry import ApprovalStatus, ModelVersion, RegistryService
from slipway.security import Permission
from slipway.server._guard import needs
from slipway.server._operations import backend_of
from slipway.server.ui._csrf import verify_csrf
from slipway.server.ui._render import UIRoute, render

router = APIRouter(route_class=UIRoute)

CARD_FILE = "MODEL_CARD.md"
MAX_CARD_BYTES = 256 * 1024
MAX_COMPARED = 10
VERSIONS_PER_PAGE = 100
_DECISIONS = {"approve": ApprovalStatus.APPROVED, "reject": ApprovalStatus.REJECTED}



@router.get("/models")
def groups_page(request: Request, name: Annotated[str | None, Query(max_length=500)] = None) -> HTMLResponse:
    groups = backend_of(request).registry.list_groups(name_like=f"%{name}%" if name else None)
    return render(request, "models/groups.html", title="Models", groups=groups, name=name or "")


@router.get("/models/{group}")
def group_page(
    request: Request,
    group: str,
    filter: Annotated[str, Query(max_length=4000)] = "",
    archived: bool = False,
    before: Annotated[int | None, Query(ge=1, description="only versions numbered below this (the next page)")] = None,
) -> HTMLResponse:
    """The group's versions, newest first, a page at a time: keyset paging on the version number."""
    registry = backend_of(request).registry
    found = registry.get_group(group)
    conditions = [c for c in (filter.strip(), f"version < {before}" if before else "") if c]
    error = None
    try:
        versions = registry.search_versions(found.name, filter=" and ".join(conditions) or None,
                                            include_archived=archived, max_results=VERSIONS_PER_PAGE + 1)
    except InvalidInput as exc:  # a typo in the filter: the page stays, with the message by the box
        versions, error = [], exc.message
    older = versions[VERSIONS_PER_PAGE - 1].version if len(versions) > VERSIONS_PER_PAGE else None
    return render(request, "models/group.html", title=found.name, group=found, versions=versions[:VERSIONS_PER_PAGE],
                  filter=filter, archived=archived, error=error, before=before, older=older)


@dataclass(frozen=True)
class Source:
    """Where a version came from, for its status bar: a run, or a pipeline execution (or neither)."""

    run: str | None = None
    pipeline: str | None = None
    pipeline_version: int | None = None
    execution: str | None = None


def _source(backend: Backend, version: ModelVersion) -> Source:
    """The run, or the pipeline execution whose step registered the version (found through lineage)."""
    if version.source_kind == ObjectKind.RUN and version.source_id:
        return Source(run=version.source_id)
    if version.source_kind == ObjectKind.STEP_EXECUTION and version.source_id:
        parents = backend.lineage.upstream(ObjectKind.STEP_EXECUTION, version.source_id, depth=1)
        for node in parents.nodes:
            if node.kind == ObjectKind.PIPELINE_EXECUTION:
                execution = backend.pipelines.get_execution(node.id)
                return Source(pipeline=execution.pipeline, pipeline_version=execution.version, execution=execution.id)
    return Source()


def _neighbours(graph: LineageGraph) -> list[NodeRef]:
    return sorted((n for n in graph.nodes if n.key != graph.root), key=lambda n: (n.kind, n.name or n.id))


def _card(registry: RegistryService, version: ModelVersion) -> ModelCard | str | None:
    """The version's model card; its raw text when it does not parse as one."""
    if not any(f.path == CARD_FILE for f in registry.list_files(version.id)):
        return None
    with registry.open_file(version.id, CARD_FILE) as stream:
        text = stream.read(MAX_CARD_BYTES).decode("utf-8", errors="replace")
    try:
        return ModelCard.from_markdown(text)
    except (ValueError, InvalidInput):
        return text


@router.get("/models/{group}/versions/{version}")
def version_page(request: Request, group: str, version: int) -> HTMLResponse:
    backend = backend_of(request)
    registry = backend.registry
    found = registry.get_version(group, version)
    return render(
        request,
        "models/version.html",
        title=f"{found.group} v{found.version}",
        version=found,
        source=_source(backend, found),
        history=registry.status_history(found.group, found.version),
        card=_card(registry, found),
        files=registry.list_files(found.id),
        upstream=_neighbours(backend.lineage.upstream(ObjectKind.MODEL_VERSION, found.id, depth=1)),
        downstream=_neighbours(backend.lineage.downstream(ObjectKind.MODEL_VERSION, found.id, depth=1)),
        decisions=_DECISIONS,
        clarify_reports=backend.clarify.list_reports(model=f"{found.group}/{found.version}"),
    )


@router.post("/models/{group}/versions/{version}/status",
             dependencies=[needs(Permission.APPROVE), Depends(verify_csrf)])
def update_status(
    request: Request,
    group: str,
    version: int,
    decision: Annotated[str, Form()],
    expected_status: Annotated[str, Form()],
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> RedirectResponse:
    """Approve or reject, then show the version again (303: a reload does not post twice)."""
    if decision not in _DECISIONS:
        raise InvalidInput(f"decision must be one of {', '.join(_DECISIONS)}", field="decision")
    backend_of(request).registry.update_status(group, version, _DECISIONS[decision], comment=comment.strip() or None,
                                     expected_status=expected_status)
    return RedirectResponse(f"/models/{quote(group, safe='')}/versions/{version}", status_code=303)


@router.get("/models/{group}/compare")
def compare_page(request: Request, group: str, version: Annotated[list[int], Query()] = []) -> HTMLResponse:  # noqa: B006
    numbers = list(dict.fromkeys(version))
    if not 2 <= len(numbers) <= MAX_COMPARED:
        raise InvalidInput(f"tick between 2 and {MAX_COMPARED} versions to compare (got {len(numbers)})",
                           field="version")
    registry = backend_of(request).registry
    comparison = registry.compare_versions(group, numbers)
    versions = [registry.get_version(group, n) for n in numbers]
    return render(request, "models/compare.html", title=f"Compare {group}", group=group, comparison=comparison,
                  versions=versions)

