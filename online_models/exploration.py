"""Exploration: give new and under-exposed items a fair, self-correcting chance.

Why
---
Collaborative models never rank an item nobody has interacted with, so a new partner
offer would stay invisible forever. :class:`Explorer` keeps a Beta posterior of the click
rate of each *under-exposed* item (fewer than ``max_impressions`` labelled impressions) and
proposes items by Thompson sampling: a fresh item's wide posterior often samples high, so it
gets shown; an item that keeps being shown without clicks sees its posterior collapse
towards zero and stops being favoured; after ``max_impressions`` the item *graduates* and
the regular models (which have data on it by then) take over.

Why not ``river.bandit.ThompsonSampling`` directly
--------------------------------------------------
The posteriors are River's ``proba.Beta`` objects (``Beta(alpha + clicks, beta + misses)``),
but ``ThompsonSampling.pull`` mutates state (it draws from each arm's generator and inserts
unknown arms), while ``candidates`` / ``rerank`` must have no side effects and be repeatable
(see :mod:`online_models.scorers`). So the sampling generator is rebuilt for every request
from ``(seed, user, context.ts)``: the same request gives the same answer, different
requests explore differently, and nothing in the model changes until :meth:`Explorer.update`
reports what was actually shown.

Memory is bounded: at most ``pool_size`` items are tracked (the oldest evicted) and at most
``max_graduated`` graduated ids are remembered (so a catalogue update does not make an old
item "new" again). No per-user state is held.

>>> from online_models.types import Context, ItemInfo
>>> explorer = Explorer(seed=0)
>>> explorer.upsert_item(ItemInfo("f1", "fresh_food", tags=("cooking",)))
>>> explorer.candidates("p:1", 3, Context(ts=0.0))  # doctest: +ELLIPSIS
[('f1', ..., 'new in fresh food — give it a try')]
>>> explorer.update("f1", clicked=False)
>>> explorer.impressions("f1")
1
"""

from __future__ import annotations

import hashlib
import random
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
from river import proba

from online_models.types import Context, Domain, ItemInfo

__all__ = ["Explorer"]


def _domain_label(domain: Domain) -> str:
    return domain.replace("_", " ")


class _Arm:
    """One under-exposed item: its catalogue entry and its click-rate posterior."""

    __slots__ = ("impressions", "item", "posterior")

    def __init__(self, item: ItemInfo, alpha: int, beta: int) -> None:
        self.item = item
        self.posterior = proba.Beta(alpha, beta)
        self.impressions = 0


