"""What a worker does with each kind of job a server queues (see :class:`slipway.store.JobQueue`)."""

from __future__ import annotations

import datetime as dt
import json
import typing
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
from pydantic import TypeAdapter
from pydantic_core import to_jsonable_python

from slipway._backend import Backend
from slipway._operations import (
    ACTION_RUN,
    CLARIFY_BIAS,
    CLARIFY_EXPLAIN,
    DATASETS_REGISTER,
    FEATURES_INGEST,
    MONITOR_RUN,
    Argument,
    Operation,
    arguments,
    job_kind,
    operations_of,
    wire_form,
)
from slipway.automation import AutomationService
from slipway.errors import InvalidInput
from slipway.features import FeatureService, read_parquet
from slipway.serving import ServingService

Handler = Callable[[Backend, dict[str, Any]], Any]
# The services whose operations may be declared ``job=True``, by their attribute on the backend:
# the server queues such a call as a job of kind ``job_kind(attribute, method)``.
JOB_SERVICES: Mapping[str, type] = {"automation": AutomationService, "features": FeatureService,
                                    "serving": ServingService}


def _when(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


# What a monitor run's job may say (see MONITOR_RUN): the server writes it, anything else is refused.
_MONITOR_ARGUMENTS = frozenset({"name", "start", "end", "input"})


def run_monitor(backend: Backend, payload: dict[str, Any]) -> dict[str, Any]:
    """A monitor's run over the predictions and labels a request sent (staged by the server), or
    over its endpoint's captured traffic: the reading and computing of a check."""
    given = _arguments(MONITOR_RUN, payload, _MONITOR_ARGUMENTS)
    data = labels = None
    if given.get("input") is not None:
        with backend.job_inputs.taken(str(given["input"])) as src:
            document = json.load(src)
        data, labels = _records(document, "predictions"), _records(document, "labels")
    execution = backend.monitoring.run_monitor(str(given["name"]), data, labels=labels,
                                               start=_when(given.get("start")), end=_when(given.get("end")))
    return {"execution": execution.id}


def _records(document: Any, key: str) -> pd.DataFrame | None:
    """The table of the staged body's ``key`` (records, as the route validated them); nothing else of it is read."""
    records = document.get(key) if isinstance(document, dict) else None
    if records is None:
        return None
    if not isinstance(records, list) or not all(isinstance(row, dict) for row in records):
        raise InvalidInput(f"{key} must be a list of records", field=key)
    return pd.DataFrame.from_records(records)


# What a registration's job may say (see DATASETS_REGISTER).
_REGISTER_ARGUMENTS = frozenset({"name", "format", "description", "tags", "source", "produced_by", "derived_from",
                                 "input", "uri"})


def register_dataset(backend: Backend, payload: dict[str, Any]) -> dict[str, Any]:
    """Register an upload (staged by the server) or data named by a URI as a dataset's next
    version: reading it, its statistics. A URI is read within the server's ``dataset_roots``."""
    given = dict(_arguments(DATASETS_REGISTER, payload, _REGISTER_ARGUMENTS))
    producer, sources = given.pop("produced_by", None), given.pop("derived_from", None) or []
    name, staged, uri = str(given.pop("name")), given.pop("input", None), given.pop("uri", None)
    refs: dict[str, Any] = {"produced_by": tuple(producer) if producer else None,
                            "derived_from": [tuple(ref) for ref in sources]}
    if staged is None:
        done = backend.datasets.register(name, str(uri), policy=backend.confinement.sources, **refs, **given)
    else:
        with backend.job_inputs.taken(str(staged)) as src:
            done = backend.datasets.register(name, src, **refs, **given)
    return done.model_dump(mode="json")


_INGEST_ARGUMENTS = frozenset({"name", "online", "format", "input"})


def ingest_features(backend: Backend, payload: dict[str, Any]) -> dict[str, Any]:
    """Ingest rows a request sent (staged by the server) into a feature group: offline files, online writes."""
    given = _arguments(FEATURES_INGEST, payload, _INGEST_ARGUMENTS)
    with backend.job_inputs.taken(str(given["input"])) as src:
        rows: Any = read_parquet(src) if given["format"] == "parquet" else json.load(src)["records"]
    return backend.features.ingest(str(given["name"]), rows, online=bool(given["online"])).model_dump(mode="json")


def run_action(backend: Backend, payload: dict[str, Any]) -> dict[str, Any]:
    """The action of an automation run a hook call recorded, run as the hook's creator."""
    run = backend.automation.run_action(payload["run"])
    return {"run": run.id, "status": str(run.status)}


# The arguments of the clarify reports a server asks a worker for: the fields of the routes' bodies.
_BIAS_ARGUMENTS = frozenset({"config", "dataset", "model", "methods", "pre_training", "post_training"})
_EXPLAIN_ARGUMENTS = frozenset({"model", "dataset", "features", "method", "max_rows", "baseline_rows",
                                "pdp_features"})


def _arguments(kind: str, payload: dict[str, Any], known: frozenset[str]) -> dict[str, Any]:
    unknown = set(payload) - known
    if unknown:  # the server writes the payload: a stranger's argument (``trusted``...) is refused, not passed on
        raise InvalidInput(f"{kind} takes no {', '.join(sorted(unknown))}", field="payload")
    return payload


def clarify_bias(backend: Backend, payload: dict[str, Any]) -> dict[str, Any]:
    """A bias report over a registered dataset version (with a model version's predictions when named)."""
    report = backend.clarify.run_bias(**_arguments(CLARIFY_BIAS, payload, _BIAS_ARGUMENTS))
    return {"report": report.id}


def clarify_explain(backend: Backend, payload: dict[str, Any]) -> dict[str, Any]:
    """SHAP explanations of a model version over a registered dataset version."""
    report = backend.clarify.run_explain(**_arguments(CLARIFY_EXPLAIN, payload, _EXPLAIN_ARGUMENTS))
    return {"report": report.id}


def _operation(attribute: str, method_name: str, method: Callable[..., Any], op: Operation) -> Handler:
    """The handler of a declared operation's job: its payload is the arguments the request gave, in
    their JSON form; its result the answer's JSON form, as the route would have answered."""
    given: dict[str, Argument] = {arg.name: arg for arg in arguments(method, op) if arg.where != "server"}
    adapters = {name: TypeAdapter(arg.type) for name, arg in given.items()}
    _, result_wire = wire_form(typing.get_type_hints(method, include_extras=True).get("return", Any))
    encode = result_wire.to_wire if result_wire is not None else None

    def run(backend: Backend, payload: dict[str, Any]) -> Any:
        unknown = set(payload) - set(given)
        if unknown:  # the server writes the payload: a stranger's argument is refused, not passed on
            raise InvalidInput(f"{job_kind(attribute, method_name)} takes no {', '.join(sorted(unknown))}",
                               field="payload")
        call = {name: given[name].decode(adapters[name].validate_python(value)) for name, value in payload.items()}
        result = getattr(getattr(backend, attribute), method_name)(**op.fixed, **call)
        if encode is not None and result is not None:
            result = encode(result)
        return to_jsonable_python(result, by_alias=True)

    return run


def _declared_jobs() -> dict[str, Handler]:
    """A handler for each operation of :data:`JOB_SERVICES` declared ``job=True``, by its job's kind."""
    return {
        job_kind(attribute, name): _operation(attribute, name, method, op)
        for attribute, service in JOB_SERVICES.items()
        for name, method, ops in operations_of(service)
        for op in ops
        if op.job
    }


HANDLERS: dict[str, Handler] = {
    MONITOR_RUN: run_monitor, ACTION_RUN: run_action, CLARIFY_BIAS: clarify_bias, CLARIFY_EXPLAIN: clarify_explain,
    DATASETS_REGISTER: register_dataset, FEATURES_INGEST: ingest_features,
    **_declared_jobs(),
}
