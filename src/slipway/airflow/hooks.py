"""The Slipway hook: an Airflow connection to a ``slipway server``, and the calls operators make through it.

A connection of type ``slipway`` holds the server's URL (``host``, e.g. ``http://slipway:5000``)
and an API token (``password``); the hook turns it into Slipway's own remote client,
:class:`slipway.Client`, so every call is the one the SDK makes, with the same errors. Those
errors become :class:`AirflowException` naming the Slipway object and the server.

Connections come from wherever Airflow keeps them; from the environment, for example::

    AIRFLOW_CONN_SLIPWAY_DEFAULT='{"conn_type": "slipway", "host": "http://slipway:5000", "password": "slw_..."}'
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowException

from slipway.airflow import CONNECTION_TYPE
from slipway.client import Client
from slipway.errors import SlipwayError
from slipway.pipelines import Parameter, PipelineExecution

REGISTER_STEP = "RegisterModel"


def client_of(connection: Any) -> Client:
    """A remote client of the server a ``slipway`` connection names.

    Raises:
        AirflowException: naming the connection, when it has no URL.
    """
    host = (connection.host or "").strip()
    if not host:
        raise AirflowException(f"the Slipway connection {connection.conn_id!r} has no server URL (its host)")
    if "://" not in host:
        scheme = connection.schema or "http"
        host = f"{scheme}://{host}" + (f":{connection.port}" if connection.port else "")
    return Client(server_url=host, token=connection.password or None)


@contextlib.contextmanager
def naming(what: str, server: str) -> Iterator[None]:
    """Turn a Slipway error inside the block into an AirflowException that names ``what`` and the server."""
    try:
        yield
    except SlipwayError as exc:
        raise AirflowException(f"{what} on {server}: {exc.message}") from exc


class SlipwayHook(BaseHook):
    """A ``slipway server`` reached through an Airflow connection of type ``slipway``.

    Args:
        slipway_conn_id: the connection: the server's URL as its host, an API token as its password.
            Approving needs an approver's token: give those operators a second connection.

    Example:
        >>> hook = SlipwayHook("slipway_default")  # doctest: +SKIP
        >>> hook.get_conn().registry.get_version("abalone", 3).status  # doctest: +SKIP
    """

    conn_name_attr = "slipway_conn_id"
    default_conn_name = "slipway_default"
    conn_type = CONNECTION_TYPE
    hook_name = "Slipway"

    def __init__(self, slipway_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.slipway_conn_id = slipway_conn_id

    @functools.cached_property
    def client(self) -> Client:
        return client_of(self.get_connection(self.slipway_conn_id))

    def get_conn(self) -> Client:
        """Slipway's remote client for this connection (one per hook)."""
        return self.client

    @property
    def server(self) -> str:
        return self.client.settings.server_url or "?"

    def test_connection(self) -> tuple[bool, str]:
        """Airflow's connection test: who the server says the token belongs to."""
        try:
            me = self.client.security.whoami()
        except SlipwayError as exc:
            return False, exc.message
        return True, f"connected to {self.server} as {me.name} ({', '.join(me.roles)})"

    # -- pipelines -----------------------------------------------------------------------------------

    def start_pipeline(
        self, pipeline: str, parameters: Mapping[str, Any] | None = None, version: int | None = None
    ) -> PipelineExecution:
        """Start an execution of a stored pipeline, parameters typed as the pipeline declares them.

        Templated values arrive as text (``"{{ params.alpha }}"`` renders ``"0.5"``): a text value
        of a parameter declared ``float``, ``int`` or ``bool`` is read as that type.
        """
        which = f"pipeline {pipeline!r}" + (f" version {version}" if version else "")
        with naming(which, self.server):
            stored = self.client.pipelines.get_version(pipeline, version)
            declared = {p["name"]: Parameter.from_declaration(p) for p in stored.definition.get("parameters", ())}
            typed = {
                name: declared[name].parse(value) if isinstance(value, str) and name in declared else value
                for name, value in (parameters or {}).items()
            }
            return self.client.pipelines.start(pipeline, parameters=typed, version=version)

    def get_execution(self, execution_id: str) -> PipelineExecution:
        with naming(f"pipeline execution {execution_id}", self.server):
            return self.client.pipelines.get_execution(execution_id)

    def stop_execution(self, execution_id: str) -> None:
        with naming(f"pipeline execution {execution_id}", self.server):
            self.client.pipelines.stop(execution_id)


def has_ended(execution: PipelineExecution) -> bool:
    """Whether an execution is over: succeeded, failed, stopped, or interrupted (its orchestrator died)."""
    return execution.status.terminal or execution.status.value == "Interrupted"


def registered_versions(execution: PipelineExecution) -> list[dict[str, Any]]:
    """The model versions an execution's RegisterModel steps registered: ``[{step, group, version}]``."""
    return [
        {"step": s.step_name, "group": s.properties["group"], "version": s.properties["version"]}
        for s in execution.steps
        if s.step_type == REGISTER_STEP and s.status.value == "Succeeded" and s.properties
    ]


def check_succeeded(execution: PipelineExecution, server: str) -> None:
    """Fail the task, naming the execution and why, unless the execution succeeded.

    Raises:
        AirflowException: for an execution that failed, stopped or was interrupted.
    """
    if execution.status.value != "Succeeded":
        reason = f": {execution.failure_reason}" if execution.failure_reason else ""
        raise AirflowException(
            f"pipeline execution {execution.id} of {execution.pipeline!r} v{execution.version} on {server} "
            f"ended {execution.status.value}{reason}"
        )
