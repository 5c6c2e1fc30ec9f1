"""Cross-domain biased matrix factorisation in numpy float32, learned online with SGD.

One shared factor space holds users and items of every domain, so a user's course
purchases move them towards partner items bought by similar users (cross-domain transfer).

Why our own instead of River's ``reco.BiasedMF``: River keeps factors in per-user dicts,
``predict_one`` on an unknown id inserts a random vector, and ranking a catalogue means one
``predict_one`` per item (~0.3 s at 100k items). Here user factors are rows of a
preallocated float32 matrix (one million users ≈ 130 MB), item factors are rows of a matrix
aligned with :class:`~online_models.catalogue.Catalogue` rows, and retrieval is one mat-vec.

Two kinds of feedback, one model:

- explicit ratings (``Interaction.rating`` set): squared loss on
  ``mu + b_u + b_i + p_u·q_i`` (``mu`` is the running mean rating), classic biased SGD;
- implicit feedback (clicks, purchases, orders): logistic loss on ``b_i + p_u·q_i`` with
  target 1 weighted by the kind (``kind_weights``: click < partner order ≈ course purchase)
  and ``n_negatives`` sampled items with target 0. Negatives are drawn either uniformly
  from learned items or from a ring of recent positives (``"popularity"``, i.e. proportional
  to recent popularity, which stops the model from just learning popularity).

Unknown users/items are never given vectors at prediction time: :meth:`predict_rating`
falls back to ``mu + b_u`` or ``mu + b_i`` (cold start), :meth:`recommend` ranks unknown
users by item bias only. Items get factors only once they are learned from.

Retrieval (:meth:`top_rows`) considers only items with at least ``min_support`` positive
interactions. With one, an item's factor row is its random initialisation plus a single
step, so its score ranks noise; such items reach lists through the cold-start sources
(content similarity, popularity, exploration) instead. It is also what keeps retrieval
cheap on a long-tail catalogue: scoring is memory-bound (100k rows x 32 float32 = 12.8 MB
per request, ~0.5 ms), and in the model benchmark at 100k items only ~6 % of the items had
a second interaction while 99 % of the exact top-50 came from them.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from online_models.catalogue import Catalogue
from online_models.retrieval import top_k
from online_models.types import Context, Interaction, InteractionKind, ItemInfo, Scored
from online_models.users import UserIndex, grow_rows

FloatArray = npt.NDArray[np.float32]

DEFAULT_KIND_WEIGHTS: dict[InteractionKind, float] = {
    "click": 1.0,
    "partner_order": 3.0,
    "course_purchase": 3.0,
    "rating": 1.0,
}

REASON = "people like you"


def merged_kind_weights(
    overrides: dict[InteractionKind, float] | None,
) -> dict[InteractionKind, float]:
    """:data:`DEFAULT_KIND_WEIGHTS` updated with ``overrides``."""
    weights = dict(DEFAULT_KIND_WEIGHTS)
    weights.update(overrides or {})
    return weights


def _sigmoid(x: FloatArray) -> FloatArray:
    out: FloatArray = (1.0 / (1.0 + np.exp(-np.clip(x, -30.0, 30.0)))).astype(np.float32)
    return out


class MatrixFactorisation:
    """Biased MF over a shared user/item factor space (see module docstring).

    Parameters
    ----------
    n_factors: latent dimension.
    lr: SGD step for factors; ``lr_bias`` for biases.
    l2: L2 penalty on factors; ``l2_bias`` on biases.
    bias_shrinkage: for explicit ratings, a bias's step is ``max(lr_bias, 1/(n + shrinkage))``
        after ``n`` ratings, so biases of new users/items converge in a few ratings
        (0 disables).
    init_std: std of the Normal initialisation of new user and item factors.
    kind_weights: weight of a positive implicit event per kind (times ``Interaction.weight``).
    n_negatives: sampled negatives per implicit positive.
    negative_sampling: ``"popularity"`` (from a ring of recent positives) or ``"uniform"``.
    max_users: cap on known users (least recently seen evicted, see ``users.py``).
    users: a user index shared with other models (its cap applies instead of ``max_users``);
        a private one is created when None.
    min_support: positive interactions an item needs before :meth:`top_rows` retrieves it.
    catalogue: shared catalogue; a private one is created when None.
    seed: seeds initialisation and negative sampling.

    >>> from online_models.types import Interaction, ItemInfo, Context
    >>> mf = MatrixFactorisation(n_factors=4, seed=1)
    >>> mf.upsert_item(ItemInfo("a", "course")); mf.upsert_item(ItemInfo("b", "course"))
    >>> mf.learn(Interaction("u", "a", "rating", 0.0, rating=4.0))
    >>> round(mf.predict_rating("nobody", "a"), 2)  # cold start: mu + b_i, nothing inserted
    4.0
    >>> mf.knows_user("nobody")
    False
    """

    def __init__(
        self,
        n_factors: int = 32,
        lr: float = 0.05,
        lr_bias: float = 0.01,
        l2: float = 0.05,
        l2_bias: float = 0.003,
        bias_shrinkage: float = 3.0,
        init_std: float = 0.1,
        kind_weights: dict[InteractionKind, float] | None = None,
        n_negatives: int = 4,
        negative_sampling: str = "uniform",
        max_users: int | None = None,
        min_support: int = 2,
        catalogue: Catalogue | None = None,
        users: UserIndex | None = None,
        seed: int = 0,
    ) -> None:
        if negative_sampling not in ("popularity", "uniform"):
            raise ValueError("negative_sampling must be 'popularity' or 'uniform'")
        self.n_factors = n_factors
        self.lr = lr
        self.lr_bias = lr_bias
        self.l2 = l2
        self.l2_bias = l2_bias
        self.bias_shrinkage = bias_shrinkage
        self.init_std = init_std
        self.kind_weights = kind_weights
        self.n_negatives = n_negatives
        self.negative_sampling = negative_sampling
        self._users = users if users is not None else UserIndex(max_users)
        self.max_users = self._users.max_users
        self._bit = self._users.attach(self)
        self.min_support = min_support
        self.catalogue = catalogue if catalogue is not None else Catalogue()
        self.seed = seed
        self._weights = merged_kind_weights(kind_weights)
        self._rng = np.random.default_rng(seed)
        self._P: FloatArray = np.zeros((16, n_factors), dtype=np.float32)
        self._bu: FloatArray = np.zeros(16, dtype=np.float32)
        self._un: FloatArray = np.zeros(16, dtype=np.float32)
        self._Q: FloatArray = np.zeros((16, n_factors), dtype=np.float32)
        self._bi: FloatArray = np.zeros(16, dtype=np.float32)
        self._item_n: npt.NDArray[np.float32] = np.zeros(16, dtype=np.float32)
        self._n_items_init = 0  # rows [0, _n_items_init) have initialised factors
        # Retrieval set: catalogue rows with item_n >= min_support (in the order they got
        # there), their factors mirrored contiguously so that scoring them reads no other row.
        self._support_rows: npt.NDArray[np.int64] = np.zeros(16, dtype=np.int64)
        self._support_q: FloatArray = np.zeros((16, n_factors), dtype=np.float32)
        self._support_bias: FloatArray = np.zeros(16, dtype=np.float32)
        self._n_supported = 0
        self._support_pos: npt.NDArray[np.int64] = np.full(16, -1, dtype=np.int64)
        self._mu_sum = 0.0
        self._mu_n = 0
        self._r_min = math.inf
        self._r_max = -math.inf
        self._recent: npt.NDArray[np.int64] = np.full(4096, -1, dtype=np.int64)
        self._recent_pos = 0
        self.n_ignored = 0
        """Interactions ignored because their item is unknown and has no domain."""

    # ------------------------------------------------------------------ catalogue
    def upsert_item(self, item: ItemInfo) -> None:
        self.catalogue.upsert(item)

    def _item_row(self, interaction: Interaction) -> int | None:
        row = self.catalogue.row(interaction.item)
        if row is None and interaction.domain is not None:
            row = self.catalogue.upsert(ItemInfo(interaction.item, interaction.domain))
        if row is None:
            return None
        self._init_items(row + 1)
        return row

    def _init_items(self, n: int) -> None:
        if n <= self._n_items_init:
            return
        self._Q = grow_rows(self._Q, n)  # type: ignore[assignment]
        self._bi = grow_rows(self._bi, n)  # type: ignore[assignment]
        self._item_n = grow_rows(self._item_n, n)  # type: ignore[assignment]
        old = self._support_pos.shape[0]
        self._support_pos = grow_rows(self._support_pos, n)  # type: ignore[assignment]
        self._support_pos[old:] = -1
        start = self._n_items_init
        self._Q[start:n] = self._rng.normal(0.0, self.init_std, (n - start, self.n_factors))
        self._n_items_init = n

    # ------------------------------------------------------------------ users
    def knows_user(self, user: str) -> bool:
        return self._users.row(user, self._bit) is not None

    def knows_item(self, item_id: str) -> bool:
        row = self.catalogue.row(item_id)
        return row is not None and row < self._n_items_init and self._item_n[row] > 0

    @property
    def n_users(self) -> int:
        return self._users.count(self._bit)

    def _user_row(self, user: str) -> int:
        row, is_new = self._users.touch(user, self._bit)
        if row >= self._P.shape[0]:
            self._P = grow_rows(self._P, row + 1)  # type: ignore[assignment]
            self._bu = grow_rows(self._bu, row + 1)  # type: ignore[assignment]
            self._un = grow_rows(self._un, row + 1)  # type: ignore[assignment]
        if is_new:
            self._P[row] = self._rng.normal(0.0, self.init_std, self.n_factors)
        return row

    def release_rows(self, rows: list[int]) -> None:
        """Zero the rows of users the index let go (see ``users.py``)."""
        held = [r for r in rows if r < self._P.shape[0]]
        self._P[held] = 0.0
        self._bu[held] = 0.0
        self._un[held] = 0.0

    def forget_user(self, user: str) -> None:
        self._users.remove(user)

    # ------------------------------------------------------------------ learning
    def learn(self, interaction: Interaction) -> None:
        i = self._item_row(interaction)
        if i is None:
            self.n_ignored += 1
            return None
        u = self._user_row(interaction.user)
        if interaction.rating is not None:
            self._learn_rating(u, i, float(interaction.rating))
            touched = np.array([i], dtype=np.int64)
        else:
            w = self._weights.get(interaction.kind, 1.0) * interaction.weight
            touched = self._learn_implicit(u, i, w)
        self._item_n[i] += 1.0
        if self._item_n[i] == max(1, self.min_support):
            self._support(i)
        self._mirror(touched)
        return None

    def _support(self, row: int) -> None:
        m = self._n_supported
        self._support_rows = grow_rows(self._support_rows, m + 1)  # type: ignore[assignment]
        self._support_q = grow_rows(self._support_q, m + 1)  # type: ignore[assignment]
        self._support_bias = grow_rows(self._support_bias, m + 1)  # type: ignore[assignment]
        self._support_rows[m] = row
        self._support_pos[row] = m
        self._n_supported = m + 1

    def _mirror(self, rows: npt.NDArray[np.int64]) -> None:
        pos = self._support_pos[rows]
        kept = pos >= 0
        if kept.any():
            self._support_q[pos[kept]] = self._Q[rows[kept]]
            # Supported rows were learnt from: their ranking bias is the item bias itself.
            self._support_bias[pos[kept]] = self._bi[rows[kept]]

    @property
    def global_mean(self) -> float:
        return self._mu_sum / self._mu_n if self._mu_n else 0.0

    def _learn_rating(self, u: int, i: int, r: float) -> None:
        self._mu_sum += r
        self._mu_n += 1
        self._r_min = min(self._r_min, r)
        self._r_max = max(self._r_max, r)
        p = self._P[u]
        q = self._Q[i]
        err = r - (self.global_mean + float(self._bu[u]) + float(self._bi[i]) + float(p @ q))
        lr_u = self.lr_bias
        lr_i = self.lr_bias
        if self.bias_shrinkage > 0:
            # Early on a bias behaves like a shrunk mean of residuals (step 1/(n + shrinkage)),
            # later like plain SGD: cold users/items get sensible biases after 2-3 ratings.
            self._un[u] += 1.0
            lr_u = max(lr_u, 1.0 / (float(self._un[u]) + self.bias_shrinkage))
            lr_i = max(lr_i, 1.0 / (float(self._item_n[i]) + 1.0 + self.bias_shrinkage))
        self._bu[u] += lr_u * (err - self.l2_bias * self._bu[u])
        self._bi[i] += lr_i * (err - self.l2_bias * self._bi[i])
        p_old = p.copy()
        p += self.lr * (err * q - self.l2 * p)
        q += self.lr * (err * p_old - self.l2 * q)

    def _sample_negatives(self, positive: int) -> npt.NDArray[np.int64]:
        m = self.n_negatives
        if m <= 0:
            return np.empty(0, dtype=np.int64)
        filled = min(self._recent_pos, self._recent.shape[0])
        if self.negative_sampling == "popularity" and filled >= 8 * m:
            neg = self._recent[self._rng.integers(0, filled, m)]
        else:
            neg = self._rng.integers(0, self._n_items_init, m)
        out: npt.NDArray[np.int64] = neg[neg != positive]
        return out

    def _learn_implicit(self, u: int, i: int, w: float) -> npt.NDArray[np.int64]:
        rows = np.concatenate(([i], self._sample_negatives(i)))
        y = np.zeros(rows.shape[0], dtype=np.float32)
        y[0] = 1.0
        sw = np.ones(rows.shape[0], dtype=np.float32)
        sw[0] = w
        p = self._P[u]
        Qr = self._Q[rows]
        x = Qr @ p + self._bi[rows]
        g = sw * (_sigmoid(x) - y)  # d loss / d x
        grad_p = g @ Qr + self.l2 * p
        self._Q[rows] = Qr - self.lr * (g[:, None] * p[None, :] + self.l2 * Qr)
        self._bi[rows] -= self.lr_bias * (g + self.l2_bias * self._bi[rows])
        p -= self.lr * grad_p
        self._recent[self._recent_pos % self._recent.shape[0]] = i
        self._recent_pos += 1
        return rows

    # ------------------------------------------------------------------ prediction
    def predict_rating(self, user: str, item_id: str) -> float:
        """Predicted rating, clipped to the observed range; cold start for unknowns."""
        pred = self.global_mean
        u = self._users.row(user, self._bit)
        i = self.catalogue.row(item_id)
        known_item = i is not None and i < self._n_items_init
        if u is not None:
            pred += float(self._bu[u])
        if known_item:
            assert i is not None
            pred += float(self._bi[i])
        if u is not None and known_item:
            assert i is not None
            pred += float(self._P[u] @ self._Q[i])
        if self._mu_n:
            pred = min(max(pred, self._r_min), self._r_max)
        return pred

    def user_vector(self, user: str) -> FloatArray | None:
        """The user's factor row (a copy) or None for unknown users."""
        u = self._users.row(user, self._bit)
        return None if u is None else self._P[u].copy()

    def top_rows(
        self,
        user: str,
        k: int,
        *,
        mask: npt.NDArray[np.bool_] | None = None,
        exclude_rows: list[int] | tuple[int, ...] = (),
    ) -> npt.NDArray[np.int64]:
        """Rows of the ``k`` best-ranked supported items for ``user`` (``b_i + p_u·q_i``;
        item bias only for unknown users), best first; ``mask`` marks allowed rows.
        One mat-vec over the mirrored factors of the supported rows only."""
        m = self._n_supported
        if k <= 0 or m == 0:
            return np.empty(0, dtype=np.int64)
        rows = self._support_rows[:m]
        u = self._users.row(user, self._bit)
        if u is None:
            scores = self._support_bias[:m].copy()
        else:
            scores = self._support_q[:m] @ self._P[u]
            scores += self._support_bias[:m]
        # The mask and the exclusions are read for the few rows above top_k's threshold
        # only, not for every retrievable row (two passes over them cost ~40 us at 100k).
        excluded: list[int] = []
        if exclude_rows:
            pos = self._support_pos
            excl = np.asarray(exclude_rows, dtype=np.int64)
            excl = pos[excl[(excl >= 0) & (excl < pos.shape[0])]]
            excluded = excl[excl >= 0].tolist()
        found = top_k(scores, k, mask=mask, mask_index=rows, exclude_rows=excluded, in_place=True)
        out: npt.NDArray[np.int64] = rows[found]
        return out

    def score_rows(self, user: str, rows: npt.NDArray[np.int64]) -> FloatArray:
        """Ranking score for the given catalogue rows (0 for rows never learned from)."""
        out = np.zeros(rows.shape[0], dtype=np.float32)
        ok = rows < self._n_items_init
        if not ok.any():
            return out
        r = rows[ok]
        u = self._users.row(user, self._bit)
        s = self._bi[r].copy()
        if u is not None:
            s += self._Q[r] @ self._P[u]
        s[self._item_n[r] <= 0] = 0.0
        out[ok] = s
        return out

    def recommend(self, user: str, k: int, context: Context) -> list[Scored]:
        rows = self.top_rows(
            user,
            k,
            mask=self.catalogue.active_filter,
            exclude_rows=self.catalogue.rows_of(context.exclude),
        )
        vals = self.score_rows(user, rows)
        p = _sigmoid(vals)
        reason = REASON if self.knows_user(user) else "popular"
        return [
            Scored(self.catalogue.id_at(r), float(v), float(pc), reason)
            for r, v, pc in zip(rows.tolist(), vals.tolist(), p.tolist(), strict=True)
        ]
