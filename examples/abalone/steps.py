"""The work of each abalone step: plain functions, importable by the worker processes that run them.

Each reads its inputs from local paths and writes its outputs into the folders its step declares;
the pipeline (``pipeline.py``) wires them together.
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
FEATURES = ["length", "diameter", "height", "whole weight", "shucked weight", "viscera weight", "shell weight"]
SEXES = ["F", "I", "M"]


def preprocess(ctx: StepContext, raw: Path, test_size: float, seed: int) -> dict[str, Any]:
    """One-hot encode sex, then split the rows into train, validation and test sets (80/10/10 of the rest)."""
    frame = pd.read_csv(raw)
    for sex in SEXES:
        frame[f"sex_{sex}"] = (frame["sex"] == sex).astype(float)
    frame = frame.drop(columns=["sex"]).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    n_test = int(len(frame) * test_size)
    test, rest = frame.iloc[:n_test], frame.iloc[n_test:]
    n_validation = len(rest) // 10
    validation, train = rest.iloc[:n_validation], rest.iloc[n_validation:]
    for name, part in (("train", train), ("validation", validation), ("test", test)):
        part.to_csv(ctx.output(name) / f"{name}.csv", index=False)
    print(f"{len(train)} train, {len(validation)} validation, {len(test)} test rows")
    return {"rows": len(frame), "train": len(train), "validation": len(validation), "test": len(test)}


def _xy(folder: Path, name: str) -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(folder / f"{name}.csv")
    return frame.drop(columns=[TARGET]), frame[TARGET]


def train(ctx: StepContext, train: Path, validation: Path, alpha: float) -> TrainingResult:
    """Fit a scaled ridge regression of rings on the measurements; log its validation MSE."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_train, y_train = _xy(train, "train")
    x_val, y_val = _xy(validation, "validation")
    model = make_pipeline(StandardScaler(), Ridge(alpha=alpha)).fit(x_train, y_train)
    val_mse = float(np.mean((model.predict(x_val) - y_val) ** 2))
    return TrainingResult(model, metrics={"validation_mse": val_mse}, input_example=x_train.head(5))


def evaluate(ctx: StepContext, model: Path, test: Path) -> dict[str, Any]:
    """Score the model on the test set; write the evaluation report the condition reads."""
    x_test, y_test = _xy(test, "test")
    errors = (np.asarray(load_model(model).predict(x_test)) - y_test.to_numpy()) ** 2
    report = {"regression_metrics": {"mse": {"value": float(errors.mean()), "standard_deviation": float(errors.std())}}}
    (ctx.output("evaluation") / "evaluation.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report))
    return {"mse": report["regression_metrics"]["mse"]["value"]}
