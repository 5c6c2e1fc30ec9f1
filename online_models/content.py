"""Content similarity: TF-IDF over tags, domain and partner, for cold users and cold items.

Why
---
Collaborative models need interactions on both sides. Content closes the two cold gaps:
a *new user* with one or two interactions (or just the trigger item) already has tags to
match, and a *new item* is reachable the moment it is in the catalogue, because it shares
tags with things users engaged with. That is also the cross-domain bridge of the product:
a cooking course carries ``cooking`` / ``italian`` tags, so do pasta kits in fresh food.

How
---
- Each item is a sparse vector of tokens: ``tag:<t>`` (weight ``tag_weight``),
  ``domain:<d>`` (``domain_weight``) and ``partner:<p>`` (``partner_weight``), each
  multiplied by a smoothed IDF ``log((1 + N) / (1 + df)) + 1`` over *active* items, so rare
  tags count more than ``domain:fresh_food``.
- A user's profile is the recency-weighted sum of the vectors of their last
  ``history_size`` items (``Interaction.weight`` x ``recency_decay ** age``); candidates are
  scored by cosine similarity to it, so scores lie in [0, 1].
- An inverted index (token -> items) finds candidates; postings longer than
  ``max_postings`` (a domain token, an over-used tag) are not walked, but still count in
  the cosine of items reached through rarer tokens. Postings are walked strongest profile
  token first until ``max_candidates`` items are reached, which bounds a request's cost.
- Cross-domain first: items of ``context.trigger_domain`` get their score multiplied by
  ``same_domain_factor`` (after a course purchase, partner offers come before more courses).
- The reason names the token that contributed most: "matches your interest in cooking".

Memory is bounded: ``max_users`` users (least recently seen evicted) x ``history_size``
items; catalogue state is one entry per item. Reads (:meth:`ContentSimilarity.candidates`,
:meth:`ContentSimilarity.similar_to`) have no side effects.

>>> from online_models.types import Context, Interaction, ItemInfo
>>> content = ContentSimilarity()
>>> content.upsert_item(ItemInfo("c1", "course", tags=("cooking", "italian")))
>>> content.upsert_item(ItemInfo("f1", "fresh_food", tags=("cooking", "pasta")))
>>> content.upsert_item(ItemInfo("x1", "fashion", tags=("shoes",)))
>>> content.observe(Interaction(user="p:1", item="c1", kind="course_purchase", ts=0.0))
>>> [(item, reason) for item, _, reason in content.candidates("p:1", 5, Context(ts=1.0))]
[('f1', 'matches your interest in cooking')]
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence

from online_models.types import Context, Interaction, ItemInfo

__all__ = ["ContentSimilarity"]

Vector = dict[str, float]


def _normalise_tag(tag: str) -> str:
    return " ".join(tag.lower().split())


class ContentSimilarity:
    """TF-IDF content similarity between items, and from a user's recent items to others.

    Satisfies :class:`online_models.scorers.CandidateSource`.

    Parameters
    ----------
    tag_weight, domain_weight, partner_weight
        Weight of each kind of token before IDF.
    history_size
        Recent items remembered per user.
    recency_decay
        Weight multiplier per step back in the user's history (1.0: all equal).
    max_users
        Users remembered; the least recently seen are evicted beyond it.
    max_postings
        Postings lists longer than this are not walked to find candidates.
    max_candidates
        Stop walking postings (strongest profile tokens first) once this many items are
        reached; bounds the cost of a request.
    same_domain_factor
        Score multiplier for items in ``context.trigger_domain`` (1.0 disables).
    seed
        Kept for River's conventions; the model is deterministic.
    """

    def __init__(
        self,
        tag_weight: float = 1.0,
        domain_weight: float = 0.3,
        partner_weight: float = 0.5,
        history_size: int = 20,
        recency_decay: float = 0.9,
        max_users: int = 200_000,
        max_postings: int = 2_000,
        max_candidates: int = 1_000,
        same_domain_factor: float = 0.5,
        seed: int | None = None,
    ) -> None:
        if history_size < 1:
            raise ValueError(f"history_size must be positive, got {history_size}")
        self.tag_weight = tag_weight
        self.domain_weight = domain_weight
        self.partner_weight = partner_weight
        self.history_size = history_size
        self.recency_decay = recency_decay
        self.max_users = max_users
        self.max_postings = max_postings
        self.max_candidates = max_candidates
        self.same_domain_factor = same_domain_factor
        self.seed = seed

        self._items: dict[str, ItemInfo] = {}
        self._tokens: dict[str, Vector] = {}  # item -> token weights before IDF
        self._postings: dict[str, set[str]] = {}  # token -> active items having it
        self._n_active = 0
        self._history: OrderedDict[str, deque[tuple[str, float]]] = OrderedDict()

    # ------------------------------------------------------------------ catalogue
    def _item_tokens(self, item: ItemInfo) -> Vector:
        tokens: Vector = {f"domain:{item.domain}": self.domain_weight}
        if item.partner:
            tokens[f"partner:{item.partner}"] = self.partner_weight
        for tag in item.tags:
            normalised = _normalise_tag(tag)
            if normalised:
                tokens[f"tag:{normalised}"] = self.tag_weight
        return {t: w for t, w in tokens.items() if w > 0.0}

    def upsert_item(self, item: ItemInfo) -> None:
        """Add or update a catalogue entry; inactive items leave the index."""
        previous = self._items.get(item.item_id)
        if previous is not None and previous.active:
            for token in self._tokens[item.item_id]:
                postings = self._postings[token]
                postings.discard(item.item_id)
                if not postings:
                    del self._postings[token]
            self._n_active -= 1
        tokens = self._item_tokens(item)
        self._items[item.item_id] = item
        self._tokens[item.item_id] = tokens
        if item.active:
            for token in tokens:
                self._postings.setdefault(token, set()).add(item.item_id)
            self._n_active += 1

    def _idf(self, token: str) -> float:
        df = len(self._postings.get(token, ()))
        return math.log((1.0 + self._n_active) / (1.0 + df)) + 1.0

    def vector(self, item_id: str) -> Vector:
        """The item's TF-IDF vector (unnormalised); empty for unknown items."""
        tokens = self._tokens.get(item_id)
        if tokens is None:
            return {}
        return {t: w * self._idf(t) for t, w in tokens.items()}

    # ------------------------------------------------------------------ users
    def observe(self, interaction: Interaction) -> None:
        """Remember the user's recent item (bounded history, bounded users); returns None."""
        if interaction.weight <= 0.0:
            return None
        history = self._history.get(interaction.user)
        if history is None:
            history = self._history[interaction.user] = deque(maxlen=self.history_size)
            while len(self._history) > self.max_users:
                self._history.popitem(last=False)
        else:
            self._history.move_to_end(interaction.user)
        history.append((interaction.item, interaction.weight))
        return None

    def forget_user(self, user: str) -> None:
        """Erase the user's remembered items."""
        self._history.pop(user, None)

    def recent_items(self, user: str) -> list[str]:
        """The user's remembered items, most recent first (pure)."""
        history = self._history.get(user)
        return [] if history is None else [item for item, _ in reversed(history)]

    # ------------------------------------------------------------------ reading (pure)
    def candidates(self, user: str, k: int, context: Context) -> list[tuple[str, float, str]]:
        """Up to ``k`` items most similar to the user's recent items (excluding those and
        ``context.exclude``), best first, as ``(item_id, score in [0, 1], reason)``."""
        history = self._history.get(user)
        if not history:
            return []
        weighted: dict[str, float] = {}
        for age, (item_id, weight) in enumerate(reversed(history)):
            weighted[item_id] = weighted.get(item_id, 0.0) + weight * self.recency_decay**age
        return self.similar_to(weighted, k, context)

    def similar_to(
        self,
        items: Mapping[str, float] | Sequence[str],
        k: int,
        context: Context,
    ) -> list[tuple[str, float, str]]:
        """Up to ``k`` items most similar to ``items`` (ids, or ids -> weights), e.g. the
        trigger item of a brand-new user; the seed items themselves are excluded."""
        seeds: Mapping[str, float] = (
            items if isinstance(items, Mapping) else dict.fromkeys(items, 1.0)
        )
        profile = self._profile(seeds.items())
        if k <= 0 or not profile:
            return []
        profile_norm = math.sqrt(sum(w * w for w in profile.values()))
        excluded = set(seeds) | context.exclude
        reached: set[str] = set()
        # Strongest profile tokens first; whole postings lists only (set order is not
        # stable across processes, so a list is never cut), stopping at max_candidates.
        for token in sorted(profile, key=lambda t: (-profile[t], t)):
            postings = self._postings.get(token, ())
            if len(postings) <= self.max_postings:
                reached.update(postings)
                reached -= excluded
                if len(reached) >= self.max_candidates:
                    break
        idf_cache: dict[str, float] = {}

        def idf(token: str) -> float:
            value = idf_cache.get(token)
            if value is None:
                value = idf_cache[token] = self._idf(token)
            return value

        scored: list[tuple[float, str, str]] = []
        for item_id in reached:
            tokens = self._tokens[item_id]
            norm_sq = 0.0
            dot = 0.0
            best_token, best_contribution = "", 0.0
            for token, weight in tokens.items():
                value = weight * idf(token)
                norm_sq += value * value
                contribution = value * profile.get(token, 0.0)
                dot += contribution
                if contribution > best_contribution:
                    best_token, best_contribution = token, contribution
            if dot <= 0.0:
                continue
            score = dot / (math.sqrt(norm_sq) * profile_norm)
            if context.trigger_domain == self._items[item_id].domain:
                score *= self.same_domain_factor
            scored.append((min(score, 1.0), item_id, best_token))
        scored.sort(key=lambda row: (-row[0], row[1]))
        return [(item_id, score, _reason(token)) for score, item_id, token in scored[:k]]

    def _profile(self, seeds: Iterable[tuple[str, float]]) -> Vector:
        profile: Vector = {}
        for item_id, weight in seeds:
            for token, value in self.vector(item_id).items():
                profile[token] = profile.get(token, 0.0) + weight * value
        return {t: w for t, w in profile.items() if w > 0.0}

    @property
    def n_users(self) -> int:
        """Users whose recent items are remembered (at most ``max_users``)."""
        return len(self._history)


def _reason(token: str) -> str:
    kind, _, value = token.partition(":")
    if kind == "tag":
        return f"matches your interest in {value}"
    if kind == "partner":
        return f"from {value}, like something you chose before"
    return f"more {value.replace('_', ' ')} like what you liked"
