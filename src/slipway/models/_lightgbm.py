"""LightGBM models in LightGBM's own text format, which holds no code."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from slipway.errors import InvalidInput
from slipway.models._flavor import Flavor, ModelInput, Prediction, import_extra, package_file
from slipway.models._trust import Trust

_FILE = "model.txt"


def _lgb() -> Any:
    return import_extra("lightgbm", "lightgbm")


class LightGBMFlavor(Flavor):
    """A raw ``lightgbm.Booster`` or one of LightGBM's scikit-learn wrappers.

    The text format stores the Booster only, and LightGBM offers no public way to rebuild a
    wrapper around it without pickle, so ``LoadedModel.raw`` is the trained Booster. For a
    classifier the package records the original classes, and ``predict`` turns probabilities into
    those labels exactly as ``LGBMClassifier.predict`` does.
    """

    name = "lightgbm"
    packages = ("lightgbm",)
    modules = ("lightgbm",)

    def save(self, model: Any, folder: Path, trust: Trust) -> dict[str, Any]:
        lgb = _lgb()
        config: dict[str, Any] = {"file": _FILE}
        if isinstance(model, lgb.Booster):
            booster = model
        elif isinstance(model, lgb.LGBMModel):
            booster = model.booster_
            if isinstance(model, lgb.LGBMClassifier):
                config["classes"] = np.asarray(model.classes_).tolist()
        else:
            raise InvalidInput(
                f"the lightgbm flavor saves a Booster or an LGBM estimator, not {type(model).__qualname__}",
                field="model",
            )
        booster.save_model(folder / _FILE)
        return config

    def load(self, folder: Path, config: Mapping[str, Any], trust: Trust) -> Any:
        return _lgb().Booster(model_file=str(package_file(folder, config.get("file"))))

    def predict(self, model: Any, data: ModelInput, config: Mapping[str, Any]) -> Prediction:
        scores = np.asarray(model.predict(data))
        classes = config.get("classes")
        if classes is None:
            return scores
        # Binary: the Booster gives P(second class); LGBMClassifier picks it only above 0.5.
        index = (scores > 0.5).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return np.asarray(classes)[index]
