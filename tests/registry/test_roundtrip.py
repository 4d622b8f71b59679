"""A real model through the whole registry: train on abalone, register, approve, promote, load, predict."""

from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import slipway
from slipway.registry import ApprovalStatus, evaluate_with_uncertainty


@pytest.fixture
def client(tmp_path: Path) -> Iterator[slipway.Client]:
    """An embedded client made the default one, as a script would use it."""
    with slipway.Client(home=str(tmp_path / "home")) as made:
        slipway.set_client(made)
        try:
            yield made
        finally:
            slipway.set_client(None)


def _abalone() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    with (files("slipway") / "_data" / "abalone.csv").open() as fh:
        data = pd.read_csv(fh)
    X = pd.get_dummies(data.drop(columns="rings"), columns=["sex"], dtype=float)
    return train_test_split(X, data["rings"].astype(float), test_size=0.25, random_state=0)


def test_abalone_round_trip_through_the_top_level_api(client: slipway.Client) -> None:
    X_train, X_test, y_train, y_test = _abalone()
    with slipway.start_run("abalone", name="ridge") as run:
        model = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(X_train, y_train)
        expected = model.predict(X_test)
        mse = evaluate_with_uncertainty(mean_squared_error, y_test, expected)
        run.log_metric("mse", mse.value)
        version = slipway.register_model(
            "abalone",
            model,
            input_example=X_train.head(5),
            metrics={"mse": mse},
            description="ridge on scaled measurements",
            model_card="# Abalone rings\n\nPredicts the age proxy.",
        )
    assert (version.uri, version.flavor, version.source_id) == ("models:/abalone/1", "sklearn", run.id)
    assert version.metrics["mse"] == mse and mse.std is not None and 0 < mse.std < mse.value
    assert [c["name"] for c in version.signature["inputs"]] == list(X_train.columns)  # type: ignore[index]

    registry = client.registry
    registry.approve("abalone", 1, comment="mse within target")
    registry.set_alias("abalone", "prod", 1)
    loaded = slipway.load_model("models:/abalone@prod")
    assert loaded.flavor == "sklearn"
    np.testing.assert_array_equal(np.asarray(loaded.predict(X_test)).ravel(), expected)
    assert loaded.model_card is not None
    # Columns in another order are put back in the signature's order.
    np.testing.assert_array_equal(np.asarray(loaded.predict(X_test[X_test.columns[::-1]])).ravel(), expected)

    latest = slipway.load_model("models:/abalone@latest-approved")
    np.testing.assert_array_equal(np.asarray(latest.predict(X_test)).ravel(), expected)
    assert registry.get_version("abalone", 1).status is ApprovalStatus.APPROVED
    cached = client.settings.home / "cache" / "models" / version.id
    assert (cached / "slipway-model.json").is_file()


def test_loading_again_reads_the_cache(client: slipway.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    X_train, X_test, y_train, _ = _abalone()
    model = Ridge().fit(X_train, y_train)
    slipway.register_model("abalone", model)
    first = slipway.load_model("models:/abalone/1").predict(X_test)

    def no_download(*args: object) -> None:
        raise AssertionError("the package should come from the cache")

    monkeypatch.setattr(client.backend.artifacts, "download", no_download)
    np.testing.assert_array_equal(slipway.load_model("models:/abalone/latest").predict(X_test), first)
