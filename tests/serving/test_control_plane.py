"""The serving control plane on SQLite and PostgreSQL: endpoints, approval, deployments, alarms, rollback."""

import json
from pathlib import Path

import pytest
from _serving_models import register
from sqlalchemy import select

from slipway._principal import Principal, acting_as
from slipway._time import now_ms
from slipway.errors import AlreadyExists, Conflict, InvalidInput, NotFound, PermissionDenied
from slipway.events._tables import events
from slipway.lineage import LineageService
from slipway.registry import RegistryService
from slipway.serving import DeploymentStatus, EndpointStatus, ServingService, WindowStats
from slipway.store import Database

QUIET = WindowStats(requests=0, errors=0)


def _events(db: Database) -> list[str]:
    with db.read() as conn:
        return [r.type for r in conn.execute(select(events.c.type).order_by(events.c.seq))]


def test_create_serves_approved_versions_and_records_lineage(
    serving: ServingService, registry: RegistryService, package: Path, db: Database
) -> None:
    v1, v2 = register(registry, package), register(registry, package)
    ep = serving.create_endpoint(
        "rings",
        [{"model": v1, "weight": 9}, {"model": v2, "weight": 1, "workers": 2}],
        capture={"sampling_percent": 50},
    )
    assert ep.status is EndpointStatus.CREATING and ep.revision == 1
    assert [(v.name, v.weight, v.workers) for v in ep.variants] == [("line-v1", 9, 1), ("line-v2", 1, 2)]
    assert ep.capture.sampling_percent == 50
    assert serving.confirm("rings", 1).status is EndpointStatus.IN_SERVICE
    assert [e.name for e in serving.list_endpoints()] == ["rings"]
    assert "endpoint.created" in _events(db)
    graph = LineageService(db).downstream("model_version", ep.variants[0].model_version_id, depth=1)
    assert [(e.dst[0], e.relation) for e in graph.edges] == [("endpoint_variant", "deployed_as")]
    upstream = LineageService(db).upstream("endpoint", ep.id, depth=2)  # an endpoint is made of its variants
    assert {n.kind for n in upstream.nodes} == {"endpoint", "endpoint_variant", "model_version"}


def test_unapproved_versions_need_an_admin_and_force(
    serving: ServingService, registry: RegistryService, package: Path
) -> None:
    pending = register(registry, package, approve=False)
    with pytest.raises(Conflict, match="PendingManualApproval"):
        serving.create_endpoint("e", [{"model": pending}])
    with acting_as(Principal("sam", frozenset({"scientist"}))), pytest.raises(PermissionDenied):
        serving.create_endpoint("e", [{"model": pending}], force=True)
    assert serving.create_endpoint("e", [{"model": pending}], force=True).variants[0].model == pending


@pytest.mark.parametrize(
    ("variants", "field"),
    [
        ([], "variants"),
        ([{"model": "line/1", "shadow": True}], "variants"),
        ([{"model": "line"}], "variants.0.model"),
        ([{"model": "line/1", "weight": -1}], "variants.0.weight"),
        ([{"model": "line/1"}, {"model": "line/1"}], "variants"),
    ],
)
def test_bad_variants_name_the_field(
    serving: ServingService, registry: RegistryService, package: Path, variants: list, field: str
) -> None:
    register(registry, package)
    with pytest.raises(InvalidInput) as err:
        serving.create_endpoint("e", variants)
    assert err.value.field == field


def test_names_and_missing_things(serving: ServingService, registry: RegistryService, package: Path) -> None:
    v1 = register(registry, package)
    serving.create_endpoint("e", [{"model": v1}])
    with pytest.raises(AlreadyExists):
        serving.create_endpoint("e", [{"model": v1}])
    with pytest.raises(InvalidInput):
        serving.create_endpoint("bad/name", [{"model": v1}])
    with pytest.raises(NotFound):
        serving.create_endpoint("f", [{"model": "line/9"}])
    with pytest.raises(NotFound):
        serving.get_endpoint("nope")
    with pytest.raises(Conflict, match="no deployment"):
        serving.rollback("e")
    serving.delete_endpoint("e")
    with pytest.raises(NotFound):
        serving.get_endpoint("e")


