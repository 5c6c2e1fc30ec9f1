"""``crossrec bench``: throughput and latency of the real worker, next to a bare Kafka loop
and a one-agent Faust forwarder (the "Faust floor").

The lead's CLI calls :func:`configure_parser` on the ``bench`` sub-parser and :func:`run`.
Progress goes to stderr, a table to stdout, and the LAST stdout line is one JSON object with
every figure and the machine, so scripts can ``tail -n 1``. Report version 2 added
``faust_floor`` (same shape as ``bare``, ``null`` with ``--no-faust-floor``), the
``*_vs_faust_floor`` ratios and the summary's ``faust_floor``. Report version 3 adds
``--workers``: one crossrec run per catalogue size *and* worker count, each run with
``n_workers`` and ``workers`` (one ``{stopped_cleanly, log, log_problems[, log_tail]}`` per
worker process; ``worker`` stays, as the only worker, on one-worker runs), ``n_workers`` and
``max_rate_vs_one_worker`` in every ``ratios`` entry, and ``n_workers``, ``pipeline`` (the
table's label, e.g. ``crossrec 10,000 items (2 workers)``) and ``max_rate_vs_one_worker`` in
every ``summary.crossrec`` entry.

Without ``--bootstrap``/``--clickhouse-url`` the benchmark starts its own Kafka and ClickHouse
on free ports in a temporary directory and stops them at the end, also on Ctrl-C or error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streams.bench.kafka_probe import BenchError
from streams.bench.machine import machine_info
from streams.bench.report import notes_for, ratios, render_table, summary
from streams.bench.runner import Bench, BenchConfig
from streams.bench.services import bench_services
from streams.local.process import ServiceError, stop_on_sigterm
from streams.settings import Settings

REPORT_VERSION = 3

FULL: dict[str, Any] = {
    "items": "10000,100000",
    "users": 20_000,
    "events": 50_000,
    "rates": "1000,2000",
    "duration": 30.0,
    "workers": "1",
}
QUICK: dict[str, Any] = {
    "items": "300",
    "users": 300,
    "events": 1_000,
    "rates": "100,200",
    "duration": 2.0,
    "workers": "1",
}


def _numbers(text: str, kind: type[int] | type[float]) -> list[Any]:
    """``"10000,100000"`` → ``[10000, 100000]``; positive numbers only.

    >>> _numbers("10000, 100000", int)
    [10000, 100000]
    """
    try:
        values = [kind(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from exc
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive numbers, got {text!r}")
    return values


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``bench`` options to ``parser``."""
    parser.add_argument(
        "--items", default=None, help=f"catalogue sizes, comma separated ({FULL['items']})"
    )
    parser.add_argument("--users", type=int, default=None, help=f"users ({FULL['users']})")
    parser.add_argument(
        "--events",
        type=int,
        default=None,
        help=f"events in the max-rate batch, after the catalogue ({FULL['events']})",
    )
    parser.add_argument(
        "--rates", default=None, help=f"fixed rates for latency, events/s ({FULL['rates']})"
    )
    parser.add_argument(
        "--duration", type=float, default=None, help=f"seconds per fixed rate ({FULL['duration']})"
    )
    parser.add_argument(
        "--workers",
        default=None,
        help="worker processes per crossrec run, comma separated: one run per count and "
        f"catalogue size, the workers of a run in one consumer group ({FULL['workers']})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"small and short: items {QUICK['items']}, {QUICK['events']} events, rates "
        f"{QUICK['rates']} for {QUICK['duration']:g} s (explicit options still win)",
    )
    parser.add_argument(
        "--partitions",
        type=int,
        default=None,
        help="partitions per topic (CROSSREC_TOPIC_PARTITIONS)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=300.0,
        help="seconds to wait after producing for the pipeline to catch up (300)",
    )
    parser.add_argument("--seed", type=int, default=0, help="simulator seed (0)")
    parser.add_argument("--bootstrap", default=None, help="use this Kafka instead of our own")
    parser.add_argument(
        "--clickhouse-url", default=None, help="use this ClickHouse instead of our own"
    )
    parser.add_argument(
        "--workdir", default=None, help="keep logs and local server data here (default: a temp dir)"
    )
    parser.add_argument("--output", metavar="FILE.json", help="also write the JSON report here")
    parser.add_argument(
        "--worker-loglevel",
        default="warning",
        help="log level of the worker and the Faust floor (warning)",
    )
    parser.add_argument(
        "--no-faust-floor",
        dest="faust_floor",
        action="store_false",
        help="skip the Faust floor (a one-agent Faust forwarder with the worker's settings)",
    )


