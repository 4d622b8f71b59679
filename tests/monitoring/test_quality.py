"""Model-quality metrics agree with scikit-learn's on the same predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk

from slipway.errors import InvalidInput
from slipway.monitoring import ProblemType, evaluate


def _tables(predicted: np.ndarray, truth: np.ndarray, **extra: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = [f"id-{i}" for i in range(len(predicted))]
    predictions = pd.DataFrame({"inference_id": ids + ["no-label"], "prediction": [*predicted, predicted[0]],
                                **{k: [*v, v[0]] for k, v in extra.items()}})
    labels = pd.DataFrame({"inference_id": ids[::-1], "label": truth[::-1]})  # any order: joined by id
    return predictions, labels


def test_regression() -> None:
    rng = np.random.default_rng(0)
    truth = rng.normal(10, 3, 500)
    predicted = truth + rng.normal(0.5, 1, 500)
    result = evaluate(*_tables(predicted, truth), ProblemType.REGRESSION)
    assert result.matched == 500 and result.unmatched == 1 and result.confusion_matrix is None
    assert result.metrics["mae"] == pytest.approx(sk.mean_absolute_error(truth, predicted))
    assert result.metrics["rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(truth, predicted)))
    assert result.metrics["r2"] == pytest.approx(sk.r2_score(truth, predicted))


def test_binary_classification() -> None:
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, 800)
    score = np.clip(truth * 0.3 + rng.uniform(0, 0.7, 800), 0, 1)
    predicted = (score > 0.5).astype(int)
    result = evaluate(*_tables(predicted, truth, probability=score), ProblemType.BINARY_CLASSIFICATION)
    assert result.metrics["accuracy"] == pytest.approx(sk.accuracy_score(truth, predicted))
    assert result.metrics["precision"] == pytest.approx(sk.precision_score(truth, predicted))
    assert result.metrics["recall"] == pytest.approx(sk.recall_score(truth, predicted))
    assert result.metrics["f1"] == pytest.approx(sk.f1_score(truth, predicted))
    assert result.metrics["auc"] == pytest.approx(sk.roc_auc_score(truth, score))
    assert result.confusion_matrix == {"labels": [0, 1], "counts": sk.confusion_matrix(truth, predicted).tolist()}


def test_multiclass_classification() -> None:
    rng = np.random.default_rng(2)
    truth = rng.choice(["F", "I", "M"], 600)
    predicted = np.where(rng.uniform(size=600) < 0.6, truth, rng.choice(["F", "I", "M"], 600))
    result = evaluate(*_tables(predicted, truth), ProblemType.MULTICLASS_CLASSIFICATION)
    assert result.metrics["f1"] == pytest.approx(sk.f1_score(truth, predicted, average="macro"))
    assert result.metrics["precision"] == pytest.approx(sk.precision_score(truth, predicted, average="macro"))
    assert result.confusion_matrix is not None and result.confusion_matrix["labels"] == ["F", "I", "M"]


def test_missing_columns_and_no_match() -> None:
    predictions = pd.DataFrame({"inference_id": ["a"], "prediction": [1.0]})
    with pytest.raises(InvalidInput, match="label") as caught:
        evaluate(predictions, pd.DataFrame({"inference_id": ["a"]}), ProblemType.REGRESSION)
    assert caught.value.field == "labels"
    with pytest.raises(InvalidInput, match="no prediction has a label"):
        evaluate(predictions, pd.DataFrame({"inference_id": ["b"], "label": [1.0]}), ProblemType.REGRESSION)
