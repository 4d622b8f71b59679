"""SHAP explanations and partial dependence of a packaged model, whatever its flavor.

The explained output is what the model answers: ``predict`` for a regressor (and for any model
whose flavor has no probabilities), the probability of the last class (the positive one of a
binary classifier) for scikit-learn, XGBoost and LightGBM classifiers. Attributions add up to that
output minus the expected value, row by row.

Methods:
    - ``tree``: shap's TreeExplainer on the framework's own model (scikit-learn tree ensembles,
      XGBoost, LightGBM), exact and fast; used by ``auto`` when every feature is numeric and the
      sums check out on the first rows.
    - ``kernel`` (``auto``'s choice otherwise, as the cloud stack's): shap's KernelExplainer,
      model-agnostic, against a *baseline* of rows (given, or a seeded sample of the data) whose
      mean output is the expected value; it calls ``LoadedModel.predict``, so ONNX, TorchScript and
      pyfunc models work alike. With up to 11 features every coalition is evaluated, so the values
      are exact Shapley values; beyond, shap samples ``2 M + 2048`` coalitions per row. (shap's
      permutation explainer is not offered: its numba kernels compile for 10 to 40 s in every new
      process.)
      Text columns are explained as codes that are turned back into their values before the model
      sees them, so a pipeline that one-hot encodes ``sex`` gets ``sex`` as one feature.

Partial dependence: for the features with the largest mean |SHAP|, the mean output over the rows
when the feature is set to each of up to ``pdp_grid`` values (quantiles, or the most frequent
categories).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from slipway.clarify._extras import shap
from slipway.datasets import DataSource, open_source
from slipway.errors import InvalidInput
from slipway.models import LoadedModel

METHODS = ("auto", "tree", "kernel")
_TREE_FLAVORS = ("sklearn", "xgboost", "lightgbm")
_ADDITIVITY = 1e-3  # relative to the output's spread: what the tree check accepts
READ_ROWS = 200_000
"""Rows read from a file to explain: an explanation samples ``max_rows`` of them."""


@dataclasses.dataclass(frozen=True)
class Explanation:
    """SHAP attributions of some rows, and partial dependence of the top features.

    Attributes:
        features: the explained columns, in order.
        method: ``tree`` or ``kernel``.
        output: what was explained, e.g. ``prediction`` or ``probability of 1``.
        expected_value: the mean output over the baseline (what attributions start from).
        values: one row of attributions per explained row.
        predictions: the model's output for each explained row: ``expected_value + values.sum(1)``.
        partial_dependence: per top feature, its grid of values and the mean output at each.
    """

    features: tuple[str, ...]
    method: str
    output: str
    expected_value: float
    values: npt.NDArray[np.float64]
    predictions: npt.NDArray[np.float64]
    partial_dependence: tuple[dict[str, Any], ...] = ()

    def global_values(self) -> dict[str, float]:
        """Mean |SHAP| per feature: the global importance the cloud stack reports."""
        means = np.abs(self.values).mean(axis=0) if len(self.values) else np.zeros(len(self.features))
        return {name: float(v) for name, v in zip(self.features, means, strict=True)}

    def ranking(self) -> list[str]:
        """Features from the most to the least important."""
        importance = self.global_values()
        return sorted(importance, key=lambda f: (-importance[f], f))

    def local_frame(self) -> pd.DataFrame:
        """Per-row attributions, one column per feature (``explanations_shap/out.csv``)."""
        return pd.DataFrame(self.values, columns=list(self.features))

    def settings(self, *, max_rows: int | None, baseline_rows: int) -> dict[str, Any]:
        """What a stored report keeps of how it was made (an attribution-drift monitor explains the same way)."""
        return {"features": list(self.features), "method": self.method, "max_rows": max_rows,
                "baseline_rows": baseline_rows, "output": self.output}

    def analysis(self) -> dict[str, Any]:
        """The ``explanations`` section of ``analysis.json``.

        The SHAP part keeps the cloud stack's key ``kernel_shap`` whatever the method, which
        ``method`` inside records.
        """
        section: dict[str, Any] = {"kernel_shap": {"label0": {
            "global_shap_values": self.global_values(), "expected_value": self.expected_value,
            "method": self.method, "output": self.output, "rows": int(len(self.values)),
        }}}
        if self.partial_dependence:
            section["pdp"] = list(self.partial_dependence)
        return section


def explain(
    model: LoadedModel, data: pd.DataFrame, *, features: Sequence[str] | None = None,
    baseline: pd.DataFrame | None = None, method: str = "auto", max_rows: int | None = 1000,
    baseline_rows: int = 50, pdp_features: int = 3, pdp_grid: int = 20, seed: int = 0,
) -> Explanation:
    """SHAP attributions of ``model`` on ``data`` (global and per row) and partial dependence.

    Args:
        model: a loaded package (``slipway.models.load_model`` or ``registry.load_model``).
        data: the rows to explain; other columns (a label) are ignored.
        features: the model's input columns; by default those of its signature, else those it was
            fitted on (scikit-learn's ``feature_names_in_``), else all of ``data``'s.
        baseline: reference rows for the model-agnostic methods; by default a sample of ``data``.
        method: ``auto``, ``tree`` or ``kernel`` (see the module's docstring).
        max_rows: explain a seeded uniform sample of at most this many rows (None: all).
        baseline_rows: the size of the sampled baseline.
        pdp_features: how many top features get partial dependence (0: none).
        pdp_grid: at most this many values per partial-dependence grid.

    Example:
        >>> result = explain(load_model("abalone-model/"), abalone, features=["length", "shell weight"])
        >>> result.ranking()[0], round(result.expected_value, 2)  # doctest: +SKIP
        ('shell weight', 9.93)

    Raises:
        InvalidInput: for unknown columns or method, an empty table, or a non-numeric output.
        MissingExtra: when ``shap`` is not installed (``pip install 'slipway-mlops[clarify]'``).
    """
    if method not in METHODS:
        raise InvalidInput(f"method must be one of {', '.join(METHODS)}, not {method!r}", field="method")
    names = _features(model, data, features)
    rows = _sample(data[names], max_rows, seed)
    if rows.empty:
        raise InvalidInput("no rows to explain", field="data")
    reference = _sample((baseline if baseline is not None else data)[names], baseline_rows, seed + 1)
    lib = shap()
    output, predict = _output(model)
    codes = _Codes(rows, reference)
    explained: tuple[float, npt.NDArray[np.float64], str] | None = None
    if method in ("auto", "tree"):
        explained = _tree(lib, model, rows, reference, predict, strict=method == "tree")
    if explained is None:
        explained = _kernel(lib, codes.function(predict), codes.encode(rows), codes.encode(reference), seed)
    expected, values, used = explained
    predictions = expected + values.sum(axis=1)
    pdp = _partial_dependence(predict, rows, values, pdp_features, pdp_grid) if pdp_features > 0 else ()
    return Explanation(tuple(names), used, output, expected, values, predictions, tuple(pdp))


def read_rows(data: DataSource, *, format: str | None = None, limit: int = READ_ROWS) -> pd.DataFrame:
    """The first ``limit`` rows of a table, file or stream, as a DataFrame: what an explanation samples from.

    Raises:
        InvalidInput: if there are no rows.
    """
    if isinstance(data, pd.DataFrame):
        return data.head(limit)
    kept, taken = [], 0
    with open_source(data, format=format) as (_, batches):
        for batch in batches:
            kept.append(batch.slice(0, limit - taken))
            taken += min(len(batch), limit - taken)
            if taken >= limit:
                break
    if not taken:
        raise InvalidInput("the data has no rows", field="data")
    return pa.Table.from_batches(kept).to_pandas()


def _features(model: LoadedModel, data: pd.DataFrame, features: Sequence[str] | None) -> list[str]:
    if features is None:
        inputs = model.signature.inputs if model.signature is not None else None
        fitted = getattr(model.raw, "feature_names_in_", None)  # scikit-learn's API, XGBoost's and LightGBM's too
        if isinstance(inputs, tuple) and inputs and all(c.name in data for c in inputs):
            features = [c.name for c in inputs]
        elif fitted is not None and all(str(c) in data for c in fitted):
            features = [str(c) for c in fitted]
        else:
            features = list(data.columns)
    missing = [f for f in features if f not in data]
    if missing:
        raise InvalidInput(f"the data has no column {', '.join(map(repr, missing))}", field="features")
    if not features:
        raise InvalidInput("no features to explain", field="features")
    return list(features)


def _sample(frame: pd.DataFrame, rows: int | None, seed: int) -> pd.DataFrame:
    if rows is not None and len(frame) > rows:
        frame = frame.sample(rows, random_state=seed).sort_index()
    return frame.reset_index(drop=True)


Predict = Callable[[pd.DataFrame], npt.NDArray[np.float64]]


def _output(model: LoadedModel) -> tuple[str, Predict]:
    """What is explained, and the function computing it from a DataFrame of the features."""
    raw = model.raw
    classes = getattr(raw, "classes_", None)
    if model.flavor in _TREE_FLAVORS and hasattr(raw, "predict_proba") and classes is not None:
        def probability(frame: pd.DataFrame) -> npt.NDArray[np.float64]:
            return np.asarray(raw.predict_proba(frame), dtype=np.float64)[:, -1]
        return f"probability of {np.asarray(classes).tolist()[-1]}", probability

    def prediction(frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        return _numeric(model.predict(frame))
    return "prediction", prediction


def _numeric(found: Any) -> npt.NDArray[np.float64]:
    """The first output of a prediction, as floats (one value per row)."""
    if isinstance(found, dict):
        found = next(iter(found.values()))
    if isinstance(found, pd.DataFrame):
        found = found.iloc[:, 0].to_numpy()
    values = np.asarray(found)
    if values.ndim > 1:
        values = values.reshape(len(values), -1)[:, 0]
    try:
        return values.astype(np.float64)
    except (TypeError, ValueError):
        raise InvalidInput("the model's output is not numeric, so it cannot be explained", field="model") from None


def _tree(lib: Any, model: LoadedModel, rows: pd.DataFrame, reference: pd.DataFrame, predict: Predict,
          *, strict: bool) -> tuple[float, npt.NDArray[np.float64], str] | None:
    """TreeExplainer on the framework's model, if it takes it and the sums check out; else None."""
    numeric = all(pd.api.types.is_numeric_dtype(t) for t in rows.dtypes)
    try:
        if model.flavor not in _TREE_FLAVORS or not numeric:
            raise ValueError(f"the tree method needs a scikit-learn, XGBoost or LightGBM model on numeric "
                             f"features (flavor {model.flavor})")
        raw = model.raw
        if getattr(raw, "classes_", None) is not None and hasattr(raw, "predict_proba"):
            explainer = lib.TreeExplainer(raw, data=reference, model_output="probability",
                                          feature_perturbation="interventional")
        else:
            explainer = lib.TreeExplainer(raw)
        found = explainer(rows, check_additivity=False)
        values, base = np.asarray(found.values, dtype=np.float64), np.asarray(found.base_values, dtype=np.float64)
        if values.ndim == 3:  # one slice per class: the last class, as for the output
            values, base = values[..., -1], base[..., -1]
        expected = float(np.ravel(base)[0])
        head = rows.head(20)
        got, wanted = expected + values[: len(head)].sum(axis=1), predict(head)
        if not np.allclose(got, wanted, rtol=_ADDITIVITY, atol=_ADDITIVITY * max(1.0, float(np.ptp(wanted)))):
            raise ValueError("the tree explainer's attributions do not add up to this model's output")
        return expected, values, "tree"
    except Exception as exc:  # noqa: BLE001 - any failure of the fast path falls back to a general method
        if strict:
            raise InvalidInput(f"the tree method does not apply: {exc}", field="method") from None
        return None


def _kernel(lib: Any, function: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]],
            rows: npt.NDArray[np.float64], reference: npt.NDArray[np.float64],
            seed: int) -> tuple[float, npt.NDArray[np.float64], str]:
    explainer = lib.KernelExplainer(function, reference, seed=seed)
    values = np.asarray(explainer.shap_values(rows, silent=True, l1_reg=False), dtype=np.float64)
    return float(np.ravel(explainer.expected_value)[0]), values.reshape(len(rows), -1), "kernel"


