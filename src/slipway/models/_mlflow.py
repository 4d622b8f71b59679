"""Models in MLflow's own format (an ``MLmodel`` folder), as MLflow's client logs and registers them.

Slipway stores such a folder unchanged, so MLflow's client can download and load it back, and
records the flavor as ``mlflow`` rather than pretending to know what is inside: most MLflow
flavors are pickles, so loading one runs code and needs ``trusted=True``.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from slipway.errors import InvalidInput
from slipway.models._flavor import Flavor, ModelInput, Prediction, import_extra
from slipway.models._trust import Trust

MLMODEL = "MLmodel"
FOLDER = "mlflow_model"  # where the MLflow folder sits inside the package


class MlflowFlavor(Flavor):
    """An MLflow model folder, loaded with ``mlflow.pyfunc.load_model``.

    ``save`` takes the path of an MLflow model folder (one holding an ``MLmodel`` file) and copies
    it into the package; it never reads the model. Both ``save`` and ``load`` need
    ``trusted=True``: MLflow's flavors unpickle (cloudpickle, pickle, joblib) when they load.
    """

    name = "mlflow"
    packages = ("mlflow",)

    def save(self, model: Any, folder: Path, trust: Trust) -> dict[str, Any]:
        trust.require_everything(
            "An MLflow model is usually a pickle, so loading it will run code from its files "
            "(and will need trusted=True too)."
        )
        source = Path(model) if isinstance(model, str | Path) else None
        if source is None or not (source / MLMODEL).is_file():
            raise InvalidInput(
                f"the mlflow flavor takes the path of an MLflow model folder (with an {MLMODEL} file), got {model!r}",
                field="model",
            )
        shutil.copytree(source, folder / FOLDER)
        return {"path": FOLDER}

    def load(self, folder: Path, config: Mapping[str, Any], trust: Trust) -> Any:
        if config.get("path") != FOLDER or not (folder / FOLDER / MLMODEL).is_file():
            raise InvalidInput(f"{folder} has no MLflow model folder {FOLDER}/{MLMODEL}", field="path")
        trust.require_everything(
            f"{folder / FOLDER} is an MLflow model: loading it unpickles its files, which runs their code."
        )
        pyfunc = import_extra("mlflow", "mlflow.pyfunc")
        return pyfunc.load_model(str(folder / FOLDER))

    def predict(self, model: Any, data: ModelInput, config: Mapping[str, Any]) -> Prediction:
        result = model.predict(data)
        return result if isinstance(result, pd.DataFrame) else np.asarray(result)

    def predict_with_params(
        self, model: Any, data: ModelInput, config: Mapping[str, Any], params: Mapping[str, Any]
    ) -> Prediction:
        result = model.predict(data, params=dict(params))
        return result if isinstance(result, pd.DataFrame) else np.asarray(result)

    def declared_params(self, model: Any, config: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The params schema of the MLflow signature, as Slipway's ParamSpecs."""
        from slipway.models._signature import ParamSpec

        metadata = getattr(model, "metadata", None)
        schema = metadata.get_params_schema() if metadata is not None else None
        if schema is None:
            return None
        return tuple(
            ParamSpec.model_validate(
                {"name": p.name, "type": _param_type(p.dtype), "default": p.default, "shape": p.shape}
            )
            for p in schema.params
        )


def _param_type(dtype: Any) -> str:
    """An MLflow param's DataType as Slipway's type name; anything else (an Object) as ``object``."""
    name = getattr(dtype, "name", None)
    return name if name in ("double", "float", "long", "integer", "boolean", "string", "datetime") else "object"
