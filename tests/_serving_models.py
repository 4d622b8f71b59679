"""Model packages for the serving tests, importable by name from tests and from spawned servers."""

from pathlib import Path

import pandas as pd
from sklearn.linear_model import LinearRegression

from slipway.models import ColumnSpec, Signature, save_model
from slipway.registry import RegistryService

X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 2.0]})


def write_line(folder: Path) -> Path:
    """y = 2a - b + 0.5, checked against its input example."""
    save_model(LinearRegression().fit(X, X.a * 2 - X.b + 0.5), folder, input_example=X)
    return folder


def write_broken(folder: Path) -> Path:
    """A package whose signature takes a column its model never saw: every prediction fails (500)."""
    signature = Signature(inputs=tuple(ColumnSpec(name=n, type="double") for n in ("a", "b", "c")))
    save_model(LinearRegression().fit(X, X.a), folder, signature=signature)
    return folder


def register(registry: RegistryService, package: Path, group: str = "line", *, approve: bool = True) -> str:
    """Register ``package`` in ``group``; return its ``GROUP/VERSION``."""
    version = registry.register_model(group, package)
    if approve:
        registry.approve(group, version.version)
    return f"{group}/{version.version}"
