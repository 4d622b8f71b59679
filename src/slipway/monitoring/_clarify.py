"""Bias-drift and feature-attribution-drift monitors: a clarify report as the baseline, traffic as the data.

``ModelBias``: the post-training bias metrics of captured predictions joined with their ground
truth (or of a table holding label, facet and prediction) against the baseline report's: a metric
that moved more than ``tolerance`` (0.1) from the baseline, or passes its bound, is a
``bias_drift_check`` violation. Metrics: ``bias.<facet>=<value>/<METRIC>``.

``ModelExplainability``: the global SHAP attributions of the endpoint's current model (or the
monitor's model) on the captured requests against the baseline report's, scored by nDCG of the
feature ranking; under ``ndcg_threshold`` (0.90) it is a ``feature_attribution_drift_check``
violation. Metrics: ``attribution.ndcg`` and ``attribution.<feature>``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pandas as pd
import pyarrow as pa

from slipway.clarify import (
    ATTRIBUTION_DRIFT_CHECK,
    BIAS_DRIFT_CHECK,
    POST_SECTION,
    Analysis,
    BiasConfig,
    ClarifyService,
    attribution_findings,
    bias_findings,
    count_batches,
    explain,
)
from slipway.clarify import bias_sections as sections_of
from slipway.errors import InvalidInput
from slipway.models import LoadedModel
from slipway.monitoring._quality import INFERENCE_ID, LABEL, PREDICTION
from slipway.monitoring._report import VIOLATIONS_FILE

Outcome = tuple[dict[str, bytes], dict[str, float], int, int]
"""Report files, metrics, violation count, rows looked at."""
BIAS_PREFIX, ATTRIBUTION_PREFIX = "bias.", "attribution."
NDCG_METRIC = "attribution.ndcg"


def bias_settings(clarify: ClarifyService, report_id: str, override: dict[str, Any] | None) -> dict[str, Any]:
    """The monitor's bias configuration: the baseline report's, or ``override``; checked now.

    Raises:
        InvalidInput: when the report has no post-training metrics or no configuration to reuse.
    """
    report = clarify.get_report(report_id)
    if not clarify.get_analysis(report_id).bias_values(POST_SECTION):
        raise InvalidInput(f"report {report_id} has no post-training bias metrics to compare with", field="report")
    kept = {k: v for k, v in report.config.items() if k in BiasConfig.model_fields and v is not None}
    fields = dict(override or kept)
    if not fields:
        raise InvalidInput(f"report {report_id} keeps no bias configuration: give bias_config", field="bias_config")
    fields["predicted_label"] = PREDICTION  # what captured traffic calls the model's answer
    BiasConfig.of(**fields)
    methods = report.config.get("methods", "all")
    return {"bias": fields, "methods": methods}


def evaluate_bias(config: dict[str, Any], baseline: Analysis, frames: Iterable[pd.DataFrame]) -> Outcome:
    """Post-training metrics of ``frames`` (label, facet and prediction columns) against ``baseline``."""
    cfg = BiasConfig.of(**config["bias"])
    counted = count_batches((pa.RecordBatch.from_pandas(f, preserve_index=False) for f in frames), cfg,
                            post_training=True)
    if not counted.rows:
        raise InvalidInput("no prediction with a label to compute bias metrics on", field="labels")
    current = Analysis.of(bias=sections_of(counted, pre_training=False, post_training=True,
                                           methods=config.get("methods", "all")))
    findings = bias_findings(current, baseline=baseline, tolerance=config.get("tolerance", 0.1),
                             bounds=config.get("bounds"))
    metrics = {BIAS_PREFIX + k: v for k, v in current.bias_values(POST_SECTION).items() if math.isfinite(v)}
    metrics[f"violations.{BIAS_DRIFT_CHECK}"] = float(len(findings))
    metrics["violations.total"] = float(len(findings))
    return _files(current, findings, "Bias drift"), metrics, len(findings), counted.rows


def evaluate_attribution(
    config: dict[str, Any], baseline: Analysis, model: LoadedModel, frame: pd.DataFrame
) -> Outcome:
    """Global attributions of ``model`` on ``frame`` against ``baseline``'s, by nDCG."""
    explanation = explain(model, frame, features=config.get("features"), max_rows=config.get("max_rows", 1000),
                          baseline_rows=config.get("baseline_rows", 50), pdp_features=0)
    current = Analysis.of(explanation=explanation)
    score, findings = attribution_findings(current, baseline, threshold=config.get("ndcg_threshold", 0.90))
    metrics = {ATTRIBUTION_PREFIX + k: v for k, v in explanation.global_values().items()}
    metrics[NDCG_METRIC] = score
    metrics[f"violations.{ATTRIBUTION_DRIFT_CHECK}"] = float(len(findings))
    metrics["violations.total"] = float(len(findings))
    return _files(current, findings, "Feature attribution drift"), metrics, len(findings), len(explanation.values)


def labelled(frames: Iterable[pd.DataFrame], label: str,
             truth: Callable[[list[str]], dict[str, Any]]) -> Iterator[pd.DataFrame]:
    """Captured frames with their ground truth as the ``label`` column; rows without one are left out."""
    for frame in frames:
        found = truth(frame[INFERENCE_ID].astype(str).tolist())
        values = frame[INFERENCE_ID].astype(str).map(found)
        kept = frame.assign(**{label: values})[values.notna().to_numpy()]
        if not kept.empty:
            yield kept.drop(columns=[INFERENCE_ID])


def joined(data: pd.DataFrame, labels: pd.DataFrame | None, label: str) -> pd.DataFrame:
    """Given predictions, with labels (``inference_id``, ``label``) joined in when given apart."""
    if labels is None:
        return data
    for name, frame, columns in (("data", data, [INFERENCE_ID]), ("labels", labels, [INFERENCE_ID, LABEL])):
        missing = [c for c in columns if c not in frame]
        if missing:
            raise InvalidInput(f"the {name} lack the column(s) {', '.join(missing)}", field=name)
    renamed = labels[[INFERENCE_ID, LABEL]].drop_duplicates(INFERENCE_ID, keep="last").rename(columns={LABEL: label})
    return data.drop(columns=[label], errors="ignore").merge(renamed, on=INFERENCE_ID, how="inner")


def _files(current: Analysis, findings: list[Any], title: str) -> dict[str, bytes]:
    files = current.files(f"{title} report")
    violations = [{"feature_name": f.name, "constraint_check_type": f.check_type, "description": f.description}
                  for f in findings]
    files[VIOLATIONS_FILE] = json.dumps({"violations": violations}, indent=1).encode()
    return files
