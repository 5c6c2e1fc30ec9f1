"""User segments: online k-means over each user's decayed domain-affinity vector.

Why
---
Segments give every model a coarse, privacy-friendly description of a user ("mostly
courses", "food people", "fashion + delivery") that exists from the first event on: the
click model crosses segment x item domain, and cold users borrow their segment's taste.

How
---
- Each user holds one decayed count per domain (half-life ``halflife`` seconds of event
  time, weighted by ``Interaction.weight``). The *normalised* vector (shares summing to 1)
  is the point clustered; because decay is uniform across domains, time passing never
  changes a user's shares, so :meth:`UserSegments.segment_of` needs no clock.
- Centres are seeded by k-means++ (``random.Random(seed)``) on the first ``warmup`` points
  plus a few Lloyd passes, then updated online: the nearest centre moves towards each new
  point by ``max(1 / n_assigned, min_lr)``, so centres settle yet keep tracking drift.
  Segment ids are the centre indices and stay stable.
- Memory is bounded: at most ``max_users`` users (least recently seen evicted; the index
  may be shared with other models, ``users.py``) and a ``warmup``-sized buffer. A user's
  counts and last time are one row of two numpy arrays (48 bytes; a Python object per user
  took ~250); the clustering itself is pure Python lists: 5 dimensions do not need numpy.

Clustering is per event, so heavy users weigh more on the centres; that matches "who we
serve", which is what segments are for. :meth:`UserSegments.forget_user` erases the user's
vector and any warm-up point of theirs; the centres keep only an anonymous average.

>>> from online_models.types import Interaction
>>> seg = UserSegments(n_segments=2, warmup=4, seed=0)
>>> for i, domain in enumerate(["course", "fashion", "course", "fashion"]):
...     seg.observe(Interaction(user=f"u{i}", item="x", kind="click", ts=0.0, domain=domain))
>>> seg.segment_of("u0") == seg.segment_of("u2") != seg.segment_of("u1") == seg.segment_of("u3")
True
>>> seg.segment_of("stranger") is None
True
"""

from __future__ import annotations

import math
import random
from collections import OrderedDict

import numpy as np
import numpy.typing as npt

from online_models.types import DOMAINS, Domain, Interaction, ItemInfo
from online_models.users import UserIndex, grow_rows

__all__ = ["UserSegments"]

_DOMAIN_INDEX: dict[str, int] = {d: i for i, d in enumerate(DOMAINS)}
_LLOYD_PASSES = 5

Vector = list[float]


def _shares(counts: npt.NDArray[np.float64]) -> Vector | None:
    """A user's counts as shares summing to 1; None before any positive interaction."""
    values = counts.tolist()
    total = sum(values)
    return None if total <= 0.0 else [c / total for c in values]


def _squared_distance(a: Vector, b: Vector) -> float:
    return sum((x - y) * (x - y) for x, y in zip(a, b, strict=True))


def _nearest(point: Vector, centres: list[Vector]) -> int:
    best, best_distance = 0, math.inf
    for index, centre in enumerate(centres):
        distance = _squared_distance(point, centre)
        if distance < best_distance:
            best, best_distance = index, distance
    return best


