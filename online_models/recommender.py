"""The cross-domain recommender the stream uses: MF + item-kNN + popularity, blended.

How a list is built (``recommend``, no side effects):

1. **Exclusions**: ``context.exclude``, what the user bought in a ``bought_once_domains``
   domain (every domain by default; bounded per user), the user's recent history when
   ``exclude_seen``, inactive items.
2. **Candidates** (at most ``n_candidates`` from each source): MF retrieval (one mat-vec
   over the factors of the items learnt from at least twice), item-kNN neighbours of the
   recent history, global popularity, popularity within the favoured domains, and the optional
   :class:`~online_models.scorers.CandidateSource`.
3. **Blend**: each feature is scaled to [0, 1] within the candidate set (MF min-max, kNN
   divided by its maximum, popularity as a share of the most popular item, external source
   as given) and combined linearly::

       blend = w_mf·mf + w_knn·knn + w_pop·pop + w_source·source + domain_boost·favoured
               + w_taste·taste + w_log_pop·log_pop + w_quality·quality
               + w_domain_lift·domain_lift

   ``taste`` is the source's similarity of *every* candidate to the user (content: cosine
   with the user's tag profile; :attr:`~online_models.scorers.SourcePicks.similarity`), not
   only of those it proposed, and ``log_pop`` the log of the relative popularity: together
   "popular among what you like". Both weights are 0 by default; the served full ranker
   uses 0.5 each (closed loop, README: recall above popularity's instead of level with it).
   ``quality`` is the item's learnt click quality (``item_quality``, an
   :class:`~online_models.item_quality.ItemQuality` its owner feeds with labels; the full
   ranker uses weight 0.3). ``domain_lift`` is the user's click rate in the item's domain
   over everyone's, in log units, 0 without labels (only with a click model:
   :mod:`online_models.user_domain_clicks`; the full ranker uses weight 0.2).

   The default weights (kNN 1.0, MF 0.3, popularity 0.15, source 0.3) come from a small
   grid on the synthetic positive-only cross-domain stream of ``bench/make_ratings.py``
   (first 30k events, Recall@10): kNN only 0.0986, defaults 0.0986, MF 0.1 + pop 0.05
   0.0990, MF 0.3 + pop 0 0.0969 (popularity alone 0.032). They are only the *start*: with
   ``learn_blend`` (default) the weights — plus ``log_pop`` (log of the relative
   popularity) and ``domain_share`` (share of the user's recent history in the item's
   domain) — are learnt online as a softmax choice model over the candidate set, each event
   teaching that its item was chosen among the candidates the user would have been offered
   just before (:mod:`online_models.blend_learner`); the learnt score is min-max scaled to
   [0, 1] within the candidates. Why: on simulator streams, where most engagements happen on
   lists of popular items the platform shows anyway, the fixed weights ranked below
   popularity (replay Recall@10 0.051 vs 0.051); learnt, 0.060 (seed 1, 60k events).
   Cold users have no MF/kNN features, so popularity (and the source) decide.
4. **Cross-domain composition**: after a course event the partner domains are favoured;
   after a partner event courses are; ``cross_domain_share`` of the ``k`` slots (rounded up)
   are reserved for favoured domains when such candidates exist, and favoured items get
   ``domain_boost`` in the blend.
5. **Click model** (optional :class:`~online_models.scorers.ClickModel`): predicts ``p_click``
   for a shortlist of ``2k`` from the per-source scores, the blend, position, price, taste,
   the user's ``domain_share`` of the item's domain and their ``domain_lift`` there (their
   click rate in the domain over everyone's, from labels: :mod:`online_models.user_domain_clicks`;
   :meth:`features_for`); final score
   ``(1 - ctr_weight)·blend + ctr_weight·p_click``. Without one, ``p_click`` is the blend
   clipped to [0, 1] (uncalibrated).
6. **Reranker** (optional, e.g. exploration) gets the ordered shortlist last.

``personalised=False`` uses popularity only (still excluding what the caller excludes).

Memory is bounded: MF and kNN share one user index (``users``, created with ``max_users``
when not given: the full ranker shares it further) that keeps at most ``max_users`` users
and evicts the least recently learned-from in small batches (``users.py``); the purchase
sets follow: when they outgrow ``max_users`` the entries of users the kNN no longer knows
are dropped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, cast

import numpy as np
import numpy.typing as npt

from online_models.blend_learner import OnlineBlend
from online_models.catalogue import DOMAIN_CODE, Catalogue
from online_models.item_knn import REASON as KNN_REASON
from online_models.item_knn import ItemKNN
from online_models.item_quality import ItemQuality
from online_models.matrix_factorisation import REASON as MF_REASON
from online_models.matrix_factorisation import MatrixFactorisation
from online_models.popularity import Popularity
from online_models.retrieval import members, top_k, unique_in_order
from online_models.row_bridge import RowBridge, RowSpace
from online_models.scorers import (
    CandidateSource,
    ClickModel,
    Reranker,
    SourcePicks,
)
from online_models.types import (
    DOMAINS,
    PARTNER_DOMAINS,
    Context,
    Domain,
    Interaction,
    ItemInfo,
    LabelledImpression,
    Scored,
)
from online_models.user_domain_clicks import UserDomainClicks
from online_models.users import UserIndex

IntRows = npt.NDArray[np.int64]
MAX_PURCHASES_PER_USER = 256
LEARN_K = 10
"""List length assumed when rebuilding a request to train the blend."""
LOG_POP_FLOOR = 1e-3
LOG_POP_RANGE = 3.0
"""``log_pop`` = log10(relative popularity + floor) / range + 1: about [0, 1]."""


@dataclass(frozen=True, slots=True)
class SourceHits:
    """The external candidate source's picks that made it into the candidates: their rows
    and scores in [0, 1], and where each sits in ``picks`` (for its reason, built only for
    the items a list ends up showing)."""

    rows: IntRows
    scores: npt.NDArray[np.float64]
    picks_at: IntRows
    picks: SourcePicks | None

    def reasons(self, rows: Iterable[int]) -> dict[int, str]:
        """The source's reason for each of ``rows`` it proposed (others are left out)."""
        if self.picks is None:
            return {}
        at = dict(zip(self.rows.tolist(), self.picks_at.tolist(), strict=True))
        return {r: self.picks.reason(at[r]) for r in rows if r in at}


