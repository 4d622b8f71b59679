"""Step functions for the pipeline tests, importable by name from worker processes (and Ray workers).

Each does real work on small data: numbers written to files, sums, linear models. Steps given a
``counter`` file append their name to it each time they really run, so a test can tell a run from
a cache hit.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def count_run(counter: str, name: str) -> None:
    if counter:
        with Path(counter).open("a") as fh:
            fh.write(name + "\n")


def runs(counter: Path) -> list[str]:
    """The steps that really ran, in order, as recorded in ``counter``."""
    return counter.read_text().split() if counter.exists() else []


def numbers(ctx: Any, n: int, counter: str = "") -> dict[str, Any]:
    """Write 0..n-1 to ``data/numbers.json``."""
    count_run(counter, "numbers")
    print(f"writing {n} numbers")
    print("a warning on stderr", file=sys.stderr)
    (ctx.output("data") / "numbers.json").write_text(json.dumps(list(range(n))))
    return {"count": n}


def total(data: Path, scale: float = 1.0, counter: str = "") -> dict[str, Any]:
    count_run(counter, "total")
    values = json.loads((data / "numbers.json").read_text())
    return {"sum": sum(values) * scale}


def total_of_file(numbers_file: Path) -> dict[str, Any]:
    return {"sum": sum(json.loads(numbers_file.read_text()))}


def square(x: int) -> dict[str, Any]:
    return {"y": x * x}


def echo(value: Any) -> dict[str, Any]:
    """Give ``value`` back as the property ``value`` (for steps reading it with JsonGet)."""
    return {"value": value}


def noop() -> None:
    return None


def whereabouts(data: Path) -> dict[str, Any]:
    """The process that ran the step (a light step's is its orchestrator's), and what it read."""
    import os

    print(f"read {len(json.loads((data / 'numbers.json').read_text()))} numbers")
    return {"pid": os.getpid()}


def sleeper(seconds: float) -> dict[str, Any]:
    started = time.time()
    time.sleep(seconds)
    return {"started": started, "ended": time.time()}


def slow_once(ctx: Any, marker: str, seconds: float, counter: str = "") -> dict[str, Any]:
    """Sleep ``seconds`` the first time (creating ``marker``), return at once afterwards."""
    count_run(counter, "slow_once")
    path = Path(marker)
    if not path.exists():
        path.write_text("started")
        time.sleep(seconds)
    (ctx.output("out") / "done.txt").write_text("done")
    return {"slept": True}


def flaky(marker_dir: str, failures: int) -> dict[str, Any]:
    """Fail with ConnectionError the first ``failures`` calls, then succeed."""
    folder = Path(marker_dir)
    folder.mkdir(parents=True, exist_ok=True)
    calls = len(list(folder.iterdir())) + 1
    (folder / f"call-{calls}").write_text("")
    if calls <= failures:
        raise ConnectionError(f"call {calls} failed on purpose")
    return {"calls": calls}


def broken(message: str) -> None:
    raise ValueError(message)


def fails_unless(flag: str, counter: str = "") -> dict[str, Any]:
    """Fail until the file ``flag`` exists: the "fix" a retry picks up."""
    count_run(counter, "fails_unless")
    if not Path(flag).exists():
        raise RuntimeError(f"{flag} is missing")
    return {"fixed": True}


def report(ctx: Any, data: Path, mse: float) -> None:
    """Write an evaluation report with a given MSE (a property file for conditions)."""
    report = {
        "regression_metrics": {"mse": {"value": mse}},
        "rows": len(json.loads((data / "numbers.json").read_text())),
    }
    (ctx.output("evaluation") / "evaluation.json").write_text(json.dumps(report))


def fit_line(ctx: Any, data: Path, slope_prior: float = 0.0) -> Any:
    """Fit y = a*x + b on the numbers (y = 2x + 1) with scikit-learn; log the training MSE."""
    from sklearn.linear_model import LinearRegression

    from slipway.pipelines import TrainingResult

    xs = json.loads((data / "numbers.json").read_text())
    features = [[float(x)] for x in xs]
    targets = [2.0 * x + 1.0 + slope_prior for x in xs]
    model = LinearRegression().fit(features, targets)
    mse = float(sum((p - t) ** 2 for p, t in zip(model.predict(features), targets, strict=True)) / len(xs))
    ctx.log_metric("train_mse", mse)
    return TrainingResult(model, metrics={"intercept": float(model.intercept_)})


def quadratic(ctx: Any, x: float, y: int, kind: str = "a", epochs: int = 3) -> Any:
    """A 'model' whose loss is (x-2)^2 + (y-3)^2, reported each epoch so pruners can act."""
    from sklearn.dummy import DummyRegressor

    loss = (x - 2.0) ** 2 + (y - 3) ** 2 + (0.0 if kind == "a" else 1.0)
    for epoch in range(epochs):
        ctx.report("loss", loss + (epochs - epoch - 1), epoch)
    ctx.log_metric("loss", loss)
    return DummyRegressor(constant=loss).fit([[0.0]], [loss])


def paced_quadratic(ctx: Any, x: float, y: int, kind: str = "a", epochs: int = 3, pause: float = 0.0) -> Any:
    """``quadratic``, taking ``pause`` seconds an epoch; logs when it started (metric ``started_at``)."""
    from sklearn.dummy import DummyRegressor

    ctx.log_metric("started_at", time.time())
    loss = (x - 2.0) ** 2 + (y - 3) ** 2 + (0.0 if kind == "a" else 1.0)
    for epoch in range(epochs):
        time.sleep(pause)
        ctx.report("loss", loss + (epochs - epoch - 1), epoch)
    ctx.log_metric("loss", loss)
    return DummyRegressor(constant=loss).fit([[0.0]], [loss])


def ddp_linear(ctx: Any, rows: Path, epochs: int = 3, lr: float = 0.5) -> Any:
    """Fit y ~ x with PyTorch on this worker's rows; DDP averages the gradients across workers."""
    import pandas as pd
    import torch

    from slipway.pipelines import TrainingResult

    torch.manual_seed(0)
    frame = ctx.shard(pd.read_csv(rows / "rows.csv"))
    x = torch.tensor(frame[["x"]].to_numpy() / 100.0, dtype=torch.float32)
    y = torch.tensor(frame[["y"]].to_numpy() / 100.0, dtype=torch.float32)
    model = ctx.prepare_model(torch.nn.Linear(1, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for epoch in range(epochs):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        ctx.report("loss", loss.item(), epoch)
    return TrainingResult(model, metrics={"rows_seen": len(frame), "world_size": ctx.world_size})


def xgb_rows(ctx: Any, rows: Path, rounds: int = 4) -> Any:
    """Boost y ~ x on this worker's rows; each round's RMSE (over every worker's rows) reported."""
    import pandas as pd
    import xgboost

    class Report(xgboost.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            ctx.report("train_rmse", evals_log["train"]["rmse"][-1], epoch)
            return False

    frame = ctx.shard(pd.read_csv(rows / "rows.csv"))
    data = xgboost.DMatrix(frame[["x"]], label=frame["y"])
    params = {"objective": "reg:squarederror", "max_depth": 3, "eta": 0.5, "tree_method": "hist", "nthread": 1}
    booster = xgboost.train(params, data, rounds, evals=[(data, "train")], callbacks=[Report()], verbose_eval=False)
    ctx.log_metric("rows_seen", len(frame))
    return booster


def write_rows(ctx: Any, n: int) -> None:
    """A CSV of x, y rows (y = 2x + 1) for batch inference."""
    lines = ["x,y"] + [f"{float(i)},{2.0 * i + 1.0}" for i in range(n)]
    (ctx.output("rows") / "rows.csv").write_text("\n".join(lines) + "\n")


def fit_frame(ctx: Any, rows: Path) -> Any:
    """Fit y ~ x on a CSV with pandas, so the model has named inputs (a signature with columns)."""
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    from slipway.pipelines import TrainingResult

    frame = pd.read_csv(rows / "rows.csv")
    model = LinearRegression().fit(frame[["x"]], frame["y"])
    return TrainingResult(model, metrics={"slope": float(model.coef_[0])}, input_example=frame[["x"]].head(3))


def _resumable() -> Any:
    """Quick → slow the first time → quick: a pipeline to kill while its middle step runs."""
    from slipway.pipelines import Parameter, Pipeline, ProcessingStep

    counter = Parameter("counter", str, "")
    first = ProcessingStep("First", numbers, inputs={"n": 3, "counter": counter}, outputs=["data"])
    slow = ProcessingStep(
        "Slow",
        slow_once,
        inputs={"marker": Parameter("marker", str), "seconds": 120.0, "counter": counter},
        outputs=["out"],
        depends_on=[first],
    )
    last = ProcessingStep("Last", total, inputs={"data": first.outputs["data"], "counter": counter}, depends_on=[slow])
    return Pipeline("resumable", [last])


resumable = _resumable()


def rows_from_dataset(ctx: Any, dataset: str) -> None:
    """The rows of a registered dataset version as ``rows/rows.csv``; lineage records the read."""
    services = ctx.work.services
    reader = ("step_execution", ctx.work.info.step_execution_id)
    services.datasets.load(dataset, reader=reader).to_csv(ctx.output("rows") / "rows.csv", index=False)
