"""The production strategy: every model working together behind one ``Recommender``.

:class:`~online_models.recommender.CrossDomainRecommender` retrieves and blends (MF,
item-kNN, popularity); this class adds the parts that plug into it and keeps them all fed:

- content similarity (:mod:`online_models.content`) as an extra candidate source, so cold
  users and new items get matches by tags;
- the CTR model (:mod:`online_models.ctr`) re-ranking the shortlist with calibrated ``p_click``;
- exploration (:mod:`online_models.exploration`) giving new items a fair share of slots;
- online segments (:mod:`online_models.segments`) feeding the CTR model's features.

Each part sees every catalogue upsert and every interaction it needs, and ``forget_user``
reaches all of them.

Two settings differ from the recommender's defaults, chosen by closed-loop runs against the
simulator's ground truth (``crossrec evaluate``, README): content candidates weigh as much as
item-kNN (``w_source=1.0``: tags carry a user's taste across domains), and items the user only
clicked may be shown again (``exclude_seen=False``) — purchases are still never re-offered.

``learn_blend`` (off by default here, on in the plain recommender) learns the blend weights
from the next engagements (:mod:`online_models.blend_learner`). On a replayed simulator stream
it lifts this ranker's Recall@10 from below popularity to above it (seed 1, 60k simulator
events: 0.040 → 0.059, popularity 0.051), but in the closed loop it costs ground-truth CTR
(seed 1: 0.191 → 0.128): the next engagement is mostly decided by what the platform already
shows (exposure), and a model trained to predict it drifts towards popularity. The served
ranker therefore keeps the fixed weights until the blend is trained on labelled impressions.

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
from collections.abc import Sequence

from online_models.content import ContentSimilarity
from online_models.ctr import CtrModel
from online_models.exploration import Explorer
from online_models.recommender import CrossDomainRecommender
from online_models.segments import UserSegments
from online_models.types import Context, Interaction, ItemInfo, LabelledImpression, Scored


class FullRanker:
    """MF + item-kNN + popularity + content candidates, CTR re-rank, exploration, segments."""

    def __init__(
        self,
        n_factors: int = 32,
        explore: bool = True,
        max_users: int = 1_000_000,
        learn_blend: bool = False,
        seed: int = 0,
    ) -> None:
        self.n_factors = n_factors
        self.explore = explore
        self.learn_blend = learn_blend
        self.max_users = max_users
        self.seed = seed
        self.segments = UserSegments(max_users=max_users, seed=seed)
        self.content = ContentSimilarity(max_users=max_users, seed=seed)
        self.explorer = Explorer(seed=seed)
        self.ctr = CtrModel(seed=seed)
        self.recommender = CrossDomainRecommender(
            n_factors=n_factors,
            max_users=max_users,
            w_source=1.0,
            w_taste=0.5,
            w_log_pop=0.5,
            exclude_seen=False,
            click_model=self.ctr,
            candidate_source=self.content,
            reranker=self.explorer if explore else None,
            learn_blend=learn_blend,
            seed=seed,
        )

    def upsert_item(self, item: ItemInfo) -> None:
        self.recommender.upsert_item(item)
        self.content.upsert_item(item)
        self.explorer.upsert_item(item)
        self.segments.upsert_item(item)

    def learn(self, interaction: Interaction) -> None:
        self.recommender.learn(interaction)
        self.content.observe(interaction)
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
