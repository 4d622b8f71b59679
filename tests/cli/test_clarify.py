"""`slipway clarify` and `slipway monitor create --kind bias|attribution` from the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _optional import require
from typer.testing import Result

from slipway import Client
from slipway.models import save_model

require("shap", extra="clarify")  # both imported by the test that uses them
require("xgboost", extra="xgboost")

ABALONE = files("slipway") / "_data" / "abalone.csv"
FEATURES = ["length", "diameter", "height", "whole weight", "shucked weight", "viscera weight", "shell weight"]


def test_explain_writes_the_attributions_shap_computes(
    cli: Callable[..., Result], client: Client, tmp_path: Path
) -> None:
    import shap
    import xgboost as xgb

    frame = pd.read_csv(str(ABALONE))
    model = xgb.XGBRegressor(n_estimators=40, max_depth=3).fit(frame[FEATURES], frame["rings"])
    save_model(model, tmp_path / "m", input_example=frame[FEATURES].head(3))
    client.registry.register_model("abalone-xgb", tmp_path / "m")
    done = cli("clarify", "explain", "abalone-xgb/1", str(ABALONE), "--max-rows", "5000", "--pdp", "2",
               "--output", str(tmp_path / "out"))
    assert done.exit_code == 0, done.output
    analysis = json.loads((tmp_path / "out" / "analysis.json").read_text())
    label = analysis["explanations"]["kernel_shap"]["label0"]
    assert label["method"] == "tree" and label["rows"] == len(frame)
    direct = shap.TreeExplainer(model)(frame[FEATURES])  # the reference: shap called directly
    expected = dict(zip(FEATURES, np.abs(direct.values).mean(axis=0), strict=True))
    assert label["global_shap_values"] == pytest.approx(expected, rel=1e-5)
    assert label["expected_value"] == pytest.approx(float(np.ravel(direct.base_values)[0]), rel=1e-5)
    assert [p["feature_name"] for p in analysis["explanations"]["pdp"]] == sorted(
        expected, key=lambda f: -expected[f])[:2]
    local = pd.read_csv(tmp_path / "out" / "explanations_shap" / "out.csv")
    assert local.shape == (len(frame), len(FEATURES))
    top = max(expected, key=lambda f: expected[f])
    assert top in done.stdout

    listed = cli("clarify", "reports", "--model", "abalone-xgb/1", "--json")
    [report] = json.loads(listed.stdout)
    again = cli("clarify", "download", report["id"], "--output", str(tmp_path / "again"))
    assert again.exit_code == 0 and (tmp_path / "again" / "report.html").is_file()


def test_bias_and_a_bias_drift_monitor(cli: Callable[..., Result], client: Client, tmp_path: Path) -> None:
    frame = pd.read_csv(str(ABALONE))
    scored = tmp_path / "scored.csv"
    frame.assign(prediction=frame["rings"]).to_csv(scored, index=False)
    done = cli("clarify", "bias", str(scored), "--label", "rings", "--label-threshold", "10", "--facet", "sex",
               "--facet-values", "I", "--predicted-label", "prediction", "--methods", "CI,DPL,DPPL", "--json")
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert set(report["summary"]["post_training"]) == {"sex=I/DPPL"}
    made = cli("monitor", "create", "fair", "--kind", "bias", "--report", report["id"], "--bound", "DPPL=0.1",
               "--json")
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["kind"] == "ModelBias"
    run = cli("monitor", "run", "fair", str(scored), "--json")
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["metrics"]["violations.bias_drift_check"] == 1  # |DPPL| is about 0.34
    bad = cli("monitor", "create", "nothing", "--kind", "attribution")
    assert bad.exit_code == 2 and "report" in bad.stderr
    wrong = cli("clarify", "bias", str(scored), "--label", "rings", "--facet", "sex")
    assert wrong.exit_code == 2 and "label_values" in wrong.stderr
