"""Closed-loop evaluation against the simulator's ground truth: ``crossrec evaluate``.

The production learner (:func:`streams.model_factory.build_service`, exactly what the worker
runs) sees simulated traffic in time order. Whenever it serves a list, the simulated user
reacts to *that* list (:meth:`simulator.traffic.Traffic.respond`: an impression, clicks drawn
from the true click probabilities, maybe a purchase), and those reactions flow back into the
learner like any app's events would. Users are split between A/B variants by the same
hash as in production, each variant learning only from its own users, so the comparison is
one run, same traffic, no contamination:

- **ground-truth CTR**: the expected clicks of every served list under the simulator's true
  click model, divided by the items shown — free of sampling noise;
- **realised CTR**: clicks the simulated users actually made on served lists;
- **ground-truth recall @k**: of the k items each user was truly most likely to click at that
  moment (the simulator's oracle list, without what they bought: no list may show that,
  ``CROSSREC_NEVER_REOFFER``), the share the served list held — Recall@k against the truth
  rather than against logged behaviour;
- **the served p_click**: log loss, ROC AUC and calibration (mean p_click against the click
  rate) of each labelled impression's served click probability, as the worker reports them
  (:mod:`streams.online_metrics`);
- **hit rate @k**: prequential — when a user clicks, buys or orders in the background traffic,
  was that item in the last list served to them (computed before learning the event).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from schemas import Click, Event, decode_event, pseudonymise, with_user
from simulator.clock import parse_ts
from simulator.payload import encode, encode_all
from simulator.traffic import Traffic
from simulator.world import World
from streams.model_factory import build_service
from streams.online_metrics import VariantMetrics
from streams.settings import Settings

KEY = b"evaluation"


@dataclass
class VariantOutcome:
    lists: int = 0
    shown: int = 0
    expected_clicks: float = 0.0
    clicks: int = 0
    oracle_hits: int = 0
    k: int = 10

    def as_dict(self) -> dict[str, float]:
        shown = max(self.shown, 1)
        return {
            "lists": self.lists,
            "ground_truth_ctr": round(self.expected_clicks / shown, 5),
            "realised_ctr": round(self.clicks / shown, 5),
            f"ground_truth_recall@{self.k}": round(
                self.oracle_hits / max(self.lists * self.k, 1), 5
            ),
        }


LABEL_WINDOW_S = 120
"""The closed loop's label window (``CROSSREC_LABEL_WINDOW_S``; the worker's default is 30
minutes). The simulator's clicks follow their impression by 1 s + Exp(8 s), so 120 s closes
every label as clicked or not; a 30k-event run spans only ~31 simulated minutes, and with
the 30-minute window almost only the clicked labels closed (83 % of the labels the full
ranker learnt from were clicks), so its click models could not learn what is *not* clicked."""


def closed_loop(
    events: int,
    users: int,
    items: int,
    seed: int,
    experiment: str,
    progress: bool = False,
    never_reoffer: str | None = None,
) -> dict[str, Any]:
    """One run; ``never_reoffer``: ``CROSSREC_NEVER_REOFFER`` (None: its default)."""
    world = World(seed=seed, n_users=users, n_items=items)
    traffic = Traffic(world, seed=seed)
    env = {"CROSSREC_EXPERIMENT": experiment, "CROSSREC_LABEL_WINDOW_S": str(LABEL_WINDOW_S)}
    if never_reoffer is not None:
        env["CROSSREC_NEVER_REOFFER"] = never_reoffer
    settings = Settings.from_env(env)
    service = build_service(settings)
    raw_of: dict[str, str] = {}
    k = service.config.k
    outcome: dict[str, VariantOutcome] = defaultdict(lambda: VariantOutcome(k=k))

    def pseudonymous(payload: bytes) -> Event:
        event = decode_event(payload).event
        if event.user_id is None:
            return event
        pseudonym = pseudonymise(KEY, event.user_id)
        raw_of[pseudonym] = event.user_id
        return with_user(event, pseudonym)

    started = time.perf_counter()
    end_ts = _end_ts(world, seed, events)
    n = 0
    for n, emitted in enumerate(encode_all(_until(traffic, end_ts)), 1):
        for served in service.handle(pseudonymous(emitted.payload)):
            rec = served.recommendation
            shown = [i.item_id for i in rec.items]
            raw_user = raw_of[rec.user_id]
            stats = outcome[rec.variant]
            stats.lists += 1
            stats.shown += len(shown)
            boost = traffic.boost[world.user_index(raw_user)]  # interest after a purchase
            stats.expected_clicks += world.expected_clicks(raw_user, shown, boost=boost)
            # No variant may show what the user bought (CROSSREC_NEVER_REOFFER): nor does
            # the oracle. The service has learnt the event by now, its purchase included.
            never = service.never_offered(rec.user_id)
            oracle = world.best_items(raw_user, k, boost=boost, exclude=never)
            stats.oracle_hits += len(oracle.intersection(shown))
            for reaction in traffic.respond(raw_user, shown, "home", rec.rec_id, rec.event_ts):
                event = pseudonymous(encode(reaction).payload)
                stats.clicks += isinstance(event, Click) and event.rec_id == rec.rec_id
                service.handle(event)
        if progress and n % 5000 == 0:
            print(f"\r{n:,} events (~{events:,})", end="", file=sys.stderr, flush=True)
    # Windows still open are closed as of the run's end plus one window: the last lists'
    # labels count, and the same labels close whatever other arms did last.
    service.close_labels(parse_ts(end_ts) / 1000 + LABEL_WINDOW_S + 1)
    seconds = time.perf_counter() - started
    if progress:
        print(file=sys.stderr)
    variants = {}
    for variant in service.experiment.names:
        row = outcome[variant].as_dict()
        online = service.metrics.by_variant.get(variant, VariantMetrics())
        row.update(
            {
                f"hit_rate@{k}": round(online.hit_rate, 5),
                "opportunities": online.opportunities,
                # The served p_click of each labelled impression against its label.
                "labels": online.labels,
                "label_ctr": round(online.ctr, 5),
                "mean_p_click": round(online.mean_p_click, 5),
                "ctr_logloss": round(online.logloss, 5),
                "ctr_auc": round(online.auc.get(), 5),
            }
        )
        variants[variant] = row
    return {
        "events": n,
        "seconds": round(seconds, 2),
        "events_per_s": round(n / seconds, 1),
        "experiment": experiment,
        "never_reoffer": settings.never_reoffer,
        "variants": variants,
    }


def _end_ts(world: World, seed: int, events: int) -> str:
    """When the run stops: the time of the ``events``-th event of the same stream with nobody
    answering. A fixed simulated span, not a count of background events: the lists one arm
    serves change how many events its users make, and so would move when the others stop."""
    last = ""
    for event in itertools.islice(Traffic(world, seed=seed), events):
        last = str(event["ts"])
    return last


def _until(traffic: Traffic, end_ts: str) -> Iterator[dict[str, Any]]:
    """The background stream up to ``end_ts`` (fixed-width UTC stamps sort as times do)."""
    return itertools.takewhile(lambda event: str(event["ts"]) <= end_ts, traffic)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--events",
        type=int,
        default=30_000,
        help="run length: the simulated span of this many background events (30000)",
    )
    parser.add_argument("--users", type=int, default=2_000, help="simulated users (2000)")
    parser.add_argument("--items", type=int, default=2_000, help="catalogue size (2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--seeds",
        help="several runs, e.g. 1-6: prints each, then mean ± sd per variant and wins vs "
        "--baseline (the loop is chaotic: compare means over seeds, not one run)",
    )
    parser.add_argument(
        "--baseline", default="popularity", help="variant the others are compared with"
    )
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel (processes)")
    parser.add_argument(
        "--experiment",
        default="eval:full=50,popularity=50",
        help="A/B split to compare (CROSSREC_EXPERIMENT syntax)",
    )


SUMMARY_PREFIXES = ("ground_truth_", "hit_rate@", "ctr_auc")
"""Metrics summarised over seeds, all higher-is-better (the ``@k`` suffix follows the
configured list size)."""


def run(args: argparse.Namespace, settings: Settings) -> int:
    import orjson

    if args.seeds is None:
        result = closed_loop(
            args.events,
            args.users,
            args.items,
            args.seed,
            args.experiment,
            progress=True,
            never_reoffer=settings.never_reoffer,
        )
        _print_variants(result)
        print(orjson.dumps(result).decode())
        return 0
    from concurrent.futures import ProcessPoolExecutor

    from streams.seed_summary import parse_seeds, summarise

    seeds = parse_seeds(args.seeds)
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [
            pool.submit(
                closed_loop,
                args.events,
                args.users,
                args.items,
                s,
                args.experiment,
                never_reoffer=settings.never_reoffer,
            )
            for s in seeds
        ]
        runs = []
        for seed, future in zip(seeds, futures, strict=True):
            runs.append({"seed": seed, **future.result()})
            print(f"seed {seed}:", file=sys.stderr)
            _print_variants(runs[-1], out=sys.stderr)
    first = next(iter(runs[0]["variants"].values()))
    metrics = [name for name in first if name.startswith(SUMMARY_PREFIXES)]
    summary = summarise(runs, metrics, args.baseline)
    for variant, by_metric in summary.items():
        cells = []
        for metric, row in by_metric.items():
            cell = f"{metric}={row['mean']:.4f}±{row['sd']:.4f}"
            if "wins" in row:
                cell += f" ({row['vs_baseline']}x, {int(row['wins'])}/{len(runs)})"
            cells.append(cell)
        print(f"{variant:>12}: " + ", ".join(cells))
    print(orjson.dumps({"seeds": seeds, "runs": runs, "summary": summary}).decode())
    return 0


def _print_variants(result: dict[str, Any], out: Any = None) -> None:
    for variant, row in result["variants"].items():
        line = f"{variant:>12}: " + ", ".join(f"{k}={v}" for k, v in row.items())
        print(line, file=out or sys.stdout)
