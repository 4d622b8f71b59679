"""PyTorch through TorchScript: scripted on save, traced by the caller, float tensors in."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from slipway.errors import InvalidInput
from slipway.models import ColumnSpec, TensorSpec, load_model, save_model

if TYPE_CHECKING:
    import torch as torch_module

# torch 2.13 deprecates TorchScript in favour of torch.export; the flavor still uses it on purpose.
pytestmark = pytest.mark.filterwarnings(r"ignore:`torch\.jit\.\w+` is deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def torch() -> ModuleType:
    """Imported when a test here runs, not when the suite is collected (torch takes seconds to import)."""
    return pytest.importorskip("torch")


def _net(torch: ModuleType, inputs: int) -> torch_module.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(inputs, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))


def _expected(torch: ModuleType, module: torch_module.nn.Module, X: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return module(torch.tensor(X, dtype=torch.float32)).numpy()


def _numpy_inside(torch: ModuleType) -> torch_module.nn.Module:
    class NumpyInside(torch.nn.Module):
        """TorchScript cannot script a call into NumPy, but tracing records the tensor ops."""

        def forward(self, x: torch_module.Tensor) -> torch_module.Tensor:
            return x * float(np.sqrt(4.0))

    return NumpyInside()


def test_an_nn_module_is_scripted_on_save(torch: ModuleType, abalone: pd.DataFrame, tmp_path: Path) -> None:
    X = abalone.drop(columns=["sex", "rings"])
    net = _net(torch, X.shape[1])
    save_model(net, tmp_path / "m", input_example=X.head(3))
    loaded = load_model(tmp_path / "m")
    assert loaded.flavor == "pytorch" and isinstance(loaded.raw, torch.jit.ScriptModule)
    assert not loaded.raw.training
    np.testing.assert_allclose(loaded.predict(X), _expected(torch, net, X.to_numpy()), rtol=1e-6)


def test_integer_arrays_are_fed_as_floats(torch: ModuleType, tmp_path: Path) -> None:
    net = _net(torch, 3)
    save_model(net, tmp_path / "m")
    X = np.arange(12).reshape(4, 3)
    np.testing.assert_allclose(load_model(tmp_path / "m").predict(X), _expected(torch, net, X), rtol=1e-6)


def test_a_module_that_cannot_be_scripted_is_refused_and_its_trace_saves(torch: ModuleType, tmp_path: Path) -> None:
    X = np.ones((2, 3), dtype=np.float32)
    with pytest.raises(InvalidInput, match=r"torch\.jit\.trace") as err:
        save_model(_numpy_inside(torch), tmp_path / "m")
    assert err.value.field == "model"
    traced = torch.jit.trace(_numpy_inside(torch), torch.from_numpy(X))
    save_model(traced, tmp_path / "m", input_example=X)
    np.testing.assert_allclose(load_model(tmp_path / "m").predict(X), X * 2)


def test_an_image_like_input_keeps_its_tensor_shape(torch: ModuleType, tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6, 2))
    X = np.random.default_rng(0).normal(size=(5, 2, 3)).astype(np.float32)
    save_model(net, tmp_path / "m", input_example=X)
    loaded = load_model(tmp_path / "m")
    assert loaded.signature is not None
    assert loaded.signature.inputs == TensorSpec(dtype="float32", shape=(-1, 2, 3))
    assert loaded.signature.outputs == (
        ColumnSpec(name="0", type="float"), ColumnSpec(name="1", type="float")
    )
    np.testing.assert_allclose(loaded.predict(X), _expected(torch, net, X), rtol=1e-6)
    with pytest.raises(InvalidInput, match="shape"):
        loaded.predict(X.reshape(5, 3, 2))


def test_only_modules_are_saved(torch: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="torch.nn.Module"):
        save_model(torch.ones(3), tmp_path / "m")
