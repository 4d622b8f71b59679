"""Operators for the model loop on a ``slipway server``: run a pipeline, register, approve, deploy, monitor.

Each takes ``slipway_conn_id`` (a connection of type ``slipway``; see :mod:`slipway.airflow.hooks`)
and returns what later tasks need through XCom: the execution id, the version number, the
endpoint and model deployed, the monitor execution. Their string fields are templated, so
``"{{ params.alpha }}"`` or ``"{{ ti.xcom_pull(task_ids='train', key='model_version') }}"`` work
where a value is expected; numbers that arrive as text are read as numbers. Slipway's errors
fail the task with an :class:`AirflowException` naming the Slipway object.

Example:
    >>> train = SlipwayPipelineOperator(task_id="train", pipeline="abalone",
    ...                                 parameters={"alpha": "{{ params.alpha }}"}, deferrable=True)  # doctest: +SKIP
    >>> approve = SlipwayApproveModelOperator(
    ...     task_id="approve", group="abalone",
    ...     version="{{ ti.xcom_pull(task_ids='train', key='model_version') }}")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from slipway.airflow.hooks import SlipwayHook, check_succeeded, has_ended, naming, registered_versions
from slipway.airflow.triggers import SlipwayPipelineTrigger
from slipway.errors import NotFound
from slipway.pipelines import PipelineExecution

APPROVER_CONN_ID = "slipway_approver"


def whole_number(value: Any, what: str) -> int:
    """A templated number (``"3"`` after rendering) as an int.

    Raises:
        AirflowException: naming ``what``, for anything else.
    """
    try:
        number = int(str(value).strip())
    except ValueError:
        raise AirflowException(f"{what} must be a whole number, not {value!r}") from None
    return number


def finish_execution(hook: SlipwayHook, execution: PipelineExecution, context: Context) -> str:
    """The end of a task that waited for an execution: fail unless it succeeded, publish what it registered.

    XCom: the return value is the execution's id; ``model_versions`` lists what its RegisterModel
    steps registered (``[{step, group, version}]``), and ``model_version`` is the version number
    when there is exactly one.
    """
    check_succeeded(execution, hook.server)
    versions = registered_versions(execution)
    context["ti"].xcom_push(key="model_versions", value=versions)
    context["ti"].xcom_push(key="model_version", value=versions[0]["version"] if len(versions) == 1 else None)
    hook.log.info("pipeline execution %s succeeded; registered %s", execution.id, versions or "nothing")
    return execution.id


class ExecutionResume:
    """``execute_complete`` of a task deferred on :class:`SlipwayPipelineTrigger`."""

    slipway_conn_id: str

    def execute_complete(self, context: Context, event: Mapping[str, Any]) -> str:
        hook = SlipwayHook(self.slipway_conn_id)
        if event["status"] == "error":
            raise AirflowException(f"pipeline execution {event['execution_id']} on {hook.server}: {event['message']}")
        return finish_execution(hook, hook.get_execution(event["execution_id"]), context)


class SlipwayPipelineOperator(ExecutionResume, BaseOperator):
    """Start an execution of a pipeline stored on the server, and wait for its end (or defer until it).

    Args:
        pipeline: the stored pipeline's name (``slipway pipelines register`` stores one).
        parameters: values of its parameters (templated; text is read as the declared type).
        version: the version to run; the newest by default.
        wait_for_completion: False returns once started (wait with
            :class:`~slipway.airflow.sensors.SlipwayPipelineSensor`).
        deferrable: wait in Airflow's triggerer instead of a worker slot.
        poll_interval: seconds between two looks at the execution.
        slipway_conn_id: the connection (a scientist's token may start pipelines).

    Returns (XCom): the execution's id; after waiting, also ``model_versions`` and ``model_version``.

    Raises:
        AirflowException: naming the pipeline (unknown, a bad parameter) or the execution (it
            failed, stopped or was interrupted, with the reason).
    """

    template_fields: Sequence[str] = ("pipeline", "parameters", "version")
    template_fields_renderers = {"parameters": "json"}
    ui_color = "#cfe8fc"

    def __init__(
        self,
        *,
        pipeline: str,
        parameters: Mapping[str, Any] | None = None,
        version: int | str | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = False,
        poll_interval: float = 10.0,
        slipway_conn_id: str = SlipwayHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pipeline = pipeline
        self.parameters = dict(parameters or {})
        self.version = version
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.slipway_conn_id = slipway_conn_id
        self.execution_id: str | None = None

    def execute(self, context: Context) -> str:
        hook = SlipwayHook(self.slipway_conn_id)
        version = None if self.version in (None, "") else whole_number(self.version, "version")
        execution = hook.start_pipeline(self.pipeline, self.parameters, version)
        self.execution_id = execution.id
        self.log.info(
            "started execution %s of %s v%s on %s", execution.id, execution.pipeline, execution.version, hook.server
        )
        if not self.wait_for_completion:
            return execution.id
        if self.deferrable:
            self.defer(
                trigger=SlipwayPipelineTrigger(execution.id, self.slipway_conn_id, self.poll_interval),
                method_name="execute_complete",
            )
        while not has_ended(execution):
            time.sleep(self.poll_interval)
            execution = hook.get_execution(execution.id)
        return finish_execution(hook, execution, context)

    def on_kill(self) -> None:
        """A task killed while it waits stops the execution it started."""
        if self.execution_id is not None:
            SlipwayHook(self.slipway_conn_id).stop_execution(self.execution_id)


class SlipwayRegisterModelOperator(BaseOperator):
    """Register a model as a new version of a group: a tracked run's model, or a package folder.

    Args:
        group: the model group (created if missing).
        run_id: a tracked run whose ``artifact_path`` holds a model package (a training step's run);
            the version records the run as its source.
        model_path: or a model package folder where the task runs.
        artifact_path: the run's folder holding the package.
        metrics: metric name -> number (text is read as a number).
        description, tags: as the registry takes them.

    Returns (XCom): the new version's number. It starts ``PendingManualApproval``.
    """

    template_fields: Sequence[str] = (
        "group", "run_id", "model_path", "artifact_path", "metrics", "description", "tags"
    )
    ui_color = "#d9f2d9"

    def __init__(
        self,
        *,
        group: str,
        run_id: str | None = None,
        model_path: str | None = None,
        artifact_path: str = "model",
        metrics: Mapping[str, Any] | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        slipway_conn_id: str = SlipwayHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (run_id is None) == (model_path is None):
            raise AirflowException(f"{kwargs.get('task_id')}: give run_id or model_path, one of the two")
        self.group = group
        self.run_id = run_id
        self.model_path = model_path
        self.artifact_path = artifact_path
        self.metrics = dict(metrics or {})
        self.description = description
        self.tags = dict(tags or {})
        self.slipway_conn_id = slipway_conn_id

    def execute(self, context: Context) -> int:
        hook = SlipwayHook(self.slipway_conn_id)
        client = hook.get_conn()
        metrics = {k: float(v) if isinstance(v, str) else v for k, v in self.metrics.items()}
        source = f"run {self.run_id}" if self.run_id else self.model_path
        with (
            naming(f"registering {source} in model group {self.group!r}", hook.server),
            tempfile.TemporaryDirectory(prefix="slipway-airflow-") as tmp,
        ):
            folder = self.model_path
            if self.run_id:
                folder = str(client.tracking.download_artifacts(self.run_id, self.artifact_path, tmp))
            version = client.registry.register_model(
                self.group,
                folder,
                metrics=metrics or None,
                description=self.description,
                tags=self.tags or None,
                source_run_id=self.run_id,
            )
        self.log.info("registered %s as %s/%s (%s)", source, version.group, version.version, version.status.value)
        return version.version


class SlipwayApproveModelOperator(BaseOperator):
    """Approve a model version: an approver's act, so by default through the ``slipway_approver`` connection.

    On a server that keeps separation of duties, the approver must not be who registered the
    version: give this operator a connection holding another person's approver token.

    Args:
        group: the model group.
        version: the version number (templated: often the XCom of the task that registered it).
        comment: why, kept in the version's status history and the audit trail.

    Returns (XCom): the version number.
    """

    template_fields: Sequence[str] = ("group", "version", "comment")
    ui_color = "#fff2cc"

    def __init__(
        self,
        *,
        group: str,
        version: int | str,
        comment: str | None = None,
        slipway_conn_id: str = APPROVER_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.group = group
        self.version = version
        self.comment = comment
        self.slipway_conn_id = slipway_conn_id

    def execute(self, context: Context) -> int:
        hook = SlipwayHook(self.slipway_conn_id)
        number = whole_number(self.version, f"the version of model group {self.group!r}")
        with naming(f"approving model version {self.group}/{number}", hook.server):
            approved = hook.get_conn().registry.approve(self.group, number, comment=self.comment)
        self.log.info("model version %s/%s is %s", approved.group, approved.version, approved.status.value)
        return approved.version


class SlipwayDeployModelOperator(BaseOperator):
    """Serve a model version on an endpoint: create it, or deploy to it with a strategy.

    Args:
        endpoint: the endpoint's name; created with this version as its only variant if missing.
        group, version: the model version (it must be Approved).
        strategy: how an existing endpoint moves to the version: ``all_at_once``, ``canary`` or
            ``linear``, or a dict ``{"kind", "share", "bake_seconds"}`` (see docs/serving.md).
        capture_percent: the share of requests to capture when the endpoint is created.
        production: create the endpoint as a production one (deploying to one needs an approver).

    Returns (XCom): ``{"endpoint", "model", "status", "deployment"}``: the model as
    ``GROUP/VERSION``, the endpoint's status, and the id of the deployment in progress (None
    once done or when the endpoint was created).
    """

    template_fields: Sequence[str] = ("endpoint", "group", "version", "strategy")
    ui_color = "#e6d9f2"

    def __init__(
        self,
        *,
        endpoint: str,
        group: str,
        version: int | str,
        strategy: str | Mapping[str, Any] = "all_at_once",
        capture_percent: float | None = None,
        production: bool = False,
        slipway_conn_id: str = SlipwayHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.endpoint = endpoint
        self.group = group
        self.version = version
        self.strategy = strategy
        self.capture_percent = capture_percent
        self.production = production
        self.slipway_conn_id = slipway_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        hook = SlipwayHook(self.slipway_conn_id)
        serving = hook.get_conn().serving
        model = f"{self.group}/{whole_number(self.version, f'the version of model group {self.group!r}')}"
        strategy = {"kind": self.strategy} if isinstance(self.strategy, str) else dict(self.strategy)
        with naming(f"deploying {model} to endpoint {self.endpoint!r}", hook.server):
            try:
                serving.get_endpoint(self.endpoint)
            except NotFound:
                capture = None if self.capture_percent is None else {"sampling_percent": self.capture_percent}
                served = serving.create_endpoint(
                    self.endpoint, [{"model": model}], capture=capture, production=self.production
                )
            else:
                served = serving.update_endpoint(self.endpoint, [{"model": model}], strategy=strategy)
        deployment = served.deployment.id if served.deployment is not None else None
        self.log.info("endpoint %s serves %s (%s)", served.name, model, served.status.value)
        return {"endpoint": served.name, "model": model, "status": served.status.value, "deployment": deployment}


class SlipwayRunMonitorOperator(BaseOperator):
    """Run a monitor once; fail the task when it finds violations.

    Args:
        monitor: the monitor's name.
        data: a CSV or Parquet file (where the task runs) to check; without it, a monitor of an
            endpoint checks the traffic it captured between ``start`` and ``end``.
        start, end: the window of captured traffic (ISO times, e.g. ``"{{ data_interval_start }}"``).
        fail_on_violations: False lets the task succeed and only report them.

    Returns (XCom): the monitor execution's id.

    Raises:
        AirflowFailException: when the execution found violations (retrying would find them
            again), naming the monitor, the execution and the first violations.
        AirflowException: when the monitor could not run (an unknown monitor, unreadable data).
    """

    template_fields: Sequence[str] = ("monitor", "data", "start", "end")
    ui_color = "#f9d9d9"

    def __init__(
        self,
        *,
        monitor: str,
        data: str | None = None,
        start: str | dt.datetime | None = None,
        end: str | dt.datetime | None = None,
        fail_on_violations: bool = True,
        slipway_conn_id: str = SlipwayHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.monitor = monitor
        self.data = data
        self.start = start
        self.end = end
        self.fail_on_violations = fail_on_violations
        self.slipway_conn_id = slipway_conn_id

    def execute(self, context: Context) -> str:
        from slipway.monitoring import VIOLATIONS_FILE  # brings pandas: only monitor tasks pay for it

        hook = SlipwayHook(self.slipway_conn_id)
        monitoring = hook.get_conn().monitoring
        with naming(f"monitor {self.monitor!r}", hook.server):
            run = monitoring.run_monitor(self.monitor, self.data or None, start=_time(self.start), end=_time(self.end))
            if run.status.value == "Failed":
                raise AirflowException(
                    f"monitor {self.monitor!r} on {hook.server}: execution {run.id} failed: {run.message}"
                )
            self.log.info("monitor %s: %s items, %s violations", run.monitor, run.item_count, run.violation_count)
            if run.violation_count and self.fail_on_violations:
                found = json.loads(monitoring.read_report(run.id, VIOLATIONS_FILE)).get("violations", [])
                listed = "; ".join(f"{v['feature_name']}: {v['description']}" for v in found[:5])
                raise AirflowFailException(
                    f"monitor {self.monitor!r} on {hook.server} found {run.violation_count} violations "
                    f"(execution {run.id}): {listed}"
                )
        return run.id


def _time(value: str | dt.datetime | None) -> dt.datetime | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
