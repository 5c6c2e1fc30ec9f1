"""Turn the raw results into the JSON document and the table people read.

The JSON holds every figure; the table picks the headline ones. Ratios are ours / bare:
for throughput, the share of the bare Kafka ceiling crossrec reaches (higher is better); for
latency, how many times the bare loop's latency crossrec takes (lower is better).
"""

from __future__ import annotations

from typing import Any

from streams.bench.stats import ratio


def _headline(fixed: dict[str, Any], pct: str) -> float | None:
    head = fixed["latency_ms"]["headline"]
    return None if not head else head.get(pct)


def ratios(bare: dict[str, Any] | None, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ours/bare per catalogue size: max rate, and p50/p99 at each fixed rate both ran."""
    out: list[dict[str, Any]] = []
    bare_max = ((bare or {}).get("max_rate") or {}).get("events_per_s")
    bare_fixed = {f["target_rate"]: f for f in (bare or {}).get("fixed", [])}
    for run in runs:
        ours_max = (run.get("max_rate") or {}).get("events_per_s")
        entry: dict[str, Any] = {"items": run["items"], "max_rate": ratio(ours_max, bare_max)}
        fixed = []
        for f in run.get("fixed", []):
            b = bare_fixed.get(f["target_rate"])
            fixed.append(
                {
                    "rate": f["target_rate"],
                    "p50": ratio(_headline(f, "p50"), b and _headline(b, "p50")),
                    "p99": ratio(_headline(f, "p99"), b and _headline(b, "p99")),
                }
            )
        entry["latency"] = fixed
        out.append(entry)
    return out


def _num(value: Any, fmt: str = ",.0f") -> str:
    return "-" if value is None else format(value, fmt)


def render_table(report: dict[str, Any]) -> str:
    """A plain-text table of the headline figures."""
    m = report["machine"]
    lines = [
        f"crossrec bench — {m['cpu_count']} CPUs ({m['cpu_model']}), "
        f"{_num(m['memory_mib'])} MiB, Python {m['python']}, load at start "
        f"{m['load_average_at_start']}",
        "",
        "Max sustained rate (events processed per second, first → last output)",
        f"  {'pipeline':<22}{'events':>9}{'ev/s':>10}{'ev/s lag0':>11}{'vs bare':>9}"
        f"{'recs':>8}{'dlq':>6}",
    ]
    bare = report.get("bare") or {}
    rows = [("bare loop", bare, None)]
    rows += [(f"crossrec {r['items']:,} items", r, r["items"]) for r in report["runs"]]
    ratio_by_items = {r["items"]: r for r in report["ratios"]}
    for name, run, items in rows:
        mx = run.get("max_rate") or {}
        outputs = mx.get("outputs", {})
        vs = "1.000" if items is None else _num(ratio_by_items[items]["max_rate"], ".3f")
        lines.append(
            f"  {name:<22}{_num(mx.get('processed')):>9}{_num(mx.get('events_per_s')):>10}"
            f"{_num(mx.get('events_per_s_until_lag_zero')):>11}{vs:>9}"
            f"{_num(outputs.get('recommendations')) if items else '':>8}"
            f"{_num(outputs.get('dlq')) if items else '':>6}"
        )
    lines += [
        "",
        "Latency at fixed rates (ms, produce → receipt by a separate consumer)",
        f"  {'pipeline':<22}{'rate':>7}{'achieved':>10}{'stage':>17}{'n':>8}"
        f"{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}  drained",
    ]
    for name, run, _ in rows:
        for f in run.get("fixed", []):
            lat = f["latency_ms"]
            head = lat["headline"] or {}
            lines.append(
                f"  {name:<22}{_num(f['target_rate']):>7}{_num(f['produce_rate']):>10}"
                f"{lat['measured_stage'] or '-':>17}{_num(head.get('count')):>8}"
                f"{_num(head.get('p50'), '.1f'):>9}{_num(head.get('p95'), '.1f'):>9}"
                f"{_num(head.get('p99'), '.1f'):>9}{_num(head.get('max'), '.1f'):>9}"
                f"  {f['drained']}"
            )
    for name, run, _ in rows:
        if run.get("error"):
            lines.append(f"\n{name}: ERROR {run['error']}")
    notes = report.get("notes") or []
    if notes:
        lines.append("")
        lines += [f"note: {n}" for n in notes]
    return "\n".join(lines)


def notes_for(report: dict[str, Any]) -> list[str]:
    """Plain-language caveats the figures need, derived from what was observed."""
    notes = []
    for run in report["runs"]:
        if run.get("measured_output") == "events.valid":
            notes.append(
                f"{run['items']:,} items: the worker published no recommendations, so "
                "throughput ends at the last events.valid message and latency is "
                "events.in → events.valid (ingestion only); the learn/recommend stage is "
                "covered only by the consumer-group lag on events.valid."
            )
        if (run.get("max_rate") or {}).get("outputs", {}).get("dlq"):
            notes.append(f"{run['items']:,} items: the worker dead-lettered simulator events.")
        for f in run.get("fixed", []):
            if not f["drained"]:
                notes.append(
                    f"{run['items']:,} items at {f['target_rate']:,.0f} ev/s: not drained "
                    f"within the timeout (backlog {f['backlog_at_timeout']:,}); latency covers "
                    "only what was processed, so it is biased low."
                )
        if run.get("worker", {}).get("log_problems"):
            notes.append(
                f"{run['items']:,} items: the worker log has error lines: {run['worker']['log']}"
            )
    return notes


def _latency_brief(fixed: list[dict[str, Any]]) -> dict[str, Any]:
    brief = {}
    for f in fixed:
        head = f["latency_ms"]["headline"] or {}
        brief[f"{f['target_rate']:g}"] = {
            "stage": f["latency_ms"]["measured_stage"],
            "p50": head.get("p50"),
            "p95": head.get("p95"),
            "p99": head.get("p99"),
            "count": head.get("count", 0),
            "drained": f["drained"],
        }
    return brief


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The headline figures only: max rate and latency percentiles per pipeline."""
    bare = report.get("bare") or {}
    ratio_by_items = {r["items"]: r for r in report["ratios"]}
    return {
        "bare": {
            "max_events_per_s": (bare.get("max_rate") or {}).get("events_per_s"),
            "latency_ms": _latency_brief(bare.get("fixed", [])),
        },
        "crossrec": [
            {
                "items": run["items"],
                "measured_output": run.get("measured_output"),
                "max_events_per_s": (run.get("max_rate") or {}).get("events_per_s"),
                "max_rate_vs_bare": ratio_by_items[run["items"]]["max_rate"],
                "latency_ms": _latency_brief(run.get("fixed", [])),
                "error": run.get("error"),
            }
            for run in report["runs"]
        ],
    }
