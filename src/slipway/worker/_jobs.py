"""What a worker does with each kind of job a server queues (see :class:`slipway.store.JobQueue`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from slipway._backend import Backend

MONITOR_RUN = "monitor.run"  # what slipway.server queues for a monitor run over captured traffic


def _when(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


def run_monitor(backend: Backend, payload: dict[str, Any]) -> dict[str, Any]:
    """A monitor's run over its endpoint's captured traffic: the reading and computing of a check."""
    execution = backend.monitoring.run_monitor(payload["name"], start=_when(payload.get("start")),
                                               end=_when(payload.get("end")))
    return {"execution": execution.id}


HANDLERS: dict[str, Callable[[Backend, dict[str, Any]], Any]] = {MONITOR_RUN: run_monitor}
