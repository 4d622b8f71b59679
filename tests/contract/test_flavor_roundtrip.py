"""Every flavor goes through the registry and back: register, load by ``models:/`` URI, predict the same.

Runs embedded and against a real server (the ``client`` fixture), so a model registered from one
machine loads and predicts identically on another.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from slipway import Client
from slipway._ids import new_id
from slipway.errors import UntrustedModel

rng = np.random.default_rng(7)
X = rng.normal(size=(60, 4)).astype(np.float32)
Y = X @ np.array([1.0, -2.0, 0.5, 3.0], dtype=np.float32) + 1.0


def unique(prefix: str) -> str:
    """A group name of its own: the remote mode shares one server across tests."""
    return f"{prefix}-{new_id()[-8:]}"


class Doubler:
    """A plain Python model for the pyfunc flavor."""

    def predict(self, data: Any) -> np.ndarray:
        return np.asarray(data, dtype=float).sum(axis=1) * 2


def _sklearn() -> tuple[Any, Callable[[np.ndarray], np.ndarray], dict[str, Any]]:
    from sklearn.ensemble import RandomForestRegressor

    model = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, Y)
    return model, model.predict, {"trusted": ["sklearn.tree._tree.Tree"]}


def _xgboost() -> tuple[Any, Callable[[np.ndarray], np.ndarray], dict[str, Any]]:
    import xgboost

    model = xgboost.XGBRegressor(n_estimators=10, max_depth=3).fit(X, Y)
    return model, model.predict, {}


def _lightgbm() -> tuple[Any, Callable[[np.ndarray], np.ndarray], dict[str, Any]]:
    import lightgbm

    model = lightgbm.LGBMRegressor(n_estimators=10, min_child_samples=5, verbose=-1).fit(X, Y)
    return model, model.predict, {}


def _onnx() -> tuple[Any, Callable[[np.ndarray], np.ndarray], dict[str, Any]]:
    import skl2onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LinearRegression

    sk = LinearRegression().fit(X, Y)
    proto = skl2onnx.convert_sklearn(sk, initial_types=[("X", FloatTensorType([None, X.shape[1]]))])
    return proto, sk.predict, {}


def _pytorch() -> tuple[Any, Callable[[np.ndarray], np.ndarray], dict[str, Any]]:
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1)).eval()

    def expected(data: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(torch.as_tensor(data, dtype=torch.float32)).numpy()

    return net, expected, {}


def _pyfunc() -> tuple[Any, Callable[[np.ndarray], np.ndarray], dict[str, Any]]:
    model = Doubler()
    return model, model.predict, {"trusted": True}


FLAVORS = {
    "sklearn": _sklearn,
    "xgboost": _xgboost,
    "lightgbm": _lightgbm,
    "onnx": _onnx,
    "pytorch": _pytorch,
    "pyfunc": _pyfunc,
}


@pytest.mark.parametrize("flavor", sorted(FLAVORS))
def test_every_flavor_round_trips_through_the_registry(client: Client, flavor: str) -> None:
    model, expected, trust = FLAVORS[flavor]()
    group = unique(f"rt-{flavor}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript's deprecation in torch 2.13
        version = client.registry.register_model(group, model, input_example=X[:5], **trust)
        assert version.flavor == flavor
        client.registry.approve(group, version.version, comment="round trip")
        client.registry.set_alias(group, "prod", version.version)
        for uri in (f"models:/{group}/{version.version}", f"models:/{group}@prod", f"models:/{group}@latest-approved"):
            loaded = client.registry.load_model(uri, **trust)
            np.testing.assert_allclose(
                np.asarray(loaded.predict(X)).reshape(-1), np.asarray(expected(X)).reshape(-1), rtol=1e-5, atol=1e-5
            )


def test_a_pyfunc_version_is_not_loaded_without_trust(client: Client) -> None:
    group = unique("rt-untrusted")
    client.registry.register_model(group, Doubler(), input_example=X[:5], trusted=True)
    with pytest.raises(UntrustedModel):
        client.registry.load_model(f"models:/{group}/1")
