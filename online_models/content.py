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
- Ties in score are broken by item id, so results do not depend on insertion order.

Layout (why it is fast)
-----------------------
A request must cost well under a millisecond at 100k items, so nothing is walked item by
item in Python. Each item owns a dense *row*; its tokens are integer ids stored
contiguously in two flat arrays (token id, weight before IDF) addressed by per-row
``start`` / ``length`` (a CSR matrix that tolerates in-place updates; stale slots are
compacted when they reach half the storage). A request then

1. builds the profile as a dense float vector over token ids (one ``bincount``);
2. walks postings as numpy row arrays, marking reached rows in a boolean scratch vector;
3. gathers the reached rows' tokens in one fancy-index, multiplies by the IDF vector and
   the profile, and sums per row with ``add.reduceat`` (dot products and norms together);
4. selects the top ``k`` with ``argpartition``; only those rows go back to Python for
   their reason and the id tie-break.

IDF depends on every active item, so it is one vector recomputed lazily after a catalogue
change, and posting arrays are rebuilt lazily per changed token. Both are caches: they are
not pickled and never change a result, so reads stay free of observable side effects.

Memory is bounded: ``max_users`` users (least recently seen evicted) x ``history_size``
items; catalogue state is one row per item ever seen plus its tokens. Reads
(:meth:`ContentSimilarity.candidates`, :meth:`ContentSimilarity.similar_to`) have no side
effects.

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

import heapq
import math
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from online_models.types import Context, Interaction, ItemInfo

__all__ = ["ContentSimilarity"]

Vector = dict[str, float]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_CACHES = ("_idf_cache", "_posting_cache", "_reason_cache")
"""Attributes derived from the rest of the state: rebuilt on demand, never pickled."""


def _normalise_tag(tag: str) -> str:
    return " ".join(tag.lower().split())


def _grown(array: npt.NDArray[Any], size: int) -> npt.NDArray[Any]:
    """``array`` itself if it holds ``size`` entries, else a zero-padded copy with room."""
    if array.shape[0] >= size:
        return array
    bigger = np.zeros(max(size, 2 * array.shape[0], 64), dtype=array.dtype)
    bigger[: array.shape[0]] = array
    return bigger