class _Codes:
    """Numbers for every feature: text columns become category codes, turned back before predicting."""

    def __init__(self, rows: pd.DataFrame, reference: pd.DataFrame) -> None:
        self.columns = list(rows.columns)
        self.dtypes = rows.dtypes
        self.categories: dict[str, list[Any]] = {}
        for name in self.columns:
            if not pd.api.types.is_numeric_dtype(rows[name]) or pd.api.types.is_bool_dtype(rows[name]):
                values = pd.concat([rows[name], reference[name]]).astype(object)
                self.categories[name] = list(dict.fromkeys(values.tolist()))

    def encode(self, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        out = np.empty((len(frame), len(self.columns)), dtype=np.float64)
        for i, name in enumerate(self.columns):
            if name in self.categories:
                index = {v: k for k, v in enumerate(self.categories[name])}
                out[:, i] = [index[v] for v in frame[name].astype(object)]
            else:
                out[:, i] = frame[name].to_numpy(dtype=np.float64)
        return out

    def decode(self, codes: npt.NDArray[np.float64]) -> pd.DataFrame:
        columns: dict[str, Any] = {}
        for i, name in enumerate(self.columns):
            if name in self.categories:
                lookup = np.asarray(self.categories[name], dtype=object)
                columns[name] = pd.Series(lookup[codes[:, i].round().astype(int)]).astype(self.dtypes[name])
            else:
                columns[name] = codes[:, i].astype(self.dtypes[name])
        return pd.DataFrame(columns)

    def function(self, predict: Predict) -> Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]:
        return lambda codes: predict(self.decode(np.atleast_2d(codes)))


