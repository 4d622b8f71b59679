"""Bias metrics of a table: the pre- and post-training sections of ``analysis.json``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from slipway.clarify._config import BiasConfig
from slipway.clarify._metrics import POST_TRAINING, PRE_TRAINING, compute, resolve_methods, unknown_methods
from slipway.clarify._tally import Tally, tally
from slipway.datasets import DataSource, open_source
from slipway.errors import InvalidInput
from slipway.models import LoadedModel

PRE_SECTION = "pre_training_bias_metrics"
POST_SECTION = "post_training_bias_metrics"
PREDICTION = "prediction"


def bias_metrics(
    data: DataSource, config: BiasConfig, *, pre_training: bool = True, post_training: bool | None = None,
    methods: str | Sequence[str] = "all", format: str | None = None, model: LoadedModel | None = None,
) -> dict[str, Any]:
    """Compute bias metrics of ``data`` in one pass, in the cloud stack's ``analysis.json`` layout.

    Args:
        data: a DataFrame, an Arrow table, or a CSV/Parquet/JSON-lines file or folder, read in batches.
        config: the label, facet, group and predicted-label columns and how they are read.
        pre_training: compute the metrics of the labels (CI, DPL, KL, JS, LP, TVD, KS, CDDL).
        post_training: compute the metrics of the predictions (DPPL, DI, DCA, DCR, RD, SD, DAR,
            DRR, AD, TE, CDDPL, FT, GE); by default when there are predictions.
        methods: ``"all"`` or the metric names to compute (``["CI", "DPL", "DPPL"]``).
        model: a loaded model whose predictions on the data (every column but the label) are the
            predicted labels, in ``config.predicted_label`` (``prediction`` by default).

    Returns:
        ``{"pre_training_bias_metrics": {...}, "post_training_bias_metrics": {...}}`` (the sections
        asked for), each ``{"label", "label_value_or_threshold", "facets": {facet: [{"value_or_threshold",
        "metrics": [{"name", "description", "value"}]}]}}``.

    Example:
        >>> frame = pd.DataFrame({"sex": ["F", "M", "M", "F"], "rings": [12, 8, 11, 9]})
        >>> found = bias_metrics(frame, BiasConfig(label="rings", label_threshold=10, facet="sex", facet_values=("F",)))
        >>> found["pre_training_bias_metrics"]["facets"]["sex"][0]["metrics"][1]
        {'name': 'CI', 'description': 'Class Imbalance (CI)', 'value': 0.0}

    Raises:
        InvalidInput: for a missing column, an unknown metric, or nothing to compute.
    """
    check_methods(methods)
    post = (config.predicted_label is not None or model is not None) if post_training is None else post_training
    if not pre_training and not post:
        raise InvalidInput("nothing to compute: ask for pre- or post-training metrics", field="methods")
    counted = count(data, config, post_training=post, model=model, format=format)
    return bias_sections(counted, pre_training=pre_training, post_training=post, methods=methods)


def check_methods(methods: str | Sequence[str]) -> None:
    """Refuse metric names that are no metric at all.

    Raises:
        InvalidInput: naming them and the known ones.
    """
    wrong = unknown_methods(methods)
    if wrong:
        raise InvalidInput(f"unknown bias metric(s) {', '.join(wrong)}; known: "
                           f"{', '.join(PRE_TRAINING + POST_TRAINING)}", field="methods")


def with_predictions(config: BiasConfig) -> BiasConfig:
    """``config`` with a predicted-label column to put a model's predictions in (``prediction`` by default)."""
    return config if config.predicted_label is not None else config.model_copy(update={"predicted_label": PREDICTION})


def count(data: DataSource, config: BiasConfig, *, post_training: bool, model: LoadedModel | None = None,
          format: str | None = None) -> Tally:
    """Read ``data`` once into a :class:`Tally`, with ``model``'s predictions added when a model is given."""
    if model is not None:
        config = with_predictions(config)
    if isinstance(data, pd.DataFrame):
        data = data.reset_index(drop=True)  # an index is no feature of the flip test
    with open_source(data, format=format) as (_, batches):
        if model is not None:
            batches = _predicted(batches, model, config)
        return tally(batches, config, post_training=post_training)


def _predicted(batches: Iterable[pa.RecordBatch], model: LoadedModel, config: BiasConfig) -> Iterator[pa.RecordBatch]:
    """The batches with the model's predictions added as ``config.predicted_label``, a batch at a time."""
    assert config.predicted_label is not None
    for batch in batches:
        frame = batch.to_pandas()
        if frame.empty:
            continue
        inputs = frame.drop(columns=[c for c in (config.label, config.predicted_label) if c in frame])
        found = model.predict(inputs)
        if isinstance(found, dict):
            found = next(iter(found.values()))
        values = found.iloc[:, 0].to_numpy() if isinstance(found, pd.DataFrame) else np.asarray(found)
        if values.ndim > 1:
            values = values.reshape(len(frame), -1)[:, 0]
        yield pa.RecordBatch.from_pandas(frame.assign(**{config.predicted_label: values}), preserve_index=False)


def bias_sections(counted: Tally, *, pre_training: bool, post_training: bool,
                  methods: str | Sequence[str] = "all") -> dict[str, Any]:
    """The report sections of an existing tally (what the monitors reuse)."""
    if not counted.rows:
        raise InvalidInput("no rows with a label and a facet value to compute bias metrics on", field="data")
    found: dict[str, Any] = {}
    for wanted, section, stage in ((pre_training, PRE_SECTION, PRE_TRAINING),
                                   (post_training, POST_SECTION, POST_TRAINING)):
        names = resolve_methods(methods, stage) if wanted else []
        if names:
            found[section] = _section(counted, names)
    if not found:
        raise InvalidInput("none of the metrics asked for belongs to the stages asked for", field="methods")
    return found


def _section(counted: Tally, names: list[str]) -> dict[str, Any]:
    cfg = counted.config
    entries = [{"value_or_threshold": side.value_or_threshold, "metrics": compute(counted, side, names)}
               for side in counted.sides()]
    return {"label": cfg.label, "facets": {cfg.facet: entries},
            "label_value_or_threshold": cfg.label_value_or_threshold(counted.label_max)}
