"""Experiment and run pages: the runs table (filter, sort, paging), a run, its artifacts, runs compared."""

from __future__ import annotations

import html
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote

import httpx
import pytest
from _ui import Browse, UIServer

XSS = "<script>alert(1)</script>"
RUNS = 60


def _png() -> bytes:
    """A valid 2x2 red PNG, made here so the test needs no image library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@dataclass(frozen=True)
class Seeded:
    experiment: str
    runs: dict[str, str]  # name -> id


@pytest.fixture(scope="module")
def seeded(ui_server: UIServer) -> Seeded:
    """An experiment named like an attack, with 60 runs: loss = 1/(i+1) at the last of 5 steps, depth i % 3."""
    tracking = ui_server.backend.tracking
    experiment = tracking.create_experiment(f"{XSS} experiment")
    runs = {}
    for i in range(RUNS):
        name = XSS if i == 7 else f"run-{i:02d}"
        run = tracking.create_run(experiment.id, name=name, start_time=1_700_000_000_000 + i * 1000)
        metrics = [{"key": "loss", "value": 1 / (i + 1) + (4 - step) * 0.5, "step": step} for step in range(5)]
        tracking.log_batch(run.id, metrics=metrics, params={"depth": str(i % 3), "note": XSS})
        runs[name] = run.id
    artifacts_run = runs["run-00"]
    tracking.log_bytes(artifacts_run, f"first line\n{XSS}\n".encode(), "notes/readme.txt")
    tracking.log_bytes(artifacts_run, _png(), "plots/red.png")
    tracking.log_bytes(artifacts_run, b"<html><script>alert(1)</script></html>", "report.html")
    tracking.log_bytes(artifacts_run, bytes(range(256)), "model.bin")
    for run_id in runs.values():
        tracking.end_run(run_id)
    return Seeded(experiment.id, runs)


@pytest.fixture(scope="module")
def http(ui_server: UIServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ui_server.url, cookies={"slipway_token": ui_server.tokens["viewer"]}, timeout=30) as c:
        yield c


def _run_names(html: str) -> list[str]:
    return re.findall(r'<td><a href="/runs/[^"]+">([^<]*)</a></td>', html)


def test_the_runs_table_sorts_by_a_metric_and_pages_through_all_runs(http: httpx.Client, seeded: Seeded) -> None:
    url = f"/experiments/{seeded.experiment}?order=metrics.loss&size=25"
    seen: list[str] = []
    pages = 0
    while url:
        page = http.get(url)
        assert page.status_code == 200
        seen += _run_names(page.text)
        pages += 1
        found = re.search(r'<a href="([^"]+)" id="next-page">', page.text)
        url = f"/experiments/{seeded.experiment}" + found.group(1).replace("&amp;", "&") if found else ""
    assert pages == 3
    assert len(seen) == RUNS and len(set(seen)) == RUNS
    assert seen[0] == "run-59" and seen[-1] == "run-00"  # the loss falls as i grows: ascending is newest first
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in seen


def test_newest_first_pages_continue_below_the_last_run_shown(http: httpx.Client, seeded: Seeded) -> None:
    url = f"/experiments/{seeded.experiment}?size=25"
    seen: list[str] = []
    while url:
        page = http.get(url)
        seen += _run_names(page.text)
        found = re.search(r'<a href="([^"]+)" id="next-page">', page.text)
        url = f"/experiments/{seeded.experiment}" + found.group(1).replace("&amp;", "&") if found else ""
        assert "page=k" in url or not url  # keyset pages, not offsets
    assert [html.unescape(n) for n in seen] == list(reversed(seeded.runs))  # newest first, each run once
    forged = http.get(f"/experiments/{seeded.experiment}?page=k1.x'%20or%20'1")
    assert forged.status_code == 200 and "page is not one this table issued" in forged.text


def test_previous_goes_back_a_page(http: httpx.Client, seeded: Seeded) -> None:
    first = http.get(f"/experiments/{seeded.experiment}?size=25")
    second_link = re.search(r'<a href="([^"]+)" id="next-page">', first.text)
    assert second_link
    second = http.get(f"/experiments/{seeded.experiment}" + second_link.group(1).replace("&amp;", "&"))
    back = re.search(r'<a href="([^"]+)" id="previous-page">', second.text)
    assert back
    again = http.get(f"/experiments/{seeded.experiment}" + back.group(1).replace("&amp;", "&"))
    assert _run_names(again.text) == _run_names(first.text)
    assert 'id="previous-page"' not in first.text


def test_the_filter_uses_the_runs_search_language(http: httpx.Client, seeded: Seeded) -> None:
    query = {"filter": "params.depth = '2' and metrics.loss < 0.05"}
    page = http.get(f"/experiments/{seeded.experiment}", params=query)
    names = _run_names(page.text)
    assert names and all(int(n[-2:]) % 3 == 2 and 1 / (int(n[-2:]) + 1) < 0.05 for n in names)


def test_a_bad_filter_is_explained_next_to_the_box(http: httpx.Client, seeded: Seeded) -> None:
    page = http.get(f"/experiments/{seeded.experiment}", params={"filter": "metrics.loss <"})
    assert page.status_code == 200
    assert 'id="filter-error"' in page.text
    assert _run_names(page.text) == []


@pytest.mark.parametrize("query", ["size=7", "size=many", "order=nonsense%20here", "page=not-a-token"])
def test_bad_table_settings_are_a_400_page(http: httpx.Client, seeded: Seeded, query: str) -> None:
    page = http.get(f"/experiments/{seeded.experiment}?{query}")
    assert page.status_code in (200, 400)
    assert page.headers["content-type"].startswith("text/html")
    assert "error" in page.text


def test_the_run_page_shows_params_metrics_charts_and_artifacts_escaped(http: httpx.Client, seeded: Seeded) -> None:
    page = http.get(f"/runs/{seeded.runs['run-00']}")
    assert page.status_code == 200
    assert "<script>" not in page.text.split("</head>")[1]
    assert page.text.count("<polyline") == 1  # the loss over its five steps
    for path in ("notes/readme.txt", "plots/red.png", "report.html", "model.bin"):
        assert path in page.text
    assert f'<img class="artifact" src="/runs/{seeded.runs["run-00"]}/raw/plots/red.png"' in page.text


def test_a_text_artifact_is_shown_escaped(http: httpx.Client, seeded: Seeded) -> None:
    page = http.get(f"/runs/{seeded.runs['run-00']}/artifacts/notes/readme.txt")
    assert "first line\n&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    binary = http.get(f"/runs/{seeded.runs['run-00']}/artifacts/model.bin")
    assert "A binary file" in binary.text


def test_raw_artifacts_are_images_or_downloads_never_pages(http: httpx.Client, seeded: Seeded) -> None:
    run = seeded.runs["run-00"]
    image = http.get(f"/runs/{run}/raw/plots/red.png")
    assert image.headers["content-type"] == "image/png" and image.content == _png()
    html = http.get(f"/runs/{run}/raw/report.html")
    assert html.headers["content-type"] == "application/octet-stream"
    assert html.headers["content-disposition"].startswith("attachment;")
    assert html.headers["x-content-type-options"] == "nosniff"
    assert http.get(f"/runs/{run}/raw/missing.txt").status_code == 404


def test_compare_takes_two_to_ten_runs(http: httpx.Client, seeded: Seeded) -> None:
    ids = list(seeded.runs.values())
    page = http.get("/runs/compare", params={"run": ids[:3]})
    assert page.status_code == 200
    assert page.text.count("<polyline") == 3  # one line per run, overlaid on one loss chart
    for count in (1, 11):
        refused = http.get("/runs/compare", params={"run": ids[:count]})
        assert refused.status_code == 400 and "between 2 and 10" in refused.text


def test_browsing_filtering_sorting_paging_and_comparing(browse: Browse, seeded: Seeded) -> None:
    page = browse.visit(browse.page("viewer"), "/experiments")
    page.get_by_role("link", name=f"{XSS} experiment").click()
    assert page.locator("h1").inner_text() == f"{XSS} experiment"  # the name shows literally, nothing ran
    page.locator("#runs th a", has_text="loss").click()  # sort by the metric: ascending first
    assert page.locator("#runs tr:nth-child(2) td:nth-child(2)").inner_text() == "run-59"
    page.locator("#runs th a", has_text="loss").click()  # and again: descending
    assert page.locator("#runs tr:nth-child(2) td:nth-child(2)").inner_text() == "run-00"
    browse.screenshot(page, "sorted")
    page.locator("#next-page").click()
    assert page.locator("#runs tr:nth-child(2) td:nth-child(2)").inner_text() == "run-50"
    page.fill("input[name=filter]", "params.depth = '0'")
    page.locator("#run-filter button").click()
    rows = page.locator("#runs tr td:nth-child(2)")
    assert rows.count() == RUNS // 3
    compare = page.locator("#compare button[type=submit]")
    assert compare.is_disabled()
    for row in range(2, 5):
        page.locator(f"#runs tr:nth-child({row}) input[type=checkbox]").check()
    assert page.locator("[data-compare-count]").inner_text() == "3 selected"
    compare.click()
    page.wait_for_url("**/runs/compare?**")
    assert page.locator("#charts svg polyline").count() == 3
    browse.screenshot(page, "compare")


def test_a_run_page_with_its_image_and_a_text_artifact(browse: Browse, seeded: Seeded) -> None:
    page = browse.visit(browse.page("viewer"), f"/runs/{seeded.runs[XSS]}")
    assert page.locator("h1").inner_text().startswith(XSS)
    page = browse.visit(page, f"/runs/{seeded.runs['run-00']}")
    assert page.locator("img.artifact").evaluate("img => img.naturalWidth") == 2
    page.get_by_role("link", name="notes/readme.txt").click()
    assert XSS in page.locator("#artifact-text").inner_text()
    browse.screenshot(page, "artifact")


def test_compare_charts_a_bounded_number_of_metrics(http: httpx.Client, ui_server: UIServer) -> None:
    tracking = ui_server.backend.tracking
    experiment = tracking.create_experiment("many metrics")
    ids = []
    for name in ("a", "b"):
        run = tracking.create_run(experiment.id, name=name)
        tracking.log_batch(run.id, metrics=[{"key": f"m{k}", "value": k, "step": 0} for k in range(9)])
        ids.append(run.id)
    page = http.get("/runs/compare", params={"run": ids})
    assert page.text.count("<figcaption>") == 8
    assert "Charts of the first 8 metrics; the table above lists all 9." in page.text
    assert page.text.count("<th>m") == 9


@pytest.fixture(scope="module")
def family(ui_server: UIServer) -> dict[str, str]:
    """A parent run with two children (as MLflow's nested runs make them), the parent reading a data set."""
    tracking = ui_server.backend.tracking
    experiment = tracking.create_experiment("nested runs")
    parent = tracking.create_run(experiment.id, name="tuning", start_time=1_700_000_000_000)
    first = tracking.create_run(experiment.id, name="trial-1", parent_run_id=parent.id, start_time=1_700_000_001_000)
    second = tracking.create_run(experiment.id, name="trial-2", parent_run_id=parent.id, start_time=1_700_000_002_000)
    alone = tracking.create_run(experiment.id, name="baseline", start_time=1_700_000_003_000)
    tracking.log_inputs(parent.id, [{"name": "abalone", "digest": "9f3c", "context": "training",
                                     "source_type": "local", "source": XSS}])
    return {"experiment": experiment.id, "tuning": parent.id, "trial-1": first.id, "trial-2": second.id,
            "baseline": alone.id}


def test_child_runs_sit_under_their_parent_in_the_runs_table(http: httpx.Client, family: dict[str, str]) -> None:
    page = http.get(f"/experiments/{family['experiment']}")
    rows = re.findall(r'<tr( class="child-run" data-depth="1")?>\s*<td><input[^>]+></td>\s*<td>.*?'
                      r'<a href="/runs/[^"]+">([^<]*)</a></td>', page.text)
    assert [(name, bool(child)) for child, name in rows] == [
        ("baseline", False), ("tuning", False), ("trial-2", True), ("trial-1", True),
    ]


def test_a_run_page_shows_its_data_sets_and_its_child_runs(http: httpx.Client, family: dict[str, str]) -> None:
    page = http.get(f"/runs/{family['tuning']}").text
    datasets = page.split('id="datasets"')[1].split("</table>")[0]
    assert "abalone" in datasets and "9f3c" in datasets and "training" in datasets
    assert html.escape(XSS) in datasets and XSS not in datasets
    children = page.split('id="child-runs"')[1].split("</table>")[0]
    assert re.findall(r">(trial-\d)</a>", children) == ["trial-2", "trial-1"]
    child = http.get(f"/runs/{family['trial-1']}").text
    assert f'<a href="/runs/{family["tuning"]}" id="parent-run">tuning</a>' in child
    assert "No dataset inputs logged." in child and 'id="child-runs"' not in child


def test_mlflows_view_run_links_land_on_the_run(browse: Browse, family: dict[str, str]) -> None:
    # What MLflow's client prints after a run: the route is in the fragment, which no server sees.
    page = browse.page("viewer")
    page.goto(f"/#/experiments/{family['experiment']}/runs/{family['trial-1']}")
    page.wait_for_url(f"**/runs/{family['trial-1']}")
    assert page.locator("h1").inner_text().startswith("trial-1")
    page.goto(f"/#/experiments/{family['experiment']}")
    page.wait_for_url(f"**/experiments/{family['experiment']}")
    browse.screenshot(page, "experiment from an MLflow link")
    signed_out = browse.page(None)
    signed_out.goto(f"/#/experiments/{family['experiment']}/runs/{family['tuning']}")
    # Not signed in: the login page, which will go on to the run, not to the home page.
    signed_out.wait_for_url(lambda url: "/login?next=" in url and f"runs/{family['tuning']}" in unquote(url))
    assert "#" not in signed_out.url
