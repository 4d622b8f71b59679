"""Slipway: one package that carries a model through its whole life.

Embedded by default (SQLite and a local folder under ``./.slipway``); set ``SLIPWAY_SERVER_URL``
and the same calls go to a ``slipway server``.

Example:
    >>> import slipway
    >>> with slipway.start_run("abalone", name="ridge") as run:
    ...     slipway.log_param("alpha", 0.5)
    ...     slipway.log_metric("mse", 4.9)
"""

from slipway._config import Settings, load_settings
from slipway._fluent import (
    ActiveRun,
    active_run,
    end_run,
    flush_async_logging,
    get_client,
    log_artifact,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    set_client,
    set_tag,
    start_run,
)
from slipway._fluent_registry import load_model, register_model
from slipway._version import __version__
from slipway.client import Client
from slipway.errors import (
    AlreadyExists,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    SlipwayError,
)
from slipway.tracking import Experiment, Metric, Run, RunStatus

__all__ = [
    "ActiveRun",
    "AlreadyExists",
    "Client",
    "Conflict",
    "Experiment",
    "InvalidInput",
    "Metric",
    "NotFound",
    "PermissionDenied",
    "Run",
    "RunStatus",
    "ServiceUnavailable",
    "Settings",
    "SlipwayError",
    "__version__",
    "active_run",
    "end_run",
    "flush_async_logging",
    "get_client",
    "load_model",
    "load_settings",
    "log_artifact",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "register_model",
    "set_client",
    "set_tag",
    "start_run",
]
