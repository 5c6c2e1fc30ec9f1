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
3. gathers the reached rows' token ids from a fixed-width mirror of the CSR matrix
   (:class:`~online_models.padded_rows.PaddedRows`: one ``take`` of whole rows, no
   segment arithmetic) and reads, per token, its contribution to the dot product and its
   squared TF-IDF value (a token's weight depends only on its kind, so value = weight x
   IDF is one small vector per catalogue change); per-row sums are taken in
   ``reduceat``'s order, so scores are bit for bit those of the CSR computation (rows
   longer than the mirror, or tokens whose weight changed mid-life, are scored from CSR);
4. selects the top ``k`` with one ``partition`` and one ``lexsort`` by (score, item id)
   over the rows at or above the cut; ids are compared through a fixed-width bytes copy
   of them (escaped UTF-8, ordered as ``str`` orders them; ~5x faster to sort than an
   object array of ``str``), kept in step by :meth:`ContentSimilarity.upsert_item`;
5. answers as :class:`~online_models.scorers.SourcePicks` (:meth:`ContentSimilarity.picks`,
   :meth:`ContentSimilarity.similar_picks`): the ``k`` ids, their scores as one array, and
   a reason worded only when asked for (the strongest tokens of the picks are found in one
   vectorised pass on the first request). :meth:`ContentSimilarity.candidates` and
   :meth:`ContentSimilarity.similar_to` are that answer as triples: one read path.

IDF (and the per-token values) depends on every active item, so it is one vector
recomputed lazily after a catalogue change; posting arrays are rebuilt lazily per changed
token; the padded mirror, the id array and the id sort keys are built on first read and
then kept in step by :meth:`ContentSimilarity.upsert_item`. All are caches: they are not
pickled (snapshots keep their layout, old snapshots load) and never change a result, so
reads stay free of observable side effects.

Memory per item (catalogue side): the CSR slots (16 bytes a token), ``start`` /
``length`` / ``active`` / ``domain`` (19 bytes), the padded mirror (4 bytes per slot of the
widest row, at most 8 slots: 20 bytes when the widest item is a partner item with 3
tags), 8 bytes in the id array, the id's sort key (the longest id's UTF-8 length rounded
up to 8 bytes, at most :data:`MAX_KEY_BYTES`; 24 bytes for ``restaurant_deal-99999``),
plus the id string and its ``row_of`` / postings entries. Measured at 100k items
(``bench/content_bench.py`` catalogue): ~460 bytes per item with its Python objects
(44 MiB) before the sort keys; the mirror and the id array are 28 of them (2.8 MiB).

Memory is bounded: ``max_users`` users (least recently seen evicted; the index may be shared
with other models, ``users.py``) x ``history_size`` items, a ring of (row, weight) per user:
8 bytes a slot, 164 bytes a user at the default 20 (a list of (id, weight) tuples in an
ordered dict took ~250 bytes for a user with one item, ~1.9 KB with twenty). Only items the
index has seen are remembered (an item without tokens adds nothing to a profile). Catalogue
state is one row per item ever seen plus its tokens. Reads
(:meth:`ContentSimilarity.picks`, :meth:`ContentSimilarity.candidates` and the like) have
no side effects.

>>> from online_models.types import Context, Interaction, ItemInfo
>>> content = ContentSimilarity()
>>> content.upsert_item(ItemInfo("c1", "course", tags=("cooking", "italian")))
>>> content.upsert_item(ItemInfo("f1", "fresh_food", tags=("cooking", "pasta")))
>>> content.upsert_item(ItemInfo("x1", "fashion", tags=("shoes",)))
>>> content.observe(Interaction(user="p:1", item="c1", kind="course_purchase", ts=0.0))
>>> [(item, reason) for item, _, reason in content.candidates("p:1", 5, Context(ts=1.0))]
[('f1', 'matches your interest in cooking')]
>>> picks = content.picks("p:1", 5, Context(ts=1.0))
>>> picks.item_ids, picks.reason(0)
(['f1'], 'matches your interest in cooking')
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from online_models.padded_rows import PaddedRows, csr_positions, row_sums
from online_models.row_bridge import rows_by_id
from online_models.scorers import RecentItems, SourcePicks
from online_models.types import Context, Interaction, ItemInfo
from online_models.users import UserIndex, grow_rows

