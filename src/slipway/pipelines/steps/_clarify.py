"""BiasCheck and ExplainabilityCheck: gate a pipeline on a model's bias metrics and feature attributions.

Like :class:`~slipway.pipelines.QualityCheckStep`, each computes a report (``analysis.json`` and
``report.html`` in its ``report`` output), compares it with constraints, and fails on violations
(``on_violation="fail"``) or only lists them in its properties (``"warn"``) for a condition to read.

The baseline is a stored clarify report (its id), the latest report of the kind attached to a
registered model version (``GROUP/VERSION``), or a report folder / ``analysis.json`` file (a
``FileInput``, or an earlier step's output). ``slipway.clarify`` (and ``shap``, for explanations)
is imported when the step runs in a worker, not when a pipeline is defined.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.errors import InvalidInput, SlipwayError
from slipway.pipelines._context import StepOutcome, WorkContext
from slipway.pipelines._expressions import decode, encode
from slipway.pipelines.steps._base import Step
from slipway.pipelines.steps._quality import ON_VIOLATION, REPORT_OUTPUT
from slipway.pipelines.steps._settings import Setting, listed

if TYPE_CHECKING:
    from slipway.clarify import Analysis, Finding
    from slipway.models import LoadedModel

VIOLATIONS_FILE = "constraint_violations.json"


class ClarifyCheckFailed(SlipwayError):
    """A bias or explainability check found violations and its step was set to fail on them."""

    code = "CLARIFY_CHECK_FAILED"
    http_status = 422


class _ClarifyCheck(Step):
    """What both checks share: data, an optional model and baseline, the report output, fail or warn."""

    cacheable = False  # a baseline named by model version may have gained a newer report since
    kind = ""
    settings = {"on_violation": ON_VIOLATION}

    def __init__(self, name: str, *, data: Any, model: Any = None, baseline: Any = None, on_violation: Any = "fail",
                 trusted: bool | Iterable[str] = False, **common: Any) -> None:
        super().__init__(name, **common)
        self.data, self.model, self.baseline = data, model, baseline
        self.on_violation = on_violation
        self.trusted = trusted if isinstance(trusted, bool) else sorted(trusted)

    @property
    def output_names(self) -> tuple[str, ...]:
        return (REPORT_OUTPUT,)

    def arguments(self) -> dict[str, Any]:
        found = {"data": self.data}
        found |= {k: v for k, v in (("model", self.model), ("baseline", self.baseline)) if v is not None}
        return found

    def _common_spec(self) -> dict[str, Any]:
        return {"data": encode(self.data), "model": encode(self.model), "baseline": encode(self.baseline),
                "trusted": self.trusted, **self.settings_spec()}

    @classmethod
    def _common_args(cls, spec: Mapping[str, Any]) -> dict[str, Any]:
        return {"data": decode(spec["data"]), "model": decode(spec.get("model", {"value": None})),
                "baseline": decode(spec.get("baseline", {"value": None})),
                "trusted": spec.get("trusted", False), **cls.settings_from_spec(spec)}

    def _load(self, ctx: WorkContext, local: Any) -> LoadedModel | None:
        """The model: a package folder (a step's output, a file input) or a registered ``GROUP/VERSION``."""
        if local is None:
            return None
        from slipway.models import load_model

        if Path(str(local)).is_dir():
            return load_model(local, trusted=self.trusted)
        return ctx.services.registry.load_model(f"models:/{str(local).removeprefix('models:/')}", trusted=self.trusted)

    def _baseline(self, ctx: WorkContext, local: Any) -> Analysis | None:
        from slipway.clarify import Analysis

        if local is None or str(local) == "":
            return None
        path = Path(str(local))
        if path.exists():
            return Analysis.read(path)
        ref, clarify = str(local), ctx.services.clarify
        group, _, number = ref.rpartition("/")
        if group and number.isdigit():
            reports = [r for r in clarify.list_reports(model=ref) if r.kind == self.kind]
            if not reports:
                raise InvalidInput(f"step {self.name!r}: model version {ref} has no {self.kind} report to compare "
                                   "with", field=f"steps.{self.name}.baseline")
            return clarify.get_analysis(reports[0].id)
        return clarify.get_analysis(ref)

    def _finish(self, ctx: WorkContext, analysis: Analysis, findings: list[Finding],
                properties: dict[str, Any]) -> StepOutcome:
        import json

        folder = analysis.write(ctx.output_dir(REPORT_OUTPUT), title=f"{self.type_name}: {self.name}")
        documents = [{"feature_name": f.name, "constraint_check_type": f.check_type, "description": f.description}
                     for f in findings]
        (folder / VIOLATIONS_FILE).write_text(json.dumps({"violations": documents}, indent=1))
        properties |= {"violations": len(findings), "violated": sorted({f.name for f in findings})}
        if findings and self.on_violation == "fail":
            shown = "; ".join(f.description for f in findings[:5])
            more = f" and {len(findings) - 5} more" if len(findings) > 5 else ""
            raise ClarifyCheckFailed(f"{len(findings)} violation(s): {shown}{more}", field=f"steps.{self.name}.data")
        return StepOutcome(properties=properties)


class BiasCheckStep(_ClarifyCheck):
    """Compute bias metrics of the data (and of a model's predictions on it), and fail or warn on violations.

    A metric violates its constraint when it moved more than ``tolerance`` from the baseline's
    value for the same facet value, or when it is beyond its bound in ``bounds`` (``|DI − 1|`` for DI).

    Properties: ``metrics`` (``"<facet>=<value>/<METRIC>"`` to value), ``violations`` (the count),
    ``violated`` (the metrics that broke a constraint).

    Args:
        data: the data file or folder, with the label and facet columns.
        config: the :class:`~slipway.clarify.BiasConfig` fields, e.g.
            ``{"label": "rings", "label_threshold": 10, "facet": "sex_F", "facet_values": [1]}``.
        model: a model package (``train.outputs["model"]``) or ``GROUP/VERSION``, whose predictions
            give the post-training metrics; without it only the labels are measured.
        baseline: see the module's docstring; None compares with ``bounds`` only.
        methods: ``"all"`` or metric names.

    Example:
        >>> BiasCheckStep("CheckBias", data=prep.outputs["test"], model=train.outputs["model"],
        ...               config={"label": "rings", "label_threshold": 10, "facet": "sex_F", "facet_values": [1]},
        ...               bounds={"DPPL": 0.25})  # doctest: +SKIP
    """

    type_name = "BiasCheck"
    kind = "bias"
    settings = {**_ClarifyCheck.settings, "tolerance": Setting(float, minimum=0),
                "methods": Setting((str, list), items=str)}

    def __init__(self, name: str, *, data: Any, config: Mapping[str, Any], model: Any = None, baseline: Any = None,
                 tolerance: Any = 0.1, bounds: Mapping[str, float] | None = None, methods: Any = "all",
                 on_violation: Any = "fail", trusted: bool | Iterable[str] = False, **common: Any) -> None:
        super().__init__(name, data=data, model=model, baseline=baseline, on_violation=on_violation, trusted=trusted,
                         **common)
        self.config = dict(config)
        self.tolerance = tolerance
        self.bounds = {str(k): float(v) for k, v in (bounds or {}).items()}
        self.methods = methods

    def check(self) -> None:
        super().check()
        from slipway.clarify import BiasConfig

        try:
            BiasConfig.of(**self.config)
        except InvalidInput as exc:
            raise InvalidInput(f"step {self.name!r}: {exc.message}", field=f"steps.{self.name}.config") from None

    def spec(self) -> dict[str, Any]:
        return self._common_spec() | {"config": self.config, "bounds": self.bounds}

    @classmethod
    def from_spec(cls, name: str, spec: Mapping[str, Any], common: dict[str, Any]) -> BiasCheckStep:
        return cls(name, config=spec["config"], bounds=spec.get("bounds"), **cls._common_args(spec), **common)

    def run(self, ctx: WorkContext) -> StepOutcome:
        from slipway.clarify import Analysis, BiasConfig, bias_findings, bias_metrics

        local = ctx.localize(ctx.args)
        model = self._load(ctx, local.get("model"))
        analysis = Analysis.of(bias=bias_metrics(Path(local["data"]), BiasConfig.of(**self.config), model=model,
                                                 methods=self.methods))
        baseline = self._baseline(ctx, local.get("baseline"))
        findings = bias_findings(analysis, baseline=baseline, tolerance=self.tolerance, bounds=self.bounds)
        metrics = analysis.bias_values("pre_training_bias_metrics") | analysis.bias_values("post_training_bias_metrics")
        return self._finish(ctx, analysis, findings, {"metrics": {k: v for k, v in metrics.items() if v == v}})


class ExplainabilityCheckStep(_ClarifyCheck):
    """Explain a model on the data (SHAP), and fail or warn when its feature ranking drifted from the baseline's.

    The new global attributions are compared with the baseline's by nDCG; a score below
    ``threshold`` (0.90 by default) is a violation. Without a baseline the step only reports.

    Properties: ``ndcg`` (None without a baseline), ``top_features``, ``global_shap_values``,
    ``violations``.

    Args:
        data: the rows to explain (a file or folder; the label column is ignored).
        model: a model package (``train.outputs["model"]``) or ``GROUP/VERSION``.
        features, method, max_rows, baseline_rows: see :func:`~slipway.clarify.explain`.
    """

    type_name = "ExplainabilityCheck"
    kind = "explainability"
    settings = {**_ClarifyCheck.settings, "threshold": Setting(float, above=0, maximum=1),
                "features": Setting(list, items=str, optional=True), "method": Setting(str),
                "max_rows": Setting(int, minimum=1), "baseline_rows": Setting(int, minimum=1)}

    def __init__(self, name: str, *, data: Any, model: Any, baseline: Any = None, threshold: Any = 0.90,
                 features: Any = None, method: Any = "auto", max_rows: Any = 1000,
                 baseline_rows: Any = 50, on_violation: Any = "fail", trusted: bool | Iterable[str] = False,
                 **common: Any) -> None:
        super().__init__(name, data=data, model=model, baseline=baseline, on_violation=on_violation, trusted=trusted,
                         **common)
        self.threshold = threshold
        self.features = listed(features) if features is not None else None
        self.method = method
        self.max_rows = max_rows
        self.baseline_rows = baseline_rows

    def check(self) -> None:
        super().check()
        if self.model is None:
            raise InvalidInput(f"step {self.name!r}: an explainability check needs a model",
                               field=f"steps.{self.name}.model")

    def spec(self) -> dict[str, Any]:
        return self._common_spec()

    @classmethod
    def from_spec(cls, name: str, spec: Mapping[str, Any], common: dict[str, Any]) -> ExplainabilityCheckStep:
        return cls(name, **cls._common_args(spec), **common)

    def run(self, ctx: WorkContext) -> StepOutcome:
        from slipway.clarify import Analysis, attribution_findings, explain, read_rows

        local = ctx.localize(ctx.args)
        model = self._load(ctx, local["model"])
        assert model is not None
        explanation = explain(model, read_rows(Path(local["data"])), features=self.features, method=self.method,
                              max_rows=self.max_rows, baseline_rows=self.baseline_rows)
        analysis = Analysis.of(explanation=explanation)
        baseline = self._baseline(ctx, local.get("baseline"))
        score, findings = attribution_findings(analysis, baseline, threshold=self.threshold) if baseline else (None, [])
        return self._finish(ctx, analysis, findings, {"ndcg": score, "top_features": explanation.ranking()[:10],
                                                      "global_shap_values": explanation.global_values()})
