"""The step types of a pipeline, and the table that rebuilds them from a stored definition."""

from slipway.pipelines.steps._base import TIMEOUT_ERROR, CachePolicy, Resources, RetryPolicy, Step, check_name
from slipway.pipelines.steps._clarify import BiasCheckStep, ClarifyCheckFailed, ExplainabilityCheckStep
from slipway.pipelines.steps._control import ConditionStep, FailStep, WaitStep
from slipway.pipelines.steps._fitting import MODEL_OUTPUT, TrainingResult
from slipway.pipelines.steps._models import MODEL_URI, CreateModelStep, RegisterModelStep, TransformStep
from slipway.pipelines.steps._processing import ProcessingStep, ScriptFailed
from slipway.pipelines.steps._quality import QualityCheckFailed, QualityCheckStep
from slipway.pipelines.steps._training import TrainingStep
from slipway.pipelines.steps._tuning import (
    Categorical,
    FloatRange,
    HyperbandPruning,
    IntRange,
    MedianPruning,
    TuningStep,
)

STEP_TYPES: dict[str, type[Step]] = {
    cls.type_name: cls
    for cls in (
        ProcessingStep,
        TrainingStep,
        TuningStep,
        ConditionStep,
        FailStep,
        WaitStep,
        RegisterModelStep,
        CreateModelStep,
        TransformStep,
        QualityCheckStep,
        BiasCheckStep,
        ExplainabilityCheckStep,
    )
}

__all__ = [
    "MODEL_URI",
    "MODEL_OUTPUT",
    "STEP_TYPES",
    "TIMEOUT_ERROR",
    "BiasCheckStep",
    "CachePolicy",
    "Categorical",
    "ClarifyCheckFailed",
    "ConditionStep",
    "CreateModelStep",
    "ExplainabilityCheckStep",
    "FailStep",
    "FloatRange",
    "HyperbandPruning",
    "IntRange",
    "MedianPruning",
    "ProcessingStep",
    "QualityCheckFailed",
    "QualityCheckStep",
    "RegisterModelStep",
    "Resources",
    "RetryPolicy",
    "ScriptFailed",
    "Step",
    "TrainingResult",
    "TrainingStep",
    "TransformStep",
    "TuningStep",
    "WaitStep",
    "check_name",
]
