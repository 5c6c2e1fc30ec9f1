"""The learn + recommend core on real models and simulator traffic, no broker."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from online_models.full_ranker import FullRanker
from online_models.types import LabelledImpression
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
    decode_event,
    pseudonymise,
    with_user,
)
from simulator.payload import encode_all
from simulator.traffic import Traffic
from simulator.world import World
from streams.experiments import Experiment
from streams.model_factory import build_model, build_service
from streams.recommend_service import (
    MAX_BOUGHT_PER_USER,
    RecommendationService,
    ServiceConfig,
    rec_id_for,
)
from streams.settings import Settings, SettingsError

FIXED_NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _service(spec: str = "t:full=50,popularity=50", **config: object) -> RecommendationService:
    return RecommendationService(
        Experiment.parse(spec),
        build_model,
        ServiceConfig(**config),  # type: ignore[arg-type]
        clock=lambda: FIXED_NOW,
    )


def _impression_of(rec: Recommendation, event_id: str) -> Impression:
    """The app's impression of a served list, at the list's event time."""
    shown = tuple(i.item_id for i in rec.items)
    return Impression(
        event_id=event_id, ts=rec.event_ts, user_id=rec.user_id, rec_id=rec.rec_id,
        item_ids=shown, positions=tuple(range(len(shown))), surface="home",
    )  # fmt: skip


def _events(n: int, seed: int = 3) -> list[Event]:
    world = World(seed=seed, n_users=200, n_items=300)
    out = []
    for emitted in itertools.islice(encode_all(Traffic(world, seed=seed)), n):
        event = decode_event(emitted.payload).event
        if event.user_id is not None:
            event = with_user(event, pseudonymise(b"k", event.user_id))
        out.append(event)
    return out


def _warm_full_ranker() -> tuple[RecommendationService, FullRanker, str]:
    """A service whose one full ranker has learnt some traffic, and a user it never saw."""
    service = _service(spec="t:full=1")
    model = service.models["full"]
    assert isinstance(model, FullRanker)
    for e in _events(400):
        service.handle(e)
    return service, model, pseudonymise(b"k", "someone-new")


def test_triggers_get_recommendations_of_known_active_items() -> None:
    service = _service()
    events = _events(3_000)
    served = [s for e in events for s in service.handle(e)]
    assert served
    triggers = {s.trigger_type for s in served}
    assert triggers <= {"click", "course_purchase", "partner_order"}
    for s in served:
        rec = s.recommendation
        assert len(rec.items) <= 10
        assert len({i.item_id for i in rec.items}) == len(rec.items)
        for item in rec.items:
            info = service.catalogue[item.item_id]
            assert info.active
            assert item.domain == info.domain
        assert rec.variant == service.experiment.assign(rec.user_id)
        assert rec.rec_id == rec_id_for(rec.source_event_id, rec.variant)


def _bought(event: Event) -> list[str]:
    if isinstance(event, CoursePurchase):
        return [event.course_id]
    return list(event.item_ids) if isinstance(event, PartnerOrder) else []


def _offered_again(service: RecommendationService, events: Sequence[Event]) -> dict[str, int]:
    """Per variant, items offered to a user who had bought them (the buying event included:
    it is answered before it is learnt), and (key "checked") lists of users who bought."""
    owned: dict[str, set[str]] = {}
    again = dict.fromkeys(("checked", *service.experiment.names), 0)
    for event in events:
        if event.user_id is not None:
            owned.setdefault(event.user_id, set()).update(_bought(event))
        for s in service.handle(event):
            rec = s.recommendation
            mine = owned.get(rec.user_id, set())
            again[rec.variant] += len(mine & {i.item_id for i in rec.items})
            again["checked"] += bool(mine)
    return again


def test_no_variant_ever_offers_what_the_user_bought() -> None:
    """Courses and partner orders alike by default (CROSSREC_NEVER_REOFFER): one rule for
    every arm, so no arm wins the comparison by re-showing what others may not."""
    service = _service(spec="t:full=34,mf_only=33,popularity=33")
    again = _offered_again(service, _events(4_000))
    assert again == {"checked": again["checked"], "full": 0, "mf_only": 0, "popularity": 0}
    assert again["checked"] > 200  # lists of users who bought, in every variant


def test_partner_orders_come_back_when_only_courses_are_never_reoffered() -> None:
    settings = Settings.from_env(
        {"CROSSREC_EXPERIMENT": "t:full=34,mf_only=33,popularity=33",
         "CROSSREC_NEVER_REOFFER": "course"}
    )  # fmt: skip
    service = build_service(settings)
    events = _events(4_000)
    again = _offered_again(service, events)
    assert again["popularity"] > 0 and again["full"] > 0  # ordered items come back
    courses = {e.course_id for e in events if isinstance(e, CoursePurchase)}
    assert set().union(*map(service.never_offered, service.bought)) == courses


def test_an_unknown_domain_never_to_reoffer_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"CROSSREC_NEVER_REOFFER.*'books'"):
        build_service(Settings.from_env({"CROSSREC_NEVER_REOFFER": "course,books"}))


@pytest.mark.parametrize("typo", ["clicks", "impression", "course_purchase,partner-order"])
def test_an_event_type_that_cannot_trigger_is_refused(typo: str) -> None:
    """A misspelt trigger used to be ignored: a worker that never answered that event."""
    with pytest.raises(SettingsError, match=r"CROSSREC_RECOMMEND_ON: unknown event type"):
        build_service(Settings.from_env({"CROSSREC_RECOMMEND_ON": typo}))


def test_only_the_configured_triggers_get_a_list() -> None:
    service = build_service(Settings.from_env({"CROSSREC_RECOMMEND_ON": " partner_order "}))
    events = _events(2_000)
    answered = {type(e).__name__ for e in events if service.handle(e)}
    assert answered == {"PartnerOrder"}


def test_replaying_the_same_events_reproduces_the_same_recommendations() -> None:
    events = _events(1_500)
    runs = []
    for _ in range(2):
        service = _service()
        runs.append([s.recommendation for e in events for s in service.handle(e)])
    assert runs[0]
    assert runs[0] == runs[1]


def test_click_bursts_are_debounced_but_purchases_are_not() -> None:
    service = _service(debounce_s=60.0)
    for n in (1, 2):  # course-1 is bought below: course-2 is left to offer
        item = ItemUpsert(
            event_id=f"i{n}", ts=FIXED_NOW, item_id=f"course-{n}", domain="course",
            partner_id=None, title="Knife skills", tags=("cooking",), price=10.0, active=True,
        )  # fmt: skip
        service.handle(item)
    user = pseudonymise(b"k", "u1")
    clicks = [
        Click(event_id=f"c{i}", ts=datetime.fromtimestamp(1_800_000_000 + i, UTC), user_id=user,
              item_id=f"course-{1 + (i == 0)}", surface="home")
        for i in range(5)
    ]  # fmt: skip
    served = [s for c in clicks for s in service.handle(c)]
    assert len(served) == 1
    purchase = CoursePurchase(
        event_id="p1", ts=datetime.fromtimestamp(1_800_000_010, UTC), user_id=user,
        course_id="course-1", price=10.0, currency="EUR",
    )  # fmt: skip
    (after_purchase,) = service.handle(purchase)
    assert [i.item_id for i in after_purchase.recommendation.items] == ["course-2"]


def test_opted_out_user_trains_nothing_and_forget_erases() -> None:
    service, model, user = _warm_full_ranker()
    service.handle(Consent(event_id="c", ts=FIXED_NOW, user_id=user, personalisation=False))
    some_item = next(iter(service.catalogue))
    order = PartnerOrder(
        event_id="o", ts=FIXED_NOW, user_id=user, partner_id="p", domain="fresh_food",
        item_ids=(some_item,), amount=5.0, currency="EUR",
    )  # fmt: skip
    service.handle(order)
    assert not model.knows_user(user)
    service.handle(Consent(event_id="c2", ts=FIXED_NOW, user_id=user, personalisation=True))
    service.handle(order)
    assert not model.knows_user(user), "a repeated event id is never learnt"
    service.handle(dataclasses.replace(order, event_id="o2"))
    assert model.knows_user(user)
    service.handle(Forget(event_id="f", ts=FIXED_NOW, user_id=user))
    assert not model.knows_user(user)
    assert user not in service.last_list


def test_every_copy_of_an_erasure_applies_and_a_stale_catalogue_copy_changes_nothing() -> None:
    """Ingestion copies erasures and catalogue upserts to every partition. A worker may get
    an erasure's copy from another partition before the user's earlier events on their own
    partition: the copy behind them there must erase again. A late copy of an old upsert
    (its event id already applied) must not undo a newer one."""
    service, model, user = _warm_full_ranker()
    item = next(iter(service.catalogue))
    order = PartnerOrder(
        event_id="o", ts=FIXED_NOW, user_id=user, partner_id="p", domain="fresh_food",
        item_ids=(item,), amount=5.0, currency="EUR",
    )  # fmt: skip
    forget = Forget(event_id="f", ts=FIXED_NOW, user_id=user)
    service.handle(forget)  # the copy from another partition, first
    service.handle(order)  # the user's earlier event on their own partition
    assert model.knows_user(user)
    service.handle(forget)  # the copy on the user's partition, behind the order
    assert not model.knows_user(user)

    old = ItemUpsert(
        event_id="up-1", ts=FIXED_NOW, item_id="item-copied", domain="course",
        partner_id=None, title="Old title", tags=("old",), price=10.0, active=True,
    )  # fmt: skip
    new = dataclasses.replace(old, event_id="up-2", title="New title", price=12.0)
    for upsert in (old, new, old, new):  # first copies, then the copies on a later partition
        service.handle(upsert)
    assert service.catalogue["item-copied"].price == 12.0


def test_impressions_of_our_lists_train_ctr_and_feed_online_metrics() -> None:
    service = _service(spec="t:full=1")
    ranker = service.models["full"]
    assert isinstance(ranker, FullRanker)
    served = [s for e in _events(3_000) for s in service.handle(e)]
    assert served
    rec = served[-1].recommendation
    ts = rec.event_ts
    shown = tuple(i.item_id for i in rec.items)
    service.handle(_impression_of(rec, "imp-1"))
    seen_before = ranker.ctr.n_seen
    service.handle(
        Click(event_id="clk-1", ts=ts, user_id=rec.user_id, item_id=shown[0], surface="home",
              rec_id=rec.rec_id, position=0)
    )  # fmt: skip
    # The list's labels come when its window closes, the click with the non-clicks: learnt
    # at once, clicks would reach the click model a window before their non-clicks.
    assert ranker.ctr.n_seen == seen_before
    rows = {(v, m): (value, n) for v, m, value, n in service.metrics.as_rows()}
    assert rows[("full", "ctr")] == (0.0, 0)
    assert rows[("full", "hit_rate")][1] > 0
    service.close_labels(ts.timestamp() + service.config.label_window_s + 1)
    assert ranker.ctr.n_seen >= seen_before + len(shown)  # ours, and the apps' own lists
    rows = {(v, m): (value, n) for v, m, value, n in service.metrics.as_rows()}
    assert rows[("full", "ctr")] == (1 / len(shown), len(shown))


def test_lists_promise_the_click_rate_that_followed_such_promises() -> None:
    """Served p_click is the model's, calibrated per variant on the labels of what was
    served: after lists nobody clicks, the same variant promises less; order unchanged."""
    service = _service(spec="t:full=1")
    served = [s for e in _events(3_000) for s in service.handle(e)]
    calibration = service.calibrations["full"]
    before = calibration.calibrate(0.3)
    for n, rec in enumerate(s.recommendation for s in served[-40:]):
        service.handle(_impression_of(rec, f"imp-cal-{n}"))
    service.close_labels(served[-1].recommendation.event_ts.timestamp() + 2e5)
    assert calibration.n_labels >= 8 and calibration.calibrate(0.3) < before
    rec = [s for e in _events(3_400)[3_000:] for s in service.handle(e)][-1].recommendation
    pairs = [service.served[rec.rec_id].p_clicks(i.item_id) for i in rec.items]
    assert [i.p_click for i in rec.items] == [pair[1] for pair in pairs if pair]
    promised = [i.p_click for i in rec.items]
    assert [calibration.calibrate(pair[0]) for pair in pairs if pair] == promised


def test_before_labels_settle_a_list_promises_its_variants_click_rate_so_far() -> None:
    """Impressions and clicks of served lists count at once; a click model that has learnt
    only clicks (their non-clicks come a window later) must not promise its ~1."""
    service = _service(spec="t:full=1")
    served = [s for e in _events(3_000) for s in service.handle(e)]
    assert service.calibrations["full"].n_labels == 0  # no impression of ours yet
    assert {i.p_click for s in served for i in s.recommendation.items} == {0.1}  # the prior
    shown = clicked = 0
    for n, rec in enumerate(s.recommendation for s in served[-20:]):
        service.handle(_impression_of(rec, f"imp-early-{n}"))
        shown += len(rec.items)
        if n % 4 == 0:
            first = rec.items[0].item_id
            service.handle(
                Click(event_id=f"clk-early-{n}", ts=rec.event_ts, user_id=rec.user_id,
                      item_id=first, surface="home", rec_id=rec.rec_id, position=0)
            )  # fmt: skip
            clicked += 1
    later = [s for e in _events(3_300)[3_000:] for s in service.handle(e)]
    assert later and service.calibrations["full"].n_labels == 0
    promised = {i.p_click for s in later for i in s.recommendation.items}
    assert promised == {(1 + clicked) / (10 + shown)}


def test_close_labels_ends_open_windows_as_not_clicked() -> None:
    service = _service(spec="t:full=1")
    rec = [s for e in _events(3_000) for s in service.handle(e)][-1].recommendation
    shown = tuple(i.item_id for i in rec.items)
    service.handle(_impression_of(rec, "imp-2"))
    counted = service.metrics.by_variant["full"].labels
    end = rec.event_ts.timestamp() + service.config.label_window_s
    service.close_labels(end - 1)  # the window is still open
    assert service.metrics.by_variant["full"].labels == counted
    service.close_labels(end + 1)
    assert service.metrics.by_variant["full"].labels == counted + len(shown)


def test_labels_train_the_click_model_on_the_context_the_list_was_ranked_in() -> None:
    service = _service(spec="t:full=1")
    ranker = service.models["full"]
    assert isinstance(ranker, FullRanker)
    served = [s for e in _events(3_000) for s in service.handle(e)]
    rec = served[-1].recommendation
    ranked_in = service.served[rec.rec_id].context
    assert ranked_in.hour == rec.event_ts.hour and ranked_in.trigger_domain is not None
    learnt: list[LabelledImpression] = []
    learn = ranker.learn_impressions

    def spy(user: str, shown: Sequence[LabelledImpression]) -> None:
        learnt.extend(shown)
        learn(user, shown)

    ranker.learn_impressions = spy  # type: ignore[method-assign]
    shown = tuple(i.item_id for i in rec.items)
    service.handle(_impression_of(rec, "imp-9"))
    service.handle(
        Click(event_id="clk-9", ts=rec.event_ts, user_id=rec.user_id, item_id=shown[0],
              surface="home", rec_id=rec.rec_id, position=0)
    )  # fmt: skip
    service.close_labels(rec.event_ts.timestamp() + service.config.label_window_s + 1)
    ours = [labelled for labelled in learnt if labelled.context == ranked_in]
    assert [(i.item_id, i.clicked) for i in ours] == [(item, item == shown[0]) for item in shown]
    # The served hour (and trigger) reached the click model's weights.
    assert ranker.ctr._hour_keys[ranked_in.hour] in ranker.ctr._weights
    assert [key for key in ranker.ctr._weights if key.startswith("trig=")]


def test_a_new_users_first_list_follows_the_item_they_chose() -> None:
    """The models know nothing of a brand-new user when their first event is answered (it is
    learnt after): the list still follows the item they chose, through content similarity
    to the trigger item, not popularity alone."""
    service, _, user = _warm_full_ranker()
    pottery = [
        ItemUpsert(
            event_id=f"pottery-{i}",
            ts=FIXED_NOW,
            item_id=f"course-pottery-{i}",
            domain="course",
            partner_id=None,
            title=f"Pottery {i}",
            tags=("pottery", "wheel-throwing"),
            price=30.0,
            active=True,
        )
        for i in range(4)
    ]
    for upsert in pottery:
        service.handle(upsert)
    click = Click(
        event_id="first-click", ts=FIXED_NOW, user_id=user, item_id=pottery[0].item_id,
        surface="home",
    )  # fmt: skip
    [served] = service.handle(click)
    shown = {i.item_id: i.reason for i in served.recommendation.items}
    kin = {p.item_id for p in pottery[1:]}
    assert kin & set(shown), shown
    assert all("pottery" in shown[i] or "wheel" in shown[i] for i in kin & set(shown))


def test_forget_drops_the_users_pending_labels() -> None:
    """An erased user's lists still waiting for clicks are dropped: nothing of theirs is
    labelled, counted or learnt after the erasure."""
    service = _service(spec="t:full=1")
    rec = [s for e in _events(3_000) for s in service.handle(e)][-1].recommendation
    service.handle(_impression_of(rec, "imp-f"))
    open_before = len(service.labels)
    counted = service.metrics.by_variant["full"].labels
    service.handle(Forget(event_id="f-1", ts=rec.event_ts, user_id=rec.user_id))
    assert len(service.labels) <= open_before - len(rec.items)
    service.handle(
        Click(event_id="clk-f", ts=rec.event_ts, user_id=rec.user_id, item_id=rec.items[0].item_id,
              surface="home", rec_id=rec.rec_id, position=0)
    )  # fmt: skip
    service.close_labels(rec.event_ts.timestamp() + 2 * service.config.label_window_s)
    assert service.metrics.by_variant["full"].labels == counted


def test_served_lists_are_kept_for_two_label_windows() -> None:
    """What a list served needs for its labels is dropped once they have all closed (two
    windows after it was served, by the label join's event time), so this state follows
    the serving rate, not the running time."""
    window = 20.0
    service = _service(spec="t:full=1", label_window_s=window)
    events = _events(3_000)
    assert events[-1].ts.timestamp() - events[0].ts.timestamp() > 5 * window
    ages = []
    for event in events:
        service.handle(event)
        if service.served and isinstance(event, Impression):  # the join's clock moved
            ages.append(event.ts.timestamp() - next(iter(service.served.values())).context.ts)
    assert len(ages) > 100 and 0 < max(ages) <= 2 * window


def test_no_more_lists_are_kept_than_the_label_join_holds_open() -> None:
    service = _service(spec="t:full=1")
    service.labels.max_open = 3 * service.config.k
    served = [s for e in _events(1_500) for s in service.handle(e)]
    assert len(served) > 10
    assert list(service.served) == [s.recommendation.rec_id for s in served[-3:]]


def test_what_a_user_bought_is_bounded_and_kept_once() -> None:
    service = _service()
    user = pseudonymise(b"k", "shopper")
    items = [f"fashion-{i}" for i in range(MAX_BOUGHT_PER_USER + 44)]
    for n, item in enumerate([*items, items[-1]]):  # the last one ordered twice
        service.handle(
            PartnerOrder(
                event_id=f"o{n}", ts=FIXED_NOW, user_id=user, partner_id="p",
                domain="fashion", item_ids=(item,), amount=5.0, currency="EUR",
            )
        )  # fmt: skip
    assert service.bought[user] == tuple(items[-MAX_BOUGHT_PER_USER:])  # the newest, once each
    assert service.never_offered(user) == frozenset(items[-MAX_BOUGHT_PER_USER:])
