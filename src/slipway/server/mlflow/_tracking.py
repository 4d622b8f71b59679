"""MLflow's tracking API (experiments, runs, metrics, inputs, logged models) over Slipway's services.

Each route reads MLflow's request message, calls :class:`~slipway.tracking.TrackingService` or
:class:`~slipway.mlflow_compat.MlflowCompatService`, and answers MLflow's response message. MLflow's
client starts runs in experiment ``"0"`` when none is set: that is Slipway's ``Default`` experiment.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from slipway.errors import InvalidInput
from slipway.mlflow_compat import LinkKind, MlflowCompatService
from slipway.security import Permission
from slipway.server._guard import needs
from slipway.server._operations import backend_of
from slipway.server.mlflow import _convert as c
from slipway.server.mlflow._errors import MlflowRoute, json_body
from slipway.server.mlflow._fields import (
    MAX_DATASET_DIGEST_SIZE,
    MAX_DATASET_NAME_SIZE,
    MAX_DATASET_PROFILE_SIZE,
    MAX_DATASET_SCHEMA_SIZE,
    MAX_DATASET_SOURCE_SIZE,
    MAX_DATASETS_PER_BATCH,
    MAX_ENTITIES_PER_BATCH,
    MAX_ENTITY_KEY_LENGTH,
    MAX_EXPERIMENT_TAG_VAL_LENGTH,
    MAX_INPUT_TAG_KEY_SIZE,
    MAX_INPUT_TAG_VALUE_SIZE,
    MAX_METRICS_PER_BATCH,
    MAX_PARAM_VAL_LENGTH,
    MAX_PARAMS_TAGS_PER_BATCH,
    MAX_TAG_VAL_LENGTH,
    SEARCH_MAX_RESULTS_THRESHOLD,
    Fields,
    check_length,
    check_max_results,
    decode_offset,
    encode_offset,
    page_of,
)
from slipway.server.mlflow._filters import LOGGED_MODELS, parse
from slipway.tracking import DEFAULT_EXPERIMENT, DatasetInput, TrackingService

EMPTY_MESSAGE = b"{}"
DEFAULT_EXPERIMENT_ID = "0"  # what MLflow's client sends when no experiment is set
router = APIRouter(route_class=MlflowRoute)

# ------------------------------------------------------------------------------------- helpers


def _tracking(request: Request) -> TrackingService:
    return backend_of(request).tracking


def _compat(request: Request) -> MlflowCompatService:
    return backend_of(request).mlflow


def experiment_id(tracking: TrackingService, value: str) -> str:
    """Slipway's id for an experiment id MLflow's client sent (``"0"`` is the Default experiment)."""
    return tracking.get_or_create_experiment(DEFAULT_EXPERIMENT).id if value == DEFAULT_EXPERIMENT_ID else value


async def _post(request: Request) -> Fields:
    return Fields(await json_body(request))


def _get(request: Request, repeated: tuple[str, ...] = ()) -> Fields:
    return Fields.from_query(request.query_params, repeated)


def _run_id(f: Fields) -> str:
    """MLflow's client sends ``run_id`` and, for old servers, ``run_uuid``."""
    value = f.text("run_id") or f.text("run_uuid")
    if value is None:
        raise InvalidInput("Missing value for required parameter 'run_id'.", field="run_id")
    return value


def _run_message(request: Request, run_id: str) -> dict[str, Any]:
    found = _tracking(request).get_run(run_id)
    return c.run(found, _compat(request).run_links([run_id]).get(run_id))


