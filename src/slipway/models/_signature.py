"""Model signatures: the columns (or tensor) a model takes and returns, the inference parameters it
takes beside them, and the check of an input."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

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

ParamType = Literal["double", "float", "long", "integer", "boolean", "string", "datetime", "object"]


class ParamSpec(BaseModel):
    """One inference parameter a model takes beside its input (MLflow's ``params``), with its default.

    A request may set it (``{"dataframe_split": ..., "params": {"temperature": 0.2}}``); a parameter
    left out takes its default, and a name the model does not declare is refused.

    Attributes:
        name: the parameter's name.
        type: its type; ``object`` takes any JSON value as it is.
        default: the value when a call does not set it.
        shape: None for one value, ``(-1,)`` for a list of values.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    type: ParamType
    default: Any = None
    shape: tuple[int, ...] | None = None

    @field_validator("shape")
    @classmethod
    def _known_shape(cls, value: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if value not in (None, (-1,)):
            raise ValueError("shape must be None (one value) or (-1,) (a list of values)")
        return value

    def check(self, value: Any) -> Any:
        """``value`` as the model takes it (an int for a double parameter becomes a float).

        Raises:
            InvalidInput: (``field="params.<name>"``) for a value of another type or shape.
        """
        if self.shape is None:
            return self._one(value)
        if not isinstance(value, list | tuple):
            raise InvalidInput(f"parameter {self.name!r} takes a list of {self.type} values, not {value!r}",
                               field=f"params.{self.name}")
        return [self._one(v) for v in value]

    def _one(self, value: Any) -> Any:
        converted = _param_value(self.type, value)
        if converted is _REFUSED:
            raise InvalidInput(f"parameter {self.name!r} takes a {self.type} value, not {value!r}",
                               field=f"params.{self.name}")
        return converted


_REFUSED = object()


def _param_value(kind: str, value: Any) -> Any:
    """``value`` as a parameter of type ``kind``, or ``_REFUSED``."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind in _FLOATS:
        return float(value) if number and math.isfinite(value) else _REFUSED
    if kind in ("long", "integer"):
        return value if isinstance(value, int) and not isinstance(value, bool) else _REFUSED
    if kind == "boolean":
        return value if isinstance(value, bool) else _REFUSED
    if kind == "string":
        return value if isinstance(value, str) else _REFUSED
    if kind == "datetime":
        if isinstance(value, dt.datetime):
            return value
        try:
            return dt.datetime.fromisoformat(value) if isinstance(value, str) else _REFUSED
        except ValueError:
            return _REFUSED
    return value  # object: any JSON value


def check_params(specs: tuple[ParamSpec, ...], given: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every declared parameter's value for one call: the given ones checked, defaults for the rest.

    Raises:
        InvalidInput: (``field="params.<name>"``) for a name the model does not declare or a value
            of the wrong type.
    """
    given = dict(given or {})
    declared = {spec.name: spec for spec in specs}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        names = ", ".join(declared) or "none"
        raise InvalidInput(f"the model takes no parameter {unknown[0]!r}; it takes: {names}",
                           field=f"params.{unknown[0]}")
    return {name: spec.check(given[name]) if name in given else spec.default for name, spec in declared.items()}


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
        params: the inference parameters the model takes beside its input, if any (written to
            the manifest only when there are some).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    inputs: Schema
    outputs: Schema | None = None
    positional: bool = False
    params: tuple[ParamSpec, ...] | None = None

    @model_serializer(mode="wrap")
    def _without_empty_params(self, handler: SerializerFunctionWrapHandler, _: SerializationInfo) -> Any:
        out = handler(self)
        if isinstance(out, dict) and out.get("params") is None:
            out.pop("params", None)  # manifests of models without parameters stay as they were
        return out

    def validate(self, data: object) -> ModelInput:  # type: ignore[override]  # BaseModel.validate is pydantic v1's
        """Check ``data`` against the inputs and return it ready for the model.

        Columns are selected and ordered as the signature lists them (extra columns are dropped)
        and numbers are widened to the signature's type (an int column for a ``double`` input).

        Raises:
            InvalidInput: naming (in ``field``) the missing column, or the column with a wrong
                type or unexpected missing values; ``field="data"`` for a wrong shape.
        """
        return SignatureChecker(self).validate(data)

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


@dataclass(frozen=True)
class _Plan:
    """How a frame of one layout (column labels and dtypes) becomes the model's input.

    ``positions`` are the frame's columns in signature order. ``dtype`` is set when every frame
    column has a plain NumPy numeric dtype and every signature column wants the same one: the
    frame is then converted with one NumPy selection instead of pandas column by column.
    """

    labels: list[Hashable]
    names: list[str]
    casts: dict[str, str]
    positions: list[int]
    dtype: np.dtype[Any] | None


class SignatureChecker:
    """:meth:`Signature.validate`, with the checks of each frame layout worked out once.

    A served endpoint sees the same columns and dtypes on nearly every request. For a layout of
    plain NumPy numbers (ints, floats, booleans, which cannot hold missing values where the
    signature forbids them) the outcome of the checks depends on the layout alone, so it is
    kept, and later frames of that layout are only selected and converted. Other layouts (object,
    datetime or nullable extension columns) are checked value by value every time.

    Thread-safe: plans are immutable and the cache is a dict written by single assignments.

    Args:
        signature: what the model takes.
        arrays: return a NumPy array of the signature's columns, in order, instead of a
            DataFrame when the columns share one NumPy dtype (the model accepts either; see
            ``Flavor.accepts_arrays``).
    """

    _LIMIT = 64  # layouts kept; past it, new layouts are checked without being kept

    def __init__(self, signature: Signature, *, arrays: bool = False) -> None:
        self.signature = signature
        self._arrays = arrays or signature.positional
        self._plans: dict[tuple[object, ...], _Plan] = {}

    def validate(self, data: object) -> ModelInput:
        """See :meth:`Signature.validate`."""
        values = as_model_input(data)
        inputs = self.signature.inputs
        if isinstance(inputs, TensorSpec):
            return _check_tensor(inputs, values)
        # A 2-D array of plain numbers is checked by its dtype and width alone, without making it a frame.
        array_key = ("array", values.dtype, values.shape[1]) if _plain_array(values) else None
        plan = self._plans.get(array_key) if array_key is not None else None
        if plan is not None and plan.dtype is not None:
            array = values.astype(plan.dtype)  # a copy, as the frame's conversion gives
            return array if self._arrays else pd.DataFrame(array, columns=plan.names)
        frame = self.signature._as_frame(values, inputs)
        dtypes = tuple(frame.dtypes)
        key = (tuple(frame.columns), dtypes)
        plan = self._plans.get(key)
        if plan is None:
            plan = _plan(inputs, frame, dtypes)
            if len(self._plans) < self._LIMIT and all(_plain_number(t) for t in dtypes):
                self._plans[key] = plan
        if array_key is not None and self._plans.get(key) is plan:  # the frame was made of the array, so
            self._plans[array_key] = plan  # its columns are the signature's, in order
        if plan.dtype is not None:
            array = frame.to_numpy(dtype=plan.dtype)[:, plan.positions]
            return array if self._arrays else pd.DataFrame(array, columns=plan.names)
        selected = frame[plan.labels].set_axis(plan.names, axis=1)
        checked = selected.astype(plan.casts) if plan.casts else selected
        return checked.to_numpy() if self.signature.positional else checked


def _plain_number(dtype: Any) -> bool:
    return isinstance(dtype, np.dtype) and dtype.kind in "iufb"


def _plain_array(values: ModelInput) -> bool:
    return isinstance(values, np.ndarray) and values.ndim == 2 and _plain_number(values.dtype)


def _plan(columns: tuple[ColumnSpec, ...], frame: pd.DataFrame, dtypes: tuple[Any, ...]) -> _Plan:
    """Check ``frame`` against ``columns`` and say how to convert it (see :class:`_Plan`)."""
    casts = _check_columns(columns, frame)
    labels = {str(label): label for label in frame.columns}
    names = [spec.name for spec in columns]
    positions = [frame.columns.get_loc(labels[name]) for name in names]
    dtype = None
    if all(_plain_number(t) for t in dtypes):
        wanted = {np.dtype(casts.get(name) or dtypes[i]) for name, i in zip(names, positions, strict=True)}
        dtype = wanted.pop() if len(wanted) == 1 else None
    return _Plan([labels[n] for n in names], names, casts, positions, dtype)


def infer_signature(
    input_example: object, output_example: object = None, params: Mapping[str, Any] | None = None
) -> Signature:
    """Describe a model's inputs (and outputs) from an example of each, and its parameters from their defaults.

    A DataFrame (or a dict of lists, or a list of dicts) gives named columns; a 2-D array gives
    positional columns ``"0".."n-1"``; an array of one dimension or more than two gives a tensor
    shape with the first (batch) dimension free. ``params`` (name -> default, as MLflow's
    ``infer_signature`` takes them) declares the inference parameters the model's ``predict`` takes.

    Example:
        >>> infer_signature({"x": [1.0]}, params={"scale": 2.0}).params[0]
        ParamSpec(name='scale', type='double', default=2.0, shape=None)

    Raises:
        InvalidInput: when a column holds values no column type describes (mixed types, objects),
            or a parameter's default has no parameter type.
    """
    inputs = as_model_input(input_example)
    return Signature(
        inputs=_schema(inputs),
        outputs=None if output_example is None else _schema(as_model_input(output_example)),
        positional=isinstance(inputs, np.ndarray) and inputs.ndim == 2,
        params=None if not params else tuple(_param_spec(name, value) for name, value in params.items()),
    )


def _param_spec(name: str, default: Any) -> ParamSpec:
    values = default if isinstance(default, list | tuple) else [default]
    kinds = {_PARAM_TYPES.get(type(v)) for v in values}
    kind = kinds.pop() if len(kinds) == 1 else None
    if kind is None:
        raise InvalidInput(f"parameter {name!r}: {default!r} is no number, text, boolean or time (or a list of one)",
                           field=f"params.{name}")
    shape = (-1,) if isinstance(default, list | tuple) else None
    return ParamSpec(name=name, type=kind, default=list(default) if shape else default, shape=shape)


_PARAM_TYPES: dict[type, ParamType] = {float: "double", int: "long", bool: "boolean", str: "string",
                                       dt.datetime: "datetime"}


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


def _check_columns(columns: tuple[ColumnSpec, ...], frame: pd.DataFrame) -> dict[str, str]:
    """Check every column ``columns`` names; the NumPy dtype each must be cast to."""
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
    return casts


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
