"""Bias and explainability: metrics, SHAP explanations, reports, and what monitors and pipelines check with them.

Experimental: the report layouts follow the cloud stack's ``analysis.json``; the Python API may still change.
"""

from slipway.clarify._bias import POST_SECTION, PRE_SECTION, bias_metrics
from slipway.clarify._config import BiasConfig
from slipway.clarify._explain import METHODS, Explanation, explain
from slipway.clarify._metrics import DESCRIPTIONS, POST_TRAINING, PRE_TRAINING, read_number

__all__ = [
    "DESCRIPTIONS",
    "METHODS",
    "POST_SECTION",
    "POST_TRAINING",
    "PRE_SECTION",
    "PRE_TRAINING",
    "BiasConfig",
    "Explanation",
    "bias_metrics",
    "explain",
    "read_number",
]
