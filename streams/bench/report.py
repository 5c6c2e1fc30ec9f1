"""Turn the raw results into the JSON document and the table people read.

The JSON holds every figure; the table picks the headline ones. Ratios are ours / reference,
against two references: the bare aiokafka loop (the machine and broker's ceiling) and the Faust
floor (a one-agent Faust forwarder with the worker's settings: Faust's own cost). For
throughput, the share of the reference's rate crossrec reaches (higher is better); for
latency, how many times the reference's latency crossrec takes (lower is better).

A crossrec run is one catalogue size with one worker count (``n_workers`` processes in one
consumer group); with several counts per size, each run also gets its max rate over the
one-worker run's of the same size (``max_rate_vs_one_worker``: the speed-up more workers buy).

>>> pipeline_label(10_000, 1), pipeline_label(10_000, 2)
('crossrec 10,000 items', 'crossrec 10,000 items (2 workers)')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.bench.stats import ratio


def _headline(fixed: dict[str, Any], pct: str) -> float | None:
    head = fixed["latency_ms"]["headline"]
    return None if not head else head.get(pct)


def _max_rate(run: dict[str, Any] | None) -> float | None:
    return ((run or {}).get("max_rate") or {}).get("events_per_s")


def pipeline_label(items: int, n_workers: int) -> str:
    """How the table and the notes name a crossrec run."""
    label = f"crossrec {items:,} items"
    return label if n_workers == 1 else f"{label} ({n_workers} workers)"


def n_workers(run: dict[str, Any]) -> int:
    """Worker processes of a run (report version 2 runs had one)."""
    return int(run.get("n_workers", 1))


def run_label(run: dict[str, Any]) -> str:
    return pipeline_label(run["items"], n_workers(run))


def worker_reports(run: dict[str, Any]) -> list[dict[str, Any]]:
    """Each worker's ``stopped_cleanly``, ``log``, ``log_problems`` (version 2: ``worker``)."""
    if "workers" in run:
        return list(run["workers"])
    return [run["worker"]] if "worker" in run else []


def _one_worker_rate(runs: list[dict[str, Any]], items: int) -> float | None:
    for run in runs:
        if run["items"] == items and n_workers(run) == 1:
            return _max_rate(run)
    return None


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
    """Per crossrec run: ours/bare and ours/faust floor, for max rate and p50/p99 latency.

    ``max_rate`` and ``latency`` are against the bare loop (as in report version 1);
    ``max_rate_vs_faust_floor`` and ``latency_vs_faust_floor`` against the Faust floor, and
    ``None`` when it was not measured (``--no-faust-floor``). ``max_rate_vs_one_worker`` is
    the run's max rate over the one-worker run's of the same catalogue size (``None`` without
    one); entries are in the order of ``runs``, and ``items`` with ``n_workers`` name the run.
    """
    return [
        {
            "items": run["items"],
            "n_workers": n_workers(run),
            "max_rate": ratio(_max_rate(run), _max_rate(bare)),
            "latency": _latency_ratios(run, bare),
            "max_rate_vs_faust_floor": ratio(_max_rate(run), _max_rate(faust_floor)),
            "latency_vs_faust_floor": _latency_ratios(run, faust_floor),
            "max_rate_vs_one_worker": ratio(_max_rate(run), _one_worker_rate(runs, run["items"])),
        }
        for run in runs
    ]


def _num(value: Any, fmt: str = ",.0f") -> str:
    return "-" if value is None else format(value, fmt)


@dataclass(frozen=True)
class _Row:
    """A pipeline as the table shows it: its name, figures and max-rate ratios, formatted."""

    name: str
    figures: dict[str, Any]
    vs_bare: str
    vs_floor: str
    vs_one_worker: str = "-"


