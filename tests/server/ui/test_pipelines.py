"""Pipeline pages without a browser: lists, versions and diffs, the execution page, its JSON state and its buttons."""

from __future__ import annotations

import time
from collections.abc import Iterator

import _pipeline_steps as lib
import httpx
import pytest
from _ui import Browse, UIServer
from _ui_pages import own_backend, page_client
from fastapi.testclient import TestClient

from slipway._backend import Backend
from slipway.pipelines import Parameter, Pipeline, PipelineExecution, ProcessingStep, WaitStep


def gated(description: str, default_n: int = 5) -> Pipeline:
    """Numbers -> Total, and a Wait step that holds the execution until signalled."""
    numbers = ProcessingStep("Numbers", lib.numbers, inputs={"n": Parameter("n", int, default_n)}, outputs=["data"])
    total = ProcessingStep(
        "Total", lib.total, inputs={"data": numbers.outputs["data"], "scale": Parameter("scale", float, 1.0)}
    )
    approval = WaitStep("Approval", timeout=120, depends_on=[total])
    return Pipeline("gated", [approval], description=description)


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with own_backend(tmp_path_factory.mktemp("ui-pipelines"), SLIPWAY_PIPELINE_MODULES="_pipeline_steps") as made:
        made.pipelines.register(gated("<script>alert(1)</script> first", default_n=3))
        made.pipelines.register(gated("<script>alert(1)</script> second"))
        yield made


@pytest.fixture(scope="module")
def client(backend: Backend) -> Iterator[TestClient]:
    with page_client(backend) as test_client:
        yield test_client


def _csrf(client: TestClient) -> str:
    token = client.cookies.get("slipway_csrf")
    assert token
    return token


def _until(backend: Backend, execution_id: str, done: object, timeout: float = 60) -> PipelineExecution:
    deadline = time.monotonic() + timeout
    while True:
        execution = backend.pipelines.get_execution(execution_id)
        if done(execution):  # type: ignore[operator]
            return execution
        assert time.monotonic() < deadline, f"execution is {execution.status}: {execution.steps}"
        time.sleep(0.1)


def test_the_pipelines_list_and_a_pipeline_page(client: TestClient) -> None:
    listing = client.get("/pipelines")
    assert listing.status_code == 200
    assert 'href="/pipelines/gated"' in listing.text
    page = client.get("/pipelines/gated")
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt; second" in page.text and "<script>alert" not in page.text
    assert 'name="param.n" value="5"' in page.text  # the newest version's defaults fill the start form
    assert 'name="param.scale" value="1.0"' in page.text
    assert 'href="/pipelines/gated/versions/1"' in page.text and 'href="/pipelines/gated/versions/2"' in page.text


def test_a_version_and_the_diff_of_two(client: TestClient) -> None:
    version = client.get("/pipelines/gated/versions/1")
    assert version.status_code == 200 and "&#34;default&#34;: 3" in version.text
    diff = client.get("/pipelines/gated/diff", params={"from_version": 1, "to_version": 2})
    assert diff.status_code == 200
    assert "<code>description</code>" in diff.text
    assert "parameters" in diff.text and "<td><code class=\"wrap\">3</code></td>" in diff.text
    same = client.get("/pipelines/gated/diff", params={"from_version": 2, "to_version": 2})
    assert "same definition" in same.text


@pytest.mark.parametrize(
    ("url", "status", "text"),
    [
        ("/pipelines/nope", 404, "nope"),
        ("/pipelines/gated/versions/9", 404, "9"),
        ("/pipelines/gated/diff?from_version=one&to_version=2", 400, "from_version"),
        ("/pipelines/gated/executions/01nosuchexecution0000000000", 404, "01nosuchexecution"),
    ],
)
def test_bad_addresses_get_an_html_error_page(client: TestClient, url: str, status: int, text: str) -> None:
    answer = client.get(url)
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("text/html")
    assert text in answer.text


