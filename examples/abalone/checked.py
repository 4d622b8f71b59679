"""The abalone pipeline with bias and explainability gates before registering:

PreprocessAbaloneData → TrainAbaloneModel → CheckAbaloneBias (bias metrics of the model's
predictions on the test set, infants as the facet, rings > 10 as the label) → CheckAbaloneAttributions
(SHAP ranking of the features against a baseline report) → RegisterAbaloneModel.

Run it from the repository's root::

    slipway pipelines run examples.abalone.checked:pipeline

A check that finds violations fails its step, so nothing is registered. :func:`checked_pipeline`
builds it with other gates: a bound on |DPPL|, and a baseline for the feature ranking (a report
id, or ``GROUP/VERSION`` whose latest explainability report is used).
"""

from __future__ import annotations

from examples.abalone.pipeline import alpha, input_data, model_group, preprocess, test_size, train
from slipway.pipelines import BiasCheckStep, ExplainabilityCheckStep, Pipeline, RegisterModelStep

BIAS = {"label": "rings", "label_threshold": 10, "facet": "sex_I", "facet_values": [1]}


def checked_pipeline(dppl_bound: float = 0.75, attribution_baseline: str | None = None) -> Pipeline:
    """The pipeline, refusing a model whose |DPPL| for infants passes ``dppl_bound`` or whose feature
    ranking has an nDCG under 0.90 against ``attribution_baseline``."""
    bias = BiasCheckStep(
        "CheckAbaloneBias",
        data=preprocess.outputs["test"],
        model=train.outputs["model"],
        config=BIAS,
        bounds={"DPPL": dppl_bound},
        methods=["CI", "DPL", "DPPL", "DI", "AD", "RD"],
    )
    attributions = ExplainabilityCheckStep(
        "CheckAbaloneAttributions",
        data=preprocess.outputs["test"],
        model=train.outputs["model"],
        baseline=attribution_baseline,
        max_rows=50,
        baseline_rows=10,
        depends_on=[bias],
    )
    register = RegisterModelStep(
        "RegisterAbaloneModel",
        model=train.outputs["model"],
        group=model_group,
        metadata={"dataset": "abalone", "checked": "bias and attributions"},
        depends_on=[attributions],
    )
    return Pipeline("abalone-checked", [register], parameters=[input_data, test_size, alpha, model_group],
                    description="Train, check bias and attributions, and register the abalone model")


pipeline = checked_pipeline()