# Experiment searches take one condition on the name, which is what MLflow's client and UI send.
_NAME_FILTER = re.compile(r"^\s*(?:attributes?\.)?name\s+(=|LIKE|ILIKE)\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)

# ------------------------------------------------------------------------------------- hot path

@router.post("/runs/log-metric", dependencies=[needs(Permission.WRITE)])
async def log_metric(request: Request) -> Response:
    """The hot path of MLflow's client: one point per call, so nothing here is spent twice.

    The answer is a ready-made empty message, skipping FastAPI's serialisation of a return value.
    """
    f = await _post(request)
    key = f.req("key")
    check_length(key, MAX_ENTITY_KEY_LENGTH, "metric key", key)
    await run_in_threadpool(
        _tracking(request).log_metric, _run_id(f), key, f.number("value"), f.integer("step", default=0) or 0,
        f.integer("timestamp"),
    )
    return Response(EMPTY_MESSAGE, media_type="application/json")


# ---------------------------------------------------------------------------------- experiments


@router.post("/experiments/create", dependencies=[needs(Permission.WRITE)])
async def create_experiment(request: Request) -> dict[str, Any]:
    f = await _post(request)
    tags = f.key_values("tags", MAX_EXPERIMENT_TAG_VAL_LENGTH)
    created = await run_in_threadpool(_tracking(request).create_experiment, f.req("name"), None, tags)
    return {"experiment_id": created.id}


@router.get("/experiments/get", dependencies=[needs(Permission.READ)])
def get_experiment(request: Request) -> dict[str, Any]:
    tracking = _tracking(request)
    found = tracking.get_experiment(experiment_id(tracking, _get(request).req("experiment_id")))
    return {"experiment": c.experiment(found)}


@router.get("/experiments/get-by-name", dependencies=[needs(Permission.READ)])
def get_experiment_by_name(request: Request) -> dict[str, Any]:
    return {"experiment": c.experiment(_tracking(request).get_experiment_by_name(_get(request).req("experiment_name")))}


@router.post("/experiments/search", dependencies=[needs(Permission.READ)])
async def search_experiments(request: Request) -> dict[str, Any]:
    f = await _post(request)
    max_results = check_max_results(f.integer("max_results", default=1000) or 1000, SEARCH_MAX_RESULTS_THRESHOLD)
    view = (f.text("view_type") or "ACTIVE_ONLY").upper()
    name_like = None
    if flt := f.text("filter"):
        match = _NAME_FILTER.match(flt)
        if match is None:
            raise InvalidInput(
                f"unsupported experiment filter {flt!r}: Slipway filters experiments by name (name = / LIKE / ILIKE)",
                field="filter",
            )
        name_like = match.group(2).replace("''", "'")
        if match.group(1) == "=":
            name_like = name_like.replace("%", r"\%").replace("_", r"\_")
    found = await run_in_threadpool(
        _tracking(request).list_experiments, include_deleted=view != "ACTIVE_ONLY", name_like=name_like
    )
    if view == "DELETED_ONLY":
        found = [e for e in found if e.lifecycle_stage == "deleted"]
    found = sorted(found, key=lambda e: (e.created_at, e.id), reverse=True)  # MLflow's default order: newest first
    page, token = page_of(found, f.text("page_token"), max_results)
    return c.drop_none({"experiments": [c.experiment(e) for e in page], "next_page_token": token})


@router.post("/experiments/update", dependencies=[needs(Permission.WRITE)])
async def update_experiment(request: Request) -> dict[str, Any]:
    f = await _post(request)
    tracking = _tracking(request)
    target = experiment_id(tracking, f.req("experiment_id"))
    await run_in_threadpool(tracking.update_experiment, target, name=f.text("new_name"))
    return {}


@router.post("/experiments/set-experiment-tag", dependencies=[needs(Permission.WRITE)])
async def set_experiment_tag(request: Request) -> dict[str, Any]:
    f = await _post(request)
    key, value = f.key_value(MAX_EXPERIMENT_TAG_VAL_LENGTH, "experiment tag")
    tracking = _tracking(request)
    await run_in_threadpool(tracking.set_experiment_tag, experiment_id(tracking, f.req("experiment_id")), key, value)
    return {}


# Soft deletes and restores: one shape, so one route each from this table.
Change = Callable[[TrackingService, Fields], None]
_LIFECYCLE: dict[str, Change] = {
    "/experiments/delete": lambda t, f: t.delete_experiment(experiment_id(t, f.req("experiment_id"))),
    "/experiments/restore": lambda t, f: t.restore_experiment(experiment_id(t, f.req("experiment_id"))),
    "/runs/delete": lambda t, f: t.delete_run(_run_id(f)),
    "/runs/restore": lambda t, f: t.restore_run(_run_id(f)),
}


def _lifecycle_route(change: Change) -> Callable[[Request], Awaitable[dict[str, Any]]]:
    async def route(request: Request) -> dict[str, Any]:
        f = await _post(request)
        await run_in_threadpool(change, _tracking(request), f)
        return {}

    return route


for _path, _change in _LIFECYCLE.items():
    router.add_api_route(_path, _lifecycle_route(_change), methods=["POST"], name=_path.strip("/").replace("/", "_"),
                         dependencies=[needs(Permission.WRITE)])

# ----------------------------------------------------------------------------------------- runs


@router.post("/runs/create", dependencies=[needs(Permission.WRITE)])
async def create_run(request: Request) -> dict[str, Any]:
    f = await _post(request)
    tags = f.key_values("tags", MAX_TAG_VAL_LENGTH)
    name = f.text("run_name") or tags.get(c.RUN_NAME_TAG)
    tracking = _tracking(request)

    def create() -> dict[str, Any]:
        exp = experiment_id(tracking, f.text("experiment_id") or DEFAULT_EXPERIMENT_ID)
        parent = tags.get("mlflow.parentRunId")
        created = tracking.create_run(
            exp, name=name, tags=tags, start_time=f.integer("start_time"), parent_run_id=parent or None
        )
        return c.run(created)

    return {"run": await run_in_threadpool(create)}


@router.get("/runs/get", dependencies=[needs(Permission.READ)])
def get_run(request: Request) -> dict[str, Any]:
    return {"run": _run_message(request, _run_id(_get(request)))}


@router.post("/runs/update", dependencies=[needs(Permission.WRITE)])
async def update_run(request: Request) -> dict[str, Any]:
    f = await _post(request)
    updated = await run_in_threadpool(
        _tracking(request).update_run, _run_id(f), status=f.text("status"), end_time=f.integer("end_time"),
        name=f.text("run_name"),
    )
    return {"run_info": c.run_info(updated)}


@router.post("/runs/log-parameter", dependencies=[needs(Permission.WRITE)])
async def log_param(request: Request) -> dict[str, Any]:
    f = await _post(request)
    key, value = f.key_value(MAX_PARAM_VAL_LENGTH, "param")
    await run_in_threadpool(_tracking(request).log_param, _run_id(f), key, value)
    return {}


def _log(
    tracking: TrackingService,
    run_id: str,
    *,
    metrics: list[dict[str, Any]] | None = None,
    params: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    """Log in one batch; a ``mlflow.runName`` tag also renames the run, as on MLflow's server."""
    tracking.log_batch(run_id, metrics=metrics or [], params=params, tags=tags)
    if tags and c.RUN_NAME_TAG in tags:
        tracking.update_run(run_id, name=tags[c.RUN_NAME_TAG])


@router.post("/runs/set-tag", dependencies=[needs(Permission.WRITE)])
async def set_tag(request: Request) -> dict[str, Any]:
    f = await _post(request)
    key, value = f.key_value(MAX_TAG_VAL_LENGTH, "tag")
    await run_in_threadpool(lambda: _log(_tracking(request), _run_id(f), tags={key: value}))
    return {}


@router.post("/runs/delete-tag", dependencies=[needs(Permission.WRITE)])
async def delete_tag(request: Request) -> dict[str, Any]:
    f = await _post(request)
    await run_in_threadpool(_tracking(request).delete_tag, _run_id(f), f.req("key"))
    return {}


@router.post("/runs/log-batch", dependencies=[needs(Permission.WRITE)])
async def log_batch(request: Request) -> dict[str, Any]:
    f = await _post(request)
    metrics = f.messages("metrics", max_items=MAX_METRICS_PER_BATCH)
    params = f.key_values("params", MAX_PARAM_VAL_LENGTH, max_items=MAX_PARAMS_TAGS_PER_BATCH)
    tags = f.key_values("tags", MAX_TAG_VAL_LENGTH, max_items=MAX_PARAMS_TAGS_PER_BATCH)
    total = len(metrics) + len(params) + len(tags)
    if total > MAX_ENTITIES_PER_BATCH:
        raise InvalidInput(
            f"A batch logging request can contain at most {MAX_ENTITIES_PER_BATCH} total metrics, params and tags. "
            f"Got {total}.",
            field="metrics",
        )
    points = []
    for m in metrics:
        key = m.req("key")
        check_length(key, MAX_ENTITY_KEY_LENGTH, "metric key", key)
        points.append({"key": key, "value": m.number("value"), "step": m.integer("step", default=0) or 0,
                       "timestamp": m.integer("timestamp")})
    await run_in_threadpool(lambda: _log(_tracking(request), _run_id(f), metrics=points, params=params, tags=tags))
    return {}


@router.post("/runs/log-inputs", dependencies=[needs(Permission.WRITE)])
async def log_inputs(request: Request) -> dict[str, Any]:
    f = await _post(request)
    entries = [_dataset_input(d) for d in f.messages("datasets", max_items=MAX_DATASETS_PER_BATCH)]
    models = [(m.req("model_id"), {"model_id": m.req("model_id")}) for m in f.messages("models")]
    compat, run_id = _compat(request), _run_id(f)

    def write() -> None:
        _tracking(request).log_inputs(run_id, entries)
        compat.link_run(run_id, LinkKind.MODEL_INPUT, models)

    await run_in_threadpool(write)
    return {}


def _dataset_input(d: Fields) -> DatasetInput:
    """One dataset input, checked against MLflow's dataset limits with its messages."""
    ds = d.message("dataset")
    name, digest = ds.req("name"), ds.req("digest")
    for field, limit in (("name", MAX_DATASET_NAME_SIZE), ("digest", MAX_DATASET_DIGEST_SIZE),
                         ("source", MAX_DATASET_SOURCE_SIZE), ("schema", MAX_DATASET_SCHEMA_SIZE),
                         ("profile", MAX_DATASET_PROFILE_SIZE)):
        check_length(ds.text(field) or "", limit, f"dataset {field}", name)
    tags = d.key_values("tags", MAX_INPUT_TAG_VALUE_SIZE)
    for key in tags:
        check_length(key, MAX_INPUT_TAG_KEY_SIZE, "input tag key", key)
    return DatasetInput(
        name=name, digest=digest, context=tags.pop(c.DATASET_CONTEXT_TAG, None) or None,
        source_type=ds.text("source_type"), source=ds.text("source"), data_schema=ds.text("schema"),
        profile=ds.text("profile"), tags=tags,
    )


@router.post("/runs/outputs", dependencies=[needs(Permission.WRITE)])
async def log_outputs(request: Request) -> dict[str, Any]:
    f = await _post(request)
    models = [(m.req("model_id"), {"model_id": m.req("model_id"), "step": m.integer("step", default=0)})
              for m in f.messages("models")]
    await run_in_threadpool(_compat(request).link_run, _run_id(f), LinkKind.MODEL_OUTPUT, models)
    return {}


_VIEW_TYPES = ("ACTIVE_ONLY", "DELETED_ONLY", "ALL")


@router.post("/runs/search", dependencies=[needs(Permission.READ)])
async def search_runs(request: Request) -> dict[str, Any]:
    f = await _post(request)
    max_results = check_max_results(f.integer("max_results", default=1000) or 1000, SEARCH_MAX_RESULTS_THRESHOLD)
    view = (f.text("run_view_type") or "ACTIVE_ONLY").upper()
    if view not in _VIEW_TYPES:
        raise InvalidInput(f"run_view_type must be one of {', '.join(_VIEW_TYPES)}", field="run_view_type")
    flt = f.text("filter")
    if view == "DELETED_ONLY":
        flt = f"({flt}) and lifecycle_stage = 'deleted'" if flt else "lifecycle_stage = 'deleted'"
    tracking, compat = _tracking(request), _compat(request)

    def search() -> dict[str, Any]:
        ids = [experiment_id(tracking, str(e)) for e in f.values("experiment_ids")]
        page = tracking.search_runs(
            ids, flt, [str(o) for o in f.values("order_by")], max_results, f.text("page_token"), view != "ACTIVE_ONLY"
        )
        links = compat.run_links([r.id for r in page.runs])
        return c.drop_none(
            {"runs": [c.run(r, links.get(r.id)) for r in page.runs], "next_page_token": page.next_page_token}
        )

    return await run_in_threadpool(search)


@router.get("/metrics/get-history", dependencies=[needs(Permission.READ)])
def get_metric_history(request: Request) -> dict[str, Any]:
    f = _get(request)
    history = _tracking(request).get_metric_history(_run_id(f), f.req("metric_key"))
    return {"metrics": [c.metric(m) for m in history]}


@router.get("/artifacts/list", dependencies=[needs(Permission.READ)])
def list_artifacts(request: Request) -> dict[str, Any]:
    f = _get(request)
    run_id = _run_id(f)
    files = _tracking(request).list_artifacts(run_id, f.text("path") or "")
    return {
        "root_uri": c.run_info(_tracking(request).get_run(run_id))["artifact_uri"],
        "files": [c.drop_none({"path": i.path, "is_dir": i.is_dir, "file_size": i.size}) for i in files],
    }


# -------------------------------------------------------------------------------- logged models


@router.post("/logged-models", dependencies=[needs(Permission.WRITE)])
async def create_logged_model(request: Request) -> dict[str, Any]:
    f = await _post(request)
    params = f.key_values("params", MAX_PARAM_VAL_LENGTH)
    tags = f.key_values("tags", MAX_TAG_VAL_LENGTH)
    tracking, compat = _tracking(request), _compat(request)

    def create() -> dict[str, Any]:
        return c.logged_model(
            compat.create_logged_model(
                experiment_id(tracking, f.req("experiment_id")), f.text("name"),
                source_run_id=f.text("source_run_id"), model_type=f.text("model_type"), params=params, tags=tags,
            )
        )

    return {"model": await run_in_threadpool(create)}


@router.post("/logged-models/search", dependencies=[needs(Permission.READ)])
async def search_logged_models(request: Request) -> dict[str, Any]:
    f = await _post(request)
    wanted: dict[str, str] = {}
    for cond in parse(f.text("filter"), LOGGED_MODELS):
        if cond.op != "=" or cond.kind != "attribute":
            raise InvalidInput(
                f"logged models are searched by name = '...' and source_run_id = '...' only, not {cond.key} {cond.op}",
                field="filter",
            )
        wanted[cond.key] = str(cond.value)
    tracking = _tracking(request)
    max_results = f.integer("max_results", default=100) or 100
    offset = decode_offset(f.text("page_token"))

    def search() -> dict[str, Any]:
        ids = [experiment_id(tracking, str(e)) for e in f.values("experiment_ids")]
        found, more = _compat(request).search_logged_models(
            ids, name=wanted.get("name"), source_run_id=wanted.get("source_run_id"), max_results=max_results,
            offset=offset,
        )
        return c.drop_none(
            {"models": [c.logged_model(m) for m in found],
             "next_page_token": encode_offset(offset + max_results) if more else None}
        )

    return await run_in_threadpool(search)


@router.get("/logged-models/{model_id}", dependencies=[needs(Permission.READ)])
def get_logged_model(model_id: str, request: Request) -> dict[str, Any]:
    return {"model": c.logged_model(_compat(request).get_logged_model(model_id))}


@router.patch("/logged-models/{model_id}", dependencies=[needs(Permission.WRITE)])
async def finalize_logged_model(model_id: str, request: Request) -> dict[str, Any]:
    f = await _post(request)
    done = await run_in_threadpool(_compat(request).finalize_logged_model, model_id, f.req("status"))
    return {"model": c.logged_model(done)}


@router.delete("/logged-models/{model_id}", dependencies=[needs(Permission.WRITE)])
def delete_logged_model(model_id: str, request: Request) -> dict[str, Any]:
    _compat(request).delete_logged_model(model_id)
    return {}


@router.patch("/logged-models/{model_id}/tags", dependencies=[needs(Permission.WRITE)])
async def set_logged_model_tags(model_id: str, request: Request) -> dict[str, Any]:
    f = await _post(request)
    await run_in_threadpool(_compat(request).set_logged_model_tags, model_id, f.key_values("tags", MAX_TAG_VAL_LENGTH))
    return {}


@router.delete("/logged-models/{model_id}/tags/{tag_key:path}", dependencies=[needs(Permission.WRITE)])
def delete_logged_model_tag(model_id: str, tag_key: str, request: Request) -> dict[str, Any]:
    _compat(request).delete_logged_model_tag(model_id, tag_key)
    return {}


@router.post("/logged-models/{model_id}/params", dependencies=[needs(Permission.WRITE)])
async def log_logged_model_params(model_id: str, request: Request) -> dict[str, Any]:
    f = await _post(request)
    params = f.key_values("params", MAX_PARAM_VAL_LENGTH)
    await run_in_threadpool(_compat(request).log_logged_model_params, model_id, params)
    return {}


__all__ = ["DEFAULT_EXPERIMENT_ID", "experiment_id", "router"]