def _segments(starts: IntArray, lengths: IntArray) -> tuple[IntArray, IntArray]:
    """Flat positions of the segments ``[start, start + length)`` laid end to end, and the
    offset of each segment in that concatenation (for ``np.add.reduceat``).

    >>> positions, offsets = _segments(np.array([5, 0]), np.array([2, 3]))
    >>> positions.tolist(), offsets.tolist()
    ([5, 6, 0, 1, 2], [0, 2])
    """
    ends = np.cumsum(lengths)
    offsets = ends - lengths
    total = int(ends[-1]) if ends.shape[0] else 0
    positions = np.repeat(starts - offsets, lengths) + np.arange(total)
    return positions, offsets


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
        reached; bounds the cost of a request (at most ``max_candidates + max_postings``
        items are scored).
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

        self._history: OrderedDict[str, deque[tuple[str, float]]] = OrderedDict()
        # Catalogue rows (one per item ever seen, never reused).
        self._row_of: dict[str, int] = {}
        self._ids: list[str] = []
        self._active = np.zeros(0, dtype=np.bool_)
        self._domain = np.zeros(0, dtype=np.int16)
        self._domain_codes: dict[str, int] = {}
        # Each row's tokens: flat_token/flat_weight[start : start + length] (CSR-like).
        self._start = np.zeros(0, dtype=np.int64)
        self._length = np.zeros(0, dtype=np.int64)
        self._flat_token = np.zeros(0, dtype=np.int64)
        self._flat_weight = np.zeros(0, dtype=np.float64)
        self._flat_used = 0
        self._flat_stale = 0
        # Vocabulary and the inverted index over *active* rows.
        self._token_of: dict[str, int] = {}
        self._token_names: list[str] = []
        self._df = np.zeros(0, dtype=np.int64)
        self._postings: dict[int, set[int]] = {}
        self._n_active = 0
        self._clear_caches()

    def _clear_caches(self) -> None:
        self._idf_cache: FloatArray | None = None
        self._posting_cache: dict[int, IntArray] = {}
        self._reason_cache: dict[int, str] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for name in _CACHES:
            del state[name]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "_row_of" not in state:
            raise ValueError(
                "ContentSimilarity state of an older layout; rebuild it from the catalogue"
            )
        self.__dict__.update(state)
        self._clear_caches()

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

    def _token_id(self, name: str) -> int:
        token = self._token_of.get(name)
        if token is None:
            token = self._token_of[name] = len(self._token_names)
            self._token_names.append(name)
            self._df = _grown(self._df, token + 1)
        return token

    def _row_tokens(self, row: int) -> tuple[list[int], list[float]]:
        start = int(self._start[row])
        end = start + int(self._length[row])
        return self._flat_token[start:end].tolist(), self._flat_weight[start:end].tolist()

    def upsert_item(self, item: ItemInfo) -> None:
        """Add or update a catalogue entry; inactive items leave the index."""
        tokens = self._item_tokens(item)
        token_ids = [self._token_id(name) for name in tokens]
        row = self._row_of.get(item.item_id)
        if row is None:
            row = self._row_of[item.item_id] = len(self._ids)
            self._ids.append(item.item_id)
            for name in ("_active", "_domain", "_start", "_length"):
                setattr(self, name, _grown(getattr(self, name), row + 1))
        elif self._active[row]:
            for token in self._row_tokens(row)[0]:
                postings = self._postings[token]
                postings.discard(row)
                if not postings:
                    del self._postings[token]
                self._posting_cache.pop(token, None)
                self._df[token] -= 1
            self._n_active -= 1
        self._store_tokens(row, token_ids, list(tokens.values()))
        code = self._domain_codes.setdefault(item.domain, len(self._domain_codes))
        self._domain[row] = code
        self._active[row] = item.active
        if item.active:
            for token in token_ids:
                self._postings.setdefault(token, set()).add(row)
                self._posting_cache.pop(token, None)
                self._df[token] += 1
            self._n_active += 1
        self._idf_cache = None

    def _store_tokens(self, row: int, token_ids: list[int], weights: list[float]) -> None:
        """Write a row's tokens in place when they fit, else at the end of the storage."""
        size, old_size = len(token_ids), int(self._length[row])
        if 0 < size <= old_size:
            start = int(self._start[row])
            self._flat_stale += old_size - size
        else:
            self._flat_stale += old_size
            self._length[row] = 0
            if self._flat_stale > max(1024, self._flat_used // 2):
                self._compact()
            start = self._flat_used
            self._flat_used += size
            self._flat_token = _grown(self._flat_token, self._flat_used)
            self._flat_weight = _grown(self._flat_weight, self._flat_used)
            self._start[row] = start
        self._flat_token[start : start + size] = token_ids
        self._flat_weight[start : start + size] = weights
        self._length[row] = size

    def _compact(self) -> None:
        """Drop stale token slots left behind by updated items (rows keep their order)."""
        n = len(self._ids)
        positions, offsets = _segments(self._start[:n], self._length[:n])
        self._flat_token = self._flat_token[positions]
        self._flat_weight = self._flat_weight[positions]
        self._start[:n] = offsets
        self._flat_used = positions.shape[0]
        self._flat_stale = 0

    def _idf(self) -> FloatArray:
        """Smoothed IDF of every token id (cached until the catalogue changes)."""
        idf = self._idf_cache
        if idf is None:
            df = self._df[: len(self._token_names)]
            idf = self._idf_cache = np.log((1.0 + self._n_active) / (1.0 + df)) + 1.0
        return idf

    def _posting_rows(self, token: int) -> IntArray:
        """Active rows having ``token`` as an array (cached until that token changes)."""
        rows = self._posting_cache.get(token)
        if rows is None:
            members = self._postings.get(token, ())
            rows = np.fromiter(members, dtype=np.int64, count=len(members))
            self._posting_cache[token] = rows
        return rows

    def vector(self, item_id: str) -> Vector:
        """The item's TF-IDF vector (unnormalised); empty for unknown items."""
        row = self._row_of.get(item_id)
        if row is None:
            return {}
        idf = self._idf()
        tokens, weights = self._row_tokens(row)
        return {
            self._token_names[t]: w * float(idf[t]) for t, w in zip(tokens, weights, strict=True)
        }

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
        if k <= 0:
            return []
        profile = self._profile(seeds)
        if profile is None:
            return []
        rows = self._reach(profile, seeds, context)
        if rows.shape[0] == 0:
            return []
        # Cosine of every reached row with the profile, all tokens of the row counted.
        idf = self._idf()
        lengths = self._length[rows]
        positions, offsets = _segments(self._start[rows], lengths)
        tokens = self._flat_token[positions]
        values = self._flat_weight[positions] * idf[tokens]
        contributions = values * profile[tokens]
        dots = np.add.reduceat(contributions, offsets)
        norms = np.sqrt(np.add.reduceat(values * values, offsets))
        scores = dots / (norms * math.sqrt(float(np.dot(profile, profile))))
        trigger = self._domain_codes.get(context.trigger_domain or "")
        if trigger is not None and self.same_domain_factor != 1.0:
            same = self._domain[rows] == trigger
            scores[same] *= self.same_domain_factor
        np.minimum(scores, 1.0, out=scores)
        chosen = self._best(np.flatnonzero(dots > 0.0), scores, rows, k)
        # Back to Python for the k winners only: reason = strongest token (first on ties).
        chosen_positions, _ = _segments(offsets[chosen], lengths[chosen])
        flat_contributions = contributions[chosen_positions].tolist()
        flat_tokens = tokens[chosen_positions].tolist()
        out: list[tuple[str, float, str]] = []
        cursor = 0
        for j, size in zip(chosen.tolist(), lengths[chosen].tolist(), strict=True):
            best_token, best_contribution = -1, 0.0
            for i in range(cursor, cursor + size):
                if flat_contributions[i] > best_contribution:
                    best_token, best_contribution = flat_tokens[i], flat_contributions[i]
            cursor += size
            out.append((self._ids[int(rows[j])], float(scores[j]), self._reason(best_token)))
        return out

    def _profile(self, seeds: Mapping[str, float]) -> FloatArray | None:
        """Dense profile over token ids (weighted sum of the seeds' TF-IDF vectors, negative
        entries dropped), or None when it has no positive entry."""
        seed_rows: list[int] = []
        seed_weights: list[float] = []
        for item_id, weight in seeds.items():
            row = self._row_of.get(item_id)
            if row is not None:
                seed_rows.append(row)
                seed_weights.append(weight)
        if not seed_rows:
            return None
        rows = np.array(seed_rows, dtype=np.int64)
        lengths = self._length[rows]
        positions, _ = _segments(self._start[rows], lengths)
        tokens = self._flat_token[positions]
        values = self._flat_weight[positions] * self._idf()[tokens]
        values *= np.repeat(np.array(seed_weights, dtype=np.float64), lengths)
        profile: FloatArray = np.bincount(
            tokens, weights=values, minlength=len(self._token_names)
        ).astype(np.float64, copy=False)
        profile[~(profile > 0.0)] = 0.0
        return profile if profile.any() else None

    def _reach(self, profile: FloatArray, seeds: Mapping[str, float], context: Context) -> IntArray:
        """Rows reached by walking postings, strongest profile token first, whole lists
        only (so the set does not depend on set order), until ``max_candidates``."""
        nonzero = np.flatnonzero(profile)
        names = self._token_names
        order = sorted(
            zip(nonzero.tolist(), profile[nonzero].tolist(), strict=True),
            key=lambda tw: (-tw[1], names[tw[0]]),
        )
        reached = np.zeros(len(self._ids), dtype=np.bool_)
        excluded = [self._row_of.get(i) for i in (*seeds, *context.exclude)]
        reached[[r for r in excluded if r is not None]] = True  # marked, never counted
        parts: list[IntArray] = []
        count = 0
        for token, _ in order:
            postings = self._postings.get(token)
            size = 0 if postings is None else len(postings)
            if size > self.max_postings:
                continue
            if size:
                rows = self._posting_rows(token)
                fresh = rows[~reached[rows]]
                reached[fresh] = True
                parts.append(fresh)
                count += fresh.shape[0]
            if count >= self.max_candidates:
                break
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def _best(self, kept: IntArray, scores: FloatArray, rows: IntArray, k: int) -> IntArray:
        """Positions (into ``rows``) of the ``k`` best ``kept`` scores, best first; equal
        scores are ordered by item id. Only the tie at the cut-off is resolved in Python."""
        if kept.shape[0] > k:
            kept_scores = scores[kept]
            threshold = np.partition(kept_scores, kept.shape[0] - k)[kept.shape[0] - k]
            above = kept[kept_scores > threshold]
            tied = kept[kept_scores == threshold]
            need = k - above.shape[0]
            if tied.shape[0] > need:
                ids = self._ids
                smallest = heapq.nsmallest(
                    need,
                    zip((ids[r] for r in rows[tied].tolist()), tied.tolist(), strict=True),
                )
                tied = np.array([j for _, j in smallest], dtype=np.int64)
            kept = np.concatenate([above, tied])
        values = scores[kept]
        order = np.argsort(-values, kind="stable")
        kept, values = kept[order], values[order]
        if not (values[1:] == values[:-1]).any():
            return kept  # no equal scores: the id tie-break has nothing to decide
        ids = self._ids
        ranked = sorted(
            zip(
                (-score for score in values.tolist()),
                [ids[r] for r in rows[kept].tolist()],
                kept.tolist(),
                strict=True,
            )
        )
        return np.array([j for _, _, j in ranked], dtype=np.int64)

    def _reason(self, token: int) -> str:
        reason = self._reason_cache.get(token)
        if reason is None:
            name = self._token_names[token] if token >= 0 else ""
            reason = self._reason_cache[token] = _reason(name)
        return reason

    @property
    def n_users(self) -> int:
        """Users whose recent items are remembered (at most ``max_users``)."""
        return len(self._history)

    @property
    def n_items(self) -> int:
        """Active items in the index."""
        return self._n_active


def _reason(token: str) -> str:
    kind, _, value = token.partition(":")
    if kind == "tag":
        return f"matches your interest in {value}"
    if kind == "partner":
        return f"from {value}, like something you chose before"
    return f"more {value.replace('_', ' ')} like what you liked"
