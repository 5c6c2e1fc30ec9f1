"""Learn + recommend for one stream of validated events: predict → emit → learn. Pure.

For each event the service first answers (if the event triggers a recommendation), then
learns from it, so the list a user gets never benefits from the very event being judged —
online metrics stay honest. Everything here is deterministic given the event sequence:
``rec_id`` is derived from the source event and variant, so a replay after a crash re-emits
the *same* recommendation rather than a new one.

State is bounded: per user, consent opt-outs, what they bought (never offered again) and
the last list served (for the debounce and hit rate), each up to ``max_tracked_users``; per
served list, what its labels need, for two label windows and no more lists than the label
join holds open (see ``bench/service_bench.py`` for the bytes). Models live behind the
``Recommender`` protocol, one instance per A/B variant when variants learn in isolation (no
arm's traffic trains another arm's model). Business rules are the service's, the same for
every arm: what a user bought in a ``never_reoffer`` domain is excluded from every list.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import time
from array import array
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from typing import Protocol, TypeVar, runtime_checkable

from online_models.served_calibration import ServedCalibration
from online_models.types import (
    DOMAINS,
    Context,
    Domain,
    ItemInfo,
    LabelledImpression,
    Recommender,
)
from online_models.wire_events import interactions, item_info
from schemas import (
    Click,
    Consent,
    CoursePurchase,
    Event,
    Forget,
    Impression,
    ItemUpsert,
    PartnerOrder,
    Recommendation,
    RecommendedItem,
)
from streams.dedupe import RecentIds
from streams.experiments import Experiment
from streams.label_join import Label, LabelJoin
from streams.last_lists import LastLists
from streams.online_metrics import OnlineMetrics

V = TypeVar("V")
MAX_BOUGHT_PER_USER = 256
"""Bought items remembered per user (the oldest are dropped beyond it)."""
TRIGGER_KINDS: tuple[str, ...] = ("click", "course_purchase", "partner_order")
"""The event types that can trigger a list (``ServiceConfig.triggers`` picks among them)."""


@runtime_checkable
class LearnsFromImpressions(Protocol):
    """A model that also learns click-through from labelled impressions (the CTR path)."""

    def learn_impressions(self, user: str, shown: Sequence[LabelledImpression]) -> None: ...


@dataclass(frozen=True)
class ServiceConfig:
    triggers: frozenset[str] = frozenset(TRIGGER_KINDS)
    k: int = 10
    debounce_s: float = 10.0
    label_window_s: float = 1800.0
    isolated_variants: bool = True
    model_version: str = "crossrec-0.1"
    max_tracked_users: int = 1_000_000
    dedupe_window_s: float = 24 * 3600.0
    never_reoffer: frozenset[str] = frozenset(DOMAINS)
    """Domains whose items a user bought or ordered are never offered to that user again,
    by any variant (one rule for every arm: an A/B comparison must not reward one arm for
    showing what the others may not)."""


@dataclass(frozen=True, slots=True)
class ServedList:
    """What the service keeps of a list it served until the list's labels close: each
    item's model ``p_click`` and the calibrated one it was served with (calibration and log
    loss), and the context it was ranked in, without what is not a feature (its labels train
    the click model on the context features it was scored with: hour, trigger domain).
    Compact, as one is kept per list served in the last two windows: ~1.0 KB for ten items,
    against ~1.6 KB for the dict of pairs it replaces."""

    items: tuple[str, ...]
    model_p: array[float]
    served_p: array[float]
    context: Context

    def p_clicks(self, item_id: str) -> tuple[float, float] | None:
        """The item's (model, served) ``p_click``; None if the list did not show it."""
        if item_id not in self.items:
            return None
        j = self.items.index(item_id)
        return self.model_p[j], self.served_p[j]


@dataclass(frozen=True, slots=True)
class Served:
    """A recommendation and the event time it answered (for latency and analytics)."""

    recommendation: Recommendation
    trigger_type: str


