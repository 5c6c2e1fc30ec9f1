"""Micro-benchmark of :meth:`ContentSimilarity.candidates` (a script, not a test).

Builds the content model exactly as ``bench/models_bench.py`` feeds it inside
:class:`FullRanker` (``uniform``: 300 tags, 1-3 per item, 40 partners, the same seeded
interaction stream), and optionally a ``skewed`` catalogue as ``bench/scorers_bench.py``
builds it (40 Zipf-skewed tags, 2-5 per item, 60 partners), then times
``candidates(user, 50, context)`` (n=50 is what the recommender asks) for 2,000 users, half
of them with a trigger domain, and ``picks`` (the form the recommender consumes) when the
class has it. Reports p50 / p99 µs per call, the mean number of items
reached (scored) per call and the mean number returned, as a table on stderr and one JSON
line on stdout.

``--module PATH`` benchmarks another implementation of the class (e.g. a copy of an older
``content.py``) on the same state, for before/after figures. Usage::

    OPENBLAS_NUM_THREADS=1 python bench/content_bench.py [--items 10000 100000]
        [--catalogue uniform skewed] [--calls 2000] [--module PATH]
"""

from __future__ import annotations

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before numpy: threaded BLAS is 3-6x slower here

import argparse
import importlib.util
import json
import sys
import time
from typing import Any

import numpy as np
from models_bench import uniform_catalogue  # a sibling script: bench/ is on sys.path

from online_models.content import ContentSimilarity
from online_models.types import DOMAINS, Context, Interaction, ItemInfo

N_USERS = 5_000


def skewed_catalogue(n_items: int, seed: int = 0) -> list[ItemInfo]:
    """A few tags on most items and a long tail (as ``bench/scorers_bench.py``)."""
    rng = np.random.default_rng(seed)
    tag_p = 1.0 / np.arange(1, 41) ** 1.1
    tag_p /= tag_p.sum()
    items = []
    for i in range(n_items):
        domain = DOMAINS[int(rng.integers(len(DOMAINS)))]
        tags = tuple(
            f"tag{t}" for t in rng.choice(40, int(rng.integers(2, 6)), replace=False, p=tag_p)
        )
        partner = None if domain == "course" else f"partner{int(rng.integers(60))}"
        items.append(ItemInfo(f"{domain}-{i}", domain, partner=partner, tags=tags))
    return items


def zipf_items(rng: np.random.Generator, n_items: int, n: int) -> list[int]:
    return ((rng.zipf(1.3, n) - 1) % n_items).tolist()  # type: ignore[no-any-return]


def build(cls: type[Any], items: list[ItemInfo]) -> Any:
    """The model after the interaction stream of ``bench/models_bench.py``."""
    model = cls(max_users=1_000_000, seed=0)
    for item in items:
        model.upsert_item(item)
    ids = [item.item_id for item in items]
    n_items = len(ids)
    rng = np.random.default_rng(1)
    for i, item_id in enumerate(ids):
        model.observe(Interaction(f"seed{i % 100}", item_id, "click", float(i)))
    users = rng.integers(0, N_USERS, 50_000).tolist()
    t = float(n_items)
    for u, i in zip(users, zipf_items(rng, n_items, 50_000), strict=True):
        t += 1
        model.observe(Interaction(f"u{u}", ids[i], "click", t))
    return model


def measure(model: Any, calls: int, k: int) -> dict[str, float]:
    rng = np.random.default_rng(3)
    users = [f"u{u}" for u in rng.integers(0, N_USERS, calls).tolist()]
    contexts = [
        Context(ts=1e9 + n, trigger_domain=DOMAINS[n % len(DOMAINS)] if n % 2 else None)
        for n in range(calls)
    ]
    for user, context in zip(users[:200], contexts[:200], strict=True):
        model.candidates(user, k, context)  # warm-up (lazy caches)
    has_picks = hasattr(model, "picks")
    times, picks_times, returned = [], [], 0
    for n, (user, context) in enumerate(zip(users, contexts, strict=True)):
        start = time.perf_counter()
        rows = model.candidates(user, k, context)
        took = (time.perf_counter() - start) * 1e6
        if has_picks:  # alternate which form runs first: the second finds warm caches
            start = time.perf_counter()
            model.picks(user, k, context)
            picks_took = (time.perf_counter() - start) * 1e6
            if n % 2:
                start = time.perf_counter()
                rows = model.candidates(user, k, context)
                took = (time.perf_counter() - start) * 1e6
            picks_times.append(picks_took)
        times.append(took)
        returned += len(rows)
    out = {
        "candidates_p50_us": float(np.percentile(times, 50)),
        "candidates_p99_us": float(np.percentile(times, 99)),
        "returned_mean": returned / calls,
    }
    if has_picks:
        out["picks_p50_us"] = float(np.percentile(picks_times, 50))
        out["picks_p99_us"] = float(np.percentile(picks_times, 99))
    return out


def load_class(path: str | None) -> type[Any]:
    if path is None:
        return ContentSimilarity
    spec = importlib.util.spec_from_file_location("content_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ContentSimilarity  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--items", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--catalogue", nargs="*", default=["uniform"])
    parser.add_argument("--calls", type=int, default=2_000)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--module", default=None, help="file defining ContentSimilarity")
    args = parser.parse_args(argv)
    cls = load_class(args.module)
    makers = {"uniform": uniform_catalogue, "skewed": skewed_catalogue}
    out = []
    print(
        f"{'catalogue':>10} {'items':>8} {'p50 µs':>8} {'p99 µs':>8} {'returned':>9}"
        f" {'picks p50':>10} {'picks p99':>10}",
        file=sys.stderr,
    )
    for name in args.catalogue:
        for n in args.items:
            model = build(cls, makers[name](n))
            row: dict[str, float | str] = {"catalogue": name, "items": n}
            row.update(measure(model, args.calls, args.k))
            out.append(row)
            print(
                f"{name:>10} {n:>8} {row['candidates_p50_us']:>8.1f} "
                f"{row['candidates_p99_us']:>8.1f} {row['returned_mean']:>9.1f} "
                f"{row.get('picks_p50_us', float('nan')):>10.1f} "
                f"{row.get('picks_p99_us', float('nan')):>10.1f}",
                file=sys.stderr,
            )
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
