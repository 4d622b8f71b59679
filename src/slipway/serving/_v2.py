"""The Open Inference Protocol (KServe V2) over the data plane: typed tensors in, typed tensors out.

This module only translates, with no web framework: a V2 inference request becomes the same model
input a scoring-JSON request does (so routing, batching, capture and signature checks are shared),
and a model's output becomes V2 output tensors. The routes live beside the other inference routes
(:mod:`slipway.serving._app`).

Names: a V2 *model* is an endpoint, and its *versions* are the endpoint's variants, so
``/v2/models/abalone/versions/blue/infer`` asks the variant ``blue`` (as the variant header does)
and ``/v2/models/abalone/infer`` follows the traffic split.

Inputs are read in one of two layouts against the model's signature:

* **columns**: one tensor per signature column, named after it, of shape ``[n]`` or ``[n, 1]``
  (mixed types, strings as ``BYTES``: how a table travels);
* **rows**: one tensor of shape ``[n, k]`` whose ``k`` values are the signature's columns in
  order (all of one type), or, for a model that takes a tensor, that tensor whatever its name.

Tensor data may be flat (row-major) or nested, or sent in the binary extension (the
``Inference-Header-Content-Length`` header and ``binary_data_size`` parameters), which is what
``tritonclient`` does by default. A model's output is the tensor ``predictions``, or one tensor per
column when it answers a table (or a dict of arrays). ``outputs`` selects among them, and asks for
each in JSON or binary.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from slipway._limits import check_json_depth
from slipway.errors import InvalidInput
from slipway.models import ColumnSpec, ModelInput, Signature, TensorSpec

HEADER_LENGTH = "inference-header-content-length"
PREDICTIONS = "predictions"
BINARY_EXTENSION = "binary_tensor_data"
_MAX_INFLATED = 256 << 20  # a compressed body may not inflate past this

# V2 datatypes and NumPy's, both ways (BYTES: Python str/bytes objects).
_DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
_COLUMN_DATATYPES = {
    "double": "FP64", "float": "FP32", "long": "INT64", "integer": "INT32", "boolean": "BOOL",
    "string": "BYTES", "binary": "BYTES", "datetime": "BYTES",
}


def datatype_of(dtype: np.dtype[Any]) -> str:
    """The V2 datatype of a NumPy dtype: strings, objects and datetimes travel as ``BYTES``."""
    for name, known in _DTYPES.items():
        if known == dtype and name != "BYTES":
            return name
    return "BYTES"


@dataclass(frozen=True)
class RequestedOutput:
    """An output the caller asked for, and whether in the binary extension."""

    name: str
    binary: bool | None = None  # None: as the request's binary_data_output says


@dataclass(frozen=True)
class InferRequest:
    """A parsed V2 inference request.

    Attributes:
        id: the caller's request id, echoed in the answer.
        data: the model input, ready for routing and the signature check.
        outputs: the outputs asked for (None: all of them).
        binary_output: the request-level ``binary_data_output`` parameter.
        parameters: the other request-level parameters, passed on untouched.
    """

    id: str | None
    data: ModelInput
    outputs: tuple[RequestedOutput, ...] | None = None
    binary_output: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------------- requests


def parse_infer(body: bytes, headers: Mapping[str, str], signature: Signature | None) -> InferRequest:
    """Read a V2 inference request for a model with ``signature``.

    Raises:
        InvalidInput: naming the part of the request that is wrong (``inputs[0].shape``...).
    """
    body = _inflate(body, headers.get("content-encoding", ""))
    header_length = headers.get(HEADER_LENGTH)
    if header_length is not None:
        try:
            split_at = int(header_length)
        except ValueError:
            raise InvalidInput(f"{HEADER_LENGTH} must be a byte count, not {header_length!r}",
                               field=HEADER_LENGTH) from None
        if not 0 <= split_at <= len(body):
            raise InvalidInput(f"{HEADER_LENGTH} {split_at} is past the body's {len(body)} bytes", field=HEADER_LENGTH)
        head, binary = body[:split_at], body[split_at:]
    else:
        head, binary = body, b""
    check_json_depth(head, "body")
    try:
        payload = json.loads(head)
    except ValueError as exc:
        raise InvalidInput(f"the request is not JSON: {exc}", field="body") from None
    if not isinstance(payload, dict):
        raise InvalidInput("the request must be a JSON object with 'inputs'", field="body")
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInput("'inputs' must be a non-empty list of tensors", field="inputs")
    tensors: dict[str, np.ndarray] = {}
    offset = 0
    for i, spec in enumerate(inputs):
        name, array, offset = _tensor(spec, f"inputs[{i}]", binary, offset)
        if name in tensors:
            raise InvalidInput(f"two inputs are named {name!r}", field=f"inputs[{i}].name")
        tensors[name] = array
    if offset != len(binary):
        raise InvalidInput(f"{len(binary) - offset} bytes of binary data follow the inputs that claim them",
                           field="binary_data_size")
    parameters = _parameters(payload.get("parameters"), "parameters")
    binary_output = bool(parameters.pop("binary_data_output", False))
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidInput("'id' must be a string", field="id")
    return InferRequest(
        id=request_id,
        data=_model_input(tensors, signature),
        outputs=_requested(payload.get("outputs")),
        binary_output=binary_output,
        parameters=parameters,
    )


def _inflate(body: bytes, encoding: str) -> bytes:
    kind = encoding.strip().lower()
    if kind in ("", "identity"):
        return body
    if kind not in ("gzip", "deflate"):
        raise InvalidInput(f"the body's Content-Encoding {encoding!r} is not gzip or deflate", field="content-encoding")
    inflater = zlib.decompressobj(zlib.MAX_WBITS | (16 if kind == "gzip" else 0))
    try:
        out = inflater.decompress(body, _MAX_INFLATED)
    except zlib.error as exc:
        raise InvalidInput(f"the {kind} body cannot be inflated: {exc}", field="content-encoding") from None
    if inflater.unconsumed_tail:
        raise InvalidInput(f"the body inflates past {_MAX_INFLATED} bytes", field="content-encoding")
    return out


def _parameters(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} must be an object", field=where)
    return dict(value)


def _tensor(spec: Any, where: str, binary: bytes, offset: int) -> tuple[str, np.ndarray, int]:
    """One input tensor (name, array shaped as declared) and where the next one's binary data starts."""
    if not isinstance(spec, dict):
        raise InvalidInput(f"{where} must be an object with name, shape, datatype and data", field=where)
    name, shape, datatype = spec.get("name"), spec.get("shape"), spec.get("datatype")
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"{where}.name must be a non-empty string", field=f"{where}.name")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise InvalidInput(f"{where}.shape must be a list of sizes (integers >= 0)", field=f"{where}.shape")
    if datatype not in _DTYPES:
        raise InvalidInput(f"{where}.datatype {datatype!r} is none of {', '.join(_DTYPES)}", field=f"{where}.datatype")
    dtype, count = _DTYPES[datatype], math.prod(shape)
    size = _parameters(spec.get("parameters"), f"{where}.parameters").get("binary_data_size")
    if size is not None:
        if not isinstance(size, int) or size < 0 or offset + size > len(binary):
            raise InvalidInput(f"{where}'s binary_data_size {size!r} is past the binary data sent",
                               field=f"{where}.parameters.binary_data_size")
        chunk, offset = binary[offset:offset + size], offset + size
        flat = _strings(chunk, where) if datatype == "BYTES" else _numbers(chunk, dtype, where)
    elif "data" in spec:
        flat = _json_values(spec["data"], dtype, datatype, where)
    else:
        raise InvalidInput(f"{where} has neither data nor binary_data_size", field=f"{where}.data")
    if flat.size != count:
        raise InvalidInput(f"{where} holds {flat.size} values, but its shape {shape} holds {count}",
                           field=f"{where}.data")
    return name, flat.reshape(shape), offset


