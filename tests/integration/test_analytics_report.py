"""``crossrec report`` against ground truth: it finds the truly better variant, with the
significance it claims, from data written to the real local ClickHouse."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import clickhouse_connect
import pytest

from streams.analytics import report
from streams.analytics.setup import prepare_analytics
from streams.local.clickhouse import LocalClickHouse
from tests.integration.test_analytics_views import (
    best_items,
    event_rows,
    random_items,
    rec_rows,
    settings_for,
    simulate,
    write_all,
)

pytestmark = pytest.mark.integration


async def test_report_finds_the_truly_better_variant(
    clickhouse: LocalClickHouse, unique: str, tmp_path: Path
) -> None:
    settings = settings_for(clickhouse, unique)
    admin: Any = clickhouse_connect.get_client(host="127.0.0.1", port=clickhouse.http_port)
    try:
        prepare_analytics(admin, settings)
        data = simulate(
            3000, seed=21, variants={"control": random_items(8), "treatment": best_items(8)}
        )
        await write_all(settings, event_rows(data.events), rec_rows(data.recs))

        parser = argparse.ArgumentParser()
        report.configure_parser(parser)
        chart = tmp_path / "ab.html"
        args = parser.parse_args(
            ["--as", "writer", "--format", "json", "--control", "control", "--confidence",
             "0.99", "--chart", str(chart), "--bucket-s", "120"]
        )  # fmt: skip
        out = io.StringIO()
        assert report.run(args, settings, out=out, client=admin) == 0
    finally:
        admin.close()
    result = json.loads(out.getvalue())
    rows = {r["variant"]: r for r in result["ab"]}
    assert result["control"] == "control" and set(rows) == {"control", "treatment"}
    treatment = rows["treatment"]

    # Ground truth: the expected CTR of what each variant served, free of sampling noise.
    true_ctr = {v: data.true_expected_clicks[v] / data.slots[v] for v in data.slots}
    true_diff = true_ctr["treatment"] - true_ctr["control"]
    assert true_diff > 0.05, "the world must make the better variant clearly better"
    assert treatment["ctr"] > rows["control"]["ctr"]
    assert treatment["ctr_p_value"] < 0.01, "claims significance at 99 %"
    assert treatment["ctr_diff_low"] <= true_diff <= treatment["ctr_diff_high"]
    for variant, row in rows.items():
        assert row["ctr_low"] <= true_ctr[variant] <= row["ctr_high"]
        assert row["impressions"] == data.slots[variant]
    assert treatment["conversions"] >= rows["control"]["conversions"]
    assert result["cross_domain_funnel"], "served lists crossed domains"

    html = chart.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("<polyline") == 4
    assert "treatment" in html and "http" not in html.replace("http://www.w3.org/2000/svg", "")
