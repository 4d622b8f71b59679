"""Slipway's records in MLflow's JSON message shapes (mlflow/protos/service.proto, model_registry.proto).

Times are milliseconds since the epoch; lists of tags are ``[{"key", "value"}]``; version
numbers are strings. A Slipway version's approval status is shown as the tag
``slipway.approval_status``, so MLflow users see where their version stands.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from slipway._kinds import ObjectKind
from slipway._redact import redact_record
from slipway._time import datetime_to_ms
from slipway.mlflow_compat import LinkKind, LoggedModel, logged_model_root, run_root, stage_of, version_root
from slipway.registry import ModelGroup, ModelVersion
from slipway.server.mlflow._fields import double_out
from slipway.tracking import DatasetInput, Experiment, Metric, Run

RUN_NAME_TAG = "mlflow.runName"
APPROVAL_TAG = "slipway.approval_status"
DATASET_CONTEXT_TAG = "mlflow.data.context"
_EXPERIMENT_ROOT = "mlflow-artifacts:/experiments/"


def ms(value: dt.datetime | None) -> int | None:
    return None if value is None else datetime_to_ms(value, "time")


def key_values(values: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in values.items()]


def drop_none(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if v is not None}


def experiment(e: Experiment) -> dict[str, Any]:
    e = redact_record(e)  # MLflow's client cannot ask to reveal secrets, so nobody sees them through it
    return drop_none(
        {
            "experiment_id": e.id,
            "name": e.name,
            "artifact_location": _EXPERIMENT_ROOT + e.id,
            "lifecycle_stage": e.lifecycle_stage.value,
            "creation_time": ms(e.created_at),
            "last_update_time": ms(e.updated_at),
            "tags": key_values(e.tags),
        }
    )


def metric(m: Metric) -> dict[str, Any]:
    return {"key": m.key, "value": double_out(m.value), "timestamp": m.timestamp, "step": m.step}


def run_info(r: Run) -> dict[str, Any]:
    return drop_none(
        {
            "run_id": r.id,
            "run_uuid": r.id,
            "run_name": r.name,
            "experiment_id": r.experiment_id,
            "user_id": r.user,
            "status": r.status.value,
            "start_time": ms(r.start_time),
            "end_time": ms(r.end_time),
            "artifact_uri": run_root(r.id),
            "lifecycle_stage": r.lifecycle_stage.value,
        }
    )


def run(r: Run, links: Mapping[LinkKind, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    r = redact_record(r)  # as for experiments: secret-looking params and tags leave as ***
    links = links or {}
    return {
        "info": run_info(r),
        "data": {
            "metrics": [metric(m) for m in r.metrics.values()],
            "params": key_values(r.params),
            "tags": key_values({**r.tags, RUN_NAME_TAG: r.name}),
        },
        "inputs": {
            "dataset_inputs": [dataset_input(d) for d in r.inputs],
            "model_inputs": links.get(LinkKind.MODEL_INPUT, []),
        },
        "outputs": {"model_outputs": links.get(LinkKind.MODEL_OUTPUT, [])},
    }


def dataset_input(d: DatasetInput) -> dict[str, Any]:
    """A data set a run read, as MLflow's ``DatasetInput`` message (its context is an input tag)."""
    tags = {**d.tags, **({DATASET_CONTEXT_TAG: d.context} if d.context else {})}
    dataset = {"name": d.name, "digest": d.digest, "source_type": d.source_type, "source": d.source,
               "schema": d.data_schema, "profile": d.profile}
    return {"tags": key_values(tags), "dataset": drop_none(dataset)}


def logged_model(m: LoggedModel) -> dict[str, Any]:
    return {
        "info": drop_none(
            {
                "model_id": m.id,
                "experiment_id": m.experiment_id,
                "name": m.name,
                "creation_timestamp_ms": ms(m.created_at),
                "last_updated_timestamp_ms": ms(m.updated_at),
                "artifact_uri": logged_model_root(m.id),
                "status": m.status.value,
                "model_type": m.model_type,
                "source_run_id": m.source_run_id,
                "tags": key_values(m.tags),
            }
        ),
        "data": {"params": key_values(m.params), "metrics": []},
    }


def version_source(v: ModelVersion) -> str:
    """Where the version came from as MLflow's client gave it, else where its files are."""
    mlflow_meta = v.metadata.get("mlflow")
    if isinstance(mlflow_meta, dict) and isinstance(mlflow_meta.get("source"), str):
        return str(mlflow_meta["source"])
    return version_root(v.id) if v.flavor == "mlflow" else v.uri


def model_version(v: ModelVersion) -> dict[str, Any]:
    mlflow_meta = v.metadata.get("mlflow")
    model_id = mlflow_meta.get("model_id") if isinstance(mlflow_meta, dict) else None
    return drop_none(
        {
            "name": v.group,
            "version": str(v.version),
            "creation_timestamp": ms(v.created_at),
            "last_updated_timestamp": ms(v.updated_at),
            "user_id": v.registered_by,
            "current_stage": stage_of(v),
            "description": v.description,
            "source": version_source(v),
            "run_id": v.source_id if v.source_kind == ObjectKind.RUN else None,
            "status": "READY",
            "tags": key_values({**v.tags, APPROVAL_TAG: v.status.value}),
            "aliases": list(v.aliases),
            "model_id": model_id,
        }
    )


def registered_model(g: ModelGroup, latest: list[ModelVersion] | None = None) -> dict[str, Any]:
    return drop_none(
        {
            "name": g.name,
            "creation_timestamp": ms(g.created_at),
            "last_updated_timestamp": ms(g.updated_at),
            "user_id": g.created_by,
            "description": g.description,
            "latest_versions": [model_version(v) for v in latest or []],
            "tags": key_values(g.tags),
            "aliases": [{"alias": a, "version": str(n)} for a, n in sorted(g.aliases.items())],
        }
    )
