"""Micro-benchmark of the two optional scorers of the recommender (a script, not a test).

Measures, at 10k and 100k catalogue items with a realistic tag distribution (40 distinct
tags with Zipf-skewed use, 2-5 tags per item, 5 domains, 60 partners):

- :meth:`ContentSimilarity.candidates` (n=50, as the recommender asks) for users with 1-20
  remembered items, and :meth:`ContentSimilarity.similar_to` from one trigger item;
- :meth:`CtrModel.predict_proba` (one shortlisted item, trained on 20k impressions first),
  and :meth:`CtrModel.learn_impression` for reference.

Prints p50 / p99 in µs per call, plus the mean number of candidates returned, as a table
on stderr and one JSON line on stdout. Usage::

    python bench/scorers_bench.py [--items 10000 100000] [--calls 3000]
"""

from __future__ import annotations

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before numpy: threaded BLAS is 3-6x slower here

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np

from online_models.content import ContentSimilarity
from online_models.ctr import CtrModel
from online_models.types import DOMAINS, PARTNER_DOMAINS, Context, Interaction, ItemInfo

N_TAGS = 40
N_PARTNERS = 60


def catalogue(n_items: int, seed: int = 0) -> list[ItemInfo]:
    """Items with skewed tags (a few tags on most items, a long tail of rare ones)."""
    rng = np.random.default_rng(seed)
    tag_p = 1.0 / np.arange(1, N_TAGS + 1) ** 1.1
    tag_p /= tag_p.sum()
    items = []
    for i in range(n_items):
        domain = DOMAINS[int(rng.integers(len(DOMAINS)))]
        n_tags = int(rng.integers(2, 6))
        tags = tuple(f"tag{t}" for t in rng.choice(N_TAGS, n_tags, replace=False, p=tag_p))
        partner = None if domain == "course" else f"partner{int(rng.integers(N_PARTNERS))}"
        price = float(rng.lognormal(3.0, 1.0))
        items.append(ItemInfo(f"{domain}-{i}", domain, partner=partner, tags=tags, price=price))
    return items


def timed(calls: Sequence[Callable[[], object]]) -> tuple[list[float], list[object]]:
    """Run each call once (after a warm-up pass over the first 200); µs per call."""
    for call in calls[:200]:
        call()
    times, results = [], []
    for call in calls:
        start = time.perf_counter_ns()
        results.append(call())
        times.append((time.perf_counter_ns() - start) / 1000.0)
    return times, results


def summary(times: list[float]) -> dict[str, float]:
    return {
        "p50_us": round(float(np.percentile(times, 50)), 1),
        "p99_us": round(float(np.percentile(times, 99)), 1),
    }


def bench_content(items: list[ItemInfo], n_calls: int, seed: int = 1) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    model = ContentSimilarity()
    start = time.perf_counter()
    for item in items:
        model.upsert_item(item)
    load_s = time.perf_counter() - start
    n = len(items)
    popular = (rng.zipf(1.3, 200_000) - 1) % n  # users mostly meet popular items
    cursor = 0
    users = []
    for u in range(n_calls):
        user = f"u{u}"
        for _ in range(int(rng.integers(1, 21))):
            model.observe(
                Interaction(user=user, item=items[int(popular[cursor])].item_id, kind="click", ts=0)
            )
            cursor = (cursor + 1) % popular.shape[0]
        users.append(user)
    contexts = [Context(ts=1.0, trigger_domain=DOMAINS[int(d)]) for d in rng.integers(5, size=50)]
    cand_calls = [partial(model.candidates, u, 50, contexts[i % 50]) for i, u in enumerate(users)]
    cand_times, cand_rows = timed(cand_calls)
    seeds = [items[int(r)].item_id for r in rng.integers(n, size=n_calls)]
    sim_calls = [partial(model.similar_to, [s], 50, contexts[i % 50]) for i, s in enumerate(seeds)]
    sim_times, sim_rows = timed(sim_calls)
    return {
        "load_s": round(load_s, 2),
        "candidates": {**summary(cand_times), "mean_returned": _mean_len(cand_rows)},
        "similar_to": {**summary(sim_times), "mean_returned": _mean_len(sim_rows)},
    }


def _mean_len(rows: list[object]) -> float:
    return round(float(np.mean([len(r) for r in rows if isinstance(r, list)])), 1)


def bench_ctr(
    items: list[ItemInfo], n_calls: int, n_train: int = 20_000, seed: int = 2
) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    model = CtrModel(seed=seed)
    n = len(items)

    def impression(i: int) -> tuple[ItemInfo, Context, dict[str, float]]:
        item = items[int(rng.integers(n))]
        trigger = PARTNER_DOMAINS[i % 4] if i % 3 else "course"
        context = Context(ts=float(i), trigger_domain=trigger, hour=i % 24, segment=i % 8)
        position = i % 20
        features = {
            "mf_score": float(rng.normal(1.0, 2.0)),
            "knn_score": float(rng.random()),
            "popularity": float(rng.random()),
            "blend": float(rng.random()),
            "position": float(position),
            "cross_domain": float(trigger != item.domain),
            "price": item.price,
        }
        return item, context, features

    train = [impression(i) for i in range(n_train)]
    labels = (rng.random(n_train) < 0.06).tolist()
    learn_calls = [
        partial(model.learn_impression, "u", it, c, f, y)
        for (it, c, f), y in zip(train, labels, strict=True)
    ]
    learn_times, _ = timed(learn_calls)
    queries = [impression(i) for i in range(n_calls)]
    predict_calls = [partial(model.predict_proba, "u", it, c, f) for it, c, f in queries]
    predict_times, _ = timed(predict_calls)
    return {
        "predict_proba": summary(predict_times),
        "learn_impression": summary(learn_times),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--calls", type=int, default=3_000)
    args = parser.parse_args(argv)
    report: dict[str, object] = {}
    for n_items in args.items:
        items = catalogue(n_items)
        content = bench_content(items, args.calls)
        ctr = bench_ctr(items, args.calls)
        report[str(n_items)] = {"content": content, "ctr": ctr}
        for name, row in [*content.items(), *ctr.items()]:
            if isinstance(row, dict):
                extra = f"  returned={row['mean_returned']}" if "mean_returned" in row else ""
                print(
                    f"{n_items:>7} items  {name:<17} p50 {row['p50_us']:>8.1f} µs"
                    f"  p99 {row['p99_us']:>8.1f} µs{extra}",
                    file=sys.stderr,
                )
        print(f"{n_items:>7} items  content catalogue load {content['load_s']} s", file=sys.stderr)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
