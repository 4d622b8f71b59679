"""XGBoost models in XGBoost's own binary JSON format (UBJSON), which holds no code."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from slipway.errors import InvalidInput
from slipway.models._flavor import (
    Flavor,
    ModelInput,
    Prediction,
    config_choice,
    import_extra,
    package_file,
)
from slipway.models._trust import Trust

_FILE = "model.ubj"
# The classes a package may name: the manifest is a file anyone can edit, so no getattr on free text.
XGBOOST_KINDS = ("Booster", "XGBRegressor", "XGBClassifier", "XGBRanker", "XGBRFRegressor", "XGBRFClassifier")


def _xgb() -> Any:
    return import_extra("xgboost", "xgboost")


class XGBoostFlavor(Flavor):
    """A raw ``xgboost.Booster`` or one of XGBoost's scikit-learn wrappers.

    The wrappers' ``save_model`` also stores what ``predict`` needs (such as a classifier's
    classes), so a reloaded ``XGBClassifier`` predicts labels like the original. A raw Booster
    predicts what the Booster did: scores or probabilities, per its objective.
    """

    name = "xgboost"
    packages = ("xgboost",)
    modules = ("xgboost",)

    def save(self, model: Any, folder: Path, trust: Trust) -> dict[str, Any]:
        xgb = _xgb()
        kind = "Booster" if isinstance(model, xgb.Booster) else type(model).__name__
        if kind not in XGBOOST_KINDS:
            raise InvalidInput(
                f"the xgboost flavor saves a Booster or one of {', '.join(XGBOOST_KINDS[1:])}, "
                f"not {type(model).__qualname__}",
                field="model",
            )
        model.save_model(folder / _FILE)
        return {"file": _FILE, "kind": kind}

    def load(self, folder: Path, config: Mapping[str, Any], trust: Trust) -> Any:
        xgb = _xgb()
        file = str(package_file(folder, config.get("file")))
        kind = config_choice(config, "kind", XGBOOST_KINDS)
        if kind == "Booster":
            return xgb.Booster(model_file=file)
        model = getattr(xgb, kind)()
        model.load_model(file)
        return model

    def predict(self, model: Any, data: ModelInput, config: Mapping[str, Any]) -> Prediction:
        xgb = _xgb()
        if isinstance(model, xgb.Booster):
            return model.predict(xgb.DMatrix(data))  # type: ignore[no-any-return]
        return model.predict(data)  # type: ignore[no-any-return]
