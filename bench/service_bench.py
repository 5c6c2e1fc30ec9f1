"""The learner's whole cost per event, as the worker pays it (a script, not a test).

Why: the worker's learn + recommend agent calls ``RecommendationService.handle(event)`` for
every validated event on one event loop, so the mean time of that call caps the events/s one
worker can learn from, whatever Kafka and Faust do. ``bench/models_bench.py`` times models
alone; this times the service on the ``crossrec bench`` event mix: recommending when an
event triggers a list, the label join and CTR learning from impressions, learning in every
variant's model, catalogue upserts, consent and forget.

How: the service is built as the worker builds it (:func:`streams.model_factory.build_service`
with :meth:`Settings.from_env`); the events are the simulator's workload of ``crossrec bench``
(:func:`streams.bench.workload.build_workload`) passed through the ingestion step
(:class:`streams.ingest.Ingestor`: validate, de-duplicate, pseudonymise) and decoded from the
bytes ``events.valid`` would carry, exactly what the agent hands to ``handle``. The catalogue
upserts come first, then ``--warmup`` traffic events, all handled but not timed; then
``--events`` traffic events are timed one ``handle`` call each. As in the worker, surviving
objects are frozen out of the garbage collector after the set-up and every
``CROSSREC_GC_FREEZE_EVERY_S`` (outside the timed calls).

Each timed call's seconds are split into buckets that add up to the call:

- ``recommend``: the service's own ``last_timings`` recommend share (None: nothing served);
- ``learn``: its ``last_timings`` learn share (label join + model learning), plus the whole
  call for an impression (the label join and CTR learning are all it does);
- ``catalogue``: the whole call for an item upsert (every variant's model indexes the item);
- ``other``: the rest — consent, forget, the dedupe check and prequential hit-rate scoring
  outside the two timed regions.

Each call's thread CPU time is recorded too: on a shared 2-core machine the wall-clock mean
includes time this process waited for a core, the CPU mean does not.

Usage: ``python bench/service_bench.py [--items 10000] [--users 20000] [--events 50000]
[--seed 0] [--warmup 10000]``. Prints a table to stderr and one JSON line to stdout.
"""

from __future__ import annotations

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before numpy: threaded BLAS is 3-6x slower here

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import numpy as np

from schemas import Event, Impression, ItemUpsert, decode_event
from simulator.payload import Emitted
from streams.bench.machine import machine_info
from streams.bench.workload import build_workload
from streams.dedupe import RecentIds
from streams.ingest import Accepted, Ingestor
from streams.model_factory import build_service
from streams.recommend_service import RecommendationService
from streams.settings import Settings

BUCKETS = ("recommend", "learn", "catalogue", "other")


@dataclass(frozen=True)
class Stream:
    """Decoded ``events.valid`` events: catalogue upserts, then traffic in order."""

    catalogue: list[Event]
    traffic: list[Event]
    rejected: int
    """Messages the ingestion step refused (duplicates, invalid): never reach the learner."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One timed ``handle`` call: its event type, whether it served, and its seconds by
    bucket (``recommend + learn + catalogue + other`` is the whole call)."""

    event_type: str
    served: bool
    recommend: float
    learn: float
    catalogue: float
    other: float
    cpu: float = 0.0
    """This thread's CPU seconds in the call: close to the wall time on an idle machine, and
    the steadier figure when other processes share the cores."""
    variant: str | None = None
    """The A/B variant whose model served the list (None: nothing served)."""

    @property
    def total(self) -> float:
        return self.recommend + self.learn + self.catalogue + self.other


def valid_events(messages: Iterable[Emitted], ingestor: Ingestor) -> tuple[list[Event], int]:
    """What the learner's agent decodes from ``events.valid`` for these raw messages.

    Returns the events in order and how many messages ingestion rejected.
    """
    events: list[Event] = []
    rejected = 0
    for message in messages:
        outcome = ingestor.process(message.payload, now=time.time())
        if isinstance(outcome, Accepted):
            events.append(decode_event(outcome.value).event)
        else:
            rejected += 1
    return events, rejected


