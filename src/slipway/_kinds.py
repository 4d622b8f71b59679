"""The kinds of stored object, named once.

The same words name an object in the audit trail and the outbox (``object_kind``), in the lineage
graph (a node's ``kind``), as the owner of artifact files (``Owner(kind, id)``) and as the source of
an automation run. They are stored in those tables, so a value never changes once released; a new
kind of object adds a member here.

Members are strings (``ObjectKind.RUN == "run"``), so rows read back compare equal to them.

Example:
    >>> from slipway.store.artifacts import Owner
    >>> Owner(ObjectKind.RUN, "01j...").kind == "run"
    True
"""

from __future__ import annotations

from enum import StrEnum


class ObjectKind(StrEnum):
    """What a stored object is (see the module's docstring for where the words appear)."""

    EXPERIMENT = "experiment"
    RUN = "run"
    ARTIFACT = "artifact"
    DATASET = "dataset"
    DATASET_VERSION = "dataset_version"
    FEATURE_GROUP = "feature_group"
    PIPELINE = "pipeline"
    PIPELINE_VERSION = "pipeline_version"
    PIPELINE_EXECUTION = "pipeline_execution"
    STEP_EXECUTION = "step_execution"
    MODEL_GROUP = "model_group"
    MODEL_VERSION = "model_version"
    LOGGED_MODEL = "logged_model"
    ENDPOINT = "endpoint"
    ENDPOINT_VARIANT = "endpoint_variant"
    BASELINE = "monitoring_baseline"
    MONITOR = "monitor"
    MONITOR_EXECUTION = "monitor_execution"
    ALARM = "alarm"
    CLARIFY_REPORT = "clarify_report"
    SCHEDULE = "schedule"
    RULE = "rule"
    HOOK = "hook"
    USER = "user"
    TOKEN = "token"
    RETENTION = "retention"
    STORE = "store"
