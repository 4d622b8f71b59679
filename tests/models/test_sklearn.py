from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("skops")
pytest.importorskip("sklearn")

from sklearn.base import BaseEstimator, TransformerMixin  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.ensemble import RandomForestRegressor  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

from slipway.errors import PermissionDenied  # noqa: E402
from slipway.models import UntrustedModel, load_model, save_model  # noqa: E402

TREE = "sklearn.tree._tree.Tree"
FEATURES = ["sex", "length", "diameter", "height", "whole weight", "shucked weight", "viscera weight",
            "shell weight"]
NUMERIC = FEATURES[1:]


class AddOne(TransformerMixin, BaseEstimator):
    """A custom transformer: a type skops has never heard of."""

    def fit(self, X: np.ndarray, y: object = None) -> AddOne:
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X) + 1.0


def _ridge_pipeline() -> Pipeline:
    encode = ColumnTransformer(
        [("sex", OneHotEncoder(handle_unknown="ignore"), ["sex"])], remainder=StandardScaler()
    )
    return make_pipeline(encode, Ridge())


def test_a_pipeline_round_trips_with_no_trust(abalone: pd.DataFrame, tmp_path: Path) -> None:
    X, y = abalone[FEATURES], abalone["rings"]
    model = _ridge_pipeline().fit(X, y)
    info = save_model(model, tmp_path / "m", input_example=X.head(5))
    loaded = load_model(tmp_path / "m")
    assert info == loaded.info and loaded.flavor == "sklearn"
    assert isinstance(loaded.raw, Pipeline)
    np.testing.assert_allclose(loaded.predict(X), model.predict(X))
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "input_example.json", "model.skops", "slipway-model.json"
    ]


def test_the_example_and_the_signature_come_back(abalone: pd.DataFrame, tmp_path: Path) -> None:
    X, y = abalone[FEATURES], abalone["rings"]
    save_model(_ridge_pipeline().fit(X, y), tmp_path / "m", input_example=X.head(5))
    loaded = load_model(tmp_path / "m")
    pd.testing.assert_frame_equal(loaded.input_example, X.head(5))
    assert loaded.signature is not None
    columns = [(c.name, c.type) for c in loaded.signature.inputs]
    assert columns[:2] == [("sex", "string"), ("length", "double")]
    assert loaded.signature.outputs is not None and loaded.signature.outputs.dtype == "float64"


def test_predict_takes_records_and_columns_in_any_order(abalone: pd.DataFrame, tmp_path: Path) -> None:
    X, y = abalone[FEATURES], abalone["rings"]
    model = _ridge_pipeline().fit(X, y)
    save_model(model, tmp_path / "m", input_example=X.head(2))
    loaded = load_model(tmp_path / "m")
    rows = X.head(3)
    expected = model.predict(rows)
    np.testing.assert_allclose(loaded.predict(rows.to_dict("records")), expected)
    np.testing.assert_allclose(loaded.predict(rows[FEATURES[::-1]].to_dict("list")), expected)


def test_a_classifier_predicts_the_original_labels(abalone: pd.DataFrame, tmp_path: Path) -> None:
    X, y = abalone[NUMERIC], abalone["sex"]
    model = LogisticRegression(max_iter=500).fit(X, y)
    save_model(model, tmp_path / "m", input_example=X.head(3))
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.signature is not None and loaded.signature.outputs is not None


def test_arrays_in_arrays_out(numeric_xy: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    X, y = numeric_xy
    model = LinearRegression().fit(X, y)
    save_model(model, tmp_path / "m", input_example=X[:2])
    loaded = load_model(tmp_path / "m")
    assert loaded.signature is not None and loaded.signature.positional
    np.testing.assert_allclose(loaded.predict(X), model.predict(X))


def test_tree_models_load_only_with_the_tree_type_named(
    numeric_xy: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    X, y = numeric_xy
    model = RandomForestRegressor(n_estimators=3, random_state=0).fit(X, y)
    with pytest.raises(UntrustedModel) as err:
        save_model(model, tmp_path / "m")
    assert err.value.details == {"untrusted": [TREE]}
    assert list(tmp_path.iterdir()) == [], "a refused save leaves nothing behind"
    save_model(model, tmp_path / "m", trusted=[TREE])
    with pytest.raises(UntrustedModel, match=TREE):
        load_model(tmp_path / "m")
    np.testing.assert_allclose(load_model(tmp_path / "m", trusted=[TREE]).predict(X), model.predict(X))
    np.testing.assert_allclose(load_model(tmp_path / "m", trusted=TREE).predict(X), model.predict(X))


def test_a_custom_type_is_refused_unless_named(
    numeric_xy: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    X, y = numeric_xy
    model = make_pipeline(AddOne(), LinearRegression()).fit(X, y)
    custom = f"{AddOne.__module__}.AddOne"
    with pytest.raises(UntrustedModel, match="AddOne"):
        save_model(model, tmp_path / "m")
    save_model(model, tmp_path / "m", trusted=True)
    with pytest.raises(UntrustedModel) as err:
        load_model(tmp_path / "m", trusted=["something.Else"])
    assert isinstance(err.value, PermissionDenied) and err.value.http_status == 403
    assert err.value.details == {"untrusted": [custom]}
    assert err.value.to_dict()["error"]["code"] == "UNTRUSTED_MODEL"
    np.testing.assert_allclose(load_model(tmp_path / "m", trusted=[custom]).predict(X), model.predict(X))
    np.testing.assert_allclose(load_model(tmp_path / "m", trusted=True).predict(X), model.predict(X))


def test_a_model_fitted_on_named_columns_is_given_arrays_when_it_answers_alike(
    abalone: pd.DataFrame, tmp_path: Path, recwarn: pytest.WarningsRecorder
) -> None:
    X, y = abalone[NUMERIC], abalone["rings"]
    plain = Ridge().fit(X, y)
    save_model(plain, tmp_path / "plain", input_example=X.head(5))
    named = abalone[FEATURES]
    save_model(_ridge_pipeline().fit(named, y), tmp_path / "by-name", input_example=named.head(5))
    fast, by_name = load_model(tmp_path / "plain"), load_model(tmp_path / "by-name")
    assert fast._checker is not None and fast._checker._arrays  # the fast path is on
    assert by_name._checker is not None and not by_name._checker._arrays  # it selects columns by name: no arrays
    rows = X.head(3)[NUMERIC[::-1]]
    np.testing.assert_allclose(fast.predict(rows.to_dict("records")), plain.predict(X.head(3)))
    np.testing.assert_allclose(by_name.predict(named.head(3)), by_name.raw.predict(named.head(3)))
    assert not [w for w in recwarn if "feature names" in str(w.message)]
