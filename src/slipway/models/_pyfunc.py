"""Generic Python models (anything with ``predict``, or a plain callable) stored with cloudpickle."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd

from slipway.errors import InvalidInput
from slipway.models._flavor import Flavor, ModelInput, Prediction, config_choice, package_file
from slipway.models._trust import Trust

_FILE = "model.pkl"
_CALLS = ("predict", "__call__")


class PyFuncFlavor(Flavor):
    """The escape hatch for models no other flavor knows, at the price of trust.

    cloudpickle stores code and unpickling runs it, so a package of this flavor can do anything
    when it is loaded. Saving one needs ``trusted=True`` (so nobody writes a pickle by accident),
    and so does loading one. ``predict`` calls the object's ``predict`` method, or the object
    itself when it is a plain callable, and returns a DataFrame as is and anything else as an array.
    """

    name = "pyfunc"
    packages = ("cloudpickle",)

    def save(self, model: Any, folder: Path, trust: Trust) -> dict[str, Any]:
        trust.require_everything(
            "The pyfunc flavor stores the model with cloudpickle, so loading it will run code from the "
            "file (and will need trusted=True too). Prefer a flavor that stores no code when one fits."
        )
        if callable(getattr(model, "predict", None)):
            call = "predict"
        elif callable(model):
            call = "__call__"
        else:
            raise InvalidInput(
                "a pyfunc model needs a predict method or must be callable; "
                f"{type(model).__qualname__} is neither",
                field="model",
            )
        with open(folder / _FILE, "wb") as f:
            cloudpickle.dump(model, f)
        return {"file": _FILE, "call": call}

    def load(self, folder: Path, config: Mapping[str, Any], trust: Trust) -> Any:
        file = package_file(folder, config.get("file"))
        config_choice(config, "call", _CALLS)
        trust.require_everything(
            f"{file} is a cloudpickle file: loading it runs whatever code it holds, with your rights."
        )
        with open(file, "rb") as f:
            return cloudpickle.load(f)

    def predict(self, model: Any, data: ModelInput, config: Mapping[str, Any]) -> Prediction:
        result = getattr(model, config_choice(config, "call", _CALLS))(data)
        return result if isinstance(result, pd.DataFrame) else np.asarray(result)

    def predict_with_params(
        self, model: Any, data: ModelInput, config: Mapping[str, Any], params: Mapping[str, Any]
    ) -> Prediction:
        """``model.predict(data, params=params)``, as MLflow's pyfunc models are called."""
        result = getattr(model, config_choice(config, "call", _CALLS))(data, params=dict(params))
        return result if isinstance(result, pd.DataFrame) else np.asarray(result)