def prepare_stream(items: int, users: int, events: int, seed: int, settings: Settings) -> Stream:
    """The ``crossrec bench`` workload (catalogue + ``events`` traffic messages), ingested and
    decoded as the worker would see it. The workload's end-of-run sentinel clicks are left
    out: they mark the end of a Kafka run and are not part of the event mix."""
    workload = build_workload(
        items=items, users=users, drain_events=events, paced_counts=[], seed=seed
    )
    ingestor = Ingestor(settings.pseudonym_key_bytes, RecentIds())
    catalogue, rejected_items = valid_events(workload.catalogue, ingestor)
    traffic, rejected_traffic = valid_events(workload.drain[:events], ingestor)
    return Stream(catalogue, traffic, rejected_items + rejected_traffic)


def timed_handle(service: RecommendationService, event: Event) -> Sample:
    """Handle one event and split the call's time into buckets (see the module docstring).

    The service replaces ``last_timings`` with a new tuple whenever it times a call, so an
    identity check tells whether this call set it.
    """
    before = service.last_timings
    cpu_started = time.thread_time()
    started = time.perf_counter()
    served = service.handle(event)
    total = time.perf_counter() - started
    cpu = time.thread_time() - cpu_started
    after = service.last_timings
    recommend = learn = catalogue = other = 0.0
    if after is not before:
        recommend = after[0] or 0.0
        learn = after[1]
        other = max(0.0, total - recommend - learn)
    elif isinstance(event, Impression):
        learn = total
    elif isinstance(event, ItemUpsert):
        catalogue = total
    else:
        other = total
    variant = served[0].recommendation.variant if served else None
    return Sample(event.EVENT_TYPE, bool(served), recommend, learn, catalogue, other, cpu, variant)


def run(
    service: RecommendationService,
    stream: Stream,
    warmup: int,
    freeze_every_s: float = 10.0,
    freeze: Callable[[], None] = gc.freeze,
) -> list[Sample]:
    """Catalogue and ``warmup`` traffic events untimed, then one :class:`Sample` per event.

    ``freeze`` runs after the set-up and then every ``freeze_every_s`` seconds between
    calls, as the worker's GC policy does (0: never after the set-up).
    """
    for event in stream.catalogue:
        service.handle(event)
    for event in stream.traffic[:warmup]:
        service.handle(event)
    gc.collect()
    freeze()
    last_freeze = time.monotonic()
    samples = []
    for event in stream.traffic[warmup:]:
        samples.append(timed_handle(service, event))
        if freeze_every_s > 0 and time.monotonic() - last_freeze >= freeze_every_s:
            freeze()
            last_freeze = time.monotonic()
    return samples


def _us(seconds: Sequence[float], q: float) -> float:
    return round(float(np.percentile(seconds, q)) * 1e6, 1) if seconds else 0.0


