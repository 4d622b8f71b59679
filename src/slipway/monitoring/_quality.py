"""Model quality: predictions joined with ground-truth labels by inference id, and the metrics of the match.

Labels arrive late and apart from the predictions (someone learns the true price a week after
the model guessed it), so the two are separate tables joined on ``inference_id``; predictions
without a label yet are left out and counted. The metrics are plain numpy, so monitoring needs no
machine-learning framework installed.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from slipway.errors import InvalidInput

INFERENCE_ID = "inference_id"
PREDICTION = "prediction"
LABEL = "label"
PROBABILITY = "probability"


class ProblemType(enum.StrEnum):
    REGRESSION = "Regression"
    BINARY_CLASSIFICATION = "BinaryClassification"
    MULTICLASS_CLASSIFICATION = "MulticlassClassification"


@dataclasses.dataclass(frozen=True)
class QualityResult:
    """The metrics of one evaluation, and how many predictions had a label to be judged by.

    Attributes:
        metrics: name to value, e.g. ``{"mae": 1.2, "rmse": 1.9}``.
        confusion_matrix: for classification, ``{"labels": [...], "counts": [[...]]}`` with rows
            the true class and columns the predicted one; None for regression.
        matched: predictions joined with a label.
        unmatched: predictions without a label (yet).
    """

    problem_type: ProblemType
    metrics: dict[str, float]
    confusion_matrix: dict[str, Any] | None
    matched: int
    unmatched: int

    def to_dict(self) -> dict[str, Any]:
        return {"problem_type": str(self.problem_type), "metrics": self.metrics,
                "confusion_matrix": self.confusion_matrix, "matched": self.matched, "unmatched": self.unmatched}


def join_labels(predictions: pd.DataFrame, labels: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Predictions with their labels (inner join on ``inference_id``), and how many found none.

    Raises:
        InvalidInput: if a column is missing (``field`` names the table).
    """
    _require(predictions, [INFERENCE_ID, PREDICTION], "predictions")
    _require(labels, [INFERENCE_ID, LABEL], "labels")
    joined = predictions.merge(labels[[INFERENCE_ID, LABEL]].drop_duplicates(INFERENCE_ID, keep="last"),
                               on=INFERENCE_ID, how="inner")
    return joined, len(predictions) - len(joined)


def evaluate(predictions: pd.DataFrame, labels: pd.DataFrame, problem_type: ProblemType) -> QualityResult:
    """Join predictions with labels and compute the problem type's metrics.

    Regression: ``mae``, ``mse``, ``rmse``, ``r2``. Classification: ``accuracy`` and macro
    ``precision``, ``recall``, ``f1`` (binary: of the positive class, the larger label), and
    ``auc`` when a ``probability`` column holds the positive class's score (binary only).

    Example:
        >>> evaluate(pd.DataFrame({"inference_id": ["a", "b"], "prediction": [1.0, 2.0]}),
        ...          pd.DataFrame({"inference_id": ["a", "b"], "label": [1.0, 3.0]}), ProblemType.REGRESSION).metrics
        {'mae': 0.5, 'mse': 0.5, 'rmse': 0.707..., 'r2': -1.0}

    Raises:
        InvalidInput: if a column is missing or no prediction has a label.
    """
    joined, unmatched = join_labels(predictions, labels)
    if joined.empty:
        raise InvalidInput("no prediction has a label: are the inference ids the same?", field="labels")
    if problem_type is ProblemType.REGRESSION:
        metrics = _regression(joined[LABEL].to_numpy(float), joined[PREDICTION].to_numpy(float))
        return QualityResult(problem_type, metrics, None, len(joined), unmatched)
    truth, predicted = joined[LABEL].to_numpy(), joined[PREDICTION].to_numpy()
    classes = np.unique(np.concatenate([truth, predicted]))
    counts = _confusion(truth, predicted, classes)
    metrics = _classification(counts, binary=problem_type is ProblemType.BINARY_CLASSIFICATION)
    if problem_type is ProblemType.BINARY_CLASSIFICATION and PROBABILITY in joined:
        metrics["auc"] = roc_auc(truth == classes[-1], joined[PROBABILITY].to_numpy(float))
    matrix = {"labels": classes.tolist(), "counts": counts.tolist()}
    return QualityResult(problem_type, metrics, matrix, len(joined), unmatched)


def _require(frame: pd.DataFrame, columns: list[str], name: str) -> None:
    missing = [c for c in columns if c not in frame]
    if missing:
        raise InvalidInput(f"the {name} lack the column(s) {', '.join(missing)}", field=name)


def _regression(truth: npt.NDArray[np.float64], predicted: npt.NDArray[np.float64]) -> dict[str, float]:
    error = predicted - truth
    mse = float(np.mean(error**2))
    spread = float(np.sum((truth - truth.mean()) ** 2))
    r2 = 1 - float(np.sum(error**2)) / spread if spread > 0 else math.nan
    return {"mae": float(np.mean(np.abs(error))), "mse": mse, "rmse": math.sqrt(mse), "r2": r2}


def _confusion(
    truth: npt.NDArray[Any], predicted: npt.NDArray[Any], classes: npt.NDArray[Any]
) -> npt.NDArray[np.int64]:
    size = len(classes)
    index = np.searchsorted(classes, truth) * size + np.searchsorted(classes, predicted)
    return np.bincount(index, minlength=size * size).reshape(size, size).astype(np.int64)


def _classification(counts: npt.NDArray[np.int64], *, binary: bool) -> dict[str, float]:
    hits = np.diag(counts).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(counts.sum(axis=0) > 0, hits / counts.sum(axis=0), 0.0)
        recall = np.where(counts.sum(axis=1) > 0, hits / counts.sum(axis=1), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    pick = (lambda v: float(v[-1])) if binary and len(hits) == 2 else (lambda v: float(v.mean()))
    return {"accuracy": float(hits.sum() / counts.sum()), "precision": pick(precision), "recall": pick(recall),
            "f1": pick(f1)}


def roc_auc(positive: npt.NDArray[np.bool_], scores: npt.NDArray[np.float64]) -> float:
    """Area under the ROC curve: the chance a random positive outscores a random negative (ties count half)."""
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return math.nan
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