class Explorer:
    """Thompson sampling over under-exposed items, pure at request time.

    Satisfies :class:`online_models.scorers.CandidateSource` (extra "new item" candidates)
    and :class:`online_models.scorers.Reranker` (swap exploration picks into a ranked list).

    Parameters
    ----------
    max_impressions
        Labelled impressions after which an item is no longer explored.
    prior_alpha, prior_beta
        Beta prior of a new item's click rate; ``(1, 1)`` is deliberately optimistic.
    pool_size
        Under-exposed items tracked at most (oldest additions evicted first).
    explore_slots
        How many of the ``k`` slots :meth:`rerank` may give to exploration picks.
    max_graduated
        Graduated item ids remembered (bounded).
    seed
        Seeds every request's generator (together with the user and ``context.ts``).
    """

    def __init__(
        self,
        max_impressions: int = 50,
        prior_alpha: int = 1,
        prior_beta: int = 1,
        pool_size: int = 2_000,
        explore_slots: int = 1,
        max_graduated: int = 100_000,
        seed: int | None = None,
    ) -> None:
        if max_impressions < 1:
            raise ValueError(f"max_impressions must be positive, got {max_impressions}")
        if prior_alpha < 1 or prior_beta < 1:
            raise ValueError("prior_alpha and prior_beta must be at least 1")
        self.max_impressions = max_impressions
        self.prior_alpha = prior_alpha
        self.prior_beta = prior_beta
        self.pool_size = pool_size
        self.explore_slots = explore_slots
        self.max_graduated = max_graduated
        self.seed = seed

        self._arms: OrderedDict[str, _Arm] = OrderedDict()
        self._graduated: OrderedDict[str, None] = OrderedDict()

    # ------------------------------------------------------------------ learning
    def upsert_item(self, item: ItemInfo) -> None:
        """Track a new item (or refresh a tracked one); graduated items stay graduated."""
        arm = self._arms.get(item.item_id)
        if arm is not None:
            arm.item = item
            return
        if item.item_id in self._graduated:
            return
        self._arms[item.item_id] = _Arm(item, self.prior_alpha, self.prior_beta)
        while len(self._arms) > self.pool_size:
            self._arms.popitem(last=False)

    def update(self, item_id: str, clicked: bool) -> None:
        """Learn from one labelled impression of ``item_id`` (any item; untracked ignored)."""
        arm = self._arms.get(item_id)
        if arm is None:
            return
        arm.posterior.update(bool(clicked))  # type: ignore[no-untyped-call]
        arm.impressions += 1
        if arm.impressions >= self.max_impressions:
            del self._arms[item_id]
            self._graduated[item_id] = None
            while len(self._graduated) > self.max_graduated:
                self._graduated.popitem(last=False)

    def learn_impression(
        self, user: str, item: ItemInfo, context: Context, features: object, clicked: bool
    ) -> None:
        """Same as :meth:`update`, with the click model's signature (so the stream can feed
        both from one labelled-impression call)."""
        self.update(item.item_id, clicked)

    def forget_user(self, user: str) -> None:
        """Nothing to erase: no per-user state is held."""
        return None

    # ------------------------------------------------------------------ reading (pure)
    def _rng(self, user: str, context: Context) -> random.Random:
        # str seeds are hashed with SHA-512 by ``random``: stable across processes.
        return random.Random(f"{self.seed}|{user}|{context.ts!r}")

    def _numpy_rng(self, user: str, context: Context) -> np.random.Generator:
        digest = hashlib.blake2b(f"{self.seed}|{user}|{context.ts!r}".encode(), digest_size=8)
        return np.random.default_rng(int.from_bytes(digest.digest(), "little"))

    def _sample(self, arm: _Arm, rng: random.Random) -> float:
        return rng.betavariate(arm.posterior.alpha, arm.posterior.beta)

    def _reason(self, arm: _Arm) -> str:
        return f"new in {_domain_label(arm.item.domain)} — give it a try"

    def candidates(self, user: str, k: int, context: Context) -> list[tuple[str, float, str]]:
        """Up to ``k`` active under-exposed items, by Thompson sample, best first; pure."""
        if k <= 0:
            return []
        eligible = [
            arm
            for item_id, arm in self._arms.items()
            if arm.item.active and item_id not in context.exclude
        ]
        if not eligible:
            return []
        # One vectorised draw for the whole pool: ~10x faster than ``random.betavariate``
        # in a loop (2,000 items: ~0.2 ms instead of ~2 ms).
        alphas = np.fromiter((a.posterior.alpha for a in eligible), float, len(eligible))
        betas = np.fromiter((a.posterior.beta for a in eligible), float, len(eligible))
        thetas = self._numpy_rng(user, context).beta(alphas, betas)
        top = np.arange(len(eligible))
        if k < len(eligible):
            top = np.argpartition(-thetas, k - 1)[:k]
        top = top[np.argsort(-thetas[top], kind="stable")]
        return [
            (eligible[i].item.item_id, float(thetas[i]), self._reason(eligible[i]))
            for i in top.tolist()
        ]

    def rerank(
        self, user: str, ranked: Sequence[tuple[str, float]], k: int, context: Context
    ) -> list[str]:
        """The top of ``ranked`` with up to ``explore_slots`` under-exposed items of
        ``ranked`` (best Thompson samples) swapped into random slots other than the first."""
        head = [item_id for item_id, _ in ranked[:k]]
        slots = min(self.explore_slots, max(len(head) - 1, 0))
        if slots == 0:
            return head
        in_head = set(head)
        arms = [
            (item_id, arm)
            for item_id, _ in ranked[k:]
            if (arm := self._arms.get(item_id)) is not None and item_id not in in_head
        ]
        if not arms:
            return head  # nothing to explore: no generator needed (seeding costs ~10 µs)
        rng = self._rng(user, context)
        drawn = sorted((-self._sample(arm, rng), item_id) for item_id, arm in arms)
        picks = [item_id for _, item_id in drawn[:slots]]
        kept = head[: len(head) - len(picks)]
        positions = sorted(rng.sample(range(1, len(head)), len(picks)))
        for position, item_id in zip(positions, picks, strict=True):
            kept.insert(position, item_id)
        return kept

    def impressions(self, item_id: str) -> int | None:
        """Labelled impressions of a tracked item; None once graduated or untracked."""
        arm = self._arms.get(item_id)
        return None if arm is None else arm.impressions

    def posterior_mean(self, item_id: str) -> float | None:
        """Posterior mean click rate of a tracked item; None once graduated or untracked."""
        arm = self._arms.get(item_id)
        if arm is None:
            return None
        return arm.posterior.alpha / (arm.posterior.alpha + arm.posterior.beta)

    @property
    def n_tracked(self) -> int:
        """Under-exposed items currently tracked (at most ``pool_size``)."""
        return len(self._arms)
