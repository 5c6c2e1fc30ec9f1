"""The production strategy: every model working together behind one ``Recommender``.

:class:`~online_models.recommender.CrossDomainRecommender` retrieves and blends (MF,
item-kNN, popularity); this class adds the parts that plug into it and keeps them all fed:

- content similarity (:mod:`online_models.content`) as an extra candidate source, so cold
  users and new items get matches by tags;
- the CTR model (:mod:`online_models.ctr`) re-ranking the shortlist with calibrated ``p_click``;
- exploration (:mod:`online_models.exploration`) giving new items a fair share of slots;
- online segments (:mod:`online_models.segments`) feeding the CTR model's features;
- item quality (:mod:`online_models.item_quality`): each item's click rate over what its
  position and the viewer's taste predict, learnt from the labelled impressions and added
  to the blend with weight ``w_quality`` (0 turns it off, learning included).

Each part sees every catalogue upsert and every interaction it needs, and ``forget_user``
reaches all of them. The parts that keep per-user state (MF, item-kNN, segments) share one
user index (:mod:`online_models.users`): a user costs one dict entry and one row in each
part's arrays, evicted from all parts at once. Content similarity reads each user's recent
items from the item-kNN's history rather than keeping its own (the same interactions: 164
bytes a user saved).

Two settings differ from the recommender's defaults, chosen by closed-loop runs against the
simulator's ground truth (``crossrec evaluate``, README): content candidates weigh as much as
item-kNN (``w_source=1.0``: tags carry a user's taste across domains), and items the user only
clicked may be shown again (``exclude_seen=False``) — what they bought in a
``bought_once_domains`` domain (all by default) is never offered again.

``learn_blend`` (off by default here, on in the plain recommender) learns the blend weights
from the next engagements (:mod:`online_models.blend_learner`). On a replayed simulator stream
it lifts this ranker's Recall@10 from below popularity to above it (seed 1, 60k simulator
events: 0.040 → 0.059, popularity 0.051), but in the closed loop it costs ground-truth CTR
(seed 1: 0.191 → 0.128): the next engagement is mostly decided by what the platform already
shows (exposure), and a model trained to predict it drifts towards popularity. The served
ranker therefore keeps the fixed weights until the blend is trained on labelled impressions.

``w_quality`` = 0.3, closed loop, seeds 1-6, paired against 0. With the evaluation's
30-minute label window — which in a 31-minute simulated run closes almost only the clicked
labels (83 % positive), so quality is barely learnt — no measurable effect (ground-truth
CTR 0.195 -> 0.203, higher in 3/6 seeds; Recall@10 0.045 -> 0.044). With a 120 s window
(every negative label closes): Recall@10 0.046 -> 0.051 (higher in 4/6), CTR 0.204 -> 0.199
(lower in 5/6); weight 0.5: 0.053 / 0.194, weight 1: 0.057 / 0.184 — quality buys recall
with CTR. Learning it costs one content profile per batch of labels (a user's labels
closing together); reading it, one gather over the candidates.

``w_domain_lift`` = 0.2: the user's click rate in each candidate's domain over everyone's
(:mod:`online_models.user_domain_clicks`, learnt from the labels for the click model) also
moves candidates in the blend, so the shortlist the click model re-ranks already leans
towards the domains the user clicks. Closed loop, twelve seeds, paired against 0
(the lift a click feature only): ground-truth CTR 0.218 -> 0.220 (higher in 8/12), Recall@10
0.074 -> 0.078 (9/12), hit rate 0.566 -> 0.569 (10/12); weight 0.4 gave 0.213 / 0.076,
weight 0.1 0.216 / 0.074.

>>> from online_models.types import Context, Interaction, ItemInfo
>>> ranker = FullRanker(seed=1)
>>> for i in range(5):
...     ranker.upsert_item(ItemInfo(f"c{i}", "course", tags=("cooking",)))
>>> ranker.learn(Interaction("p:u", "c0", "click", ts=0.0))
>>> len(ranker.recommend("p:u", 3, Context(ts=1.0))) <= 3
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from online_models.content import ContentSimilarity
from online_models.ctr import CtrModel
from online_models.exploration import Explorer
from online_models.item_quality import ItemQuality
from online_models.recommender import CrossDomainRecommender
from online_models.segments import UserSegments
from online_models.types import (
    DOMAINS,
    Context,
    Domain,
    Interaction,
    ItemInfo,
    LabelledImpression,
    Scored,
)
from online_models.users import UserIndex


class FullRanker:
    """MF + item-kNN + popularity + content candidates, CTR re-rank, exploration, segments."""

    def __init__(
        self,
        n_factors: int = 32,
        explore: bool = True,
        max_users: int = 1_000_000,
        learn_blend: bool = False,
        w_quality: float = 0.3,
        w_domain_lift: float = 0.2,
        bought_once_domains: Iterable[Domain] = DOMAINS,
        seed: int = 0,
    ) -> None:
        self.n_factors = n_factors
        self.explore = explore
        self.learn_blend = learn_blend
        self.max_users = max_users
        self.w_quality = w_quality
        self.w_domain_lift = w_domain_lift
        self.seed = seed
        users = UserIndex(max_users)
        self.segments = UserSegments(users=users, seed=seed)
        self.content = ContentSimilarity(seed=seed)  # history: the kNN's, set below
        self.explorer = Explorer(seed=seed)
        self.ctr = CtrModel(seed=seed)
        self.quality = ItemQuality(seed=seed)
        self.recommender = CrossDomainRecommender(
            n_factors=n_factors,
            w_source=1.0,
            w_taste=0.5,
            w_log_pop=0.5,
            exclude_seen=False,
            click_model=self.ctr,
            candidate_source=self.content,
            reranker=self.explorer if explore else None,
            learn_blend=learn_blend,
            w_quality=w_quality,
            item_quality=self.quality,
            w_domain_lift=w_domain_lift,
            users=users,
            bought_once_domains=bought_once_domains,
            seed=seed,
        )
        self.content.history_source = self.recommender.knn

    def upsert_item(self, item: ItemInfo) -> None:
        self.recommender.upsert_item(item)
        self.content.upsert_item(item)
        self.explorer.upsert_item(item)

    def learn(self, interaction: Interaction) -> None:
        self.recommender.learn(interaction)
        # Segments learn the item's domain from the recommender's catalogue, not from a
        # copy of their own (content keeps no history here: it reads the kNN's).
        if interaction.domain is None:
            item = self.recommender.catalogue.get(interaction.item)
            if item is not None:
                interaction = dataclasses.replace(interaction, domain=item.domain)
        self.segments.observe(interaction)

    def recommend(self, user: str, k: int, context: Context) -> list[Scored]:
        return self.recommender.recommend(user, k, self._with_segment(user, context))

    def learn_impression(
        self, user: str, item_id: str, context: Context, clicked: bool, position: int = 0
    ) -> None:
        """One labelled impression: trains the CTR model and the exploration posteriors."""
        self.learn_impressions(user, [LabelledImpression(item_id, context, clicked, position)])

    def learn_impressions(self, user: str, shown: Sequence[LabelledImpression]) -> None:
        """One user's labelled impressions, in order (features computed once for all)."""
        self.recommender.learn_impressions(
            user,
            [dataclasses.replace(s, context=self._with_segment(user, s.context)) for s in shown],
        )
        for s in shown:
            self.explorer.update(s.item_id, s.clicked)
        self._learn_quality(user, shown)

    def _learn_quality(self, user: str, shown: Sequence[LabelledImpression]) -> None:
        """Item quality from labels, each credited with the user's taste for the item (the
        content cosine: one profile per batch), so quality is not the taste of whoever
        was shown the item. Skipped, with its cost, while the blend gives it no weight."""
        if not self.w_quality or not shown:
            return None
        catalogue = self.recommender.catalogue
        tastes = self.content.taste(user, [s.item_id for s in shown])
        for j, s in enumerate(shown):
            row = catalogue.row(s.item_id)
            if row is not None:
                taste = float(tastes[j]) if tastes is not None else 0.0
                code = int(catalogue.domain_codes[row])
                self.quality.learn(row, code, s.position, s.clicked, taste)
        return None

    def forget_user(self, user: str) -> None:
        self.recommender.forget_user(user)
        self.content.forget_user(user)
        self.segments.forget_user(user)
        self.explorer.forget_user(user)
        self.ctr.forget_user(user)

    def knows_user(self, user: str) -> bool:
        return self.recommender.knows_user(user)

    def _with_segment(self, user: str, context: Context) -> Context:
        segment = self.segments.segment_of(user)
        if segment is None or context.segment == segment:
            return context
        return dataclasses.replace(context, segment=segment)
