"""Item quality learnt online: each item's click rate relative to where, and to whom, it
was shown.

Why
---
The simulator's true click model (and, we assume, the world's) is *item quality* plus the
user's taste for the item's theme and domain, minus a position effect. Taste is covered by
the content cosine (``taste`` in :mod:`online_models.recommender`); the collaborative models
mostly learn popularity, which mixes quality with exposure luck. A per-item click rate is
the direct estimate of quality, once corrected for what makes raw click rates lie:

- **Position.** An item shown first gets more clicks than the same item shown tenth.
- **Taste.** An item the ranker shows to the users who like its theme gets clicks those
  users give anything of that theme; ranking everyone's list by that rate shows every user
  what some users like (closed loop, 120 s label window, weight 1: GT CTR 0.204 ->
  0.161 without this correction, 0.184 with it).

  :class:`ItemQuality` therefore keeps the click rate of every (position, taste bin) cell,
  all items together, and credits each impression with the clicks its cell predicts
  ("clicks over expected clicks", COEC): an item's *relative rate* is
  ``clicks / expected clicks``, 1 for an average item wherever and to whomever it was shown.
- **Little data.** Most items have a handful of labelled impressions. The relative rate is
  the posterior mean under a Gamma prior centred on the item's *domain* rate and worth
  ``prior_impressions`` average impressions (empirical Bayes, one pseudo-count)::

      rate(item) = (clicks + m·c̄·rate(domain)) / (expected + m·c̄)

  with ``m = prior_impressions`` and ``c̄`` the overall click rate, so an item shown twice
  stays near its domain's rate and a well-measured item speaks for itself.

The blend reads :meth:`ItemQuality.scores`: ``0.5 + ln(rate) / (2·ln(span))`` clipped to
[0, 1] — a fixed scale (not min-max within the candidates), so an average item scores 0.5
and ``span`` times the average click rate scores 1.

How much it can know: in a 30k-event closed loop an item has ~15 labelled impressions
(median) and ~2 clicks, so the estimate correlates ~0.25 with the simulator's true quality
(the same as correcting with the *true* taste match; position alone: 0.13) — the data, not
the correction, is the limit.

State is a few numpy arrays indexed by the owner's catalogue rows (grown by doubling), so a
request is one gather over its candidate rows. Memory is bounded by the catalogue; counts
are halved whenever an item's expected clicks pass ``memory``, so the estimate follows an
item whose quality changes (the click table and domain tables at ``100 x memory``).

It learns only from labelled impressions (``FullRanker.learn_impressions``): ``crossrec
replay`` feeds none, so there every item keeps its domain's rate.

>>> q = ItemQuality(prior_impressions=10)
>>> for _ in range(40):  # row 0 clicked at position 3 half the time, row 1 never
...     q.learn(0, 0, position=3, clicked=True)
...     q.learn(0, 0, position=3, clicked=False)
...     q.learn(1, 0, position=3, clicked=False)
>>> s = q.scores(np.array([0, 1, 7]), np.array([0, 0, 0], dtype=np.int8))
>>> bool(s[0] > 0.5 > s[1]), bool(s[2] == q.scores(np.array([9]), np.array([0]))[0])
(True, True)
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["ItemQuality"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_N_DOMAIN_SLOTS = 16
"""Domain codes tracked (the catalogue has 5; room for more without a layout change)."""


class ItemQuality:
    """Position-corrected, domain-shrunk click rate of every item (module docstring).

    Parameters
    ----------
    prior_impressions
        Weight of the domain prior, in average impressions (``m``).
    span
        Relative rate that scores 1 (its inverse scores 0) in :meth:`scores`.
    max_position
        Positions at or beyond it share one click-rate slot.
    memory
        Expected clicks after which an item's counts are halved (forgetting).
    prior_ctr
        Click rate assumed for every position before any label (worth 10 impressions).
    taste_bins
        Bins of the viewer's taste (in [0, 1]) the click table is kept for, with positions.
    seed
        Kept for River's conventions; the model is deterministic.
    """

    def __init__(
        self,
        prior_impressions: float = 20.0,
        span: float = 4.0,
        max_position: int = 20,
        memory: float = 200.0,
        prior_ctr: float = 0.05,
        taste_bins: int = 5,
        seed: int | None = None,
    ) -> None:
        if prior_impressions <= 0:
            raise ValueError(f"prior_impressions must be positive, got {prior_impressions}")
        if span <= 1.0:
            raise ValueError(f"span must be above 1, got {span}")
        if max_position < 0:
            raise ValueError(f"max_position must be >= 0, got {max_position}")
        if memory <= 0:
            raise ValueError(f"memory must be positive, got {memory}")
        if not 0.0 < prior_ctr < 1.0:
            raise ValueError(f"prior_ctr must be in (0, 1), got {prior_ctr}")
        if taste_bins < 1:
            raise ValueError(f"taste_bins must be positive, got {taste_bins}")
        self.prior_impressions = prior_impressions
        self.span = span
        self.max_position = max_position
        self.memory = memory
        self.prior_ctr = prior_ctr
        self.taste_bins = taste_bins
        self.seed = seed

        self._clicks: FloatArray = np.zeros(0)
        self._expected: FloatArray = np.zeros(0)
        # Click table: clicks and impressions per (position, taste bin), each cell with a
        # prior of 10 impressions at prior_ctr.
        cells = (max_position + 1, taste_bins)
        self._cell_clicks: FloatArray = np.full(cells, 10.0 * prior_ctr)
        self._cell_shown: FloatArray = np.full(cells, 10.0)
        self._total_clicks = float(self._cell_clicks.sum())  # the table's sums, kept up to date
        self._total_shown = float(self._cell_shown.sum())
        # Domain table: clicks and expected clicks per domain code (prior: one average item).
        self._dom_clicks: FloatArray = np.zeros(_N_DOMAIN_SLOTS)
        self._dom_expected: FloatArray = np.zeros(_N_DOMAIN_SLOTS)
        self.n_seen = 0
        self._refresh()

    # ------------------------------------------------------------------ learning
    def learn(
        self,
        row: int,
        domain_code: int,
        position: int,
        clicked: bool,
        taste: float | None = None,
    ) -> None:
        """One labelled impression of the item at catalogue ``row`` (domain ``domain_code``)
        shown at ``position`` (0 = first) to a user whose ``taste`` for it (e.g. the content
        cosine, in [0, 1]) or None (unknown: counted as no taste, 0).

        The impression is credited with the click rate of its position *and taste bin*: an
        item shown mostly to users who like its theme must beat what such users click
        anyway, or its quality would be their taste (and ranking by it would show every
        user what some users like)."""
        if row < 0:
            return None
        if row >= self._clicks.shape[0]:
            self._grow(row + 1)
        p = min(max(position, 0), self.max_position)
        click = 1.0 if clicked else 0.0
        # Unknown taste (None) counts as no taste: the bin of users without a profile.
        b = min(max(int((taste or 0.0) * self.taste_bins), 0), self.taste_bins - 1)
        expected = float(self._cell_clicks[p, b] / self._cell_shown[p, b])
        self._clicks[row] += click
        self._expected[row] += expected
        if self._expected[row] > self.memory:
            self._clicks[row] *= 0.5
            self._expected[row] *= 0.5
        self._cell_clicks[p, b] += click
        self._cell_shown[p, b] += 1.0
        self._total_clicks += click
        self._total_shown += 1.0
        if self._cell_shown[p, b] > 100.0 * self.memory / self.prior_ctr:
            self._total_clicks -= 0.5 * float(self._cell_clicks[p, b])
            self._total_shown -= 0.5 * float(self._cell_shown[p, b])
            self._cell_clicks[p, b] *= 0.5
            self._cell_shown[p, b] *= 0.5
        d = min(max(domain_code, 0), _N_DOMAIN_SLOTS - 1)
        self._dom_clicks[d] += click
        self._dom_expected[d] += expected
        if self._dom_expected[d] > 100.0 * self.memory:
            self._dom_clicks[d] *= 0.5
            self._dom_expected[d] *= 0.5
        self.n_seen += 1
        self._refresh()
        return None

    def _refresh(self) -> None:
        """Recompute what every request reads (overall click rate, the prior's weight, the
        domain rates): a few small-array operations per label rather than per request."""
        self._mean_ctr = self._total_clicks / self._total_shown
        self._prior = self.prior_impressions * self._mean_ctr
        self._dom_rates: FloatArray = (self._dom_clicks + self._prior) / (
            self._dom_expected + self._prior
        )

    def _grow(self, size: int) -> None:
        capacity = max(size, 2 * self._clicks.shape[0], 1024)
        for name in ("_clicks", "_expected"):
            old: FloatArray = getattr(self, name)
            new = np.zeros(capacity)
            new[: old.shape[0]] = old
            setattr(self, name, new)

    # ------------------------------------------------------------------ reading
    def mean_ctr(self) -> float:
        """Overall click rate of the labelled impressions (the prior's before any)."""
        return self._mean_ctr

    def domain_rates(self) -> FloatArray:
        """Relative click rate of each domain code (1 = average), lightly shrunk to 1."""
        return self._dom_rates.copy()

    def rates(self, rows: IntArray, domain_codes: npt.NDArray[np.integer]) -> FloatArray:
        """Relative click rate of the items at ``rows`` (1 = as their positions predict);
        rows never labelled get their domain's rate. One gather, no Python loop."""
        prior = self._prior
        dom = self._dom_rates[domain_codes]  # domain codes are small (catalogue.DOMAIN_CODE)
        rows = np.asarray(rows, dtype=np.int64)
        size = self._clicks.shape[0]
        if rows.shape[0] and int(rows.min()) >= 0 and int(rows.max()) < size:  # the usual case
            clicks, expected = self._clicks[rows], self._expected[rows]
        else:  # rows never labelled (beyond the arrays) count as no data
            known = (rows >= 0) & (rows < size)
            clicks, expected = np.zeros(rows.shape[0]), np.zeros(rows.shape[0])
            clicks[known] = self._clicks[rows[known]]
            expected[known] = self._expected[rows[known]]
        dom *= prior
        dom += clicks
        expected = expected + prior
        dom /= expected
        rates: FloatArray = dom
        return rates

    def scores(self, rows: IntArray, domain_codes: npt.NDArray[np.integer]) -> FloatArray:
        """:meth:`rates` on the blend's [0, 1] scale: ``0.5 + ln(rate) / (2 ln(span))``."""
        out = np.log(self.rates(rows, domain_codes))
        out *= 0.5 / math.log(self.span)
        out += 0.5
        np.maximum(out, 0.0, out=out)  # np.clip costs ~5x more on a short array
        clipped: FloatArray = np.minimum(out, 1.0, out=out)
        return clipped
