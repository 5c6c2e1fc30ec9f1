"""Micro-benchmark of the online models (a script, not a test).

Measures, for :class:`CrossDomainRecommender` (MF + kNN + popularity, learnt blend), for
the same with a :class:`CtrModel` re-ranking its shortlist (``CtrReranked``: the issue's
"top-10, CTR re-rank included") and for the production :class:`FullRanker` (content
candidates, taste for every candidate, CTR re-rank and exploration; the CTR models are
trained with labelled impressions, as the stream does):

- ``learn`` and ``recommend`` (top-10, incl. blend and re-rank) µs/event, p50 and p99, at
  1k, 10k and 100k catalogue items (one row per model, ``model`` field);
- resident memory (RSS delta) with 100k and 1,000,000 known users over 100k items, and the
  time to snapshot (save) and restore the model at that size.

Usage: ``python bench/models_bench.py [--users 100000 1000000] [--items 1000 10000 100000]``.
Prints a table to stderr and one JSON line to stdout.
"""

from __future__ import annotations

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before numpy: threaded BLAS is 3-6x slower here

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from online_models.ctr import CtrModel
from online_models.full_ranker import FullRanker
from online_models.recommender import CrossDomainRecommender
from online_models.snapshot import load, save
from online_models.types import DOMAINS, Context, Interaction, ItemInfo


def rss_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


Model = CrossDomainRecommender | FullRanker
MODELS = ("CrossDomainRecommender", "CtrReranked", "FullRanker")


def build(
    n_items: int, seed: int = 0, model: str = "CrossDomainRecommender"
) -> tuple[Model, list[str]]:
    """One of :data:`MODELS` over a fresh :func:`uniform_catalogue` of ``n_items``."""
    rec: Model
    if model == "FullRanker":
        rec = FullRanker(seed=seed)
    elif model == "CtrReranked":
        rec = CrossDomainRecommender(click_model=CtrModel(seed=seed), seed=seed)
    elif model == "CrossDomainRecommender":
        rec = CrossDomainRecommender(seed=seed)
    else:
        raise ValueError(f"unknown model {model!r}; one of {MODELS}")
    items = uniform_catalogue(n_items, seed)
    for item in items:
        rec.upsert_item(item)
    return rec, [item.item_id for item in items]


def uniform_catalogue(n_items: int, seed: int = 0) -> list[ItemInfo]:
    """Items over every domain with 1-3 of 300 tags, 40 partners and prices (also the
    catalogue of ``bench/content_bench.py``)."""
    rng = np.random.default_rng(seed)
    doms = rng.integers(0, len(DOMAINS), n_items)
    n_tags = rng.integers(1, 4, n_items)
    items = []
    for i in range(n_items):
        d = DOMAINS[int(doms[i])]
        tags = tuple(f"t{int(t)}" for t in rng.integers(0, 300, int(n_tags[i])))
        partner = None if d == "course" else f"p{i % 40}"
        items.append(ItemInfo(f"{d}-{i}", d, partner=partner, tags=tags, price=float(i % 97)))
    return items


def zipf_items(rng: np.random.Generator, n_items: int, n: int) -> np.ndarray:
    return (rng.zipf(1.3, n) - 1) % n_items


