"""SHAP attributions add up to the model's output minus the expected value, for every flavor the registry loads."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _optional import require

require("shap", extra="clarify")
pytest.importorskip("sklearn")

from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder  # noqa: E402

from slipway.clarify import explain  # noqa: E402
from slipway.errors import InvalidInput  # noqa: E402
from slipway.models import LoadedModel, load_model, save_model  # noqa: E402

TREE = "sklearn.tree._tree.Tree"
NUMERIC = ["length", "diameter", "height", "whole weight", "shell weight"]


@pytest.fixture(scope="module")
def abalone() -> pd.DataFrame:
    with (files("slipway") / "_data" / "abalone.csv").open() as f:
        return pd.read_csv(f).head(300)


class Shells:
    """A pyfunc model: rings from shell weight and sex, in plain pandas."""

    def predict(self, data: pd.DataFrame) -> np.ndarray:
        return (4 + 25 * data["shell weight"] + (data["sex"] == "I") * -2.0).to_numpy()


def _sklearn_trees(X: pd.DataFrame, y: pd.Series, folder: Path) -> LoadedModel:
    save_model(GradientBoostingRegressor(n_estimators=20, random_state=0).fit(X[NUMERIC], y), folder, trusted=[TREE])
    return load_model(folder, trusted=[TREE])


def _sklearn_classifier(X: pd.DataFrame, y: pd.Series, folder: Path) -> LoadedModel:
    model = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(X[NUMERIC], y > 10)
    save_model(model, folder, trusted=[TREE])
    return load_model(folder, trusted=[TREE])


def _sklearn_pipeline(X: pd.DataFrame, y: pd.Series, folder: Path) -> LoadedModel:
    model = make_pipeline(ColumnTransformer([("sex", OneHotEncoder(), ["sex"])], remainder="passthrough"),
                          LinearRegression()).fit(X[["sex", *NUMERIC]], y)
    save_model(model, folder, input_example=X[["sex", *NUMERIC]].head(3), trusted=True)
    return load_model(folder, trusted=True)


def _xgboost(X: pd.DataFrame, y: pd.Series, folder: Path) -> LoadedModel:
    xgb = pytest.importorskip("xgboost")
    model = xgb.XGBRegressor(n_estimators=30, max_depth=3).fit(X[NUMERIC], y)
    save_model(model, folder, input_example=X[NUMERIC].head(3))
    return load_model(folder)


def _xgboost_classifier(X: pd.DataFrame, y: pd.Series, folder: Path) -> LoadedModel:
    xgb = pytest.importorskip("xgboost")
    save_model(xgb.XGBClassifier(n_estimators=30, max_depth=3).fit(X[NUMERIC], (y > 10).astype(int)), folder,
               input_example=X[NUMERIC].head(3))
    return load_model(folder)


def _lightgbm(X: pd.DataFrame, y: pd.Series, folder: Path) -> LoadedModel:
    lgb = pytest.importorskip("lightgbm")
    model = lgb.LGBMRegressor(n_estimators=30, verbose=-1).fit(X[NUMERIC], y)
    save_model(model, folder, input_example=X[NUMERIC].head(3))
    return load_model(folder)


def _onnx(X: pd.DataFrame, y: pd.Series, folder: Path) -> LoadedModel:
    skl2onnx = pytest.importorskip("skl2onnx")
    pytest.importorskip("onnxruntime")
    from skl2onnx.common.data_types import FloatTensorType

    numeric = X[NUMERIC].astype(np.float32)
    proto = skl2onnx.convert_sklearn(LinearRegression().fit(numeric, y),
                                     initial_types=[("X", FloatTensorType([None, len(NUMERIC)]))])
    save_model(proto, folder, flavor="onnx", input_example=numeric.head(3))
    return load_model(folder)


def _pytorch(X: pd.DataFrame, y: pd.Series, folder: Path) -> LoadedModel:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(len(NUMERIC), 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    save_model(net, folder, input_example=X[NUMERIC].head(3))
    return load_model(folder)


def _pyfunc(X: pd.DataFrame, y: pd.Series, folder: Path) -> LoadedModel:
    save_model(Shells(), folder, input_example=X[["sex", "shell weight"]].head(3), trusted=True)
    return load_model(folder, trusted=True)


FLAVORS: dict[str, tuple[Callable[[pd.DataFrame, pd.Series, Path], LoadedModel], str, str]] = {
    "sklearn trees": (_sklearn_trees, "sklearn", "tree"),
    "sklearn classifier": (_sklearn_classifier, "sklearn", "tree"),
    "sklearn pipeline, text column": (_sklearn_pipeline, "sklearn", "kernel"),
    "xgboost": (_xgboost, "xgboost", "tree"),
    "xgboost classifier": (_xgboost_classifier, "xgboost", "tree"),
    "lightgbm": (_lightgbm, "lightgbm", "tree"),
    "onnx": (_onnx, "onnx", "kernel"),
    "pytorch": (_pytorch, "pytorch", "kernel"),
    "pyfunc": (_pyfunc, "pyfunc", "kernel"),
}


def _own_output(model: LoadedModel, rows: pd.DataFrame) -> np.ndarray:
    """The model's output computed here, apart from the explainer's code."""
    if hasattr(model.raw, "predict_proba") and getattr(model.raw, "classes_", None) is not None:
        return model.raw.predict_proba(rows)[:, -1]
    found: Any = model.predict(rows)
    return np.asarray(found, dtype=np.float64).reshape(len(rows), -1)[:, 0]


@pytest.mark.filterwarnings(r"ignore:`torch\.jit\.\w+` is deprecated:DeprecationWarning",
                            "ignore:The given NumPy array is not writable:UserWarning")
@pytest.mark.parametrize("case", list(FLAVORS))
def test_attributions_add_up_to_the_output_minus_the_expected_value(
    case: str, abalone: pd.DataFrame, tmp_path: Path
) -> None:
    build, flavor, method = FLAVORS[case]
    model = build(abalone.drop(columns=["rings"]), abalone["rings"], tmp_path / "m")
    assert model.flavor == flavor
    result = explain(model, abalone, max_rows=25, baseline_rows=15, pdp_features=2, pdp_grid=5)
    assert result.method == method
    rows = abalone[list(result.features)].sample(25, random_state=0).sort_index()
    own = _own_output(model, rows.reset_index(drop=True))
    # shap's tree explainer sums float32 leaf values: a classifier's probabilities add up to within ~2e-4
    np.testing.assert_allclose(result.expected_value + result.values.sum(axis=1), own, rtol=1e-4, atol=1e-3)
    assert "rings" not in result.features
    importance = result.global_values()
    assert set(importance) == set(result.features) and max(importance.values()) > 0
    [first, second] = result.partial_dependence
    assert first["feature_name"] == result.ranking()[0] and len(first["feature_values"]) <= 5
    assert len(first["model_predictions"]) == len(first["feature_values"])


def test_kernel_values_are_exact_shapley_values_of_a_sum(abalone: pd.DataFrame, tmp_path: Path) -> None:
    model = _pyfunc(abalone, abalone["rings"], tmp_path / "m")
    result = explain(model, abalone, max_rows=10, baseline_rows=10, pdp_features=0)
    rows = abalone[["sex", "shell weight"]].sample(10, random_state=0).sort_index()
    reference = abalone[["sex", "shell weight"]].sample(10, random_state=1)
    # an additive model's Shapley values are each term minus its mean over the baseline
    shell = 25 * (rows["shell weight"] - reference["shell weight"].mean())
    np.testing.assert_allclose(result.values[:, 1], shell.to_numpy(), atol=1e-6)
    sex = -2.0 * ((rows["sex"] == "I").to_numpy() - (reference["sex"] == "I").mean())
    np.testing.assert_allclose(result.values[:, 0], sex, atol=1e-6)
    assert result.ranking() == ["shell weight", "sex"]
    assert result.analysis()["kernel_shap"]["label0"]["method"] == "kernel"


def test_wrong_arguments_are_refused(abalone: pd.DataFrame, tmp_path: Path) -> None:
    model = _pyfunc(abalone, abalone["rings"], tmp_path / "m")
    with pytest.raises(InvalidInput) as caught:
        explain(model, abalone, method="magic")
    assert caught.value.field == "method"
    with pytest.raises(InvalidInput) as caught:
        explain(model, abalone, features=["nope"])
    assert caught.value.field == "features"
    with pytest.raises(InvalidInput) as caught:
        explain(model, abalone, method="tree")
    assert caught.value.field == "method"
