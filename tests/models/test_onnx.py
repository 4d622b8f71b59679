"""ONNX models through onnxruntime: one tensor input, one input per column, several outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("sklearn")
skl2onnx = pytest.importorskip("skl2onnx")

from skl2onnx.common.data_types import FloatTensorType, StringTensorType  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder  # noqa: E402

from slipway.errors import InvalidInput  # noqa: E402
from slipway.models import load_model, save_model  # noqa: E402


@pytest.fixture
def numeric(abalone: pd.DataFrame) -> pd.DataFrame:
    return abalone.drop(columns=["sex", "rings"]).astype(np.float32)


@pytest.mark.parametrize("given_as", ["proto", "bytes", "path"])
def test_a_single_tensor_model_round_trips(
    numeric: pd.DataFrame, abalone: pd.DataFrame, tmp_path: Path, given_as: str
) -> None:
    model = LinearRegression().fit(numeric, abalone["rings"])
    proto = skl2onnx.convert_sklearn(model, initial_types=[("X", FloatTensorType([None, numeric.shape[1]]))])
    (tmp_path / "model.onnx").write_bytes(proto.SerializeToString())
    given = {"proto": proto, "bytes": proto.SerializeToString(), "path": tmp_path / "model.onnx"}[given_as]
    save_model(given, tmp_path / "m", flavor="onnx", input_example=numeric.head(3))
    loaded = load_model(tmp_path / "m")
    assert loaded.flavor == "onnx" and loaded.raw.get_inputs()[0].name == "X"
    expected = model.predict(numeric)
    np.testing.assert_allclose(loaded.predict(numeric).ravel(), expected, rtol=1e-4)
    np.testing.assert_allclose(loaded.predict(numeric.to_numpy(np.float64)).ravel(), expected, rtol=1e-4)


def test_a_model_proto_is_detected(numeric: pd.DataFrame, abalone: pd.DataFrame, tmp_path: Path) -> None:
    model = LinearRegression().fit(numeric, abalone["rings"])
    proto = skl2onnx.convert_sklearn(model, initial_types=[("X", FloatTensorType([None, numeric.shape[1]]))])
    assert save_model(proto, tmp_path / "m").flavor == "onnx"


def test_columns_feed_inputs_of_the_same_name(abalone: pd.DataFrame, tmp_path: Path) -> None:
    X = abalone[["sex", "length", "diameter"]].astype({"length": np.float32, "diameter": np.float32})
    model = make_pipeline(
        ColumnTransformer([("sex", OneHotEncoder(), ["sex"])], remainder="passthrough"), LinearRegression()
    ).fit(X, abalone["rings"])
    types = [("sex", StringTensorType([None, 1])), ("length", FloatTensorType([None, 1])),
             ("diameter", FloatTensorType([None, 1]))]
    save_model(skl2onnx.convert_sklearn(model, initial_types=types), tmp_path / "m")  # no signature
    loaded = load_model(tmp_path / "m")
    assert loaded.signature is None
    shuffled = X[["diameter", "sex", "length"]]
    np.testing.assert_allclose(loaded.predict(shuffled).ravel(), model.predict(X), rtol=1e-4)
    with pytest.raises(InvalidInput, match="missing column 'sex'") as err:
        loaded.predict(X[["length", "diameter"]])
    assert err.value.field == "sex"
    with pytest.raises(InvalidInput, match="takes the inputs sex, length, diameter"):
        loaded.predict(X.to_numpy())


def test_several_outputs_come_back_by_name(
    numeric: pd.DataFrame, abalone: pd.DataFrame, tmp_path: Path
) -> None:
    model = LogisticRegression(max_iter=500).fit(numeric, abalone["sex"])
    proto = skl2onnx.convert_sklearn(
        model,
        initial_types=[("X", FloatTensorType([None, numeric.shape[1]]))],
        options={id(model): {"zipmap": False}},
    )
    save_model(proto, tmp_path / "m", input_example=numeric.head(3))
    outputs = load_model(tmp_path / "m").predict(numeric)
    assert isinstance(outputs, dict) and set(outputs) == {"label", "probabilities"}
    np.testing.assert_array_equal(outputs["label"], model.predict(numeric))
    np.testing.assert_allclose(outputs["probabilities"], model.predict_proba(numeric), rtol=1e-3, atol=1e-5)


def test_not_an_onnx_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as err:
        save_model(b"definitely not onnx", tmp_path / "m", flavor="onnx")
    assert err.value.field == "model"
    with pytest.raises(InvalidInput):
        save_model(42, tmp_path / "m", flavor="onnx")
    assert list(tmp_path.iterdir()) == []
