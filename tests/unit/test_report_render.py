"""The report's pure part: statistics over view rows and the three renderings."""

from __future__ import annotations

import csv
import io
import json

from streams.analytics.chart import render_html
from streams.analytics.queries import FunnelRow, TimelinePoint, VariantResult
from streams.analytics.report import build_report, render_csv, render_json, render_table

RESULTS = [
    VariantResult("full", 1000, 20000, 900, 120, 100, {"EUR": 2500.0}),
    VariantResult("popularity", 1000, 20000, 700, 90, 80, {"EUR": 1800.0, "GBP": 40.0}),
]
FUNNEL = [FunnelRow("full", "course", "fresh_food", 300, 120, 900, 60, 9, 8, {"EUR": 210.5})]


def test_uplift_is_against_the_chosen_control() -> None:
    report = build_report(RESULTS, FUNNEL, control="popularity")
    full = next(v for v in report.variants if v.result.variant == "full")
    control = next(v for v in report.variants if v.result.variant == "popularity")
    assert control.ctr_test is None and full.ctr_test is not None
    assert full.ctr_test.relative_uplift is not None
    assert abs(full.ctr_test.relative_uplift - (900 / 700 - 1)) < 1e-12
    assert full.ctr_test.p_value < 1e-6
    assert full.revenue_per_user == {"EUR": 2.5}
    best = report.best("ctr")
    assert best is not None and best.result.variant == "full"


def test_unknown_control_falls_back_to_the_first_variant() -> None:
    assert build_report(RESULTS, [], control="nope").control == "full"
    assert build_report([], [], control=None).variants == []


def test_noisy_counts_above_their_base_are_capped() -> None:
    odd = [VariantResult("a", 5, 3, 4, 0, 9), VariantResult("b", 5, 3, 1, 0, 1)]
    report = build_report(odd, [], control="a")
    assert report.variants[0].ctr == 1.0 and report.variants[0].conversion_rate == 1.0


def test_renderings_carry_the_same_numbers() -> None:
    report = build_report(RESULTS, FUNNEL, control="popularity")
    table = render_table(report)
    assert "popularity (control)" in table and "course" in table and "EUR 2.50" in table
    data = json.loads(render_json(report))
    assert [r["variant"] for r in data["ab"]] == ["full", "popularity"]
    assert data["cross_domain_funnel"][0]["revenue"] == {"EUR": 210.5}
    ab_part, funnel_part = render_csv(report).split("\n\n")
    rows = list(csv.DictReader(io.StringIO(ab_part)))
    assert rows[1]["revenue_per_user"] == "EUR=1.8;GBP=0.04"
    assert float(rows[0]["ctr"]) == data["ab"][0]["ctr"]
    assert next(csv.DictReader(io.StringIO(funnel_part)))["target_domain"] == "fresh_food"


def test_chart_is_self_contained_svg() -> None:
    points = [
        TimelinePoint(f"2026-11-29 10:0{i}", v, 20, 200, 10 + i, 3)
        for i in range(3)
        for v in ("full", "popularity<script>")
    ]
    html = render_html(points)
    assert html.count("<svg") == 2 and html.count("<polyline") == 4
    assert "<script>" not in html and "popularity&lt;script&gt;" in html
    assert "No data" in render_html([])
