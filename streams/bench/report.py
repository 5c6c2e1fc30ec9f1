"""Turn the raw results into the JSON document and the table people read.

The JSON holds every figure; the table picks the headline ones. Ratios are ours / reference,
against two references: the bare aiokafka loop (the machine and broker's ceiling) and the Faust
floor (a one-agent Faust forwarder with the worker's settings: Faust's own cost). For
throughput, the share of the reference's rate crossrec reaches (higher is better); for
latency, how many times the reference's latency crossrec takes (lower is better).
"""

from __future__ import annotations

from typing import Any

from streams.bench.stats import ratio


def _headline(fixed: dict[str, Any], pct: str) -> float | None:
    head = fixed["latency_ms"]["headline"]
    return None if not head else head.get(pct)


def _max_rate(run: dict[str, Any] | None) -> float | None:
    return ((run or {}).get("max_rate") or {}).get("events_per_s")


def _latency_ratios(run: dict[str, Any], ref: dict[str, Any] | None) -> list[dict[str, Any]]:
    """run/ref p50 and p99 at each fixed rate ``run`` measured (``None`` where ``ref`` did not)."""
    ref_fixed = {f["target_rate"]: f for f in (ref or {}).get("fixed", [])}
    out = []
    for f in run.get("fixed", []):
        r = ref_fixed.get(f["target_rate"])
        out.append(
            {
                "rate": f["target_rate"],
                "p50": ratio(_headline(f, "p50"), r and _headline(r, "p50")),
                "p99": ratio(_headline(f, "p99"), r and _headline(r, "p99")),
            }
        )
    return out


def ratios(
    bare: dict[str, Any] | None,
    runs: list[dict[str, Any]],
    faust_floor: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Per catalogue size: ours/bare and ours/faust floor, for max rate and p50/p99 latency.

    ``max_rate`` and ``latency`` are against the bare loop (as in report version 1);
    ``max_rate_vs_faust_floor`` and ``latency_vs_faust_floor`` against the Faust floor, and
    ``None`` when it was not measured (``--no-faust-floor``).
    """
    return [
        {
            "items": run["items"],
            "max_rate": ratio(_max_rate(run), _max_rate(bare)),
            "latency": _latency_ratios(run, bare),
            "max_rate_vs_faust_floor": ratio(_max_rate(run), _max_rate(faust_floor)),
            "latency_vs_faust_floor": _latency_ratios(run, faust_floor),
        }
        for run in runs
    ]


def _num(value: Any, fmt: str = ",.0f") -> str:
    return "-" if value is None else format(value, fmt)


def _rows(report: dict[str, Any]) -> list[tuple[str, dict[str, Any], str, str]]:
    """``(name, figures, max rate vs bare, max rate vs faust floor)`` per pipeline, in order."""
    bare = report.get("bare") or {}
    floor = report.get("faust_floor")
    rows = [("bare loop", bare, "1.000", "-")]
    if floor is not None:
        rows.append(("faust floor", floor, _num(faust_floor_vs_bare(report), ".3f"), "1.000"))
    for run, r in zip(report["runs"], report["ratios"], strict=True):
        rows.append(
            (
                f"crossrec {run['items']:,} items",
                run,
                _num(r["max_rate"], ".3f"),
                _num(r["max_rate_vs_faust_floor"], ".3f"),
            )
        )
    return rows


def faust_floor_vs_bare(report: dict[str, Any]) -> float | None:
    """The Faust floor's max rate over the bare loop's: the share Faust itself leaves."""
    return ratio(_max_rate(report.get("faust_floor")), _max_rate(report.get("bare")))


def render_table(report: dict[str, Any]) -> str:
    """A plain-text table of the headline figures."""
    m = report["machine"]
    rows = _rows(report)
    lines = [
        f"crossrec bench — {m['cpu_count']} CPUs ({m['cpu_model']}), "
        f"{_num(m['memory_mib'])} MiB, Python {m['python']}, load at start "
        f"{m['load_average_at_start']}",
        "",
        "Max sustained rate (events processed per second, first → last output)",
        f"  {'pipeline':<22}{'events':>9}{'ev/s':>10}{'ev/s lag0':>11}{'vs bare':>9}"
        f"{'vs faust':>10}{'recs':>8}{'dlq':>6}",
    ]
    for name, run, vs_bare, vs_floor in rows:
        mx = run.get("max_rate") or {}
        outputs = mx.get("outputs", {})
        ours = "items" in run
        lines.append(
            f"  {name:<22}{_num(mx.get('processed')):>9}{_num(mx.get('events_per_s')):>10}"
            f"{_num(mx.get('events_per_s_until_lag_zero')):>11}{vs_bare:>9}{vs_floor:>10}"
            f"{_num(outputs.get('recommendations')) if ours else '':>8}"
            f"{_num(outputs.get('dlq')) if ours else '':>6}"
        )
    lines += [
        "",
        "Latency at fixed rates (ms, produce → receipt by a separate consumer)",
        f"  {'pipeline':<22}{'rate':>7}{'achieved':>10}{'stage':>17}{'n':>8}"
        f"{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}  drained",
    ]
    for name, run, _, _ in rows:
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
    for name, run, _, _ in rows:
        if run.get("error"):
            lines.append(f"\n{name}: ERROR {run['error']}")
    notes = report.get("notes") or []
    if notes:
        lines.append("")
        lines += [f"note: {n}" for n in notes]
    return "\n".join(lines)


def _undrained(who: str, fixed: list[dict[str, Any]]) -> list[str]:
    return [
        f"{who} at {f['target_rate']:,.0f} ev/s: not drained within the timeout (backlog "
        f"{f['backlog_at_timeout']:,}); latency covers only what was processed, so it is "
        "biased low."
        for f in fixed
        if not f["drained"]
    ]


def notes_for(report: dict[str, Any]) -> list[str]:
    """Plain-language caveats the figures need, derived from what was observed."""
    notes = []
    forwarders = [("bare loop", report.get("bare")), ("faust floor", report.get("faust_floor"))]
    for who, figures in forwarders:
        if figures is None:
            continue
        # Not their log lines: a forwarder's only warnings are the broker's transient start-up
        # retries (group coordinator not yet available); a real failure ends in ``error``.
        notes += _undrained(who, figures.get("fixed", []))
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
        notes += _undrained(f"{run['items']:,} items", run.get("fixed", []))
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


def _brief(figures: dict[str, Any]) -> dict[str, Any]:
    return {
        "max_events_per_s": _max_rate(figures),
        "latency_ms": _latency_brief(figures.get("fixed", [])),
    }


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The headline figures only: max rate and latency percentiles per pipeline.

    ``faust_floor`` is ``None`` when it was not measured (``--no-faust-floor``).
    """
    floor = report.get("faust_floor")
    return {
        "bare": _brief(report.get("bare") or {}),
        "faust_floor": None
        if floor is None
        else {
            **_brief(floor),
            "max_rate_vs_bare": faust_floor_vs_bare(report),
            "error": floor.get("error"),
        },
        "crossrec": [
            {
                "items": run["items"],
                "measured_output": run.get("measured_output"),
                **_brief(run),
                "max_rate_vs_bare": r["max_rate"],
                "max_rate_vs_faust_floor": r["max_rate_vs_faust_floor"],
                "error": run.get("error"),
            }
            for run, r in zip(report["runs"], report["ratios"], strict=True)
        ],
    }
