"""The package format itself: manifest, folder handling, version checks, detection, public surface."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import slipway.models
from slipway.errors import AlreadyExists, InvalidInput, MissingExtra, NotFound
from slipway.models import ModelCard, SlipwayWarning, flavors, infer_signature, load_model, save_model
from slipway.models._registry import detect_flavor

sklearn_linear = pytest.importorskip("sklearn.linear_model")
pytest.importorskip("skops")


@pytest.fixture
def package(tmp_path: Path, numeric_xy: tuple[np.ndarray, np.ndarray]) -> Path:
    X, y = numeric_xy
    save_model(sklearn_linear.LinearRegression().fit(X, y), tmp_path / "pkg", input_example=X[:2])
    return tmp_path / "pkg"


def _edit_manifest(package: Path, **changes: Any) -> None:
    manifest = package / "slipway-model.json"
    body = json.loads(manifest.read_text())
    for key, value in changes.items():
        if value is None:
            del body[key]
        else:
            body[key] = value
    manifest.write_text(json.dumps(body))


def test_the_manifest_records_what_the_model_was_made_with(package: Path) -> None:
    body = json.loads((package / "slipway-model.json").read_text())
    assert body["format_version"] == 1 and body["flavor"] == "sklearn"
    assert body["flavor_config"] == {"file": "model.skops"}
    assert {"python", "numpy", "pandas", "scikit-learn", "skops"} <= set(body["packages"])
    assert body["packages"]["numpy"] == np.__version__
    assert body["signature"]["positional"] is True


def test_metadata_and_card_are_stored(tmp_path: Path, numeric_xy: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = numeric_xy
    model = sklearn_linear.LinearRegression().fit(X, y)
    card = ModelCard(intended_use="Tests.", evaluation={"rmse": 0.1})
    info = save_model(model, tmp_path / "a", model_card=card, metadata={"run": "r1", "tags": ("a", "b")})
    assert info.metadata == {"run": "r1", "tags": ["a", "b"]}
    assert load_model(tmp_path / "a").model_card == card
    assert (tmp_path / "a" / "MODEL_CARD.md").read_text() == card.to_markdown()
    save_model(model, tmp_path / "b", model_card="## Limitations\n\nNone known.")
    assert load_model(tmp_path / "b").model_card == ModelCard(limitations="None known.")
    with pytest.raises(InvalidInput) as err:
        save_model(model, tmp_path / "c", metadata={"when": object()})
    assert err.value.field == "metadata"


def test_saving_needs_a_new_or_empty_folder(
    tmp_path: Path, numeric_xy: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = numeric_xy
    model = sklearn_linear.LinearRegression().fit(X, y)
    (tmp_path / "empty").mkdir()
    save_model(model, tmp_path / "empty")
    with pytest.raises(AlreadyExists):
        save_model(model, tmp_path / "empty")
    save_model(model, tmp_path / "deep" / "er" / "pkg")
    assert (tmp_path / "deep" / "er" / "pkg" / "slipway-model.json").is_file()


def test_an_example_that_does_not_fit_the_signature_writes_nothing(
    tmp_path: Path, numeric_xy: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = numeric_xy
    model = sklearn_linear.LinearRegression().fit(X, y)
    wrong = infer_signature({"a": [1.0], "b": [1.0], "c": [1.0], "d": [1.0], "e": [1.0]})
    with pytest.raises(InvalidInput) as err:
        save_model(model, tmp_path / "m", input_example=X[:2], signature=wrong)
    assert err.value.field == "data"
    assert list(tmp_path.iterdir()) == []


def test_a_version_mismatch_warns_naming_package_and_versions(package: Path) -> None:
    _edit_manifest(package, packages={"numpy": "1.0.0", "python": "3.11.0"})
    with pytest.warns(SlipwayWarning, match=rf"numpy 1\.0\.0 but numpy {np.__version__} is installed"):
        load_model(package)


def test_a_patch_release_or_an_absent_package_does_not_warn(package: Path) -> None:
    major, minor = np.__version__.split(".")[:2]
    _edit_manifest(package, packages={"numpy": f"{major}.{minor}.999", "not-installed-dist": "1.0"})
    with warnings.catch_warnings():
        warnings.simplefilter("error", SlipwayWarning)
        load_model(package)


@pytest.mark.parametrize(
    ("breakage", "field"),
    [
        ({"flavor": None}, "flavor"),
        ({"flavor": "keras"}, "flavor"),
        ({"format_version": 99}, "format_version"),
        ({"created_at": "yesterday"}, "created_at"),
        ({"surprise": 1}, "surprise"),
        ({"flavor_config": {"file": "../../etc/passwd"}}, "file"),
        ({"flavor_config": {"file": "gone.skops"}}, "file"),
        ({"input_example": "/etc/passwd"}, "file"),
    ],
)
def test_a_malformed_manifest_is_a_clear_invalid_input(
    package: Path, breakage: dict[str, Any], field: str
) -> None:
    _edit_manifest(package, **breakage)
    with pytest.raises(InvalidInput) as err:
        load_model(package)
    assert err.value.field == field


def test_a_manifest_that_is_not_json_or_missing(package: Path, tmp_path: Path) -> None:
    (package / "slipway-model.json").write_text("{not json")
    with pytest.raises(InvalidInput, match="not valid JSON") as err:
        load_model(package)
    assert err.value.field == "slipway-model.json"
    (tmp_path / "plain").mkdir()
    with pytest.raises(InvalidInput, match="not a Slipway model package"):
        load_model(tmp_path / "plain")
    with pytest.raises(NotFound):
        load_model(tmp_path / "nowhere")


def _fake(module: str, name: str = "Model") -> object:
    return type(name, (), {"__module__": module})()


@pytest.mark.parametrize(
    ("model", "flavor"),
    [
        (_fake("sklearn.linear_model._base"), "sklearn"),
        (_fake("xgboost.sklearn"), "xgboost"),
        (_fake("lightgbm.basic"), "lightgbm"),
        (_fake("onnx.onnx_ml_pb2"), "onnx"),
        (_fake("torch.nn.modules.module"), "pytorch"),
        (len, "pyfunc"),
    ],
)
def test_the_flavor_is_detected_from_the_class_module(model: object, flavor: str) -> None:
    assert detect_flavor(model).name == flavor


def test_the_class_own_module_wins_over_its_bases() -> None:
    base = type("BaseEstimator", (), {"__module__": "sklearn.base"})
    wrapper = type("XGBRegressor", (base,), {"__module__": "xgboost.sklearn"})
    mine = type("Mine", (base,), {"__module__": "my_project"})
    assert detect_flavor(wrapper()).name == "xgboost"
    assert detect_flavor(mine()).name == "sklearn"


def test_undetectable_models_and_unknown_flavors_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="flavor='onnx'") as err:
        save_model(b"\x08\x07", tmp_path / "m")
    assert err.value.field == "flavor"
    with pytest.raises(InvalidInput, match="unknown flavor 'keras'"):
        save_model(len, tmp_path / "m", flavor="keras")


def test_a_missing_framework_names_its_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "xgboost", None)
    with pytest.raises(MissingExtra, match=r"pip install 'slipway-mlops\[xgboost\]'") as err:
        save_model(_fake("xgboost.core", "Booster"), tmp_path / "m")
    assert err.value.details == {"extra": "xgboost", "module": "xgboost"}
    assert list(tmp_path.iterdir()) == []


def test_importing_the_package_imports_no_framework() -> None:
    code = (
        "import sys, slipway.models; "
        "print([m for m in ('sklearn', 'skops', 'xgboost', 'lightgbm', 'onnx', 'onnxruntime', 'torch') "
        "if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_public_surface_is_exported_and_documented() -> None:
    assert set(flavors) == {"sklearn", "xgboost", "lightgbm", "onnx", "pytorch", "pyfunc", "mlflow"}
    for name in slipway.models.__all__:
        obj = getattr(slipway.models, name)
        assert name == "flavors" or obj.__doc__, name


@pytest.mark.parametrize("module", ["slipway.models", "slipway.models._package", "slipway.models._signature",
                                    "slipway.models._card"])
def test_the_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(sys.modules[module])
    assert result.attempted > 0 and result.failed == 0
