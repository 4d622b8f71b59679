"""Model signatures: the columns (or tensor) a model takes and returns, and the check of an input."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from slipway.errors import InvalidInput
from slipway.models._flavor import ModelInput
from slipway.models._inputs import as_model_input

ColumnType = Literal["double", "float", "long", "integer", "boolean", "string", "datetime", "binary"]

# Any number may become floating point: JSON numbers carry no width, so a served request holds
# float64 or int64 whatever the model was trained on. Nothing narrows to an integer or a boolean.
_WIDENS_TO: dict[str, frozenset[str]] = {
    "integer": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "double": frozenset({"float"}),
}
_NUMPY_DTYPES: dict[str, str] = {
    "double": "float64",
    "float": "float32",
    "long": "int64",
    "integer": "int32",
    "boolean": "bool",
}
_INFERRED: dict[str, ColumnType] = {
    "string": "string",
    "empty": "string",
    "bytes": "binary",
    "boolean": "boolean",
    "integer": "long",
    "floating": "double",
    "mixed-integer-float": "double",
    "datetime": "datetime",
    "datetime64": "datetime",
}
_FLOATS = ("double", "float")


class ColumnSpec(BaseModel):
    """One input or output column.

    Attributes:
        name: the column's name; ``"0"``, ``"1"``… for columns of an array.
        type: the column's type.
        nullable: whether missing values are allowed. Not enforced for ``double``/``float``
            columns, where NaN is an ordinary value that most models handle.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    type: ColumnType
    nullable: bool = False


class TensorSpec(BaseModel):
    """An array input or output that is not a table (one dimension, or more than two).

    Attributes:
        dtype: the NumPy dtype name, such as ``"float32"``.
        shape: the size of each dimension; ``-1`` where any size goes (always the first one).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    dtype: str
    shape: tuple[int, ...] = Field(min_length=1)

    @field_validator("dtype")
    @classmethod
    def _known_dtype(cls, value: str) -> str:
        try:
            np.dtype(value)
        except TypeError as exc:
            raise ValueError(f"{value!r} is not a NumPy dtype") from exc
        return value


Schema = tuple[ColumnSpec, ...] | TensorSpec


class Signature(BaseModel):
    """What a model takes and returns, so a caller's input can be checked before it reaches the model.

    Example:
        >>> import pandas as pd
        >>> sig = infer_signature(pd.DataFrame({"length": [0.45], "rings": [15]}))
        >>> [(c.name, c.type) for c in sig.inputs]
        [('length', 'double'), ('rings', 'long')]
        >>> sig.validate({"rings": [7], "length": [0.3]}).columns.tolist()
        ['length', 'rings']

    Attributes:
        inputs: the input columns, or the input tensor.
        outputs: the output columns or tensor, when known.
        positional: the inputs came from an array, so columns are matched by position and
            :meth:`validate` returns an array; otherwise columns are matched by name.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    inputs: Schema
    outputs: Schema | None = None
    positional: bool = False

    def validate(self, data: object) -> ModelInput:  # type: ignore[override]  # BaseModel.validate is pydantic v1's
        """Check ``data`` against the inputs and return it ready for the model.

        Columns are selected and ordered as the signature lists them (extra columns are dropped)
        and numbers are widened to the signature's type (an int column for a ``double`` input).

        Raises:
            InvalidInput: naming (in ``field``) the missing column, or the column with a wrong
                type or unexpected missing values; ``field="data"`` for a wrong shape.
        """
        values = as_model_input(data)
        if isinstance(self.inputs, TensorSpec):
            return _check_tensor(self.inputs, values)
        checked = _check_columns(self.inputs, self._as_frame(values, self.inputs))
        return checked.to_numpy() if self.positional else checked

    def _as_frame(self, data: ModelInput, columns: tuple[ColumnSpec, ...]) -> pd.DataFrame:
        names = [column.name for column in columns]
        if isinstance(data, np.ndarray):
            if data.ndim != 2 or data.shape[1] != len(names):
                raise InvalidInput(
                    f"expected a 2-D array of {len(names)} columns, got shape {data.shape}", field="data"
                )
            return pd.DataFrame(data, columns=names).infer_objects()
        if self.positional:
            if data.shape[1] != len(names):
                raise InvalidInput(f"expected {len(names)} columns, got {data.shape[1]}", field="data")
            return data.set_axis(names, axis=1)
        return data


