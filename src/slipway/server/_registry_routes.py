"""REST routes of the model registry: each one translates a request, calls the service, returns the record.

No route holds a rule of its own: :class:`~slipway.registry.RegistryService` validates, decides
and raises, as it does for embedded callers. Groups are addressed by name and versions by number
(``/model-groups/abalone/versions/3``), as people refer to them; a version's files by its id
(``/model-versions/{id}/files/{path}``), since a client uploads a package under the id it will
register it with, before it has a number.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from typing import Annotated, Any, BinaryIO, cast

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from slipway.registry import AliasChange, ModelGroup, ModelVersion, RegistryService, StatusChange, VersionComparison
from slipway.security import Permission
from slipway.server import _registry_schemas as s
from slipway.server._guard import needs
from slipway.server._operations import JSON_BODY_LIMIT, SPOOL_IN_MEMORY
from slipway.server._operations import RAW_BODY as _RAW_BODY
from slipway.server._operations import read_chunks as _read_chunks
from slipway.store.artifacts import ArtifactInfo


async def _registry(request: Request) -> RegistryService:
    """The service of the app's backend (async: no threadpool hop just to fetch it)."""
    service: RegistryService = request.app.state.backend.registry
    return service


Registry = Annotated[RegistryService, Depends(_registry)]
NO_CONTENT: dict[str, Any] = {"status_code": status.HTTP_204_NO_CONTENT, "response_class": Response}
_BINARY: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
}

router = APIRouter(tags=["registry"])
groups = APIRouter(prefix="/model-groups", max_body_size=JSON_BODY_LIMIT)
versions = APIRouter(prefix="/model-groups/{group}/versions", max_body_size=JSON_BODY_LIMIT)
aliases = APIRouter(prefix="/model-groups/{group}/aliases/{alias}", max_body_size=JSON_BODY_LIMIT)
by_id = APIRouter(prefix="/model-versions")  # file uploads are streamed: no body limit

# ---------------------------------------------------------------------------------------- groups


@groups.post("", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.WRITE)])
def create_group(body: s.CreateModelGroup, registry: Registry) -> ModelGroup:
    return registry.create_group(body.name, body.description, body.tags)


@groups.get("", dependencies=[needs(Permission.READ)])
def list_groups(registry: Registry, name_like: str | None = None) -> list[ModelGroup]:
    return registry.list_groups(name_like)


@groups.get("/{group}", dependencies=[needs(Permission.READ)])
def get_group(group: str, registry: Registry) -> ModelGroup:
    return registry.get_group(group)


@groups.patch("/{group}", dependencies=[needs(Permission.WRITE)])
def update_group(group: str, body: s.UpdateModelGroup, registry: Registry) -> ModelGroup:
    return registry.update_group(group, description=body.description, tags=body.tags)


@groups.delete("/{group}/tags", dependencies=[needs(Permission.WRITE)])
def delete_group_tag(group: str, key: str, registry: Registry) -> ModelGroup:
    """Remove the tag ``key`` (in the query string: keys may hold ``/``)."""
    return registry.delete_group_tag(group, key)


@groups.post("/{group}/compare", dependencies=[needs(Permission.READ)])
def compare_versions(group: str, body: s.CompareVersions, registry: Registry) -> VersionComparison:
    return registry.compare_versions(group, body.versions)


# -------------------------------------------------------------------------------------- versions


@versions.post("", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.WRITE)])
def create_version(group: str, body: s.CreateModelVersion, registry: Registry) -> ModelVersion:
    """Register the package uploaded under ``version_id`` as the group's next version."""
    return registry.create_version(
        group,
        body.version_id,
        metrics=body.metrics,
        description=body.description,
        metadata=body.metadata,
        tags=body.tags,
        source_run_id=body.source_run_id,
        source_step_execution_id=body.source_step_execution_id,
    )


@versions.get("", dependencies=[needs(Permission.READ)])
def list_versions(group: str, registry: Registry, include_archived: bool = True) -> list[ModelVersion]:
    return registry.list_versions(group, include_archived=include_archived)


@versions.get("/latest", dependencies=[needs(Permission.READ)])
def get_latest_version(group: str, registry: Registry, approved: bool = False) -> ModelVersion:
    return registry.get_latest_version(group, approved=approved)


@versions.get("/{version}", dependencies=[needs(Permission.READ)])
def get_version(group: str, version: int, registry: Registry) -> ModelVersion:
    return registry.get_version(group, version)


@versions.patch("/{version}", dependencies=[needs(Permission.WRITE)])
def update_version(group: str, version: int, body: s.UpdateModelVersion, registry: Registry) -> ModelVersion:
    return registry.update_version(group, version, description=body.description, tags=body.tags)


