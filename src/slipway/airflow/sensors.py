"""A sensor that waits for a pipeline execution on a ``slipway server`` to end.

Pair it with ``SlipwayPipelineOperator(wait_for_completion=False)`` to start an execution in one
task and wait for it in another, in poke or reschedule mode, or deferred on the triggerer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue

from slipway.airflow.hooks import SlipwayHook, has_ended
from slipway.airflow.operators import ExecutionResume, finish_execution
from slipway.airflow.triggers import SlipwayPipelineTrigger


class SlipwayPipelineSensor(ExecutionResume, BaseSensorOperator):
    """Wait until a pipeline execution has ended; fail if it did not succeed.

    Args:
        execution_id: the execution (templated: often the XCom of the task that started it).
        deferrable: wait in Airflow's triggerer instead of a worker slot.
        slipway_conn_id: the connection (a viewer's token is enough).
        **kwargs: the sensor's own (``poke_interval``, ``timeout``, ``mode``).

    Returns (XCom): the execution's id, with ``model_versions`` and ``model_version`` as
    :class:`~slipway.airflow.operators.SlipwayPipelineOperator` publishes them.

    Raises:
        AirflowException: naming the execution, when it failed, stopped or was interrupted.
    """

    template_fields: Sequence[str] = ("execution_id",)
    ui_color = "#cfe8fc"

    def __init__(
        self,
        *,
        execution_id: str,
        deferrable: bool = False,
        slipway_conn_id: str = SlipwayHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.execution_id = execution_id
        self.deferrable = deferrable
        self.slipway_conn_id = slipway_conn_id

    def execute(self, context: Context) -> Any:
        if self.deferrable:
            self.defer(
                trigger=SlipwayPipelineTrigger(self.execution_id, self.slipway_conn_id, float(self.poke_interval)),
                method_name="execute_complete",
            )
        return super().execute(context)

    def poke(self, context: Context) -> PokeReturnValue:
        hook = SlipwayHook(self.slipway_conn_id)
        execution = hook.get_execution(self.execution_id)
        if not has_ended(execution):
            self.log.info("pipeline execution %s is %s", execution.id, execution.status.value)
            return PokeReturnValue(False)
        return PokeReturnValue(True, finish_execution(hook, execution, context))
