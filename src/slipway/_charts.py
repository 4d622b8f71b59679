"""Small inline SVG charts, shared by the web UI and the monitoring reports.

Each function returns one ``<svg>`` element as a string: no script, no stylesheet, no network, so a
chart can sit in a page the server renders or in a report file opened from disk. Every text drawn
(labels, series names) is escaped here, so callers may mark the result as safe HTML.

- :func:`histogram_overlay`: shares of two or more sides over the same bins of a numeric range.
- :func:`category_bars`: shares of two or more sides over named categories.
- :func:`line_chart`: one line per series of (x, y) points, e.g. a metric over steps for several runs.
- :func:`signed_bars`: one horizontal bar per named value, left of zero for negatives (bias metrics,
  feature attributions).

Example:
    >>> svg = line_chart({"run 1": [(0, 1.0), (1, 0.5)], "run 2": [(0, 0.9), (1, 0.7)]}, x_label="step")
    >>> svg.startswith("<svg") and svg.count("<polyline") == 2
    True
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence

# Tableau 10: distinguishable, and readable for the commonest colour blindness for the first few.
PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d",
           "#bab0ac")
_SVG_OPEN = '<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img">'
_BAR_WIDTH, _BAR_HEIGHT, _BAR_AXIS = 360, 130, 16


def colour(index: int) -> str:
    """The colour of the ``index``-th side or series (the palette repeats after ten)."""
    return PALETTE[index % len(PALETTE)]


def histogram_overlay(shares: Sequence[Sequence[float]], low: float, high: float) -> str:
    """Grouped bars of each side's share per bin, bins spanning ``low`` to ``high`` (labelled at both ends).

    Args:
        shares: one sequence per side (e.g. baseline, current), all of the same length: one value per bin.
        low: the left edge of the first bin.
        high: the right edge of the last bin.
    """
    bins = _check_sides(shares)
    return _grouped_bars(shares, [(0, f"{low:.4g}"), (bins, f"{high:.4g}")], anchor_ends=True)


def category_bars(categories: Sequence[str], shares: Sequence[Sequence[float]]) -> str:
    """Grouped bars of each side's share per category, labelled under each group (long names shortened)."""
    bins = _check_sides(shares)
    if bins != len(categories):
        raise ValueError(f"{len(categories)} categories but {bins} shares per side")
    labels = [(i, name if len(name) <= 8 else name[:7] + "…") for i, name in enumerate(categories)]
    return _grouped_bars(shares, labels, anchor_ends=False)


def _check_sides(shares: Sequence[Sequence[float]]) -> int:
    if not shares or not shares[0]:
        raise ValueError("a bar chart needs at least one side with at least one value")
    bins = len(shares[0])
    if any(len(side) != bins for side in shares):
        raise ValueError("every side needs one share per bin")
    return bins


def _grouped_bars(shares: Sequence[Sequence[float]], labels: Sequence[tuple[int, str]], *, anchor_ends: bool) -> str:
    """One path per side: a chart of 20 bins and two sides is a few hundred bytes."""
    bins = len(shares[0])
    top = max(max((float(v) for side in shares for v in side), default=0.0), 1e-12)
    plot = _BAR_HEIGHT - _BAR_AXIS
    slot = _BAR_WIDTH / bins
    width = slot * 0.84 / len(shares)
    paths = []
    for offset, side in enumerate(shares):
        parts = []
        for i, share in enumerate(side):
            height = plot * float(share) / top
            x = i * slot + slot * 0.08 + offset * width
            parts.append(f"M{x:.1f} {plot}v{-height:.1f}h{width:.1f}v{height:.1f}z")
        paths.append(f'<path fill="{colour(offset)}" d="{"".join(parts)}"/>')
    text = []
    for index, label in labels:
        if anchor_ends:
            x, anchor = (0.0, "start") if index == 0 else (float(_BAR_WIDTH), "end")
        else:
            x, anchor = (index + 0.5) * slot, "middle"
        text.append(f'<text x="{x:.1f}" y="{_BAR_HEIGHT - 4}" text-anchor="{anchor}">{html.escape(label)}</text>')
    return _SVG_OPEN.format(w=_BAR_WIDTH, h=_BAR_HEIGHT) + "".join(paths) + "".join(text) + "</svg>"


