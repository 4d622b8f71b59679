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
from slipway.tracking._service import DEFAULT_EXPERIMENT, MAX_SEARCH_RESULTS, MaxResults, RunIds, TrackingService

__all__ = [
    "DEFAULT_EXPERIMENT",
    "Experiment",
    "LifecycleStage",
    "MAX_SEARCH_RESULTS",
    "MaxResults",
    "Metric",
    "Run",
    "RunComparison",
    "RunIds",
    "RunPage",
    "RunStatus",
    "TrackingService",
]
