"""MLflow's model registry API over Slipway's registry.

Registered models are Slipway model groups, model versions are its versions: a version created
through MLflow starts ``PendingManualApproval`` and follows the registry's approval rules and
alias protections, exactly as one registered with Slipway's SDK. Renaming and deleting are the
registry's own (a model whose version an endpoint serves is not deleted; an Approved version
needs an approver to delete). MLflow's stages are played by aliases and archiving
(:mod:`slipway.mlflow_compat._stages`): ``Production`` is the alias ``production``, ``Staging``
the alias ``staging``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from slipway.errors import InvalidInput, NotFound
from slipway.mlflow_compat import MlflowCompatService, latest_per_stage, version_root
from slipway.registry import ModelVersion, RegistryService
from slipway.security import Permission
from slipway.server._guard import needs
from slipway.server._operations import backend_of
from slipway.server.mlflow import _convert as c
from slipway.server.mlflow._errors import MlflowRoute, json_body
from slipway.server.mlflow._fields import (
    MAX_REGISTRY_TAG_VALUE_LENGTH,
    Fields,
    check_max_results,
    page_of,
)
from slipway.server.mlflow._filters import MODEL_VERSIONS, REGISTERED_MODELS, Condition, matching, parse, sort_key

router = APIRouter(route_class=MlflowRoute)
SEARCH_REGISTERED_MODEL_MAX_RESULTS = 1000
SEARCH_MODEL_VERSION_MAX_RESULTS = 10_000


def _registry(request: Request) -> RegistryService:
    return backend_of(request).registry


def _compat(request: Request) -> MlflowCompatService:
    return backend_of(request).mlflow


async def _fields(request: Request, repeated: tuple[str, ...] = ()) -> Fields:
    """The message of a GET (query string) or of any other method (JSON body; DELETE may use either)."""
    if request.method == "GET":
        return Fields.from_query(request.query_params, repeated)
    body = await json_body(request)
    return Fields(body or dict(request.query_params))


def _tag(f: Fields) -> tuple[str, str]:
    return f.key_value(MAX_REGISTRY_TAG_VALUE_LENGTH, "tag")


def _latest(registry: RegistryService, name: str, stages: Sequence[str] = ()) -> list[ModelVersion]:
    """The highest version of each stage (of those asked; every stage by default), as MLflow answers."""
    return latest_per_stage(registry.list_versions(name), stages)


# ---------------------------------------------------------------------------- registered models


@router.post("/registered-models/create", dependencies=[needs(Permission.WRITE)])
async def create_registered_model(request: Request) -> dict[str, Any]:
    f = await _fields(request)
    tags = dict(_tag(t) for t in f.messages("tags"))
    created = await run_in_threadpool(_registry(request).create_group, f.req("name"), f.text("description"), tags)
    return {"registered_model": c.registered_model(created)}


@router.get("/registered-models/get", dependencies=[needs(Permission.READ)])
def get_registered_model(request: Request) -> dict[str, Any]:
    name = Fields.from_query(request.query_params).req("name")
    registry = _registry(request)
    return {"registered_model": c.registered_model(registry.get_group(name), _latest(registry, name))}


@router.patch("/registered-models/update", dependencies=[needs(Permission.WRITE)])
async def update_registered_model(request: Request) -> dict[str, Any]:
    f = await _fields(request)
    updated = await run_in_threadpool(_registry(request).update_group, f.req("name"), description=f.text("description"))
    return {"registered_model": c.registered_model(updated)}


@router.post("/registered-models/rename", dependencies=[needs(Permission.WRITE)])
async def rename_registered_model(request: Request) -> dict[str, Any]:
    f = await _fields(request)
    registry = _registry(request)
    renamed = await run_in_threadpool(registry.rename_group, f.req("name"), f.req("new_name"))
    latest = await run_in_threadpool(_latest, registry, renamed.name)
    return {"registered_model": c.registered_model(renamed, latest)}


@router.delete("/registered-models/delete", dependencies=[needs(Permission.WRITE)])
async def delete_registered_model(request: Request) -> dict[str, Any]:
    f = await _fields(request)
    await run_in_threadpool(_registry(request).delete_group, f.req("name"))
    return {}


@router.get("/registered-models/search", dependencies=[needs(Permission.READ)])
def search_registered_models(request: Request) -> dict[str, Any]:
    f = Fields.from_query(request.query_params, ("order_by",))
    max_results = check_max_results(f.integer("max_results", default=100) or 100, SEARCH_REGISTERED_MODEL_MAX_RESULTS)
    wanted = parse(f.text("filter"), REGISTERED_MODELS)
    order = sort_key([str(o) for o in f.values("order_by")], _GROUP_ORDER, default=())
    registry = _registry(request)
    groups = [g for g in registry.list_groups() if matching(wanted, {"name": g.name}, g.tags)]
    groups.sort(key=lambda g: order({"name": g.name, "creation_timestamp": g.created_at,
                                     "last_updated_timestamp": g.updated_at}))
    page, token = page_of(groups, f.text("page_token"), max_results)
    return c.drop_none(
        {
            "registered_models": [c.registered_model(g, _latest(registry, g.name)) for g in page],
            "next_page_token": token,
        }
    )


# What each search may be ordered by (MLflow's names), and the order MLflow falls back on.
_GROUP_ORDER = {"name", "timestamp", "creation_timestamp", "last_updated_timestamp"}
_VERSION_ORDER = {"name", "version_number", "creation_timestamp", "last_updated_timestamp"}
_VERSION_DEFAULT_ORDER = ("last_updated_timestamp DESC", "name ASC", "version_number DESC")


@router.post("/registered-models/get-latest-versions", dependencies=[needs(Permission.READ)])
async def get_latest_versions(request: Request) -> dict[str, Any]:
    f = await _fields(request, ("stages",))
    stages = [str(s) for s in f.values("stages")]
    found = await run_in_threadpool(_latest, _registry(request), f.req("name"), stages)
    return {"model_versions": [c.model_version(v) for v in found]}


@router.post("/registered-models/set-tag", dependencies=[needs(Permission.WRITE)])
async def set_registered_model_tag(request: Request) -> dict[str, Any]:
    f = await _fields(request)
    key, value = _tag(f)
    await run_in_threadpool(_registry(request).update_group, f.req("name"), tags={key: value})
    return {}


@router.delete("/registered-models/delete-tag", dependencies=[needs(Permission.WRITE)])
async def delete_registered_model_tag(request: Request) -> dict[str, Any]:
    f = await _fields(request)
    await run_in_threadpool(_registry(request).delete_group_tag, f.req("name"), f.req("key"))
    return {}


@router.post("/registered-models/alias", dependencies=[needs(Permission.READ)])
async def set_alias(request: Request) -> dict[str, Any]:
    f = await _fields(request)
    version = f.integer("version", required=True)
    assert version is not None
    await run_in_threadpool(_registry(request).set_alias, f.req("name"), f.req("alias"), version)
    return {}


@router.delete("/registered-models/alias", dependencies=[needs(Permission.READ)])
async def delete_alias(request: Request) -> dict[str, Any]:
    f = await _fields(request)
    await run_in_threadpool(_registry(request).remove_alias, f.req("name"), f.req("alias"))
    return {}


@router.get("/registered-models/alias", dependencies=[needs(Permission.READ)])
def get_version_by_alias(request: Request) -> dict[str, Any]:
    f = Fields.from_query(request.query_params)
    return {"model_version": c.model_version(_registry(request).get_version_by_alias(f.req("name"), f.req("alias")))}


# ------------------------------------------------------------------------------- model versions


@router.post("/model-versions/create", dependencies=[needs(Permission.WRITE)])
async def create_model_version(request: Request) -> dict[str, Any]:
    f = await _fields(request)
    tags = dict(_tag(t) for t in f.messages("tags"))
    tags.pop(c.APPROVAL_TAG, None)  # shown on every version, never set by a client
    created = await run_in_threadpool(
        lambda: _compat(request).register_version(
            f.req("name"), f.req("source"), run_id=f.text("run_id"), model_id=f.text("model_id"), tags=tags,
            description=f.text("description"),
        )
    )
    return {"model_version": c.model_version(created)}


def _version(f: Fields) -> tuple[str, int]:
    version = f.integer("version", required=True)
    assert version is not None
    return f.req("name"), version


@router.get("/model-versions/get", dependencies=[needs(Permission.READ)])
def get_model_version(request: Request) -> dict[str, Any]:
    name, version = _version(Fields.from_query(request.query_params))
    return {"model_version": c.model_version(_registry(request).get_version(name, version))}


@router.patch("/model-versions/update", dependencies=[needs(Permission.WRITE)])
async def update_model_version(request: Request) -> dict[str, Any]:
    name, version = _version(f := await _fields(request))
    registry = _registry(request)
    updated = await run_in_threadpool(registry.update_version, name, version, description=f.text("description"))
    return {"model_version": c.model_version(updated)}


@router.delete("/model-versions/delete", dependencies=[needs(Permission.WRITE)])
async def delete_model_version(request: Request) -> dict[str, Any]:
    name, version = _version(await _fields(request))
    await run_in_threadpool(_registry(request).delete_version, name, version)
    return {}


@router.post("/model-versions/transition-stage", dependencies=[needs(Permission.READ)])
async def transition_stage(request: Request) -> dict[str, Any]:
    f = await _fields(request)
    name, version = _version(f)
    archive = f.boolean("archive_existing_versions")
    moved = await run_in_threadpool(
        lambda: _compat(request).transition_stage(name, version, f.req("stage"), archive_existing_versions=archive)
    )
    return {"model_version": c.model_version(moved)}


@router.get("/model-versions/search", dependencies=[needs(Permission.READ)])
def search_model_versions(request: Request) -> dict[str, Any]:
    f = Fields.from_query(request.query_params, ("order_by",))
    limit = SEARCH_MODEL_VERSION_MAX_RESULTS
    max_results = check_max_results(f.integer("max_results", default=limit) or limit, limit)
    wanted = parse(f.text("filter"), MODEL_VERSIONS)
    order = sort_key([str(o) for o in f.values("order_by")], _VERSION_ORDER, default=_VERSION_DEFAULT_ORDER)
    registry = _registry(request)
    found: list[ModelVersion] = []
    # Names given exactly narrow the query to their groups; the conditions then filter the answer.
    for group in _named_groups(wanted):
        with contextlib.suppress(NotFound):  # MLflow answers a search for an unknown name with no versions
            found += registry.search_versions(group, max_results=SEARCH_MODEL_VERSION_MAX_RESULTS)
    messages = [c.model_version(v) for v in found]
    kept = [m for m in messages if matching(wanted, _version_attributes(m), _tags(m))]
    kept.sort(key=lambda m: order({**_version_attributes(m), "creation_timestamp": m["creation_timestamp"],
                                   "last_updated_timestamp": m["last_updated_timestamp"]}))
    page, token = page_of(kept, f.text("page_token"), max_results)
    return c.drop_none({"model_versions": page, "next_page_token": token})


def _named_groups(wanted: list[Condition]) -> Sequence[str | None]:
    """The groups a search's exact ``name = 'x'`` or ``name IN (...)`` confines it to; ``[None]`` for all."""
    for cond in wanted:
        if cond.kind == "attribute" and cond.key == "name" and cond.op in ("=", "IN"):
            return sorted({cond.value} if isinstance(cond.value, str) else {str(v) for v in cond.value})  # type: ignore[union-attr]
    return [None]


