"""The Airflow provider in a real Airflow 3, against a live `slipway server` started here.

Airflow pins much of what we depend on, so it runs from a virtualenv of its own, built once per
machine into the reference cache (tests/_reference_venv.py) with Airflow, Slipway's own
dependencies and hatchling; its database is migrated once into a template there. Each run
installs this checkout's Slipway (no dependencies, no download) into a folder on the venv's
path, so Airflow discovers the provider through its entry point as it would after
``pip install 'slipway-mlops[airflow]'``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _reference_venv import reference_python
from _server import LiveServer, running_server

from slipway import Client, load_settings
from slipway.pipelines import Pipeline

ROOT = Path(__file__).resolve().parents[2]
ABALONE = "examples.abalone.pipeline:pipeline"
DAG_FILE = ROOT / "examples" / "abalone" / "airflow_dag.py"
ABALONE_CSV = ROOT / "src" / "slipway" / "_data" / "abalone.csv"
AIRFLOW = "apache-airflow==3.3.2"
TEMPLATE_DB = "airflow-template.db"
RUN_TIMEOUT_S = 600


def _pins() -> tuple[str, ...]:
    """Airflow, and what Slipway itself needs (as pyproject.toml lists it), resolved together once."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return (AIRFLOW, "hatchling>=1.25", *project["dependencies"])


