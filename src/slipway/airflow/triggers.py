"""The trigger deferred Slipway tasks wait on: a pipeline execution's end, watched from Airflow's triggerer.

A deferred task gives up its worker slot; the triggerer runs :meth:`SlipwayPipelineTrigger.run`,
which asks the server every ``poll_interval`` seconds (the client's blocking call runs in a
thread, so the triggerer's event loop stays free) and fires one event when the execution ends.
The task then resumes in ``execute_complete`` with that event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from slipway.airflow.hooks import SlipwayHook, client_of, has_ended
from slipway.errors import SlipwayError


class SlipwayPipelineTrigger(BaseTrigger):
    """Fires when a pipeline execution has ended, with ``{"execution_id", "status", "message"}``.

    ``status`` is the execution's final status, or ``error`` when the server could not be asked.
    """

    def __init__(self, execution_id: str, slipway_conn_id: str, poll_interval: float = 10.0) -> None:
        super().__init__()
        self.execution_id = execution_id
        self.slipway_conn_id = slipway_conn_id
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "execution_id": self.execution_id,
                "slipway_conn_id": self.slipway_conn_id,
                "poll_interval": self.poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        event = {"execution_id": self.execution_id}
        try:
            connection = await SlipwayHook.aget_connection(self.slipway_conn_id)
            client = await asyncio.to_thread(client_of, connection)
            try:
                while True:
                    execution = await asyncio.to_thread(client.pipelines.get_execution, self.execution_id)
                    if has_ended(execution):
                        yield TriggerEvent({**event, "status": execution.status.value, "message": None})
                        return
                    await asyncio.sleep(self.poll_interval)
            finally:
                client.close()
        except SlipwayError as exc:
            yield TriggerEvent({**event, "status": "error", "message": exc.message})