def latency(
    n_items: int,
    n_train: int = 50_000,
    n_users: int = 5_000,
    model: str = "CrossDomainRecommender",
    n_impressions: int = 20_000,
) -> dict[str, float | str]:
    rec, ids = build(n_items, model=model)
    rng = np.random.default_rng(1)
    # Every item learned at least once, so MF retrieval really scans n_items rows.
    for i, item in enumerate(ids):
        rec.learn(Interaction(f"seed{i % 100}", item, "click", float(i)))
    users = rng.integers(0, n_users, n_train)
    items = zipf_items(rng, n_items, n_train)
    t = float(n_items)
    for u, i in zip(users.tolist(), items.tolist(), strict=True):
        t += 1
        rec.learn(Interaction(f"u{u}", ids[i], "click", t))
    if model != "CrossDomainRecommender":
        # Labelled impressions (~8 % clicked) train the CTR model (and the explorer).
        imp_users = rng.integers(0, n_users, n_impressions).tolist()
        imp_items = zipf_items(rng, n_items, n_impressions).tolist()
        clicked = (rng.random(n_impressions) < 0.08).tolist()
        for j, (u, i, c) in enumerate(zip(imp_users, imp_items, clicked, strict=True)):
            rec.learn_impression(f"u{u}", ids[i], Context(ts=t), c, position=j % 10)
    learn_us = []
    probe_users = rng.integers(0, n_users, 5000).tolist()
    probe_items = zipf_items(rng, n_items, 5000).tolist()
    for u, i in zip(probe_users, probe_items, strict=True):
        t += 1
        it = Interaction(f"u{u}", ids[i], "partner_order" if i % 3 else "click", t)
        s = time.perf_counter()
        rec.learn(it)
        learn_us.append((time.perf_counter() - s) * 1e6)
    rec_us = []
    for n, u in enumerate(rng.integers(0, n_users, 2000).tolist()):
        ctx = Context(
            ts=t + n, trigger_domain=DOMAINS[n % len(DOMAINS)] if n % 2 else None, hour=n % 24
        )
        s = time.perf_counter()
        rec.recommend(f"u{u}", 10, ctx)
        rec_us.append((time.perf_counter() - s) * 1e6)
    return {
        "model": model,
        "items": n_items,
        "learn_p50_us": float(np.percentile(learn_us, 50)),
        "learn_p99_us": float(np.percentile(learn_us, 99)),
        "recommend_p50_us": float(np.percentile(rec_us, 50)),
        "recommend_p99_us": float(np.percentile(rec_us, 99)),
    }


def memory(n_users: int, n_items: int = 100_000) -> dict[str, float | str]:
    gc.collect()
    before = rss_bytes()
    rec, ids = build(n_items)
    after_items = rss_bytes()
    rng = np.random.default_rng(2)
    items = zipf_items(rng, n_items, n_users).tolist()
    start = time.perf_counter()
    for u in range(n_users):
        # One event per user: a 32-hex pseudonym as the stream delivers it.
        rec.learn(Interaction(f"p:{u:032x}", ids[items[u]], "click", float(u)))
    learn_s = time.perf_counter() - start
    gc.collect()
    after_users = rss_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rec.snap"
        s = time.perf_counter()
        save(rec, path)
        save_s = time.perf_counter() - s
        size = path.stat().st_size
        s = time.perf_counter()
        back = load(path, CrossDomainRecommender)
        load_s = time.perf_counter() - s
        del back
    return {
        "users": n_users,
        "items": n_items,
        "rss_items_mib": (after_items - before) / 2**20,
        "rss_users_mib": (after_users - after_items) / 2**20,
        "rss_total_mib": (after_users - before) / 2**20,
        "learn_us_per_event": learn_s / n_users * 1e6,
        "snapshot_save_s": save_s,
        "snapshot_load_s": load_s,
        "snapshot_mib": size / 2**20,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, nargs="*", default=[1_000, 10_000, 100_000])
    parser.add_argument("--users", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--models", nargs="*", choices=MODELS, default=list(MODELS))
    args = parser.parse_args(argv)
    out: dict[str, list[dict[str, float | str]]] = {"latency": [], "memory": []}
    print(
        f"{'model':>22} {'items':>8} {'learn p50':>10} {'p99':>8} "
        f"{'recommend p50':>14} {'p99':>8}  (µs)",
        file=sys.stderr,
    )
    for model in args.models:
        for n in args.items:
            r = latency(n, model=model)
            out["latency"].append(r)
            print(
                f"{model:>22} {n:>8} {r['learn_p50_us']:>10.1f} {r['learn_p99_us']:>8.1f} "
                f"{r['recommend_p50_us']:>14.1f} {r['recommend_p99_us']:>8.1f}",
                file=sys.stderr,
            )
    print(
        f"{'users':>8} {'RSS MiB':>8} {'learn µs':>9} {'save s':>7} {'load s':>7} {'MiB':>6}",
        file=sys.stderr,
    )
    for n in args.users:
        m = memory(n)
        out["memory"].append(m)
        print(
            f"{n:>8} {m['rss_total_mib']:>8.0f} {m['learn_us_per_event']:>9.1f} "
            f"{m['snapshot_save_s']:>7.2f} {m['snapshot_load_s']:>7.2f} "
            f"{m['snapshot_mib']:>6.0f}",
            file=sys.stderr,
        )
        gc.collect()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
