"""Bias and explainability: metrics, SHAP explanations, reports, and what monitors and pipelines check with them.

Experimental: the report layouts follow the cloud stack's ``analysis.json`` (see ``docs/clarify.md``);
the Python API may still change.

Example:
    >>> from slipway.clarify import Analysis, BiasConfig, bias_metrics
    >>> config = BiasConfig(label="rings", label_threshold=10, facet="sex", predicted_label="prediction")
    >>> Analysis.of(bias=bias_metrics("scored.csv", config)).write("report/")   # analysis.json, report.html
"""

from slipway.clarify._bias import POST_SECTION, PRE_SECTION, bias_metrics, bias_sections, count
from slipway.clarify._checks import (
    ATTRIBUTION_DRIFT_CHECK,
    BIAS_DRIFT_CHECK,
    DEFAULT_NDCG_THRESHOLD,
    DEFAULT_TOLERANCE,
    Finding,
    attribution_findings,
    bias_findings,
    ndcg,
)
from slipway.clarify._config import BiasConfig
from slipway.clarify._explain import METHODS, Explanation, explain, read_rows
from slipway.clarify._metrics import DESCRIPTIONS, POST_TRAINING, PRE_TRAINING, read_number
from slipway.clarify._records import ClarifyReport, ReportKind
from slipway.clarify._report import ANALYSIS_FILE, LOCAL_FILE, REPORT_FILE, Analysis, render_html
from slipway.clarify._service import AnalysisDocument, ClarifyService
from slipway.clarify._tally import Tally
from slipway.clarify._tally import tally as count_batches

__all__ = [
    "AnalysisDocument",
    "ATTRIBUTION_DRIFT_CHECK",
    "BIAS_DRIFT_CHECK",
    "DEFAULT_NDCG_THRESHOLD",
    "DEFAULT_TOLERANCE",
    "Finding",
    "attribution_findings",
    "bias_findings",
    "ndcg",
    "read_rows",
    "ANALYSIS_FILE",
    "DESCRIPTIONS",
    "LOCAL_FILE",
    "METHODS",
    "POST_SECTION",
    "POST_TRAINING",
    "PRE_SECTION",
    "PRE_TRAINING",
    "REPORT_FILE",
    "Analysis",
    "BiasConfig",
    "ClarifyReport",
    "ClarifyService",
    "Explanation",
    "ReportKind",
    "Tally",
    "bias_metrics",
    "bias_sections",
    "count_batches",
    "count",
    "explain",
    "read_number",
    "render_html",
]