NO_SOURCE_HITS = SourceHits(
    np.empty(0, dtype=np.int64), np.empty(0), np.empty(0, dtype=np.int64), None
)


class Candidates(NamedTuple):
    """What :meth:`CrossDomainRecommender.candidates` finds: rows, per-source features
    aligned with them, and the external source's hits."""

    rows: IntRows
    feats: dict[str, npt.NDArray[np.float64]]
    source: SourceHits


def favoured_domains(trigger: Domain | None) -> tuple[Domain, ...]:
    """Domains to push after an event in ``trigger`` (course ↔ partner domains).

    >>> favoured_domains("course")
    ('restaurant_deal', 'fresh_food', 'food_delivery', 'fashion')
    >>> favoured_domains("fashion")
    ('course',)
    >>> favoured_domains(None)
    ()
    """
    if trigger is None:
        return ()
    return PARTNER_DOMAINS if trigger == "course" else ("course",)


class CrossDomainRecommender:
    """Implements :class:`~online_models.types.Recommender` (see module docstring)."""

    def __init__(
        self,
        n_factors: int = 32,
        history_size: int = 30,
        half_life: float = 7 * 24 * 3600.0,
        w_mf: float = 0.3,
        w_knn: float = 1.0,
        w_pop: float = 0.15,
        w_source: float = 0.3,
        domain_boost: float = 0.2,
        w_taste: float = 0.0,
        w_log_pop: float = 0.0,
        cross_domain_share: float = 0.6,
        n_candidates: int = 50,
        exclude_seen: bool = True,
        ctr_weight: float = 0.5,
        max_users: int | None = 1_000_000,
        click_model: ClickModel | None = None,
        candidate_source: CandidateSource | None = None,
        reranker: Reranker | None = None,
        learn_blend: bool = True,
        blend_learning_rate: float = 0.2,
        w_quality: float = 0.0,
        item_quality: ItemQuality | None = None,
        w_domain_lift: float = 0.0,
        users: UserIndex | None = None,
        bought_once_domains: Iterable[Domain] = DOMAINS,
        seed: int = 0,
    ) -> None:
        self.n_factors = n_factors
        self.history_size = history_size
        self.half_life = half_life
        self.w_mf = w_mf
        self.w_knn = w_knn
        self.w_pop = w_pop
        self.w_source = w_source
        self.domain_boost = domain_boost
        self.w_taste = w_taste
        self.w_log_pop = w_log_pop
        self.cross_domain_share = cross_domain_share
        self.n_candidates = n_candidates
        self.exclude_seen = exclude_seen
        self.ctr_weight = ctr_weight
        self.click_model = click_model
        self.candidate_source = candidate_source
        self.reranker = reranker
        self.learn_blend = learn_blend
        self.blend_learning_rate = blend_learning_rate
        self.w_quality = w_quality  # item quality (item_quality.py), fed by the owner
        self.item_quality = item_quality
        self.w_domain_lift = w_domain_lift
        self.bought_once_domains = frozenset(bought_once_domains)
        self.seed = seed
        self.catalogue = Catalogue()
        users = users if users is not None else UserIndex(max_users)
        self.max_users = users.max_users
        self.mf = MatrixFactorisation(
            n_factors=n_factors, catalogue=self.catalogue, users=users, seed=seed
        )
        self.knn = ItemKNN(
            history_size=history_size, catalogue=self.catalogue, users=users, seed=seed
        )
        self.popularity = Popularity(half_life=half_life, catalogue=self.catalogue, seed=seed)
        # Per-user domain click rates, learnt from the click model's labels (read by it and,
        # with w_domain_lift, by the blend).
        self.domain_clicks = UserDomainClicks(users) if click_model is not None else None
        self.blend = OnlineBlend(
            {
                "mf": w_mf,
                "knn": w_knn,
                "pop": w_pop,
                "log_pop": 0.0,
                "source": w_source,
                "favoured": domain_boost,
                "domain_share": 0.0,
            },
            learning_rate=blend_learning_rate,
        )
        self._purchased: dict[str, dict[str, None]] = {}
        self._last_course: dict[str, str] = {}
        self._row_bridges: tuple[RowBridge, RowBridge] | None = None
        self.n_ignored = 0

    # ------------------------------------------------------------------ state changes
    def upsert_item(self, item: ItemInfo) -> None:
        self.catalogue.upsert(item)

    def learn(self, interaction: Interaction) -> None:
        item = self.catalogue.get(interaction.item)
        if item is None:
            if interaction.domain is None:
                self.n_ignored += 1
                return None
            item = ItemInfo(interaction.item, interaction.domain)
            self.catalogue.upsert(item)
        if self.learn_blend and interaction.rating is None:
            # A rating is a judgement, not a choice among offered items (a 1-star rating
            # is no vote for the item): it trains the MF, not the blend.
            self._learn_blend(interaction)
        self.mf.learn(interaction)
        self.knn.learn(interaction)
        self.popularity.learn(interaction)
        if interaction.kind in ("course_purchase", "partner_order"):
            if item.domain in self.bought_once_domains:
                bought = self._purchased.setdefault(interaction.user, {})
                bought[interaction.item] = None
                if len(bought) > MAX_PURCHASES_PER_USER:
                    del bought[next(iter(bought))]
            if item.domain == "course":
                self._last_course[interaction.user] = interaction.item
            most = self.max_users
            if most is not None and max(len(self._purchased), len(self._last_course)) > most:
                self._drop_unknown_users()
        return None

    def _learn_blend(self, interaction: Interaction) -> None:
        """Teach the blend that ``interaction.item`` was chosen among the candidates the user
        would have been offered just before (called before any model learns the event).

        The request is rebuilt as production makes it: triggered by the user's previous
        engagement (its domain favours the other side), nothing extra excluded.
        """
        row = self.catalogue.row(interaction.item)
        if row is None:
            return None
        recent = self.knn.history_rows(interaction.user)
        trigger = self.catalogue.item_at(int(recent[0])).domain if recent.shape[0] else None
        context = Context(ts=interaction.ts, trigger_domain=trigger)
        found = self.candidates(interaction.user, LEARN_K, context)
        if found is None:
            return None
        rows, feats, _ = found
        hit = np.flatnonzero(rows == row)
        if hit.shape[0]:
            self.blend.learn(feats, int(hit[0]))
        return None

    def _drop_unknown_users(self) -> None:
        for user in [u for u in self._purchased if not self.knn.knows_user(u)]:
            del self._purchased[user]
        for user in [u for u in self._last_course if not self.knn.knows_user(u)]:
            del self._last_course[user]

    def forget_user(self, user: str) -> None:
        self.mf.forget_user(user)
        self.knn.forget_user(user)
        self._purchased.pop(user, None)
        self._last_course.pop(user, None)

    def predict_rating(self, user: str, item_id: str) -> float:
        """Explicit-rating prediction from the shared MF (cold start for unknowns)."""
        return self.mf.predict_rating(user, item_id)

    def knows_user(self, user: str) -> bool:
        return self.mf.knows_user(user) or self.knn.knows_user(user)

    def learn_impression(
        self, user: str, item_id: str, context: Context, clicked: bool, position: int = 0
    ) -> None:
        """Forward one labelled impression to the click model (if any) with our features."""
        self.learn_impressions(user, [LabelledImpression(item_id, context, clicked, position)])

    def learn_impressions(self, user: str, shown: Sequence[LabelledImpression]) -> None:
        """Forward one user's labelled impressions, in order, to the click model (if any).

        The features of the whole batch are computed at once: the models they read (MF,
        kNN, popularity) do not change while the click model learns, so this is one
        :meth:`learn_impression` after the other, without a numpy pass per item — up to
        float32 rounding of the MF score (BLAS sums a many-row product in another order)."""
        if self.click_model is None:
            return None
        known = [(s, item) for s in shown if (item := self.catalogue.get(s.item_id)) is not None]
        if not known:
            return None
        feats = self._features_many(
            user, [item for _, item in known], [(s.context, s.position) for s, _ in known]
        )
        for (s, item), f in zip(known, feats, strict=True):
            self.click_model.learn_impression(user, item, s.context, f, s.clicked)
        if self.domain_clicks is not None:  # counted once the whole batch (a list) is learnt
            self.domain_clicks.learn(
                user, [DOMAIN_CODE[item.domain] for _, item in known], [s.clicked for s, _ in known]
            )
        return None

    # ------------------------------------------------------------------ features
    def features_for(
        self, user: str, item_id: str, context: Context, position: int = 0
    ) -> dict[str, float]:
        """The features a click model sees for one (user, item); no side effects."""
        item = self.catalogue.get(item_id)
        if item is None:
            return {}
        return self._features_many(user, [item], [(context, position)])[0]

    def _features_many(
        self, user: str, items: Sequence[ItemInfo], shown_as: Sequence[tuple[Context, int]]
    ) -> list[dict[str, float]]:
        """:meth:`features_for` of catalogue ``items`` shown as ``(context, position)``."""
        rows = self.catalogue.rows_or_missing([item.item_id for item in items])
        mf = (
            self.mf.score_rows(user, rows).tolist()
            if self.mf.knows_user(user)
            else [0.0] * rows.shape[0]
        )
        knn = self.knn.score_rows(user, rows).tolist()
        pop = self.popularity.relative(rows).tolist()
        feats = [
            {
                "mf_score": mf[j],
                "knn_score": knn[j],
                "popularity": pop[j],
                "blend": 0.0,
                "position": float(position),
                "cross_domain": float(
                    context.trigger_domain is not None and item.domain != context.trigger_domain
                ),
                "price": item.price,
            }
            for j, (item, (context, position)) in enumerate(zip(items, shown_as, strict=True))
        ]
        taste = self._taste_of(user, items)
        if taste is not None:
            for f, t in zip(feats, taste, strict=True):
                f["taste"] = t
        codes = self.catalogue.domain_codes[rows]
        shares = self._domain_share(user, codes).tolist()
        for f, share in zip(feats, shares, strict=True):
            f["domain_share"] = share
        if self.domain_clicks is not None:
            for f, lift in zip(feats, self.domain_clicks.lift(user, codes).tolist(), strict=True):
                f["domain_lift"] = lift
        return feats

    def _taste_of(self, user: str, items: Sequence[ItemInfo]) -> list[float] | None:
        """The ``taste`` feature of ``items`` for learning (as :meth:`_taste` gives it when
        ranking): the candidate source's cosine with the user's profile, 0 without one;
        None when the blend uses no taste (the click model then sees none either)."""
        taste = getattr(self.candidate_source, "taste", None)
        if not self.w_taste or taste is None:
            return None
        found = taste(user, [item.item_id for item in items])
        return [0.0] * len(items) if found is None else [float(t) for t in found]

    def _excluded_rows(self, user: str, context: Context) -> list[int]:
        excl = self.catalogue.rows_of(context.exclude)
        bought = self._purchased.get(user)
        if bought:
            excl.extend(self.catalogue.rows_of(bought))
        if self.exclude_seen:
            excl.extend(self.knn.history_rows(user).tolist())
        return excl

    # ------------------------------------------------------------------ recommend
    def recommend(self, user: str, k: int, context: Context) -> list[Scored]:
        if k <= 0:
            return []
        excluded = self._excluded_rows(user, context)
        favoured = favoured_domains(context.trigger_domain)
        if not context.personalised:
            return self._popular(k, excluded, favoured)
        found = self.candidates(user, k, context, excluded)
        if found is None:
            return []
        rows, feats, source = found
        blend = self.blend_scores(feats)
        length = 2 * k if self.click_model or self.reranker else k
        order = self._compose(blend, feats["favoured"], k, favoured, length)
        return self._finish(user, rows, blend, feats, order, k, context, source)

    def blend_scores(self, feats: Mapping[str, npt.NDArray[np.float64]]) -> npt.NDArray[np.float64]:
        """The blend of the per-source features (module docstring, step 3): the learnt
        weights scaled to [0, 1] within the candidate set when ``learn_blend``, else the
        fixed weights."""
        if self.learn_blend:
            learnt = self.blend.score(feats)
            lo, hi = float(learnt.min()), float(learnt.max())
            return (learnt - lo) / (hi - lo) if hi > lo else np.zeros_like(learnt)
        blend: npt.NDArray[np.float64] = (
            self.w_mf * feats["mf"]
            + self.w_knn * feats["knn"]
            + self.w_pop * feats["pop"]
            + self.w_source * feats["source"]
            + self.domain_boost * feats["favoured"]
        )
        if self.w_taste:
            blend += self.w_taste * feats["taste"]
        if self.w_log_pop:
            blend += self.w_log_pop * feats["log_pop"]
        if self.w_quality and "quality" in feats:
            blend += self.w_quality * feats["quality"]
        if self.w_domain_lift and "domain_lift" in feats:
            blend += self.w_domain_lift * feats["domain_lift"]
        return blend

    def candidates(
        self, user: str, k: int, context: Context, excluded: list[int] | None = None
    ) -> Candidates | None:
        """Candidate rows, their per-source features and the external source's picks, or
        None when no source has a candidate; no side effects (steps 1–2 of the docstring)."""
        if excluded is None:
            excluded = self._excluded_rows(user, context)
        favoured = favoured_domains(context.trigger_domain)
        n = self.n_candidates
        active = self.catalogue.active_filter
        parts: list[IntRows] = []
        mf_known = self.mf.knows_user(user)
        if mf_known and self.w_mf > 0:
            parts.append(self.mf.top_rows(user, n, mask=active, exclude_rows=excluded))
        k_rows, k_scores = self.knn.candidate_scores(user)
        if k_rows.shape[0]:
            allowed = k_scores if active is None else np.where(active[k_rows], k_scores, -np.inf)
            best = k_rows[top_k(allowed.astype(np.float32, copy=False), n)]
            parts.append(best[~members(best, excluded)] if excluded else best)
        # One popularity scan: the global top n, plus favoured-domain items from a 4n pool.
        pool = self.popularity.top_rows(4 * n, exclude_rows=excluded)
        if favoured:
            keep = np.zeros(pool.shape[0], dtype=np.bool_)
            keep[:n] = True
            codes = self.catalogue.domain_codes[pool]
            per_domain = max(k, n // 4)
            for d in favoured:
                keep[np.flatnonzero(codes == DOMAIN_CODE[d])[:per_domain]] = True
            pool = pool[keep]
        else:
            pool = pool[:n]
        parts.append(pool)
        source = self._source_hits(user, n, context, active, excluded)
        parts.append(source.rows)
        rows = unique_in_order(np.concatenate(parts))
        if rows.shape[0] == 0:
            return None
        feats = self._features(user, rows, mf_known, k_rows, k_scores, source, favoured)
        return Candidates(rows, feats, source)

    def _source_hits(
        self,
        user: str,
        n: int,
        context: Context,
        active: npt.NDArray[np.bool_] | None,
        excluded: list[int],
    ) -> SourceHits:
        """The external source's picks that are known, active and not excluded."""
        source = self.candidate_source
        if source is None:
            return NO_SOURCE_HITS
        # getattr, not isinstance(source, PicksSource): a protocol check costs ~7 µs.
        answer_picks = getattr(source, "picks", None)
        picks: SourcePicks = (
            answer_picks(user, n, context)
            if answer_picks is not None
            else SourcePicks.from_triples(source.candidates(user, n, context))
        )
        bridges = self._bridges()
        if picks.rows is not None and bridges is not None:
            rows = bridges[1].map(picks.rows)
        else:
            rows = self.catalogue.rows_or_missing(picks.item_ids)
        ok = rows >= 0
        if active is not None:
            ok[ok] = active[rows[ok]]
        if excluded:
            ok &= ~members(rows, excluded)
        at = np.flatnonzero(ok)
        return SourceHits(rows[at], picks.scores[at], at, picks)

    def _features(
        self,
        user: str,
        rows: IntRows,
        mf_known: bool,
        k_rows: IntRows,
        k_scores: npt.NDArray[np.float32],
        source: SourceHits,
        favoured: tuple[Domain, ...],
    ) -> dict[str, npt.NDArray[np.float64]]:
        m = rows.shape[0]
        mf = np.zeros(m)
        mf_raw = np.zeros(m)
        if mf_known:
            mf_raw = self.mf.score_rows(user, rows).astype(np.float64)
            lo, hi = mf_raw.min(), mf_raw.max()
            mf = (mf_raw - lo) / (hi - lo) if hi > lo else np.zeros(m)
        knn = np.zeros(m)
        if k_rows.shape[0]:
            pos = np.searchsorted(k_rows, rows)  # k_rows is sorted (np.unique)
            pos = np.minimum(pos, k_rows.shape[0] - 1)
            hit = k_rows[pos] == rows
            knn[hit] = k_scores[pos[hit]]
            top = knn.max()
            if top > 0:
                knn_raw = knn.copy()
                knn /= top
            else:
                knn_raw = knn
        else:
            knn_raw = knn
        pop = self.popularity.relative(rows).astype(np.float64)
        src = np.zeros(m)
        if source.rows.shape[0]:
            by_row = np.argsort(rows)
            src[by_row[np.searchsorted(rows, source.rows, sorter=by_row)]] = source.scores
        codes = self.catalogue.domain_codes[rows]
        fav = np.zeros(m)
        if favoured:
            table = np.zeros(len(DOMAIN_CODE), dtype=np.float64)
            table[[DOMAIN_CODE[d] for d in favoured]] = 1.0
            fav = table[codes]
        feats = {
            "mf": mf,
            "mf_raw": mf_raw,
            "knn": knn,
            "knn_raw": knn_raw,
            "pop": pop,
            "source": src,
            "favoured": fav,
        }
        if self.w_taste:
            feats["taste"] = self._taste(rows, source)
        if self.w_quality and self.item_quality is not None:
            feats["quality"] = self.item_quality.scores(rows, codes)
        if self.w_log_pop or self.learn_blend:
            feats["log_pop"] = np.log10(pop + LOG_POP_FLOOR) / LOG_POP_RANGE + 1.0
        if self.learn_blend or self.click_model is not None:
            feats["domain_share"] = self._domain_share(user, codes)
        if self.domain_clicks is not None:
            feats["domain_lift"] = self.domain_clicks.lift(user, codes)
        return feats

    def _domain_share(self, user: str, codes: npt.NDArray[np.int8]) -> npt.NDArray[np.float64]:
        """The share of the user's recent history (the kNN's) in each of ``codes``' domains,
        0 without history: how much this user engages with an item's domain. A feature of
        the learnt blend and of the click model (the simulator's true click model has a
        user x domain affinity term, which segment x domain crosses caught only coarsely)."""
        recent = self.knn.history_rows(user)
        if not recent.shape[0]:
            return np.zeros(codes.shape[0])
        counts = np.bincount(
            self.catalogue.domain_codes[recent].astype(np.int64), minlength=len(DOMAIN_CODE)
        )
        share: npt.NDArray[np.float64] = counts[codes] / recent.shape[0]
        return share

    def _taste(self, rows: IntRows, source: SourceHits) -> npt.NDArray[np.float64]:
        """How well every candidate matches the user's taste: the candidate source's
        :attr:`~online_models.scorers.SourcePicks.similarity` (content: cosine with the
        user's tag profile) for *all* candidates, not only those it proposed; zeros when
        the source offers none (e.g. a user without history)."""
        similarity = source.picks.similarity if source.picks is not None else None
        bridges = self._bridges()
        if similarity is None or bridges is None:
            return np.zeros(rows.shape[0])
        return similarity(bridges[0].map(rows))

    def _bridges(self) -> tuple[RowBridge, RowBridge] | None:
        """Catalogue -> candidate source and back, when the source numbers its items as a
        :class:`~online_models.row_bridge.RowSpace` (else None: ids are translated one by
        one)."""
        bridges = self._row_bridges
        source = self.candidate_source
        if bridges is not None and cast(object, bridges[0].target) is source:
            return bridges
        if not (hasattr(source, "ids") and hasattr(source, "rows_or_missing")):
            return None
        space = cast(RowSpace, source)
        bridges = self._row_bridges = (
            RowBridge(self.catalogue, space),
            RowBridge(space, self.catalogue),
        )
        return bridges

    def _compose(
        self,
        blend: npt.NDArray[np.float64],
        fav: npt.NDArray[np.float64],
        k: int,
        favoured: tuple[Domain, ...],
        length: int,
    ) -> list[int]:
        """The first ``length`` candidate positions, best first, honouring the cross-domain
        share: the best ``quota`` favoured candidates are in the top ``k`` (then ordered by
        blend with the rest of the top ``k``), the others follow by blend."""
        ranked = np.argsort(-blend, kind="stable")
        if not favoured or self.cross_domain_share <= 0:
            best: list[int] = ranked[:length].tolist()
            return best
        quota = math.ceil(self.cross_domain_share * k)
        first_at = np.flatnonzero(fav[ranked] > 0)[:quota]
        first = ranked[first_at]
        rest = np.delete(ranked, first_at)
        n_head = max(0, k - first.shape[0])
        head = np.concatenate((first, rest[:n_head]))
        head = head[np.argsort(-blend[head], kind="stable")]
        composed: list[int] = np.concatenate(
            (head, rest[n_head : n_head + length - head.shape[0]])
        ).tolist()
        return composed

    def _finish(
        self,
        user: str,
        rows: IntRows,
        blend: npt.NDArray[np.float64],
        feats: Mapping[str, npt.NDArray[np.float64]],
        shortlist: list[int],
        k: int,
        context: Context,
        source: SourceHits,
    ) -> list[Scored]:
        """Steps 5-6 of the module docstring on the ``shortlist`` (candidate positions, best
        first), then the first ``k`` as :class:`Scored` with their reasons. Everything per
        item is a list aligned with the shortlist, indexed by ``j``."""
        picked = np.array(shortlist, dtype=np.int64)
        blends: list[float] = blend[picked].tolist()
        item_at = self.catalogue.item_at
        items = [item_at(r) for r in rows[picked].tolist()]
        order: Sequence[int] = range(len(items))
        if self.click_model is None:
            probabilities = [min(1.0, max(0.0, b)) for b in blends]
            final_scores = blends
        else:
            probabilities = self._click_probabilities(user, items, context, feats, picked, blends)
            w = self.ctr_weight
            final_scores = [
                (1.0 - w) * b + w * p for b, p in zip(blends, probabilities, strict=True)
            ]
            order = sorted(order, key=lambda j: -final_scores[j])
        if self.reranker is not None:
            by_id = {items[j].item_id: j for j in order}
            ranked = [(items[j].item_id, final_scores[j]) for j in order]
            chosen = self.reranker.rerank(user, ranked, k, context)
            order = [by_id[i] for i in dict.fromkeys(chosen) if i in by_id]
        order = order[:k]
        shown = picked[list(order)]
        shown_rows: list[int] = rows[shown].tolist()
        source_reasons = source.reasons(shown_rows)
        weights = self._reason_weights()
        columns = (feats[name][shown].tolist() for name in ("knn", "mf", "pop", "source"))
        return [
            Scored(
                items[j].item_id,
                final_scores[j],
                probabilities[j],
                self._reason(user, items[j], values, source_reasons.get(row), context, weights),
            )
            for j, row, values in zip(order, shown_rows, zip(*columns, strict=True), strict=True)
        ]

    def _click_probabilities(
        self,
        user: str,
        items: list[ItemInfo],
        context: Context,
        feats: Mapping[str, npt.NDArray[np.float64]],
        picked: IntRows,
        blends: list[float],
    ) -> list[float]:
        """``p_click`` of each shortlisted item, clipped to [0, 1] (one batch call when the
        click model offers ``predict_proba_many``)."""
        assert self.click_model is not None
        trigger = context.trigger_domain
        columns: dict[str, list[float]] = {
            "mf_score": feats["mf_raw"][picked].tolist(),
            "knn_score": feats["knn_raw"][picked].tolist(),
            "popularity": feats["pop"][picked].tolist(),
            "blend": blends,
            "position": [float(pos) for pos in range(len(items))],
            "cross_domain": [
                float(trigger is not None and item.domain != trigger) for item in items
            ],
            "price": [item.price for item in items],
        }
        if "taste" in feats:
            columns["taste"] = feats["taste"][picked].tolist()
        for name in ("domain_share", "domain_lift"):
            if name in feats:
                columns[name] = feats[name][picked].tolist()
        many = getattr(self.click_model, "predict_proba_many", None)
        if many is not None:
            raw: list[float] = many(user, items, context, columns)
        else:
            names = list(columns)
            raw = [
                float(
                    self.click_model.predict_proba(
                        user, item, context, {name: columns[name][j] for name in names}
                    )
                )
                for j, item in enumerate(items)
            ]
        return [min(1.0, max(0.0, float(p))) for p in raw]

    def _reason(
        self,
        user: str,
        item: ItemInfo,
        values: tuple[float, float, float, float],
        source_reason: str | None,
        context: Context,
        w: Mapping[str, float],
    ) -> str:
        """Why ``item`` is shown: the bought course it complements, else the source with the
        biggest share of its blend (``values``: its kNN, MF, popularity and source features;
        ``source_reason``: the external source's reason if it proposed the item).

        The course is the one being bought when a course purchase triggers the list: the
        list is made before its event is learnt, so the last course learnt is the one
        before it."""
        if context.trigger_domain == "course" and item.domain != "course":
            course = (
                context.trigger_item
                if context.trigger_kind == "course_purchase"
                else self._last_course.get(user)
            )
            info = self.catalogue.get(course) if course else None
            if info is not None:
                topic = info.tags[0] if info.tags else (info.title or "a related topic")
                return f"because you bought a course in {topic}"
        knn, mf, pop, src = values
        # The first of the biggest shares, in this order: kNN, MF, popularity, source.
        reason, share = KNN_REASON, w["knn"] * knn
        if w["mf"] * mf > share:
            reason, share = MF_REASON, w["mf"] * mf
        if w["pop"] * pop > share:
            reason, share = f"popular in {item.domain}", w["pop"] * pop
        if source_reason is not None and w["source"] * src > share:
            reason = source_reason or "matches your interests"
        return reason

    def _reason_weights(self) -> Mapping[str, float]:
        """The weight of each source in the blend, for the reasons (once per list)."""
        if self.learn_blend:
            return self.blend.weights
        return {"mf": self.w_mf, "knn": self.w_knn, "pop": self.w_pop, "source": self.w_source}

    def _popular(self, k: int, excluded: list[int], favoured: tuple[Domain, ...]) -> list[Scored]:
        picked: dict[int, float] = {}
        if favoured and self.cross_domain_share > 0:
            quota = math.ceil(self.cross_domain_share * k)
            fav_rows: list[tuple[int, float]] = []
            for dom in favoured:
                fav_rows.extend(self.popularity.top(quota, domain=dom, exclude_rows=excluded))
            for r, s in sorted(fav_rows, key=lambda rs: -rs[1])[:quota]:
                picked[r] = s
        for r, s in self.popularity.top(k + len(picked), exclude_rows=excluded):
            if len(picked) >= k:
                break
            picked.setdefault(r, s)
        out = []
        for r, s in sorted(picked.items(), key=lambda rs: -rs[1]):
            item = self.catalogue.item_at(r)
            out.append(Scored(item.item_id, s, min(1.0, max(0.0, s)), f"popular in {item.domain}"))
        return out
