"""The bundled abalone data: small enough to ship, real enough to learn from."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

TARGET = "rings"


def load_abalone() -> pd.DataFrame:
    """The UCI Abalone data set (4,177 rows), credited in ``slipway/_data/README.md``."""
    with resources.files("slipway._data").joinpath("abalone.csv").open("rb") as fh:
        return pd.read_csv(fh)


def design_matrix(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Standardised numeric features plus one-hot sex, and the ring count as the target."""
    features = df.drop(columns=[TARGET])
    numeric = features.select_dtypes("number")
    numeric = (numeric - numeric.mean()) / numeric.std()
    sex = pd.get_dummies(features["sex"], prefix="sex", dtype=float)
    x = pd.concat([numeric, sex], axis=1)
    return x.to_numpy(dtype=float), df[TARGET].to_numpy(dtype=float), list(x.columns)