def _rows(report: dict[str, Any]) -> list[_Row]:
    """One row per pipeline, in order: bare loop, Faust floor, then each crossrec run."""
    bare = report.get("bare") or {}
    floor = report.get("faust_floor")
    rows = [_Row("bare loop", bare, "1.000", "-")]
    if floor is not None:
        rows.append(_Row("faust floor", floor, _num(faust_floor_vs_bare(report), ".3f"), "1.000"))
    for run, r in zip(report["runs"], report["ratios"], strict=True):
        rows.append(
            _Row(
                run_label(run),
                run,
                _num(r["max_rate"], ".3f"),
                _num(r["max_rate_vs_faust_floor"], ".3f"),
                _num(r.get("max_rate_vs_one_worker"), ".3f"),
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
    w = max(22, *(len(row.name) + 1 for row in rows))  # the pipeline column
    lines = [
        f"crossrec bench — {m['cpu_count']} CPUs ({m['cpu_model']}), "
        f"{_num(m['memory_mib'])} MiB, Python {m['python']}, load at start "
        f"{m['load_average_at_start']}",
        "",
        "Max sustained rate (events processed per second, first → last output)",
        f"  {'pipeline':<{w}}{'events':>9}{'ev/s':>10}{'ev/s lag0':>11}{'vs bare':>9}"
        f"{'vs faust':>10}{'vs 1 wkr':>10}{'recs':>8}{'dlq':>6}",
    ]
    for row in rows:
        mx = row.figures.get("max_rate") or {}
        outputs = mx.get("outputs", {})
        ours = "items" in row.figures
        lines.append(
            f"  {row.name:<{w}}{_num(mx.get('processed')):>9}{_num(mx.get('events_per_s')):>10}"
            f"{_num(mx.get('events_per_s_until_lag_zero')):>11}{row.vs_bare:>9}"
            f"{row.vs_floor:>10}{row.vs_one_worker:>10}"
            f"{_num(outputs.get('recommendations')) if ours else '':>8}"
            f"{_num(outputs.get('dlq')) if ours else '':>6}"
        )
    lines += [
        "",
        "Latency at fixed rates (ms, produce → receipt by a separate consumer)",
        f"  {'pipeline':<{w}}{'rate':>7}{'achieved':>10}{'stage':>17}{'n':>8}"
        f"{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}  drained",
    ]
    for row in rows:
        for f in row.figures.get("fixed", []):
            lat = f["latency_ms"]
            head = lat["headline"] or {}
            lines.append(
                f"  {row.name:<{w}}{_num(f['target_rate']):>7}{_num(f['produce_rate']):>10}"
                f"{lat['measured_stage'] or '-':>17}{_num(head.get('count')):>8}"
                f"{_num(head.get('p50'), '.1f'):>9}{_num(head.get('p95'), '.1f'):>9}"
                f"{_num(head.get('p99'), '.1f'):>9}{_num(head.get('max'), '.1f'):>9}"
                f"  {f['drained']}"
            )
    for row in rows:
        if row.figures.get("error"):
            lines.append(f"\n{row.name}: ERROR {row.figures['error']}")
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
    cpus = (report.get("machine") or {}).get("cpu_count")
    for run in report["runs"]:
        who = run_label(run)
        if cpus and n_workers(run) >= cpus:
            notes.append(
                f"{who}: {n_workers(run)} workers on {cpus} CPUs share them with Kafka, "
                "ClickHouse and the benchmark itself, so this measures the machine as much as "
                "the scaling."
            )
        if run.get("measured_output") == "events.valid":
            notes.append(
                f"{who}: no recommendations were published, so "
                "throughput ends at the last events.valid message and latency is "
                "events.in → events.valid (ingestion only); the learn/recommend stage is "
                "covered only by the consumer-group lag on events.valid."
            )
        if (run.get("max_rate") or {}).get("outputs", {}).get("dlq"):
            notes.append(f"{who}: simulator events were dead-lettered.")
        notes += _undrained(who, run.get("fixed", []))
        notes += [
            f"{who}: a worker log has error lines: {worker['log']}"
            for worker in worker_reports(run)
            if worker.get("log_problems")
        ]
        notes += [
            f"{who}: a worker did not stop cleanly on SIGTERM: {worker['log']}"
            for worker in worker_reports(run)
            if worker.get("stopped_cleanly") is False
        ]
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

    ``crossrec`` has one entry per run (catalogue size × worker count), in run order.

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
                "n_workers": n_workers(run),
                "pipeline": run_label(run),
                "measured_output": run.get("measured_output"),
                **_brief(run),
                "max_rate_vs_bare": r["max_rate"],
                "max_rate_vs_faust_floor": r["max_rate_vs_faust_floor"],
                "max_rate_vs_one_worker": r["max_rate_vs_one_worker"],
                "error": run.get("error"),
            }
            for run, r in zip(report["runs"], report["ratios"], strict=True)
        ],
    }
