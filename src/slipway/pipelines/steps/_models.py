"""Model steps: RegisterModel (into the registry), CreateModel (a deployable package), Transform (batch inference).

Each takes a model package folder, the ``model`` output of a training or tuning step, by reference.
``slipway.models`` and the registry bring pandas and the model frameworks, so they are imported
when such a step runs in a worker, not when a pipeline is defined.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from slipway.errors import InvalidInput
from slipway.pipelines._context import StepOutcome, WorkContext
from slipway.pipelines.steps._base import Step
from slipway.pipelines.steps._fitting import MODEL_OUTPUT
from slipway.pipelines.steps._settings import Setting, listed

PREDICTIONS_OUTPUT = "predictions"
# The registry's approval statuses (slipway.registry.ApprovalStatus, which brings pandas with it);
# a test keeps the two lists equal.
APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")
MODEL_URI = "models:/"  # a registered version, loaded through the registry (the registry's URI scheme)
_FORMATS = ("csv", "parquet")
_COLUMNS = Setting(list, items=str)


def _trusted_json(trusted: bool | Iterable[str]) -> bool | list[str]:
    return trusted if isinstance(trusted, bool) else sorted(trusted)


def _load_model(ctx: WorkContext, model: Any, trusted: bool | list[str]) -> Any:
    """A model package folder (a step output), or a registered version named ``models:/GROUP/VERSION``.

    A registered version an admin marked trusted loads whatever its format; a server never lets a
    definition say ``trusted`` (see :mod:`slipway.pipelines._admission`), so there the mark is all.
    """
    from slipway.models import load_model

    if isinstance(model, str) and model.startswith(MODEL_URI):
        return ctx.services.registry.load_model(model, trusted=trusted)
    return load_model(model, trusted=trusted)


class RegisterModelStep(Step):
    """Register a model package as a new version of a model group, pending approval by default.

    The version records this step execution as its source (lineage: step execution →
    registered as → model version). Registering is an effect wanted on every run, so this step
    is never served from the cache.

    Args:
        name: the step's name.
        model: the model package folder (``train.outputs["model"]``).
        group: the model group (created if missing); a string or a parameter.
        approval_status: ``PendingManualApproval`` (the default), ``Approved`` or ``Rejected``; a
            literal, a parameter (``Parameter("ModelApprovalStatus", str, "PendingManualApproval")``,
            the cloud stack's pattern) or a value read from an earlier step.
        metrics: metric name -> number or operand (e.g. a :class:`~slipway.pipelines.JsonGet`).
        metadata: a JSON object stored with the version; may hold operands.
        version_description: what this version is, shown in the registry.
        tags: string key/values.

    Example:
        >>> register = RegisterModelStep(
        ...     "Register", model=train.outputs["model"], group="abalone",
        ...     metrics={"mse": JsonGet(evaluate, report, "regression_metrics.mse.value")},
        ... )  # doctest: +SKIP
    """

    type_name = "RegisterModel"
    cacheable = False
    path_arguments = ("model",)
    encoded = ("model", "group", "metrics", "metadata", "version_description", "tags")
    settings = {"approval_status": Setting(str, choices=APPROVAL_STATUSES)}

    def __init__(
        self,
        name: str,
        *,
        model: Any,
        group: Any,
        approval_status: Any = "PendingManualApproval",
        metrics: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        version_description: Any = None,
        tags: Mapping[str, Any] | None = None,
        **common: Any,
    ) -> None:
        super().__init__(name, **common)
        self.model = model
        self.group = group
        self.approval_status = approval_status
        self.metrics = dict(metrics or {})
        self.metadata = dict(metadata or {})
        self.version_description = version_description
        self.tags = dict(tags or {})

    def run(self, ctx: WorkContext) -> StepOutcome:
        from slipway.registry import ApprovalStatus  # registry brings pandas: a worker imports it on first use

        args = ctx.args
        folder = ctx.localize(args["model"], "model")
        registry = ctx.services.registry
        # Lineage names the step execution only when Slipway's store holds it.
        source = ctx.info.step_execution_id if ctx.info.orchestrator == "slipway" else None
        version = registry.register_model(
            str(args["group"]),
            folder,
            metrics=args["metrics"] or None,
            description=args["version_description"],
            metadata=args["metadata"] or None,
            tags={k: str(v) for k, v in args["tags"].items()} or None,
            source_step_execution_id=source,
        )
        status = ApprovalStatus.parse(self.approval_status)
        if status is not version.status:
            version = registry.update_status(
                version.group, version.version, status, comment=f"set by pipeline execution {ctx.info.execution_id}"
            )
        properties = {
            "model_version_id": version.id,
            "group": version.group,
            "version": version.version,
            "status": version.status.value,
            "uri": version.uri,
        }
        return StepOutcome(properties=properties)


class CreateModelStep(Step):
    """Make a deployable model package: the model, its flavor and a signature checked on an example.

    The model is loaded, run on the first rows of ``input_example`` (a CSV or Parquet file, with
    ``drop_columns`` removed: the target, say), and packaged again with the inferred signature.
    A model that cannot predict its own example never becomes a package.

    Args:
        name: the step's name.
        model: the model package folder, or a registered version (``models:/GROUP/VERSION``).
        input_example: a data file whose first ``example_rows`` rows show the model's input.
        drop_columns: columns of the example that are not model inputs.
        flavor: the flavor to package as; the model's own by default.
        trusted: what loading the model needs trusted (see ``slipway.models.load_model``); embedded
            only: a server refuses a definition that sets it, and trusts a registered version
            only if an admin marked it (``slipway models trust``).

    Example:
        >>> package = CreateModelStep(
        ...     "Package", model=train.outputs["model"], input_example=prep.outputs["test"] / "test.csv",
        ...     drop_columns=["rings"],
        ... )  # doctest: +SKIP
    """

    type_name = "CreateModel"
    path_arguments = ("model", "input_example")
    encoded = ("model", "input_example")
    stored = ("trusted",)
    settings = {
        "drop_columns": _COLUMNS, "example_rows": Setting(int, minimum=1), "flavor": Setting(str, optional=True),
    }

    def __init__(
        self,
        name: str,
        *,
        model: Any,
        input_example: Any = None,
        drop_columns: Any = (),
        example_rows: Any = 5,
        flavor: Any = None,
        trusted: bool | Iterable[str] = False,
        **common: Any,
    ) -> None:
        super().__init__(name, **common)
        self.model = model
        self.input_example = input_example
        self.drop_columns = listed(drop_columns)
        self.example_rows = example_rows
        self.flavor = flavor
        self.trusted = _trusted_json(trusted)

    @property
    def output_names(self) -> tuple[str, ...]:
        return (MODEL_OUTPUT,)

    def run(self, ctx: WorkContext) -> StepOutcome:
        from slipway.models import save_model  # brings pandas: a worker imports it on first use

        local = ctx.localize(ctx.args)
        loaded = _load_model(ctx, local["model"], self.trusted)
        example = None
        if local["input_example"] is not None:
            first = next(read_batches(Path(local["input_example"]), self.example_rows), None)
            if first is None:
                raise InvalidInput(f"step {self.name!r}: the input example holds no rows", field="input_example")
            example = first.drop(columns=self.drop_columns)
        info = save_model(
            loaded.raw,
            ctx.outputs_dir / MODEL_OUTPUT,
            flavor=self.flavor or loaded.flavor,
            input_example=example,
            trusted=self.trusted,
        )
        signature = None if info.signature is None else info.signature.model_dump(mode="json")
        return StepOutcome(properties={"flavor": info.flavor, "signature": signature})


class TransformStep(Step):
    """Batch inference: run a model over a data set (a CSV or Parquet file, or a folder of them).

    The data is read in batches of ``batch_size`` rows, so it need not fit in memory, and the
    output ``predictions`` holds one file (``predictions.csv`` or ``.parquet``) with the
    prediction in ``prediction_column``, after the input columns unless ``keep_columns=False``.

    Args:
        name: the step's name.
        model: the model package folder, or a registered version (``models:/GROUP/VERSION``).
        data: the data file or folder.
        drop_columns: columns that are not model inputs (kept in the output, not given to the model).
        output_format: ``csv`` or ``parquet``.
        batch_size: rows per batch.
        prediction_column: the name of the prediction column.
        keep_columns: whether the output repeats the input columns.
        trusted: what loading the model needs trusted (see ``slipway.models.load_model``); embedded
            only: a server refuses a definition that sets it, and trusts a registered version
            only if an admin marked it (``slipway models trust``).

    Example:
        >>> scores = TransformStep(
        ...     "Score", model=train.outputs["model"], data=FileInput("new_abalone.parquet"),
        ...     output_format="parquet", batch_size=50_000,
        ... )  # doctest: +SKIP
    """

    type_name = "Transform"
    path_arguments = ("model", "data")
    encoded = ("model", "data")
    stored = ("trusted",)
    settings = {
        "drop_columns": _COLUMNS,
        "output_format": Setting(str, choices=_FORMATS),
        "batch_size": Setting(int, minimum=1),
        "prediction_column": Setting(str),
        "keep_columns": Setting(bool),
    }

    def __init__(
        self,
        name: str,
        *,
        model: Any,
        data: Any,
        drop_columns: Any = (),
        output_format: Any = "csv",
        batch_size: Any = 10_000,
        prediction_column: Any = "prediction",
        keep_columns: Any = True,
        trusted: bool | Iterable[str] = False,
        **common: Any,
    ) -> None:
        super().__init__(name, **common)
        self.model = model
        self.data = data
        self.drop_columns = listed(drop_columns)
        self.output_format = output_format
        self.batch_size = batch_size
        self.prediction_column = prediction_column
        self.keep_columns = keep_columns
        self.trusted = _trusted_json(trusted)

    @property
    def output_names(self) -> tuple[str, ...]:
        return (PREDICTIONS_OUTPUT,)

    def run(self, ctx: WorkContext) -> StepOutcome:
        import pyarrow as pa
        import pyarrow.parquet as pq

        local = ctx.localize(ctx.args)
        model = _load_model(ctx, local["model"], self.trusted)
        target = ctx.output_dir(PREDICTIONS_OUTPUT) / f"predictions.{self.output_format}"
        rows = batches = 0
        writer: Any = None
        try:
            for frame in read_batches(Path(local["data"]), self.batch_size):
                features = frame.drop(columns=self.drop_columns)
                predicted = model.predict(features)
                out = frame if self.keep_columns else frame.iloc[:, 0:0]
                out = out.assign(**{self.prediction_column: list(_column(predicted))})
                if self.output_format == "csv":
                    out.to_csv(target, mode="a", header=batches == 0, index=False)
                else:
                    table = pa.Table.from_pandas(out, preserve_index=False)
                    writer = writer or pq.ParquetWriter(target, table.schema)
                    writer.write_table(table)
                rows += len(frame)
                batches += 1
        finally:
            if writer is not None:
                writer.close()
        if batches == 0:
            raise InvalidInput(f"step {self.name!r}: the data holds no rows", field=f"steps.{self.name}.data")
        return StepOutcome(properties={"rows": rows, "batches": batches, "file": target.name})


def _column(predicted: Any) -> Iterator[Any]:
    """A prediction as one value per row (a 2-D output with one column is flattened)."""
    shape = getattr(predicted, "shape", None)
    if shape is not None and len(shape) == 2 and shape[1] == 1:
        predicted = predicted[:, 0]
    return iter(predicted.tolist() if hasattr(predicted, "tolist") else predicted)


def read_batches(path: Path, batch_size: int) -> Iterator[Any]:
    """DataFrames of at most ``batch_size`` rows from a CSV, Parquet or JSON-lines file, or a folder of them."""
    from slipway.datasets import read_frames  # brings pyarrow: a worker imports it on first use

    return read_frames(path, batch_size)