def _migrate_template(folder: Path) -> None:
    """Airflow's metadata database, migrated once per venv; each run copies it."""
    env = {**os.environ, "AIRFLOW_HOME": str(folder / "airflow-home"),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{folder / TEMPLATE_DB}"}
    subprocess.run([str(folder / "bin" / "python"), "-m", "airflow", "db", "migrate"], env=env, check=True,
                   capture_output=True, timeout=RUN_TIMEOUT_S)


@pytest.fixture(scope="module")
def airflow_python() -> Path:
    return reference_python(_pins(), after_install=_migrate_template)


@pytest.fixture(scope="module")
def slipway_site(airflow_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout's Slipway, installed (its entry points too) into a folder for the venv's path."""
    site = tmp_path_factory.mktemp("slipway-site")
    subprocess.run(
        [str(airflow_python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--target", str(site), str(ROOT)],
        check=True, capture_output=True, timeout=RUN_TIMEOUT_S,
    )
    return site


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server that may run the abalone pipeline and read its data, with separation of duties on (the default)."""
    home = tmp_path_factory.mktemp("slipway-server")
    env = {"SLIPWAY_PIPELINE_MODULES": "examples.abalone", "SLIPWAY_DATASET_ROOTS": str(ABALONE_CSV.parent)}
    settings = load_settings(env=env, cwd=home, home=str(home))
    with running_server(settings) as live:
        yield live


@pytest.fixture(scope="module")
def tokens(server: LiveServer) -> dict[str, str]:
    """A scientist (alice) who starts pipelines and deploys, an approver (bob) who approves."""
    with server.client() as admin:
        admin.security.create_user("alice", ["scientist"])
        admin.security.create_user("bob", ["approver"])
        return {name: admin.security.create_token(name, name="airflow").secret for name in ("alice", "bob")}


def _airflow(python: Path, site: Path, server: LiveServer, tokens: dict[str, str], home: Path, *args: str) -> Any:
    """Run ``python ARGS`` as an Airflow process would: its own home, the two Slipway connections."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(python.parent.parent / TEMPLATE_DB, home / "airflow.db")
    connection = {"conn_type": "slipway", "host": server.url}
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("SLIPWAY_", "AIRFLOW"))}
    env = {
        **inherited,  # the machine's own settings (OPENBLAS_CORETYPE, say); none of Slipway's or Airflow's
        "PYTHONPATH": str(site),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_SLIPWAY_DEFAULT": json.dumps({**connection, "password": tokens["alice"]}),
        "AIRFLOW_CONN_SLIPWAY_APPROVER": json.dumps({**connection, "password": tokens["bob"]}),
    }
    return subprocess.run([str(python), *args], env=env, cwd=home, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S)


def _register_abalone(server: LiveServer, tokens: dict[str, str]) -> None:
    with Client(server_url=server.url, token=tokens["alice"]) as alice:
        alice.pipelines.register(Pipeline.load(ABALONE))


@pytest.mark.slow
@pytest.mark.timeout(1800)  # the first run on a machine builds the venv
def test_example_dag_trains_checks_registers_approves_and_deploys_under_airflow_dags_test(
    airflow_python: Path, slipway_site: Path, server: LiveServer, tokens: dict[str, str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)  # the server imports `examples.abalone` from the repository's root
    _register_abalone(server, tokens)
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    shutil.copy(DAG_FILE, home / "dags")

    done = _airflow(airflow_python, slipway_site, server, tokens, home, "-m", "airflow", "dags", "test",
                    "slipway_abalone")

    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    log = done.stdout + done.stderr
    assert "running trigger in line" in log  # the sensor deferred, and its trigger fired
    with server.client() as admin:
        endpoint = admin.serving.get_endpoint("abalone")
        (variant,) = endpoint.variants
        group, _, number = variant.model.partition("/")
        version = admin.registry.get_version(group, int(number))
        assert (group, version.status.value) == ("abalone", "Approved")
        (approval,) = admin.registry.status_history("abalone", version.version)
        assert (approval.changed_by, approval.to_status.value) == ("bob", "Approved")
        assert approval.comment is not None and approval.comment.startswith("approved by Airflow run ")
        (execution,) = [  # the execution the DAG started, which registered the version
            e for e in admin.pipelines.list_executions(pipeline="abalone")
            if (admin.pipelines.get_step(e.id, "RegisterAbaloneModel").properties or {}).get("version")
            == version.version
        ]
        assert (execution.status.value, execution.created_by, execution.parameters["mse_threshold"]) == (
            "Succeeded", "alice", 6.0
        )


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_provider_is_discovered_and_its_operators_sensor_and_trigger_work_and_name_what_fails(
    airflow_python: Path, slipway_site: Path, server: LiveServer, tokens: dict[str, str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    _register_abalone(server, tokens)
    data = pd.read_csv(ABALONE_CSV)
    clean, drifted = tmp_path / "clean.csv", tmp_path / "drifted.csv"
    data.sample(frac=0.5, random_state=1).to_csv(clean, index=False)
    data.assign(length=data["length"] * 3, sex="X").to_csv(drifted, index=False)
    with server.client() as admin:
        admin.monitoring.create_baseline("abalone-train", data)
        admin.monitoring.create_monitor("abalone-quality", baseline="abalone-train")
        trained = admin.pipelines.run("abalone")  # a tracked training run to register from
        run_id = trained.step("TrainAbaloneModel").run_id
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"run_id": run_id, "monitor": "abalone-quality", "clean": str(clean),
                                  "drifted": str(drifted)}))
    side = Path(__file__).with_name("_airflow_side.py")

    done = _airflow(airflow_python, slipway_site, server, tokens, tmp_path / "airflow", str(side), str(config))

    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    # Discovered through the entry point, with the connection form.
    assert out["provider"]["hook"] == "slipway.airflow.hooks.SlipwayHook"
    assert out["provider"]["behaviour"]["relabeling"] == {"host": "Server URL", "password": "API token"}
    assert out["test_connection"][0] is True and "as alice (scientist)" in out["test_connection"][1]
    # Errors name the Slipway object.
    assert f"pipeline 'nothing' on {server.url}:" in out["unknown_pipeline"]["message"]
    assert "parameter 'alpha' takes a float; 'much' is not one" in out["bad_parameter"]["message"]
    failed = out["failed_execution"]["message"]
    assert "of 'abalone' v" in failed and "ended Failed: Execution failed due to MSE > 0.5" in failed
    assert out["sensor_on_failed"]["message"] == failed
    # Deferred: the trigger fires at the end, the task resumes and publishes what was registered.
    deferred = out["deferred"]
    assert deferred["trigger"][0] == "slipway.airflow.triggers.SlipwayPipelineTrigger"
    assert deferred["xcom"]["model_versions"] == [
        {"step": "RegisterAbaloneModel", "group": "abalone", "version": deferred["xcom"]["model_version"]}
    ]
    sensed = out["sensor_on_succeeded"]
    assert (sensed["done"], sensed["xcom_value"]) == (True, deferred["execution_id"])
    assert sensed["xcom"] == deferred["xcom"]
    # Approval takes an approver; separation of duties holds through Airflow too.
    assert out["approve_as_scientist"]["message"].startswith(
        f"approving model version abalone/{deferred['xcom']['model_version']} on {server.url}:"
    )
    assert out["approved"] == deferred["xcom"]["model_version"]
    # Register from a tracked run, deploy (create, then a canary), refuse an unapproved version.
    assert out["registered_from_run"] == 1
    assert out["deploy_created"] == {"endpoint": "side", "model": "abalone-copy/1", "status": "Creating",
                                     "deployment": None}
    canary = out["deploy_canary"]
    assert (canary["model"], canary["deployment"] is not None) == (f"abalone/{out['approved']}", True)
    assert "deploying abalone-copy/2 to endpoint 'side2'" in out["deploy_unapproved"]["message"]
    # Monitors: clean data passes, drifted data fails the task naming the monitor and what broke.
    assert isinstance(out["monitor_clean"], str)
    drift = out["monitor_drifted"]
    assert drift["type"] == "AirflowFailException"
    assert "monitor 'abalone-quality'" in drift["message"] and "violations" in drift["message"]
    assert "length" in drift["message"] or "sex" in drift["message"]
    assert f"monitor 'nothing' on {server.url}:" in out["monitor_unknown"]["message"]
    with server.client() as admin:
        side = admin.serving.get_endpoint("side")
        assert side.deployment is not None and side.deployment.strategy.kind == "canary"
