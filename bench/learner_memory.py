"""Resident memory of the whole learner with many users (a script, not a test).

Why: ``bench/models_bench.py`` measures one ``CrossDomainRecommender``. A worker holds more:
the :class:`~streams.recommend_service.RecommendationService` with one model per A/B
variant (the full ranker adds content, segments, the click model, exploration and item
quality) and the service's own state per user and per served list. This is what a worker
holds once ``--users`` users have each sent one click that was answered with a list.

How: the service is built as the worker builds it (:func:`streams.model_factory.build_service`
with :meth:`Settings.from_env`: the default experiment, each variant learning only its
users); the catalogue of ``bench/models_bench.py`` (``--items`` items over every domain,
with tags, partners and prices) arrives as catalogue upserts; then each user (a 32-hex
pseudonym, as the stream delivers it) clicks one item drawn Zipf-like, and the service
answers and learns exactly as in the worker. Resident memory (RSS) is read before the
service is built, after the catalogue and after the users, with the service's state sizes
(:func:`service_bench.state_sizes`).

Usage: ``python bench/learner_memory.py [--users 1000000] [--items 100000]``. Prints a
summary to stderr and one JSON line to stdout.
"""

from __future__ import annotations

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before numpy: threaded BLAS is 3-6x slower here

import argparse
import gc
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from models_bench import rss_bytes, uniform_catalogue, zipf_items
from service_bench import environment, state_sizes

from schemas import Click, ItemUpsert
from streams.model_factory import build_service
from streams.settings import Settings

START = datetime(2026, 11, 30, tzinfo=UTC)
MIB = 2**20


def measure(n_users: int, n_items: int, settings: Settings) -> dict[str, Any]:
    """RSS and state after the catalogue and after ``n_users`` answered clicks."""
    gc.collect()
    before = rss_bytes()
    service = build_service(settings)
    catalogue = uniform_catalogue(n_items)
    for n, item in enumerate(catalogue):
        service.handle(
            ItemUpsert(
                event_id=f"item-{n}", ts=START, item_id=item.item_id, domain=item.domain,
                partner_id=item.partner, title=item.item_id, tags=item.tags,
                price=item.price, active=True,
            )
        )  # fmt: skip
    del catalogue
    gc.collect()
    after_items = rss_bytes()
    ids = list(service.catalogue)
    clicked = zipf_items(np.random.default_rng(2), n_items, n_users).tolist()
    served = 0
    started = time.perf_counter()
    for u in range(n_users):
        click = Click(
            event_id=f"click-{u}", ts=START + timedelta(seconds=u / 100), user_id=f"p:{u:032x}",
            item_id=ids[clicked[u]], surface="home",
        )  # fmt: skip
        served += len(service.handle(click))
        if u and u % 100_000 == 0:
            print(f"{u:,} users, {(rss_bytes() - before) / MIB:.0f} MiB", file=sys.stderr)
    seconds = time.perf_counter() - started
    gc.collect()
    after_users = rss_bytes()
    return {
        "users": n_users,
        "items": n_items,
        "experiment": settings.experiment,
        "lists_served": served,
        "rss_items_mib": round((after_items - before) / MIB, 1),
        "rss_users_mib": round((after_users - after_items) / MIB, 1),
        "rss_total_mib": round((after_users - before) / MIB, 1),
        "us_per_user": round(seconds / n_users * 1e6, 1),
        "state": state_sizes(service),
        "machine": environment(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args(argv)
    report = measure(args.users, args.items, Settings.from_env())
    print(
        f"{report['users']:,} users over {report['items']:,} items ({report['experiment']}): "
        f"{report['rss_total_mib']:,.0f} MiB resident ({report['rss_items_mib']:,.0f} the "
        f"catalogue, {report['rss_users_mib']:,.0f} the users); {report['lists_served']:,} "
        f"lists, {report['us_per_user']:.0f} µs per user",
        file=sys.stderr,
    )
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
