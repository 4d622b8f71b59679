"""What a user's MLflow code does, run by the tests in a subprocess with the real MLflow client.

It talks to the server named by ``MLFLOW_TRACKING_URI`` (and ``MLFLOW_TRACKING_TOKEN``), and prints
one JSON object of what it saw, which the tests compare with what Slipway itself holds. A
subprocess keeps MLflow's module-level state (active run, tracking URI) out of the test process.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

import mlflow
import numpy as np
from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from sklearn.linear_model import Ridge

from slipway import Client
from slipway.client import invoke_endpoint

APPROVAL = "slipway.approval_status"
ENDPOINT = "mlflow-served"


def error_of(call: object) -> dict[str, object]:
    try:
        call()  # type: ignore[operator]
    except MlflowException as exc:
        return {"error_code": exc.error_code, "message": exc.message}
    return {"error_code": None}


def main(model_name: str) -> None:
    out: dict[str, object] = {}
    client = MlflowClient()
    exp_id = mlflow.set_experiment("mlflow-compat").experiment_id
    out["experiment_id"] = exp_id
    folder = Path(tempfile.mkdtemp())
    (folder / "notes.txt").write_text("hello from mlflow")
    (folder / "plots").mkdir()
    (folder / "plots" / "a.csv").write_text("x,y\n1,2\n")

    runs = []
    for alpha, rmse in (("0.5", 0.4), ("1.0", 0.8), ("0.5", 1.5)):
        with mlflow.start_run(run_name=f"ridge-{alpha}-{rmse}") as run:
            mlflow.log_param("alpha", alpha)
            mlflow.log_params({"solver": "auto", "fit_intercept": True})
            for step in range(3):
                mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            mlflow.log_metrics({"rmse": rmse, "r2": 1 - rmse / 2})
            mlflow.set_tag("team", "search")
            mlflow.log_artifact(str(folder / "notes.txt"))
            mlflow.log_artifacts(str(folder / "plots"), artifact_path="plots")
            runs.append(run.info.run_id)
    out["runs"] = runs
    found = mlflow.search_runs(
        experiment_ids=[exp_id], filter_string="params.alpha = '0.5' and metrics.rmse < 1.0", output_format="list"
    )
    out["filtered"] = [r.info.run_id for r in found]
    ordered = client.search_runs([exp_id], order_by=["metrics.rmse DESC"])
    out["ordered"] = [r.info.run_id for r in ordered]
    out["history"] = [(m.step, m.value) for m in client.get_metric_history(runs[0], "loss")]
    out["artifacts"] = sorted(f.path for f in client.list_artifacts(runs[0]))
    out["plots"] = sorted(f.path for f in client.list_artifacts(runs[0], "plots"))
    notes = mlflow.artifacts.download_artifacts(run_id=runs[0], artifact_path="notes.txt")
    out["notes"] = Path(notes).read_text()
    fetched = client.get_run(runs[0])
    out["run_name"] = fetched.info.run_name
    out["params"] = fetched.data.params
    out["status"] = fetched.info.status

    X = np.arange(40, dtype=float).reshape(20, 2)
    y = X @ np.array([1.5, -2.0]) + 3.0
    mlflow.sklearn.autolog(log_models=False)  # log_model below covers models; this keeps the test fast
    with mlflow.start_run(run_name="autolog") as run:
        Ridge(alpha=0.1).fit(X, y)
    mlflow.sklearn.autolog(disable=True)
    auto = client.get_run(run.info.run_id)
    out["autolog"] = {
        "run_id": run.info.run_id,
        "params": auto.data.params,
        "metrics": sorted(auto.data.metrics),
        "datasets": len(auto.inputs.dataset_inputs),
    }

    # A parent with a nested child run, and a data set logged as the parent's training input.
    with mlflow.start_run(run_name="sweep") as parent:
        with mlflow.start_run(run_name="sweep-child", nested=True) as child:
            mlflow.log_param("alpha", "0.3")
        mlflow.log_input(mlflow.data.from_numpy(X, targets=y, name="abalone-np"), context="training")
    read_back = client.get_run(parent.info.run_id).inputs.dataset_inputs
    out["nested"] = {
        "parent": parent.info.run_id,
        "child": child.info.run_id,
        "inputs": [(d.dataset.name, {t.key: t.value for t in d.tags}) for d in read_back],
        "by_dataset": [r.info.run_id for r in client.search_runs(
            [exp_id], "datasets.name = 'abalone-np' AND datasets.context = 'training'")],
        "by_context": sorted(r.info.run_name for r in client.search_runs(
            [exp_id], "datasets.context IN ('training', 'train')")),
    }

    with mlflow.start_run(run_name="register") as run:
        model = Ridge(alpha=0.2).fit(X, y)
        # Requirements named, so MLflow skips inferring them in a subprocess of its own (slow).
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=model_name,
            input_example=X[:2],
            pip_requirements=["scikit-learn"],
        )
    out["register_run"] = run.info.run_id
    version = info.registered_model_version
    out["version"] = version
    # champion is a protected alias: it points only at a version an approver approved in Slipway.
    out["champion_refused"] = error_of(lambda: client.set_registered_model_alias(model_name, "champion", version))
    client.set_registered_model_alias(model_name, "challenger", version)
    by_alias = client.get_model_version_by_alias(model_name, "challenger")
    out["alias_version"] = by_alias.version
    out["alias_tags"] = by_alias.tags
    loaded = mlflow.pyfunc.load_model(f"models:/{model_name}@challenger")
    out["predicted"] = np.asarray(loaded.predict(X[:3])).tolist()
    out["expected"] = model.predict(X[:3]).tolist()
    out["versions_by_name"] = [v.version for v in client.search_model_versions(f"name = '{model_name}'")]
    # Registry searches: the client adds tag.`mlflow.prompt.is_prompt` != 'true' to every one.
    client.create_registered_model(f"{model_name}-other", tags={"team": "Ads"})
    out["registered_models"] = sorted(m.name for m in client.search_registered_models())
    out["registered_like"] = [
        m.name for m in mlflow.search_registered_models(filter_string=f"name LIKE '{model_name}-%'")
    ]
    out["registered_by_tag"] = [m.name for m in client.search_registered_models("tags.team ILIKE 'ads'")]
    out["registered_ordered"] = [m.name for m in client.search_registered_models(order_by=["name DESC"])]
    out["versions_in"] = [
        (v.name, v.version) for v in client.search_model_versions(
            f"name IN ('{model_name}', 'nope') AND version_number >= 1 AND run_id = '{run.info.run_id}'"
        )
    ]
    out["versions_pending"] = [
        v.version for v in client.search_model_versions("tags.`slipway.approval_status` = 'PendingManualApproval'")
    ]
    out["bad_filter"] = error_of(lambda: client.search_model_versions("foo = 'x'"))

    # log_model -> approve (in Slipway: MLflow has no approval) -> serve. MLflow saved the model with
    # skops, which runs no code when loaded: no trust mark is needed.
    slipway = Client(server_url=os.environ["MLFLOW_TRACKING_URI"], token=os.environ["MLFLOW_TRACKING_TOKEN"])
    slipway.registry.approve(model_name, int(version), comment="logged with MLflow")
    out["approved_tag"] = client.get_model_version(model_name, version).tags[APPROVAL]
    slipway.serving.create_endpoint(ENDPOINT, [{"model": f"{model_name}/{version}"}])
    body = json.dumps({"inputs": X[:3].tolist()}).encode()
    out["served"] = invoke_endpoint(slipway, ENDPOINT, body, "application/json")["predictions"]
    out["delete_served"] = error_of(lambda: client.delete_registered_model(model_name))
    out["delete_served_version"] = error_of(lambda: client.delete_model_version(model_name, version))

    # Stages are aliases: Production is the alias production, protected (approvers, Approved versions only).
    warnings.filterwarnings("ignore", category=FutureWarning)  # MLflow deprecates its stages, users still call them
    out["stage_v1"] = client.transition_model_version_stage(model_name, version, "Production").current_stage
    out["latest_production"] = [v.version for v in client.get_latest_versions(model_name, stages=["Production"])]
    second = mlflow.register_model(info.model_uri, model_name).version
    out["stage_v2"] = client.transition_model_version_stage(model_name, second, "Staging").current_stage
    out["production_pending"] = error_of(
        lambda: client.transition_model_version_stage(model_name, second, "Production")
    )
    slipway.registry.approve(model_name, int(second))
    archive = lambda: client.transition_model_version_stage(  # noqa: E731
        model_name, second, "Production", archive_existing_versions=True
    )
    out["archive_holder_refused"] = error_of(archive)  # version 1 still holds challenger
    client.delete_registered_model_alias(model_name, "challenger")
    out["promoted"] = archive().current_stage
    out["stages"] = {v: client.get_model_version(model_name, v).current_stage for v in (version, second)}
    out["aliases"] = client.get_registered_model(model_name).aliases
    client.delete_model_version(model_name, second)
    out["deleted_version"] = error_of(lambda: client.get_model_version(model_name, second))

    # Rename and delete a registered model nothing serves.
    client.rename_registered_model(f"{model_name}-other", f"{model_name}-ads")
    out["renamed"] = client.get_registered_model(f"{model_name}-ads").name
    out["old_name"] = error_of(lambda: client.get_registered_model(f"{model_name}-other"))
    client.delete_registered_model(f"{model_name}-ads")
    out["deleted_model"] = error_of(lambda: client.get_registered_model(f"{model_name}-ads"))

    # Saved with cloudpickle: loading runs code, so Slipway loads it only once an admin marks it trusted.
    mlflow.sklearn.log_model(
        model, name="pickled", registered_model_name=f"{model_name}-pickled",
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE, pip_requirements=["scikit-learn"],
    )

    out["missing_run"] = error_of(lambda: client.get_run("0" * 26))
    # The client splits big batches itself; its REST store sends one as given, as other clients may.
    too_many = [Metric("m", 1.0, 0, i) for i in range(1001)]
    out["oversized_batch"] = error_of(lambda: client._tracking_client.store.log_batch(runs[0], too_many, [], []))
    out["long_param"] = error_of(lambda: client.log_param(runs[0], "long", "x" * 6001))
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