_ROW, _LABEL_WIDTH, _VALUE_WIDTH = 18, 150, 56


def signed_bars(values: Sequence[tuple[str, float]], *, width: int = 520) -> str:
    """One horizontal bar per ``(name, value)``, from a zero line; the value is written at the bar's end.

    The scale is the largest magnitude, so the chart shows relative sizes; infinite or missing
    values are drawn as a label without a bar.
    """
    finite = [abs(v) for _, v in values if math.isfinite(v)]
    top = max(finite, default=0.0) or 1.0
    signed = any(math.isfinite(v) and v < 0 for _, v in values)
    plot = width - _LABEL_WIDTH - _VALUE_WIDTH
    zero = _LABEL_WIDTH + (plot / 2 if signed else 0)
    half = plot / 2 if signed else plot
    height = _ROW * len(values) + 6
    parts = [_SVG_OPEN.format(w=width, h=height), f'<path stroke="#999" d="M{zero:.1f} 2V{height - 2}"/>']
    for row, (name, value) in enumerate(values):
        y = row * _ROW + 4
        label = name if len(name) <= 24 else name[:23] + "…"
        parts.append(f'<text x="{_LABEL_WIDTH - 6}" y="{y + 11}" text-anchor="end">{html.escape(label)}</text>')
        if math.isfinite(value):
            size = half * abs(value) / top
            x = zero - size if value < 0 else zero
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{size:.1f}" height="{_ROW - 6}" '
                         f'fill="{colour(3 if value < 0 else 0)}"/>')
        shown = _short(value) if math.isfinite(value) else ("n/a" if math.isnan(value) else str(value))
        parts.append(f'<text x="{width - 4}" y="{y + 11}" text-anchor="end">{html.escape(shown)}</text>')
    parts.append("</svg>")
    return "".join(parts)


# ------------------------------------------------------------------------------------------- lines

_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 12, 10, 34
_LEGEND_ROW = 16
_LEGEND_CHARS = 28


