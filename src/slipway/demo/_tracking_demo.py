"""The tracking demo: a small hyperparameter sweep on the abalone data, tracked run by run.

It needs nothing beyond the core install (ridge regression by gradient descent in NumPy), so
``make demo`` shows experiments, params, metric histories, artifacts and search on a fresh machine.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np

from slipway._fluent import start_run
from slipway.client import Client
from slipway.demo._data import design_matrix, load_abalone
from slipway.tracking import Run

EXPERIMENT = "abalone-demo"
ALPHAS = (0.0, 0.001, 0.01, 0.1)
EPOCHS = 300
LEARNING_RATE = 0.1


def _fit_ridge(
    x: np.ndarray, y: np.ndarray, alpha: float, lr: float, on_epoch: Callable[[int, np.ndarray, float], None]
) -> tuple[np.ndarray, float]:
    w = np.zeros(x.shape[1])
    b = float(y.mean())
    n = len(y)
    for epoch in range(EPOCHS):
        err = x @ w + b - y
        w -= lr * (x.T @ err / n + alpha * w)
        b -= lr * float(err.mean())
        on_epoch(epoch, w, b)
    return w, b


def run_tracking_demo(client: Client, say: Callable[[str], None] = print) -> list[Run]:
    """Train one ridge model per alpha, each a tracked run; return the runs, best first."""
    df = load_abalone()
    x, y, columns = design_matrix(df)
    rng = np.random.default_rng(42)
    idx = rng.permutation(len(y))
    cut = int(0.8 * len(y))
    train, test = idx[:cut], idx[cut:]
    say(f"abalone: {len(y)} rows, {len(columns)} features; train {len(train)}, test {len(test)}")

    for alpha in ALPHAS:
        with start_run(
            EXPERIMENT, name=f"ridge-alpha-{alpha}", tags={"model": "ridge", "demo": "true"}, client=client
        ) as run:
            run.log_params({"alpha": alpha, "epochs": EPOCHS, "learning_rate": LEARNING_RATE, "features": len(columns)})

            def on_epoch(epoch: int, w: np.ndarray, b: float) -> None:
                run.log_metrics(
                    {
                        "train_mse": float(np.mean((x[train] @ w + b - y[train]) ** 2)),
                        "test_mse": float(np.mean((x[test] @ w + b - y[test]) ** 2)),
                    },
                    step=epoch,
                )

            w, b = _fit_ridge(x[train], y[train], alpha, LEARNING_RATE, on_epoch)
            mse = float(np.mean((x[test] @ w + b - y[test]) ** 2))
            run.log_metric("mse", mse)
            run.log_text(
                json.dumps({"intercept": b, "coefficients": dict(zip(columns, w.tolist(), strict=True))}, indent=2),
                "model/coefficients.json",
            )
            say(f"  run {run.name}: test MSE {mse:.3f}")

    exp = client.tracking.get_experiment_by_name(EXPERIMENT)
    return client.tracking.search_runs(
        [exp.id], filter="tags.demo = 'true'", order_by=["metrics.mse ASC"], max_results=len(ALPHAS)
    ).runs
