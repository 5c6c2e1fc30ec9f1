"""``crossrec report``: the A/B table and the cross-domain funnel, for a terminal or a file.

The lead's CLI calls :func:`configure_parser` on its ``report`` sub-parser and :func:`run`
with the parsed namespace and the settings. By default the report connects as the analyst
(``CROSSREC_ANALYST_USER``) and reads the k-anonymous views; ``--as writer`` reads the exact
team views with the writer's credentials; ``--noisy`` reads the Laplace-noised views.

Per variant: users, impressions, clicks, CTR (Wilson interval), conversions, conversion rate
(converting users / users, Wilson interval), revenue per user, and — against the control —
the relative uplift of CTR and conversion rate with the interval of the absolute difference
and the two-sided p-value of a two-proportion z-test (:mod:`streams.analytics.stats`). CTR
treats every shown item slot as a trial; slots of one user are not independent, so its
p-value is optimistic — the conversion test, per user, is the one to decide on.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from streams.analytics import chart, queries
from streams.analytics.queries import FunnelRow, Source, VariantResult
from streams.analytics.stats import Interval, ProportionTest, two_proportion_ztest, wilson_interval
from streams.experiments import Experiment
from streams.settings import Settings, SettingsError


@dataclass(frozen=True)
class VariantReport:
    """One row of the A/B table; tests are ``None`` for the control itself."""

    result: VariantResult
    ctr: float
    ctr_ci: Interval
    conversion_rate: float
    conversion_ci: Interval
    revenue_per_user: dict[str, float]
    ctr_test: ProportionTest | None
    conversion_test: ProportionTest | None


@dataclass(frozen=True)
class Report:
    control: str
    confidence: float
    source: str
    variants: list[VariantReport]
    funnel: list[FunnelRow]

    def best(self, metric: str = "conversion") -> VariantReport | None:
        """The variant with the highest rate (``conversion`` or ``ctr``)."""
        key = (lambda v: v.conversion_rate) if metric == "conversion" else (lambda v: v.ctr)
        return max(self.variants, key=key, default=None)


def build_report(
    results: list[VariantResult],
    funnel: list[FunnelRow],
    control: str | None,
    confidence: float = 0.95,
    source: str = "safe",
) -> Report:
    """Pure: statistics over the rows read from the views."""
    by_name = {r.variant: r for r in results}
    chosen = control if control in by_name else (results[0].variant if results else "")
    base = by_name.get(chosen)
    rows = []
    for r in results:
        ctr_test = conv_test = None
        if base is not None and r.variant != chosen:
            ctr_test = two_proportion_ztest(
                _capped(base.clicks, base.impressions), base.impressions,
                _capped(r.clicks, r.impressions), r.impressions,
                confidence,
            )  # fmt: skip
            conv_test = two_proportion_ztest(
                _capped(base.converting_users, base.users), base.users,
                _capped(r.converting_users, r.users), r.users, confidence,
            )  # fmt: skip
        clicks = _capped(r.clicks, r.impressions)
        converted = _capped(r.converting_users, r.users)
        rows.append(
            VariantReport(
                result=r,
                ctr=clicks / r.impressions if r.impressions else 0.0,
                ctr_ci=wilson_interval(clicks, r.impressions, confidence),
                conversion_rate=converted / r.users if r.users else 0.0,
                conversion_ci=wilson_interval(converted, r.users, confidence),
                revenue_per_user={
                    c: round(v / r.users, 4) if r.users else 0.0 for c, v in r.revenue.items()
                },
                ctr_test=ctr_test,
                conversion_test=conv_test,
            )
        )
    return Report(chosen, confidence, source, rows, funnel)


def _capped(successes: int, trials: int) -> int:
    """Noisy counts can exceed their base; a rate above 1 means nothing, so cap it."""
    return max(0, min(successes, trials))


# ---------------------------------------------------------------------------- rendering
_AB_HEADER = [
    "variant", "users", "impressions", "clicks", "ctr", "ctr_low", "ctr_high", "conversions",
    "converting_users", "conversion_rate", "conversion_low", "conversion_high",
    "revenue_per_user", "ctr_uplift", "ctr_diff_low", "ctr_diff_high", "ctr_p_value",
    "conversion_uplift", "conversion_diff_low", "conversion_diff_high", "conversion_p_value",
]  # fmt: skip
_FUNNEL_HEADER = [
    "variant", "trigger_domain", "target_domain", "recommendations", "users", "impressions",
    "clicks", "ctr", "conversions", "converting_users", "revenue",
]  # fmt: skip


def ab_records(report: Report) -> list[dict[str, Any]]:
    """The A/B table as flat records (JSON/CSV)."""
    out = []
    for v in report.variants:
        r = v.result
        record: dict[str, Any] = {
            "variant": r.variant, "users": r.users, "impressions": r.impressions,
            "clicks": r.clicks, "ctr": v.ctr, "ctr_low": v.ctr_ci.low, "ctr_high": v.ctr_ci.high,
            "conversions": r.conversions, "converting_users": r.converting_users,
            "conversion_rate": v.conversion_rate, "conversion_low": v.conversion_ci.low,
            "conversion_high": v.conversion_ci.high, "revenue_per_user": v.revenue_per_user,
        }  # fmt: skip
        for name, test in (("ctr", v.ctr_test), ("conversion", v.conversion_test)):
            record[f"{name}_uplift"] = None if test is None else test.relative_uplift
            record[f"{name}_diff_low"] = None if test is None else test.difference_ci.low
            record[f"{name}_diff_high"] = None if test is None else test.difference_ci.high
            record[f"{name}_p_value"] = None if test is None else test.p_value
        out.append(record)
    return out


def funnel_records(report: Report) -> list[dict[str, Any]]:
    return [
        {
            "variant": f.variant,
            "trigger_domain": f.trigger_domain,
            "target_domain": f.target_domain,
            "recommendations": f.recommendations,
            "users": f.users,
            "impressions": f.impressions,
            "clicks": f.clicks,
            "ctr": f.clicks / f.impressions if f.impressions else None,
            "conversions": f.conversions,
            "converting_users": f.converting_users,
            "revenue": f.revenue,
        }
        for f in report.funnel
    ]


def render_json(report: Report) -> str:
    return json.dumps(
        {
            "control": report.control,
            "confidence": report.confidence,
            "source": report.source,
            "ab": ab_records(report),
            "cross_domain_funnel": funnel_records(report),
        },
        indent=2,
        default=str,
    )


def render_csv(report: Report) -> str:
    """Two CSV tables separated by a blank line: A/B first, then the funnel."""
    buffer = io.StringIO()
    for header, records in ((_AB_HEADER, ab_records(report)), (_FUNNEL_HEADER, None)):
        rows = records if records is not None else funnel_records(report)
        writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(row[k]) for k in header})
        if records is not None:
            buffer.write("\n")
    return buffer.getvalue()


def render_table(report: Report) -> str:
    pct = 100 * report.confidence
    lines = [
        f"A/B results ({report.source} views), control = {report.control or '-'}, "
        f"{pct:g}% intervals",
    ]
    ab_rows = [
        [
            "variant", "users", "impr.", "clicks", "CTR [CI]", "conv.", "conv. rate [CI]",
            "rev/user", "CTR uplift (p)", "conv. uplift [diff CI] (p)",
        ]
    ]  # fmt: skip
    for v in report.variants:
        r = v.result
        ab_rows.append(
            [
                r.variant + (" (control)" if r.variant == report.control else ""),
                str(r.users), str(r.impressions), str(r.clicks),
                f"{v.ctr:.2%} [{v.ctr_ci.low:.2%}, {v.ctr_ci.high:.2%}]",
                str(r.conversions),
                f"{v.conversion_rate:.2%} [{v.conversion_ci.low:.2%}, {v.conversion_ci.high:.2%}]",
                _money_text(v.revenue_per_user),
                _test_text(v.ctr_test, with_ci=False),
                _test_text(v.conversion_test, with_ci=True),
            ]
        )  # fmt: skip
    lines += _grid(ab_rows)
    lines += ["", "Cross-domain funnel (trigger domain -> recommended domain)"]
    funnel_rows = [
        ["variant", "trigger", "target", "recs", "users", "impr.", "clicks", "CTR", "conv.",
         "conv. users", "revenue"]
    ]  # fmt: skip
    for f in report.funnel:
        funnel_rows.append(
            [
                f.variant, f.trigger_domain, f.target_domain, str(f.recommendations),
                str(f.users), str(f.impressions), str(f.clicks),
                f"{f.clicks / f.impressions:.2%}" if f.impressions else "-",
                str(f.conversions), str(f.converting_users), _money_text(f.revenue),
            ]
        )  # fmt: skip
    lines += _grid(funnel_rows) if report.funnel else ["(no rows)"]
    return "\n".join(lines) + "\n"


def _grid(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    out.insert(1, "  ".join("-" * w for w in widths))
    return [line.rstrip() for line in out]


def _test_text(test: ProportionTest | None, *, with_ci: bool) -> str:
    if test is None:
        return "-"
    uplift = "n/a" if test.relative_uplift is None else f"{test.relative_uplift:+.1%}"
    ci = f" [{test.difference_ci.low:+.2%}, {test.difference_ci.high:+.2%}]" if with_ci else ""
    return f"{uplift}{ci} (p={test.p_value:.3g})"


def _money_text(money: dict[str, float]) -> str:
    return "; ".join(f"{c} {v:,.2f}" for c, v in money.items()) or "-"


def _csv_value(value: Any) -> Any:
    if isinstance(value, dict):
        return ";".join(f"{k}={v}" for k, v in value.items())
    return "" if value is None else value


# ---------------------------------------------------------------------------- command
def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``report`` options to ``parser``."""
    parser.add_argument(
        "--format", choices=("table", "csv", "json"), default="table", help="output (table)"
    )
    parser.add_argument("--chart", type=Path, default=None, help="write CTR/conversion over "
                        "time per variant to this .html file")  # fmt: skip
    parser.add_argument(
        "--as",
        dest="role",
        choices=("analyst", "writer"),
        default="analyst",
        help="connect as the analyst (k-anonymous views, default) or the writer (exact views)",
    )
    parser.add_argument(
        "--noisy", action="store_true", help="read the Laplace-noised views (for sharing)"
    )
    parser.add_argument("--control", default=None, help="control variant (default: the "
                        "experiment's first variant, CROSSREC_EXPERIMENT)")  # fmt: skip
    parser.add_argument("--confidence", type=float, default=0.95, help="interval level (0.95)")
    parser.add_argument(
        "--bucket-s", type=int, default=300, help="chart time bucket in seconds (300)"
    )


