"""Hooks that let optional scorers plug into the cross-domain recommender.

The recommender owns retrieval (matrix factorisation, item-kNN, popularity) and the final
blend. Other components — a click-through model, a content-based candidate source, an
exploration policy — plug in through these small protocols so neither side imports the
other's implementation.

``features`` is a read-only mapping of numeric features the recommender already computed for
one (user, item) pair. Keys that are always present (see :data:`FEATURE_NAMES`):

- ``mf_score``: dot product of user and item factors plus biases (0.0 for cold users);
- ``knn_score``: item-kNN similarity to the user's recent history (0.0 when none);
- ``popularity``: time-decayed popularity of the item in [0, 1] (normalised by the maximum);
- ``blend``: the recommender's blended score before the click model;
- ``position``: 0-based rank of the item in the blended list;
- ``cross_domain``: 1.0 when the item's domain differs from ``context.trigger_domain``;
- ``price``: the item's price.

Implementations must not mutate ``features`` and must treat missing keys as 0.0, so new
features can be added without breaking them.

>>> class Constant:
...     def predict_proba(self, user, item, context, features):
...         return 0.1
...     def learn_impression(self, user, item, context, features, clicked):
...         return None
>>> isinstance(Constant(), ClickModel)
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from online_models.types import Context, ItemInfo

FEATURE_NAMES: tuple[str, ...] = (
    "mf_score",
    "knn_score",
    "popularity",
    "blend",
    "position",
    "cross_domain",
    "price",
)


@runtime_checkable
class ClickModel(Protocol):
    """Predicts and learns the probability that a shown item is clicked (CTR)."""

    def predict_proba(
        self, user: str, item: ItemInfo, context: Context, features: Mapping[str, float]
    ) -> float:
        """Probability in [0, 1] that ``user`` clicks ``item`` if shown; no side effects."""

    def learn_impression(
        self,
        user: str,
        item: ItemInfo,
        context: Context,
        features: Mapping[str, float],
        clicked: bool,
    ) -> None:
        """Learn from one labelled impression (shown, then clicked or not)."""


@runtime_checkable
class CandidateSource(Protocol):
    """Proposes extra candidates (e.g. content-based similarity for cold users)."""

    def candidates(self, user: str, k: int, context: Context) -> list[tuple[str, float, str]]:
        """Up to ``k`` ``(item_id, score, reason)`` triples, best first; no side effects.

        ``score`` should be in [0, 1]; unknown item ids are dropped by the recommender.
        """


@dataclass(frozen=True, slots=True)
class SourcePicks:
    """A candidate source's answer in the shape the recommender consumes: ids best first,
    their scores in [0, 1] as one array, and each reason only when asked for (a list shows
    at most k of the picks, so building every reason string would be wasted work).

    >>> picks = SourcePicks(["a", "b"], np.array([0.9, 0.5]), lambda j: f"pick {j}")
    >>> picks.as_triples()
    [('a', 0.9, 'pick 0'), ('b', 0.5, 'pick 1')]
    """

    item_ids: list[str]
    scores: npt.NDArray[np.float64]
    reason: Callable[[int], str]
    """The reason of pick ``j`` (an index into ``item_ids``)."""
    similarity: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float64]] | None = None
    """Optional: how well *any* items match what the picks were chosen for, in [0, 1], for
    the request that made these picks. Takes rows of the source's
    :class:`~online_models.row_bridge.RowSpace` (0 for -1, an item it does not know). Lets
    the recommender give every candidate a taste score, not only the ones the source
    proposed."""
    rows: npt.NDArray[np.int64] | None = None
    """Optional: the picks' rows in the source's :class:`~online_models.row_bridge.RowSpace`
    (``source.ids[rows[j]] == item_ids[j]``); the recommender then maps them to its
    catalogue through a :class:`~online_models.row_bridge.RowBridge` instead of by id."""

    def as_triples(self) -> list[tuple[str, float, str]]:
        """The :class:`CandidateSource` form: ``(item_id, score, reason)``, best first."""
        return [
            (item_id, score, self.reason(j))
            for j, (item_id, score) in enumerate(
                zip(self.item_ids, self.scores.tolist(), strict=True)
            )
        ]

    @classmethod
    def from_triples(cls, triples: Sequence[tuple[str, float, str]]) -> SourcePicks:
        """Wrap a :class:`CandidateSource` answer; scores are clipped to [0, 1].

        >>> SourcePicks.from_triples([("a", 1.5, "why")]).scores.tolist()
        [1.0]
        """
        scores = np.array([min(1.0, max(0.0, float(s))) for _, s, _ in triples], dtype=np.float64)
        reasons = [why for _, _, why in triples]
        return cls([item_id for item_id, _, _ in triples], scores, reasons.__getitem__)


@runtime_checkable
class PicksSource(Protocol):
    """A :class:`CandidateSource` that can also answer as :class:`SourcePicks` (faster: no
    per-candidate tuples, reasons on demand). The recommender prefers this form."""

    def picks(self, user: str, k: int, context: Context) -> SourcePicks:
        """The same candidates as ``candidates(user, k, context)``, in the same order, with
        the same scores and reasons; no side effects."""


class RecentItems(Protocol):
    """A user's recent items, kept by one model and read by another (the full ranker's
    content model reads the item-kNN's history instead of keeping a second copy)."""

    def history(self, user: str) -> list[str]:
        """The user's recent item ids, most recent first (may repeat); no side effects."""


@runtime_checkable
class Reranker(Protocol):
    """Re-orders a final list, e.g. an exploration policy that swaps in uncertain items."""

    def rerank(
        self, user: str, ranked: Sequence[tuple[str, float]], k: int, context: Context
    ) -> list[str]:
        """Return at most ``k`` item ids chosen from ``ranked`` (``(item_id, score)``, best
        first). Must only return ids present in ``ranked``; no side effects on ``ranked``.
        Randomness must come from a seeded generator owned by the implementation and driven
        by its inputs (e.g. ``context.ts``), so ``recommend`` stays repeatable."""
