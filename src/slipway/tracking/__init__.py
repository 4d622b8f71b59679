"""Experiment tracking: experiments, runs, params, metrics, tags, artifacts and run search."""

from slipway.tracking._records import (
    Experiment,
    LifecycleStage,
    Metric,
    Run,
    RunComparison,
    RunPage,
    RunStatus,
)
from slipway.tracking._service import DEFAULT_EXPERIMENT, TrackingService

__all__ = [
    "DEFAULT_EXPERIMENT",
    "Experiment",
    "LifecycleStage",
    "Metric",
    "Run",
    "RunComparison",
    "RunPage",
    "RunStatus",
    "TrackingService",
]
