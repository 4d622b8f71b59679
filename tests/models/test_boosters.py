"""XGBoost and LightGBM: native formats, sklearn-API wrappers and raw Boosters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from slipway.errors import InvalidInput
from slipway.models import load_model, save_model


@pytest.fixture
def xy(abalone: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    return abalone.drop(columns=["sex", "rings"]), abalone["rings"]


def _round_trip(model: Any, X: pd.DataFrame, folder: Path) -> Any:
    save_model(model, folder, input_example=X.head(3))
    return load_model(folder)


def test_xgboost_regressor(xy: tuple[pd.DataFrame, pd.Series], tmp_path: Path) -> None:
    xgb = pytest.importorskip("xgboost")
    X, y = xy
    model = xgb.XGBRegressor(n_estimators=10, max_depth=3).fit(X, y)
    loaded = _round_trip(model, X, tmp_path / "m")
    assert loaded.flavor == "xgboost" and isinstance(loaded.raw, xgb.XGBRegressor)
    assert loaded.info.flavor_config == {"file": "model.ubj", "kind": "XGBRegressor"}
    np.testing.assert_allclose(loaded.predict(X), model.predict(X))


def test_xgboost_classifier_predicts_labels(xy: tuple[pd.DataFrame, pd.Series], tmp_path: Path) -> None:
    xgb = pytest.importorskip("xgboost")
    X, y = xy
    model = xgb.XGBClassifier(n_estimators=10, max_depth=3).fit(X, (y > 9).astype(int))
    loaded = _round_trip(model, X, tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.raw.predict_proba(X), model.predict_proba(X))


def test_xgboost_booster(xy: tuple[pd.DataFrame, pd.Series], tmp_path: Path) -> None:
    xgb = pytest.importorskip("xgboost")
    X, y = xy
    booster = xgb.train({"max_depth": 3}, xgb.DMatrix(X, label=y), num_boost_round=10)
    loaded = _round_trip(booster, X, tmp_path / "m")
    assert isinstance(loaded.raw, xgb.Booster)
    expected = booster.predict(xgb.DMatrix(X))
    np.testing.assert_allclose(loaded.predict(X), expected)
    np.testing.assert_allclose(loaded.predict(X.to_numpy()), expected)


def test_xgboost_refuses_a_class_the_manifest_makes_up(
    xy: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    xgb = pytest.importorskip("xgboost")
    X, y = xy
    save_model(xgb.XGBRegressor(n_estimators=2).fit(X, y), tmp_path / "m")
    manifest = tmp_path / "m" / "slipway-model.json"
    body = json.loads(manifest.read_text())
    body["flavor_config"]["kind"] = "DMatrix"
    manifest.write_text(json.dumps(body))
    with pytest.raises(InvalidInput) as err:
        load_model(tmp_path / "m")
    assert err.value.field == "kind"


def test_lightgbm_regressor(xy: tuple[pd.DataFrame, pd.Series], tmp_path: Path) -> None:
    lgb = pytest.importorskip("lightgbm")
    X, y = xy
    model = lgb.LGBMRegressor(n_estimators=10, verbose=-1).fit(X, y)
    loaded = _round_trip(model, X, tmp_path / "m")
    assert loaded.flavor == "lightgbm" and isinstance(loaded.raw, lgb.Booster)
    assert (tmp_path / "m" / "model.txt").is_file()
    np.testing.assert_allclose(loaded.predict(X), model.predict(X))


@pytest.mark.parametrize("labels", ["multiclass", "binary"])
def test_lightgbm_classifier_predicts_the_original_labels(
    abalone: pd.DataFrame, tmp_path: Path, labels: str
) -> None:
    lgb = pytest.importorskip("lightgbm")
    X = abalone.drop(columns=["sex", "rings"])
    y = abalone["sex"] if labels == "multiclass" else np.where(abalone["rings"] > 9, "old", "young")
    model = lgb.LGBMClassifier(n_estimators=10, verbose=-1).fit(X, y)
    loaded = _round_trip(model, X, tmp_path / "m")
    assert loaded.info.flavor_config["classes"] == list(model.classes_)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_lightgbm_booster(xy: tuple[pd.DataFrame, pd.Series], tmp_path: Path) -> None:
    lgb = pytest.importorskip("lightgbm")
    X, y = xy
    booster = lgb.train({"verbose": -1}, lgb.Dataset(X, label=y), num_boost_round=10)
    loaded = _round_trip(booster, X, tmp_path / "m")
    np.testing.assert_allclose(loaded.predict(X), booster.predict(X))
