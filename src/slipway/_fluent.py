"""The ``with slipway.start_run():`` API: a current run per context, on top of a Client.

The active run lives in a ``contextvars.ContextVar``, so threads and asyncio tasks each see their
own, and nothing leaks between them. The module-level functions log to the innermost active run.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from slipway._async_logging import MetricQueue
from slipway._config import Settings
from slipway.client import Client
from slipway.errors import InvalidInput
from slipway.store.artifacts import ArtifactInfo
from slipway.tracking import Run, RunStatus

_active: contextvars.ContextVar[tuple[ActiveRun, ...]] = contextvars.ContextVar("slipway_active_runs", default=())
_default_client: Client | None = None
_default_lock = threading.Lock()


def get_client() -> Client:
    """The process's default client, built from the settings on first use."""
    global _default_client
    with _default_lock:
        if _default_client is None:
            _default_client = Client()
        return _default_client



def set_client(client: Client | Settings | None) -> None:
    """Replace the default client (None: build a new one from the settings on next use).

    This has a process-wide effect: every later ``start_run`` without ``client=`` uses it.
    """
    global _default_client
    with _default_lock:
        _default_client = Client(client) if isinstance(client, Settings) else client


class ActiveRun:
    """A run being recorded. Use as a context manager: it ends FINISHED, or FAILED on an exception.

    ``async_logging=True`` makes ``log_metric``/``log_metrics`` asynchronous by default (a call may
    still pass ``synchronous=True``); see :mod:`slipway._async_logging` for what may be lost.
    """

    def __init__(self, client: Client, run: Run, *, async_logging: bool = False) -> None:
        self.client = client
        self.id = run.id
        self.experiment_id = run.experiment_id
        self.name = run.name
        self.async_logging = async_logging
        self._queue: MetricQueue | None = None
        self._token: contextvars.Token[tuple[ActiveRun, ...]] | None = None

    def _metrics_queue(self, synchronous: bool | None) -> MetricQueue | None:
        if synchronous if synchronous is not None else not self.async_logging:
            return None
        if self._queue is None:
            self._queue = MetricQueue(self.client.tracking.log_batch, self.id)
        return self._queue

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every metric point logged asynchronously so far is stored (acknowledged).

        Raises the first error a background write met; those points are lost.
        """
        if self._queue is not None:
            self._queue.flush(timeout)

    @property
    def info(self) -> Run:
        """The run as stored now (params, latest metrics, tags, status)."""
        return self.client.tracking.get_run(self.id)

    def log_metric(self, key: str, value: float, step: int = 0, *, synchronous: bool | None = None) -> None:
        """Log one point; ``synchronous=False`` queues it and returns at once (see :meth:`flush`)."""
        queue = self._metrics_queue(synchronous)
        if queue is not None:
            queue.put(key, value, step)
            return
        self.client.tracking.log_metric(self.id, key, value, step)

    def log_metrics(self, values: Mapping[str, float], step: int = 0, *, synchronous: bool | None = None) -> None:
        queue = self._metrics_queue(synchronous)
        if queue is not None:
            queue.put_checked(list(values.items()), step)
            return
        self.client.tracking.log_batch(
            self.id, metrics=[{"key": k, "value": v, "step": step} for k, v in values.items()]
        )

    def log_param(self, key: str, value: Any) -> None:
        self.client.tracking.log_param(self.id, key, value)

    def log_params(self, values: Mapping[str, Any]) -> None:
        self.client.tracking.log_batch(self.id, params=values)

    def set_tag(self, key: str, value: Any) -> None:
        self.client.tracking.set_tag(self.id, key, value)

    def set_tags(self, values: Mapping[str, Any]) -> None:
        self.client.tracking.log_batch(self.id, tags=values)

    def log_artifact(self, local_path: str | Path, artifact_path: str | None = None) -> list[ArtifactInfo]:
        """Store a file or a folder under the run."""
        return self.client.tracking.log_artifact(self.id, local_path, artifact_path)

    def log_text(self, text: str, artifact_path: str) -> ArtifactInfo:
        return self.client.tracking.log_bytes(self.id, text.encode(), artifact_path)

    def end(self, status: RunStatus | str = RunStatus.FINISHED) -> None:
        """Flush asynchronously logged points, then end the run (even if the flush failed)."""
        queue, self._queue = self._queue, None
        try:
            if queue is not None:
                queue.close()
        finally:
            self.client.tracking.end_run(self.id, status)
        if self._token is not None:
            _active.reset(self._token)
            self._token = None

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        self.end(status)

    def __repr__(self) -> str:
        return f"ActiveRun(id={self.id!r}, name={self.name!r})"


def start_run(
    experiment: str | None = None,
    *,
    name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    nested: bool = False,
    client: Client | None = None,
    async_logging: bool | None = None,
) -> ActiveRun:
    """Start a run and make it the current one.

    Args:
        experiment: experiment name; created if it does not exist (``Default`` when None).
        name: run name; generated when None.
        tags: initial tags.
        nested: make it a child of the current run (an error if there is none).
        client: the client to use; the default client otherwise.
        async_logging: log metrics asynchronously by default (``log_metric`` returns before the
            point is stored; the run's end, ``flush()`` and the interpreter's exit write what is
            queued; only points not yet flushed can be lost). None: the ``async_logging`` setting
            (``SLIPWAY_ASYNC_LOGGING``), off by default.

    Example:
        >>> import slipway
        >>> with slipway.start_run("demo", name="baseline") as run:
        ...     slipway.log_param("alpha", 0.1)
        ...     slipway.log_metric("mse", 4.2)
    """
    stack = _active.get()
    parent = stack[-1] if stack else None
    if nested and parent is None:
        raise InvalidInput("nested=True needs an active run to nest under", field="nested")
    if parent is not None and not nested:
        raise InvalidInput(f"run {parent.id} is already active: end it first, or pass nested=True", field="nested")
    client = client or (parent.client if parent else get_client())
    exp_id = client.tracking.get_or_create_experiment(experiment).id if experiment else None
    run = client.tracking.create_run(
        exp_id,
        name=name,
        tags={k: str(v) for k, v in (tags or {}).items()},
        parent_run_id=parent.id if parent else None,
    )
    if async_logging is None:
        async_logging = client.settings.async_logging
    active = ActiveRun(client, run, async_logging=async_logging)
    active._token = _active.set((*stack, active))
    return active


def active_run() -> ActiveRun | None:
    stack = _active.get()
    return stack[-1] if stack else None


def _current() -> ActiveRun:
    run = active_run()
    if run is None:
        raise InvalidInput("no active run: call slipway.start_run() first")
    return run


def log_metric(key: str, value: float, step: int = 0, *, synchronous: bool | None = None) -> None:
    """Log to the current run; ``synchronous=False``: queue it and return (MLflow's parameter)."""
    _current().log_metric(key, value, step, synchronous=synchronous)


def log_metrics(values: Mapping[str, float], step: int = 0, *, synchronous: bool | None = None) -> None:
    _current().log_metrics(values, step, synchronous=synchronous)


def flush_async_logging() -> None:
    """Wait until the current run's asynchronously logged metrics are stored."""
    _current().flush()


def log_param(key: str, value: Any) -> None:
    _current().log_param(key, value)


def log_params(values: Mapping[str, Any]) -> None:
    _current().log_params(values)


def set_tag(key: str, value: Any) -> None:
    _current().set_tag(key, value)


def log_artifact(local_path: str | Path, artifact_path: str | None = None) -> list[ArtifactInfo]:
    return _current().log_artifact(local_path, artifact_path)


def end_run(status: RunStatus | str = RunStatus.FINISHED) -> None:
    _current().end(status)