class RecommendationService:
    def __init__(
        self,
        experiment: Experiment,
        model_factory: Callable[[str], Recommender],
        config: ServiceConfig,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.experiment = experiment
        self.config = config
        self.clock = clock or _utc_now
        strategies = experiment.names if config.isolated_variants else (experiment.control,)
        self.models: dict[str, Recommender] = {v: model_factory(v) for v in strategies}
        self.catalogue: dict[str, ItemInfo] = {}
        self.opted_out: set[str] = set()
        self.labels = LabelJoin(window_s=config.label_window_s)
        self.last_timings: tuple[float | None, float] = (None, 0.0)
        """Seconds the last ``handle`` spent recommending (None: nothing served) and learning."""
        self.seen = RecentIds(capacity=config.max_tracked_users, window_s=config.dedupe_window_s)
        self.metrics = OnlineMetrics()
        # Per variant, what a served p_click means in clicks (learnt from the labels of
        # what was served: online_models/served_calibration.py).
        self.calibrations: defaultdict[str, ServedCalibration] = defaultdict(ServedCalibration)
        # Per user, the last list served: when (debounce), by which variant and what (hit
        # rate). Packed: ~120 B per user, a million users by default.
        self.last_list = LastLists(limit=config.max_tracked_users)
        # What each user bought in a ``never_reoffer`` domain, oldest first: no variant
        # offers it again (kept for opted-out users too — a popularity list must not offer
        # it either). A tuple of the catalogue's own id strings: ~90 B for a few items
        # against ~230 B for a dict, and no copy of an id per purchase.
        self.bought: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        # Lists served in the last two label windows (by event time), by rec_id: their
        # impressions come within one window of the list, their labels within the next.
        # At most as many as the label join holds open.
        self.served: OrderedDict[str, ServedList] = OrderedDict()

    # --- the one entry point --------------------------------------------------------------
    def handle(self, event: Event) -> list[Served]:
        """Answer (if the event triggers), then learn. Returns what to publish.

        An event id seen before is ignored: ingestion de-duplicates too, but its window does
        not survive a crash, while this one is part of the checkpointed learner. Except an
        erasure, applied every time: it is idempotent, and ingestion copies it to every
        partition, so the copy behind a user's earlier events on their own partition must
        erase what those events taught, even if another copy came first.
        """
        if isinstance(event, Forget):
            self.forget(event.user_id)
            return []
        if self.seen.check_and_add(event.event_id, event.ts.timestamp()):
            return []
        if isinstance(event, ItemUpsert):
            info = item_info(event)
            self.catalogue[info.item_id] = info
            for model in self.models.values():
                model.upsert_item(info)
            return []
        user = event.user_id
        if isinstance(event, Consent):
            if event.personalisation:
                self.opted_out.discard(user)
            else:
                self.opted_out.add(user)
            return []
        ts = event.ts.timestamp()
        if isinstance(event, Impression):
            if event.rec_id in self.served:
                self.calibrations[self.experiment.assign(user)].shown(len(event.item_ids))
            self._learn_labels(
                self.labels.impression(event.rec_id, user, event.item_ids, event.positions, ts),
                ts,
            )
            return []
        self._score_engagement(event, user)
        bought = self._bought_in(event)
        started = time.perf_counter()
        served = self._maybe_recommend(event, user, ts, bought)
        recommended = time.perf_counter()
        if isinstance(event, Click) and event.rec_id is not None:
            self._learn_labels(self.labels.advance(ts), ts)
            if self.labels.click(event.rec_id, event.item_id) and event.rec_id in self.served:
                # Counted at once for the promise made before labels settle; labelled (and
                # learnt) when the list's window closes.
                self.calibrations[self.experiment.assign(user)].clicked()
        if bought:
            known = self.catalogue
            bought = [known[i].item_id if i in known else i for i in bought]
            owned = tuple(dict.fromkeys((*self.bought.get(user, ()), *bought)))
            limit = self.config.max_tracked_users
            _remember(self.bought, user, owned[-MAX_BOUGHT_PER_USER:], limit)
        if user not in self.opted_out:
            model = self._model_for(user)
            for interaction in interactions(event, self.catalogue):
                model.learn(interaction)
        self.last_timings = (
            recommended - started if served else None,
            time.perf_counter() - recommended,
        )
        return served

    def close_labels(self, ts: float) -> None:
        """Close and learn every shown list whose attribution window ended before ``ts``, as
        the next event at ``ts`` would: an evaluation ends this way, so every run closes the
        same labels whatever its last event was."""
        self._learn_labels(self.labels.advance(ts), ts)

    def forget(self, user: str) -> None:
        """Erase the user from every model and every piece of state the service holds."""
        for model in self.models.values():
            model.forget_user(user)
        self.labels.forget_user(user)
        self.opted_out.discard(user)
        self.last_list.forget(user)
        self.bought.pop(user, None)

    # --- internals ------------------------------------------------------------------------
    def _model_for(self, user: str) -> Recommender:
        if not self.config.isolated_variants:
            return self.models[self.experiment.control]
        return self.models[self.experiment.assign(user)]

    def _maybe_recommend(
        self, event: Event, user: str, ts: float, bought: list[str]
    ) -> list[Served]:
        """The list ``event`` triggers, if any; never one of the items it ``bought``."""
        kind = event.EVENT_TYPE
        if kind not in self.config.triggers:
            return []
        last_served = self.last_list.served_at(user)
        is_click = isinstance(event, Click)
        if is_click and last_served is not None and 0 <= ts - last_served < self.config.debounce_s:
            return []  # a burst of clicks yields one fresh list
        variant = self.experiment.assign(user)
        model = self._model_for(user)
        context = Context(
            ts=ts,
            trigger_domain=self._trigger_domain(event),
            trigger_kind=kind,  # type: ignore[arg-type]
            trigger_item=_trigger_item(event),
            personalised=user not in self.opted_out,
            hour=event.ts.astimezone(UTC).hour,
            exclude=self.never_offered(user) | frozenset(bought),
        )
        scored = [
            s for s in model.recommend(user, self.config.k, context) if s.item_id in self.catalogue
        ]
        if not scored:
            return []  # nothing to show yet: no debounce either, the next event may serve
        calibrate = self.calibrations[variant].calibrate
        model_p = array("d", [min(1.0, max(0.0, float(s.p_click))) for s in scored])
        served_p = array("d", [calibrate(p) for p in model_p])
        items = tuple(
            RecommendedItem(
                item_id=s.item_id,
                domain=self.catalogue[s.item_id].domain,
                partner=self.catalogue[s.item_id].partner,
                score=float(s.score),
                p_click=p,
                reason=s.reason,
            )
            for s, p in zip(scored, served_p, strict=True)
        )
        rec_id = rec_id_for(event.event_id, variant)
        item_ids = tuple(s.item_id for s in scored)
        self.last_list.remember(user, ts, variant, item_ids)
        ranked_in = dataclasses.replace(context, exclude=frozenset(), trigger_item=None)
        served_list = ServedList(item_ids, model_p, served_p, ranked_in)
        # No more lists than the label join holds open: beyond that it closes lists early.
        most = max(1, self.labels.max_open // max(1, self.config.k))
        _remember(self.served, rec_id, served_list, most)
        recommendation = Recommendation(
            rec_id=rec_id,
            user_id=user,
            items=items,
            variant=variant,
            model_version=self.config.model_version,
            source_event_id=event.event_id,
            event_ts=event.ts,
            generated_at=self.clock(),
        )
        return [Served(recommendation, kind)]

    def never_offered(self, user: str) -> frozenset[str]:
        """What no list may offer ``user``: what they bought in a ``never_reoffer`` domain
        (an event being answered is learnt after its list: the list adds its items)."""
        owned = self.bought.get(user)
        return frozenset(owned) if owned else frozenset()

    def _bought_in(self, event: Event) -> list[str]:
        """The items ``event`` buys in a ``never_reoffer`` domain."""
        never = self.config.never_reoffer
        if isinstance(event, CoursePurchase) and "course" in never:
            return [event.course_id]
        if isinstance(event, PartnerOrder) and event.domain in never:
            return list(event.item_ids)
        return []

    def _trigger_domain(self, event: Event) -> Domain | None:
        if isinstance(event, CoursePurchase):
            return "course"
        if isinstance(event, PartnerOrder):
            return event.domain
        if isinstance(event, Click):
            info = self.catalogue.get(event.item_id)
            return None if info is None else info.domain
        return None

    def _score_engagement(self, event: Event, user: str) -> None:
        """Prequential hit rate: was the engaged item in the list shown before this event?"""
        if user not in self.last_list:
            return
        engaged = [interaction.item for interaction in interactions(event, self.catalogue)]
        variant, hits = self.last_list.hits(user, engaged)
        for hit in hits:
            self.metrics.engagement(variant, hit)

    def _learn_labels(self, labels: Iterable[Label], now: float) -> None:
        """A closing list's labels: its clicks and non-clicks together (``LabelJoin``)."""
        labels = list(labels)
        for label in labels:
            served = self.served.get(label.rec_id)
            p_clicks = served.p_clicks(label.item_id) if served is not None else None
            if p_clicks is not None:
                variant = self.experiment.assign(label.user)
                model_p, served_p = p_clicks
                self.metrics.label(variant, served_p, label.clicked)
                self.calibrations[variant].learn(model_p, label.clicked)
        self._forget_served_before(now - 2 * self.config.label_window_s)
        # A user's consecutive labels (a closing list's) go to the model as one batch: same
        # order, one feature pass.
        learnable = (label for label in labels if label.user not in self.opted_out)
        for user, group in itertools.groupby(learnable, key=attrgetter("user")):
            model = self._model_for(user)
            if isinstance(model, LearnsFromImpressions):
                shown = [
                    LabelledImpression(
                        label.item_id, self._shown_in(label), label.clicked, label.position
                    )
                    for label in group
                ]
                model.learn_impressions(user, shown)

    def _forget_served_before(self, ts: float) -> None:
        """Drop the lists served before ``ts``, two windows before the label join's clock:
        their labels have closed (an impression comes within a window of its list)."""
        served = self.served
        while served and next(iter(served.values())).context.ts < ts:
            served.popitem(last=False)

    def _shown_in(self, label: Label) -> Context:
        """The context the labelled item was ranked in, so the click model learns from the
        features it predicted with; an impression of a list this service did not serve (or
        no longer remembers) gets the hour of its impression."""
        served = self.served.get(label.rec_id)
        if served is not None:
            return dataclasses.replace(served.context, ts=label.impression_ts)
        return Context(ts=label.impression_ts, hour=_utc_hour(label.impression_ts))


def _trigger_item(event: Event) -> str | None:
    """The item of a triggering event: the clicked item, the bought course, an order's first
    item."""
    if isinstance(event, Click):
        return event.item_id
    if isinstance(event, CoursePurchase):
        return event.course_id
    if isinstance(event, PartnerOrder):
        return event.item_ids[0] if event.item_ids else None
    return None


def _remember(memory: OrderedDict[str, V], key: str, value: V, limit: int) -> None:
    memory[key] = value
    memory.move_to_end(key)
    while len(memory) > limit:
        memory.popitem(last=False)


def _utc_hour(ts: float) -> int:
    """The hour (0-23, UTC) of a Unix time.

    >>> _utc_hour(3600.0 * 25 + 5)
    1
    """
    return datetime.fromtimestamp(ts, UTC).hour


def _utc_now() -> datetime:
    return datetime.now(UTC)


def rec_id_for(event_id: str, variant: str) -> str:
    """Deterministic: the same source event and variant always give the same ``rec_id``."""
    return "r-" + hashlib.sha256(f"{event_id}/{variant}".encode()).hexdigest()[:24]
