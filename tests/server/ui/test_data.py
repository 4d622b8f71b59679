"""Dataset and feature group pages without a browser: versions, schema, statistics, freshness."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pandas as pd
import pytest
from _ui_pages import own_backend, page_client
from fastapi.testclient import TestClient

from slipway._backend import Backend

XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with own_backend(tmp_path_factory.mktemp("ui-data")) as made:
        yield _seeded(made)


def _seeded(made: Backend) -> Backend:
    frame = pd.DataFrame({"length": [0.4, 0.5, 0.55, 0.6, 0.7], "sex": ["M", "F", "I", "M", XSS]})
    first = made.datasets.register("abalone", frame, description=f"{XSS} raw").version
    derived = frame.assign(rings=[7, 9, 10, 11, 8])
    made.datasets.register("abalone", derived, derived_from=[("dataset_version", first.id)])
    made.features.create_group("shells", {"shell": "string", "ts": "timestamp", "weight": "float64"},
                               record_id="shell", event_time="ts", ttl_seconds=86_400, description=XSS)
    made.features.ingest("shells", pd.DataFrame({"shell": ["a", "b"], "ts": pd.Timestamp("2024-05-01", tz="UTC"),
                                                 "weight": [1.0, 2.0]}))
    return made


@pytest.fixture(scope="module")
def client(backend: Backend) -> Iterator[TestClient]:
    with page_client(backend) as test_client:
        yield test_client


def test_datasets_and_their_versions(client: TestClient) -> None:
    listing = client.get("/datasets")
    assert listing.status_code == 200 and 'href="/datasets/abalone"' in listing.text
    dataset = client.get("/datasets/abalone")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; raw" in dataset.text and "<script>alert" not in dataset.text
    assert all(f'href="/datasets/abalone/versions/{v}"' in dataset.text for v in (1, 2))


def test_a_version_shows_schema_statistics_charts_and_preview(client: TestClient) -> None:
    page = client.get("/datasets/abalone/versions/2")
    assert page.status_code == 200
    schema = page.text.split('id="schema"')[1].split("</table>")[0]
    assert [m for m in re.findall(r"<tr><td>(\w+)</td>", schema)] == ["length", "sex", "rings"]
    statistics = page.text.split('id="statistics"')[1].split("</table>")[0]
    assert "0.55" in statistics  # the median length
    assert "<code>M</code> (2)" in statistics  # the most frequent sex
    charts = page.text.split('id="charts"')[1]
    assert charts.count("<svg") == 3  # a histogram per numeric column, value shares for text
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text


def test_two_versions_diffed(client: TestClient) -> None:
    diff = client.get("/datasets/abalone/diff", params={"first": 1, "second": 2})
    assert diff.status_code == 200
    assert re.search(r"<td>rings</td><td><span class=\"badge added\">added</span>", diff.text)
    assert client.get("/datasets/abalone/diff", params={"first": 1, "second": 7}).status_code == 404


def test_feature_groups_with_schema_and_freshness(client: TestClient) -> None:
    listing = client.get("/features")
    assert listing.status_code == 200 and 'href="/features/shells"' in listing.text
    assert "2024-05-01" in listing.text and "stale" in listing.text  # a day's TTL is long past
    page = client.get("/features/shells")
    assert page.status_code == 200
    assert "<td>weight</td><td><code>float64</code></td>" in page.text
    assert "record id" in page.text and "event time" in page.text
    assert "&lt;script&gt;" in page.text and "<script>alert" not in page.text
    assert client.get("/features/nope").status_code == 404