__all__ = ["MAX_KEY_BYTES", "ContentSimilarity"]

MAX_KEY_BYTES = 64
"""Longest id (UTF-8 bytes, escaped) sorted through a bytes key array; beyond it, ties are
broken through the object array of ids (same order, ~5x slower)."""

Vector = dict[str, float]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
ObjectArray = npt.NDArray[np.object_]

_CACHES = (
    "_idf_cache",
    "_token_value_cache",
    "_posting_cache",
    "_reason_cache",
    "_padded_cache",
    "_id_cache",
    "_key_cache",
    "_scratch_cache",
)
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


class ContentSimilarity:
    """TF-IDF content similarity between items, and from a user's recent items to others.

    Satisfies :class:`online_models.scorers.CandidateSource` and
    :class:`online_models.scorers.PicksSource`.

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
    users
        A user index shared with other models (its cap applies instead of ``max_users``);
        a private one is created when None.
    history_source
        Another model's record of each user's recent items, read instead of keeping one
        here (each item then weighs 1, as every interaction from the stream does; see
        :class:`~online_models.scorers.RecentItems`). May be set after construction, before
        the first event; :meth:`observe` then keeps nothing.
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
        users: UserIndex | None = None,
        history_source: RecentItems | None = None,
        seed: int | None = None,
    ) -> None:
        if history_size < 1:
            raise ValueError(f"history_size must be positive, got {history_size}")
        self.tag_weight = tag_weight
        self.domain_weight = domain_weight
        self.partner_weight = partner_weight
        self.history_size = history_size
        self.recency_decay = recency_decay
        self._users = users if users is not None else UserIndex(max_users)
        self.max_users = self._users.max_users
        self._bit = self._users.attach(self)
        self.history_source = history_source
        self.max_postings = max_postings
        self.max_candidates = max_candidates
        self.same_domain_factor = same_domain_factor
        self.seed = seed

        # Per user row, a ring of the last ``history_size`` (item row, weight); _hist_len
        # counts every item ever added (the newest is at (len - 1) % history_size).
        self._hist_rows = np.zeros((16, history_size), dtype=np.int32)
        self._hist_weights = np.zeros((16, history_size), dtype=np.float32)
        self._hist_len = np.zeros(16, dtype=np.int32)
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
        self._token_value_cache: tuple[FloatArray, FloatArray] | None = None
        self._posting_cache: dict[int, IntArray] = {}
        self._reason_cache: dict[int, str] = {}
        self._padded_cache: PaddedRows | None = None
        self._id_cache: ObjectArray | None = None
        self._key_cache: npt.NDArray[Any] | None = None
        self._scratch_cache: npt.NDArray[np.int32] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for name in _CACHES:
            del state[name]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "_hist_len" not in state:
            raise ValueError(
                "ContentSimilarity state of an older layout; rebuild it from the catalogue"
            )
        self.__dict__.update(state)
        self._clear_caches()

    # ------------------------------------------------------------------ catalogue
    def _item_tokens(self, item: ItemInfo) -> Vector:
        """The item's tokens and weights, in name order: a row's dot product is summed slot
        by slot, so two items with the same tokens listed in different orders would score
        a rounding apart and their tie would not be broken by id (nor the same way in a
        model rebuilt with other token ids)."""
        tokens: Vector = {f"domain:{item.domain}": self.domain_weight}
        if item.partner:
            tokens[f"partner:{item.partner}"] = self.partner_weight
        for tag in item.tags:
            normalised = _normalise_tag(tag)
            if normalised:
                tokens[f"tag:{normalised}"] = self.tag_weight
        return {t: w for t, w in sorted(tokens.items()) if w > 0.0}

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
            if self._id_cache is not None:
                self._id_cache = _grown(self._id_cache, row + 1)
                self._id_cache[row] = item.item_id
            if self._key_cache is not None:
                self._key_cache = self._with_key(self._key_cache, row, item.item_id)
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
        weights = list(tokens.values())
        self._store_tokens(row, token_ids, weights)
        if self._padded_cache is not None:
            self._padded_cache.set_row(row, token_ids, weights)
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
        self._token_value_cache = None

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
        positions, offsets = csr_positions(self._start[:n], self._length[:n])
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

    def _padded(self) -> PaddedRows:
        """The fixed-width mirror of every row's tokens (built on first use)."""
        padded = self._padded_cache
        if padded is None:
            padded = self._padded_cache = PaddedRows.from_csr(
                self._start, self._length, self._flat_token, self._flat_weight, len(self._ids)
            )
        return padded

    def _id_array(self) -> ObjectArray:
        """Item ids by row as an object array, for vectorised id tie-breaks."""
        ids = self._id_cache
        if ids is None:
            ids = self._id_cache = np.empty(max(64, len(self._ids)), dtype=object)
            ids[: len(self._ids)] = self._ids
        return ids

    def _sort_keys(self) -> npt.NDArray[Any]:
        """Per row, a key that sorts as the row's item id does (``argsort`` of keys = id
        order): the id's escaped UTF-8 bytes (:func:`_sort_key`) as a fixed-width bytes
        array, which numpy sorts ~5x faster than an object array of ``str`` (C ``memcmp``,
        no Python comparisons). Ids longer than :data:`MAX_KEY_BYTES` would make every key
        that wide, so then the object array of ids serves instead (same order, slower).

        Built on first read (O(n)), then kept in step by :meth:`upsert_item` (amortised
        O(1) per new id; a longer id widens the array, at most ``MAX_KEY_BYTES / 8`` times
        in the model's life)."""
        keys = self._key_cache
        if keys is None:
            encoded = [_sort_key(item_id) for item_id in self._ids]
            width = max(map(len, encoded), default=1)
            if width > MAX_KEY_BYTES:
                keys = self._id_array()
            else:
                keys = np.zeros(max(64, len(encoded)), dtype=f"S{_key_width(width)}")
                keys[: len(encoded)] = encoded
            self._key_cache = keys
        return keys

    def _with_key(self, keys: npt.NDArray[Any], row: int, item_id: str) -> npt.NDArray[Any] | None:
        """``keys`` (grown, widened if needed) with ``row``'s key set; None when the id is
        too long for bytes keys (the next read rebuilds them as the object array)."""
        if keys.dtype == np.object_:
            keys = _grown(keys, row + 1)
            keys[row] = item_id
            return keys
        key = _sort_key(item_id)
        if len(key) > keys.dtype.itemsize:
            if len(key) > MAX_KEY_BYTES:
                return None
            keys = keys.astype(f"S{_key_width(len(key))}")
        keys = _grown(keys, row + 1)
        keys[row] = key
        return keys

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

    @property
    def ids(self) -> list[str]:
        """Item id by row (append-only: an id keeps its row; see
        :class:`~online_models.row_bridge.RowSpace`; do not mutate)."""
        return self._ids

    def rows_or_missing(self, item_ids: Sequence[str]) -> IntArray:
        """Row of each id, -1 where the id was never upserted (one vector, in order)."""
        return rows_by_id(self._row_of, item_ids)

    # ------------------------------------------------------------------ users
    def observe(self, interaction: Interaction) -> None:
        """Remember the user's recent item (bounded history, bounded users); returns None."""
        item = self._row_of.get(interaction.item)
        if interaction.weight <= 0.0 or item is None or self.history_source is not None:
            return None
        user, _ = self._users.touch(interaction.user, self._bit)
        if user >= self._hist_len.shape[0]:
            for name in ("_hist_rows", "_hist_weights", "_hist_len"):
                setattr(self, name, grow_rows(getattr(self, name), user + 1))
        n = int(self._hist_len[user])
        self._hist_rows[user, n % self.history_size] = item
        self._hist_weights[user, n % self.history_size] = interaction.weight
        self._hist_len[user] = n + 1
        return None

    def release_rows(self, rows: list[int]) -> None:
        """Empty the histories of users the index let go (see ``users.py``)."""
        self._hist_len[[r for r in rows if r < self._hist_len.shape[0]]] = 0

    def forget_user(self, user: str) -> None:
        """Erase the user's remembered items."""
        self._users.remove(user)

    def _recent(self, user: str) -> list[tuple[str, float]]:
        """The user's remembered (item id, weight), most recent first."""
        if self.history_source is not None:
            recent = self.history_source.history(user)[: self.history_size]
            return [(item, 1.0) for item in recent if item in self._row_of]
        row = self._users.row(user, self._bit)
        if row is None:
            return []
        n, size = int(self._hist_len[row]), self.history_size
        ring = (np.arange(n - 1, n - 1 - min(n, size), -1)) % size
        ids = self._ids
        return [
            (ids[item], weight)
            for item, weight in zip(
                self._hist_rows[row, ring].tolist(),
                self._hist_weights[row, ring].tolist(),
                strict=True,
            )
        ]

    def recent_items(self, user: str) -> list[str]:
        """The user's remembered items, most recent first (pure)."""
        return [item for item, _ in self._recent(user)]

    # ------------------------------------------------------------------ reading (pure)
    def candidates(self, user: str, k: int, context: Context) -> list[tuple[str, float, str]]:
        """Up to ``k`` items most similar to the user's recent items (excluding those and
        ``context.exclude``), best first, as ``(item_id, score in [0, 1], reason)``: the
        triples form of :meth:`picks`."""
        return self.picks(user, k, context).as_triples()

    def picks(self, user: str, k: int, context: Context) -> SourcePicks:
        """:meth:`candidates` as :class:`~online_models.scorers.SourcePicks` (no tuple per
        candidate; a reason is worded only when asked for).

        A user with no remembered item yet is answered from ``context.trigger_item`` (the
        item of the event being answered, not learnt yet): a brand-new user's first list is
        then "more like what you just chose" rather than popularity alone.

        >>> content = ContentSimilarity()
        >>> for item_id, domain, tag in (("a", "course", "go"), ("b", "course", "go"),
        ...                              ("c", "fashion", "shoes")):
        ...     content.upsert_item(ItemInfo(item_id, domain, tags=(tag,)))
        >>> content.picks("new", 5, Context(ts=0.0)).item_ids
        []
        >>> content.picks("new", 5, Context(ts=0.0, trigger_item="a")).item_ids
        ['b']
        """
        weighted = self._weighted_history(user)
        if not weighted and context.trigger_item is not None:
            weighted = {context.trigger_item: 1.0}
        return self.similar_picks(weighted, k, context) if weighted else _no_picks()

    def taste(self, user: str, item_ids: Sequence[str]) -> FloatArray | None:
        """How well each of ``item_ids`` matches the user's tag profile: the cosine
        :attr:`SourcePicks.similarity` of the user's :meth:`picks` gives them (0 for an
        unknown item), without walking any candidates; None for a user without a profile.

        >>> content = ContentSimilarity()
        >>> for item_id in ("a", "b"):
        ...     content.upsert_item(ItemInfo(item_id, "course", tags=("go",)))
        >>> content.observe(Interaction("u", "a", "click", ts=0.0))
        >>> content.taste("u", ["b", "zz"]).tolist(), content.taste("stranger", ["b"])
        ([1.0, 0.0], None)
        """
        weighted = self._weighted_history(user)
        found = self._profile(weighted) if weighted else None
        if found is None:
            return None
        shifted_profile = found[0]
        profile = shifted_profile[1:]
        profile_norm = math.sqrt(float(np.dot(profile, profile)))
        per_token = self._per_token(shifted_profile)
        rows = self.rows_or_missing(item_ids)
        return self._similarity(shifted_profile, per_token, profile_norm, rows)

    def similar_to(
        self,
        items: Mapping[str, float] | Sequence[str],
        k: int,
        context: Context,
    ) -> list[tuple[str, float, str]]:
        """Up to ``k`` items most similar to ``items`` (ids, or ids -> weights), e.g. the
        trigger item of a brand-new user; the seed items themselves are excluded. The
        triples form of :meth:`similar_picks`."""
        return self.similar_picks(items, k, context).as_triples()

    def _weighted_history(self, user: str) -> dict[str, float]:
        """The user's remembered items -> ``weight x recency_decay ** age`` (summed)."""
        decay = self.recency_decay
        weighted: dict[str, float] = {}
        for age, (item, weight) in enumerate(self._recent(user)):
            weighted[item] = weighted.get(item, 0.0) + weight * decay**age
        return weighted

    def similar_picks(
        self,
        items: Mapping[str, float] | Sequence[str],
        k: int,
        context: Context,
    ) -> SourcePicks:
        """:meth:`similar_to` as :class:`~online_models.scorers.SourcePicks`: the one read
        path behind every read method."""
        seeds: Mapping[str, float] = (
            items if isinstance(items, Mapping) else dict.fromkeys(items, 1.0)
        )
        if k <= 0:
            return _no_picks()
        found = self._profile(seeds)
        if found is None:
            return _no_picks()
        shifted_profile, nonzero, seed_rows = found
        profile = shifted_profile[1:]
        rows = self._reach(profile, nonzero, seed_rows, context)
        if rows.shape[0] == 0:
            return _no_picks()
        per_token = self._per_token(shifted_profile)
        dots, norms, tokens, gathered = self._dots_and_norms(rows, shifted_profile, per_token)
        profile_norm = math.sqrt(float(np.dot(profile, profile)))
        scores = dots / (norms * profile_norm)
        trigger = self._domain_codes.get(context.trigger_domain or "")
        if trigger is not None and self.same_domain_factor != 1.0:
            same = self._domain[rows] == trigger
            np.multiply(scores, self.same_domain_factor, out=scores, where=same)
        np.minimum(scores, 1.0, out=scores)
        chosen = self._best(dots, scores, rows, k)
        chosen_rows = rows[chosen]
        item_ids: list[str] = self._id_array()[chosen_rows].tolist()
        # Reason = strongest token, the first one on ties. Rows the mirror cannot score are
        # read from CSR now (the catalogue may change before a reason is asked for).
        from_csr: dict[int, int] = {}
        padded = self._padded()
        if not padded.uniform or padded.overflow:
            wide = (
                np.flatnonzero(self._length[chosen_rows] > padded.width).tolist()
                if padded.uniform
                else range(chosen.shape[0])
            )
            for j in wide:
                from_csr[j] = self._strongest_token(int(chosen_rows[j]), profile)
        reasons = _Reasons(self, chosen, gathered, tokens, from_csr)
        similarity = functools.partial(self._similarity, shifted_profile, per_token, profile_norm)
        return SourcePicks(item_ids, scores[chosen], reasons, similarity, chosen_rows)

    def _per_token(self, shifted_profile: FloatArray) -> FloatArray | None:
        """Per token (laid out like the padded mirror): its contribution to a dot product
        with the profile and its squared value; None when the mirror cannot be used."""
        if not self._padded().uniform:
            return None
        values, squares = self._token_values()
        per_token = np.empty((values.shape[0], 2))
        np.multiply(values, shifted_profile, out=per_token[:, 0])
        per_token[:, 1] = squares
        return per_token

    def _dots_and_norms(
        self, rows: IntArray, shifted_profile: FloatArray, per_token: FloatArray | None
    ) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int32] | None, FloatArray | None]:
        """Each row's dot product with the profile and its norm, all its tokens counted
        (``per_token``: :meth:`_per_token` of the profile); plus, when read from the padded
        mirror, the rows' tokens and per-slot (contribution, square) pairs (reasons reuse
        them)."""
        profile = shifted_profile[1:]
        padded = self._padded()
        tokens: npt.NDArray[np.int32] | None = None
        gathered: FloatArray | None = None
        if per_token is not None:
            # Every slot of every row gathered in one go (width x rows x 2). np.take copies
            # whole rows; fancy indexing of 2-D arrays is ~5x slower.
            tokens = np.take(padded.tokens, rows, axis=0).T
            gathered = np.take(per_token, tokens, axis=0)
            sums = row_sums(gathered)
            dots = sums[:, 0]
            norms = np.sqrt(sums[:, 1])
            if padded.overflow:
                self._score_from_csr(rows, profile, dots, norms, padded.width)
        else:
            dots, norms = np.zeros(rows.shape[0]), np.zeros(rows.shape[0])
            self._score_from_csr(rows, profile, dots, norms, 0)
        return dots, norms, tokens, gathered

    def _similarity(
        self,
        shifted_profile: FloatArray,
        per_token: FloatArray | None,
        profile_norm: float,
        rows: IntArray,
    ) -> FloatArray:
        """:attr:`SourcePicks.similarity` of a request: the cosine of each of ``rows`` (rows
        of :attr:`ids`; 0 for -1, an item this model does not know) with the profile its
        picks came from, in [0, 1], without the trigger-domain factor. Reads the catalogue
        as it is when called (call it within the request, as the recommender does)."""
        out = np.zeros(rows.shape[0])
        known = np.flatnonzero(rows >= 0)
        if known.shape[0]:
            dots, norms, _, _ = self._dots_and_norms(rows[known], shifted_profile, per_token)
            scale = norms * profile_norm
            cosines = np.divide(dots, scale, out=np.zeros_like(dots), where=scale > 0)
            out[known] = np.minimum(cosines, 1.0)
        return out

    def _token_values(self) -> tuple[FloatArray, FloatArray]:
        """Each token's TF-IDF value (weight x IDF) and its square, laid out like
        :class:`PaddedRows` tokens (entry 0, the empty slot, is 0); cached with the IDF."""
        cached = self._token_value_cache
        if cached is None:
            idf = self._idf()
            values = np.zeros(idf.shape[0] + 1)
            values[1:] = self._padded().shifted_weights(idf.shape[0])[1:] * idf
            cached = self._token_value_cache = (values, values * values)
        return cached

    def _score_from_csr(
        self,
        rows: IntArray,
        profile: FloatArray,
        dots: FloatArray,
        norms: FloatArray,
        width: int,
    ) -> None:
        """Score, straight from the CSR arrays, the rows longer than ``width`` (the padded
        mirror cannot hold them; ``width=0``: every row)."""
        wide = np.flatnonzero(self._length[rows] > width)
        if wide.shape[0] == 0:
            return
        tokens, values, _, offsets = self._csr_values(rows[wide])
        dots[wide] = np.add.reduceat(values * profile[tokens], offsets)
        norms[wide] = np.sqrt(np.add.reduceat(values * values, offsets))

    def _csr_values(self, rows: IntArray) -> tuple[IntArray, FloatArray, IntArray, IntArray]:
        """The rows' tokens and TF-IDF values read from the CSR arrays, laid end to end, with
        each row's length and offset in that concatenation."""
        lengths = self._length[rows]
        positions, offsets = csr_positions(self._start[rows], lengths)
        tokens = self._flat_token[positions]
        values = self._flat_weight[positions] * self._idf()[tokens]
        return tokens, values, lengths, offsets

    def _strongest_token(self, row: int, profile: FloatArray) -> int:
        """The row's token contributing most to the dot product (first on ties; -1: none)."""
        tokens, weights = self._row_tokens(row)
        idf = self._idf()
        best_token, best_contribution = -1, 0.0
        for token, weight in zip(tokens, weights, strict=True):
            contribution = float(weight * idf[token] * profile[token])
            if contribution > best_contribution:
                best_token, best_contribution = token, contribution
        return best_token

    def _profile(self, seeds: Mapping[str, float]) -> tuple[FloatArray, IntArray, list[int]] | None:
        """Dense profile over token ids (weighted sum of the seeds' TF-IDF vectors, negative
        entries dropped) laid out like :class:`PaddedRows` tokens (token ``t`` at ``t + 1``,
        entry 0 for the empty slot, always 0), the ids of its non-zero tokens and the rows of
        the seeds in the catalogue; None when it has no positive entry."""
        row_of = self._row_of
        found = [row_of.get(item_id) for item_id in seeds]
        seed_weights = list(seeds.values())
        if None in found:
            known = [(r, w) for r, w in zip(found, seed_weights, strict=True) if r is not None]
            seed_rows, seed_weights = [r for r, _ in known], [w for _, w in known]
        else:
            seed_rows = cast(list[int], found)
        if not seed_rows:
            return None
        padded = self._padded()
        rows = np.array(seed_rows, dtype=np.int64)
        n_tokens = len(self._token_names)
        if not padded.uniform or (
            padded.overflow and bool((self._length[rows] > padded.width).any())
        ):
            shifted = np.zeros(n_tokens + 1)
            shifted[1:] = self._csr_profile(rows, seed_weights)
        else:
            # Seed by seed, slot by slot: the order in which CSR adds them up.
            tokens = np.take(padded.tokens, rows, axis=0)
            values = self._token_values()[0][tokens]
            values *= np.array(seed_weights, dtype=np.float64)[:, None]
            # float64 with weights (the stubs say int).
            shifted = cast(
                FloatArray,
                np.bincount(tokens.ravel(), weights=values.ravel(), minlength=n_tokens + 1),
            )
            shifted[0] = 0.0
        # Negative (and NaN) entries become 0 (fmax keeps a -0.0, which counts as 0 everywhere).
        np.fmax(shifted, 0.0, out=shifted)
        nonzero = shifted[1:].nonzero()[0]
        return (shifted, nonzero, seed_rows) if nonzero.shape[0] else None

    def _csr_profile(self, rows: IntArray, seed_weights: list[float]) -> FloatArray:
        """The raw profile read from the CSR arrays (a seed is longer than the mirror)."""
        tokens, values, lengths, _ = self._csr_values(rows)
        values *= np.repeat(np.array(seed_weights, dtype=np.float64), lengths)
        profile: FloatArray = np.bincount(
            tokens, weights=values, minlength=len(self._token_names)
        ).astype(np.float64, copy=False)
        return profile

    def _reach(
        self,
        profile: FloatArray,
        nonzero: IntArray,
        seed_rows: list[int],
        context: Context,
    ) -> IntArray:
        """Rows reached by walking postings, strongest profile token first, whole lists
        only (so the set does not depend on set order), until ``max_candidates``.

        The set is what walking one token at a time gives; the order of the rows is not
        (nothing downstream depends on it: ties are broken by item id)."""
        # Tokens that may be walked (long postings are skipped; a token's postings hold
        # exactly its document frequency), strongest first, then by name (a profile has a
        # few dozen tokens: a Python sort beats numpy's call overheads).
        max_postings, names = self.max_postings, self._token_names
        walk: list[tuple[float, str, int, int]] = sorted(
            (-strength, names[token], token, size)
            for token, strength, size in zip(
                nonzero.tolist(),
                profile[nonzero].tolist(),
                self._df[nonzero].tolist(),
                strict=True,
            )
            if size <= max_postings
        )
        reached = np.zeros(len(self._ids), dtype=np.bool_)
        row_of = self._row_of
        excluded = [*seed_rows, *(row_of.get(i) for i in context.exclude)]
        reached[[r for r in excluded if r is not None]] = True  # marked, never counted
        parts: list[IntArray] = []
        count, i = 0, 0
        while i < len(walk) and (count < self.max_candidates or i == 0):
            # The shortest run of tokens that could reach max_candidates is walked whole
            # anyway (fewer items cannot get there), so it is merged in one pass.
            missing, total, j = self.max_candidates - count, 0, i
            while j < len(walk) and (total < missing or j == i):
                total += walk[j][3]
                j += 1
            batch = [self._posting_rows(token) for _, _, token, size in walk[i:j] if size]
            i = j
            if len(batch) <= 2:  # fewer numpy calls one list at a time
                for rows in batch:
                    fresh = rows[~reached[rows]]
                    reached[fresh] = True
                    parts.append(fresh)
                    count += fresh.shape[0]
            else:
                rows = np.concatenate(batch)
                # One occurrence per row: the one whose position the scratch kept (stale
                # entries are never read: every row read here was just written).
                scratch = self._scratch(len(self._ids))
                positions = np.arange(1, rows.shape[0] + 1, dtype=np.int32)
                scratch[rows] = positions
                fresh = rows[(scratch[rows] == positions) & ~reached[rows]]
                reached[fresh] = True
                parts.append(fresh)
                count += fresh.shape[0]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def _scratch(self, size: int) -> npt.NDArray[np.int32]:
        """A reusable int32 vector of at least ``size`` entries with arbitrary content
        (a fresh one per request would cost page faults at 100k items). Its content never
        reaches a result, but two threads reading the same model at once would share it:
        like the other models, one model serves one thread (the worker's event loop)."""
        scratch = self._scratch_cache
        if scratch is None or scratch.shape[0] < size:
            scratch = self._scratch_cache = np.zeros(max(64, 2 * size), dtype=np.int32)
        return scratch

    def _best(self, dots: FloatArray, scores: FloatArray, rows: IntArray, k: int) -> IntArray:
        """Positions (into ``rows``) of the ``k`` best scores among rows with a positive dot
        product, best first; equal scores are ordered by item id.

        The ``k``-th best score is found with one ``partition`` (rows without a positive dot
        product score -inf there); every row scoring at least that much (those above it and
        all tied with it) is then ordered by score and, among equal scores, by
        :meth:`_sort_keys` (which order as the ids do) in one ``lexsort``, and the first
        ``k`` are kept."""
        positive = dots > 0.0
        n = rows.shape[0]
        threshold, masked = -math.inf, scores
        if n > k:
            masked = np.where(positive, scores, -np.inf)
            threshold = float(np.partition(masked, n - k)[n - k])
        if math.isfinite(threshold):
            top = (masked >= threshold).nonzero()[0]
        else:  # fewer than k candidates, or odd (NaN) scores: cut the positive rows alone
            top = _cut(positive.nonzero()[0], scores, k)
        ranked: IntArray = top[np.lexsort((self._sort_keys()[rows[top]], -scores[top]))[:k]]
        return ranked

    def _reason(self, token: int) -> str:
        reason = self._reason_cache.get(token)
        if reason is None:
            name = self._token_names[token] if token >= 0 else ""
            reason = self._reason_cache[token] = _reason(name)
        return reason

    @property
    def n_users(self) -> int:
        """Users whose recent items are remembered (at most ``max_users``)."""
        return self._users.count(self._bit)

    @property
    def n_items(self) -> int:
        """Active items in the index."""
        return self._n_active


