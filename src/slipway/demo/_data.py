"""The bundled abalone data: small enough to ship, real enough to learn from."""

from __future__ import annotations

from importlib import resources

import pandas as pd

TARGET = "rings"
SEXES = ("F", "I", "M")


def load_abalone() -> pd.DataFrame:
    """The UCI Abalone data set (4,177 rows), credited in ``slipway/_data/README.md``."""
    with resources.files("slipway._data").joinpath("abalone.csv").open("rb") as fh:
        return pd.read_csv(fh)


def encode(frame: pd.DataFrame) -> pd.DataFrame:
    """The model's input columns: the measurements, and sex one-hot encoded (``sex_F``, ``sex_I``, ``sex_M``)."""
    encoded = frame.drop(columns=["sex"])
    for sex in SEXES:
        encoded[f"sex_{sex}"] = (frame["sex"] == sex).astype(float)
    return encoded
