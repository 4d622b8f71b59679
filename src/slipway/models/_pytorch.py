"""PyTorch models as TorchScript, which loads without the Python class that defined the model."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from slipway.errors import InvalidInput, SlipwayError
from slipway.models._flavor import Flavor, ModelInput, Prediction, import_extra, package_file
from slipway.models._trust import Trust

_FILE = "model.pt"


def _torch() -> Any:
    return import_extra("torch", "torch")


class PyTorchFlavor(Flavor):
    """A TorchScript module (from ``torch.jit.script`` or ``torch.jit.trace``), or an ``nn.Module``
    that is scripted on save.

    A module TorchScript cannot script (data-dependent Python, unsupported calls) is refused;
    trace it yourself with ``torch.jit.trace(model, example)`` and save the traced module.
    ``predict`` feeds a float32 tensor on the CPU under ``torch.no_grad()`` with the module in
    evaluation mode, and returns the output tensor as a NumPy array.
    """

    name = "pytorch"
    packages = ("torch",)
    modules = ("torch",)

    def save(self, model: Any, folder: Path, trust: Trust) -> dict[str, Any]:
        torch = _torch()
        if not isinstance(model, torch.nn.Module):
            raise InvalidInput(
                f"the pytorch flavor saves a torch.nn.Module, not {type(model).__qualname__}", field="model"
            )
        if not isinstance(model, torch.jit.ScriptModule):
            try:
                model = torch.jit.script(model)
            except Exception as exc:  # TorchScript raises many types; all mean "cannot script this".
                reason = next(iter(str(exc).strip().splitlines()), "") or type(exc).__name__
                raise InvalidInput(
                    f"TorchScript cannot script {type(model).__qualname__} ({reason}); trace it with "
                    "torch.jit.trace(model, example) and save the traced module",
                    field="model",
                ) from exc
        torch.jit.save(model, str(folder / _FILE))
        return {"file": _FILE}

    def load(self, folder: Path, config: Mapping[str, Any], trust: Trust) -> Any:
        module = _torch().jit.load(str(package_file(folder, config.get("file"))), map_location="cpu")
        return module.eval()

    def predict(self, model: Any, data: ModelInput, config: Mapping[str, Any]) -> Prediction:
        torch = _torch()
        values = data.to_numpy(dtype=np.float32) if isinstance(data, pd.DataFrame) else data
        with torch.no_grad():
            output = model(torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32)))
        if not isinstance(output, torch.Tensor):
            raise SlipwayError(
                f"the pytorch flavor needs a module that returns a tensor, got {type(output).__name__}"
            )
        return output.cpu().numpy()  # type: ignore[no-any-return]
