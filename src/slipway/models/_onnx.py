"""ONNX models, run with onnxruntime on the CPU."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from slipway.errors import InvalidInput
from slipway.models._flavor import Flavor, ModelInput, Prediction, import_extra, package_file
from slipway.models._trust import Trust

_FILE = "model.onnx"
_TENSOR_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int8)": np.int8,
    "tensor(int16)": np.int16,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.object_,
}


def _as_tensor(values: np.ndarray, node: Any) -> np.ndarray:
    """Cast ``values`` to the dtype and rank an onnxruntime input ``node`` declares."""
    dtype = _TENSOR_TYPES.get(node.type)
    if dtype is None:
        raise InvalidInput(
            f"ONNX input {node.name!r} has type {node.type}, which Slipway cannot feed", field=node.name
        )
    tensor: np.ndarray = np.asarray(values).astype(dtype, copy=False)
    return tensor.ravel() if len(node.shape) == 1 else tensor


class OnnxFlavor(Flavor):
    """An ``onnx.ModelProto``, its serialised bytes, or the path of a ``.onnx`` file.

    ``predict`` feeds the session the way its inputs ask: a model with one input gets the whole
    table as one tensor; a model with one input per column (as ``skl2onnx`` makes for a
    ``ColumnTransformer``) gets each DataFrame column under the input of the same name. A model
    with one output returns that array; with several, a dict of output name to array.
    """

    name = "onnx"
    packages = ("onnx", "onnxruntime")
    modules = ("onnx",)

    def save(self, model: Any, folder: Path, trust: Trust) -> dict[str, Any]:
        onnx = import_extra("onnx", "onnx")
        if isinstance(model, str | Path):
            model = Path(model).read_bytes()
        if isinstance(model, bytes):
            try:
                model = onnx.load_model_from_string(model)
            except Exception as exc:  # protobuf's DecodeError, which onnx does not re-export
                raise InvalidInput(f"not an ONNX model: {exc}", field="model") from exc
        if not isinstance(model, onnx.ModelProto):
            raise InvalidInput(
                "the onnx flavor saves an onnx.ModelProto, bytes or a file path, "
                f"not {type(model).__qualname__}",
                field="model",
            )
        try:
            onnx.checker.check_model(model)
        except onnx.checker.ValidationError as exc:
            raise InvalidInput(f"not a valid ONNX model: {exc}", field="model") from exc
        (folder / _FILE).write_bytes(model.SerializeToString())
        return {"file": _FILE}

    def load(self, folder: Path, config: Mapping[str, Any], trust: Trust) -> Any:
        ort = import_extra("onnx", "onnxruntime")
        file = package_file(folder, config.get("file"))
        return ort.InferenceSession(str(file), providers=["CPUExecutionProvider"])

    def predict(self, model: Any, data: ModelInput, config: Mapping[str, Any]) -> Prediction:
        inputs = model.get_inputs()
        if len(inputs) == 1:
            table = data.to_numpy() if isinstance(data, pd.DataFrame) else data
            feed = {inputs[0].name: _as_tensor(table, inputs[0])}
        elif isinstance(data, pd.DataFrame):
            missing = next((node.name for node in inputs if node.name not in data.columns), None)
            if missing is not None:
                raise InvalidInput(f"missing column {missing!r}, an input of the ONNX model", field=missing)
            feed = {node.name: _as_tensor(data[[node.name]].to_numpy(), node) for node in inputs}
        else:
            expected = ", ".join(node.name for node in inputs)
            raise InvalidInput(
                f"the ONNX model takes the inputs {expected}; pass a DataFrame with those columns",
                field="data",
            )
        outputs = model.run(None, feed)
        if len(outputs) == 1:
            return np.asarray(outputs[0])
        names = [node.name for node in model.get_outputs()]
        return {name: np.asarray(value) for name, value in zip(names, outputs, strict=True)}
