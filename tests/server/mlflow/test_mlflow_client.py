"""The real MLflow client against `slipway server`: what it logs and registers is Slipway's, and governed.

One subprocess runs a user's MLflow code (:mod:`_client_session`) once for the module; the tests
check what it saw and what Slipway holds afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from _optional import require
from _server import LiveServer

from slipway._backend import Backend
from slipway._principal import Principal, acting_as
from slipway.errors import UntrustedModel
from slipway.serving import batch_transform

require("mlflow", extra="bench")  # the MLflow client: only the session subprocess imports it
pytest.importorskip("sklearn")

MODEL = "compat-model"
SESSION = Path(__file__).with_name("_client_session.py")


@pytest.fixture(scope="module")
def seen(server: LiveServer) -> dict[str, Any]:
    """What the MLflow client saw, from one run of the session script."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")},
        "MLFLOW_TRACKING_URI": server.url,
        "MLFLOW_TRACKING_TOKEN": getattr(server, "token", "") or "",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",  # rides out a busy moment, yet a real failure shows quickly
    }
    done = subprocess.run(
        [sys.executable, str(SESSION), MODEL], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_runs_logged_through_mlflow_are_slipway_runs(seen: dict[str, Any], backend: Backend) -> None:
    run = backend.tracking.get_run(seen["runs"][0])
    assert run.name == "ridge-0.5-0.4" == seen["run_name"]
    assert run.experiment_id == seen["experiment_id"]
    assert backend.tracking.get_experiment(run.experiment_id).name == "mlflow-compat"
    assert run.params == {"alpha": "0.5", "solver": "auto", "fit_intercept": "True"} == seen["params"]
    assert run.metrics["rmse"].value == 0.4
    assert run.tags["team"] == "search"
    assert run.status == "FINISHED" == seen["status"]
    history = backend.tracking.get_metric_history(run.id, "loss")
    assert [(m.step, m.value) for m in history] == [tuple(p) for p in seen["history"]]
    assert seen["history"] == [[0, 1.0], [1, 0.5], [2, pytest.approx(1 / 3)]]


def test_artifacts_round_trip(seen: dict[str, Any], backend: Backend) -> None:
    assert seen["artifacts"] == ["notes.txt", "plots"]
    assert seen["plots"] == ["plots/a.csv"]
    assert seen["notes"] == "hello from mlflow"
    with backend.tracking.open_artifact(seen["runs"][0], "plots/a.csv") as f:
        assert f.read() == b"x,y\n1,2\n"


def test_search_runs_filters_and_orders(seen: dict[str, Any]) -> None:
    first, second, third = seen["runs"]
    assert seen["filtered"] == [first]  # alpha 0.5 and rmse < 1
    assert seen["ordered"] == [third, second, first]  # rmse 1.5, 0.8, 0.4


def test_sklearn_autolog_logs_params_metrics_and_dataset(seen: dict[str, Any], backend: Backend) -> None:
    auto = seen["autolog"]
    assert auto["params"]["alpha"] == "0.1"
    assert "training_r2_score" in auto["metrics"]
    assert auto["datasets"] == 1
    run = backend.tracking.get_run(auto["run_id"])
    assert run.params["alpha"] == "0.1" and "training_r2_score" in run.metrics


def test_nested_runs_and_dataset_inputs_are_slipways_own(seen: dict[str, Any], backend: Backend) -> None:
    nested = seen["nested"]
    parent = backend.tracking.get_run(nested["parent"])
    assert backend.tracking.get_run(nested["child"]).parent_run_id == parent.id
    (dataset,) = parent.inputs
    assert (dataset.name, dataset.context, dataset.source_type) == ("abalone-np", "training", "code")
    assert nested["inputs"] == [["abalone-np", {"mlflow.data.context": "training"}]]
    assert nested["by_dataset"] == [parent.id]
    assert nested["by_context"] == ["autolog", "sweep"]  # autolog logs its training set as "train"


def test_logged_model_is_a_governed_slipway_version(seen: dict[str, Any], backend: Backend) -> None:
    assert seen["version"] == "1" == seen["alias_version"]
    version = backend.registry.get_version(MODEL, 1)
    assert version.flavor == "mlflow"
    assert seen["alias_tags"]["slipway.approval_status"] == "PendingManualApproval"  # as registered
    history = backend.registry.status_history(MODEL, 1)
    assert [(h.from_status.value, h.to_status.value) for h in history] == [("PendingManualApproval", "Approved")]
    assert seen["champion_refused"]["error_code"] == "INVALID_PARAMETER_VALUE"  # protected: Approved versions only
    assert "only at Approved versions" in seen["champion_refused"]["message"]
    assert (version.source_kind, version.source_id) == ("run", seen["register_run"])
    upstream = backend.lineage.upstream("model_version", version.id)
    assert seen["register_run"] in {node.id for node in upstream.nodes}
    assert seen["versions_by_name"] == ["1"]


def test_registry_searches_take_mlflows_filter_grammar(seen: dict[str, Any]) -> None:
    assert seen["registered_models"] == [MODEL, f"{MODEL}-other"]  # the client's prompt filter passes models
    assert seen["registered_like"] == [f"{MODEL}-other"]
    assert seen["registered_by_tag"] == [f"{MODEL}-other"]
    assert seen["registered_ordered"] == [f"{MODEL}-other", MODEL]
    assert seen["versions_in"] == [[MODEL, "1"]]
    assert seen["versions_pending"] == ["1"]
    assert seen["bad_filter"]["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "Invalid attribute key 'foo' specified. Valid keys are" in seen["bad_filter"]["message"]


def test_pyfunc_loads_the_version_by_alias_and_predicts(seen: dict[str, Any]) -> None:
    assert seen["predicted"] == pytest.approx(seen["expected"])


def test_a_logged_model_is_approved_and_served_without_unpickling(seen: dict[str, Any], backend: Backend) -> None:
    assert seen["approved_tag"] == "Approved"  # approved in Slipway, shown to MLflow's client
    assert seen["served"] == pytest.approx(seen["expected"])  # an endpoint of slipway server answered
    loaded = backend.registry.load_model(f"models:/{MODEL}/1")  # no trusted=: MLflow saved it with skops
    X = np.arange(40, dtype=float).reshape(20, 2)
    assert np.asarray(loaded.predict(X[:3])).tolist() == pytest.approx(seen["expected"])
    assert not backend.registry.get_version(MODEL, 1).trusted


def test_a_pickled_mlflow_model_loads_and_serves_once_an_admin_trusts_it(
    seen: dict[str, Any], backend: Backend, server: LiveServer, tmp_path: Path
) -> None:
    """Endpoints, batch transforms and load_model all honour the admin's mark, and nothing else."""
    pickled = f"{MODEL}-pickled"
    with pytest.raises(UntrustedModel, match="unpickles"):
        backend.registry.load_model(f"models:/{pickled}/1")
    with acting_as(Principal("ana", roles=frozenset({"admin"}))):
        backend.registry.approve(pickled, 1)
        backend.registry.trust_version(pickled, 1, comment="our own training job")
    X = np.arange(40, dtype=float).reshape(20, 2)
    assert backend.registry.load_model(f"models:/{pickled}/1").predict(X[:3]).tolist() == pytest.approx(
        seen["expected"]
    )
    rows = tmp_path / "rows.csv"
    pd.DataFrame(X[:3], columns=["a", "b"]).to_csv(rows, index=False)
    batch_transform(backend.registry, backend.datasets, f"{pickled}/1", str(rows), "scored-by-mlflow")
    scored = backend.datasets.load("scored-by-mlflow")
    assert scored.prediction.tolist() == pytest.approx(seen["expected"])
    with server.client() as client:
        client.serving.create_endpoint("pickled", [{"model": f"{pickled}/1"}])
        answer = httpx.post(f"{server.url}/endpoints/pickled/invocations", json={"inputs": X[:3].tolist()},
                            headers=server.headers, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == pytest.approx(seen["expected"])


def test_a_served_model_cannot_be_deleted(seen: dict[str, Any]) -> None:
    for refused in (seen["delete_served"], seen["delete_served_version"]):
        assert refused["error_code"] == "INVALID_PARAMETER_VALUE"
        assert f"{MODEL} version 1 is served by endpoint 'mlflow-served'" in refused["message"]


def test_stage_transitions_move_aliases(seen: dict[str, Any], backend: Backend) -> None:
    assert seen["stage_v1"] == "Production" and seen["latest_production"] == ["1"]
    assert seen["stage_v2"] == "Staging"
    assert seen["production_pending"]["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "'production' is a protected alias" in seen["production_pending"]["message"]
    assert "holds the alias(es) challenger" in seen["archive_holder_refused"]["message"]
    assert seen["promoted"] == "Production"
    assert seen["stages"] == {"1": "Archived", "2": "Production"}
    assert seen["aliases"] == {"production": "2"}
    assert [(c.version, c.previous_version) for c in backend.registry.alias_history(MODEL, "production")][:2] == [
        (1, None), (None, 1)  # version 2 was deleted since, so its number reads as None
    ]
    assert backend.registry.get_version(MODEL, 1).archived


def test_versions_and_models_are_deleted_and_renamed(seen: dict[str, Any], backend: Backend) -> None:
    assert seen["deleted_version"]["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert [v.version for v in backend.registry.list_versions(MODEL)] == [1]
    assert seen["renamed"] == f"{MODEL}-ads"
    assert seen["old_name"]["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert seen["deleted_model"]["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    audited = {(e.action, e.actor) for e in backend.security.audit_entries(user="test-admin", limit=1000)}
    assert {("model_group.rename", "test-admin"), ("model_group.delete", "test-admin"),
            ("model_version.delete", "test-admin")} <= audited


def test_client_raises_mlflow_errors(seen: dict[str, Any]) -> None:
    assert seen["missing_run"]["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert seen["oversized_batch"]["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "at most 1000 metrics" in seen["oversized_batch"]["message"]
    assert seen["long_param"]["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "exceeded length limit of 6000" in seen["long_param"]["message"]
