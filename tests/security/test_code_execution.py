"""Code execution: a server imports only allowed modules, and never unpickles what a request sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import _pipeline_steps as lib
import httpx
import pytest
from _pickle_bomb import Bomb
from _server import LiveServer

from slipway._modules import ModulePolicy
from slipway.errors import InvalidInput, PermissionDenied
from slipway.pipelines import Parameter, Pipeline, ProcessingStep

TIMEOUT = 30  # seconds: CI shares two cores among the whole suite


def _definition(ref: str) -> dict[str, Any]:
    """A valid definition whose one step names ``ref`` as its code."""
    step = ProcessingStep("Make", lib.numbers, inputs={"n": Parameter("n", int, 3)}, outputs=["data"])
    definition = Pipeline("attack", [step]).definition()
    definition["steps"][0]["code"]["ref"] = ref
    return definition


@pytest.mark.parametrize("ref", ["os:system", "subprocess:run", "builtins:exec", "_pipeline_steps_evil:x",
                                 "/tmp/evil.py", "evil.py"])
def test_a_server_refuses_definitions_naming_code_outside_its_modules(api: httpx.Client, ref: str) -> None:
    resp = api.post("/pipelines", json={"definition": _definition(ref)})
    assert resp.status_code == 403, resp.text
    error = resp.json()["error"]
    assert error["code"] == "PERMISSION_DENIED" and error["field"] == "steps.Make.code"
    assert "pipeline_modules" in error["message"]
    assert api.get("/pipelines/attack").status_code == 404


def _malformed() -> list[dict[str, Any]]:
    valid = _definition("_pipeline_steps:numbers")
    step = valid["steps"][0]
    return [
        {"format": "nope"}, {**valid, "steps": "x"}, {**valid, "steps": [1]}, {**valid, "name": None},
        {**valid, "steps": [{"name": "x", "type": "Processing"}]}, {**valid, "steps": [{**step, "type": ["x"]}]},
        {**valid, "steps": [{**step, "inputs": 7}]},
    ]


def test_malformed_definitions_are_a_4xx(api: httpx.Client) -> None:
    for definition in _malformed():
        resp = api.post("/pipelines", json={"definition": definition})
        assert 400 <= resp.status_code < 500, (definition, resp.text)


@pytest.mark.parametrize("definition", _malformed())
def test_malformed_definitions_are_invalid_input_where_any_module_may_run(definition: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        Pipeline.from_definition(definition)


def test_custom_monitoring_rules_are_held_to_the_same_modules(api: httpx.Client) -> None:
    resp = api.post("/monitoring/monitors", json={"name": "m", "baseline": "b", "rules": ["os:system"]})
    assert resp.status_code == 403, resp.text
    assert resp.json()["error"]["field"] == "rules.0"


def test_the_module_policy() -> None:
    ModulePolicy(None).check("os:system", field="f")  # embedded: the local user is trusted
    ModulePolicy(("*",)).check("/srv/scripts/prep.py", field="f")
    allowed = ModulePolicy(("acme",))
    allowed.check("acme.train:fit", field="f")
    for ref in ("acmex:fit", "acme", "scripts/acme.py", "os:system"):
        with pytest.raises(PermissionDenied):
            allowed.check(ref, field="f")


def test_a_pickled_model_uploaded_to_a_server_is_never_loaded(hardened: LiveServer, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    with hardened.client() as client:
        # The client's user vouches for it (trusted=True), but the server must not trust the upload.
        version = client.registry.register_model("bomb", Bomb(str(marker)), flavor="pyfunc", trusted=True)
        assert not marker.exists()  # packaging pickles; it does not unpickle
        client.serving.create_endpoint("bomb", [{"model": f"bomb/{version.version}"}], force=True)
    resp = httpx.post(f"{hardened.url}/endpoints/bomb/invocations", json={"inputs": [[1.0]]},
                      headers=hardened.headers, timeout=TIMEOUT)
    assert resp.status_code in (403, 503), resp.text
    assert "pickle" in resp.text or "trusted" in resp.text or "UNTRUSTED" in resp.text
    assert not marker.exists()


def test_bytes_sent_as_a_dataset_are_parsed_as_data_never_unpickled(api: httpx.Client, tmp_path: Path) -> None:
    import pickle

    marker = tmp_path / "pwned-dataset"
    payload = pickle.dumps(Bomb(str(marker)))
    for fmt in ("parquet", "csv", "jsonl"):
        resp = api.post("/datasets/bombs/versions", params={"format": fmt}, content=payload,
                        headers={"content-type": "application/octet-stream"})
        assert resp.status_code < 500, resp.text  # read as rows (if they parse at all), never as a pickle
    assert not marker.exists()
