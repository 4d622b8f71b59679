"""Slipway's Airflow provider: run the model loop from Airflow DAGs against a ``slipway server``.

Airflow finds it through the ``apache_airflow_provider`` entry point (``pip install
'slipway-mlops[airflow]'``, in the environment Airflow runs in), which points at
:func:`get_provider_info`. The parts live where Airflow users look for them:

- :mod:`slipway.airflow.hooks`: :class:`~slipway.airflow.hooks.SlipwayHook`, a connection of type
  ``slipway`` (the server's URL and an API token) giving a remote :class:`slipway.Client`;
- :mod:`slipway.airflow.operators`: start a pipeline execution (waiting, or deferred), register,
  approve and deploy a model version, run a monitor;
- :mod:`slipway.airflow.sensors`: wait for a pipeline execution;
- :mod:`slipway.airflow.triggers`: the trigger deferred tasks wait on.

Importing this package imports nothing of Airflow: Airflow reads the provider's description
before it imports any hook. See ``docs/airflow.md`` and ``examples/airflow/abalone_dag.py``.
"""

from __future__ import annotations

from typing import Any

from slipway._version import DISTRIBUTION, __version__

CONNECTION_TYPE = "slipway"
INTEGRATION = "Slipway"

__all__ = ["CONNECTION_TYPE", "get_provider_info"]


def get_provider_info() -> dict[str, Any]:
    """What Airflow's providers manager reads: the hook, operators, sensors, triggers and connection form."""
    modules = {kind: [f"slipway.airflow.{kind}"] for kind in ("hooks", "operators", "sensors", "triggers")}
    return {
        "package-name": DISTRIBUTION,
        "name": "Slipway",
        "description": "Start and follow Slipway pipeline executions, register, approve and deploy model "
        "versions and run monitors on a slipway server.",
        "versions": [__version__],
        "integrations": [{"integration-name": INTEGRATION, "tags": ["software"]}],
        **{
            kind: [{"integration-name": INTEGRATION, "python-modules": python_modules}]
            for kind, python_modules in modules.items()
        },
        "connection-types": [
            {
                "connection-type": CONNECTION_TYPE,
                "hook-class-name": "slipway.airflow.hooks.SlipwayHook",
                "hook-name": "Slipway",
                # The form: the server's URL and a token; the other fields mean nothing to Slipway.
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "login", "port", "extra"],
                    "relabeling": {"host": "Server URL", "password": "API token"},
                    "placeholders": {"host": "http://slipway.internal:5000", "password": "slw_..."},
                },
            }
        ],
    }
