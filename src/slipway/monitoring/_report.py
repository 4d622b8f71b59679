"""The files of a check's report, and its self-contained HTML page.

The page needs no network to open: styles are inline and each chart is a small inline SVG drawn
from the two sides' statistics (sketch histograms for numbers, category shares for text), never
from rows, so a report over a hundred features stays a few hundred kilobytes.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np
import numpy.typing as npt

from slipway._charts import category_bars, colour, histogram_overlay
from slipway.monitoring._baseline import STATISTICS_FILE
from slipway.monitoring._check import CheckResult, FeatureDrift
from slipway.statistics import ColumnStatistics

VIOLATIONS_FILE = "constraint_violations.json"
DRIFT_FILE = "drift.json"
REPORT_FILE = "report.html"

_BINS = 20
_TOP_CATEGORIES = 12
_BASELINE_COLOUR, _CURRENT_COLOUR = colour(0), colour(1)  # the charts draw the sides in this order

_STYLE = """
body{font:14px system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}
.bad{color:#c0392b;font-weight:600}.ok{color:#2e7d32}
.grid{display:flex;flex-wrap:wrap;gap:14px}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 10px;width:370px}
.card h3{font-size:14px;margin:0 0 4px}.meta{font-size:12px;color:#555}
.key span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}
svg text{font-size:9px;fill:#555}
"""


def report_files(result: CheckResult) -> dict[str, bytes]:
    """The report's files by name: violations, drift scores, current statistics and the HTML page."""
    return {
        VIOLATIONS_FILE: json.dumps(result.violations_document(), indent=1).encode(),
        DRIFT_FILE: json.dumps(result.drift_document(), indent=1).encode(),
        STATISTICS_FILE: result.statistics.to_json().encode(),
        REPORT_FILE: render_report(result).encode(),
    }


def write_report(result: CheckResult, folder: str | Path) -> Path:
    """Write :func:`report_files` into ``folder`` (created if needed); returns the folder."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    for name, content in report_files(result).items():
        (target / name).write_bytes(content)
    return target


def render_report(result: CheckResult, title: str = "Data quality report") -> str:
    """The HTML page: a summary, the violations table, and one chart per feature, baseline against current."""
    esc = html.escape
    counts = result.violation_counts()
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "none"
    rows = "".join(
        f"<tr><td>{esc(v.feature_name)}</td><td>{esc(v.constraint_check_type)}</td><td>{esc(v.description)}</td></tr>"
        for v in result.violations
    )
    violations = (f"<table><tr><th>Feature</th><th>Check</th><th>Description</th></tr>{rows}</table>"
                  if rows else '<p class="ok">No violations.</p>')
    drift = {d.feature_name: d for d in result.drift}
    cards = "".join(
        _card(name, result.baseline.statistics.columns.get(name), column, drift.get(name))
        for name, column in result.statistics.columns.items()
    )
    key = (f'<p class="key"><span style="background:{_BASELINE_COLOUR}"></span>baseline'
           f'<span style="background:{_CURRENT_COLOUR}"></span>current</p>')
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{esc(title)}</h1>"
        f"<p>Baseline rows: {result.baseline.statistics.item_count:,} · current rows: "
        f"{result.statistics.item_count:,} · violations: {esc(summary)}</p>"
        f"<h2>Violations ({len(result.violations)})</h2>{violations}"
        f"<h2>Features</h2>{key}<div class=\"grid\">{cards}</div></body></html>"
    )


def _card(name: str, baseline: ColumnStatistics | None, current: ColumnStatistics, drift: FeatureDrift | None) -> str:
    esc = html.escape
    verdict = ""
    if drift is not None:
        score = "n/a" if math.isnan(drift.score) else f"{drift.score:.4g}"
        style = "bad" if drift.drifted else "ok"
        verdict = (f'<div class="meta">{esc(drift.method)}: <span class="{style}">{score}</span> '
                   f"(threshold {drift.threshold:g})</div>")
    chart = feature_chart(baseline, current)
    return (f'<div class="card"><h3>{esc(name)}</h3><div class="meta">{esc(current.inferred_type)} · '
            f"{_describe(baseline, 'baseline')} · {_describe(current, 'current')}</div>{verdict}{chart}</div>")


def feature_chart(baseline: ColumnStatistics | None, current: ColumnStatistics) -> str:
    """One feature's chart, baseline against current (colours of :func:`slipway._charts.colour` 0 and 1).

    Numbers: both sides' shares over the same bins; text: the shares of the most frequent values.
    Empty when the sides cannot be drawn together (missing from the baseline, or of other kinds).
    """
    if baseline is None or baseline.numeric != current.numeric:
        return ""
    return _numeric_chart(baseline, current) if current.numeric else _category_chart(baseline, current)


def _describe(column: ColumnStatistics | None, side: str) -> str:
    if column is None:
        return f"not in {side}"
    missing = column.num_missing / max(column.num_present + column.num_missing, 1)
    centre = f"mean {column.mean:.4g}, " if column.numeric and column.num_present else ""
    return f"{side}: {centre}{missing:.1%} missing"


def _numeric_chart(baseline: ColumnStatistics, current: ColumnStatistics) -> str:
    """Both sides' shares over the same equal-width bins spanning both ranges."""
    if not baseline.num_present or not current.num_present:
        return ""
    low, high = min(baseline.min, current.min), max(baseline.max, current.max)
    if high <= low:
        high = low + 1.0
    edges = np.linspace(low, high, _BINS + 1)
    return histogram_overlay([_shares(side, edges).tolist() for side in (baseline, current)], low, high)


def _shares(column: ColumnStatistics, edges: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    assert column.kll is not None
    below = column.kll.cdf(edges)
    below[0], below[-1] = 0.0, 1.0  # the first bin holds the minimum, the last everything up to the maximum
    return np.asarray(np.diff(below), dtype=np.float64)


def _category_chart(baseline: ColumnStatistics, current: ColumnStatistics) -> str:
    """Shares of the most frequent values of either side, then all others as one bar."""
    sides = [(column.frequent.counts, max(column.num_present, 1)) for column in (baseline, current)
             if column.frequent is not None]
    weight: dict[str, float] = {}
    for counts, total in sides:
        for value, count in counts.items():
            weight[value] = weight.get(value, 0.0) + count / total
    values = sorted(weight, key=lambda v: (-weight[v], v))[:_TOP_CATEGORIES]
    shares = []
    for counts, total in sides:
        kept = np.array([counts.get(v, 0) / total for v in values])
        shares.append(np.append(kept, max(1.0 - kept.sum(), 0.0)))
    return category_bars([*values, "other"], [side.tolist() for side in shares])
