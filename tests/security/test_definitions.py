"""What a server runs and reads for a definition is decided by its settings, never by the definition.

The server here allows the tests' step module and one folder of scripts (``pipeline_modules``), and
one shared data folder (``dataset_roots``). Each test sends what an attacker with the scientist
role could: a script path anywhere on the server's disk (an uploaded artifact's blob, whose path
is predictable), a file to hand a step, paths as parameters and as hook payloads, a definition or
a custom rule stored behind the server's back.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _pipeline_steps as lib
import httpx
import pandas as pd
import pytest
from _polling import until
from _server import LiveServer, running_server

from slipway import load_settings
from slipway._backend import Backend
from slipway.automation import sign_hook
from slipway.pipelines import (
    ExecutionStatus,
    FileInput,
    Join,
    Parameter,
    Pipeline,
    ProcessingStep,
    QualityCheckStep,
)
from slipway.statistics import compute_statistics
from slipway.store.artifacts import blob_key

TIMEOUT = 30  # seconds: CI shares two cores among the whole suite
SCRIPT = "import pathlib, sys\npathlib.Path({marker!r}).write_text(open({secret!r}).read())\n"


@pytest.fixture(scope="module")
def confined(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("confined")
    for folder in ("scripts", "shared"):
        (home / folder).mkdir()
    env = {"SLIPWAY_PIPELINE_MODULES": f"_pipeline_steps,{home / 'scripts'}",
           "SLIPWAY_DATASET_ROOTS": str(home / "shared"), "SLIPWAY_SCHEDULER_INTERVAL": "0"}
    with running_server(load_settings(env=env, cwd=home, home=str(home))) as server:
        yield server


@pytest.fixture
def api(confined: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{confined.url}/api/v1", headers=confined.headers, timeout=TIMEOUT) as client:
        yield client


@pytest.fixture
def local(confined: LiveServer) -> Iterator[Backend]:
    """The server's store, embedded: what someone on the server's machine (or its database) could write."""
    backend = Backend(confined.settings)
    try:
        yield backend
    finally:
        backend.close()


def _home(server: LiveServer) -> Path:
    return server.settings.home


def _script_definition(path: str, *, with_code: bool, name: str = "attack") -> dict[str, Any]:
    """A processing step running the script at ``path`` (a file the definition's author never had)."""
    honest = Path(__file__)  # any existing file, to build a well-formed definition from
    definition = Pipeline(name, [ProcessingStep("Run", script=honest)]).definition()
    step = definition["steps"][0]
    step["script"] = path
    if with_code:
        step["code"] = {"ref": path, "hash": hashlib.sha256(b"").hexdigest()}
    else:
        del step["code"]
    return definition


def test_a_script_anywhere_on_the_server_is_neither_run_nor_read(
    confined: LiveServer, api: httpx.Client, tmp_path: Path
) -> None:
    marker, secret = tmp_path / "pwned", tmp_path / "secret.txt"
    secret.write_text("the server's secret")
    source = SCRIPT.format(marker=str(marker), secret=str(secret)).encode()
    run = api.post("/runs", json={}).raise_for_status().json()["id"]
    api.put(f"/runs/{run}/artifacts/prep.py", content=source).raise_for_status()
    blob = Path(confined.settings.artifact_url) / blob_key(hashlib.sha256(source).hexdigest())
    assert blob.is_file()  # the path an attacker can predict from the bytes they uploaded

    for target in (str(blob), str(secret), "/etc/hostname", "prep.py"):
        for with_code in (True, False):  # the hole was `script` with no `code` to check
            resp = api.post("/pipelines", json={"definition": _script_definition(target, with_code=with_code)})
            assert resp.status_code == 403, resp.text
            error = resp.json()["error"]
            assert error["code"] == "PERMISSION_DENIED"
            assert error["field"] == ("steps.Run.code" if with_code else "steps.Run.script")
            assert "pipeline_modules" in error["message"] and "the server's secret" not in resp.text
    assert api.get("/pipelines/attack").status_code == 404
    assert not marker.exists()


def test_a_script_in_an_allowed_folder_runs(confined: LiveServer) -> None:
    script = _home(confined) / "scripts" / "props.py"
    script.write_text("import json, os\n"
                      "open(os.environ['SLIPWAY_PROPERTIES_FILE'], 'w').write(json.dumps({'ok': 1}))\n")
    with confined.client() as client:
        execution = Pipeline("allowed-script", [ProcessingStep("Run", script=script)]).run(client=client)
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.failure_reason
    assert execution.step("Run").properties == {"ok": 1}


def test_a_stored_definition_is_held_to_the_allow_list_when_it_runs(
    confined: LiveServer, api: httpx.Client, local: Backend, tmp_path: Path
) -> None:
    """A definition written behind the server's back (embedded, or in its database) never runs what the list omits."""
    marker, secret = tmp_path / "pwned", tmp_path / "secret.txt"
    secret.write_text("s")
    evil = tmp_path / "evil.py"
    evil.write_text(SCRIPT.format(marker=str(marker), secret=str(secret)))
    local.pipelines.register(Pipeline("stored", [ProcessingStep("Run", script=evil)]))
    resp = api.post("/pipelines/stored/executions", json={})
    assert resp.status_code == 403, resp.text
    assert resp.json()["error"]["field"] == "steps.Run.code"
    assert not marker.exists()


def _numbers_pipeline(name: str, path: Any) -> Pipeline:
    return Pipeline(name, [ProcessingStep("Sum", lib.total_of_file, inputs={"numbers_file": FileInput(path)})])


def test_files_a_definition_hands_its_steps_are_held_to_dataset_roots(
    confined: LiveServer, api: httpx.Client, tmp_path: Path
) -> None:
    outside = tmp_path / "numbers.json"
    outside.write_text("[1, 2, 3]")
    shared = _home(confined) / "shared" / "numbers.json"
    shared.write_text("[1, 2, 3]")

    literal = api.post("/pipelines", json={"definition": _numbers_pipeline("literal", str(outside)).definition()})
    assert literal.status_code == 403, literal.text
    assert literal.json()["error"]["field"] == "steps.Sum.inputs"
    assert "outside the folders" in literal.json()["error"]["message"]
    check = QualityCheckStep("Check", data="/etc/passwd", baseline="b")  # a built-in step reading a plain path
    resp = api.post("/pipelines", json={"definition": Pipeline("builtin", [check]).definition()})
    assert resp.status_code == 403 and resp.json()["error"]["field"] == "steps.Check.data", resp.text

    param = Parameter("numbers", str, str(shared))
    api.post("/pipelines", json={"definition": _numbers_pipeline("param", param).definition()}).raise_for_status()
    resp = api.post("/pipelines/param/executions", json={"parameters": {"numbers": str(outside)}})
    assert resp.status_code == 403 and resp.json()["error"]["field"] == "parameters.numbers", resp.text

    # A path the runner learns only as it resolves the step: refused there, before anything reads it.
    joined = _numbers_pipeline("joined", Join(str(tmp_path), "/numbers.json"))
    api.post("/pipelines", json={"definition": joined.definition()}).raise_for_status()
    started = api.post("/pipelines/joined/executions", json={}).raise_for_status().json()
    ended = _wait(api, started["id"])
    assert ended["status"] == "Failed"
    step = next(s for s in ended["steps"] if s["step_name"] == "Sum")
    assert step["error_type"] == "PermissionDenied" and "outside the folders" in step["error"], step
    assert step["attempts"] == 0  # it never reached a worker

    # The shared folder itself works.
    ok = api.post("/pipelines/param/executions", json={}).raise_for_status().json()
    assert _wait(api, ok["id"])["status"] == "Succeeded"


def test_a_hook_cannot_hand_a_pipeline_a_path_outside_dataset_roots(
    confined: LiveServer, api: httpx.Client, tmp_path: Path
) -> None:
    shared = _home(confined) / "shared" / "hooked.json"
    shared.write_text("[1]")
    pipeline = _numbers_pipeline("hooked", Parameter("numbers", str, str(shared)))
    api.post("/pipelines", json={"definition": pipeline.definition()}).raise_for_status()
    action = {"kind": "start_pipeline", "pipeline": "hooked", "parameters": {"numbers": "{event.path}"}}
    secret = api.post("/hooks", json={"name": "ci", "action": action}).raise_for_status().json()["secret"]
    body = json.dumps({"path": "/etc/passwd"}).encode()
    resp = httpx.post(f"{confined.url}/hooks/ci", content=body, headers=sign_hook(secret, body), timeout=TIMEOUT)
    assert resp.status_code == 202, resp.text  # accepted; the action runs after the answer
    run = until(lambda: _ended(api, resp.json()["id"]), TIMEOUT, "the hook's run to end")
    assert run["status"] == "Failed", run
    assert "outside the folders" in run["error"]
    assert api.get("/pipeline-executions", params={"pipeline": "hooked"}).json() == []


def test_a_custom_rule_stored_behind_the_servers_back_is_not_imported(
    api: httpx.Client, local: Backend
) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    local.monitoring.create_baseline("rules-base", frame)
    local.monitoring.create_monitor("ruled", baseline="rules-base", rules=["_monitoring_rules:rows_halved"])
    statistics = compute_statistics(frame).to_dict()
    execution = api.post("/monitoring/monitors/ruled/executions", json={"statistics": statistics}).json()
    assert execution["status"] == "Failed", execution  # recorded as a failed run, as a scheduled one would be
    assert execution["message"].startswith("rules.0: this server does not run code from module '_monitoring_rules'")


def _wait(api: httpx.Client, execution_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        execution: dict[str, Any] = api.get(f"/pipeline-executions/{execution_id}").raise_for_status().json()
        if execution["status"] in ("Succeeded", "Failed", "Stopped"):
            return execution
        assert time.monotonic() < deadline, execution
        time.sleep(0.1)


def test_embedded_mode_still_trusts_the_local_user(tmp_path: Path) -> None:
    backend = Backend(load_settings(env={}, cwd=tmp_path, home=str(tmp_path / "home")))
    try:
        script = tmp_path / "anywhere.py"
        script.write_text("print('hi')\n")
        assert backend.pipelines.register_definition(
            Pipeline("local", [ProcessingStep("Run", script=script)]).definition()
        ).version == 1
    finally:
        backend.close()


def _ended(api: httpx.Client, run_id: str) -> dict[str, Any] | None:
    run = api.get(f"/automation/runs/{run_id}").raise_for_status().json()
    return dict(run) if run["status"] in ("Succeeded", "Failed") else None
