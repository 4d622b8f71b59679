"""Checks of the Slipway provider inside a real Airflow 3, against a live ``slipway server``; prints JSON.

Run by tests/airflow/test_provider.py with the Python of the Airflow reference venv (Airflow's
pins clash with ours), Slipway of the checkout on its path and two connections in the
environment (``slipway_default``: a scientist; ``slipway_approver``: an approver):
``python _airflow_side.py CONFIG.json``. Each check calls an operator, sensor or trigger the way
Airflow's task runner does (``execute``, ``poke``, the trigger's ``run`` then ``execute_complete``),
with a stand-in for the task instance that records XCom pushes; the real DAG run is the other
test. The config names the data files and the monitor the test prepared.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from airflow.providers_manager import ProvidersManager
from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred

from slipway.airflow.hooks import SlipwayHook
from slipway.airflow.operators import (
    SlipwayApproveModelOperator,
    SlipwayDeployModelOperator,
    SlipwayPipelineOperator,
    SlipwayRegisterModelOperator,
    SlipwayRunMonitorOperator,
)
from slipway.airflow.sensors import SlipwayPipelineSensor


class TaskInstance:
    """What the operators use of Airflow's task instance: XCom pushes, recorded."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def context() -> dict[str, Any]:
    return {"ti": TaskInstance()}


def failure(call: Any) -> dict[str, Any]:
    """How ``call()`` failed: the exception's class and message."""
    try:
        call()
    except (AirflowException, AirflowFailException) as exc:
        return {"type": type(exc).__name__, "message": str(exc)}
    raise AssertionError(f"{call} did not fail")


def deferred(operator: Any, ctx: dict[str, Any]) -> Any:
    """Run a deferrable operator as Airflow does: execute until it defers, run the trigger, resume."""
    try:
        operator.execute(ctx)
    except TaskDeferred as deferral:
        trigger, method = deferral.trigger, deferral.method_name
    else:
        raise AssertionError(f"{operator} did not defer")

    async def first_event() -> Any:
        async for event in trigger.run():
            return event

    event = asyncio.run(first_event())
    return getattr(operator, method)(ctx, event.payload), trigger.serialize()


def main(config_path: str) -> None:
    with open(config_path) as handle:
        config = json.load(handle)
    out: dict[str, Any] = {}

    manager = ProvidersManager()
    provider = manager.providers["slipway-mlops"]  # by distribution name
    out["provider"] = {
        "version": provider.version,
        "hook": manager.hooks["slipway"].hook_class_name,
        "hook_name": manager.hooks["slipway"].hook_name,
        "behaviour": manager.field_behaviours.get("slipway"),
    }
    out["test_connection"] = SlipwayHook("slipway_default").test_connection()

    unknown = SlipwayPipelineOperator(task_id="t", pipeline="nothing")
    out["unknown_pipeline"] = failure(lambda: unknown.execute(context()))
    bad = SlipwayPipelineOperator(task_id="t", pipeline="abalone", parameters={"alpha": "much"})
    out["bad_parameter"] = failure(lambda: bad.execute(context()))
    failing = SlipwayPipelineOperator(
        task_id="t", pipeline="abalone", parameters={"mse_threshold": "0.5"}, poll_interval=0.5
    )
    out["failed_execution"] = failure(lambda: failing.execute(context()))
    out["sensor_on_failed"] = failure(
        lambda: SlipwayPipelineSensor(task_id="s", execution_id=failing.execution_id).poke(context())
    )

    ctx = context()
    result, trigger = deferred(
        SlipwayPipelineOperator(task_id="t", pipeline="abalone", deferrable=True, poll_interval=0.5), ctx
    )
    out["deferred"] = {"execution_id": result, "xcom": ctx["ti"].pushed, "trigger": trigger}
    ctx = context()
    poked = SlipwayPipelineSensor(task_id="s", execution_id=result).poke(ctx)
    out["sensor_on_succeeded"] = {"done": poked.is_done, "xcom_value": poked.xcom_value, "xcom": ctx["ti"].pushed}

    version = ctx["ti"].pushed["model_version"]
    out["approve_as_scientist"] = failure(
        lambda: SlipwayApproveModelOperator(
            task_id="a", group="abalone", version=str(version), slipway_conn_id="slipway_default"
        ).execute(context())
    )
    out["approved"] = SlipwayApproveModelOperator(task_id="a", group="abalone", version=str(version)).execute(context())

    registered = SlipwayRegisterModelOperator(
        task_id="r", group="abalone-copy", run_id=config["run_id"], metrics={"mse": "4.5"}
    ).execute(context())
    out["registered_from_run"] = registered
    SlipwayApproveModelOperator(task_id="a", group="abalone-copy", version=registered).execute(context())
    out["deploy_created"] = SlipwayDeployModelOperator(
        task_id="d", endpoint="side", group="abalone-copy", version=registered
    ).execute(context())
    out["deploy_canary"] = SlipwayDeployModelOperator(
        task_id="d", endpoint="side", group="abalone", version=str(version), strategy="canary"
    ).execute(context())
    pending = SlipwayRegisterModelOperator(task_id="r", group="abalone-copy", run_id=config["run_id"])
    pending_version = pending.execute(context())
    out["deploy_unapproved"] = failure(
        lambda: SlipwayDeployModelOperator(
            task_id="d", endpoint="side2", group="abalone-copy", version=pending_version
        ).execute(context())
    )

    out["monitor_clean"] = SlipwayRunMonitorOperator(
        task_id="m", monitor=config["monitor"], data=config["clean"]
    ).execute(context())
    out["monitor_drifted"] = failure(
        lambda: SlipwayRunMonitorOperator(task_id="m", monitor=config["monitor"], data=config["drifted"]).execute(
            context()
        )
    )
    out["monitor_unknown"] = failure(
        lambda: SlipwayRunMonitorOperator(task_id="m", monitor="nothing", data=config["clean"]).execute(context())
    )
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main(sys.argv[1])