def line_chart(
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    width: int = 560,
    height: int = 220,
    x_label: str = "",
    x_format: Callable[[float], str] | None = None,
    max_points: int = 1000,
) -> str:
    """One line per series over shared axes, with ticks, a legend and each series' name as its tooltip.

    Points that are not finite (NaN, infinities) are left out. A series with more than ``max_points``
    points is thinned to the lowest and highest value of each of ``max_points / 2`` equal slices of
    x, which keeps every spike visible and the SVG small whatever the number of steps.

    Args:
        series: name -> (x, y) points, drawn in order of x.
        width: the plot's width in pixels; ``height`` likewise, without the legend below it.
        x_label: a word for the x axis, e.g. ``"step"``.
        x_format: how to write an x tick (e.g. a time); by default a short number.
        max_points: at most this many points drawn per series.
    """
    lines = {name: _thin(sorted((float(x), float(y)) for x, y in points
                                if math.isfinite(float(x)) and math.isfinite(float(y))), max_points)
             for name, points in series.items()}
    legend_rows = _legend_rows(list(lines), width)
    total = height + len(legend_rows) * _LEGEND_ROW + (4 if legend_rows else 0)
    out = [_SVG_OPEN.format(w=width, h=total)]
    drawn = [p for pts in lines.values() for p in pts]
    if not drawn:
        out.append(f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle">no data</text>')
    else:
        x_lo, x_hi = _span([p[0] for p in drawn])
        y_lo, y_hi = _span([p[1] for p in drawn])
        plot_w, plot_h = width - _LEFT - _RIGHT, height - _TOP - _BOTTOM

        def sx(x: float) -> float:
            return _LEFT + (x - x_lo) / (x_hi - x_lo) * plot_w

        def sy(y: float) -> float:
            return _TOP + (1 - (y - y_lo) / (y_hi - y_lo)) * plot_h

        out.append(_axes(x_lo, x_hi, y_lo, y_hi, sx, sy, width, height, x_label, x_format or _short))
        for index, (name, points) in enumerate(lines.items()):
            out.append(_line(name, points, colour(index), sx, sy))
    out.extend(_legend(legend_rows, height))
    out.append("</svg>")
    return "".join(out)


def _thin(points: list[tuple[float, float]], max_points: int) -> list[tuple[float, float]]:
    if len(points) <= max_points:
        return points
    slices = max(max_points // 2, 1)
    lo, hi = points[0][0], points[-1][0]
    step = (hi - lo) / slices or 1.0
    kept: list[tuple[float, float]] = []
    start = 0
    for k in range(1, slices + 1):
        end = start
        limit = lo + k * step
        while end < len(points) and (points[end][0] < limit or k == slices):
            end += 1
        if end > start:
            chunk = points[start:end]
            low, high = min(chunk, key=lambda p: p[1]), max(chunk, key=lambda p: p[1])
            kept.extend(sorted({low, high}))
        start = end
    return kept


def _span(values: list[float]) -> tuple[float, float]:
    """A range around ``values`` that is never empty (one value gets a margin either side)."""
    lo, hi = min(values), max(values)
    if hi > lo:
        return lo, hi
    margin = abs(lo) * 0.05 or 1.0
    return lo - margin, hi + margin


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round values between ``lo`` and ``hi``: steps of 1, 2 or 5 times a power of ten."""
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _short(value: float) -> str:
    return f"{value:.4g}"


def _axes(x_lo: float, x_hi: float, y_lo: float, y_hi: float, sx: Callable[[float], float],
          sy: Callable[[float], float], width: int, height: int, x_label: str, x_format: Callable[[float], str]) -> str:
    base = height - _BOTTOM
    parts = [f'<path stroke="#bbb" fill="none" d="M{_LEFT} {_TOP}V{base}H{width - _RIGHT}"/>']
    for y in _ticks(y_lo, y_hi):
        parts.append(f'<path stroke="#eee" d="M{_LEFT} {sy(y):.1f}H{width - _RIGHT}"/>'
                     f'<text x="{_LEFT - 4}" y="{sy(y) + 3:.1f}" text-anchor="end">{html.escape(_short(y))}</text>')
    for x in _ticks(x_lo, x_hi):
        parts.append(f'<text x="{sx(x):.1f}" y="{base + 13}" text-anchor="middle">{html.escape(x_format(x))}</text>')
    if x_label:
        parts.append(f'<text x="{(_LEFT + width - _RIGHT) / 2:.0f}" y="{base + 27}" '
                     f'text-anchor="middle">{html.escape(x_label)}</text>')
    return "".join(parts)


def _line(name: str, points: list[tuple[float, float]], stroke: str, sx: Callable[[float], float],
          sy: Callable[[float], float]) -> str:
    title = f"<title>{html.escape(name)}</title>"
    if len(points) == 1:
        x, y = points[0]
        return f'<g>{title}<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{stroke}"/></g>'
    coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    return f'<g>{title}<polyline fill="none" stroke="{stroke}" stroke-width="1.6" points="{coords}"/></g>'


def _legend_rows(names: list[str], width: int) -> list[list[tuple[int, str]]]:
    """Legend entries (series index, shortened name) wrapped into rows that fit ``width``."""
    rows: list[list[tuple[int, str]]] = []
    used = width
    for index, name in enumerate(names):
        label = name if len(name) <= _LEGEND_CHARS else name[: _LEGEND_CHARS - 1] + "…"
        need = 22 + 6 * len(label)
        if used + need > width - _RIGHT:
            rows.append([])
            used = _LEFT
        rows[-1].append((index, label))
        used += need
    return rows


def _legend(rows: list[list[tuple[int, str]]], height: int) -> list[str]:
    parts = []
    for r, row in enumerate(rows):
        y = height + 8 + r * _LEGEND_ROW
        x = float(_LEFT)
        for index, label in row:
            parts.append(f'<rect x="{x:.0f}" y="{y - 9}" width="10" height="10" fill="{colour(index)}"/>'
                         f'<text x="{x + 14:.0f}" y="{y}">{html.escape(label)}</text>')
            x += 22 + 6 * len(label)
    return parts