def source_for(args: argparse.Namespace) -> Source:
    if args.noisy:
        return "noisy"
    return "exact" if args.role == "writer" else "safe"


def default_control(settings: Settings) -> str | None:
    try:
        return Experiment.parse(settings.experiment).control
    except SettingsError:
        return None


def run(
    args: argparse.Namespace,
    settings: Settings,
    out: TextIO | None = None,
    client: Any = None,
) -> int:
    """Print the report; ``client`` (a sync clickhouse-connect client) is for tests."""
    stream = sys.stdout if out is None else out
    if not 0 < args.confidence < 1:
        print("--confidence must be between 0 and 1", file=sys.stderr)
        return 2
    own = client is None
    if own:
        try:
            client = connect(settings, args.role)
        except Exception as exc:
            print(f"cannot connect to ClickHouse at {settings.clickhouse_url}: {exc}",
                  file=sys.stderr)  # fmt: skip
            return 1
    try:
        source = source_for(args)
        database = settings.clickhouse_database
        report = build_report(
            queries.ab_results(client, database, source),
            queries.funnel(client, database, source),
            args.control or default_control(settings),
            args.confidence,
            source,
        )
        if args.chart is not None:
            points = queries.timeline(client, database, source, args.bucket_s)
            args.chart.write_text(chart.render_html(points))
    except Exception as exc:
        print(f"report failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if own:
            client.close()
    render = {"table": render_table, "csv": render_csv, "json": render_json}[args.format]
    stream.write(render(report))
    return 0


def connect(settings: Settings, role: str) -> Any:
    """A sync clickhouse-connect client as the analyst or the writer."""
    import clickhouse_connect

    if role == "writer":
        user, password = settings.clickhouse_user, settings.clickhouse_password
    else:
        user, password = settings.analyst_user, settings.analyst_password
    return clickhouse_connect.get_client(
        dsn=settings.clickhouse_url, username=user, password=password, connect_timeout=5
    )