class _Reasons:
    """Pick ``j``'s reason, worded on demand: the strongest token of every pick is found in
    one vectorised pass the first time any reason is asked for (argmax: the first slot on
    ties). Holds only copies made for the request (and the append-only token names), so
    later catalogue changes do not alter it."""

    __slots__ = ("_best", "_chosen", "_contributions", "_from_csr", "_model", "_tokens", "_words")

    def __init__(
        self,
        model: ContentSimilarity,
        chosen: IntArray,
        gathered: FloatArray | None,
        tokens: npt.NDArray[np.int32] | None,
        from_csr: dict[int, int],
    ) -> None:
        self._model = model
        self._chosen = chosen
        self._contributions = gathered
        self._tokens = tokens
        self._from_csr = from_csr
        self._words = model._reason_cache  # token -> reason, shared with the model
        self._best: list[int] | None = None

    def __call__(self, j: int) -> str:
        best = self._best
        if best is None:
            best = self._best = self._best_tokens()
        token = best[j]
        return self._words.get(token) or self._model._reason(token)

    def _best_tokens(self) -> list[int]:
        chosen, gathered, tokens = self._chosen, self._contributions, self._tokens
        if gathered is None or tokens is None:
            best = [-1] * chosen.shape[0]
        else:
            strongest = np.argmax(np.take(gathered[:, :, 0], chosen, axis=1), axis=0)
            best = (tokens[strongest, chosen] - 1).tolist()
        for j, token in self._from_csr.items():
            best[j] = token
        return best