def test_start_signal_and_follow_an_execution(client: TestClient, backend: Backend) -> None:
    started = client.post(
        "/pipelines/gated/start",
        data={"csrf_token": _csrf(client), "param.n": "4", "param.scale": "2.5", "cache": "1"},
        follow_redirects=False,
    )
    assert started.status_code == 303
    url = started.headers["location"]
    execution_id = url.rsplit("/", 1)[1]
    assert url == f"/pipelines/gated/executions/{execution_id}"
    assert backend.pipelines.get_execution(execution_id).parameters == {"n": 4, "scale": 2.5}

    waiting = _until(backend, execution_id, lambda e: e.step("Approval").status.value == "Waiting")
    page = client.get(url)
    assert page.status_code == 200
    assert 'data-node="Approval" data-status="Waiting"' in page.text  # the DAG colours the step
    assert f'action="{url}/steps/Approval/signal"' in page.text and f'action="{url}/stop"' in page.text
    assert 'data-state-url="' + url + '/state"' in page.text
    state = client.get(url + "/state").json()
    assert state["status"] == "Running" and not state["terminal"]
    assert {s["name"]: s["status"] for s in state["steps"]} == {
        s.step_name: s.status.value for s in waiting.steps
    }

    bad = client.post(url + "/steps/Approval/signal", data={"csrf_token": _csrf(client), "payload": "{not json"})
    assert bad.status_code == 400 and "payload" in bad.text
    signalled = client.post(
        url + "/steps/Approval/signal",
        data={"csrf_token": _csrf(client), "payload": '{"approved": true}'},
        follow_redirects=False,
    )
    assert signalled.status_code == 303
    done = _until(backend, execution_id, lambda e: e.status.terminal)
    assert done.status.value == "Succeeded"
    assert done.step("Approval").properties == {"approved": True}

    final = client.get(url + "/state").json()
    assert final["terminal"] and final["status"] == "Succeeded"
    assert all(s["seconds"] is not None for s in final["steps"])
    page = client.get(url)
    assert 'data-terminal="true"' in page.text and f'action="{url}/stop"' not in page.text

    opened = client.get(f"/lineage/step_execution/{done.step('Numbers').id}/open", follow_redirects=False)
    assert opened.headers["location"] == url + "/steps/Numbers"  # lineage knows the execution that holds it
    assert client.get(f"/lineage/pipeline_execution/{execution_id}/open", follow_redirects=False).headers[
        "location"
    ] == url
    step = client.get(url + "/steps/Numbers")
    assert step.status_code == 200
    assert "writing 4 numbers" in step.text and "a warning on stderr" in step.text  # both log streams
    assert 'id="cache-reason"' in step.text
    assert "<td>data</td>" in step.text  # the output folder
    link = f'{url}/steps/Numbers/outputs/data/numbers.json'
    assert f'href="{link}"' in step.text.split('id="output-files"')[1]  # its files, linked
    assert client.get(link).json() == [0, 1, 2, 3]
    assert client.get(f"{url}/steps/Numbers/outputs/nope/x.json").status_code == 404


def test_a_second_run_shows_its_cache_hits(client: TestClient, backend: Backend) -> None:
    first = backend.pipelines.start("gated", parameters={"n": 6})
    _until(backend, first.id, lambda e: e.step("Approval").status.value == "Waiting")
    backend.pipelines.signal(first.id, "Approval", {})
    _until(backend, first.id, lambda e: e.status.terminal)
    second = backend.pipelines.start("gated", parameters={"n": 6})
    _until(backend, second.id, lambda e: e.step("Approval").status.value == "Waiting")
    state = client.get(f"/pipelines/gated/executions/{second.id}/state").json()
    assert {s["name"]: s["cache"] for s in state["steps"]}["Numbers"] == "hit"
    step = client.get(f"/pipelines/gated/executions/{second.id}/steps/Numbers")
    assert "hit</span>" in step.text
    stopped = client.post(
        f"/pipelines/gated/executions/{second.id}/stop", data={"csrf_token": _csrf(client)}, follow_redirects=False
    )
    assert stopped.status_code == 303
    assert backend.pipelines.get_execution(second.id).status.value == "Stopped"
    page = client.get(f"/pipelines/gated/executions/{second.id}")
    assert "resume-button" in page.text and "retry-button" in page.text
    retried = client.post(
        f"/pipelines/gated/executions/{second.id}/retry", data={"csrf_token": _csrf(client)}, follow_redirects=False
    )
    assert retried.status_code == 303
    new_id = retried.headers["location"].rsplit("/", 1)[1]
    assert new_id != second.id
    assert backend.pipelines.get_execution(new_id).reference_execution_id == second.id
    backend.pipelines.stop(new_id)


