"""The HTML report opens offline in Chromium from a file:// URL, with a chart per feature and no request at all."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from _ui import browser  # noqa: F401 - the fixture: headless Chromium
from playwright.sync_api import Browser

from slipway.monitoring import check_data, compute_baseline, write_report


def test_the_report_renders_its_charts_with_the_network_off(
    browser: Browser,  # noqa: F811
    tmp_path: Path,
    abalone: pd.DataFrame,
    drifted: pd.DataFrame,
    drifted_columns: set[str],
) -> None:
    result = check_data(drifted, compute_baseline(abalone))
    page_file = write_report(result, tmp_path / "report") / "report.html"
    context = browser.new_context(offline=True)
    try:
        page = context.new_page()
        requests: list[str] = []
        problems: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
        page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.goto(page_file.as_uri(), wait_until="load")

        assert problems == []
        assert requests == [page_file.as_uri()]  # nothing but the file itself: no script, font or image fetched
        charts = page.locator("svg")
        assert charts.count() >= len(abalone.columns)  # a chart per feature
        for i in range(charts.count()):
            box = charts.nth(i).bounding_box()
            assert box is not None and box["width"] > 50 and box["height"] > 20  # drawn, not collapsed
        drawn = page.evaluate("() => [...document.querySelectorAll('svg')].map(s => s.querySelectorAll("
                              "'rect, path, polyline, line').length)")
        assert all(count > 0 for count in drawn)  # every chart has marks in it
        text = page.inner_text("body")
        assert all(column in text for column in drifted_columns)
        assert "baseline_drift_check" in text
    finally:
        context.close()
