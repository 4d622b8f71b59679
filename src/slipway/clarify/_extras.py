"""Optional libraries of the clarify domain, imported when first used and named by their extra when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from slipway.errors import MissingExtra


def load(module: str, extra: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtra` naming the pip command that installs ``extra``."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(extra, module) from None


def shap() -> ModuleType:
    """The ``shap`` library (with numba), from the ``clarify`` extra."""
    return load("shap", "clarify")
