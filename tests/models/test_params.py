"""Inference parameters (MLflow's ``params``): declared in the signature, checked, defaulted, passed to ``predict``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _serving_models import X, write_line, write_scaled

from slipway.errors import InvalidInput
from slipway.models import ParamSpec, infer_signature, load_model, save_model


def test_a_model_declaring_parameters_gets_them_checked_and_defaulted(tmp_path: Path) -> None:
    model = load_model(write_scaled(tmp_path / "scaled"), trusted=True)
    assert model.params == (ParamSpec(name="scale", type="double", default=1.0),
                            ParamSpec(name="offset", type="long", default=0))
    row = {"a": [2.0], "b": [0.0]}
    assert model.predict(row).tolist() == [2.0]  # the defaults
    assert model.predict(row, {"scale": 3}).tolist() == [6.0]  # an int where a double is declared
    assert model.predict(row, {"offset": 1, "scale": 0.5}).tolist() == [2.0]
    with pytest.raises(InvalidInput, match="takes no parameter 'temperature'; it takes: scale, offset") as unknown:
        model.predict(row, {"temperature": 0.2})
    assert unknown.value.field == "params.temperature"
    with pytest.raises(InvalidInput, match="parameter 'offset' takes a long value, not 1.5") as wrong:
        model.predict(row, {"offset": 1.5})
    assert wrong.value.field == "params.offset"


def test_a_model_declaring_none_refuses_them_and_its_manifest_is_unchanged(tmp_path: Path) -> None:
    folder = write_line(tmp_path / "line")
    assert "params" not in json.loads((folder / "slipway-model.json").read_text())["signature"]
    model = load_model(folder)
    assert model.params is None
    with pytest.raises(InvalidInput, match="takes no inference parameters") as refused:
        model.predict(X, {"scale": 2.0})
    assert refused.value.field == "params"


def test_list_parameters_and_their_inference() -> None:
    signature = infer_signature(X, params={"classes": ["a", "b"], "strict": True})
    assert signature.params == (ParamSpec(name="classes", type="string", default=["a", "b"], shape=(-1,)),
                                ParamSpec(name="strict", type="boolean", default=True))
    with pytest.raises(InvalidInput, match="parameter 'mixed'"):
        infer_signature(X, params={"mixed": [1, "x"]})


def test_an_mlflow_model_with_a_params_schema_gets_them(tmp_path: Path) -> None:
    mlflow = pytest.importorskip("mlflow")
    from mlflow.models import infer_signature as mlflow_signature


    class Shifted(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            return model_input["x"].to_numpy() + (params or {}).get("shift", 0.0)

    frame = pd.DataFrame({"x": [1.0, 2.0]})
    folder = tmp_path / "mlflow-model"
    mlflow.pyfunc.save_model(
        str(folder), python_model=Shifted(), pip_requirements=["mlflow"],
        signature=mlflow_signature(frame, np.array([1.0, 2.0]), params={"shift": 0.0, "label": "x"}),
    )
    save_model(folder, tmp_path / "package", flavor="mlflow", trusted=True)
    model = load_model(tmp_path / "package", trusted=True)
    declared = {p.name: (p.type, p.default) for p in model.params or ()}
    assert declared == {"shift": ("double", 0.0), "label": ("string", "x")}
    assert np.asarray(model.predict(frame)).tolist() == [1.0, 2.0]
    assert np.asarray(model.predict(frame, {"shift": 10})).tolist() == [11.0, 12.0]
    with pytest.raises(InvalidInput, match="takes no parameter 'shfit'"):
        model.predict(frame, {"shfit": 1.0})
