"""Pipelines: DAGs of typed steps with parameters, run locally or on Ray, cached, retried and resumable.

A pipeline is ordinary Python: steps are objects, and passing one step's output to another is
what makes the DAG. The same pipeline is a JSON definition, stored as numbered versions.

Example:
    >>> from slipway.pipelines import Parameter, Pipeline, ProcessingStep, TrainingStep
    >>> def split(ctx, raw, test_size: float):
    ...     ...  # write ctx.output("train") / "train.csv" and ctx.output("test") / "test.csv"
    >>> def fit(train, alpha: float):
    ...     ...  # return a fitted model
    >>> prep = ProcessingStep("Split", split, inputs={"raw": FileInput("abalone.csv"), "test_size": 0.2},
    ...                       outputs=["train", "test"])
    >>> train = TrainingStep("Train", fit, inputs={"train": prep.outputs["train"]},
    ...                      hyperparameters={"alpha": Parameter("alpha", float, 1.0)})
    >>> execution = Pipeline("abalone", [train]).run(parameters={"alpha": 0.5})  # doctest: +SKIP
    >>> execution.status  # doctest: +SKIP
    <ExecutionStatus.SUCCEEDED: 'Succeeded'>

See ``docs/pipelines.md`` for the step types, caching, retries, resume and the CLI, and
``docs/kubeflow.md`` for running a pipeline on Kubeflow Pipelines (:func:`kfp_pipeline_spec`).
"""

from slipway.pipelines._context import Services, ServiceSpec, StepContext
from slipway.pipelines._definition import Pipeline
from slipway.pipelines._executors import Executor, RayExecutor
from slipway.pipelines._expressions import (
    Condition,
    FileInput,
    Join,
    JsonGet,
    Operand,
    OutputRef,
    PropertyFile,
)
from slipway.pipelines._handle import ExecutionHandle, PipelinesApi
from slipway.pipelines._kfp_spec import kfp_pipeline_spec
from slipway.pipelines._kfp_step import PipelineFailed, run_exported_step
from slipway.pipelines._parameters import Parameter
from slipway.pipelines._pool import LocalExecutor
from slipway.pipelines._records import (
    CacheDifference,
    CacheExplanation,
    DefinitionChange,
    DefinitionDiff,
    ExecutionStatus,
    ExpiredExecution,
    OutputFile,
    PipelineExecution,
    PipelineSummary,
    PipelineVersion,
    StepArtifact,
    StepAttempt,
    StepExecution,
    StepStatus,
)
from slipway.pipelines._service import PipelineDefinition, PipelineName, PipelineService
from slipway.pipelines.steps import (
    BiasCheckStep,
    CachePolicy,
    Categorical,
    ClarifyCheckFailed,
    ConditionStep,
    CreateModelStep,
    ExplainabilityCheckStep,
    FailStep,
    FloatRange,
    HyperbandPruning,
    IntRange,
    MedianPruning,
    ProcessingStep,
    QualityCheckFailed,
    QualityCheckStep,
    RegisterModelStep,
    Resources,
    RetryPolicy,
    ScriptFailed,
    Step,
    TrainingResult,
    TrainingStep,
    TransformStep,
    TuningStep,
    WaitStep,
)

__all__ = [
    "CacheDifference",
    "CacheExplanation",
    "CachePolicy",
    "Categorical",
    "Condition",
    "ConditionStep",
    "CreateModelStep",
    "DefinitionChange",
    "DefinitionDiff",
    "ExecutionHandle",
    "ExecutionStatus",
    "ExpiredExecution",
    "OutputFile",
    "Executor",
    "FailStep",
    "ExplainabilityCheckStep",
    "FileInput",
    "FloatRange",
    "HyperbandPruning",
    "IntRange",
    "Join",
    "JsonGet",
    "LocalExecutor",
    "MedianPruning",
    "Operand",
    "OutputRef",
    "Parameter",
    "Pipeline",
    "PipelineDefinition",
    "PipelineExecution",
    "PipelineFailed",
    "PipelineName",
    "PipelineService",
    "PipelineSummary",
    "PipelineVersion",
    "PipelinesApi",
    "ProcessingStep",
    "PropertyFile",
    "RayExecutor",
    "QualityCheckFailed",
    "QualityCheckStep",
    "BiasCheckStep",
    "ClarifyCheckFailed",
    "RegisterModelStep",
    "Resources",
    "RetryPolicy",
    "ScriptFailed",
    "ServiceSpec",
    "Services",
    "Step",
    "StepArtifact",
    "StepAttempt",
    "StepContext",
    "StepExecution",
    "StepStatus",
    "TrainingResult",
    "TrainingStep",
    "TransformStep",
    "TuningStep",
    "WaitStep",
    "kfp_pipeline_spec",
    "run_exported_step",
]
