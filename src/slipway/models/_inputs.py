"""Model input data: what ``predict`` accepts, and the input example's JSON file."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from slipway.errors import InvalidInput
from slipway.models._flavor import ModelInput


def as_model_input(data: object) -> ModelInput:
    """Return ``data`` as a DataFrame or an array, the two shapes every flavor takes.

    A DataFrame or an array passes as is; a dict of lists (columns) or a list of dicts (records),
    the shapes JSON bodies come in, becomes a DataFrame.

    Raises:
        InvalidInput: for anything else, or a dict/list pandas cannot make a table of.
    """
    if isinstance(data, pd.DataFrame | np.ndarray):
        return data
    records = isinstance(data, list) and bool(data) and all(isinstance(row, Mapping) for row in data)
    if isinstance(data, Mapping) or records:
        try:
            return pd.DataFrame(data)
        except ValueError as exc:
            raise InvalidInput(f"cannot make a table of the input: {exc}", field="data") from exc
    raise InvalidInput(
        f"cannot predict on {type(data).__name__}; pass a pandas DataFrame, a NumPy array, "
        "a dict of column lists or a list of record dicts",
        field="data",
    )


def example_to_json(example: ModelInput) -> str:
    """Serialise an input example with its dtypes, so it reads back as the same frame or array.

    Raises:
        InvalidInput: when the values have no JSON form (bytes, Python objects).
    """
    body: dict[str, Any]
    try:
        if isinstance(example, pd.DataFrame):
            body = {
                "type": "dataframe",
                "columns": [str(c) for c in example.columns],
                "dtypes": [str(t) for t in example.dtypes],
                "data": json.loads(example.to_json(orient="values", date_format="iso", date_unit="ns")),
            }
        else:
            body = {"type": "ndarray", "dtype": str(example.dtype), "data": example.tolist()}
        return json.dumps(body)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInput(
            f"the input example cannot be stored as JSON: {exc}", field="input_example"
        ) from exc


def example_from_json(text: str) -> ModelInput:
    """Read an input example written by :func:`example_to_json`.

    Raises:
        InvalidInput: when the file is not such an example.
    """
    try:
        body = json.loads(text)
        if body["type"] == "dataframe":
            frame = pd.DataFrame(body["data"], columns=body["columns"])
            return frame.astype(dict(zip(body["columns"], body["dtypes"], strict=True)))
        if body["type"] == "ndarray":
            return np.asarray(body["data"], dtype=body["dtype"])
        raise ValueError(f"unknown example type {body['type']!r}")
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(
            f"input_example.json is not a Slipway input example: {exc}", field="input_example"
        ) from exc
