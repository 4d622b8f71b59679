"""QualityCheck: check a data set against a registered monitoring baseline inside a pipeline.

The data (a CSV or Parquet file, or a folder of them, usually an earlier step's output) is
checked as ``slipway monitor check`` would check it: data types, completeness, missing and extra
columns, categorical values and drift per feature. The reports go to the ``report`` output;
violations fail the step (``on_violation="fail"``, the default) or only appear in its properties
(``"warn"``), where a later :class:`~slipway.pipelines.ConditionStep` may read them.

``slipway.monitoring`` brings pyarrow and the statistics engine, so it is imported when the step
runs in a worker, not when a pipeline is defined.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from slipway._references import VersionRef
from slipway.errors import SlipwayError
from slipway.pipelines._context import StepOutcome, WorkContext
from slipway.pipelines.steps._base import Step
from slipway.pipelines.steps._settings import Setting

REPORT_OUTPUT = "report"
ON_VIOLATION = Setting(str, choices=("fail", "warn"))  # shared by the check steps


class QualityCheckFailed(SlipwayError):
    """The data broke its baseline's constraints and the step was set to fail on violations."""

    code = "QUALITY_CHECK_FAILED"
    http_status = 422


class QualityCheckStep(Step):
    """Check new data against a registered baseline, and fail or warn on violations.

    Properties: ``baseline`` (``name:version`` as used), ``rows``, ``violations`` (the count),
    ``violation_types`` (count per check type), ``drifted`` (features whose drift crossed the
    threshold) and ``drift`` (score per feature).

    Args:
        name: the step's name.
        data: the data file or folder (``prep.outputs["train"]``, a ``FileInput``).
        baseline: a baseline stored with ``slipway monitor``/``MonitoringService.create_baseline``:
            ``name`` (its latest version when the step runs) or ``name:version``; a string or a parameter.
        on_violation: ``fail`` (the step fails, naming the violations) or ``warn``.

    Example:
        >>> check = QualityCheckStep(
        ...     "CheckData", data=prep.outputs["train"], baseline="abalone-train:1", on_violation="fail",
        ... )  # doctest: +SKIP
    """

    type_name = "QualityCheck"
    path_arguments = ("data",)
    encoded = ("data", "baseline")
    cacheable = False  # a baseline named without a version may have moved on since the last run
    settings = {"on_violation": ON_VIOLATION}

    def __init__(self, name: str, *, data: Any, baseline: Any, on_violation: Any = "fail", **common: Any) -> None:
        super().__init__(name, **common)
        self.data = data
        self.baseline = baseline
        self.on_violation = on_violation

    @property
    def output_names(self) -> tuple[str, ...]:
        return (REPORT_OUTPUT,)

    def run(self, ctx: WorkContext) -> StepOutcome:
        from slipway.monitoring import check_data, write_report  # brings pandas: import on first use

        name, version = VersionRef.parse(ctx.args["baseline"], f"steps.{self.name}.baseline")
        monitoring = ctx.services.monitoring
        found = monitoring.get_baseline_version(name, version)
        baseline = monitoring.get_baseline(found.name, found.version)
        result = check_data(Path(ctx.localize(ctx.args["data"], "data")), baseline)
        write_report(result, ctx.output_dir(REPORT_OUTPUT))
        counts = result.violation_counts()
        properties = {
            "baseline": f"{found.name}:{found.version}",
            "rows": result.statistics.item_count,
            "violations": len(result.violations),
            "violation_types": dict(counts),
            "drifted": sorted(d.feature_name for d in result.drift if d.drifted),
            "drift": {d.feature_name: d.score for d in result.drift if not math.isnan(d.score)},  # NaN: unmeasured
        }
        if result.violations and self.on_violation == "fail":
            shown = "; ".join(f"{v.feature_name}: {v.constraint_check_type}" for v in result.violations[:10])
            more = f" and {len(result.violations) - 10} more" if len(result.violations) > 10 else ""
            raise QualityCheckFailed(
                f"{len(result.violations)} violation(s) of baseline {properties['baseline']}: {shown}{more}",
                field=f"steps.{self.name}.data",
            )
        return StepOutcome(properties=properties)
