"""The dashboard's JSON builders as pure functions, and its hook on the recommend agent
(Faust's test context: no broker)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram

from schemas import (
    Click,
    Event,
    ItemUpsert,
    Recommendation,
    RecommendedItem,
    encode_event,
    is_pseudonym,
    pseudonymise,
)
from streams import web
from streams.agents import recommend
from streams.agents.recommend import learn_and_recommend
from streams.app import settings
from streams.checkpoint import Checkpoint
from streams.model_factory import build_service
from streams.online_metrics import OnlineMetrics
from streams.outbox import RecordingOutbox
from streams.recommend_service import Served
from streams.web import (
    WITHHELD,
    RecentRecommendations,
    Sample,
    SlidingWindow,
    bucket_delta,
    counter_total,
    dashboard_payload,
    histogram_buckets,
    histogram_quantile,
    labelled_values,
    readiness,
    recommendation_view,
    variant_rows,
)

BOUNDS = (1e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5, 1.0)
T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def _served(user: str, n_items: int = 3, variant: str = "full") -> Served:
    items = tuple(
        RecommendedItem(
            item_id=f"course-{i:04d}",
            domain="course",
            partner=None,
            score=1.0 / (i + 1),
            p_click=0.1,
            reason="popular in course",
        )
        for i in range(n_items)
    )
    rec = Recommendation(
        rec_id=f"r-{abs(hash((user, n_items))):024x}"[:26],
        user_id=user,
        items=items,
        variant=variant,
        model_version="test",
        source_event_id="e-1",
        event_ts=T0,
        generated_at=T0,
    )
    return Served(rec, "click")


# --- sliding window: rates, latency, conversion proxy -----------------------------------------
def test_rates_are_the_increase_per_second_across_the_window_only() -> None:
    w = SlidingWindow(span_s=5)
    for t in range(0, 21):  # 10 msg/s for 10 s, then 50 msg/s
        total = 10 * t if t <= 10 else 100 + 50 * (t - 10)
        w.add(Sample(float(t), {"events_in": float(total)}))
    assert w.rates() == {"events_in": pytest.approx(50.0)}, "old samples must not dilute the rate"
    assert w.samples[-1].t - w.samples[0].t <= 6


def test_a_single_sample_gives_zero_rates_and_no_latency() -> None:
    w = SlidingWindow()
    assert w.rates() == {} and w.latency() == {}
    w.add(Sample(1.0, {"events_in": 5.0}, {"decode": ((0.001, 3.0), (math.inf, 3.0))}))
    assert w.rates() == {"events_in": 0.0}
    assert w.latency()["decode"] == {"count": 0.0, "p50_ms": None, "p99_ms": None}


def test_latency_describes_only_what_was_observed_inside_the_window() -> None:
    slow = ((0.001, 0.0), (0.01, 100.0), (math.inf, 100.0))  # 100 old observations in 1..10 ms
    fast = ((0.001, 50.0), (0.01, 50.0), (math.inf, 50.0))  # then 50 new ones below 1 ms
    w = SlidingWindow(span_s=10)
    w.add(Sample(0.0, {}, {"learn_recommend": ((0.001, 0.0), (0.01, 0.0), (math.inf, 0.0))}))
    w.add(Sample(20.0, {}, {"learn_recommend": slow}))
    w.add(Sample(21.0, {}, {"learn_recommend": tuple((le, c + f) for (le, c), (_, f) in zip(
        slow, fast, strict=True))}))  # fmt: skip
    got = w.latency()["learn_recommend"]
    assert got["count"] == 50.0
    assert got["p50_ms"] is not None and got["p50_ms"] <= 1.0
    assert got["p99_ms"] is not None and got["p99_ms"] <= 1.0


def test_conversion_proxy_counts_hits_per_list_served_since_the_first_sample() -> None:
    w = SlidingWindow(span_s=2)
    w.add(Sample(0.0, {}, served={"full": 100.0}, hits={"full": 40.0}))  # before: ignored
    w.add(Sample(1.0, {}, served={"full": 110.0, "mf_only": 0.0}, hits={"full": 43.0}))
    w.add(Sample(9.0, {}, served={"full": 120.0, "mf_only": 0.0}, hits={"full": 45.0}))
    assert w.conversion_proxy() == {"full": pytest.approx(0.25), "mf_only": None}


# --- histogram arithmetic -------------------------------------------------------------------
def test_bucket_delta_subtracts_matching_bounds_and_never_goes_negative() -> None:
    new = ((0.001, 5.0), (0.01, 9.0), (math.inf, 9.0))
    old = ((0.001, 2.0), (0.01, 3.0), (math.inf, 10.0))
    assert bucket_delta(new, old) == ((0.001, 3.0), (0.01, 6.0), (math.inf, 0.0))
    assert bucket_delta(new, ()) == new


def test_quantile_of_an_empty_histogram_is_unknown() -> None:
    assert histogram_quantile(0.5, ()) is None
    assert histogram_quantile(0.5, ((0.1, 0.0), (math.inf, 0.0))) is None


def test_a_rank_in_the_inf_bucket_answers_the_highest_finite_bound() -> None:
    assert histogram_quantile(0.99, ((0.1, 1.0), (1.0, 1.0), (math.inf, 100.0))) == 1.0


@given(
    st.lists(st.floats(min_value=1e-7, max_value=0.9), min_size=1, max_size=200),
    st.sampled_from([0.5, 0.9, 0.99]),
)
def test_quantile_estimate_lies_in_the_bucket_of_the_true_quantile(
    observations: list[float], q: float
) -> None:
    registry = CollectorRegistry()
    hist = Histogram("t_seconds", "test", ["stage"], buckets=BOUNDS, registry=registry)
    for value in observations:
        hist.labels(stage="s").observe(value)
    buckets = histogram_buckets(hist, "stage")["s"]
    estimate = histogram_quantile(q, buckets)
    assert estimate is not None

    ordered = sorted(observations)
    true = ordered[max(0, math.ceil(q * len(ordered)) - 1)]
    upper = next(b for b in (*BOUNDS, math.inf) if true <= b)
    lower = max((b for b in (0.0, *BOUNDS) if b < upper), default=0.0)
    assert lower - 1e-12 <= estimate <= upper + 1e-12, (true, estimate, buckets)


# --- reading Prometheus metrics -------------------------------------------------------------
def test_counters_are_read_by_label_and_in_total() -> None:
    registry = CollectorRegistry()
    dead = Counter("t_dead_letters_total", "test", ["code"], registry=registry)
    dead.labels(code="invalid_json").inc(3)
    dead.labels(code="duplicate").inc()
    dead.labels(code="duplicate").inc()
    assert labelled_values(dead, "code", "_total") == {"invalid_json": 3.0, "duplicate": 2.0}
    assert counter_total(dead) == 5.0


# --- readiness ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("partitions", "degraded", "ready", "reasons"),
    [
        (2, False, True, []),
        (2, True, False, ["clickhouse sink degraded"]),
        (0, False, False, ["no partitions assigned to the consumer"]),
        (0, True, False, ["no partitions assigned to the consumer", "clickhouse sink degraded"]),
    ],
)
def test_readiness_names_every_reason(
    partitions: int, degraded: bool, ready: bool, reasons: list[str]
) -> None:
    assert readiness(partitions, degraded) == (ready, reasons)


# --- variants ------------------------------------------------------------------------------
def test_variant_rows_come_from_the_learners_own_metrics() -> None:
    metrics = OnlineMetrics()
    for hit in (True, False, False, True):
        metrics.engagement("full", hit)
    metrics.label("full", 0.2, clicked=True)
    metrics.label("full", 0.2, clicked=False)
    metrics.engagement("legacy", False)  # a variant no longer declared still shows
    rows = variant_rows(metrics.by_variant, ["full", "popularity"], {"full": 0.5})
    by_name = {r["variant"]: r for r in rows}
    assert [r["variant"] for r in rows] == ["full", "popularity", "legacy"]
    assert by_name["full"]["hit_rate"] == 0.5 and by_name["full"]["hit_opportunities"] == 4
    assert by_name["full"]["ctr"] == 0.5 and by_name["full"]["labelled_impressions"] == 2
    assert by_name["full"]["ctr_logloss"] == pytest.approx(-(math.log(0.2) + math.log(0.8)) / 2)
    assert by_name["full"]["ctr_auc"] == 0.5  # the same p_click for the click and the miss
    assert by_name["full"]["conversion_proxy"] == 0.5
    assert by_name["popularity"]["hit_rate"] is None and by_name["popularity"]["ctr"] is None
    assert by_name["legacy"]["hit_rate"] == 0.0


# --- recent recommendations: pseudonyms only --------------------------------------------------
@given(st.text(min_size=1, max_size=40))
def test_anything_but_a_pseudonym_is_withheld(user: str) -> None:
    shown = web.shown_user(user)
    assert shown == user if is_pseudonym(user) else shown == WITHHELD


def test_ring_buffer_keeps_the_latest_lists_newest_first() -> None:
    recent = RecentRecommendations(size=3)
    users = [pseudonymise(b"k", f"user-{i}") for i in range(5)]
    for user in users:
        recent.observe([_served(user)])
    assert [r["user"] for r in recent.latest_first()] == users[:1:-1]


def test_a_view_shows_the_pseudonym_items_and_reasons() -> None:
    user = pseudonymise(b"k", "user-raw-42")
    view = recommendation_view(_served(user, n_items=2))
    assert view["user"] == user
    assert b"user-raw-42" not in orjson.dumps(view)
    assert [(i["item_id"], i["reason"]) for i in view["items"]] == [
        ("course-0000", "popular in course"),
        ("course-0001", "popular in course"),
    ]


def test_the_payload_is_plain_json_with_every_panel() -> None:
    w = SlidingWindow()
    w.add(Sample(0.0, {"events_in": 0.0}, {"decode": ((1e-4, 0.0), (math.inf, 0.0))}))
    w.add(Sample(1.0, {"events_in": 7.0}, {"decode": ((1e-4, 7.0), (math.inf, 7.0))}))
    recent = RecentRecommendations()
    recent.observe([_served(pseudonymise(b"k", "u"))])
    payload = dashboard_payload(
        w,
        variants=variant_rows({}, ["full"], {}),
        dead_letters={"invalid_json": 2.0},
        lag={"events.valid": 3.0, "events.in": 0.0, "crossrec-__assignor-__leader": 0.0},
        sink_degraded=True,
        recent=recent.latest_first(),
        now=1.5,
    )
    decoded = orjson.loads(orjson.dumps(payload))
    assert decoded["rates"] == {"events_in": 7.0}
    assert decoded["totals"] == {"events_in": 7.0}
    assert decoded["latency"]["decode"]["count"] == 7.0
    assert decoded["latency"]["decode"]["p99_ms"] <= 0.1
    assert list(decoded["lag"]) == ["events.in", "events.valid"]
    assert decoded["sink"] == "degraded"
    assert decoded["dead_letters"] == {"invalid_json": 2.0}
    assert len(decoded["recent"]) == 1 and is_pseudonym(decoded["recent"][0]["user"])


# --- the hook on the real agent ---------------------------------------------------------------
async def test_lists_served_by_the_recommend_agent_reach_the_dashboard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(recommend, "outbox", RecordingOutbox())
    monkeypatch.setattr(recommend, "learner", Checkpoint(build_service(settings), "t"))
    monkeypatch.setattr(recommend, "already_learnt", {})
    recent = RecentRecommendations()
    monkeypatch.setattr(web.recent, "buffer", recent.buffer)
    items = [
        ItemUpsert(
            event_id=f"web-item-{i}", ts=T0, item_id=f"course-{i:04d}", domain="course",
            partner_id=None, title=f"Course {i}", tags=("cooking",), price=10.0, active=True,
        )
        for i in range(5)
    ]  # fmt: skip
    users = [pseudonymise(b"test-key", f"user-dashboard-{u}") for u in range(12)]
    clicks = [
        Click(
            event_id=f"web-click-{n}", ts=T0 + timedelta(seconds=n), user_id=user,
            item_id=f"course-{n % 5:04d}", surface="home",
        )
        for n, user in enumerate(users * 2)
    ]  # fmt: skip
    events: list[Event] = [*items, *clicks]
    async with learn_and_recommend.test_context() as agent:
        for event in events:
            await agent.put(key=(event.user_id or "").encode(), value=encode_event(event))
        served = [s for i in range(len(events)) for s in agent.results[i]]
    assert len(served) > 10, "warm popularity serves lists to later clicks"
    shown = recent.latest_first()
    assert shown == [recommendation_view(s) for s in reversed(served[-10:])]
    assert all(r["user"] in users and r["trigger"] == "click" for r in shown)
    assert all(i["reason"] for r in shown for i in r["items"])
