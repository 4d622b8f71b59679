"""MLflow compatibility: what MLflow's client logs that Slipway's own domains do not model.

MLflow 3's logged models, the data sets and models a run read or made, the files behind the
``mlflow-artifacts:/`` URIs, and MLflow model folders registered as versions of Slipway model
groups (flavor ``mlflow``, governed like any other version). The REST face that speaks MLflow's
API is :mod:`slipway.server.mlflow`.
"""

from slipway.mlflow_compat._locations import Area, Location, logged_model_root, parse_location, run_root, version_root
from slipway.mlflow_compat._records import LinkKind, LoggedModel, LoggedModelStatus
from slipway.mlflow_compat._service import MAX_SEARCH_RESULTS, MlflowCompatService

__all__ = [
    "MAX_SEARCH_RESULTS",
    "Area",
    "LinkKind",
    "Location",
    "LoggedModel",
    "LoggedModelStatus",
    "MlflowCompatService",
    "logged_model_root",
    "parse_location",
    "run_root",
    "version_root",
]
