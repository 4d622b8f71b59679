"""The model registry: groups of numbered versions with metrics, approval status and aliases.

Example:
    >>> import slipway
    >>> v = slipway.register_model("abalone", model, metrics={"mse": 4.9})
    >>> slipway.get_client().registry.approve("abalone", v.version, comment="beats the baseline")
    >>> slipway.get_client().registry.set_alias("abalone", "prod", v.version)
    >>> slipway.load_model("models:/abalone@prod").predict(X)
"""

from slipway._references import ModelUri, Selector
from slipway.registry._evaluate import evaluate_with_uncertainty
from slipway.registry._policy import APPROVER_ROLES, ApprovalPolicy
from slipway.registry._queries import MAX_SEARCH_RESULTS, RegistryReader
from slipway.registry._records import (
    AliasChange,
    ApprovalStatus,
    MetricValue,
    ModelGroup,
    ModelVersion,
    StatusChange,
    VersionComparison,
)
from slipway.registry._service import RegistryService
from slipway.registry._validation import MetricInput

__all__ = [
    "APPROVER_ROLES",
    "MAX_SEARCH_RESULTS",
    "AliasChange",
    "ApprovalPolicy",
    "ApprovalStatus",
    "MetricInput",
    "MetricValue",
    "ModelGroup",
    "ModelUri",
    "ModelVersion",
    "RegistryReader",
    "RegistryService",
    "Selector",
    "StatusChange",
    "VersionComparison",
    "evaluate_with_uncertainty",
]