def _numbers(chunk: bytes, dtype: np.dtype[Any], where: str) -> np.ndarray:
    if len(chunk) % dtype.itemsize:
        raise InvalidInput(f"{where}'s {len(chunk)} bytes are no whole number of {dtype} values",
                           field=f"{where}.parameters.binary_data_size")
    return np.frombuffer(chunk, dtype=dtype.newbyteorder("<")).astype(dtype)


def _strings(chunk: bytes, where: str) -> np.ndarray:
    """BYTES in the binary extension: each element a 4-byte little-endian length, then its bytes."""
    values: list[object] = []
    at = 0
    while at < len(chunk):
        if at + 4 > len(chunk):
            raise InvalidInput(f"{where}'s binary BYTES data ends inside a length", field=f"{where}.data")
        (length,) = struct.unpack_from("<I", chunk, at)
        at += 4
        if at + length > len(chunk):
            raise InvalidInput(f"{where}'s binary BYTES data ends inside an element", field=f"{where}.data")
        values.append(_text(chunk[at:at + length]))
        at += length
    return _objects(values)


def _text(raw: bytes) -> object:
    """UTF-8 text as str (what a signature's string column holds); other bytes stay bytes."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def _objects(values: Sequence[object]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _json_values(data: Any, dtype: np.dtype[Any], datatype: str, where: str) -> np.ndarray:
    flat = list(_flatten(data))
    if datatype == "BYTES":
        if not all(isinstance(v, str) for v in flat):
            raise InvalidInput(f"{where} is BYTES: its data must be strings", field=f"{where}.data")
        return _objects(flat)
    kinds = (bool,) if datatype == "BOOL" else (int, float) if dtype.kind == "f" else (int,)
    if not all(isinstance(v, kinds) and (datatype == "BOOL" or not isinstance(v, bool)) for v in flat):
        raise InvalidInput(f"{where} is {datatype}: its data must be {_kind_words(datatype, dtype)}",
                           field=f"{where}.data")
    try:
        return np.asarray(flat, dtype=dtype) if flat else np.empty(0, dtype=dtype)
    except OverflowError:
        raise InvalidInput(f"{where} holds a value out of {datatype}'s range", field=f"{where}.data") from None


def _kind_words(datatype: str, dtype: np.dtype[Any]) -> str:
    return "booleans" if datatype == "BOOL" else "numbers" if dtype.kind == "f" else "integers"


def _flatten(data: Any) -> Any:
    if isinstance(data, list):
        for item in data:
            yield from _flatten(item)
    else:
        yield data


def _requested(value: Any) -> tuple[RequestedOutput, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidInput("'outputs' must be a list of {\"name\": ...}", field="outputs")
    found = []
    for i, spec in enumerate(value):
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise InvalidInput(f"outputs[{i}] must be an object with a name", field=f"outputs[{i}].name")
        binary = _parameters(spec.get("parameters"), f"outputs[{i}].parameters").get("binary_data")
        found.append(RequestedOutput(spec["name"], None if binary is None else bool(binary)))
    return tuple(found)


def _model_input(tensors: dict[str, np.ndarray], signature: Signature | None) -> ModelInput:
    """The tensors as the model's input, in the columns layout or the rows layout (see the module)."""
    columns = signature.inputs if signature is not None and not isinstance(signature.inputs, TensorSpec) else None
    names = [c.name for c in columns] if columns is not None else []
    if len(tensors) == 1:
        [(name, array)] = tensors.items()
        if columns is None:
            return array
        if name not in names or (array.ndim == 2 and array.shape[1] == len(names) != 1):
            return _rows(array, names, name)
    if columns is None:  # no signature: tensors are columns by their own names
        return _columns(tensors, list(tensors))
    unknown = sorted(set(tensors) - set(names))
    if unknown:
        raise InvalidInput(f"the model has no input {unknown[0]!r}; it takes the columns {', '.join(names)} "
                           "(one tensor each), or one tensor of rows", field="inputs")
    return _columns(tensors, [n for n in names if n in tensors])


