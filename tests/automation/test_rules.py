"""Event rules: matching by type and filters, templates from the event, and every kind of action."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import _pipeline_steps as lib
import pytest
from _webhook import Hook
from sqlalchemy import select

from slipway._backend import Backend
from slipway._principal import Principal, acting_as
from slipway.automation import Deploy, MoveAlias, RunMonitor, RunStatus, StartPipeline, Webhook
from slipway.errors import AlreadyExists, InvalidInput, NotFound
from slipway.events._tables import audit_events
from slipway.pipelines import LocalExecutor, Parameter, Pipeline, PipelineService, ProcessingStep, ServiceSpec


def test_a_registered_then_approved_model_is_staged_and_deployed(
    any_backend: Backend, package: Path, receiver: Hook
) -> None:
    auto, registry = any_backend.automation, any_backend.registry
    notify = Webhook(receiver.url, text="new {event.group} v{event.version}")
    auto.create_rule("notify", "model_version.registered", notify)
    auto.create_rule("stage", "model_version.status_changed", MoveAlias("{event.group}", "staging", "{event.version}"),
                     filters={"to": "Approved"})
    auto.create_rule("deploy", "model_version.alias_moved", Deploy("line-staging", "{event.group}/{event.version}"),
                     filters={"alias": "staging", "group": ["line", "other"]})

    registry.register_model("line", package)
    assert [r.status for r in auto.dispatch_pending()] == [RunStatus.SUCCEEDED]
    assert receiver.received[0]["text"] == "new line v1"
    assert receiver.received[0]["event"]["type"] == "model_version.registered"
    assert auto.rule_history("stage") == []  # registered, not approved: no match

    registry.approve("line", 1)
    staged = auto.dispatch_pending()
    assert [(r.source_name, r.status, r.result) for r in staged] == [
        ("stage", RunStatus.SUCCEEDED, {"group": "line", "alias": "staging", "version": 1})
    ]
    assert registry.get_version_by_alias("line", "staging").version == 1
    deployed = auto.dispatch_pending()  # the alias move is an event of its own
    assert deployed[0].result is not None and deployed[0].result["created"] is True
    assert [v.model for v in any_backend.serving.get_endpoint("line-staging").variants] == ["line/1"]

    registry.register_model("line", package)
    registry.approve("line", 2)
    while auto.dispatch_pending():
        pass
    endpoint = any_backend.serving.get_endpoint("line-staging")
    targets = endpoint.deployment.target if endpoint.deployment else endpoint.variants
    assert [v.model for v in targets] == ["line/2"]
    assert [r.event["version"] for r in auto.rule_history("stage")] == [2, 1]
    assert auto.dispatch_pending() == []  # every (rule, event) ran once


def test_filters_templates_and_bad_rules(backend: Backend, package: Path, receiver: Hook) -> None:
    auto = backend.automation
    with pytest.raises(InvalidInput) as err:
        auto.create_rule("r", "model_version.exploded", Webhook(receiver.url))
    assert err.value.field == "event" and "model_version.registered" in err.value.message
    with pytest.raises(InvalidInput) as err:
        auto.create_rule("r", "model_version.registered", Webhook(receiver.url), filters=["group"])  # type: ignore[arg-type]
    assert err.value.field == "filters"
    auto.create_rule("other-group", "model_version.registered", Webhook(receiver.url), filters={"group": "other"})
    auto.create_rule("typo", "model_version.registered", MoveAlias("line", "staging", "{event.number}"))
    with pytest.raises(AlreadyExists):
        auto.create_rule("typo", "model_version.registered", Webhook(receiver.url))
    backend.registry.register_model("line", package)
    runs = auto.dispatch_pending()
    assert [(r.source_name, r.status) for r in runs] == [("typo", RunStatus.FAILED)]
    assert runs[0].error is not None and "no field 'number'" in runs[0].error and "version" in runs[0].error
    assert receiver.received == []
    assert [r.name for r in auto.list_rules()] == ["other-group", "typo"]
    auto.delete_rule("typo")
    with pytest.raises(NotFound):
        auto.rule_history("typo")


def test_events_before_a_rule_existed_do_not_trigger_it(backend: Backend, package: Path, receiver: Hook) -> None:
    backend.registry.register_model("line", package)
    backend.automation.create_rule("late", "model_version.registered", Webhook(receiver.url))
    assert backend.automation.dispatch_pending() == []


@pytest.fixture(scope="module")
def pool() -> Iterator[LocalExecutor]:
    executor = LocalExecutor(max_workers=1)
    yield executor
    executor.close()


def test_new_data_starts_a_pipeline_and_a_monitor_run(
    backend: Backend, pool: LocalExecutor, tmp_path: Path
) -> None:
    backend.__dict__["pipelines"] = PipelineService(
        backend.db, backend.artifacts, ServiceSpec(Backend, backend.settings), local_executor=pool
    )
    make = ProcessingStep("Make", lib.numbers, inputs={"n": Parameter("n", int, 3)}, outputs=["data"])
    backend.pipelines.register(Pipeline("retrain", [make]))
    data = tmp_path / "data.csv"
    data.write_text("x,y\n1,2\n3,4\n5,6\n7,8\n")
    backend.monitoring.create_baseline("ref", data)
    backend.monitoring.create_monitor("quality", baseline="ref")
    auto = backend.automation
    auto.create_rule("retrain-on-data", "dataset_version.registered",
                     StartPipeline("retrain", {"n": "{event.num_rows}"}), filters={"dataset": "sales"})
    auto.create_rule("check-on-data", "dataset_version.registered", RunMonitor("quality"))

    backend.datasets.register("sales", data)
    runs = {r.source_name: r for r in auto.dispatch_pending()}
    assert runs["retrain-on-data"].status is RunStatus.SUCCEEDED, runs["retrain-on-data"].error
    assert runs["check-on-data"].status is RunStatus.SUCCEEDED, runs["check-on-data"].error
    execution = backend.pipelines.wait(runs["retrain-on-data"].result["execution"], timeout=60)
    assert execution.parameters == {"n": 4}
    assert execution.step("Make").properties == {"count": 4}
    monitored = backend.monitoring.list_executions("quality")
    assert [e.id for e in monitored] == [runs["check-on-data"].result["execution"]]


def test_actions_act_as_the_rules_creator_with_their_roles(backend: Backend, package: Path) -> None:
    with acting_as(Principal("sam", frozenset({"scientist"}), source="test")):
        backend.automation.create_rule("stage", "model_version.registered",
                                       MoveAlias("{event.group}", "staging", "{event.version}"))
    backend.registry.register_model("line", package)
    [run] = backend.automation.dispatch_pending()
    assert run.status is RunStatus.SUCCEEDED and run.actor == "sam"
    with backend.db.read() as conn:
        moved = conn.execute(select(audit_events.c.actor, audit_events.c.source)
                             .where(audit_events.c.action == "model_version.alias")).one()
    assert tuple(moved) == ("sam", "rule:stage")
