"""scikit-learn models, stored with skops so that loading runs no code from the file."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from slipway.models._flavor import Flavor, ModelInput, Prediction, import_extra, package_file
from slipway.models._trust import Trust

_FILE = "model.skops"


def _skops() -> Any:
    return import_extra("sklearn", "skops.io")


class SklearnFlavor(Flavor):
    """Any scikit-learn estimator or pipeline, through :mod:`skops.io`.

    skops trusts scikit-learn's public estimators, NumPy and SciPy types; anything else in the
    file must be named in ``trusted=[...]``: a custom transformer, an XGBoost model inside a
    pipeline, and, in recent skops releases, the tree structures of tree models
    (``sklearn.tree._tree.Tree``), whose unchecked node indices can crash the process when a
    crafted file is run.
    """

    name = "sklearn"
    packages = ("scikit-learn", "skops")
    modules = ("sklearn",)
    accepts_arrays = True

    def save(self, model: Any, folder: Path, trust: Trust) -> dict[str, Any]:
        sio = _skops()
        file = folder / _FILE
        sio.dump(model, file)
        trust.check_types(sio.get_untrusted_types(file=file), what="the scikit-learn model")
        return {"file": _FILE}

    def load(self, folder: Path, config: Mapping[str, Any], trust: Trust) -> Any:
        sio = _skops()
        file = package_file(folder, config.get("file"))
        untrusted = sio.get_untrusted_types(file=file)
        trust.check_types(untrusted, what=file.name)
        return sio.load(file, trusted=untrusted)

    def predict(self, model: Any, data: ModelInput, config: Mapping[str, Any]) -> Prediction:
        if isinstance(data, np.ndarray) and getattr(model, "feature_names_in_", None) is not None:
            # The columns are the signature's, in order (see Flavor.accepts_arrays): the names
            # scikit-learn would check are right, so its warning about their absence is noise.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "X does not have valid feature names", UserWarning)
                return model.predict(data)  # type: ignore[no-any-return]
        return model.predict(data)  # type: ignore[no-any-return]
