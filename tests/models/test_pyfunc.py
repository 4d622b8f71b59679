"""Generic Python models: cloudpickle, so nothing is loaded (or written) without trust."""

from __future__ import annotations

import json
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd
import pytest

from slipway.errors import InvalidInput
from slipway.models import UntrustedModel, load_model, save_model


class Doubler:
    def predict(self, data: pd.DataFrame) -> pd.DataFrame:
        return data * 2


class Planted:
    """What an attacker would upload: unpickling it touches ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[Path]]:
        return (Path.touch, (self.marker,))


def test_an_object_with_predict_round_trips_when_trusted(tmp_path: Path) -> None:
    data = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    save_model(Doubler(), tmp_path / "m", input_example=data, trusted=True)
    loaded = load_model(tmp_path / "m", trusted=True)
    assert loaded.flavor == "pyfunc" and isinstance(loaded.raw, Doubler)
    result = loaded.predict({"b": [5.0], "a": [1.0]})
    pd.testing.assert_frame_equal(result, pd.DataFrame({"a": [2.0], "b": [10.0]}))


def test_a_plain_callable_round_trips(tmp_path: Path) -> None:
    X = np.arange(6.0).reshape(3, 2)
    save_model(lambda x: x.sum(axis=1), tmp_path / "m", trusted=True)
    np.testing.assert_allclose(load_model(tmp_path / "m", trusted=True).predict(X), X.sum(axis=1))


def test_saving_a_pickle_needs_trust_and_explains_why(tmp_path: Path) -> None:
    with pytest.raises(UntrustedModel, match="cloudpickle.*trusted=True"):
        save_model(Doubler(), tmp_path / "m")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InvalidInput, match="predict method or must be callable"):
        save_model(object(), tmp_path / "m", flavor="pyfunc", trusted=True)


def test_a_planted_pickle_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    save_model(Doubler(), tmp_path / "m", trusted=True)
    (tmp_path / "m" / "model.pkl").write_bytes(cloudpickle.dumps(Planted(marker)))
    for trusted in (False, ["builtins.object", "pathlib.Path"]):
        with pytest.raises(UntrustedModel, match="runs whatever code it holds") as err:
            load_model(tmp_path / "m", trusted=trusted)
        assert err.value.http_status == 403
        assert not marker.exists()
    load_model(tmp_path / "m", trusted=True)
    assert marker.exists(), "the planted payload is real: trusting the file runs it"


def test_a_manifest_cannot_pick_which_method_to_call(tmp_path: Path) -> None:
    save_model(Doubler(), tmp_path / "m", trusted=True)
    manifest = tmp_path / "m" / "slipway-model.json"
    body = json.loads(manifest.read_text())
    body["flavor_config"]["call"] = "__reduce__"
    manifest.write_text(json.dumps(body))
    with pytest.raises(InvalidInput) as err:
        load_model(tmp_path / "m", trusted=True)
    assert err.value.field == "call"
