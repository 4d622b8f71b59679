"""MLflow compatibility: what MLflow's client logs that Slipway's own domains do not model.

MLflow 3's logged models, the data sets and models a run read or made, the files behind the
``mlflow-artifacts:/`` URIs, and MLflow model folders registered as versions of Slipway model
groups (flavor ``mlflow``, governed like any other version), and MLflow's stages played by
aliases. The REST face that speaks MLflow's
API is :mod:`slipway.server.mlflow`.
"""

from slipway.mlflow_compat._locations import Area, Location, logged_model_root, parse_location, run_root, version_root
from slipway.mlflow_compat._records import LinkKind, LoggedModel, LoggedModelStatus
from slipway.mlflow_compat._service import MAX_SEARCH_RESULTS, MlflowCompatService
from slipway.mlflow_compat._stages import STAGES, latest_per_stage, parse_stage, stage_of

__all__ = [
    "MAX_SEARCH_RESULTS",
    "STAGES",
    "Area",
    "LinkKind",
    "Location",
    "LoggedModel",
    "LoggedModelStatus",
    "MlflowCompatService",
    "latest_per_stage",
    "logged_model_root",
    "parse_location",
    "parse_stage",
    "run_root",
    "stage_of",
    "version_root",
]
