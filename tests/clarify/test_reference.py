"""Our bias metrics against smclarify's (the cloud stack's open-source implementation) on the same data.

smclarify needs pandas 2 and numpy 1, so it runs in a side environment of its own, built once into
a cache keyed by its pins (``tests/_reference_venv.py``), through ``_smclarify_side.py``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _reference_venv import reference_python

from slipway.clarify import BiasConfig, bias_metrics

SMCLARIFY = ("numpy==1.26.4", "pandas==2.2.3", "scikit-learn==1.5.2", "pyfunctional==1.5.0")
SMCLARIFY_NO_DEPS = ("smclarify==0.5",)  # its boto3 and s3fs serve only its dataset downloads
SIDE = Path(__file__).with_name("_smclarify_side.py")
ABALONE = Path(__file__).parents[2] / "src" / "slipway" / "_data" / "abalone.csv"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smclarify() -> Path:
    return reference_python(SMCLARIFY, SMCLARIFY_NO_DEPS)


def _random(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    facet = rng.choice(["x", "y", "z"], rows, p=[0.5, 0.3, 0.2])
    score = rng.normal(size=rows) + (facet == "x") * 0.6
    return pd.DataFrame({
        "facet": facet,
        "age": rng.integers(18, 80, rows),
        "group": rng.choice(["g1", "g2", "g3", "g4"], rows),
        "f1": score + rng.normal(scale=0.5, size=rows),
        "f2": rng.normal(size=rows),
        "label": (score > 0.3).astype(int),
        "grade": rng.choice(["A", "B", "C", "D"], rows),
        "prediction": (score + rng.normal(scale=0.7, size=rows) > 0.2).astype(int),
        "grade_predicted": rng.choice(["A", "B", "C", "D"], rows),
    })


def _abalone() -> pd.DataFrame:
    frame = pd.read_csv(ABALONE)
    shell = frame["shell weight"]
    frame["prediction"] = np.round(3.5 + 20 * shell + 4 * frame["height"], 0)  # a plain linear guess of rings
    return frame


CASES = {
    "one value against all, with groups": (lambda: _random(3000, 1), dict(
        label="label", label_values=(1,), facet="facet", group="group", predicted_label="prediction")),
    "facet values, multi-class label": (lambda: _random(2000, 2).drop(columns=["label", "prediction"]), dict(
        label="grade", label_values=("A", "B"), facet="facet", facet_values=("y", "z"),
        predicted_label="grade_predicted")),
    "facet threshold": (lambda: _random(2500, 3).drop(columns=["grade", "grade_predicted"]), dict(
        label="label", label_values=(1,), facet="age", facet_threshold=50, predicted_label="prediction")),
    "abalone, sex as facet, rings > 10": (_abalone, dict(
        label="rings", label_threshold=10, facet="sex", predicted_label="prediction")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_metrics_match_smclarify(case: str, smclarify: Path, tmp_path: Path) -> None:
    make, fields = CASES[case]
    frame = make()
    data, config_file = tmp_path / "data.csv", tmp_path / "config.json"
    frame.to_csv(data, index=False)
    config_file.write_text(json.dumps(fields))
    done = subprocess.run([str(smclarify), str(SIDE), str(data), str(config_file)], capture_output=True, text=True,
                          timeout=300, check=True)
    theirs = json.loads(done.stdout)
    ours = bias_metrics(frame, BiasConfig(**fields))
    pre, post = ours["pre_training_bias_metrics"], ours["post_training_bias_metrics"]
    compared = _compare(pre["facets"][fields["facet"]], theirs["pre"]) + _compare(
        post["facets"][fields["facet"]], theirs["post"])
    assert compared >= 15  # most metrics have values on these data


def _compare(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> int:
    """Assert every metric of every facet entry agrees; return how many values were compared."""
    assert len(ours) == len(theirs)
    compared = 0
    for mine, reference in zip(ours, theirs, strict=True):
        if not reference["value_or_threshold"].startswith("("):  # thresholds print 10 or 10.0 by column type
            assert mine["value_or_threshold"] == reference["value_or_threshold"]
        expected = {m["name"]: m for m in reference["metrics"]}
        assert [m["name"] for m in mine["metrics"]] == list(expected)
        for metric in mine["metrics"]:
            other = expected[metric["name"]]
            where = f"{mine['value_or_threshold']} {metric['name']}"
            if other["value"] is None:
                assert metric["value"] is None, f"{where}: smclarify fails ({other.get('error')}), we give a value"
            elif isinstance(other["value"], str):
                assert metric["value"] == other["value"], where
            else:
                assert metric["value"] == pytest.approx(other["value"], rel=1e-9, abs=1e-12), where
                compared += 1
    return compared


def test_the_cli_report_on_abalone_matches_smclarify(smclarify: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """`slipway clarify bias` with a registered model: sex as the facet, rings > 10 as the label."""
    from _clarify import register_rings_model
    from typer.testing import CliRunner

    from slipway import Client
    from slipway.cli import app

    monkeypatch.setenv("SLIPWAY_HOME", str(tmp_path / "home"))
    frame = pd.read_csv(ABALONE)
    with Client(home=tmp_path / "home") as client:
        model = register_rings_model(client, frame, tmp_path / "m")
        predictions = client.registry.load_model(f"models:/{model}").predict(frame)
    done = CliRunner().invoke(app, ["clarify", "bias", str(ABALONE), "--label", "rings", "--label-threshold", "10",
                                    "--facet", "sex", "--model", model, "--output", str(tmp_path / "out")])
    assert done.exit_code == 0, done.output
    assert "DPPL" in done.stdout and "sex=F" in done.stdout
    ours = json.loads((tmp_path / "out" / "analysis.json").read_text())
    assert (tmp_path / "out" / "report.html").read_text().startswith("<!doctype html>")

    scored, config_file = tmp_path / "scored.csv", tmp_path / "config.json"
    frame.assign(prediction=predictions).to_csv(scored, index=False)
    config_file.write_text(json.dumps({"label": "rings", "label_threshold": 10, "facet": "sex",
                                       "predicted_label": "prediction"}))
    done_ref = subprocess.run([str(smclarify), str(SIDE), str(scored), str(config_file)], capture_output=True,
                              text=True, timeout=300, check=True)
    theirs = json.loads(done_ref.stdout)
    compared = _compare(ours["pre_training_bias_metrics"]["facets"]["sex"], theirs["pre"])
    compared += _compare(ours["post_training_bias_metrics"]["facets"]["sex"], theirs["post"])
    assert compared >= 45  # 3 facet values x (7 pre + 12 post) metrics with values; CDDL, CDDPL need a group
