"""The built-in flavors by name, and how a model object's flavor is recognised."""

from __future__ import annotations

from typing import Any

from slipway.errors import InvalidInput
from slipway.models._flavor import Flavor
from slipway.models._lightgbm import LightGBMFlavor
from slipway.models._mlflow import MlflowFlavor
from slipway.models._onnx import OnnxFlavor
from slipway.models._pyfunc import PyFuncFlavor
from slipway.models._pytorch import PyTorchFlavor
from slipway.models._sklearn import SklearnFlavor
from slipway.models._xgboost import XGBoostFlavor

_FLAVORS: dict[str, Flavor] = {
    flavor.name: flavor
    for flavor in (
        SklearnFlavor(),
        XGBoostFlavor(),
        LightGBMFlavor(),
        OnnxFlavor(),
        PyTorchFlavor(),
        PyFuncFlavor(),
        MlflowFlavor(),
    )
}
_BY_MODULE = {module: flavor for flavor in _FLAVORS.values() for module in flavor.modules}

FLAVOR_NAMES: tuple[str, ...] = tuple(_FLAVORS)


def get_flavor(name: str) -> Flavor:
    """The flavor called ``name``.

    Raises:
        InvalidInput: for a name no flavor has.
    """
    try:
        return _FLAVORS[name]
    except KeyError:
        raise InvalidInput(
            f"unknown flavor {name!r}; known: {', '.join(FLAVOR_NAMES)}", field="flavor"
        ) from None


def detect_flavor(model: Any) -> Flavor:
    """The flavor for ``model``, from the modules its class and base classes come from.

    Reading ``__module__`` imports nothing, so detection works whatever is installed. The class's
    own module wins over its bases' (an ``XGBRegressor`` is also a scikit-learn estimator, and
    goes to the xgboost flavor). Objects no framework claims go to ``pyfunc`` when they have a
    ``predict`` method or are callable.

    Raises:
        InvalidInput: when no flavor fits, suggesting ``flavor=``.
    """
    for cls in type(model).__mro__:
        flavor = _BY_MODULE.get(cls.__module__.partition(".")[0])
        if flavor is not None:
            return flavor
    if callable(getattr(model, "predict", None)) or callable(model):
        return _FLAVORS["pyfunc"]
    raise InvalidInput(
        f"cannot tell the flavor of a {type(model).__qualname__}; pass flavor= one of "
        f"{', '.join(FLAVOR_NAMES)} (an ONNX model given as bytes or a path needs flavor='onnx')",
        field="flavor",
    )
