"""The demo pipeline's steps: plain functions that the pipeline's worker processes import by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from slipway.demo._data import TARGET, encode
from slipway.models import load_model
from slipway.pipelines import StepContext, TrainingResult


def prepare(ctx: StepContext, raw: Path, test_size: float, seed: int) -> dict[str, Any]:
    """Encode the labelled rows, shuffle them, and split off a test set."""
    frame = encode(pd.read_csv(raw)).sample(frac=1.0, random_state=seed)
    n_test = int(len(frame) * test_size)
    frame.iloc[n_test:].to_csv(ctx.output("train") / "rows.csv", index=False)
    frame.iloc[:n_test].to_csv(ctx.output("test") / "rows.csv", index=False)
    print(f"{len(frame) - n_test} training and {n_test} test rows")
    return {"train": len(frame) - n_test, "test": n_test}


def fit(train: Path, alpha: float) -> TrainingResult:
    """A scaled ridge regression of the ring count on the measurements (scikit-learn: the demo's extra)."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = pd.read_csv(train / "rows.csv")
    x, y = frame.drop(columns=[TARGET]), frame[TARGET]
    model = make_pipeline(StandardScaler(), Ridge(alpha=alpha)).fit(x, y)
    train_mse = float(np.mean((model.predict(x) - y) ** 2))
    return TrainingResult(model, metrics={"train_mse": train_mse}, input_example=x.head(3))


def score(ctx: StepContext, model: Path, test: Path) -> dict[str, float]:
    """Test MSE and the standard deviation of the squared errors, as the report the condition reads."""
    frame = pd.read_csv(test / "rows.csv")
    squared = (np.asarray(load_model(model).predict(frame.drop(columns=[TARGET]))) - frame[TARGET].to_numpy()) ** 2
    mse = {"value": float(squared.mean()), "standard_deviation": float(squared.std())}
    (ctx.output("evaluation") / "evaluation.json").write_text(json.dumps({"regression_metrics": {"mse": mse}}))
    return {"mse": mse["value"]}