def _rows(array: np.ndarray, names: list[str], name: str) -> pd.DataFrame:
    if array.ndim != 2 or array.shape[1] != len(names):
        raise InvalidInput(f"the tensor {name!r} of shape {list(array.shape)} is no table of rows of the model's "
                           f"{len(names)} columns ({', '.join(names)}); send shape [n, {len(names)}], or one "
                           "tensor per column", field="inputs")
    return pd.DataFrame(array, columns=names).infer_objects()


def _columns(tensors: Mapping[str, np.ndarray], order: list[str]) -> pd.DataFrame:
    lengths = set()
    columns = {}
    for name in order:
        array = tensors[name]
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1:
            raise InvalidInput(f"the column tensor {name!r} must have shape [n] or [n, 1], not {list(array.shape)}",
                               field="inputs")
        lengths.add(len(array))
        columns[name] = array
    if len(lengths) > 1:
        raise InvalidInput(f"the column tensors hold different numbers of rows: {sorted(lengths)}", field="inputs")
    return pd.DataFrame(columns)


# ---------------------------------------------------------------------------------- answers


def output_tensors(raw: Any) -> dict[str, np.ndarray]:
    """A model's output as named arrays: ``predictions``, or one per column of a table or key of a dict."""
    if isinstance(raw, pd.DataFrame):
        return {str(c): raw[c].to_numpy() for c in raw.columns}
    if isinstance(raw, Mapping):
        return {str(k): np.asarray(v) for k, v in raw.items()}
    return {PREDICTIONS: np.asarray(raw)}


