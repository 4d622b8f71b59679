"""Experiment tracking: experiments, runs, params, metrics, tags, artifacts and run search."""

from slipway.tracking._hierarchy import nest_runs
from slipway.tracking._records import (
    DatasetInput,
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
    "DatasetInput",
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
    "nest_runs",
]
