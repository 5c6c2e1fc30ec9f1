"""Which model serves which A/B strategy, and the learner built from settings."""

from __future__ import annotations

from typing import TypeVar

from online_models.full_ranker import FullRanker
from online_models.matrix_factorisation import MatrixFactorisation
from online_models.popularity import Popularity
from online_models.types import DOMAINS, Domain, Recommender
from streams.experiments import Experiment
from streams.recommend_service import TRIGGER_KINDS, RecommendationService, ServiceConfig
from streams.settings import Settings, SettingsError, comma_list

_Choice = TypeVar("_Choice", bound=str)


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
            triggers=parse_triggers("CROSSREC_RECOMMEND_ON", settings.recommend_on),
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
    return _choices(name, raw, DOMAINS, "domain")


def parse_triggers(name: str, raw: str) -> frozenset[str]:
    """The event types of a comma-separated setting that may trigger a list; any other
    (a typo, or an event that never triggers, such as ``impression``) is a
    :class:`SettingsError` rather than a worker that silently never answers it.

    >>> sorted(parse_triggers("X", "partner_order,click"))
    ['click', 'partner_order']
    >>> parse_triggers("X", "click,impression")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    streams.settings.SettingsError: X: unknown event type(s) ['impression']; known: click, ...
    """
    return _choices(name, raw, TRIGGER_KINDS, "event type")


def _choices(name: str, raw: str, known: tuple[_Choice, ...], what: str) -> frozenset[_Choice]:
    named = set(comma_list(raw))
    unknown = sorted(named - set(known))
    if unknown:
        raise SettingsError(f"{name}: unknown {what}(s) {unknown}; known: {', '.join(known)}")
    return frozenset(k for k in known if k in named)