@versions.delete("/{version}/tags", dependencies=[needs(Permission.WRITE)])
def delete_version_tag(group: str, version: int, key: str, registry: Registry) -> ModelVersion:
    """Remove the tag ``key`` (in the query string: keys may hold ``/``)."""
    return registry.delete_version_tag(group, version, key)


@versions.post("/{version}/status", dependencies=[needs(Permission.APPROVE)])
def update_status(group: str, version: int, body: s.UpdateStatus, registry: Registry) -> ModelVersion:
    return registry.update_status(
        group, version, body.status, comment=body.comment, expected_status=body.expected_status
    )


@versions.get("/{version}/status-history", dependencies=[needs(Permission.READ)])
def status_history(group: str, version: int, registry: Registry) -> list[StatusChange]:
    return registry.status_history(group, version)


@versions.post("/{version}/archive", dependencies=[needs(Permission.WRITE)])
def archive_version(group: str, version: int, registry: Registry) -> ModelVersion:
    return registry.archive_version(group, version)


@versions.post("/{version}/unarchive", dependencies=[needs(Permission.WRITE)])
def unarchive_version(group: str, version: int, registry: Registry) -> ModelVersion:
    return registry.unarchive_version(group, version)


# --------------------------------------------------------------------------------------- aliases


@aliases.get("", dependencies=[needs(Permission.READ)])
def get_version_by_alias(group: str, alias: str, registry: Registry) -> ModelVersion:
    return registry.get_version_by_alias(group, alias)


@aliases.put("", dependencies=[needs(Permission.READ)])
def set_alias(group: str, alias: str, body: s.SetAlias, registry: Registry) -> ModelVersion:
    return registry.set_alias(group, alias, body.version, comment=body.comment)


@aliases.delete("", **NO_CONTENT, dependencies=[needs(Permission.READ)])
def remove_alias(group: str, alias: str, registry: Registry, comment: str | None = None) -> None:
    registry.remove_alias(group, alias, comment=comment)


@aliases.get("/history", dependencies=[needs(Permission.READ)])
def alias_history(group: str, alias: str, registry: Registry) -> list[AliasChange]:
    return registry.alias_history(group, alias)


@aliases.get("/at", dependencies=[needs(Permission.READ)])
def alias_at(
    group: str,
    alias: str,
    registry: Registry,
    when: Annotated[int | dt.datetime, Query(description="ms since the epoch, or ISO 8601 (UTC if no zone)")],
) -> ModelVersion | None:
    return registry.alias_at(group, alias, when)


# ------------------------------------------------------------------------- URIs, search, by id


@router.get("/models/resolve", dependencies=[needs(Permission.READ)])
def resolve(uri: Annotated[str, Query(description="e.g. models:/abalone@prod")], registry: Registry) -> ModelVersion:
    return registry.resolve(uri)


@by_id.post("/search", dependencies=[needs(Permission.READ)])
def search_versions(body: s.SearchVersions, registry: Registry) -> list[ModelVersion]:
    return registry.search_versions(
        body.group,
        filter=body.filter,
        status=body.status,
        alias=body.alias,
        tags=body.tags,
        include_archived=body.include_archived,
        max_results=body.max_results,
    )


@by_id.get("/{version_id}", dependencies=[needs(Permission.READ)])
def get_version_by_id(version_id: str, registry: Registry) -> ModelVersion:
    return registry.get_version_by_id(version_id)


@by_id.get("/{version_id}/files", dependencies=[needs(Permission.READ)])
def list_files(version_id: str, registry: Registry) -> list[ArtifactInfo]:
    return registry.list_files(version_id)


@by_id.put("/{version_id}/files/{path:path}", openapi_extra=_RAW_BODY, dependencies=[needs(Permission.WRITE)])
async def stage_file(version_id: str, path: str, request: Request, registry: Registry) -> ArtifactInfo:
    """Store one file of a package before it is registered: spooled to disk past 1 MiB."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        return await run_in_threadpool(registry.stage_file, version_id, path, cast(BinaryIO, spool))


@by_id.get("/{version_id}/files/{path:path}", response_class=StreamingResponse, responses=_BINARY,
           dependencies=[needs(Permission.READ)])
def download_file(version_id: str, path: str, registry: Registry) -> StreamingResponse:
    """Stream one file out; it is opened first, so a missing file is a 404, not a broken body."""
    return StreamingResponse(_read_chunks(registry.open_file(version_id, path)), media_type="application/octet-stream")


router.include_router(groups)
router.include_router(versions)
router.include_router(aliases)
router.include_router(by_id)
