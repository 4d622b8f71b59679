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

from slipway._config import Settings
from slipway._default_client import install_provider
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


install_provider(get_client)  # domains below the face (Pipeline.run()) reach the default client through it


def set_client(client: Client | Settings | None) -> None:
    """Replace the default client (None: build a new one from the settings on next use).

    This has a process-wide effect: every later ``start_run`` without ``client=`` uses it.
    """
    global _default_client
    with _default_lock:
        _default_client = Client(client) if isinstance(client, Settings) else client


class ActiveRun:
    """A run being recorded. Use as a context manager: it ends FINISHED, or FAILED on an exception."""

    def __init__(self, client: Client, run: Run) -> None:
        self.client = client
        self.id = run.id
        self.experiment_id = run.experiment_id
        self.name = run.name
        self._token: contextvars.Token[tuple[ActiveRun, ...]] | None = None

    @property
    def info(self) -> Run:
        """The run as stored now (params, latest metrics, tags, status)."""
        return self.client.tracking.get_run(self.id)

    def log_metric(self, key: str, value: float, step: int = 0) -> None:
        self.client.tracking.log_metric(self.id, key, value, step)

    def log_metrics(self, values: Mapping[str, float], step: int = 0) -> None:
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
) -> ActiveRun:
    """Start a run and make it the current one.

    Args:
        experiment: experiment name; created if it does not exist (``Default`` when None).
        name: run name; generated when None.
        tags: initial tags.
        nested: make it a child of the current run (an error if there is none).
        client: the client to use; the default client otherwise.

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
    active = ActiveRun(client, run)
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


def log_metric(key: str, value: float, step: int = 0) -> None:
    _current().log_metric(key, value, step)


def log_metrics(values: Mapping[str, float], step: int = 0) -> None:
    _current().log_metrics(values, step)


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
