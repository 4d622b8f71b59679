"""Object kinds (slipway._kinds): the words stored in the audit trail, the outbox, lineage and artifacts."""

from __future__ import annotations

import pytest

from slipway._kinds import ObjectKind
from slipway.events._tables import audit_events, events
from slipway.lineage._tables import lineage_edges, lineage_nodes
from slipway.store.artifacts._tables import artifacts

# What the tables already hold: a released word never changes (rows written by older versions
# must still read back as the same kind).
RELEASED = {
    "EXPERIMENT": "experiment", "RUN": "run", "ARTIFACT": "artifact", "DATASET": "dataset",
    "DATASET_VERSION": "dataset_version", "FEATURE_GROUP": "feature_group", "PIPELINE": "pipeline",
    "PIPELINE_VERSION": "pipeline_version", "PIPELINE_EXECUTION": "pipeline_execution",
    "STEP_EXECUTION": "step_execution", "MODEL_GROUP": "model_group", "MODEL_VERSION": "model_version",
    "LOGGED_MODEL": "logged_model", "ENDPOINT": "endpoint", "ENDPOINT_VARIANT": "endpoint_variant",
    "BASELINE": "monitoring_baseline", "MONITOR": "monitor", "MONITOR_EXECUTION": "monitor_execution",
    "ALARM": "alarm", "CLARIFY_REPORT": "clarify_report", "SCHEDULE": "schedule", "RULE": "rule", "HOOK": "hook",
    "USER": "user", "TOKEN": "token",
    "RETENTION": "retention", "STORE": "store",
}


def test_released_kinds_keep_their_words() -> None:
    assert {k.name: k.value for k in ObjectKind if k.name in RELEASED} == RELEASED


@pytest.mark.parametrize(
    "column",
    [events.c.object_kind, audit_events.c.object_kind, lineage_nodes.c.kind, lineage_edges.c.src_kind,
     artifacts.c.owner_kind],
)
def test_every_kind_fits_the_columns_that_store_it(column: object) -> None:
    width = column.type.length  # type: ignore[attr-defined]
    assert max(len(k) for k in ObjectKind) <= width


def test_a_kind_is_the_word_it_stores() -> None:
    assert ObjectKind.RUN == "run" and f"{ObjectKind.MODEL_VERSION}" == "model_version"
    assert ObjectKind("monitoring_baseline") is ObjectKind.BASELINE
