"""The flavor contract: how one framework's models are written, read back and run.

A flavor implements three methods and nothing else. Choosing the flavor, the manifest, the
signature, version checks, the input example and the model card are the package's job
(``_package.py``), so a new framework costs one small module.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, TypeAlias

import numpy as np
import pandas as pd

from slipway.errors import InvalidInput, MissingExtra
from slipway.models._trust import Trust

ModelInput: TypeAlias = pd.DataFrame | np.ndarray
"""What a flavor's ``predict`` receives: already converted and, when there is a signature, checked."""

Prediction: TypeAlias = np.ndarray | pd.DataFrame | dict[str, np.ndarray]
"""What ``predict`` returns: an array, a DataFrame, or one array per output for multi-output models."""


class Flavor(ABC):
    """One framework's way to store a model in a package folder and run it.

    The flavors are built in (:data:`slipway.models.flavors`); this class is public as their
    written contract, for readers and for the flavors still to come.

    Contract:
        - ``save`` writes only inside ``folder`` (an empty staging folder) and returns the
          JSON-serialisable configuration ``load`` and ``predict`` need; it is stored in the
          manifest as ``flavor_config``. File names in it are plain names inside the folder.
        - ``load`` reads a folder written by ``save`` and returns the framework's model object
          (``LoadedModel.raw``). It refuses, with :class:`~slipway.models.UntrustedModel`, to read
          anything that could run code the caller has not trusted; ``save`` refuses to write what
          ``load`` with the same ``trust`` would refuse, so the need for trust shows at training
          time rather than at deployment.
        - ``predict`` is pure: it never mutates the model and is safe to call from several threads
          when the framework's own predict is.
        - The framework is imported inside the methods (:func:`import_extra`), never at module
          import, so ``slipway.models`` imports with no framework installed.

    Attributes:
        name: the flavor's name in manifests and in ``save_model(flavor=...)``.
        packages: distributions whose installed versions are recorded at save and checked at load.
        modules: top-level modules whose objects this flavor saves (used to detect the flavor).
        accepts_arrays: ``predict`` may be given a NumPy array of a named signature's columns, in
            signature order, instead of the DataFrame. :class:`LoadedModel` relies on it only for
            a model that gives the same answers both ways on its input example.

    A flavor whose models take inference parameters beside their input (MLflow's ``params``)
    also overrides :meth:`predict_with_params`, and :meth:`declared_params` when its model files
    declare them (an MLflow signature's params schema).
    """

    name: ClassVar[str]
    packages: ClassVar[tuple[str, ...]]
    modules: ClassVar[tuple[str, ...]] = ()
    accepts_arrays: ClassVar[bool] = False

    @abstractmethod
    def save(self, model: Any, folder: Path, trust: Trust) -> dict[str, Any]:
        """Write ``model`` into ``folder`` and return the configuration to record."""

    @abstractmethod
    def load(self, folder: Path, config: Mapping[str, Any], trust: Trust) -> Any:
        """Read the model back from ``folder``."""

    @abstractmethod
    def predict(self, model: Any, data: ModelInput, config: Mapping[str, Any]) -> Prediction:
        """Run the loaded ``model`` on ``data``."""

    def predict_with_params(
        self, model: Any, data: ModelInput, config: Mapping[str, Any], params: Mapping[str, Any]
    ) -> Prediction:
        """Run the loaded ``model`` on ``data`` with inference parameters (already checked and defaulted).

        Raises:
            InvalidInput: from flavors whose models take no parameters (the default).
        """
        raise InvalidInput(f"{self.name} models take no inference parameters", field="params")

    def declared_params(self, model: Any, config: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The :class:`~slipway.models.ParamSpec` list the model files themselves declare, if any."""
        return None


def import_extra(extra: str, module: str) -> ModuleType:
    """Import an optional framework, or say which extra installs it.

    Raises:
        MissingExtra: when ``module`` cannot be imported.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(extra, module) from None


def package_file(folder: Path, name: object) -> Path:
    """The path of a file the manifest names, refusing names that would leave the package folder.

    Raises:
        InvalidInput: when ``name`` is not a plain file name, or the package has no such file.
    """
    if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\\" in name:
        raise InvalidInput(f"the manifest names {name!r}, which is not a plain file name", field="file")
    path = folder / name
    if not path.is_file():
        raise InvalidInput(f"the manifest names {name!r}, but {folder} has no such file", field="file")
    return path


def config_choice(config: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    """Read ``config[key]`` and refuse values outside ``allowed`` (manifests are user-editable files).

    Raises:
        InvalidInput: naming the key and the allowed values.
    """
    value = config.get(key)
    if value not in allowed:
        raise InvalidInput(
            f"flavor_config.{key} is {value!r}; expected one of {', '.join(allowed)}", field=key
        )
    return str(value)
