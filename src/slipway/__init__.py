"""Slipway: one package that carries a model through its whole life.

Embedded by default (SQLite and a local folder under ``./.slipway``); set ``SLIPWAY_SERVER_URL``
and the same calls go to a ``slipway server``.

Example:
    >>> import slipway
    >>> with slipway.start_run("abalone", name="ridge") as run:
    ...     slipway.log_param("alpha", 0.5)
    ...     slipway.log_metric("mse", 4.9)

The names below load on first use (PEP 562), not when the package is imported: every process that
runs a ``slipway.<module>`` (the CLI, a pipeline's worker, ``slipway serve``'s workers) imports this
package first, and most of them never touch the SDK's client, the tracking service or HTTP.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from slipway import _default_client
from slipway._version import __version__

if TYPE_CHECKING:
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

# Each public name and the module that defines it.
_HOMES = {
    "slipway._config": ("Settings", "load_settings"),
    "slipway._fluent": (
        "ActiveRun", "active_run", "end_run", "flush_async_logging", "get_client", "log_artifact", "log_metric",
        "log_metrics", "log_param", "log_params", "set_client", "set_tag", "start_run",
    ),
    "slipway._fluent_registry": ("load_model", "register_model"),
    "slipway.client": ("Client",),
    "slipway.errors": (
        "AlreadyExists", "Conflict", "InvalidInput", "NotFound", "PermissionDenied", "ServiceUnavailable",
        "SlipwayError",
    ),
    "slipway.tracking": ("Experiment", "Metric", "Run", "RunStatus"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use, and keep it here for the next."""
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'slipway' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME_OF})


def _sdk_default_client() -> Any:
    """The SDK face's default client (``slipway.get_client()``), for domains below the face (``Pipeline.run()``)."""
    return __getattr__("get_client")()


# Installed here, not when ``slipway._fluent`` loads: Python imports this package before any
# ``slipway.<domain>`` module runs, so a domain never finds the default client missing.
_default_client.install_provider(_sdk_default_client)

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
