"""Time-decayed popularity (global and per domain) and trending, over catalogue rows.

Each item holds ``sum_e w_e * 2 ** ((t_e - t_ref) / half_life)``, i.e. event weights decayed
with a half-life, all expressed at a common reference time ``t_ref``. Ranking by that value
equals ranking by the popularity at any later time (decay multiplies every item by the same
factor), so nothing has to be updated when time passes; ``t_ref`` is moved forward (and the
array rescaled) only to keep numbers finite.

Trending = short-half-life popularity over long-half-life popularity (smoothed), so an item
that suddenly gets attention rises even if its all-time mass is small.

Per-domain popularity is the same array masked by
:attr:`~online_models.catalogue.Catalogue.domain_codes`: no extra state.

Why a leaderboard cache: the recommender asks for the global top ~200 on every request, and
scanning 100k rows for it costs ~100 µs. Values only ever grow (decay is folded into
``t_ref``), so the exact top ``LEADERBOARD_SIZE`` rows under the total order (value
descending, row ascending) can be kept up to date in O(1) per event: a row that rises above
the smallest member replaces it. A query filters the members (active, not excluded) and
falls back to a full scan only when fewer than ``k`` survive. The leaderboard is a pure
function of the values (rebuilt from them after unpickling or a rebase), so it never changes
a result; ties are always broken by row, whichever path answers.

>>> from online_models.types import Interaction, ItemInfo, Context
>>> pop = Popularity(half_life=3600.0)
>>> for it in ("a", "b"):
...     pop.upsert_item(ItemInfo(it, "course"))
>>> for ts, item in [(0.0, "a"), (10.0, "b"), (20.0, "b")]:
...     pop.learn(Interaction("u", item, "click", ts))
>>> [s.item_id for s in pop.recommend("anyone", 2, Context(ts=20.0))]
['b', 'a']
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from online_models.catalogue import DOMAIN_CODE, Catalogue
from online_models.matrix_factorisation import merged_kind_weights
from online_models.retrieval import top_k
from online_models.types import Context, Domain, Interaction, InteractionKind, ItemInfo, Scored
from online_models.users import grow_rows

FloatArray = npt.NDArray[np.float64]
IntRows = npt.NDArray[np.int64]

_REBASE_EXPONENT = 200.0
LEADERBOARD_SIZE = 1024
"""Rows kept in the popularity leaderboard cache (see module docstring)."""
_CACHES = ("_board", "_board_rows", "_board_min")
"""Attributes derived from ``_long``: rebuilt on demand, never pickled."""


def ordered_rows(rows: IntRows, values: FloatArray) -> IntRows:
    """``rows`` sorted by value descending, then row ascending (a total order).

    >>> ordered_rows(np.array([4, 2, 7]), np.array([1.0, 3.0, 3.0])).tolist()
    [2, 7, 4]
    """
    out: IntRows = rows[np.lexsort((rows, -values))]
    return out


class Popularity:
    """Decayed popularity with optional domain restriction; no per-user state."""

    def __init__(
        self,
        half_life: float = 7 * 24 * 3600.0,
        trend_half_life: float = 6 * 3600.0,
        kind_weights: dict[InteractionKind, float] | None = None,
        catalogue: Catalogue | None = None,
        seed: int = 0,
    ) -> None:
        self.half_life = half_life
        self.trend_half_life = trend_half_life
        self.kind_weights = kind_weights
        self.catalogue = catalogue if catalogue is not None else Catalogue()
        self.seed = seed
        self._weights = merged_kind_weights(kind_weights)
        self._long: FloatArray = np.zeros(16, dtype=np.float64)
        self._short: FloatArray = np.zeros(16, dtype=np.float64)
        self._t_ref: float | None = None
        self._t_last = -np.inf
        self._max = 0.0  # running maximum of _long (decay is uniform, so it stays exact)
        self.n_ignored = 0
        self._clear_caches()

    def _clear_caches(self) -> None:
        # Exact top rows of _long (see module docstring): row -> slot in _board_rows.
        self._board: dict[int, int] | None = None
        self._board_rows: IntRows = np.zeros(0, dtype=np.int64)
        self._board_min: tuple[float, int] | None = None  # lower bound of its smallest

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        for name in _CACHES:
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._clear_caches()

    def upsert_item(self, item: ItemInfo) -> None:
        self.catalogue.upsert(item)

    def knows_user(self, user: str) -> bool:
        """Always False: popularity keeps nothing per user."""
        return False

    def forget_user(self, user: str) -> None:
        """Popularity holds no per-user state: aggregate counts are not personal data."""
        return None

    def learn(self, interaction: Interaction) -> None:
        i = self.catalogue.row(interaction.item)
        if i is None and interaction.domain is not None:
            i = self.catalogue.upsert(ItemInfo(interaction.item, interaction.domain))
        if i is None:
            self.n_ignored += 1
            return None
        if i >= self._long.shape[0]:
            self._long = grow_rows(self._long, i + 1)  # type: ignore[assignment]
            self._short = grow_rows(self._short, i + 1)  # type: ignore[assignment]
        ts = float(interaction.ts)
        if self._t_ref is None:
            self._t_ref = ts
        # Late events are decayed relative to t_ref like any other: order does not matter.
        w = self._weights.get(interaction.kind, 1.0) * interaction.weight
        if (ts - self._t_ref) / min(self.half_life, self.trend_half_life) > _REBASE_EXPONENT:
            self._rebase(ts)
        long_f = 2.0 ** max(-1100.0, (ts - self._t_ref) / self.half_life)
        short_f = 2.0 ** max(-1100.0, (ts - self._t_ref) / self.trend_half_life)
        self._long[i] += w * long_f
        self._short[i] += w * short_f
        value = float(self._long[i])
        self._max = max(self._max, value)
        self._t_last = max(self._t_last, ts)
        if self._board is not None:
            self._board_rise(i, value)
        return None

    def _board_rise(self, row: int, value: float) -> None:
        """Keep the leaderboard exact after ``row``'s value grew to ``value``."""
        slots = self._board
        assert slots is not None
        if row in slots or value <= 0.0:
            return
        members = self._board_rows
        if len(slots) < LEADERBOARD_SIZE:
            # A board that is not full holds every positive row: a newly positive row joins.
            slots[row] = len(slots)
            self._board_rows = np.append(members, row)
            return
        lowest = self._board_min
        if lowest is not None and (value, -row) <= lowest:
            return  # below a lower bound of the smallest member (members only grow)
        values = self._long[members]
        low = float(values.min())
        tied = np.flatnonzero(values == low)
        slot = int(tied[np.argmax(members[tied])]) if tied.shape[0] > 1 else int(tied[0])
        last = int(members[slot])
        if (value, -row) > (low, -last):
            del slots[last]
            slots[row] = slot
            members[slot] = row
            self._board_min = None
        else:
            self._board_min = (low, -last)

    def _rebase(self, ts: float) -> None:
        assert self._t_ref is not None
        self._long *= 2.0 ** max(-1100.0, -(ts - self._t_ref) / self.half_life)
        self._short *= 2.0 ** max(-1100.0, -(ts - self._t_ref) / self.trend_half_life)
        self._t_ref = ts
        self._max = float(self._long.max()) if self._long.shape[0] else 0.0
        self._clear_caches()  # rescaling may create ties: rebuild the leaderboard

    def _leaderboard(self) -> IntRows:
        """Members of the leaderboard (unordered), built from ``_long`` when missing."""
        if self._board is None:
            positive = np.flatnonzero(self._long > 0.0)
            if positive.shape[0] > LEADERBOARD_SIZE:
                values = self._long[positive]
                cut = values.shape[0] - LEADERBOARD_SIZE
                positive = positive[values >= np.partition(values, cut)[cut]]
            best = ordered_rows(positive, self._long[positive])[:LEADERBOARD_SIZE]
            self._board_rows = best.copy()
            self._board = {r: j for j, r in enumerate(best.tolist())}
            self._board_min = None
        return self._board_rows

    def scores(self) -> FloatArray:
        """Relative popularity per catalogue row in [0, 1] (1 = most popular). Fresh array."""
        n = len(self.catalogue)
        out = np.zeros(n, dtype=np.float64)
        m = min(n, self._long.shape[0])
        out[:m] = self._long[:m]
        top = out.max() if n else 0.0
        if top > 0:
            out /= top
        return out

    def trending(self, smoothing: float = 1.0) -> FloatArray:
        """Short- over long-term popularity per row (both at the same reference time)."""
        n = len(self.catalogue)
        out = np.zeros(n, dtype=np.float64)
        m = min(n, self._long.shape[0])
        if self._t_ref is None or m == 0:
            return out
        # Bring both to the last event time before comparing.
        dt = self._t_last - self._t_ref
        short = self._short[:m] * 2.0 ** (-dt / self.trend_half_life)
        long = self._long[:m] * 2.0 ** (-dt / self.half_life)
        out[:m] = short / (long + smoothing)
        return out

    def top(
        self,
        k: int,
        *,
        domain: Domain | None = None,
        exclude_rows: list[int] | None = None,
        trending: bool = False,
    ) -> list[tuple[int, float]]:
        """Best ``k`` active rows with their relative score (items never seen are skipped),
        best first (ties by row): from the leaderboard (:meth:`top_rows`), except
        ``trending``, which ranks by float32 score through a full scan
        (:func:`~online_models.retrieval.top_k`).
        """
        if not trending:
            rows = self.top_rows(k, domain=domain, exclude_rows=exclude_rows)
            return list(zip(rows.tolist(), self.relative(rows).tolist(), strict=True))
        n = len(self.catalogue)
        m = min(n, self._long.shape[0])
        base = self.trending()[:m]
        s = np.where(base > 0, base.astype(np.float32), np.float32(-np.inf))
        mask = self.catalogue.active[:m]
        if domain is not None:
            mask = mask & (self.catalogue.domain_codes[:m] == DOMAIN_CODE[domain])
        excl = [r for r in exclude_rows or () if r < m]
        rows = top_k(s, k, mask=mask, exclude_rows=excl, in_place=True)
        return [(r, float(s[r])) for r in rows.tolist()]

    def top_rows(
        self, k: int, *, domain: Domain | None = None, exclude_rows: list[int] | None = None
    ) -> IntRows:
        """Best ``k`` active rows by popularity (value descending, then row ascending),
        items never seen skipped; answered from the leaderboard when it holds enough."""
        if k <= 0:
            return np.zeros(0, dtype=np.int64)
        members = self._leaderboard()
        slots = self._board
        assert slots is not None
        ok = self.catalogue.active[members]
        if domain is not None:
            ok &= self.catalogue.domain_codes[members] == DOMAIN_CODE[domain]
        for r in exclude_rows or ():
            slot = slots.get(r)
            if slot is not None:
                ok[slot] = False
        rows = members[ok]
        if rows.shape[0] < k and len(slots) >= LEADERBOARD_SIZE:
            rows = self._scan(domain, exclude_rows)
        if rows.shape[0] > k:
            values = self._long[rows]
            cut = rows.shape[0] - k
            rows = rows[values >= np.partition(values, cut)[cut]]
        return ordered_rows(rows, self._long[rows])[:k]

    def _scan(self, domain: Domain | None, exclude_rows: list[int] | None) -> IntRows:
        """Every eligible row (the slow path, when the leaderboard holds too few)."""
        m = min(len(self.catalogue), self._long.shape[0])
        ok = self._long[:m] > 0.0
        ok &= self.catalogue.active[:m]
        if domain is not None:
            ok &= self.catalogue.domain_codes[:m] == DOMAIN_CODE[domain]
        excl = [r for r in exclude_rows or () if r < m]
        if excl:
            ok[excl] = False
        return np.flatnonzero(ok)

    def relative(self, rows: npt.NDArray[np.int64]) -> FloatArray:
        """Relative popularity (share of the most popular item) of the given rows."""
        out = np.zeros(rows.shape[0], dtype=np.float64)
        ok = rows < self._long.shape[0]
        if self._max > 0:
            out[ok] = self._long[rows[ok]] / self._max
        return out

    def recommend(self, user: str, k: int, context: Context) -> list[Scored]:
        """The same list for everyone (``user`` is ignored), minus ``context.exclude``."""
        excl = self.catalogue.rows_of(context.exclude)
        out = []
        for r, v in self.top(k, exclude_rows=excl):
            item = self.catalogue.item_at(r)
            out.append(Scored(item.item_id, v, 0.0, f"popular in {item.domain}"))
        return out
