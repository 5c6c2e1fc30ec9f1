"""Which model serves which A/B strategy, and the learner built from settings."""

from __future__ import annotations

from online_models.full_ranker import FullRanker
from online_models.matrix_factorisation import MatrixFactorisation
from online_models.popularity import Popularity
from online_models.types import DOMAINS, Domain, Recommender
from streams.experiments import Experiment
from streams.recommend_service import RecommendationService, ServiceConfig
from streams.settings import Settings, SettingsError, comma_list


def build_model(strategy: str, seed: int = 0) -> Recommender:
    """``full``: the whole ranker; ``mf_only``: matrix factorisation alone; ``popularity``:
    time-decayed popularity (the non-personalised baseline).

    The service excludes what a user bought from every variant's lists
    (``ServiceConfig.never_reoffer``, through ``Context.exclude``), so the full ranker keeps
    no purchase memory of its own: one rule, one copy of it."""
    if strategy == "full":
        return FullRanker(seed=seed, bought_once_domains=())
    if strategy == "mf_only":
        return MatrixFactorisation(seed=seed)
    if strategy == "popularity":
        return Popularity(seed=seed)
    raise ValueError(f"unknown strategy {strategy!r}")


def build_service(settings: Settings) -> RecommendationService:
    """The learner exactly as the worker runs it (replays and tests build the same one)."""
    never_reoffer = parse_domains("CROSSREC_NEVER_REOFFER", settings.never_reoffer)
    return RecommendationService(
        Experiment.parse(settings.experiment),
        build_model,
        ServiceConfig(
            triggers=frozenset(comma_list(settings.recommend_on)),
            k=settings.recommend_k,
            debounce_s=settings.debounce_s,
            label_window_s=settings.label_window_s,
            never_reoffer=never_reoffer,
        ),
    )


def parse_domains(name: str, raw: str) -> frozenset[Domain]:
    """The domains of a comma-separated setting; an unknown one is a :class:`SettingsError`.

    >>> sorted(parse_domains("X", "fashion, course"))
    ['course', 'fashion']
    """
    named = set(comma_list(raw))
    unknown = sorted(named - set(DOMAINS))
    if unknown:
        raise SettingsError(f"{name}: unknown domain(s) {unknown}; known: {', '.join(DOMAINS)}")
    return frozenset(d for d in DOMAINS if d in named)
