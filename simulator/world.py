"""The simulated world: catalogue, users and the ground truth that links them.

Design
------
Cross-domain recommendation only makes sense if behaviour in one domain says something about
another.  The world therefore has a small set of latent *themes* (cooking, fitness, style, …).
Every item — a course or a partner item — has a theme vector concentrated on one primary
theme, and its tags are drawn from that theme's vocabulary, so a cooking course and an
Italian fresh-food box share tags such as ``cooking`` and ``italian``.  Every user has a taste
vector over the same themes (a sparse Dirichlet draw: most people care about one or two
themes), a per-domain affinity and an activity level.

Ground truth is a logistic model::

    logit = BASE + MATCH_WEIGHT * (taste + boost) · theme(item)
            + quality(item) + domain_affinity(user, domain(item))
            - POSITION_DECAY * log1p(position)

where ``boost`` is the optional, transient interest a user gains in a theme after buying a
course of that theme (kept by :class:`simulator.traffic.Traffic`, applied to partner items
only).  Everything is built with a single ``numpy.random.Generator`` seeded by the caller,
so the same ``seed`` and sizes always give the same world.

>>> w = World(seed=1, n_users=50, n_items=200)
>>> w.user_id(7)
'user-000007'
>>> 0.0 < w.true_click_probability("user-000007", w.item_ids[0]) < 1.0
True
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DOMAINS: tuple[str, ...] = ("course", "restaurant_deal", "fresh_food", "food_delivery", "fashion")
PARTNER_DOMAINS: tuple[str, ...] = DOMAINS[1:]

# Share of the catalogue per domain (same order as DOMAINS).
DOMAIN_SHARE: tuple[float, ...] = (0.25, 0.15, 0.25, 0.2, 0.15)
# Median price and log-spread per domain (same order as DOMAINS).
_PRICE_MEDIAN: tuple[float, ...] = (49.0, 24.0, 14.0, 18.0, 45.0)
_PRICE_SIGMA: tuple[float, ...] = (0.6, 0.4, 0.5, 0.35, 0.6)
_DOMAIN_NOUN: dict[str, str] = {
    "course": "course",
    "restaurant_deal": "dinner deal",
    "fresh_food": "box",
    "food_delivery": "meal",
    "fashion": "collection",
}

BASE_LOGIT = -4.0
MATCH_WEIGHT = 4.0
POSITION_DECAY = 0.35
PURCHASE_BASE_LOGIT = -2.2
PURCHASE_MATCH_WEIGHT = 2.5
PURCHASE_PRICE_WEIGHT = 0.6


@dataclass(frozen=True)
class Theme:
    """A latent interest that spans domains.

    ``domains`` gives how strongly the theme is represented in each domain (relative weight;
    a missing domain means no items of that theme there).  ``tags`` is the vocabulary items of
    the theme draw from; the theme's own name is always the first tag of its items.
    """

    name: str
    title: str
    domains: dict[str, float]
    tags: tuple[str, ...]


THEMES: tuple[Theme, ...] = (
    Theme(
        "cooking",
        "Cooking",
        {"course": 1.0, "fresh_food": 1.6, "restaurant_deal": 0.6},
        ("italian", "baking", "asian", "vegetarian", "pasta", "spices", "bbq"),
    ),
    Theme(
        "fitness",
        "Fitness",
        {"course": 1.0, "food_delivery": 1.5, "fresh_food": 0.6, "fashion": 0.5},
        ("health", "protein", "yoga", "running", "healthy", "low_carb", "sportswear"),
    ),
    Theme(
        "style",
        "Style",
        {"course": 0.7, "fashion": 2.5},
        ("fashion", "tailoring", "streetwear", "accessories", "colour", "vintage"),
    ),
    Theme(
        "business",
        "Business",
        {"course": 1.4, "restaurant_deal": 0.8, "food_delivery": 0.5},
        ("leadership", "finance", "marketing", "lunch", "networking", "negotiation"),
    ),
    Theme(
        "family",
        "Family",
        {"course": 0.6, "fresh_food": 0.9, "food_delivery": 0.8, "fashion": 0.6},
        ("kids", "parenting", "organic", "budget", "weekend"),
    ),
    Theme(
        "languages",
        "Languages",
        {"course": 1.2, "restaurant_deal": 0.8},
        ("travel", "french", "spanish", "japanese", "culture"),
    ),
    Theme(
        "gourmet",
        "Gourmet",
        {"course": 0.5, "restaurant_deal": 1.3, "fresh_food": 0.7},
        ("wine", "fine_dining", "cheese", "tasting", "seafood"),
    ),
    Theme(
        "tech",
        "Tech",
        {"course": 1.6, "food_delivery": 0.6},
        ("programming", "data", "ai", "late_night", "productivity"),
    ),
)
THEME_NAMES: tuple[str, ...] = tuple(t.name for t in THEMES)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _sigmoid_array(x: FloatArray) -> FloatArray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float64)


def domain_of_item_id(item_id: str) -> str:
    """Domain of a simulator item id, read from its prefix (``fresh_food-000042``)."""
    return item_id.rsplit("-", 1)[0]


class World:
    """Catalogue, users and ground truth; immutable after construction.

    Parameters
    ----------
    seed
        Seed of the ``numpy`` generator; same seed and sizes give the same world.
    n_users
        Number of users (raw ids ``user-000000`` …).
    n_items
        Total number of items over all five domains (at least one per domain).
    """

    def __init__(self, seed: int = 0, n_users: int = 5_000, n_items: int = 2_000) -> None:
        if n_users < 1:
            raise ValueError("n_users must be >= 1")
        if n_items < len(DOMAINS):
            raise ValueError(f"n_items must be >= {len(DOMAINS)}")
        self.seed = seed
        self.n_users = n_users
        self.n_items = n_items
        rng = np.random.default_rng(seed)
        self._build_items(rng)
        self._build_users(rng)

    # ------------------------------------------------------------------ catalogue
    def _build_items(self, rng: np.random.Generator) -> None:
        n_themes = len(THEMES)
        counts = np.floor(np.asarray(DOMAIN_SHARE) * self.n_items).astype(np.int64)
        counts = np.maximum(counts, 1)
        counts[0] += self.n_items - int(counts.sum())  # remainder goes to courses
        domain_idx = np.repeat(np.arange(len(DOMAINS)), counts)
        n = self.n_items

        # P(theme | domain) from the theme's domain weights.
        weights = np.array(
            [[t.domains.get(d, 0.0) for t in THEMES] for d in DOMAINS], dtype=np.float64
        )
        weights /= weights.sum(axis=1, keepdims=True)
        cum = np.cumsum(weights, axis=1)
        u = rng.random(n)
        primary = (u[:, None] > cum[domain_idx]).sum(axis=1)
        primary = np.minimum(primary, n_themes - 1)

        # Theme vectors: mostly the primary theme, a little of a random mixture.
        noise = rng.dirichlet(np.full(n_themes, 0.3), size=n)
        theme = 0.15 * noise
        theme[np.arange(n), primary] += 0.85
        secondary = np.argsort(-noise, axis=1)[:, 0]

        quality = rng.normal(0.0, 0.5, size=n)
        medians = np.asarray(_PRICE_MEDIAN)[domain_idx]
        sigmas = np.asarray(_PRICE_SIGMA)[domain_idx]
        price = np.round(medians * np.exp(rng.normal(0.0, 1.0, size=n) * sigmas), 0) - 0.01
        price = np.maximum(price, 0.99)
        # Popularity that a naive "popular" list would see: quality plus exposure luck.
        popularity = quality + rng.gumbel(0.0, 0.7, size=n)

        self.item_domain_idx: IntArray = domain_idx.astype(np.int64)
        self.item_theme: FloatArray = theme
        self.item_primary_theme: IntArray = primary.astype(np.int64)
        self.item_quality: FloatArray = quality
        self.item_price: FloatArray = price
        self.item_popularity: FloatArray = popularity
        self._click_base: FloatArray = BASE_LOGIT + quality

        # Partners per partner domain, items assigned uniformly.
        n_partners_per_domain = np.maximum(3, counts // 40)
        partner_draw = rng.random(n)
        tag_draw = rng.integers(0, 1 << 30, size=(n, 3))

        ids: list[str] = []
        partners: list[str | None] = []
        titles: list[str] = []
        tags: list[tuple[str, ...]] = []
        seq_in_domain = np.zeros(len(DOMAINS), dtype=np.int64)
        width = max(6, len(str(self.n_items)))
        partner_width = 3 if int(n_partners_per_domain.max()) < 1000 else 6
        for i in range(n):
            d = int(domain_idx[i])
            dname = DOMAINS[d]
            seq = int(seq_in_domain[d])
            seq_in_domain[d] += 1
            ids.append(f"{dname}-{seq:0{width}d}")
            if d == 0:
                partners.append(None)
            else:
                p = int(partner_draw[i] * int(n_partners_per_domain[d]))
                partners.append(f"partner-{dname}-{p:0{partner_width}d}")
            th = THEMES[int(primary[i])]
            sec = THEMES[int(secondary[i])]
            t1 = th.tags[int(tag_draw[i, 0]) % len(th.tags)]
            t2 = th.tags[int(tag_draw[i, 1]) % len(th.tags)]
            t3 = sec.tags[int(tag_draw[i, 2]) % len(sec.tags)]
            item_tags = tuple(dict.fromkeys((th.name, t1, t2, dname, t3)))
            tags.append(item_tags)
            titles.append(
                f"{t1.replace('_', ' ').capitalize()} {th.title.lower()} "
                f"{_DOMAIN_NOUN[dname]} {seq + 1}"
            )
        self.item_ids: list[str] = ids
        self.item_partner: list[str | None] = partners
        self.item_title: list[str] = titles
        self.item_tags: list[tuple[str, ...]] = tags
        self.item_index: dict[str, int] = {item_id: i for i, item_id in enumerate(ids)}

        # Index: items per (domain, primary theme), and per partner, for sampling.
        order = np.lexsort((np.arange(n), primary, domain_idx))
        self._pool: dict[tuple[int, int], IntArray] = {}
        keys = domain_idx[order] * n_themes + primary[order]
        bounds = np.flatnonzero(np.diff(keys)) + 1
        for chunk in np.split(order, bounds):
            if len(chunk):
                key = (int(domain_idx[chunk[0]]), int(primary[chunk[0]]))
                self._pool[key] = chunk.astype(np.int64)
        self.partner_items: dict[str, list[int]] = {}
        for i, partner in enumerate(partners):
            if partner is not None:
                self.partner_items.setdefault(partner, []).append(i)
        self.popular_items: IntArray = np.argsort(-popularity)[: max(50, n // 20)].astype(np.int64)

    # ------------------------------------------------------------------ users
    def _build_users(self, rng: np.random.Generator) -> None:
        n_themes = len(THEMES)
        taste = rng.dirichlet(np.full(n_themes, 0.35), size=self.n_users)
        self.user_taste: FloatArray = taste
        self.user_domain_affinity: FloatArray = rng.normal(
            0.0, 0.5, size=(self.n_users, len(DOMAINS))
        )
        self.user_activity: FloatArray = rng.lognormal(0.0, 1.0, size=self.n_users)
        self.user_currency_idx: IntArray = rng.choice(
            3, size=self.n_users, p=[0.8, 0.15, 0.05]
        ).astype(np.int64)

    # ------------------------------------------------------------------ ids
    @staticmethod
    def user_id(user_idx: int) -> str:
        """Raw id of user number ``user_idx`` (``user-000123``)."""
        return f"user-{user_idx:06d}"

    def user_index(self, user: int | str) -> int:
        """Index of a user given its index or raw id; raises ``KeyError`` if unknown."""
        if isinstance(user, str):
            prefix, _, number = user.partition("-")
            if prefix != "user" or not number.isdigit():
                raise KeyError(user)
            idx = int(number)
        else:
            idx = int(user)
        if not 0 <= idx < self.n_users:
            raise KeyError(user)
        return idx

    def item_domain(self, item_idx: int) -> str:
        """Domain name of item number ``item_idx``."""
        return DOMAINS[int(self.item_domain_idx[item_idx])]

    def theme_pool(self, domain_idx: int, theme_idx: int) -> IntArray:
        """Items of ``domain_idx`` whose primary theme is ``theme_idx`` (may be empty)."""
        return self._pool.get((domain_idx, theme_idx), np.empty(0, dtype=np.int64))

    # ------------------------------------------------------------------ ground truth
    def click_logits(
        self,
        user_idx: int,
        item_idx: IntArray,
        positions: IntArray | None = None,
        boost: FloatArray | None = None,
    ) -> FloatArray:
        """Vectorised click logits of one user over several items (see module docstring)."""
        theme = self.item_theme[item_idx]
        domain = self.item_domain_idx[item_idx]
        if boost is not None and boost.any():
            both = theme @ np.stack((self.user_taste[user_idx], boost), axis=1)
            match = both[:, 0] + (domain != 0) * both[:, 1]
        else:
            match = theme @ self.user_taste[user_idx]
        logit = self._click_base[item_idx] + MATCH_WEIGHT * match
        logit += self.user_domain_affinity[user_idx][domain]
        if positions is not None:
            logit -= POSITION_DECAY * np.log1p(positions)
        return np.asarray(logit, dtype=np.float64)

    def click_probabilities(
        self,
        user_idx: int,
        item_idx: IntArray,
        positions: IntArray | None = None,
        boost: FloatArray | None = None,
    ) -> FloatArray:
        """Ground-truth click probabilities of one user for several items."""
        return _sigmoid_array(self.click_logits(user_idx, item_idx, positions, boost))

    def true_click_probability(
        self,
        user: int | str,
        item_id: str,
        position: int = 0,
        *,
        boost: FloatArray | None = None,
    ) -> float:
        """Probability that ``user`` clicks ``item_id`` shown at ``position``.

        ``boost`` is the transient theme interest after a course purchase (see
        :class:`simulator.traffic.Traffic`); ``None`` means the user's stable taste only.
        """
        u = self.user_index(user)
        i = np.array([self.item_index[item_id]], dtype=np.int64)
        p = self.click_probabilities(u, i, np.array([position], dtype=np.int64), boost)
        return float(p[0])

    def purchase_propensities(
        self, user_idx: int, item_idx: IntArray, boost: FloatArray | None = None
    ) -> FloatArray:
        """Vectorised probability of buying/ordering an item after clicking it."""
        theme = self.item_theme[item_idx]
        match = theme @ self.user_taste[user_idx]
        if boost is not None and boost.any():
            partner = self.item_domain_idx[item_idx] != 0
            match = match + partner * (theme @ boost)
        medians = np.asarray(_PRICE_MEDIAN)[self.item_domain_idx[item_idx]]
        logit = (
            PURCHASE_BASE_LOGIT
            + PURCHASE_MATCH_WEIGHT * match
            + 0.5 * self.item_quality[item_idx]
            - PURCHASE_PRICE_WEIGHT * np.log(self.item_price[item_idx] / medians)
        )
        return _sigmoid_array(np.asarray(logit, dtype=np.float64))

    def purchase_propensity(
        self, user: int | str, item_id: str, *, boost: FloatArray | None = None
    ) -> float:
        """Probability that ``user`` buys ``item_id`` (course) or orders it (partner item)
        given a click on it."""
        u = self.user_index(user)
        i = np.array([self.item_index[item_id]], dtype=np.int64)
        return float(self.purchase_propensities(u, i, boost)[0])

    def best_items(
        self,
        user: int | str,
        k: int,
        *,
        boost: FloatArray | None = None,
        exclude: Collection[str] = (),
    ) -> set[str]:
        """The ``k`` items ``user`` is most likely to click (at the top position), leaving out
        ``exclude`` (items no list may show them, e.g. courses they bought): the oracle list
        a recommender's served list is compared with (ground-truth recall).

        >>> world = World(seed=1, n_users=5, n_items=50)
        >>> best = world.best_items(0, 10)
        >>> len(best), len(world.best_items(0, 10, exclude=best) & best)
        (10, 0)
        """
        u = self.user_index(user)
        every = np.arange(len(self.item_ids), dtype=np.int64)
        p = self.click_probabilities(u, every, np.zeros(len(every), dtype=np.int64), boost)
        if exclude:
            p[[self.item_index[i] for i in exclude if i in self.item_index]] = -np.inf
        top = np.argpartition(-p, min(k, len(p) - 1))[:k]
        return {self.item_ids[int(i)] for i in top}

    def expected_clicks(
        self, user: int | str, item_ids: list[str], *, boost: FloatArray | None = None
    ) -> float:
        """Expected number of clicks on ``item_ids`` shown in that order (unknown ids add 0).

        Divided by ``len(item_ids)`` this is the ground-truth CTR of a served list, the
        number to compare rankers with, free of sampling noise.
        """
        u = self.user_index(user)
        known = [
            (pos, self.item_index[i]) for pos, i in enumerate(item_ids) if i in self.item_index
        ]
        if not known:
            return 0.0
        pos = np.array([k[0] for k in known], dtype=np.int64)
        idx = np.array([k[1] for k in known], dtype=np.int64)
        return float(self.click_probabilities(u, idx, pos, boost).sum())
