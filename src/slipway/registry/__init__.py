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
from slipway.registry._packaging import packaged, verified_package
from slipway.registry._policy import APPROVER_ROLES, ApprovalPolicy
from slipway.registry._queries import MAX_SEARCH_RESULTS, RegistryReader, version_owner
from slipway.registry._records import (
    AliasChange,
    ApprovalStatus,
    MetricValue,
    ModelGroup,
    ModelVersion,
    StatusChange,
    VersionComparison,
)
from slipway.registry._removal import VersionUsers
from slipway.registry._service import RegistryService
from slipway.registry._trust import effective_trust
from slipway.registry._validation import (
    AliasPath,
    GroupName,
    GroupPath,
    Metadata,
    MetricInput,
    Metrics,
    NewGroupName,
    StatusName,
    Tags,
    dump_metadata,
)

__all__ = [
    "APPROVER_ROLES",
    "AliasChange",
    "AliasPath",
    "ApprovalPolicy",
    "ApprovalStatus",
    "GroupName",
    "GroupPath",
    "MAX_SEARCH_RESULTS",
    "Metadata",
    "MetricInput",
    "MetricValue",
    "Metrics",
    "ModelGroup",
    "ModelUri",
    "ModelVersion",
    "NewGroupName",
    "RegistryReader",
    "RegistryService",
    "Selector",
    "StatusChange",
    "StatusName",
    "Tags",
    "VersionComparison",
    "VersionUsers",
    "dump_metadata",
    "effective_trust",
    "evaluate_with_uncertainty",
    "packaged",
    "verified_package",
    "version_owner",
]