def _config(args: argparse.Namespace, settings: Settings) -> BenchConfig:
    profile = QUICK if args.quick else FULL

    def pick(name: str) -> Any:
        value = getattr(args, name)
        return profile[name] if value is None else value

    partitions = args.partitions or settings.topic_partitions
    workers = _numbers(str(pick("workers")), int)
    if max(workers) > partitions:
        raise argparse.ArgumentTypeError(
            f"{max(workers)} workers but {partitions} partitions per topic: workers beyond the "
            "partition count get nothing to do (raise --partitions)"
        )
    return BenchConfig(
        items=_numbers(str(pick("items")), int),
        users=int(pick("users")),
        drain_events=int(pick("events")),
        rates=_numbers(str(pick("rates")), float),
        duration_s=float(pick("duration")),
        partitions=partitions,
        workers=tuple(workers),
        drain_timeout=args.drain_timeout,
        seed=args.seed,
        worker_loglevel=args.worker_loglevel,
        faust_floor=args.faust_floor,
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the benchmark; return a process exit code (0 only when every phase ran)."""
    try:
        config = _config(args, settings)
    except argparse.ArgumentTypeError as exc:
        print(f"crossrec bench: {exc}", file=sys.stderr)
        return 2
    began = time.monotonic()
    stop_on_sigterm()

    def progress(message: str) -> None:
        print(f"[bench {time.monotonic() - began:6.1f}s] {message}", file=sys.stderr, flush=True)

    keep = args.workdir is not None
    workdir = Path(args.workdir) if keep else Path(tempfile.mkdtemp(prefix="crossrec-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "bench": "crossrec",
        "report_version": REPORT_VERSION,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "config": {**config.__dict__, "quick": args.quick},
    }
    exit_code = 0
    bench: Bench | None = None
    try:
        with bench_services(args.bootstrap, args.clickhouse_url, workdir, progress) as endpoints:
            report["services"] = {
                "bootstrap": endpoints.bootstrap,
                "clickhouse_url": endpoints.clickhouse_url,
                "own_kafka": endpoints.own_kafka,
                "own_clickhouse": endpoints.own_clickhouse,
            }
            bench = Bench(config, settings, endpoints, workdir, progress)
            try:
                report.update(asyncio.run(bench.run()))
            finally:
                bench.stop_children()
    except KeyboardInterrupt:
        progress("interrupted: worker and servers stopped")
        keep = True
        if bench is None or bench.bare is None:
            return 130
        # what finished
        report.update(bare=bench.bare, faust_floor=bench.faust_floor, runs=bench.runs)
        report["interrupted"] = True
        exit_code = 130
    except (ServiceError, BenchError) as exc:
        progress(f"failed: {exc}")
        keep = True
        return 1
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            progress(f"logs kept in {workdir}")
    report["elapsed_s"] = round(time.monotonic() - began, 1)
    report["ratios"] = ratios(report.get("bare"), report["runs"], report.get("faust_floor"))
    report["notes"] = notes_for(report)
    report["summary"] = summary(report)
    pipelines = [report.get("bare"), report.get("faust_floor"), *report["runs"]]
    failed = [r for r in pipelines if r and r.get("error")]
    if failed and exit_code == 0:
        exit_code = 1
    print(render_table(report))
    line = json.dumps(report, separators=(",", ":"), default=str)
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(line, flush=True)
    return exit_code
