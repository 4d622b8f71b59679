"""Nothing a client sends makes the server unpickle: only an admin's trust mark on a registered version.

Against the hardened server (separation of duties on; pipelines may name no code, only built-in
steps; one shared data folder). The attack: a Transform step saying ``"trusted": true`` about a
pickle on the server's disk. The defence: the step's ``trusted`` is refused, a path must lie in
the shared folder and even then loads only in formats that run no code; a registered version
loads with code once an admin who did not register it has marked it trusted, which is audited,
shown on the version, and revocable.

What made the chain easy (issue 15 item 3) is closed here too: an untrusted version's errors named
the model cache's folder on the server. Now the endpoint's reason, every answer, the pipeline step
that loads it and its logs name the version instead, and the server screens its own folders out of
every error body and stored reason (the screen alone: test_server_paths.py).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _pickle_bomb import Bomb
from _server import LiveServer
from typer.testing import CliRunner

from slipway._backend import Backend
from slipway.cli import app as cli_app
from slipway.errors import UntrustedModel
from slipway.models import save_model
from slipway.pipelines import Pipeline, TransformStep

TIMEOUT = 30  # seconds: CI shares two cores among the whole suite


@pytest.fixture(scope="module")
def tokens(hardened: LiveServer) -> dict[str, str]:
    """Tokens of a scientist and a second admin, made embedded (the local user is trusted)."""
    backend = Backend(hardened.settings)
    try:
        backend.security.create_user("sam-scientist", ["scientist"])
        backend.security.create_user("ada-admin", ["admin"])
        return {name: backend.security.create_token(name).secret for name in ("sam-scientist", "ada-admin")}
    finally:
        backend.close()


def _api(server: LiveServer, token: str) -> httpx.Client:
    return httpx.Client(base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)


def _wait(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.1)
    return found


def test_a_definition_cannot_make_the_server_unpickle(hardened: LiveServer, api: httpx.Client, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    shared = Path(hardened.settings.home) / "shared"
    outside, inside = tmp_path / "bomb", shared / "bomb"
    for folder in (outside, inside):
        save_model(Bomb(str(marker)), folder, flavor="pyfunc", trusted=True)
    (shared / "rows.csv").write_text("a\n1\n")
    data = str(shared / "rows.csv")

    def score(model: str, **options: Any) -> dict[str, Any]:
        return Pipeline("unpickle", [TransformStep("Score", model=model, data=data, **options)]).definition()

    said = api.post("/pipelines", json={"definition": score(str(outside), trusted=True)})
    assert said.status_code == 403, said.text
    assert said.json()["error"]["field"] == "steps.Score.trusted"
    anywhere = api.post("/pipelines", json={"definition": score(str(outside))})
    assert anywhere.status_code == 403 and anywhere.json()["error"]["field"] == "steps.Score.model", anywhere.text

    # A pickle in the shared folder is data the server may read, never code it runs.
    api.post("/pipelines", json={"definition": score(str(inside))}).raise_for_status()
    started = api.post("/pipelines/unpickle/executions", json={}).raise_for_status().json()
    ended = _wait(lambda: (e := api.get(f"/pipeline-executions/{started['id']}").json())["status"] in
                  ("Failed", "Succeeded") and e, "the execution never ended")
    step = ended["steps"][0]
    assert ended["status"] == "Failed" and step["error_type"] == "UntrustedModel", ended
    assert not marker.exists()


def _register_echo(server: LiveServer, token: str, group: str) -> int:
    """A pickle-based (pyfunc) version of ``group``, registered by ``token``'s user."""
    from slipway import Client

    with Client(server_url=server.url, token=token) as client:
        model = client.registry.register_model(group, lambda frame: [1.0] * len(frame), flavor="pyfunc", trusted=True)
    return model.version


