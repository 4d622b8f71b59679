"""Models in MLflow's own format (an ``MLmodel`` folder), as MLflow's client logs and registers them.

Slipway stores such a folder unchanged, so MLflow's client can download and load it back, and
records the flavor as ``mlflow``. Loading reads the folder's ``MLmodel`` file and, where the
model's own format runs no code, loads it the way Slipway's flavor for that format does, without
MLflow installed:

- ``sklearn`` saved with skops (MLflow 3's default, ``serialization_format="skops"``): as the
  ``sklearn`` flavor, so types beyond skops' safe list need trust, whatever the ``MLmodel`` file's
  own ``skops_trusted_types`` say (the file does not vouch for itself);
- ``xgboost`` (``model.ubj``/``.json``/``.xgb``) and ``lightgbm`` Boosters (``model.lgb``): their
  native formats; a LightGBM estimator saved with skops as the ``sklearn`` route;
- ``onnx``: onnxruntime.

Everything else (a pickle or cloudpickle file, a custom ``python_model``, a flavor shipping its
own code with ``code_paths``) is loaded with ``mlflow.pyfunc.load_model``, which unpickles, and
so only with ``trusted=True``: on a server, for versions an admin marked trusted.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from slipway.errors import InvalidInput
from slipway.models._flavor import Flavor, ModelInput, Prediction, import_extra
from slipway.models._lightgbm import LightGBMFlavor
from slipway.models._onnx import OnnxFlavor
from slipway.models._signature import ParamSpec
from slipway.models._sklearn import SklearnFlavor
from slipway.models._trust import Trust
from slipway.models._xgboost import XGBOOST_KINDS, XGBoostFlavor

MLMODEL = "MLmodel"
FOLDER = "mlflow_model"  # where the MLflow folder sits inside the package

# The methods MLflow's sklearn pyfunc may call (its predict_fn); any other name is refused.
_SKLEARN_METHODS = ("predict", "predict_proba", "predict_log_proba", "predict_joint_log_proba", "score")
_XGBOOST_FORMATS = ("ubj", "json", "xgb")
_PARAM_TYPES = ("double", "float", "long", "integer", "boolean", "string", "datetime")


@dataclass(frozen=True)
class MlflowModel:
    """An MLflow model as loaded (``LoadedModel.raw`` of the ``mlflow`` flavor).

    Attributes:
        model: the framework's own object (an estimator, a Booster, an onnxruntime session), or
            MLflow's ``PyFuncModel`` when the model had to be loaded through MLflow.
        native: the Slipway flavor that loaded and runs ``model``; None when MLflow did.
        config: that flavor's configuration (its file inside the MLflow folder).
        method: the estimator method MLflow's pyfunc would call (``predict``, ``predict_proba``...).
        params: the inference parameters the ``MLmodel`` signature declares, as ``ParamSpec``s.
    """

    model: Any
    native: Flavor | None = None
    config: Mapping[str, Any] | None = None
    method: str = "predict"
    params: tuple[Any, ...] | None = None


class MlflowFlavor(Flavor):
    """An MLflow model folder, loaded natively where its format allows, else with ``mlflow.pyfunc``.

    ``save`` takes the path of an MLflow model folder (one holding an ``MLmodel`` file) and copies
    it into the package; it never reads the model, and needs ``trusted=True`` because what the
    folder holds is not known until it is loaded. ``load`` needs trust only for a folder it cannot
    load natively (see the module's docstring).
    """

    name = "mlflow"
    packages = ("mlflow",)

    def save(self, model: Any, folder: Path, trust: Trust) -> dict[str, Any]:
        trust.require_everything(
            "An MLflow model may be a pickle, so loading it may run code from its files "
            "(and will need trusted=True too, unless it is in a format that runs none)."
        )
        source = Path(model) if isinstance(model, str | Path) else None
        if source is None or not (source / MLMODEL).is_file():
            raise InvalidInput(
                f"the mlflow flavor takes the path of an MLflow model folder (with an {MLMODEL} file), got {model!r}",
                field="model",
            )
        shutil.copytree(source, folder / FOLDER)
        return {"path": FOLDER}

    def load(self, folder: Path, config: Mapping[str, Any], trust: Trust) -> MlflowModel:
        root = folder / FOLDER
        if config.get("path") != FOLDER or not (root / MLMODEL).is_file():
            raise InvalidInput(f"{folder} has no MLflow model folder {FOLDER}/{MLMODEL}", field="path")
        mlmodel = read_mlmodel(root)
        params = _declared_params(mlmodel)
        route = native_route(mlmodel)
        if route is not None:
            flavor, native_config, method = route
            return MlflowModel(flavor.load(root, native_config, trust), flavor, native_config, method, params)
        trust.require_everything(
            f"{root} is an MLflow model whose format only MLflow reads: loading it unpickles its files, "
            "which runs their code."
        )
        pyfunc = import_extra("mlflow", "mlflow.pyfunc")
        return MlflowModel(pyfunc.load_model(str(root)), params=params)

    def predict(self, model: Any, data: ModelInput, config: Mapping[str, Any]) -> Prediction:
        loaded = _unwrap(model)
        if loaded.native is None:
            return _prediction(loaded.model.predict(data))
        if loaded.method != "predict":
            return _prediction(getattr(loaded.model, loaded.method)(data))
        assert loaded.config is not None
        return loaded.native.predict(loaded.model, data, loaded.config)

    def predict_with_params(
        self, model: Any, data: ModelInput, config: Mapping[str, Any], params: Mapping[str, Any]
    ) -> Prediction:
        loaded = _unwrap(model)
        if loaded.native is None:
            return _prediction(loaded.model.predict(data, params=dict(params)))
        # MLflow's own wrappers of these formats take params and do not use them: neither do we.
        return self.predict(model, data, config)

    def declared_params(self, model: Any, config: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The params schema of the MLflow signature, as Slipway's ParamSpecs."""
        return _unwrap(model).params


def read_mlmodel(root: Path) -> dict[str, Any]:
    """The ``MLmodel`` file of the MLflow folder ``root``, as a mapping (read as YAML, never run).

    Raises:
        InvalidInput: if it is not YAML or not a mapping with a ``flavors`` mapping.
    """
    try:
        found = yaml.safe_load((root / MLMODEL).read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{root / MLMODEL} is not a YAML file: {exc}", field="MLmodel") from None
    if not isinstance(found, dict) or not isinstance(found.get("flavors"), dict):
        raise InvalidInput(f"{root / MLMODEL} names no flavors", field="MLmodel")
    return found


def native_route(mlmodel: Mapping[str, Any]) -> tuple[Flavor, dict[str, Any], str] | None:
    """The Slipway flavor that loads this MLflow model without MLflow, its configuration and
    predict method; None when only MLflow can load it (by unpickling).

    A flavor that ships code of its own (``code_paths``) always goes to MLflow: its model may need
    that code imported.
    """
    flavors: Mapping[str, Any] = mlmodel["flavors"]

    def conf(name: str) -> Mapping[str, Any] | None:
        found = flavors.get(name)
        return found if isinstance(found, dict) and not found.get("code") else None

    if (sk := conf("sklearn")) is not None and sk.get("serialization_format") == "skops":
        pyfunc = flavors.get("python_function")
        method = (pyfunc.get("predict_fn") if isinstance(pyfunc, dict) else None) or "predict"
        if method in _SKLEARN_METHODS:
            return SklearnFlavor(), {"file": sk.get("pickled_model")}, method
    if (xg := conf("xgboost")) is not None and xg.get("model_format") in _XGBOOST_FORMATS:
        kind = str(xg.get("model_class", "")).rpartition(".")[2]
        if kind in XGBOOST_KINDS:
            return XGBoostFlavor(), {"file": xg.get("data"), "kind": kind}, "predict"
    if (lg := conf("lightgbm")) is not None:
        if lg.get("model_class") == "lightgbm.basic.Booster":
            return LightGBMFlavor(), {"file": lg.get("data")}, "predict"
        if lg.get("serialization_format") == "skops":
            return SklearnFlavor(), {"file": lg.get("data")}, "predict"
    if (ox := conf("onnx")) is not None:
        return OnnxFlavor(), {"file": ox.get("data")}, "predict"
    return None


def _declared_params(mlmodel: Mapping[str, Any]) -> tuple[ParamSpec, ...] | None:
    """The ``params`` of the ``MLmodel`` signature (a JSON list), as Slipway's ParamSpecs."""
    signature = mlmodel.get("signature")
    raw = signature.get("params") if isinstance(signature, dict) else None
    if not raw:
        return None
    try:
        specs = json.loads(raw) if isinstance(raw, str) else raw
        return tuple(
            ParamSpec.model_validate(
                {
                    "name": p["name"],
                    "type": p["type"] if p.get("type") in _PARAM_TYPES else "object",
                    "default": p.get("default"),
                    "shape": tuple(p["shape"]) if p.get("shape") else None,
                }
            )
            for p in specs
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidInput(f"the MLmodel signature's params cannot be read: {exc}", field="MLmodel") from None


def _unwrap(model: Any) -> MlflowModel:
    return model if isinstance(model, MlflowModel) else MlflowModel(model)


def _prediction(result: Any) -> Prediction:
    return result if isinstance(result, pd.DataFrame) else np.asarray(result)