def _version_attributes(m: dict[str, Any]) -> dict[str, Any]:
    """A model version message's searchable attributes, by MLflow's names."""
    return {"name": m["name"], "version_number": int(m["version"]), "run_id": m.get("run_id"),
            "source_path": m.get("source")}


def _tags(m: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in m.get("tags", [])}


@router.get("/model-versions/get-download-uri", dependencies=[needs(Permission.READ)])
def get_download_uri(request: Request) -> dict[str, Any]:
    name, version = _version(Fields.from_query(request.query_params))
    found = _registry(request).get_version(name, version)
    root = version_root(found.id)
    return {"artifact_uri": root if found.flavor == "mlflow" else root.rsplit("/", 1)[0]}


@router.post("/model-versions/set-tag", dependencies=[needs(Permission.WRITE)])
async def set_model_version_tag(request: Request) -> dict[str, Any]:
    f = await _fields(request)
    name, version = _version(f)
    key, value = _tag(f)
    if key == c.APPROVAL_TAG:
        raise InvalidInput(f"{key} shows the approval status; approve or reject the version in Slipway", field="key")
    await run_in_threadpool(_registry(request).update_version, name, version, tags={key: value})
    return {}


@router.delete("/model-versions/delete-tag", dependencies=[needs(Permission.WRITE)])
async def delete_model_version_tag(request: Request) -> dict[str, Any]:
    f = await _fields(request)
    name, version = _version(f)
    await run_in_threadpool(_registry(request).delete_version_tag, name, version, f.req("key"))
    return {}
