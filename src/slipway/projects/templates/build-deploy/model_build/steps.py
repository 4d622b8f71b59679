"""The work of each pipeline step, as plain functions the pipeline's worker processes import.

Each reads its inputs from local paths and writes its outputs into the folders its step declares.
Replace the model or the features here; ``pipeline.py`` only wires the steps together.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from slipway.models import load_model
from slipway.pipelines import StepContext, TrainingResult

TARGET = "rings"
CATEGORIES = {"sex": ["F", "I", "M"]}


def encode(frame: pd.DataFrame) -> pd.DataFrame:
    """One-hot encode the categorical columns: the model's input, for training and for requests alike."""
    frame = frame.copy()
    for column, values in CATEGORIES.items():
        for value in values:
            frame[f"{column}_{value}"] = (frame[column] == value).astype(float)
    return frame.drop(columns=list(CATEGORIES))


def preprocess(ctx: StepContext, raw: Path, test_size: float, seed: int) -> dict[str, Any]:
    """Encode the rows, shuffle them, and split them into train, validation and test sets."""
    frame = pd.read_csv(raw)
    missing = {TARGET, *CATEGORIES} - set(frame.columns)
    if missing:
        raise ValueError(f"{raw.name} lacks the columns {sorted(missing)}")
    frame = encode(frame).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    n_test = max(1, int(len(frame) * test_size))
    test, rest = frame.iloc[:n_test], frame.iloc[n_test:]
    n_validation = max(1, len(rest) // 10)
    validation, train = rest.iloc[:n_validation], rest.iloc[n_validation:]
    for name, part in (("train", train), ("validation", validation), ("test", test)):
        part.to_csv(ctx.output(name) / f"{name}.csv", index=False)
    return {"train": len(train), "validation": len(validation), "test": len(test)}


def _xy(folder: Path, name: str) -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(folder / f"{name}.csv")
    return frame.drop(columns=[TARGET]), frame[TARGET]


def train(train: Path, validation: Path, alpha: float) -> TrainingResult:
    """Fit a scaled ridge regression; its validation MSE is logged on the step's tracked run."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_train, y_train = _xy(train, "train")
    x_val, y_val = _xy(validation, "validation")
    model = make_pipeline(StandardScaler(), Ridge(alpha=alpha)).fit(x_train, y_train)
    val_mse = float(np.mean((model.predict(x_val) - y_val) ** 2))
    return TrainingResult(model, metrics={"validation_mse": val_mse}, input_example=x_train.head(5))


def evaluate(ctx: StepContext, model: Path, test: Path) -> dict[str, float]:
    """Score the model on the test rows and write the report the pipeline's condition reads."""
    x_test, y_test = _xy(test, "test")
    errors = (np.asarray(load_model(model).predict(x_test)) - y_test.to_numpy()) ** 2
    mse = {"value": float(errors.mean()), "standard_deviation": float(errors.std())}
    (ctx.output("evaluation") / "evaluation.json").write_text(json.dumps({"regression_metrics": {"mse": mse}}))
    return {"mse": mse["value"]}
