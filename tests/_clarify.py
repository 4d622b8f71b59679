"""A registered abalone model for the clarify, monitoring and pipeline tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from slipway import Client

FEATURES = ["length", "diameter", "height", "whole weight", "shucked weight", "viscera weight", "shell weight"]


def register_rings_model(client: Client, data: pd.DataFrame, folder: Path, *, weights: dict[str, float] | None = None,
                         group: str = "abalone") -> str:
    """A linear model of rings on the numeric features, registered; its ``GROUP/VERSION``.

    ``weights`` replaces the fitted model by a fixed linear one (to make a "changed" model).
    """
    from sklearn.linear_model import LinearRegression

    from slipway.models import save_model

    X = data[FEATURES]
    model = LinearRegression().fit(X, data["rings"])
    if weights is not None:
        model.coef_ = [weights.get(f, 0.0) for f in FEATURES]
        model.intercept_ = 5.0
    save_model(model, folder, input_example=X.head(3))
    version = client.registry.register_model(group, folder)
    return f"{group}/{version.version}"