class UserSegments:
    """Online k-means segments of users by domain affinity.

    Parameters
    ----------
    n_segments
        Number of segments (k).
    halflife
        Half-life of interaction counts, in seconds of event time.
    max_users
        Users kept; the least recently seen are evicted beyond it.
    warmup
        Points buffered before the centres are seeded (at least ``n_segments``).
    min_lr
        Floor of the online centre learning rate (keeps tracking drift).
    max_items
        Catalogue entries remembered to find an interaction's domain when it has none.
    users
        A user index shared with other models (its cap applies instead of ``max_users``);
        a private one is created when None.
    seed
        Seeds the k-means++ initialisation.
    """

    def __init__(
        self,
        n_segments: int = 8,
        halflife: float = 14 * 24 * 3600.0,
        max_users: int = 200_000,
        warmup: int = 256,
        min_lr: float = 0.01,
        max_items: int = 500_000,
        users: UserIndex | None = None,
        seed: int | None = None,
    ) -> None:
        if n_segments < 1:
            raise ValueError(f"n_segments must be positive, got {n_segments}")
        if warmup < n_segments:
            raise ValueError(f"warmup ({warmup}) must be at least n_segments ({n_segments})")
        if halflife <= 0:
            raise ValueError(f"halflife must be positive, got {halflife}")
        self.n_segments = n_segments
        self.halflife = halflife
        self._users = users if users is not None else UserIndex(max_users)
        self.max_users = self._users.max_users
        self._bit = self._users.attach(self)
        self.warmup = warmup
        self.min_lr = min_lr
        self.max_items = max_items
        self.seed = seed

        # Per user row: decayed interaction count per domain, and when they were decayed to.
        self._counts: npt.NDArray[np.float64] = np.zeros((16, len(DOMAINS)))
        self._last_ts: npt.NDArray[np.float64] = np.zeros(16)
        self._item_domain: OrderedDict[str, Domain] = OrderedDict()
        self._buffer: list[tuple[str, Vector]] = []
        self._centres: list[Vector] = []
        self._assigned: list[int] = []

    # ------------------------------------------------------------------ learning
    def upsert_item(self, item: ItemInfo) -> None:
        """Remember an item's domain, for interactions that do not carry one."""
        self._item_domain[item.item_id] = item.domain
        self._item_domain.move_to_end(item.item_id)
        while len(self._item_domain) > self.max_items:
            self._item_domain.popitem(last=False)

    def observe(self, interaction: Interaction) -> None:
        """Fold one interaction into its user's affinity and the centres; returns None."""
        domain = interaction.domain or self._item_domain.get(interaction.item)
        if domain is None or interaction.weight <= 0.0:
            return None
        row, new = self._users.touch(interaction.user, self._bit)
        if row >= self._last_ts.shape[0]:
            self._counts = grow_rows(self._counts, row + 1)  # type: ignore[assignment]
            self._last_ts = grow_rows(self._last_ts, row + 1)  # type: ignore[assignment]
        counts = self._counts[row]
        if new:
            self._last_ts[row] = interaction.ts
        elif interaction.ts > self._last_ts[row]:
            counts *= 0.5 ** ((interaction.ts - self._last_ts[row]) / self.halflife)
            self._last_ts[row] = interaction.ts
        counts[_DOMAIN_INDEX[domain]] += interaction.weight
        point = _shares(counts)
        if point is not None:
            self._learn_point(interaction.user, point)
        return None

    def _learn_point(self, user: str, point: Vector) -> None:
        if not self._centres:
            self._buffer.append((user, point))
            if len(self._buffer) >= self.warmup:
                self._seed_centres()
            return
        index = _nearest(point, self._centres)
        self._assigned[index] += 1
        lr = max(1.0 / self._assigned[index], self.min_lr)
        centre = self._centres[index]
        self._centres[index] = [c + lr * (p - c) for c, p in zip(centre, point, strict=True)]

    def _seed_centres(self) -> None:
        """k-means++ on the warm-up buffer, then a few Lloyd passes."""
        rng = random.Random(self.seed)
        points = [p for _, p in self._buffer]
        centres = [list(rng.choice(points))]
        while len(centres) < self.n_segments:
            weights = [min(_squared_distance(p, c) for c in centres) for p in points]
            if sum(weights) <= 0.0:  # fewer distinct points than segments
                centres.append(list(rng.choice(points)))
                continue
            centres.append(list(rng.choices(points, weights=weights)[0]))
        assigned = [0] * self.n_segments
        for _ in range(_LLOYD_PASSES):
            sums = [[0.0] * len(DOMAINS) for _ in centres]
            assigned = [0] * self.n_segments
            for p in points:
                index = _nearest(p, centres)
                assigned[index] += 1
                sums[index] = [s + x for s, x in zip(sums[index], p, strict=True)]
            centres = [
                [s / assigned[i] for s in sums[i]] if assigned[i] else centres[i]
                for i in range(self.n_segments)
            ]
        self._centres = centres
        self._assigned = assigned
        self._buffer = []

    def release_rows(self, rows: list[int]) -> None:
        """Zero the rows of users the index let go (see ``users.py``)."""
        held = [r for r in rows if r < self._last_ts.shape[0]]
        self._counts[held] = 0.0
        self._last_ts[held] = 0.0

    def forget_user(self, user: str) -> None:
        """Erase the user's affinity vector and any warm-up point of theirs."""
        self._users.remove(user)
        self._buffer = [(u, p) for u, p in self._buffer if u != user]

    # ------------------------------------------------------------------ reading (pure)
    def segment_of(self, user: str) -> int | None:
        """The user's segment id in ``[0, n_segments)``; None if unknown or still warming up."""
        point = self._point(user)
        return None if point is None or not self._centres else _nearest(point, self._centres)

    def affinity(self, user: str) -> dict[Domain, float]:
        """The user's share of (decayed) interactions per domain; empty if unknown."""
        point = self._point(user)
        if point is None:
            return {}
        return {d: share for d, share in zip(DOMAINS, point, strict=True) if share > 0.0}

    @property
    def centres(self) -> list[dict[Domain, float]]:
        """Each segment's centre as domain shares (empty while warming up)."""
        return [dict(zip(DOMAINS, c, strict=True)) for c in self._centres]

    def _point(self, user: str) -> Vector | None:
        row = self._users.row(user, self._bit)
        return None if row is None else _shares(self._counts[row])

    @property
    def n_users(self) -> int:
        """Users currently held (at most ``max_users``)."""
        return self._users.count(self._bit)
