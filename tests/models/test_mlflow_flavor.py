"""The ``mlflow`` flavor: an MLflow model folder kept as is, read natively where its format runs no
code (skops, XGBoost, LightGBM, ONNX), and otherwise only with trust."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.linear_model import Ridge
from sklearn.tree import DecisionTreeClassifier

from slipway.errors import InvalidInput, UntrustedModel
from slipway.models import MLFLOW_FOLDER, load_model, save_model


@pytest.fixture
def mlflow_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "mlflow-model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n")
    (folder / "model.pkl").write_bytes(b"not really a pickle")
    return folder


def test_save_copies_the_folder_unread(mlflow_folder: Path, tmp_path: Path) -> None:
    info = save_model(mlflow_folder, tmp_path / "package", flavor="mlflow", trusted=True)
    assert info.flavor == "mlflow"
    copied = tmp_path / "package" / MLFLOW_FOLDER
    assert (copied / "model.pkl").read_bytes() == b"not really a pickle"
    assert (copied / "MLmodel").is_file()


def test_saving_and_loading_need_trust(mlflow_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(UntrustedModel, match="trusted=True"):
        save_model(mlflow_folder, tmp_path / "refused", flavor="mlflow")
    save_model(mlflow_folder, tmp_path / "package", flavor="mlflow", trusted=True)
    with pytest.raises(UntrustedModel, match="unpickles"):
        load_model(tmp_path / "package")


def test_only_an_mlflow_folder_is_accepted(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="MLmodel"):
        save_model(tmp_path, tmp_path / "package", flavor="mlflow", trusted=True)
    with pytest.raises(InvalidInput, match="MLmodel"):
        save_model(object(), tmp_path / "other", flavor="mlflow", trusted=True)


def _mlmodel_folder(root: Path, flavors: dict[str, object], signature: dict[str, object] | None = None) -> Path:
    """An MLflow model folder as MLflow 3.17's savers write it: the MLmodel file beside the model file."""
    root.mkdir()
    mlmodel = {"flavors": flavors, "signature": signature, "mlflow_version": "3.17.2"}
    (root / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    return root


def _packaged(folder: Path, tmp_path: Path) -> Path:
    save_model(folder, tmp_path / "package", flavor="mlflow", trusted=True)
    return tmp_path / "package"


def _sklearn_flavors(file: str, fmt: str = "skops", predict_fn: str = "predict") -> dict[str, object]:
    return {
        "python_function": {"loader_module": "mlflow.sklearn", "model_path": file, "predict_fn": predict_fn},
        "sklearn": {"pickled_model": file, "serialization_format": fmt, "code": None, "skops_trusted_types": None},
    }


def test_an_sklearn_model_saved_with_skops_loads_without_trust(
    numeric_xy: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    sio = pytest.importorskip("skops.io")
    X, y = numeric_xy
    model = Ridge().fit(X, y)
    folder = _mlmodel_folder(tmp_path / "ridge", _sklearn_flavors("model.skops"))
    sio.dump(model, folder / "model.skops")
    loaded = load_model(_packaged(folder, tmp_path))  # no trusted=: skops runs no code
    assert isinstance(loaded.raw.model, Ridge)
    np.testing.assert_allclose(loaded.predict(X[:5]), model.predict(X[:5]))


def test_skops_types_beyond_the_safe_list_need_trust_whatever_the_mlmodel_says(
    numeric_xy: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    sio = pytest.importorskip("skops.io")
    X, y = numeric_xy
    model = DecisionTreeClassifier(max_depth=2).fit(X, y > 0)
    flavors = _sklearn_flavors("model.skops", predict_fn="predict_proba")
    flavors["sklearn"]["skops_trusted_types"] = ["sklearn.tree._tree.Tree"]  # type: ignore[index]
    folder = _mlmodel_folder(tmp_path / "tree", flavors)
    sio.dump(model, folder / "model.skops")
    package = _packaged(folder, tmp_path)
    with pytest.raises(UntrustedModel, match="sklearn.tree._tree.Tree"):
        load_model(package)
    loaded = load_model(package, trusted=["sklearn.tree._tree.Tree"])
    np.testing.assert_allclose(loaded.predict(X[:5]), model.predict_proba(X[:5]))  # MLflow's predict_fn


def test_a_pickled_or_code_shipping_sklearn_model_needs_trust(tmp_path: Path) -> None:
    pytest.importorskip("skops.io")
    pickled = _mlmodel_folder(tmp_path / "pickled", _sklearn_flavors("model.pkl", fmt="cloudpickle"))
    with pytest.raises(UntrustedModel, match="unpickles"):
        load_model(_packaged(pickled, tmp_path / "a"))
    flavors = _sklearn_flavors("model.skops")
    flavors["sklearn"]["code"] = "code"  # type: ignore[index]
    with pytest.raises(UntrustedModel, match="unpickles"):
        load_model(_packaged(_mlmodel_folder(tmp_path / "with-code", flavors), tmp_path / "b"))


def test_native_xgboost_and_lightgbm_files_load_without_trust(
    numeric_xy: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    xgb = pytest.importorskip("xgboost")
    lgb = pytest.importorskip("lightgbm")
    X, y = numeric_xy
    regressor = xgb.XGBRegressor(n_estimators=5, max_depth=2).fit(X, y)
    folder = _mlmodel_folder(tmp_path / "xgb", {
        "python_function": {"loader_module": "mlflow.xgboost", "data": "model.ubj"},
        "xgboost": {"data": "model.ubj", "model_class": "xgboost.sklearn.XGBRegressor", "model_format": "ubj",
                    "code": None},
    })
    regressor.save_model(folder / "model.ubj")
    loaded = load_model(_packaged(folder, tmp_path / "a"))
    np.testing.assert_allclose(loaded.predict(X[:5]), regressor.predict(X[:5]), rtol=1e-6)

    booster = lgb.train({"verbose": -1, "num_leaves": 4}, lgb.Dataset(X, y), num_boost_round=5)
    folder = _mlmodel_folder(tmp_path / "lgb", {
        "python_function": {"loader_module": "mlflow.lightgbm", "data": "model.lgb"},
        "lightgbm": {"data": "model.lgb", "model_class": "lightgbm.basic.Booster", "code": None},
    })
    booster.save_model(folder / "model.lgb")
    loaded = load_model(_packaged(folder, tmp_path / "b"))
    np.testing.assert_allclose(loaded.predict(X[:5]), booster.predict(X[:5]))


def test_an_onnx_model_loads_without_trust_and_params_come_from_the_signature(
    numeric_xy: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    skl2onnx = pytest.importorskip("skl2onnx")
    from skl2onnx.common.data_types import FloatTensorType

    X, y = numeric_xy
    model = Ridge().fit(X, y)
    proto = skl2onnx.convert_sklearn(model, initial_types=[("X", FloatTensorType([None, X.shape[1]]))])
    params = '[{"name": "threshold", "type": "double", "default": 0.5, "shape": null}]'
    folder = _mlmodel_folder(
        tmp_path / "onnx",
        {"python_function": {"loader_module": "mlflow.onnx", "data": "model.onnx"},
         "onnx": {"data": "model.onnx", "providers": ["CPUExecutionProvider"], "code": None}},
        signature={"inputs": None, "outputs": None, "params": params},
    )
    (folder / "model.onnx").write_bytes(proto.SerializeToString())
    loaded = load_model(_packaged(folder, tmp_path))
    assert [(p.name, p.type, p.default) for p in loaded.params or ()] == [("threshold", "double", 0.5)]
    got = loaded.predict(X[:5].astype(np.float32), params={"threshold": 0.2})
    np.testing.assert_allclose(np.ravel(got), model.predict(X[:5]), rtol=1e-4)