def _partial_dependence(predict: Predict, rows: pd.DataFrame, values: npt.NDArray[np.float64], top: int,
                        grid: int) -> list[dict[str, Any]]:
    """Mean output with each top feature set to each grid value, over (at most 500 of) the rows."""
    importance = np.abs(values).mean(axis=0)
    order = sorted(range(len(rows.columns)), key=lambda i: (-importance[i], rows.columns[i]))[:top]
    sample = rows.head(500)
    found = []
    for i in order:
        name = rows.columns[i]
        column = rows[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            points = np.unique(np.quantile(column.to_numpy(dtype=np.float64), np.linspace(0, 1, grid)))
            grid_values: list[Any] = [p.item() for p in points.astype(column.dtype)] if column.dtype.kind in "iu" \
                else points.tolist()
            kind = "numerical"
        else:
            grid_values = column.value_counts().index[:grid].tolist()
            kind = "categorical"
        stacked = pd.concat([sample.assign(**{name: v}) for v in grid_values], ignore_index=True)
        stacked[name] = stacked[name].astype(column.dtype)
        means = predict(stacked).reshape(len(grid_values), len(sample)).mean(axis=1)
        found.append({"feature_name": name, "data_type": kind, "feature_values": grid_values,
                      "model_predictions": [[float(m)] for m in means], "label_headers": ["label0"]})
    return found
