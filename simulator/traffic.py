"""User traffic over simulated time, in the wire format of /work/briefs/wire.md.

Design
------
Sessions arrive as a Poisson process (``session_rate`` per simulated second); each session
belongs to a user drawn by activity.  A session's events (impressions from a simple
popular+random baseline, clicks drawn from the world's ground-truth click probability,
browsing clicks, conversions, direct partner orders, consent changes, rare ``forget``) are
generated when the session starts and pushed into a heap keyed by event time; everything
earlier than the next session start is then popped, so the stream is in event-time order
although sessions overlap.

Cross-domain behaviour: buying a course raises the user's *boost* for the course's theme,
which raises click and order probabilities of partner items of that theme and the chance of
a direct partner order in the next sessions (decaying per session).  So a cooking course
purchase is followed by fresh-food and restaurant orders — structure a cross-domain
recommender can learn and the tests can measure.

Determinism: the stream is a function of the seed, and each user's draws are their own. One
``random.Random(seed)`` is the schedule: when sessions start, whose they are, and catalogue
price updates, none of which depends on how anyone reacted. Everything inside a session and
every :meth:`Traffic.respond` draws from a generator seeded by (seed, user, that user's
session or response count). So what a recommender shows one user changes only that user's
later events (a purchase raises their boost, as a real conversion would), never another
user's: in a closed-loop A/B run (:mod:`streams.evaluation`) the arms' users are
independent, and a change to one arm leaves the others' traffic exactly as it was.

>>> from simulator.world import World
>>> t = Traffic(World(seed=1, n_users=20, n_items=50), seed=1)
>>> first = next(iter(t))
>>> first["event_type"], first["ts"]
('item', '2026-11-29T10:00:00.000Z')
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import random
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import numpy as np

from simulator.clock import DEFAULT_START, format_ts, parse_ts
from simulator.world import DOMAINS, THEMES, FloatArray, World

Event = dict[str, Any]

CURRENCIES: tuple[str, ...] = ("EUR", "GBP", "USD")
_FX: tuple[float, ...] = (1.0, 0.86, 1.08)
SURFACES: tuple[str, ...] = ("home", "course_page", "partner_page", "push")
_SURFACE_WEIGHTS: tuple[float, ...] = (0.5, 0.25, 0.15, 0.1)
BROWSE_SURFACES: tuple[str, ...] = ("search", "category")

# Theme -> partner-domain weights (rows: themes, columns: DOMAINS; course column zero).
_THEME_PARTNER_DOMAIN = np.array(
    [[0.0 if d == "course" else t.domains.get(d, 0.0) for d in DOMAINS] for t in THEMES]
)


class Traffic:
    """Iterable of wire-format event dicts in event-time order.

    Parameters
    ----------
    world
        The ground truth.
    seed
        Seed of this stream (independent from the world's seed).
    start_ts
        Event time of the catalogue and start of the sessions (RFC 3339, epoch seconds or an
        aware datetime).
    session_rate
        Sessions per simulated second (about 4–5 events each).
    list_size
        Items per baseline impression.
    catalogue
        Emit one ``item`` upsert per catalogue item first.
    opt_out_rate, opt_in_rate, forget_rate, item_update_rate
        Per-session probabilities of a consent opt-out (opted-in users), opt-in (opted-out
        users), a ``forget`` request, and a price update of a random item.
    """

    def __init__(
        self,
        world: World,
        seed: int = 0,
        start_ts: str | float | datetime = DEFAULT_START,
        *,
        session_rate: float = 5.0,
        list_size: int = 10,
        catalogue: bool = True,
        opt_out_rate: float = 0.004,
        opt_in_rate: float = 0.05,
        forget_rate: float = 0.0005,
        item_update_rate: float = 0.002,
    ) -> None:
        self.world = world
        self.seed = seed
        self.start_ts = start_ts
        self.session_rate = session_rate
        self.list_size = list_size
        self.catalogue = catalogue
        self.opt_out_rate = opt_out_rate
        self.opt_in_rate = opt_in_rate
        self.forget_rate = forget_rate
        self.item_update_rate = item_update_rate

        self._rng = random.Random(seed)  # the schedule only (module docstring)
        self._draws: dict[tuple[str, int], int] = {}  # (kind, user) -> generators handed out
        self._start_ms = parse_ts(start_ts)
        self.boost: FloatArray = np.zeros((world.n_users, len(THEMES)))
        self.opted_out: set[int] = set()
        self.price: FloatArray = world.item_price.copy()
        self._popular: list[int] = world.popular_items.tolist()
        self._cum_activity = list(itertools.accumulate(world.user_activity.tolist()))
        self._heap: list[tuple[int, int, Event]] = []
        self._seq = 0

    # ------------------------------------------------------------------ helpers
    def _user_rng(self, kind: str, user_idx: int) -> random.Random:
        """A fresh generator for the user's next ``kind`` ("session" or "respond"), seeded
        by the stream's seed, the user and how many of those they had: their draws do not
        depend on anyone else's."""
        n = self._draws.get((kind, user_idx), 0)
        self._draws[kind, user_idx] = n + 1
        return random.Random(f"{kind}-{self.seed}-{user_idx}-{n}")

    def _new_id(self, rng: random.Random, prefix: str) -> str:
        return f"{prefix}-{rng.getrandbits(96):024x}"

    def _base(self, rng: random.Random, event_type: str, ms: int, user: str) -> Event:
        return {
            "event_id": self._new_id(rng, "ev"),
            "event_type": event_type,
            "ts": format_ts(ms),
            "user_id": user,
            "schema_version": 1,
        }

    def _push(self, ms: int, event: Event) -> None:
        heapq.heappush(self._heap, (ms, self._seq, event))
        self._seq += 1

    def item_event(self, item_idx: int, ms: int, rng: random.Random | None = None) -> Event:
        """The ``item`` upsert for catalogue item ``item_idx`` at its current price."""
        w = self.world
        r = rng or self._rng
        return {
            "event_id": self._new_id(r, "ev"),
            "event_type": "item",
            "ts": format_ts(ms),
            "schema_version": 1,
            "item_id": w.item_ids[item_idx],
            "domain": w.item_domain(item_idx),
            "partner_id": w.item_partner[item_idx],
            "title": w.item_title[item_idx],
            "tags": list(w.item_tags[item_idx]),
            "price": float(self.price[item_idx]),
            "active": True,
        }

    def _amount(self, user_idx: int, base_price: float) -> tuple[float, str]:
        c = int(self.world.user_currency_idx[user_idx])
        return round(base_price * _FX[c], 2), CURRENCIES[c]

    def _conversion(self, rng: random.Random, user_idx: int, item_idx: int, ms: int) -> Event:
        """A course purchase or a partner order of ``item_idx`` (plus basket items)."""
        w = self.world
        user = w.user_id(user_idx)
        if int(w.item_domain_idx[item_idx]) == 0:
            ev = self._base(rng, "course_purchase", ms, user)
            price, currency = self._amount(user_idx, float(self.price[item_idx]))
            ev.update(course_id=w.item_ids[item_idx], price=price, currency=currency)
            theme = int(w.item_primary_theme[item_idx])
            self.boost[user_idx, theme] = min(1.5, self.boost[user_idx, theme] + 0.8)
            return ev
        partner = w.item_partner[item_idx]
        assert partner is not None
        basket = [item_idx]
        others = w.partner_items[partner]
        for _ in range(min(len(others) - 1, int(rng.expovariate(0.8)))):
            extra = others[rng.randrange(len(others))]
            if extra not in basket:
                basket.append(extra)
        amount, currency = self._amount(user_idx, float(sum(self.price[i] for i in basket)))
        ev = self._base(rng, "partner_order", ms, user)
        ev.update(
            partner_id=partner,
            domain=w.item_domain(item_idx),
            item_ids=[w.item_ids[i] for i in basket],
            amount=amount,
            currency=currency,
        )
        return ev

    def _show_list(
        self,
        rng: random.Random,
        user_idx: int,
        item_idx: list[int],
        item_ids: list[str],
        surface: str,
        rec_id: str,
        ms: int,
    ) -> list[tuple[int, Event]]:
        """Impression of ``item_ids`` plus the clicks and conversions ground truth draws.

        ``item_idx`` holds world indices of ``item_ids`` (-1 for ids unknown to the world,
        which are never clicked).
        """
        w = self.world
        user = w.user_id(user_idx)
        imp = self._base(rng, "impression", ms, user)
        imp.update(
            rec_id=rec_id,
            item_ids=item_ids,
            positions=list(range(len(item_ids))),
            surface=surface,
        )
        out: list[tuple[int, Event]] = [(ms, imp)]
        known = [(pos, i) for pos, i in enumerate(item_idx) if i >= 0]
        if not known:
            return out
        pos_arr = np.fromiter((k[0] for k in known), dtype=np.int64, count=len(known))
        idx_arr = np.fromiter((k[1] for k in known), dtype=np.int64, count=len(known))
        boost = self.boost[user_idx]
        p_click = w.click_probabilities(user_idx, idx_arr, pos_arr, boost).tolist()
        for (pos, i), pc in zip(known, p_click, strict=True):
            if rng.random() >= pc:
                continue
            click_ms = ms + 1000 + int(rng.expovariate(1 / 8000))
            click = self._base(rng, "click", click_ms, user)
            click.update(item_id=item_ids[pos], surface=surface, rec_id=rec_id, position=pos)
            out.append((click_ms, click))
            if rng.random() < self._purchase_probability(user_idx, i):
                buy_ms = click_ms + 20_000 + int(rng.expovariate(1 / 120_000))
                out.append((buy_ms, self._conversion(rng, user_idx, i, buy_ms)))
        return out

    def _purchase_probability(self, user_idx: int, item_idx: int) -> float:
        one = np.array([item_idx], dtype=np.int64)
        return float(self.world.purchase_propensities(user_idx, one, self.boost[user_idx])[0])

    def _baseline_list(self, rng: random.Random) -> list[int]:
        """Popular + random: what a platform without personalisation shows."""
        w = self.world
        k = self.list_size
        n_popular = (k * 6) // 10
        popular = self._popular
        chosen = rng.sample(popular, min(n_popular, len(popular)))
        seen = set(chosen)
        while len(chosen) < min(k, w.n_items):
            i = rng.randrange(w.n_items)
            if i not in seen:
                seen.add(i)
                chosen.append(i)
        rng.shuffle(chosen)
        return chosen

    def _pick_by_taste(self, rng: random.Random, user_idx: int, partner_only: bool) -> int:
        """An item the user seeks out: theme by taste+boost, domain by theme and affinity."""
        w = self.world
        interest = w.user_taste[user_idx] + self.boost[user_idx]
        theme = rng.choices(range(len(THEMES)), weights=interest.tolist())[0]
        if partner_only:
            dom_w = _THEME_PARTNER_DOMAIN[theme]
        else:
            dom_w = np.array([THEMES[theme].domains.get(d, 0.0) for d in DOMAINS])
        dom_w = dom_w * np.exp(w.user_domain_affinity[user_idx])
        for _ in range(4):
            domain = rng.choices(range(len(DOMAINS)), weights=dom_w.tolist())[0]
            pool = w.theme_pool(domain, theme)
            if len(pool):
                return int(pool[rng.randrange(len(pool))])
        return rng.randrange(w.n_items)

    # ------------------------------------------------------------------ sessions
    def _session(self, schedule: random.Random, ms: int) -> None:
        w = self.world
        u = bisect_choice(schedule, self._cum_activity)
        user = w.user_id(u)
        self.boost[u] *= 0.85

        if schedule.random() < self.item_update_rate:
            i = schedule.randrange(w.n_items)
            factor = schedule.uniform(0.85, 1.15)
            self.price[i] = max(0.99, round(float(self.price[i]) * factor, 2))
            self._push(ms, self.item_event(i, ms, schedule))

        rng = self._user_rng("session", u)
        if u in self.opted_out:
            if rng.random() < self.opt_in_rate:
                self.opted_out.discard(u)
                ev = self._base(rng, "consent", ms, user)
                ev["personalisation"] = True
                self._push(ms, ev)
        elif rng.random() < self.opt_out_rate:
            self.opted_out.add(u)
            ev = self._base(rng, "consent", ms, user)
            ev["personalisation"] = False
            self._push(ms, ev)

        if rng.random() < self.forget_rate:
            self._push(ms, self._base(rng, "forget", ms, user))
            self.boost[u] = 0.0
            self.opted_out.discard(u)
            return

        t = ms
        n_lists = 1 + min(3, int(rng.expovariate(1.0)))
        for _ in range(n_lists):
            items = self._baseline_list(rng)
            surface = rng.choices(SURFACES, weights=_SURFACE_WEIGHTS)[0]
            rec_id = self._new_id(rng, "rec")
            ids = [w.item_ids[i] for i in items]
            for ev_ms, ev in self._show_list(rng, u, items, ids, surface, rec_id, t):
                self._push(ev_ms, ev)
            t += 5_000 + int(rng.expovariate(1 / 30_000))

        for _ in range(int(rng.expovariate(1.2))):
            i = self._pick_by_taste(rng, u, partner_only=False)
            click = self._base(rng, "click", t, user)
            click.update(item_id=w.item_ids[i], surface=rng.choice(BROWSE_SURFACES))
            click["rec_id"] = None
            click["position"] = None
            self._push(t, click)
            if rng.random() < self._purchase_probability(u, i):
                buy_ms = t + 20_000 + int(rng.expovariate(1 / 120_000))
                self._push(buy_ms, self._conversion(rng, u, i, buy_ms))
            t += 3_000 + int(rng.expovariate(1 / 20_000))

        # Orders placed in the partners' own apps, driven by taste and recent courses.
        p_direct = 0.06 + 0.4 * min(1.0, float(self.boost[u].sum()))
        if rng.random() < p_direct:
            i = self._pick_by_taste(rng, u, partner_only=True)
            if int(w.item_domain_idx[i]) != 0:
                order_ms = t + int(rng.expovariate(1 / 60_000))
                self._push(order_ms, self._conversion(rng, u, i, order_ms))

    def __iter__(self) -> Iterator[Event]:
        """The stream: catalogue upserts, then sessions forever (take what you need)."""
        rng = self._rng
        ms = self._start_ms
        if self.catalogue:
            for i in range(self.world.n_items):
                yield self.item_event(i, ms)
        heap = self._heap
        mean_gap_ms = 1000.0 / self.session_rate
        while True:
            ms += 1 + int(rng.expovariate(1.0) * mean_gap_ms)
            while heap and heap[0][0] <= ms:
                yield heapq.heappop(heap)[2]
            self._session(rng, ms)

    # ------------------------------------------------------------------ closed loop
    def respond(
        self,
        user_id: str,
        item_ids: list[str],
        surface: str,
        rec_id: str,
        ts: str | float | datetime,
    ) -> list[Event]:
        """Simulate how ``user_id`` reacts to a list someone else served.

        Returns the impression, the clicks drawn from ground truth (with ``rec_id`` and
        ``position``) and any conversions, in event-time order.  Ids unknown to the world are
        shown but never clicked.  Purchases update the user's boost, like real ones.
        """
        w = self.world
        u = w.user_index(user_id)
        idx = [w.item_index.get(i, -1) for i in item_ids]
        ms = parse_ts(ts)
        rng = self._user_rng("respond", u)
        events = self._show_list(rng, u, idx, list(item_ids), surface, rec_id, ms)
        events.sort(key=lambda pair: pair[0])
        return [ev for _, ev in events]


def bisect_choice(rng: random.Random, cum_weights: list[float]) -> int:
    """Index drawn with probability proportional to the weights behind ``cum_weights``."""
    x = rng.random() * cum_weights[-1]
    return min(bisect.bisect_right(cum_weights, x), len(cum_weights) - 1)


def take(events: Iterator[Event] | Traffic, n: int) -> list[Event]:
    """The first ``n`` events (convenience for tests and notebooks)."""
    return list(itertools.islice(iter(events), n))


__all__ = ["CURRENCIES", "SURFACES", "Event", "Traffic", "bisect_choice", "take"]