def render_infer(
    model: str, variant: str, request: InferRequest, raw: Any, inference_id: str
) -> tuple[bytes, dict[str, str]]:
    """The V2 answer's body and headers (the binary extension's when any output asks for it).

    Raises:
        InvalidInput: for an output asked for that the model does not give.
    """
    tensors = output_tensors(raw)
    wanted = request.outputs if request.outputs is not None else tuple(RequestedOutput(n) for n in tensors)
    outputs: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for i, asked in enumerate(wanted):
        array = tensors.get(asked.name)
        if array is None:
            raise InvalidInput(f"the model has no output {asked.name!r}; it gives {', '.join(tensors)}",
                               field=f"outputs[{i}].name")
        datatype = datatype_of(array.dtype)
        entry: dict[str, Any] = {"name": asked.name, "datatype": datatype, "shape": list(array.shape)}
        if asked.binary if asked.binary is not None else request.binary_output:
            chunk = _binary(array, datatype)
            entry["parameters"] = {"binary_data_size": len(chunk)}
            chunks.append(chunk)
        else:
            entry["data"] = _json_data(array, datatype)
        outputs.append(entry)
    answer: dict[str, Any] = {"model_name": model, "model_version": variant, "id": request.id or inference_id,
                              "outputs": outputs}
    head = json.dumps(answer, separators=(",", ":")).encode()
    if not chunks:
        return head, {"content-type": "application/json"}
    return head + b"".join(chunks), {"content-type": "application/octet-stream", HEADER_LENGTH: str(len(head))}


def _json_data(array: np.ndarray, datatype: str) -> list[Any]:
    flat = array.reshape(-1)
    if datatype == "BYTES":
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in flat]
    values = flat.tolist()
    if array.dtype.kind == "f":  # strict JSON has no NaN: null, as the scoring route writes it
        return [v if math.isfinite(v) else None for v in values]
    return list(values)


def _binary(array: np.ndarray, datatype: str) -> bytes:
    if datatype != "BYTES":
        return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    parts = []
    for value in array.reshape(-1):
        raw = value if isinstance(value, bytes) else str(value).encode()
        parts.append(struct.pack("<I", len(raw)) + raw)
    return b"".join(parts)


# --------------------------------------------------------------------------------- metadata


def model_metadata(model: str, versions: Sequence[str], signature: Signature | None) -> dict[str, Any]:
    """What ``GET /v2/models/{name}`` answers: the variants as versions, the signature as tensors."""
    return {"name": model, "versions": list(versions), "platform": "slipway",
            "inputs": _specs(signature.inputs if signature is not None else None, "input-0"),
            "outputs": _output_specs(signature)}


def _specs(schema: tuple[ColumnSpec, ...] | TensorSpec | None, tensor_name: str) -> list[dict[str, Any]]:
    if schema is None:
        return []
    if isinstance(schema, TensorSpec):
        return [{"name": tensor_name, "datatype": datatype_of(np.dtype(schema.dtype)), "shape": list(schema.shape)}]
    return [{"name": c.name, "datatype": _COLUMN_DATATYPES[c.type], "shape": [-1]} for c in schema]


def _output_specs(signature: Signature | None) -> list[dict[str, Any]]:
    outputs = signature.outputs if signature is not None else None
    if outputs is None:
        return [{"name": PREDICTIONS, "datatype": "FP64", "shape": [-1]}]
    if isinstance(outputs, TensorSpec) or len(outputs) == 1:
        [spec] = _specs(outputs, PREDICTIONS)
        return [{**spec, "name": PREDICTIONS}]
    return _specs(outputs, PREDICTIONS)


def server_metadata(version: str) -> dict[str, Any]:
    """What ``GET /v2`` answers."""
    return {"name": "slipway", "version": version, "extensions": [BINARY_EXTENSION]}


def error_body(message: str) -> bytes:
    """A V2 error: ``{"error": message}``."""
    return json.dumps({"error": message}).encode()


__all__ = [
    "HEADER_LENGTH",
    "PREDICTIONS",
    "InferRequest",
    "RequestedOutput",
    "datatype_of",
    "error_body",
    "model_metadata",
    "output_tensors",
    "parse_infer",
    "render_infer",
    "server_metadata",
]
