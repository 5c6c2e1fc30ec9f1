"""Synthetic, MovieLens-like event streams for `crossrec replay` (no download needed).

Two kinds, both CSV with a header, in timestamp order:

``ratings`` — explicit 1–5 ratings, shaped like MovieLens 100K by default (943 users, 1682
items, 100k ratings): a low-rank taste model (``mu + b_u + b_i + p_u·q_i``) plus Gaussian
noise, rounded and clipped to 1..5; user activity and item popularity follow power laws; a
user rates an item at most once; users join over time (arrival order), so the stream has
cold users and items throughout, as a real one does.

``implicit`` — positive-only cross-domain events (``click``, ``course_purchase``,
``partner_order``) with a ``domain`` column: items belong to one of five domains and one of
``n_topics`` topics that span domains (a "cooking" topic has courses, fresh food and
restaurant deals); a user has a sparse topic mixture, tends to stay on the topic of their
previous event (sessions), picks items by popularity within the topic and never repeats an
item.

Usage::

    python bench/make_ratings.py ratings  --out /tmp/ratings.csv  --seed 1
    python bench/make_ratings.py implicit --out /tmp/implicit.csv --seed 1
"""

from __future__ import annotations

import argparse
import csv
import sys

import numpy as np

DOMAINS = ("course", "restaurant_deal", "fresh_food", "food_delivery", "fashion")


def _power_law(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** exponent
    rng.shuffle(w)
    return np.asarray(w / w.sum())


def make_ratings(
    n_users: int = 943,
    n_items: int = 1682,
    n_ratings: int = 100_000,
    n_factors: int = 5,
    noise: float = 0.8,
    seed: int = 1,
) -> list[tuple[str, str, int, int]]:
    rng = np.random.default_rng(seed)
    mu = 3.53
    bu = rng.normal(0.0, 0.45, n_users)
    bi = rng.normal(0.0, 0.55, n_items)
    P = rng.normal(0.0, 0.45, (n_users, n_factors))
    Q = rng.normal(0.0, 0.45, (n_items, n_factors))
    user_w = _power_law(rng, n_users, 0.9)
    item_w = _power_law(rng, n_items, 1.0)
    # Users join over time: a user's first possible event is at a random position.
    join = rng.uniform(0.0, 0.8, n_users)
    join[rng.random(n_users) < 0.05] = 0.0  # a few founding users
    seen: set[tuple[int, int]] = set()
    out: list[tuple[str, str, int, int]] = []
    t0 = 874_724_710
    step = 7 * 30 * 24 * 3600 / n_ratings
    while len(out) < n_ratings:
        frac = len(out) / n_ratings
        us = rng.choice(n_users, 256, p=user_w)
        its = rng.choice(n_items, 256, p=item_w)
        for u, i in zip(us.tolist(), its.tolist(), strict=True):
            if join[u] > frac or (u, i) in seen:
                continue
            seen.add((u, i))
            r = mu + bu[u] + bi[i] + P[u] @ Q[i] + rng.normal(0.0, noise)
            rating = int(min(5, max(1, round(r))))
            ts = t0 + int(len(out) * step + rng.uniform(0, step))
            out.append((f"u{u}", f"i{i}", ts, rating))
            if len(out) >= n_ratings:
                break
    out.sort(key=lambda row: row[2])
    return out


def make_implicit(
    n_users: int = 5_000,
    n_items: int = 5_000,
    n_events: int = 100_000,
    n_topics: int = 40,
    stay: float = 0.6,
    seed: int = 1,
) -> list[tuple[str, str, int, str, str]]:
    rng = np.random.default_rng(seed)
    item_topic = rng.integers(0, n_topics, n_items)
    item_domain = rng.choice(len(DOMAINS), n_items, p=[0.3, 0.2, 0.2, 0.2, 0.1])
    item_pop = _power_law(rng, n_items, 0.9)
    by_topic = [np.flatnonzero(item_topic == t) for t in range(n_topics)]
    topic_p = [item_pop[ix] / item_pop[ix].sum() for ix in by_topic]
    user_topics = rng.dirichlet(np.full(n_topics, 0.08), n_users)
    user_w = _power_law(rng, n_users, 0.8)
    join = rng.uniform(0.0, 0.8, n_users)
    join[rng.random(n_users) < 0.05] = 0.0
    last_topic = np.full(n_users, -1)
    seen: list[set[int]] = [set() for _ in range(n_users)]
    out: list[tuple[str, str, int, str, str]] = []
    t0 = 1_700_000_000
    while len(out) < n_events:
        frac = len(out) / n_events
        for u in rng.choice(n_users, 256, p=user_w).tolist():
            if join[u] > frac:
                continue
            if last_topic[u] >= 0 and rng.random() < stay:
                t = int(last_topic[u])
            else:
                t = int(rng.choice(n_topics, p=user_topics[u]))
            cands, p = by_topic[t], topic_p[t]
            for _ in range(5):
                i = int(cands[rng.choice(cands.shape[0], p=p)])
                if i not in seen[u]:
                    break
            else:
                continue
            seen[u].add(i)
            last_topic[u] = t
            dom = DOMAINS[int(item_domain[i])]
            kind = (
                "click"
                if rng.random() < 0.7
                else ("course_purchase" if dom == "course" else "partner_order")
            )
            out.append((f"u{u}", f"{dom}-{i}", t0 + 30 * len(out), kind, dom))
            if len(out) >= n_events:
                break
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kind", choices=["ratings", "implicit"])
    parser.add_argument("--out", required=True)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    with open(args.out, "w", newline="") as fh:
        w = csv.writer(fh)
        if args.kind == "ratings":
            w.writerow(["user_id", "item_id", "timestamp", "rating"])
            w.writerows(make_ratings(n_ratings=args.events, seed=args.seed))
        else:
            w.writerow(["user_id", "item_id", "timestamp", "event_type", "domain"])
            w.writerows(make_implicit(n_events=args.events, seed=args.seed))
    print(f"wrote {args.events} events to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
