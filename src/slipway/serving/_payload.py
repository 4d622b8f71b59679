"""Request bodies in, predictions out: the input shapes MLflow's scoring server takes, and CSV.

JSON bodies hold exactly one of these keys:

* ``dataframe_split``: ``{"columns": [...], "data": [[...], ...]}`` (pandas' ``split`` orient);
* ``dataframe_records``: ``[{"col": value, ...}, ...]``;
* ``instances``: a list of records, or a list of rows / tensors;
* ``inputs``: a dict of column lists, a list of records, or a list of rows / tensors.

A JSON body may also hold ``params``, an object of inference parameters for a model that declares
them (MLflow's scoring protocol). A ``text/csv`` body is a table with a header row, or rows of
values alone (``text/csv; header=absent``, RFC 4180's parameter, or a first row of numbers only: what
the cloud stack's CSV serializer sends), matched to the signature's columns by position. What comes out
is a DataFrame or an array for :meth:`LoadedModel.predict`, which checks it against the signature,
and the parameters, which it checks against the model's.

The common request, ``dataframe_split`` rows of numbers alone, is kept as :class:`Rows` (its
column names and one NumPy array) rather than a DataFrame: building a DataFrame costs more than a
small model's prediction. :func:`model_input` hands each model the array itself when the names
are its signature's columns in order (what the DataFrame would have been reduced to), the
DataFrame otherwise.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, cast

import numpy as np
import pandas as pd

from slipway._limits import check_json_depth
from slipway.errors import InvalidInput
from slipway.models import ModelInput, Signature, TensorSpec

SHAPES = ("dataframe_split", "dataframe_records", "instances", "inputs")


@dataclass(frozen=True, eq=False)
class Rows:
    """A table whose values share one NumPy dtype: its column names and a 2-D array of its rows.

    What ``pd.DataFrame(values, columns=list(columns))`` would hold, without building it (see the
    module's docstring); :meth:`frame` builds it for a model that needs it.
    """

    columns: tuple[Any, ...]
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.values)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.values, columns=list(self.columns))


# A request's input as parsed: a model input, or rows that become one per model (model_input).
Payload: TypeAlias = ModelInput | Rows


def model_input(data: Payload, signature: Signature | None) -> ModelInput:
    """``data`` as the model of ``signature`` takes it: :class:`Rows` become their array when the
    signature matches columns by position, or names exactly their columns in order (the model then
    checks and answers the array as it would the DataFrame), and a DataFrame otherwise."""
    if not isinstance(data, Rows):
        return data
    inputs = signature.inputs if signature is not None else None
    if inputs is None or isinstance(inputs, TensorSpec):
        return data.frame()
    if signature is not None and (signature.positional or data.columns == tuple(c.name for c in inputs)):
        return data.values
    return data.frame()


def parse_body(body: bytes, content_type: str) -> tuple[Payload, dict[str, Any] | None]:
    """The model input a request carries, and its inference parameters (None when it sets none).

    Raises:
        InvalidInput: (``field="data"``, ``"params"`` or the shape's key) for a body that is none
            of the shapes, parameters that are not an object, or JSON nested deeper than
            ``MAX_JSON_DEPTH``.
    """
    kind, _, options = content_type.partition(";")
    kind = kind.strip().lower()
    if kind == "text/csv":
        return _csv(body, "header=absent" in options.replace(" ", "").lower()), None
    if kind not in ("application/json", ""):
        raise InvalidInput(f"send application/json or text/csv, not {kind!r}", field="content-type")
    check_json_depth(body, "data")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise InvalidInput(f"the body is not JSON: {exc}", field="data") from None
    keys = [k for k in SHAPES if isinstance(payload, dict) and k in payload]
    if len(keys) != 1:
        raise InvalidInput(f"the JSON body must hold exactly one of {', '.join(SHAPES)}", field="data")
    params = payload.get("params")
    if params is not None and not isinstance(params, dict):
        raise InvalidInput("params must be an object of parameter names and values", field="params")
    return _from_json(keys[0], payload[keys[0]]), params or None


def _csv(body: bytes, absent: bool) -> ModelInput:
    """A CSV table: named columns from its header row, or (no header) an array whose columns the
    signature names by position."""
    first = body.split(b"\n", 1)[0].decode("utf-8", "replace")
    headerless = absent or (first.strip() != "" and all(_is_number(cell) for cell in first.split(",")))
    try:
        frame = pd.read_csv(io.BytesIO(body), header=None if headerless else "infer")
    except (ValueError, pd.errors.ParserError) as exc:
        raise InvalidInput(f"the CSV body cannot be read: {exc}", field="data") from None
    return frame.to_numpy() if headerless else frame


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _from_json(key: str, value: Any) -> Payload:
    if key == "dataframe_split":
        if not isinstance(value, Mapping) or "columns" not in value or "data" not in value:
            raise InvalidInput("dataframe_split needs 'columns' and 'data'", field=key)
        fast = _uniform_rows(value["data"], value["columns"])
        if fast is not None:
            return fast
        return _table(key, lambda: pd.DataFrame(value["data"], columns=value["columns"]))
    if key == "dataframe_records" or (isinstance(value, list) and value and isinstance(value[0], Mapping)):
        if not isinstance(value, list) or not all(isinstance(r, Mapping) for r in value):
            raise InvalidInput(f"{key} must be a list of records (objects)", field=key)
        return _table(key, lambda: pd.DataFrame.from_records(value))
    if isinstance(value, Mapping):  # columns: {"a": [1, 2], "b": [3, 4]}
        return _table(key, lambda: pd.DataFrame({k: v if isinstance(v, list) else [v] for k, v in value.items()}))
    if isinstance(value, list) and value:
        try:
            return np.asarray(value)
        except ValueError as exc:
            raise InvalidInput(f"{key} is not a rectangular array: {exc}", field=key) from None
    raise InvalidInput(f"{key} must be a non-empty list or an object of columns", field=key)


_UNIFORM = {float: np.float64, int: np.int64, bool: np.bool_}


def _uniform_rows(rows: Any, columns: Any) -> Rows | None:
    """Rows whose values are all floats (or all ints, or all booleans) as :class:`Rows` of that dtype.

    pandas would give every column that same dtype, but builds a list-of-rows frame column by
    column, at many times the cost; the common single-row request of numbers takes this path.
    None for anything else (mixed types, ragged rows), which the general constructor handles.
    """
    if not isinstance(rows, list) or not rows or not isinstance(columns, list) or not isinstance(rows[0], list):
        return None
    kind = type(rows[0][0]) if rows[0] else None
    width = len(columns)
    if kind not in _UNIFORM or not all(
        type(row) is list and len(row) == width and all(type(v) is kind for v in row) for row in rows
    ):
        return None
    try:
        values: np.ndarray = np.array(rows, dtype=_UNIFORM[kind])
    except (ValueError, OverflowError):  # an int past 64 bits
        return None
    return Rows(tuple(columns), values)


def _table(key: str, build: Any) -> pd.DataFrame:
    try:
        frame: pd.DataFrame = build()
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"{key} cannot be made a table: {exc}", field=key) from None
    return frame


def to_jsonable(value: Any) -> Any:
    """A prediction (array, Series, DataFrame, list of them) as plain JSON values."""
    if isinstance(value, pd.DataFrame):
        return json.loads(value.to_json(orient="records"))
    if isinstance(value, pd.Series | np.ndarray):
        return np.asarray(value).tolist()  # NaN stays NaN: the response encoder writes it as null
    return value


def input_as_split(data: Payload) -> dict[str, Any]:
    """A request's input as ``dataframe_split`` JSON, the shape captured records keep."""
    if isinstance(data, Rows):
        return {"columns": [str(c) for c in data.columns], "data": data.values.tolist()}
    if isinstance(data, pd.DataFrame):
        return {"columns": [str(c) for c in data.columns], "data": json.loads(data.to_json(orient="values"))}
    return {"columns": None, "data": to_jsonable(data)}


def shape_key(data: Payload) -> tuple[object, ...]:
    """Inputs with equal keys stack into one: the same columns and types, or the same row shape."""
    if isinstance(data, Rows):
        return ("rows", data.columns, data.values.dtype.str)
    if isinstance(data, pd.DataFrame):
        return ("frame", tuple(map(str, data.columns)), tuple(map(str, data.dtypes)))
    return ("array", data.shape[1:], data.dtype.str)


def stack(inputs: Sequence[Payload]) -> Payload:
    """Several requests' inputs of one :func:`shape_key` as one, to predict in one call."""
    if len(inputs) == 1:
        return inputs[0]
    if isinstance(inputs[0], Rows):
        return Rows(inputs[0].columns, np.concatenate([cast(Rows, one).values for one in inputs]))
    if isinstance(inputs[0], pd.DataFrame):
        return pd.concat(inputs, ignore_index=True)  # type: ignore[arg-type]
    return np.concatenate(inputs)  # type: ignore[arg-type]


def split(predictions: Any, sizes: Sequence[int]) -> list[Any]:
    """Stacked predictions cut back into each request's rows."""
    if len(sizes) == 1:
        return [predictions]
    bounds = np.cumsum([0, *sizes])
    rows = predictions.iloc if isinstance(predictions, pd.DataFrame | pd.Series) else np.asarray(predictions)
    return [rows[start:end] for start, end in zip(bounds[:-1], bounds[1:], strict=True)]