def _cut(kept: IntArray, scores: FloatArray, k: int) -> IntArray:
    """The ``kept`` positions scoring at least the ``k``-th best of them (all of them when
    there are at most ``k``), as ``partition`` orders scores (NaN above all)."""
    if kept.shape[0] <= k:
        return kept
    kept_scores = scores[kept]
    threshold = np.partition(kept_scores, kept.shape[0] - k)[kept.shape[0] - k]
    top: IntArray = kept[(kept_scores > threshold) | (kept_scores == threshold)]
    return top


def _no_reason(j: int) -> str:
    raise IndexError(f"no pick {j}: the answer is empty")


def _no_picks() -> SourcePicks:
    return SourcePicks([], np.zeros(0), _no_reason)


def _sort_key(item_id: str) -> bytes:
    """Bytes that compare (``memcmp``, shorter first on a common prefix) as ``item_id``
    compares as a ``str``, and never contain a NUL byte, since fixed-width numpy bytes
    arrays drop trailing NULs: UTF-8 keeps code point order (``surrogatepass`` included),
    and the escape ``01 -> 01 02``, ``00 -> 01 01`` keeps byte order and is prefix-free.

    >>> ids = ["b", "a" + chr(0), "a", "a" + chr(1), "é", "z", "a" + chr(0) * 2, chr(0xDC80)]
    >>> sorted(ids) == sorted(ids, key=_sort_key)
    True
    """
    key = item_id.encode("utf-8", "surrogatepass")
    if b"\x01" in key or b"\x00" in key:
        key = key.replace(b"\x01", b"\x01\x02").replace(b"\x00", b"\x01\x01")
    return key


def _key_width(size: int) -> int:
    """Key array width for keys of ``size`` bytes: a multiple of 8 (fewer widenings)."""
    return max(8, -(-size // 8) * 8)


def _reason(token: str) -> str:
    kind, _, value = token.partition(":")
    if kind == "tag":
        return f"matches your interest in {value}"
    if kind == "partner":
        return f"from {value}, like something you chose before"
    return f"more {value.replace('_', ' ')} like what you liked"