def test_only_an_admin_who_did_not_register_a_version_marks_it_trusted(
    hardened: LiveServer, api: httpx.Client, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    version = _register_echo(hardened, tokens["sam-scientist"], "echo")
    path = f"/model-groups/echo/versions/{version}/trust"
    with _api(hardened, tokens["sam-scientist"]) as sam:
        refused = sam.post(path, json={})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "PERMISSION_DENIED", refused.text
    own = _register_echo(hardened, tokens["ada-admin"], "echo")
    with _api(hardened, tokens["ada-admin"]) as ada:
        mine = ada.post(f"/model-groups/echo/versions/{own}/trust", json={})
        assert mine.status_code == 403 and "registered this version" in mine.json()["error"]["message"], mine.text

    # The server's admin (test-admin) marks sam's version, through the CLI in remote mode.
    monkeypatch.setenv("SLIPWAY_SERVER_URL", hardened.url)
    monkeypatch.setenv("SLIPWAY_TOKEN", hardened.token)
    runner = CliRunner()
    marked = runner.invoke(cli_app, ["models", "trust", "echo", str(version), "-m", "read the code"])
    assert marked.exit_code == 0, marked.output
    shown = api.get(f"/model-groups/echo/versions/{version}").json()
    assert shown["trusted"] is True and shown["trusted_by"] == hardened.user and shown["trusted_at"]
    assert "Trusted" in runner.invoke(cli_app, ["models", "show", "echo", str(version)]).output
    page = httpx.get(f"{hardened.url}/models/echo/versions/{version}", headers=hardened.headers, timeout=TIMEOUT)
    assert "yes, since" in page.text and hardened.user in page.text

    audit = api.get("/audit", params={"object": shown["id"]}).json()
    assert [e["action"] for e in audit if e["action"].startswith("model_version.trust")] == ["model_version.trust"]
    revoked = api.delete(path, params={"comment": "changed my mind"}).raise_for_status().json()
    assert revoked["trusted"] is False and revoked["trusted_by"] is None
    actions = [e["action"] for e in api.get("/audit", params={"object": shown["id"]}).json()]
    assert "model_version.distrust" in actions


def test_endpoints_pipelines_and_load_model_honour_the_mark(
    hardened: LiveServer, api: httpx.Client, tokens: dict[str, str]
) -> None:
    from slipway import Client

    version = _register_echo(hardened, tokens["sam-scientist"], "marked")
    api.post("/endpoints", json={"name": "marked", "variants": [{"model": f"marked/{version}"}], "force": True}
             ).raise_for_status()
    url, body = f"{hardened.url}/endpoints/marked/invocations", {"inputs": {"a": [1.0, 2.0]}}
    before = httpx.post(url, json=body, headers=hardened.headers, timeout=TIMEOUT)
    assert before.status_code in (403, 503) and "UNTRUSTED" in before.text, before.text
    with Client(server_url=hardened.url, token=hardened.token) as client, pytest.raises(UntrustedModel):
        client.registry.load_model(f"models:/marked/{version}")

    api.post(f"/model-groups/marked/versions/{version}/trust", json={"comment": "reviewed"}).raise_for_status()
    after = httpx.post(url, json=body, headers=hardened.headers, timeout=TIMEOUT)
    assert after.status_code == 200 and after.json()["predictions"] == [1.0, 1.0], after.text
    with Client(server_url=hardened.url, token=hardened.token) as client:
        assert list(client.registry.load_model(f"models:/marked/{version}").predict({"a": [0.0]})) == [1.0]

    shared = Path(hardened.settings.home) / "shared"
    (shared / "marked.csv").write_text("a\n1\n2\n")
    step = TransformStep("Score", model=f"models:/marked/{version}", data=str(shared / "marked.csv"))
    api.post("/pipelines", json={"definition": Pipeline("marked", [step]).definition()}).raise_for_status()
    started = api.post("/pipelines/marked/executions", json={}).raise_for_status().json()
    ended = _wait(lambda: (e := api.get(f"/pipeline-executions/{started['id']}").json())["status"] in
                  ("Failed", "Succeeded") and e, "the execution never ended")
    assert ended["status"] == "Succeeded", ended
    assert ended["steps"][0]["properties"]["rows"] == 2

    # Revoked: the endpoint drops the model at its next refresh and stops answering with it.
    api.delete(f"/model-groups/marked/versions/{version}/trust").raise_for_status()
    _wait(lambda: httpx.post(url, json=body, headers=hardened.headers, timeout=TIMEOUT).status_code == 503,
          "the endpoint kept serving a version whose trust was revoked")


# ----------------------------------------------------------------- no server path in what it says


def _leaks(server: LiveServer, text: str) -> list[str]:
    """The server's own folders ``text`` names (its shared data folder aside, which callers name)."""
    home = Path(server.settings.home)
    text = text.replace(str(home / "shared"), "").replace(os.path.realpath(home / "shared"), "")
    folders = {str(home), os.path.realpath(home), tempfile.gettempdir() + "/", sys.prefix + "/"}
    return sorted(f for f in folders if f in text)


@pytest.fixture
def runtime_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The serving runtime's log records (the test server runs in this process)."""
    caplog.set_level(logging.DEBUG, logger="slipway.serving._runtime")
    yield caplog


def test_an_untrusted_version_a_scientist_serves_reveals_no_server_path(
    hardened: LiveServer, api: httpx.Client, tokens: dict[str, str], runtime_log: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scientist = tokens["sam-scientist"]
    seen: list[str] = []

    def read(response: httpx.Response) -> httpx.Response:
        seen.append(response.text)
        return response

    version = _register_echo(hardened, scientist, "leaky")
    api.post(f"/model-groups/leaky/versions/{version}/status", json={"status": "Approved"}).raise_for_status()
    sci = {"Authorization": f"Bearer {scientist}"}
    with httpx.Client(base_url=hardened.url, headers=sci, timeout=TIMEOUT) as http:
        read(http.post("/api/v1/endpoints", json={"name": "leaky", "variants": [{"model": f"leaky/{version}"}]})
             ).raise_for_status()
        body = {"inputs": {"a": [1.0]}}
        refused = read(http.post("/endpoints/leaky/invocations", json=body))
        assert refused.status_code in (403, 503) and "UNTRUSTED" in refused.text, refused.text
        v2 = read(http.post("/v2/models/leaky/infer",
                            json={"inputs": [{"name": "a", "shape": [1], "datatype": "FP64", "data": [1.0]}]}))
        assert v2.status_code >= 400, v2.text
        endpoint = read(http.get("/api/v1/endpoints/leaky")).json()
        assert endpoint["status"] == "Failed", endpoint
        # The reason names the variant and its version, which every reader of the endpoint knows.
        assert f"models:/leaky/{version}" in endpoint["reason"] and "cloudpickle" in endpoint["reason"], endpoint
        read(http.get("/endpoints/leaky"))  # the web UI's page of the endpoint
    monkeypatch.setenv("SLIPWAY_SERVER_URL", hardened.url)
    monkeypatch.setenv("SLIPWAY_TOKEN", scientist)
    shown = CliRunner().invoke(cli_app, ["endpoints", "show", "leaky"])
    seen.append(shown.output)
    assert "cloudpickle" in shown.output, shown.output
    assert all(not _leaks(hardened, text) for text in seen), [t for t in seen if _leaks(hardened, t)]

    # Trusted, it serves; revoked, the endpoint's watch fails at every refresh: it says so once.
    api.post(f"/model-groups/leaky/versions/{version}/trust", json={}).raise_for_status()
    url = f"{hardened.url}/endpoints/leaky/invocations"
    _wait(lambda: httpx.post(url, json=body, headers=sci, timeout=TIMEOUT).status_code == 200,
          "the endpoint never served the trusted version")
    api.delete(f"/model-groups/leaky/versions/{version}/trust").raise_for_status()
    failed = _wait(lambda: (e := api.get("/endpoints/leaky").json())["status"] == "Failed" and e,
                   "the endpoint kept serving a version whose trust was revoked")
    assert not _leaks(hardened, failed["reason"]) and f"models:/leaky/{version}" in failed["reason"], failed

    def retried() -> bool:
        return any("'leaky' failed again" in r.getMessage() for r in runtime_log.records)

    _wait(retried, "the runtime did not retry")
    watched = [r for r in runtime_log.records if "watching endpoint 'leaky'" in r.getMessage()]
    logged = [r for r in watched if r.levelno >= logging.WARNING]
    assert len(logged) == 1 and logged[0].exc_info is None, [r.getMessage() for r in watched]
    # Recorded once too: the retries do not write the same reason again at every poll.
    assert api.get("/endpoints/leaky").json()["updated_at"] == failed["updated_at"]


def test_a_pipeline_step_failing_on_a_server_path_names_the_version(
    hardened: LiveServer, tokens: dict[str, str]
) -> None:
    scientist = tokens["sam-scientist"]
    version = _register_echo(hardened, scientist, "leaky-step")
    shared = Path(hardened.settings.home) / "shared"
    (shared / "leaky.csv").write_text("a\n1\n")
    step = TransformStep("Score", model=f"models:/leaky-step/{version}", data=str(shared / "leaky.csv"))
    with httpx.Client(base_url=f"{hardened.url}/api/v1", headers={"Authorization": f"Bearer {scientist}"},
                      timeout=TIMEOUT) as sci:
        sci.post("/pipelines", json={"definition": Pipeline("leaky", [step]).definition()}).raise_for_status()
        started = sci.post("/pipelines/leaky/executions", json={}).raise_for_status().json()
        ended = _wait(lambda: (e := sci.get(f"/pipeline-executions/{started['id']}").json())["status"] in
                      ("Failed", "Succeeded") and e, "the execution never ended")
        [score] = ended["steps"]
        assert ended["status"] == "Failed" and score["error_type"] == "UntrustedModel", ended
        logs = sci.get(f"/pipeline-executions/{started['id']}/steps/Score/logs", params={"stream": "stderr"})
        assert "Traceback" in logs.text, logs.text
        page = httpx.get(f"{hardened.url}/pipelines/leaky/executions/{started['id']}",
                         headers={"Authorization": f"Bearer {scientist}"}, timeout=TIMEOUT)
    assert f"models:/leaky-step/{version}" in score["error"], score
    texts = [score["error"], ended["failure_reason"], logs.text, page.text]
    assert all(not _leaks(hardened, text) for text in texts), [_leaks(hardened, t) for t in texts]


def test_error_bodies_name_no_server_path(hardened: LiveServer, api: httpx.Client) -> None:
    # A 4xx whose message would name a file of the server's (a request naming it, echoed back).
    db_file = Path(hardened.settings.home) / "slipway.db"
    refused = api.post("/datasets/leaky/versions/from-uri", json={"uri": str(db_file)})
    assert 400 <= refused.status_code < 500 and "<server path>" in refused.text, refused.text
    assert not _leaks(hardened, refused.text), refused.text
