"""The lineage explorer: the graph around an object, moving from node to node, on the live server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pandas as pd
import pytest
from _ui import Browse, UIServer

XSS = "<script>alert(1)</script>"


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



@pytest.fixture(scope="module")
def viewer(ui_server: UIServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ui_server.url, cookies={"slipway_token": ui_server.tokens["viewer"]}, timeout=30) as c:
        yield c


def test_the_explorer_moves_from_node_to_node(viewer: httpx.Client, ui_server: UIServer, chain: list[str]) -> None:
    first, second = chain[:2]
    dataset = ui_server.backend.datasets.get_dataset("ui-lineage-shells")
    index = viewer.get("/lineage")
    assert index.status_code == 200 and f'href="/lineage/dataset/{dataset.id}"' in index.text
    page = viewer.get(f"/lineage/dataset_version/{second}")
    assert page.status_code == 200
    graph = page.text.split('id="lineage-graph"')[1].split("</svg>")[0]
    assert f'data-node="dataset_version:{first}"' in graph  # upstream: what it was derived from
    assert f'<a href="/lineage/dataset_version/{first}">' in graph  # each node moves the explorer
    assert f'data-node="dataset_version:{second}" data-status="root"' in graph
    assert "&lt;script&gt;" not in graph and "<script>" not in page.text
    moved = viewer.get(f"/lineage/dataset_version/{first}")
    assert f'data-node="dataset_version:{second}"' in moved.text  # now downstream
    opened = viewer.get(f"/lineage/dataset_version/{first}/open")
    assert opened.status_code == 303 and opened.headers["location"] == "/datasets/ui-lineage-shells/versions/1"
    found = viewer.get("/lineage/find", params={"kind": "dataset_version", "object_id": f" {first} "})
    assert found.headers["location"] == f"/lineage/dataset_version/{first}"


@pytest.mark.parametrize(
    ("url", "status"),
    [("/lineage/dataset_version/x?depth=0", 400), ("/lineage/dataset_version/x?depth=99", 400),
     ("/lineage/step_execution/x/open", 404), ("/lineage/dataset/unknown/open", 404),
     ("/lineage/artifact/step_execution/x/outputs/data/open", 404), ("/lineage/endpoint_variant/x/open", 404)],
)
def test_the_explorer_refuses_bad_requests_with_a_page(viewer: httpx.Client, url: str, status: int) -> None:
    answer = viewer.get(url)
    assert answer.status_code == status and answer.headers["content-type"].startswith("text/html")


def test_a_run_artifact_opens_on_its_run(viewer: httpx.Client) -> None:
    opened = viewer.get("/lineage/artifact/run/01abc/plots/loss curve.png/open")
    assert opened.status_code == 303 and opened.headers["location"] == "/runs/01abc/artifacts/plots/loss%20curve.png"


def test_an_object_without_lineage_says_so(viewer: httpx.Client) -> None:
    page = viewer.get("/lineage/run/nothing-here")
    assert page.status_code == 200 and "Nothing is recorded" in page.text


# ------------------------------------------------------------------------------------------ in a browser


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
