"""Which model serves which A/B strategy, and the learner built from settings."""

from __future__ import annotations

from online_models.full_ranker import FullRanker
from online_models.matrix_factorisation import MatrixFactorisation
from online_models.popularity import Popularity
from online_models.types import Recommender
from streams.experiments import Experiment
from streams.recommend_service import RecommendationService, ServiceConfig
from streams.settings import Settings


def build_model(strategy: str, seed: int = 0) -> Recommender:
    """``full``: the whole ranker; ``mf_only``: matrix factorisation alone; ``popularity``:
    time-decayed popularity (the non-personalised baseline)."""
    if strategy == "full":
        return FullRanker(seed=seed)
    if strategy == "mf_only":
        return MatrixFactorisation(seed=seed)
    if strategy == "popularity":
        return Popularity(seed=seed)
    raise ValueError(f"unknown strategy {strategy!r}")


def build_service(settings: Settings) -> RecommendationService:
    """The learner exactly as the worker runs it (replays and tests build the same one)."""
    return RecommendationService(
        Experiment.parse(settings.experiment),
        build_model,
        ServiceConfig(
            triggers=frozenset(t.strip() for t in settings.recommend_on.split(",") if t.strip()),
            k=settings.recommend_k,
            debounce_s=settings.debounce_s,
            label_window_s=settings.label_window_s,
        ),
    )
