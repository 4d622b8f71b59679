"""The filter language: what matches, what is refused, ordering and paging."""

import re

import pytest

from slipway.errors import InvalidInput
from slipway.tracking import TrackingService


@pytest.fixture
def runs(tracking: TrackingService) -> dict[str, str]:
    spec = {
        "rf-1": ({"model": "rf", "depth": "3"}, {"mse": 4.0, "r2": 0.8}, {"team": "a"}),
        "rf-2": ({"model": "rf", "depth": "5"}, {"mse": 6.5, "r2": 0.7}, {"team": "b"}),
        "lin-1": ({"model": "linear"}, {"mse": 9.0}, {"team": "a"}),
        "gbm-1": ({"model": "GBM"}, {"r2": 0.9}, {}),
    }
    ids = {}
    for name, (p, m, t) in spec.items():
        run = tracking.create_run(name=name, tags=t)
        tracking.log_batch(run.id, metrics=[{"key": k, "value": v} for k, v in m.items()], params=p)
        ids[name] = run.id
    tracking.end_run(ids["lin-1"], "FAILED")
    return ids


def names(tracking: TrackingService, flt: str, order=None) -> list[str]:
    return [r.name for r in tracking.search_runs(filter=flt, order_by=order).runs]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ("metrics.mse < 5", {"rf-1"}),
        ("metrics.mse <= 6.5 and params.model = 'rf'", {"rf-1", "rf-2"}),
        ("params.model = 'rf' and (metrics.r2 > 0.75 or tags.team = 'b')", {"rf-1", "rf-2"}),
        ("tags.team IN ('a', 'b') and not params.model LIKE 'r%'", {"lin-1"}),
        ("params.model ILIKE 'gbm'", {"gbm-1"}),
        ("params.model != 'rf'", {"lin-1", "gbm-1"}),
        ("metrics.mse IS NULL", {"gbm-1"}),
        ("metrics.r2 IS NOT NULL AND metrics.mse > 5", {"rf-2"}),
        ("attributes.status = 'FAILED'", {"lin-1"}),
        ("status != 'FAILED' and run_name LIKE 'rf-%'", {"rf-1", "rf-2"}),
        ("params.depth NOT IN ('3')", {"rf-2"}),
        ("metrics.mse == 4", {"rf-1"}),
        ("start_time > '2000-01-01T00:00:00'", {"rf-1", "rf-2", "lin-1", "gbm-1"}),
    ],
)
def test_filters(tracking: TrackingService, runs, flt: str, expected: set[str]) -> None:
    assert set(names(tracking, flt)) == expected


@pytest.mark.parametrize(
    ("flt", "message"),
    [
        ("metrics.mse <", "ends too early"),
        ("metrics.mse < 'abc'", "compare with numbers"),
        ("params.depth > 3", "compare as strings"),
        ("bogus.x = 1", "unknown prefix"),
        ("colour = 'red'", "unknown attribute"),
        ("metrics.mse < 5 5", "unexpected"),
        ("(metrics.mse < 5", "expected ')'"),
        ("metrics.mse ~ 5", "unknown comparison"),
        ("metrics.mse < 5 and", "ends too early"),
    ],
)
def test_bad_filters_say_what_is_wrong(tracking: TrackingService, runs, flt: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)) as exc:
        tracking.search_runs(filter=flt)
    assert exc.value.field == "filter"


def test_order_by_metric_puts_missing_last(tracking: TrackingService, runs) -> None:
    assert names(tracking, "", ["metrics.mse ASC"]) == ["rf-1", "rf-2", "lin-1", "gbm-1"]
    assert names(tracking, "", ["metrics.mse DESC"]) == ["lin-1", "rf-2", "rf-1", "gbm-1"]
    assert names(tracking, "params.model = 'rf'", ["params.depth DESC"]) == ["rf-2", "rf-1"]
    with pytest.raises(InvalidInput, match="order"):
        tracking.search_runs(order_by=["metrics.mse sideways"])


def test_paging_visits_every_run_once(tracking: TrackingService) -> None:
    created = {tracking.create_run(name=f"r{i}").id for i in range(23)}
    seen: list[str] = []
    token = None
    while True:
        page = tracking.search_runs(max_results=10, page_token=token)
        seen += [r.id for r in page.runs]
        token = page.next_page_token
        if token is None:
            break
    assert len(seen) == 23 and set(seen) == created
    with pytest.raises(InvalidInput, match="page_token"):
        tracking.search_runs(page_token="garbage!")


def test_compare_runs_marks_differing_params(tracking: TrackingService, runs) -> None:
    cmp = tracking.compare_runs([runs["rf-1"], runs["rf-2"]])
    assert cmp.params["depth"] == ["3", "5"]
    assert cmp.differing_params == ["depth"]
    assert [m.value for m in cmp.metrics["mse"]] == [4.0, 6.5]


@pytest.mark.parametrize("order", [["metrics.loss ASC"], ["metrics.loss DESC"],
                                   ["params.kind ASC", "metrics.loss DESC"], ["tags.team DESC"], ["end_time ASC"]])
def test_keyset_pages_follow_the_order_through_ties_and_missing_values(tracking: TrackingService,
                                                                       order: list[str]) -> None:
    for i in range(17):
        run = tracking.create_run(name=f"r{i}", tags={"team": "ab"[i % 2]} if i % 3 else None)
        if i % 4:  # every fourth run has no loss: missing values sort last, both ways
            tracking.log_metric(run.id, "loss", float(i % 3))  # many ties
        tracking.log_param(run.id, "kind", "xy"[i % 2])
        if i % 5 == 0:
            tracking.end_run(run.id)
    whole = [r.id for r in tracking.search_runs(order_by=order, max_results=100).runs]
    paged: list[str] = []
    token = None
    while True:
        page = tracking.search_runs(order_by=order, max_results=4, page_token=token)
        paged += [r.id for r in page.runs]
        token = page.next_page_token
        if token is None:
            break
    assert paged == whole and len(whole) == 17
    first = tracking.search_runs(order_by=order, max_results=4).next_page_token
    with pytest.raises(InvalidInput, match="another order"):
        tracking.search_runs(order_by=["metrics.loss ASC", "params.kind ASC", "tags.team ASC"], page_token=first)