def test_actions_refuse_bad_input_and_forged_forms(client: TestClient, backend: Backend) -> None:
    before = len(backend.pipelines.list_executions(pipeline="gated"))
    bad = client.post("/pipelines/gated/start", data={"csrf_token": _csrf(client), "param.n": "seven"})
    assert bad.status_code == 400 and "parameter &#39;n&#39;" in bad.text
    forged = client.post("/pipelines/gated/start", data={"param.n": "1"}, follow_redirects=False)
    assert forged.status_code == 403
    assert len(backend.pipelines.list_executions(pipeline="gated")) == before
    execution = backend.pipelines.start("gated")
    elsewhere = client.post(
        f"/pipelines/other/executions/{execution.id}/stop", data={"csrf_token": _csrf(client)}
    )
    assert elsewhere.status_code == 404
    assert client.get(f"/pipelines/gated/executions/{execution.id}/steps/Nope").status_code == 404
    assert client.post(f"/pipelines/gated/executions/{execution.id}/explode", data={"csrf_token": _csrf(client)}
                       ).status_code == 400  # not a control
    backend.pipelines.stop(execution.id)


# ------------------------------------------------------------------------------ on the live server, by role


def slow_gated() -> Pipeline:
    """Numbers -> Approval (a Wait step) -> two sleeping steps: time to watch the page follow them."""
    numbers = ProcessingStep("Numbers", lib.numbers, inputs={"n": 3}, outputs=["data"])
    approval = WaitStep("Approval", timeout=120, depends_on=[numbers])
    first = ProcessingStep("SleepA", lib.sleeper, inputs={"seconds": 2.0}, depends_on=[approval])
    second = ProcessingStep("SleepB", lib.sleeper, inputs={"seconds": 2.0}, depends_on=[first])
    return Pipeline("ui-slow-gated", [second])


@pytest.fixture(scope="module")
def live_execution(ui_server: UIServer) -> PipelineExecution:
    """An execution started on the live server's own engines, held at its Wait step."""
    started = ui_server.backend.pipelines.start(slow_gated())
    return _until(ui_server.backend, started.id, lambda e: e.step("Approval").status.value == "Waiting")


def test_a_viewer_sees_no_controls_and_cannot_act(ui_server: UIServer, live_execution: PipelineExecution) -> None:
    url = f"/pipelines/ui-slow-gated/executions/{live_execution.id}"
    cookies = {"slipway_token": ui_server.tokens["viewer"]}
    with httpx.Client(base_url=ui_server.url, cookies=cookies, timeout=30) as viewer:
        page = viewer.get(url)
        assert page.status_code == 200 and 'data-node="Approval" data-status="Waiting"' in page.text
        assert "stop-button" not in page.text and "/signal" not in page.text
        assert 'id="start-form"' not in viewer.get("/pipelines/ui-slow-gated").text
        csrf = viewer.cookies.get("slipway_csrf")
        refused = viewer.post(url + "/stop", data={"csrf_token": csrf})
        assert refused.status_code == 403  # the service refuses a viewer whatever the page shows
    assert ui_server.backend.pipelines.get_execution(live_execution.id).status.value == "Running"


def test_the_execution_page_follows_the_steps_live(browse: Browse, live_execution: PipelineExecution) -> None:
    url = f"/pipelines/ui-slow-gated/executions/{live_execution.id}"
    page = browse.visit(browse.page("scientist"), url)
    assert page.locator('#dag g.node[data-node="Approval"]').get_attribute("data-status") == "Waiting"
    page.fill('tr[data-step="Approval"] input[name="payload"]', '{"approved": true}')
    page.click('tr[data-step="Approval"] button[type="submit"]')
    page.wait_for_url(f"**{url}")
    page.evaluate("window.__same_page = true")  # gone if the page reloads
    before = page.locator('#dag g.node[data-node="SleepA"]').get_attribute("data-status")
    page.wait_for_function(
        "s => document.querySelector('#dag g.node[data-node=\"SleepA\"]').getAttribute('data-status') !== s", arg=before
    )
    assert page.evaluate("window.__same_page === true"), "the DAG changed by reloading, not live"
    browse.screenshot(page, "execution-running")
    assert page.locator('tr[data-step="SleepA"] [data-field=status]').text_content() != before
    page.wait_for_selector("#execution-status.Succeeded", timeout=30_000)  # reloaded once at the end
    statuses = page.eval_on_selector_all("#dag g.node", "nodes => nodes.map(n => n.getAttribute('data-status'))")
    assert statuses == ["Succeeded"] * 4
    assert page.locator("#resume-button").count() == 0 and page.locator("#stop-button").count() == 0
    browse.screenshot(page, "execution-succeeded")