def test_all_at_once_switches_and_keeps_history(
    serving: ServingService, registry: RegistryService, package: Path, db: Database
) -> None:
    v1, v2 = register(registry, package), register(registry, package)
    serving.create_endpoint("e", [{"model": v1}])
    ep = serving.update_endpoint("e", [{"model": v2}])
    assert ep.status is EndpointStatus.UPDATING and ep.deployment is None
    assert [v.model for v in ep.variants] == [v2] and ep.revision == 2
    assert serving.confirm("e", ep.revision).status is EndpointStatus.IN_SERVICE
    [d] = serving.list_deployments("e")
    assert d.status is DeploymentStatus.SUCCEEDED and [v.model for v in d.previous] == [v1]
    back = serving.rollback("e")
    assert back.status is EndpointStatus.ROLLING_BACK and [v.model for v in back.variants] == [v1]
    assert serving.list_deployments("e")[0].status is DeploymentStatus.ROLLED_BACK
    assert _events(db)[-3:] == ["deployment.started", "deployment.succeeded", "deployment.rolled_back"]


def test_canary_bakes_then_finishes(
    serving: ServingService, registry: RegistryService, package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v1, v2 = register(registry, package), register(registry, package)
    serving.create_endpoint("e", [{"model": v1}])
    clock = [now_ms()]  # the service's clock, moved by hand: a bake ends when the test says, however loaded the machine
    monkeypatch.setattr("slipway.serving._service.now_ms", lambda: clock[0])
    ep = serving.update_endpoint("e", [{"model": v2}], strategy={"kind": "canary", "share": 0.2, "bake_seconds": 60})
    assert ep.deployment is not None and ep.deployment.share == 0.2
    with pytest.raises(Conflict, match="in progress"):
        serving.update_endpoint("e", [{"model": v1}])
    assert serving.advance("e", QUIET).deployment is not None  # still baking
    assert serving.confirm("e", ep.revision).status is EndpointStatus.UPDATING  # not while one is in progress
    clock[0] += 59_999
    assert serving.advance("e", QUIET).deployment is not None  # a millisecond short of the bake
    clock[0] += 1
    # a server that has routed the step's traffic for less than the bake (its new variant loaded late)
    assert serving.advance("e", WindowStats(requests=0, errors=0, serving_seconds=59.999)).deployment is not None
    done = serving.advance("e", WindowStats(requests=50, errors=0, p99_ms=3))
    assert done.deployment is None and [v.model for v in done.variants] == [v2]
    assert serving.list_deployments("e")[0].status is DeploymentStatus.SUCCEEDED


def test_linear_moves_in_steps(serving: ServingService, registry: RegistryService, package: Path) -> None:
    v1, v2 = register(registry, package), register(registry, package)
    serving.create_endpoint("e", [{"model": v1}])
    serving.update_endpoint("e", [{"model": v2}], strategy={"kind": "linear", "share": 0.25, "bake_seconds": 0})
    shares = []
    while (ep := serving.advance("e", QUIET)).deployment is not None:
        shares.append(ep.deployment.share)
    assert shares == [0.5, 0.75] and [v.model for v in ep.variants] == [v2]


@pytest.mark.parametrize(
    ("stats", "alarm"),
    [
        (WindowStats(requests=20, errors=5), "error rate"),
        (WindowStats(requests=20, errors=0, p99_ms=900), "p99 latency"),
    ],
)
def test_alarms_roll_back(
    serving: ServingService, registry: RegistryService, package: Path, stats: WindowStats, alarm: str
) -> None:
    v1, v2 = register(registry, package), register(registry, package)
    serving.create_endpoint("e", [{"model": v1}], alarms={"max_error_rate": 0.1, "max_p99_ms": 500, "min_requests": 10})
    serving.update_endpoint("e", [{"model": v2}], strategy={"kind": "canary", "bake_seconds": 60})
    assert serving.advance("e", WindowStats(requests=5, errors=5)).deployment is not None  # too few to judge
    ep = serving.advance("e", stats)
    assert ep.status is EndpointStatus.ROLLING_BACK and ep.reason is not None and alarm in ep.reason
    assert ep.deployment is None and [v.model for v in ep.variants] == [v1]
    assert serving.confirm("e", ep.revision).status is EndpointStatus.IN_SERVICE


def test_manual_rollback_of_a_deployment_in_progress(
    serving: ServingService, registry: RegistryService, package: Path
) -> None:
    v1, v2 = register(registry, package), register(registry, package)
    serving.create_endpoint("e", [{"model": v1}])
    serving.update_endpoint("e", [{"model": v2}], strategy={"kind": "canary"})
    ep = serving.rollback("e", reason="looks off")
    assert ep.reason == "looks off" and [v.model for v in ep.variants] == [v1]
    assert serving.list_deployments("e")[0].reason == "looks off"


def test_capture_and_alarm_changes_apply_at_once(
    serving: ServingService, registry: RegistryService, package: Path
) -> None:
    serving.create_endpoint("e", [{"model": register(registry, package)}])
    ep = serving.update_endpoint("e", capture={"sampling_percent": 100}, alarms={"max_error_rate": 0.5})
    assert ep.capture.sampling_percent == 100 and ep.alarms.max_error_rate == 0.5 and ep.revision == 2
    with pytest.raises(InvalidInput) as err:
        serving.update_endpoint("e", capture={"sampling_percent": 101})
    assert err.value.field == "capture.sampling_percent"


def test_failure_and_ground_truth(serving: ServingService, registry: RegistryService, package: Path) -> None:
    serving.create_endpoint("e", [{"model": register(registry, package)}])
    assert serving.fail("e", "model would not load").status is EndpointStatus.FAILED
    assert serving.put_ground_truth("e", [{"inference_id": "a", "label": 3}, {"inference_id": "b", "label": [1]}]) == 2
    serving.put_ground_truth("e", [{"inference_id": "a", "label": 4}])
    assert [(g.inference_id, g.label) for g in serving.get_ground_truth("e")] == [("a", 4), ("b", [1])]
    assert [g.label for g in serving.get_ground_truth("e", ["b"])] == [[1]]
    assert json.dumps([g.model_dump() for g in serving.get_ground_truth("e", [])]) == "[]"


def test_production_endpoints_change_only_with_deploy_production(
    serving: ServingService, registry: RegistryService, package: Path
) -> None:
    """Scientists deploy to their own endpoints; creating, changing, marking or deleting a production one is for
    approvers (the deploy_production permission), whatever face calls."""
    v1, v2 = register(registry, package), register(registry, package)
    scientist = Principal("sam", frozenset({"scientist"}))
    approver = Principal("ada", frozenset({"approver"}))
    with acting_as(scientist):
        with pytest.raises(PermissionDenied, match="deploy_production"):
            serving.create_endpoint("live", [{"model": v1}], production=True)
        staging = serving.create_endpoint("staging", [{"model": v1}])
        assert not staging.production
        assert serving.update_endpoint("staging", [{"model": v2}]).variants[0].model == v2
        with pytest.raises(PermissionDenied, match="deploy_production"):
            serving.update_endpoint("staging", production=True)
    with acting_as(approver):
        assert serving.create_endpoint("live", [{"model": v1}], production=True).production
        with pytest.raises(PermissionDenied, match="write"):
            serving.create_endpoint("sandbox", [{"model": v1}])  # approvers do not build; scientists do
    with acting_as(scientist):
        for change in (lambda: serving.update_endpoint("live", [{"model": v2}]),
                       lambda: serving.update_endpoint("live", production=False),
                       lambda: serving.rollback("live"),
                       lambda: serving.delete_endpoint("live")):
            with pytest.raises(PermissionDenied, match="deploy_production"):
                change()
        assert serving.get_endpoint("live").variants[0].model == v1  # reading stays open
    with acting_as(approver):
        assert serving.update_endpoint("live", [{"model": v2}]).variants[0].model == v2
        serving.delete_endpoint("live")
