"""The shared SVG charts: what a reader of the UI or of a monitoring report would see."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest

from slipway._charts import category_bars, colour, histogram_overlay, line_chart, signed_bars

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


def _polyline_points(svg: str) -> list[list[tuple[float, float]]]:
    return [[tuple(map(float, pair.split(","))) for pair in line.get("points", "").split()]  # type: ignore[misc]
            for line in _parse(svg).iter(f"{SVG}polyline")]


def test_a_line_per_series_in_its_own_colour_with_its_name_as_tooltip_and_legend() -> None:
    svg = line_chart({"run a": [(0, 1.0), (1, 0.5), (2, 0.25)], "run b": [(0, 0.9), (2, 0.6)]}, x_label="step")
    root = _parse(svg)
    lines = list(root.iter(f"{SVG}polyline"))
    assert [line.get("stroke") for line in lines] == [colour(0), colour(1)]
    assert [t.text for t in root.iter(f"{SVG}title")] == ["run a", "run b"]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "run a" in texts and "run b" in texts and "step" in texts


def test_higher_values_are_drawn_higher_and_later_steps_further_right() -> None:
    (points,) = _polyline_points(line_chart({"loss": [(2, 0.1), (0, 0.9), (1, 0.5)]}))
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    assert xs == sorted(xs)  # drawn in order of step whatever the input order
    assert ys == sorted(ys)  # the loss falls, so the line goes down the page (larger SVG y)


def test_names_and_labels_are_escaped() -> None:
    svg = line_chart({"<script>alert(1)</script>": [(0, 1.0), (1, 2.0)]}, x_label="<b>")
    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    bars = category_bars(["<i>x</i>"], [[1.0], [0.5]])
    assert "<i>" not in bars
    _parse(svg), _parse(bars)


def test_non_finite_points_are_left_out_and_no_points_says_so() -> None:
    (points,) = _polyline_points(line_chart({"m": [(0, 1.0), (1, math.nan), (2, math.inf), (3, 2.0)]}))
    assert len(points) == 2
    empty = line_chart({"m": [(0, math.nan)]})
    assert "no data" in empty and "<polyline" not in empty


def test_a_single_point_is_a_dot() -> None:
    root = _parse(line_chart({"once": [(5, 3.0)]}))
    assert len(list(root.iter(f"{SVG}circle"))) == 1


def test_a_hundred_thousand_steps_stay_small_and_keep_their_spikes() -> None:
    points = [(float(i), 1.0) for i in range(100_000)]
    points[77_777] = (77_777.0, 50.0)
    svg = line_chart({"m": points}, max_points=1000)
    (drawn,) = _polyline_points(svg)
    assert len(drawn) <= 1000
    assert len(svg) < 40_000
    top = min(y for _, y in drawn)  # the highest value is the smallest SVG y
    assert sum(1 for _, y in drawn if y == top) == 1


def test_y_ticks_are_round_numbers() -> None:
    svg = line_chart({"m": [(0, 0.013), (10, 0.987)]})
    labels = re.findall(r'text-anchor="end">([^<]+)<', svg)
    assert labels == ["0.2", "0.4", "0.6", "0.8"]


def test_x_ticks_can_be_formatted() -> None:
    svg = line_chart({"m": [(0, 1.0), (100, 2.0)]}, x_format=lambda x: f"t{x:.0f}")
    assert ">t0<" in svg and ">t100<" in svg


def test_many_series_wrap_the_legend_onto_more_rows() -> None:
    one = _parse(line_chart({"a": [(0, 1.0), (1, 2.0)]}))
    ten = _parse(line_chart({f"a fairly long run name {i}": [(0, i), (1, i + 1.0)] for i in range(10)}))
    assert int(ten.get("height", "0")) > int(one.get("height", "0"))


def test_histogram_overlay_draws_one_bar_group_per_bin_and_labels_the_range() -> None:
    svg = histogram_overlay([[0.2, 0.8], [0.5, 0.5], [1.0, 0.0]], 0.0, 10.0)
    root = _parse(svg)
    paths = list(root.iter(f"{SVG}path"))
    assert [p.get("fill") for p in paths] == [colour(0), colour(1), colour(2)]
    assert all(p.get("d", "").count("M") == 2 for p in paths)
    assert [t.text for t in root.iter(f"{SVG}text")] == ["0", "10"]


def test_category_bars_label_each_category_shortening_long_names() -> None:
    root = _parse(category_bars(["M", "a very long category"], [[0.5, 0.5], [0.9, 0.1]]))
    assert [t.text for t in root.iter(f"{SVG}text")] == ["M", "a very …"]


@pytest.mark.parametrize("shares", [[], [[]], [[0.1, 0.2], [0.3]]])
def test_bars_refuse_sides_that_do_not_line_up(shares: list[list[float]]) -> None:
    with pytest.raises(ValueError):
        histogram_overlay(shares, 0.0, 1.0)


def test_category_bars_need_a_share_per_category() -> None:
    with pytest.raises(ValueError, match="2 categories but 1"):
        category_bars(["a", "b"], [[1.0]])


def test_signed_bars_go_left_for_negatives_and_scale_to_the_largest_magnitude() -> None:
    svg = signed_bars([("CI", 0.5), ("DPL", -0.25), ("DI", math.inf), ("<b>", 0.0)])
    rects = re.findall(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', svg)
    assert len(rects) == 3  # the infinite value has a label, no bar
    (x_ci, w_ci), (x_dpl, w_dpl), _ = ((float(x), float(w)) for x, w in rects)
    assert w_ci == pytest.approx(2 * w_dpl) and x_dpl + w_dpl == pytest.approx(x_ci)  # both meet at zero
    assert "&lt;b&gt;" in svg and "<b>" not in svg and "inf" in svg
