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

_REBASE_EXPONENT = 200.0


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
        self._max = float(self._long.max()) if self._long.shape[0] else 0.0
        # Late events are decayed relative to t_ref like any other: order does not matter.
        w = self._weights.get(interaction.kind, 1.0) * interaction.weight
        if (ts - self._t_ref) / min(self.half_life, self.trend_half_life) > _REBASE_EXPONENT:
            self._rebase(ts)
        long_f = 2.0 ** max(-1100.0, (ts - self._t_ref) / self.half_life)
        short_f = 2.0 ** max(-1100.0, (ts - self._t_ref) / self.trend_half_life)
        self._long[i] += w * long_f
        self._short[i] += w * short_f
        self._max = max(self._max, float(self._long[i]))
        self._t_last = max(self._t_last, ts)
        return None

    def _rebase(self, ts: float) -> None:
        assert self._t_ref is not None
        self._long *= 2.0 ** max(-1100.0, -(ts - self._t_ref) / self.half_life)
        self._short *= 2.0 ** max(-1100.0, -(ts - self._t_ref) / self.trend_half_life)
        self._t_ref = ts
        self._max = float(self._long.max()) if self._long.shape[0] else 0.0

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
        """Best ``k`` active rows with their relative score (items never seen are skipped)."""
        n = len(self.catalogue)
        m = min(n, self._long.shape[0])
        if trending:
            base = self.trending()[:m]
            top = 1.0
        else:
            base = self._long[:m]
            top = self._max if self._max > 0 else 1.0
        s = np.where(base > 0, base.astype(np.float32), np.float32(-np.inf))
        mask = self.catalogue.active[:m]
        if domain is not None:
            mask = mask & (self.catalogue.domain_codes[:m] == DOMAIN_CODE[domain])
        excl = [r for r in exclude_rows or () if r < m]
        rows = top_k(s, k, mask=mask, exclude_rows=excl, in_place=True)
        return [(r, float(s[r]) / top) for r in rows.tolist()]

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
