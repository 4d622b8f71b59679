"""Embedded and remote offer the same API in every domain (issue 16 item 2).

Every public method of a domain's service has a remote twin with the same signature (but the
arguments the server supplies itself) and the same errors, except the methods listed in
:data:`SERVER_ONLY` with the reason. The remote clients derive their methods from the services'
declared operations, so this test mostly guards what is written by hand and the declarations
themselves; it also checks that ``Client``'s Protocols (generated) still match the services.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _server import LiveServer

from slipway import Client
from slipway._operations import arguments, operations_of, server_supplied
from slipway.automation import AutomationService
from slipway.clarify import ClarifyService
from slipway.client._automation import RemoteAutomation
from slipway.client._clarify import RemoteClarify
from slipway.client._datasets import RemoteDatasets
from slipway.client._features import RemoteFeatures
from slipway.client._lineage import RemoteLineage
from slipway.client._monitoring import RemoteMonitoring
from slipway.client._operations import RemoteApi
from slipway.client._pipelines import RemotePipelines
from slipway.client._registry import RemoteRegistry
from slipway.client._security import RemoteSecurity
from slipway.client._serving import RemoteServing
from slipway.client._tracking import RemoteTracking
from slipway.datasets import DatasetService
from slipway.errors import SlipwayError
from slipway.features import FeatureService
from slipway.lineage import LineageService
from slipway.monitoring import MonitoringService
from slipway.pipelines import PipelineService
from slipway.registry import RegistryService
from slipway.security import SecurityService
from slipway.serving import ServingService
from slipway.tracking import TrackingService

ROOT = Path(__file__).resolve().parents[2]

# domain -> (service, remote client)
DOMAINS: dict[str, tuple[type, type]] = {
    "tracking": (TrackingService, RemoteTracking),
    "registry": (RegistryService, RemoteRegistry),
    "serving": (ServingService, RemoteServing),
    "security": (SecurityService, RemoteSecurity),
    "automation": (AutomationService, RemoteAutomation),
    "datasets": (DatasetService, RemoteDatasets),
    "features": (FeatureService, RemoteFeatures),
    "clarify": (ClarifyService, RemoteClarify),
    "monitoring": (MonitoringService, RemoteMonitoring),
    "pipelines": (PipelineService, RemotePipelines),
    "lineage": (LineageService, RemoteLineage),
}

# Public service methods with no remote twin, and why. Everything else must have one.
SERVER_ONLY: dict[str, dict[str, str]] = {
    "tracking": {},
    "registry": {},
    "serving": {  # the data plane's reports: serving processes make them in the server, next to the store
        "advance": "a serving process moves the rollout on from the traffic it saw",
        "confirm": "a serving process acknowledges the revision it serves",
        "fail": "a serving process reports a model it could not load",
        "endpoints_serving": "the registry asks it, next to the store, before it deletes a version",
        "report_replicas": "the Ray Serve engine's slipway serve records the replicas running, next to the store",
    },
    "security": {"start_session": "the web UI's login trades an API token for its cookie; a client keeps its token"},
    "automation": {
        "receive_hook": "POST /hooks/{name} is signed by the hook's secret, not called by a client",
        "accept_hook": "what POST /hooks/{name} does in the server: it records the signed call's run",
        "run_action": "a worker's run of a recorded action (a hook call's job), next to the store",
    },
    "datasets": {},
    "features": {},
    "clarify": {},
    "monitoring": {"latest_executions": "what the server's GET /metrics shows; a remote caller scrapes /metrics"},
    "pipelines": {  # retention: automation's collect_garbage (remote too) asks them where the store is
        "expired_executions": "garbage collection's question, answered next to the store",
        "delete_execution": "garbage collection's deletion, run next to the store",
        "stale_studies": "garbage collection's question about Tuning steps' Optuna studies, next to the store",
        "delete_study": "garbage collection's deletion of an Optuna study, run next to the store",
        "orchestrate_queued": "a worker's claim of the queued executions, next to the store",
        "warm": "a worker starts its step processes before it claims work",
    },
    "lineage": {},
}

# Remote methods with no embedded twin, and why.
REMOTE_ONLY: dict[str, dict[str, str]] = {
    "tracking": {"revealing_secrets": "embedded callers read the store itself; a server redacts unless asked"},
    "registry": {},
    "serving": {},
    "security": {},
    "automation": {},
    "datasets": {},
    "features": {},
    "clarify": {},
    "monitoring": {},
    "pipelines": {},
    "lineage": {},
}


def _public(cls: type) -> set[str]:
    return {n for n, member in inspect.getmembers(cls) if not n.startswith("_") and callable(member)}


def test_every_domain_of_the_client_is_checked() -> None:
    """Each domain ``Client`` offers is listed here, so a new one cannot skip the parity checks."""
    offered = {name for name, member in vars(Client).items() if isinstance(member, functools.cached_property)}
    assert offered | set(Client.__annotations__) == set(DOMAINS)


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_every_service_method_has_a_remote_twin(domain: str) -> None:
    service, remote = DOMAINS[domain]
    expected = _public(service) - set(SERVER_ONLY[domain])
    assert _public(remote) - _public(RemoteApi) - set(REMOTE_ONLY[domain]) == expected
    assert not set(SERVER_ONLY[domain]) & _public(remote), "a server-only method that a remote client has"


def _shape(method: Any, dropped: set[str] = frozenset()) -> list[tuple[str, Any, Any, Any]]:
    """(name, kind, default, Python type) of each parameter and the result (the types without ``Annotated``'s
    wire details, so a hand-written twin may spell them its own way)."""
    hints = typing.get_type_hints(method)
    params = [p for p in inspect.signature(method).parameters.values() if p.name not in dropped]
    return [(p.name, p.kind, p.default, hints.get(p.name)) for p in params] + [("->", None, None, hints.get("return"))]


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_remote_twins_have_the_services_signatures(domain: str) -> None:
    service, remote = DOMAINS[domain]
    for name in sorted(_public(service) - set(SERVER_ONLY[domain])):
        method = getattr(service, name)
        assert _shape(getattr(remote, name)) == _shape(method, server_supplied(method)), f"{domain}.{name}"


def test_the_client_protocols_follow_the_services() -> None:
    """``src/slipway/client/_protocols.py`` is what scripts/api_protocols.py writes for the services now."""
    spec = importlib.util.spec_from_file_location("api_protocols", ROOT / "scripts" / "api_protocols.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert generator.render() == generator.TARGET.read_text(encoding="utf-8"), (
        "the Protocols are out of date: run PYTHONPATH=src .venv/bin/python scripts/api_protocols.py"
    )


# ------------------------------------------------------------------------------------------ errors

_MISSING = "no-such-object"


def _lookups() -> Iterator[tuple[str, str, int]]:
    """(domain, method, argument count) of every declared GET whose required arguments are all texts."""
    for domain, (service, _remote) in sorted(DOMAINS.items()):
        for name, method, ops in operations_of(service):
            op = ops[-1]
            if op.verb != "GET" or op.fixed:
                continue
            args = arguments(method, op)
            required = [a for a in args if a.default is inspect.Parameter.empty]
            if required and all(a.where in ("path", "query") and a.type is str for a in required):
                yield domain, name, len(required)


# Lookups for which a missing object is no error, and why: their answers are compared instead.
ANSWERING: dict[str, str] = {
    "lineage.upstream": "a walk from an object lineage never saw is a graph of that node alone",
    "lineage.downstream": "a walk from an object lineage never saw is a graph of that node alone",
}


def _outcome(call: Any, answers: bool) -> Any:
    """The error a call raises (class, field, message); or, where that is no error, its answer."""
    if answers:
        return call()
    with pytest.raises(SlipwayError) as caught:
        call()
    return type(caught.value), caught.value.field, caught.value.message


def test_lookups_of_missing_objects_fail_alike(tmp_path: Path, live_server: LiveServer) -> None:
    """The same exception class, field and message embedded and remote, for every lookup by id or name
    (the same answer for those in :data:`ANSWERING`)."""
    lookups = list(_lookups())
    assert len(lookups) >= len(DOMAINS), lookups
    with Client(home=str(tmp_path / "home")) as embedded, live_server.client() as remote:
        for domain, name, count in lookups:
            args = [_MISSING] * count
            answers = f"{domain}.{name}" in ANSWERING
            here = _outcome(functools.partial(getattr(getattr(embedded, domain), name), *args), answers)
            there = _outcome(functools.partial(getattr(getattr(remote, domain), name), *args), answers)
            assert there == here, f"{domain}.{name}"