def infer_signature(input_example: object, output_example: object = None) -> Signature:
    """Describe a model's inputs (and outputs) from an example of each.

    A DataFrame (or a dict of lists, or a list of dicts) gives named columns; a 2-D array gives
    positional columns ``"0".."n-1"``; an array of one dimension or more than two gives a tensor
    shape with the first (batch) dimension free.

    Raises:
        InvalidInput: when a column holds values no column type describes (mixed types, objects).
    """
    inputs = as_model_input(input_example)
    return Signature(
        inputs=_schema(inputs),
        outputs=None if output_example is None else _schema(as_model_input(output_example)),
        positional=isinstance(inputs, np.ndarray) and inputs.ndim == 2,
    )


def _schema(data: ModelInput) -> Schema:
    if isinstance(data, np.ndarray):
        if data.ndim == 0:
            raise InvalidInput("an example must hold at least one row, not a scalar", field="input_example")
        if data.ndim != 2:
            return TensorSpec(dtype=str(data.dtype), shape=(-1, *data.shape[1:]))
        data = pd.DataFrame(data)
    if data.columns.duplicated().any():
        raise InvalidInput("the example has duplicate column names", field="input_example")
    specs = []
    for label in data.columns:
        values = data[label]
        kind = _column_type(values)
        if kind is None:
            inferred = pd.api.types.infer_dtype(values, skipna=True)
            raise InvalidInput(
                f"column {label!r} holds {inferred} values, which no column type describes", field=str(label)
            )
        specs.append(ColumnSpec(name=str(label), type=kind, nullable=bool(values.isna().any())))
    return tuple(specs)


def _dtype_type(dtype: Any) -> ColumnType | None:
    """The column type of a concrete dtype; ``None`` for object columns, whose values decide."""
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer" if dtype.itemsize <= 4 else "long"
    if pd.api.types.is_float_dtype(dtype):
        return "float" if dtype.itemsize <= 4 else "double"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    return None


def _column_type(values: pd.Series | pd.Index | np.ndarray) -> ColumnType | None:
    if isinstance(values.dtype, pd.CategoricalDtype):
        return _column_type(values.dtype.categories)
    kind = _dtype_type(values.dtype)
    if kind is None:
        flat = values.ravel() if isinstance(values, np.ndarray) else values
        kind = _INFERRED.get(pd.api.types.infer_dtype(flat, skipna=True))
    return kind


def _widens(have: ColumnType | None, want: ColumnType | None) -> bool:
    return have is not None and (have == want or want in _WIDENS_TO.get(have, frozenset()))


def _check_columns(columns: tuple[ColumnSpec, ...], frame: pd.DataFrame) -> pd.DataFrame:
    labels = {str(label): label for label in frame.columns}
    if len(labels) != frame.shape[1]:
        raise InvalidInput("the input has duplicate column names", field="data")
    casts: dict[str, str] = {}
    for spec in columns:
        if spec.name not in labels:
            raise InvalidInput(f"missing column {spec.name!r}", field=spec.name)
        values = frame[labels[spec.name]]
        if not spec.nullable and spec.type not in _FLOATS and values.isna().any():
            raise InvalidInput(
                f"column {spec.name!r} has missing values, which its signature does not allow",
                field=spec.name,
            )
        have = _column_type(values)
        if not _widens(have, spec.type):
            raise InvalidInput(
                f"column {spec.name!r} has type {have or values.dtype}, expected {spec.type}", field=spec.name
            )
        if spec.type in _NUMPY_DTYPES and (have != spec.type or values.dtype == object):
            casts[spec.name] = _NUMPY_DTYPES[spec.type]
    names = [spec.name for spec in columns]
    selected = frame[[labels[name] for name in names]].set_axis(names, axis=1)
    return selected.astype(casts) if casts else selected


def _check_tensor(spec: TensorSpec, data: ModelInput) -> np.ndarray:
    array = data.to_numpy() if isinstance(data, pd.DataFrame) else data
    fits = array.ndim == len(spec.shape) and all(
        want in (-1, got) for want, got in zip(spec.shape, array.shape, strict=True)
    )
    if not fits:
        raise InvalidInput(
            f"expected a tensor of shape {spec.shape} (-1: any size), got {array.shape}", field="data"
        )
    expected = np.dtype(spec.dtype)
    if array.dtype == expected:
        return array
    if not _widens(_column_type(array), _dtype_type(expected)):
        raise InvalidInput(f"expected a {spec.dtype} tensor, got {array.dtype}", field="data")
    return array.astype(expected)