def summarise(samples: Sequence[Sample]) -> dict[str, Any]:
    """Mean, ceiling, percentiles per event type, served share and the time split.

    >>> s = summarise([Sample("click", True, 1e-4, 2e-4, 0.0, 0.0),
    ...                Sample("item", False, 0.0, 0.0, 1e-4, 0.0)])
    >>> s["events"], s["mean_us"], s["ceiling_events_per_s"], s["served_share"]
    (2, 200.0, 5000.0, 0.5)
    >>> s["split_share"]
    {'recommend': 0.25, 'learn': 0.5, 'catalogue': 0.25, 'other': 0.0}
    """
    totals = [s.total for s in samples]
    total_s = float(sum(totals))
    n = len(samples)
    mean_us = total_s / n * 1e6 if n else 0.0
    cpu_mean_us = sum(s.cpu for s in samples) / n * 1e6 if n else 0.0
    split = {b: float(sum(getattr(s, b) for s in samples)) for b in BUCKETS}
    by_type: dict[str, dict[str, Any]] = {}
    for kind in sorted({s.event_type for s in samples}):
        rows = [s for s in samples if s.event_type == kind]
        seconds = [s.total for s in rows]
        kind_s = float(sum(seconds))
        by_type[kind] = {
            "count": len(rows),
            "share_of_events": round(len(rows) / n, 4),
            "served": sum(s.served for s in rows),
            "mean_us": round(kind_s / len(rows) * 1e6, 1),
            "cpu_mean_us": round(sum(s.cpu for s in rows) / len(rows) * 1e6, 1),
            "p50_us": _us(seconds, 50),
            "p99_us": _us(seconds, 99),
            "max_us": round(max(seconds) * 1e6, 1),
            "share_of_time": round(kind_s / total_s, 4) if total_s else 0.0,
            "split_s": {b: round(sum(getattr(s, b) for s in rows), 6) for b in BUCKETS},
        }
    served = [s for s in samples if s.served]
    quarters = [q for q in np.array_split(np.asarray(totals), 4) if q.size] if n else []
    return {
        "events": n,
        "total_s": round(total_s, 6),
        "mean_us": round(mean_us, 1),
        "ceiling_events_per_s": round(1e6 / mean_us, 1) if mean_us else None,
        "cpu_mean_us": round(cpu_mean_us, 1),
        "cpu_ceiling_events_per_s": round(1e6 / cpu_mean_us, 1) if cpu_mean_us else None,
        "p50_us": _us(totals, 50),
        "p99_us": _us(totals, 99),
        "max_us": round(max(totals) * 1e6, 1) if totals else 0.0,
        "served": len(served),
        "served_share": round(len(served) / n, 4) if n else 0.0,
        "recommend_p50_us": _us([s.recommend for s in served], 50),
        "recommend_p99_us": _us([s.recommend for s in served], 99),
        "split_s": {b: round(v, 6) for b, v in split.items()},
        "split_share": {b: round(v / total_s, 4) if total_s else 0.0 for b, v in split.items()},
        "recommend_by_variant": {
            v: {
                "served": len(rows),
                "mean_us": round(sum(rows) / len(rows) * 1e6, 1),
                "p50_us": _us(rows, 50),
                "p99_us": _us(rows, 99),
            }
            for v in sorted({s.variant for s in served if s.variant is not None})
            for rows in [[s.recommend for s in served if s.variant == v]]
        },
        "mean_us_by_quarter": [round(float(q.mean()) * 1e6, 1) for q in quarters],
        "by_type": by_type,
    }


STATE = ("served", "last_list", "bought", "labels")
"""The service's own state outside the models: per list served, per user, per open label."""


def deep_size(obj: object, shared: set[int]) -> int:
    """Bytes of ``obj`` and everything it reaches, each object once; objects whose id is in
    ``shared`` (the catalogue's ids and items: the models hold them anyway) count 0.

    >>> deep_size((1.5, "ab"), set()) > deep_size((), set())
    True
    """
    seen, stack, total = set(shared), [obj], 0
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        total += sys.getsizeof(o)
        if isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, list | tuple | set | frozenset):
            stack.extend(o)
        elif hasattr(o, "__dict__"):
            stack.append(vars(o))
        for klass in type(o).__mro__:
            for name in getattr(klass, "__slots__", ()):
                if hasattr(o, name):
                    stack.append(getattr(o, name))
    return total


def state_sizes(service: RecommendationService) -> dict[str, dict[str, int]]:
    """Entries and bytes of each :data:`STATE` structure (alone: a user id two of them hold
    counts in both) and bytes per entry; for the label join, entries are open slots."""
    shared = {id(k) for k in service.catalogue} | {id(v) for v in service.catalogue.values()}
    sizes = {}
    for name in STATE:
        obj = getattr(service, name)
        entries, size = len(obj), deep_size(obj, shared)
        sizes[name] = {
            "entries": entries,
            "bytes": size,
            "bytes_per_entry": round(size / entries) if entries else 0,
        }
    return sizes


