"""The lineage explorer without a browser: the graph around an object, moving from node to node."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from _ui import Browse, UIServer
from fastapi.testclient import TestClient

from slipway import load_settings
from slipway._backend import Backend
from slipway.datasets import DatasetVersion
from slipway.server import create_app

XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    home: Path = tmp_path_factory.mktemp("ui-lineage")
    made = Backend(load_settings(env={}, cwd=home, home=str(home)))
    frame = pd.DataFrame({"length": [0.4, 0.5, 0.55, 0.6, 0.7], "sex": ["M", "F", "I", "M", XSS]})
    first = made.datasets.register("abalone", frame, description=f"{XSS} raw").version
    derived = frame.assign(rings=[7, 9, 10, 11, 8])
    made.datasets.register("abalone", derived, derived_from=[("dataset_version", first.id)])
    yield made
    made.close()


@pytest.fixture(scope="module")
def client(backend: Backend) -> Iterator[TestClient]:
    with TestClient(create_app(backend, auth=False)) as test_client:
        yield test_client


def _version(backend: Backend, number: int) -> DatasetVersion:
    return backend.datasets.get_version("abalone", number)


def test_the_lineage_explorer_moves_from_node_to_node(client: TestClient, backend: Backend) -> None:
    first, second = _version(backend, 1), _version(backend, 2)
    index = client.get("/lineage")
    assert index.status_code == 200 and f'href="/lineage/dataset/{first.dataset_id}"' in index.text
    page = client.get(f"/lineage/dataset_version/{second.id}")
    assert page.status_code == 200
    graph = page.text.split('id="lineage-graph"')[1].split("</svg>")[0]
    assert f'data-node="dataset_version:{first.id}"' in graph  # upstream: what it was derived from
    assert f'<a href="/lineage/dataset_version/{first.id}">' in graph  # each node moves the explorer
    assert f'data-node="dataset_version:{second.id}" data-status="root"' in graph
    moved = client.get(f"/lineage/dataset_version/{first.id}")
    assert f'data-node="dataset_version:{second.id}"' in moved.text  # now downstream
    opened = client.get(f"/lineage/dataset_version/{first.id}/open", follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == "/datasets/abalone/versions/1"
    found = client.get("/lineage/find", params={"kind": "dataset_version", "object_id": f" {first.id} "},
                       follow_redirects=False)
    assert found.headers["location"] == f"/lineage/dataset_version/{first.id}"


@pytest.mark.parametrize(
    ("url", "status"),
    [("/lineage/dataset_version/x?depth=0", 400), ("/lineage/dataset_version/x?depth=99", 400),
     ("/lineage/step_execution/x/open", 404), ("/lineage/dataset/unknown/open", 404)],
)
def test_the_explorer_refuses_bad_requests_with_a_page(client: TestClient, url: str, status: int) -> None:
    answer = client.get(url, follow_redirects=False)
    assert answer.status_code == status and answer.headers["content-type"].startswith("text/html")


def test_an_object_without_lineage_says_so(client: TestClient) -> None:
    page = client.get("/lineage/run/nothing-here")
    assert page.status_code == 200 and "Nothing is recorded" in page.text


# ------------------------------------------------------------------------------------------ in a browser


@pytest.fixture(scope="module")
def chain(ui_server: UIServer) -> list[str]:
    """dataset v1 -> v2 (derived) -> a baseline -> a monitor, on the live server: lineage ids, upstream first."""
    backend = ui_server.backend
    frame = pd.DataFrame({"length": [0.4, 0.5, 0.55, 0.6], "sex": ["M", "F", "I", XSS]})
    first = backend.datasets.register("ui-lineage-shells", frame).version
    second = backend.datasets.register(
        "ui-lineage-shells", frame.assign(rings=[7, 9, 10, 11]), derived_from=[("dataset_version", first.id)]
    ).version
    baseline = backend.monitoring.create_baseline("ui-lineage-shells", dataset="ui-lineage-shells:2")
    monitor = backend.monitoring.create_monitor("ui-lineage-dq", baseline="ui-lineage-shells")
    return [first.id, second.id, baseline.id, monitor.id]


def test_clicking_through_the_lineage_graph(browse: Browse, chain: list[str]) -> None:
    first, second, baseline, monitor = chain
    page = browse.visit(browse.page("viewer"), f"/lineage/dataset_version/{second}")
    root = page.locator(f'#lineage-graph g.node[data-node="dataset_version:{second}"]')
    assert root.get_attribute("data-status") == "root"
    for node in (f"dataset_version:{first}", f"monitoring_baseline:{baseline}", f"monitor:{monitor}"):
        assert page.locator(f'#lineage-graph g.node[data-node="{node}"]').count() == 1, node
    page.click(f'#lineage-graph g.node[data-node="dataset_version:{first}"]')  # move upstream
    page.wait_for_url(f"**/lineage/dataset_version/{first}")
    browse.screenshot(page, "moved-to-v1")
    assert page.locator(f'g.node[data-node="dataset_version:{first}"]').get_attribute("data-status") == "root"
    page.click(f'#lineage-graph g.node[data-node="monitor:{monitor}"]')  # three hops downstream
    page.wait_for_url(f"**/lineage/monitor/{monitor}")
    page.click("#open-object")  # the monitor's own page
    page.wait_for_url("**/monitoring/ui-lineage-dq")
    browse.screenshot(page, "monitor-page")
    browse.visit(page, "/lineage/dataset_version/" + first + "/open")
    assert page.url.endswith("/datasets/ui-lineage-shells/versions/1")
    assert page.locator("#charts svg").count() == 2
    shells = "/datasets/ui-lineage-shells"
    for path in ("/lineage", "/datasets", shells, f"{shells}/diff?first=1&second=2", "/features"):
        browse.visit(page, path)