def environment() -> dict[str, Any]:
    """The machine and library versions: figures without them are not comparable."""
    return {
        **machine_info(),
        "numpy": np.__version__,
        "river": version("river"),
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
    }


def bench(
    items: int, users: int, events: int, seed: int, warmup: int, settings: Settings
) -> dict[str, Any]:
    """Build the stream and the worker's service, run, and summarise (with the set-up)."""
    started = time.perf_counter()
    stream = prepare_stream(items, users, warmup + events, seed, settings)
    service = build_service(settings)
    samples = run(service, stream, warmup, freeze_every_s=settings.gc_freeze_every_s)
    report = summarise(samples)
    report["state"] = state_sizes(service)
    report["config"] = {
        "items": items,
        "users": users,
        "warmup": warmup,
        "seed": seed,
        "catalogue_events": len(stream.catalogue),
        "warmup_events": min(warmup, len(stream.traffic)),
        "rejected_by_ingest": stream.rejected,
        "experiment": settings.experiment,
        "recommend_on": settings.recommend_on,
        "k": settings.recommend_k,
        "debounce_s": settings.debounce_s,
        "gc_freeze_every_s": settings.gc_freeze_every_s,
        "wall_s": round(time.perf_counter() - started, 1),
    }
    report["machine"] = environment()
    return report


def render(report: dict[str, Any]) -> str:
    """The human table for stderr."""
    cfg, m = report["config"], report["machine"]
    lines = [
        f"{report['events']:,} events timed after {cfg['catalogue_events']:,} items + "
        f"{cfg['warmup_events']:,} warm-up; {cfg['experiment']}",
        f"mean {report['mean_us']:.1f} µs/event -> ceiling {report['ceiling_events_per_s']} "
        f"events/s; p50 {report['p50_us']:.1f} p99 {report['p99_us']:.1f} "
        f"max {report['max_us']:.1f} µs",
        f"CPU {report['cpu_mean_us']:.1f} µs/event -> ceiling "
        f"{report['cpu_ceiling_events_per_s']} events/s (thread CPU time: less CPU noise)",
        f"served {report['served']:,} ({report['served_share']:.1%}); recommend p50 "
        f"{report['recommend_p50_us']:.1f} p99 {report['recommend_p99_us']:.1f} µs",
        "time split: " + ", ".join(f"{b} {report['split_share'][b]:.1%}" for b in BUCKETS),
        "recommend by variant: "
        + ", ".join(
            f"{v} {r['served']:,} lists mean {r['mean_us']:.1f} p99 {r['p99_us']:.1f} µs"
            for v, r in report["recommend_by_variant"].items()
        ),
        "mean µs by quarter of the run: "
        + " ".join(f"{q:.1f}" for q in report["mean_us_by_quarter"]),
        f"{'type':>16} {'count':>7} {'served':>7} {'mean':>8} {'p50':>8} {'p99':>8} "
        f"{'max':>9} {'cpu':>8} {'time':>6}  (µs)",
    ]
    lines.append(
        "service state: "
        + ", ".join(
            f"{name} {row['entries']:,} x {row['bytes_per_entry']:,} B"
            for name, row in report["state"].items()
        )
    )
    for kind, row in report["by_type"].items():
        lines.append(
            f"{kind:>16} {row['count']:>7} {row['served']:>7} {row['mean_us']:>8.1f} "
            f"{row['p50_us']:>8.1f} {row['p99_us']:>8.1f} {row['max_us']:>9.1f} "
            f"{row['cpu_mean_us']:>8.1f} "
            f"{row['share_of_time']:>6.1%}"
        )
    lines.append(
        f"machine: {m['cpu_count']} cores, {m['cpu_model']}, python {m['python']}, "
        f"numpy {m['numpy']}, river {m['river']}, load at start {m['load_average_at_start']}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=50_000, help="timed traffic events")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warmup", type=int, default=10_000, help="untimed traffic events")
    args = parser.parse_args(argv)
    report = bench(args.items, args.users, args.events, args.seed, args.warmup, Settings.from_env())
    print(render(report), file=sys.stderr)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
