"""Health, readiness and a live dashboard, served by the worker's own Faust web server.

Why in the worker: the numbers that matter (what the learner measured per A/B variant, the
last lists served, whether the ClickHouse sink is down) live in this process's memory. Orchestrators
probe ``/health`` (the event loop answers) and ``/ready`` (partitions assigned *and* the sink
writing); people open ``/dashboard``, a static page whose script polls ``/dashboard/data``
every second.

Design: a 1 s timer samples the Prometheus counters and stage histograms into a
:class:`SlidingWindow`; rates and latency quantiles are differences across that window, so they
describe the last few seconds rather than the whole run. Served recommendations are observed
through a Faust *sink* on the learn-and-recommend agent (the agent yields what it served), kept
in a small ring buffer: the agent itself is untouched. Every builder below is a pure function
of plain values, tested without a broker. Only pseudonyms are ever shown: a user id that is not
shaped like a pseudonym is withheld, whatever produced it.

>>> readiness(assigned_partitions=4, sink_degraded=True)
(False, ['clickhouse sink degraded'])
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import orjson

from schemas import is_pseudonym
from streams.online_metrics import VariantMetrics
from streams.recommend_service import Served

log = logging.getLogger(__name__)

Buckets = tuple[tuple[float, float], ...]
"""A histogram as cumulative ``(upper_bound, count)`` pairs, ``+inf`` last (Prometheus ``le``)."""

WITHHELD = "(withheld: not a pseudonym)"


# --- pure builders ------------------------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    """The worker's cumulative counters at one instant (monotonic seconds ``t``)."""

    t: float
    totals: Mapping[str, float]
    stages: Mapping[str, Buckets] = field(default_factory=dict)
    served: Mapping[str, float] = field(default_factory=dict)
    hits: Mapping[str, float] = field(default_factory=dict)


class SlidingWindow:
    """The last ``span_s`` seconds of samples, plus the first one ever taken.

    Rates and latency come from the oldest and newest sample inside the span; the first
    sample is the baseline of "since this dashboard started" figures (the learner's own
    metrics are checkpointed and outlive a restart, Prometheus counters do not, so ratios
    mixing the two are only honest over a period both counted).

    >>> w = SlidingWindow(span_s=10)
    >>> w.add(Sample(0.0, {"events_in": 100}))
    >>> w.add(Sample(2.0, {"events_in": 160}))
    >>> w.rates()
    {'events_in': 30.0}
    """

    def __init__(self, span_s: float = 10.0) -> None:
        self.span_s = span_s
        self.samples: deque[Sample] = deque()
        self.first: Sample | None = None

    def add(self, sample: Sample) -> None:
        if self.first is None:
            self.first = sample
        self.samples.append(sample)
        while len(self.samples) > 2 and sample.t - self.samples[0].t > self.span_s:
            self.samples.popleft()

    @property
    def latest(self) -> Sample | None:
        return self.samples[-1] if self.samples else None

    def rates(self) -> dict[str, float]:
        """Per-second increase of every total across the window (0 with fewer than 2 samples)."""
        if len(self.samples) < 2:
            latest = self.latest
            return {} if latest is None else dict.fromkeys(latest.totals, 0.0)
        old, new = self.samples[0], self.samples[-1]
        seconds = new.t - old.t
        return {
            name: max(0.0, value - old.totals.get(name, 0.0)) / seconds if seconds > 0 else 0.0
            for name, value in new.totals.items()
        }

    def latency(self) -> dict[str, dict[str, float | None]]:
        """Per stage, p50/p99 in milliseconds of what was observed inside the window."""
        if not self.samples:
            return {}
        old, new = self.samples[0], self.samples[-1]
        out: dict[str, dict[str, float | None]] = {}
        for stage, buckets in sorted(new.stages.items()):
            recent = bucket_delta(buckets, old.stages.get(stage, ())) if old is not new else ()
            count = recent[-1][1] if recent else 0.0
            out[stage] = {
                "count": count,
                "p50_ms": _ms(histogram_quantile(0.5, recent)),
                "p99_ms": _ms(histogram_quantile(0.99, recent)),
            }
        return out

    def conversion_proxy(self) -> dict[str, float | None]:
        """Per variant: engagements with a served item per list served, since the first sample."""
        new, base = self.latest, self.first
        if new is None or base is None:
            return {}
        out: dict[str, float | None] = {}
        for variant in sorted(set(new.served) | set(new.hits)):
            served = new.served.get(variant, 0.0) - base.served.get(variant, 0.0)
            hits = new.hits.get(variant, 0.0) - base.hits.get(variant, 0.0)
            out[variant] = hits / served if served > 0 else None
        return out


def bucket_delta(new: Buckets, old: Buckets) -> Buckets:
    """What a cumulative histogram gained between two snapshots (same bucket bounds).

    >>> bucket_delta(((0.1, 5), (math.inf, 9)), ((0.1, 2), (math.inf, 3)))
    ((0.1, 3), (inf, 6))
    """
    before = dict(old)
    return tuple((le, max(0.0, count - before.get(le, 0.0))) for le, count in new)


def histogram_quantile(q: float, buckets: Buckets) -> float | None:
    """Prometheus' ``histogram_quantile``: linear interpolation inside the bucket holding the
    rank; a rank in the ``+Inf`` bucket answers the highest finite bound. ``None`` if empty.

    >>> histogram_quantile(0.5, ((0.001, 0), (0.002, 10), (math.inf, 10)))
    0.0015
    """
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for upper, cumulative in buckets:
        if cumulative >= rank and cumulative > below:
            if math.isinf(upper):
                return lower
            return lower + (upper - lower) * (rank - below) / (cumulative - below)
        lower, below = upper, cumulative
    return lower


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 4)


def readiness(assigned_partitions: int, sink_degraded: bool) -> tuple[bool, list[str]]:
    """Ready to take traffic: the consumer owns partitions and ClickHouse takes writes."""
    reasons = []
    if assigned_partitions <= 0:
        reasons.append("no partitions assigned to the consumer")
    if sink_degraded:
        reasons.append("clickhouse sink degraded")
    return not reasons, reasons


def variant_rows(
    metrics: Mapping[str, VariantMetrics],
    variants: Iterable[str],
    conversion: Mapping[str, float | None],
) -> list[dict[str, Any]]:
    """One row per A/B variant (declared ones first, even before they have data).

    >>> rows = variant_rows({"b": VariantMetrics(opportunities=4, hits=1)}, ["a", "b"], {})
    >>> [(r["variant"], r["hit_rate"]) for r in rows]
    [('a', None), ('b', 0.25)]
    """
    names = list(dict.fromkeys([*variants, *sorted(metrics)]))
    rows = []
    for name in names:
        m = metrics.get(name, VariantMetrics())
        rows.append(
            {
                "variant": name,
                "hit_rate": m.hit_rate if m.opportunities else None,
                "hit_opportunities": m.opportunities,
                "ctr": m.ctr if m.labels else None,
                "labelled_impressions": m.labels,
                "ctr_logloss": m.logloss if m.labels else None,
                "ctr_auc": m.auc.get() if m.labels else None,
                "conversion_proxy": conversion.get(name),
            }
        )
    return rows


def shown_user(user_id: str) -> str:
    """The pseudonym, or a placeholder: the dashboard never renders anything else as a user.

    >>> shown_user("user-42")
    '(withheld: not a pseudonym)'
    """
    return user_id if is_pseudonym(user_id) else WITHHELD


def recommendation_view(served: Served) -> dict[str, Any]:
    """A served list as the dashboard shows it: pseudonym, variant, trigger, items + reasons."""
    rec = served.recommendation
    return {
        "rec_id": rec.rec_id,
        "user": shown_user(rec.user_id),
        "variant": rec.variant,
        "trigger": served.trigger_type,
        "generated_at": rec.generated_at.isoformat(),
        "items": [
            {
                "item_id": i.item_id,
                "domain": i.domain,
                "partner": i.partner,
                "score": round(i.score, 4),
                "p_click": round(i.p_click, 4),
                "reason": i.reason,
            }
            for i in rec.items
        ],
    }


class RecentRecommendations:
    """Ring buffer of the last ``size`` served lists; a Faust sink of the recommend agent."""

    def __init__(self, size: int = 10) -> None:
        self.buffer: deque[dict[str, Any]] = deque(maxlen=size)

    def observe(self, served: Iterable[Served]) -> None:
        for item in served:
            self.buffer.append(recommendation_view(item))

    def latest_first(self) -> list[dict[str, Any]]:
        return list(reversed(self.buffer))


def dashboard_payload(
    window: SlidingWindow,
    *,
    variants: Sequence[dict[str, Any]],
    dead_letters: Mapping[str, float],
    lag: Mapping[str, float],
    sink_degraded: bool,
    recent: Sequence[dict[str, Any]],
    now: float,
) -> dict[str, Any]:
    """Everything ``/dashboard/data`` returns: plain JSON types only."""
    latest = window.latest
    return {
        "generated_at": now,
        "window_s": window.span_s,
        "rates": window.rates(),
        "totals": dict(latest.totals) if latest else {},
        "latency": window.latency(),
        "lag": {topic: n for topic, n in sorted(lag.items()) if not is_internal_topic(topic)},
        "dead_letters": dict(sorted(dead_letters.items())),
        "variants": list(variants),
        "sink": "degraded" if sink_degraded else "ok",
        "recent": list(recent),
    }


def is_internal_topic(topic: str) -> bool:
    """Faust's own topics (``<app id>-__assignor-__leader``...) are no one's backlog.

    >>> is_internal_topic("crossrec-__assignor-__leader"), is_internal_topic("events.in")
    (True, False)
    """
    return "-__" in topic


# --- reading the worker's state -----------------------------------------------------------
def labelled_values(metric: Any, label: str, suffix: str = "") -> dict[str, float]:
    """A Prometheus counter/gauge's current values by one label (summed over the others)."""
    out: dict[str, float] = {}
    for family in metric.collect():
        for s in family.samples:
            if s.name == family.name + suffix and label in s.labels:
                key = s.labels[label]
                out[key] = out.get(key, 0.0) + s.value
    return out


def counter_total(metric: Any) -> float:
    """A counter's value summed over all its label sets."""
    return float(
        sum(
            s.value
            for family in metric.collect()
            for s in family.samples
            if s.name.endswith("_total")
        )
    )


def histogram_buckets(metric: Any, label: str) -> dict[str, Buckets]:
    """A labelled Prometheus histogram as cumulative buckets per label value."""
    raw: dict[str, list[tuple[float, float]]] = {}
    for family in metric.collect():
        for s in family.samples:
            if s.name.endswith("_bucket"):
                raw.setdefault(s.labels[label], []).append((float(s.labels["le"]), s.value))
    return {key: tuple(sorted(pairs)) for key, pairs in raw.items()}


def take_sample(now: float) -> Sample:
    """Read the worker's counters, histograms and the learner's per-variant hits."""
    from streams.agents import recommend
    from streams.metrics import (
        DEAD_LETTERS,
        EVENTS_IN,
        EVENTS_VALID,
        RECOMMENDATIONS_OUT,
        STAGE_SECONDS,
    )

    served = labelled_values(RECOMMENDATIONS_OUT, "variant", "_total")
    metrics = recommend.learner.service.metrics.by_variant
    return Sample(
        t=now,
        totals={
            "events_in": counter_total(EVENTS_IN),
            "events_valid": counter_total(EVENTS_VALID),
            "recommendations": sum(served.values()),
            "dead_letters": counter_total(DEAD_LETTERS),
        },
        stages=histogram_buckets(STAGE_SECONDS, "stage"),
        served=served,
        hits={variant: float(m.hits) for variant, m in list(metrics.items())},
    )


def assigned_partitions(app: Any) -> int:
    try:
        return len(app.consumer.assignment())
    except Exception:  # consumer not started yet
        return 0


def current_payload(window: SlidingWindow, recent: RecentRecommendations) -> dict[str, Any]:
    from streams.agents import clickhouse_sink, recommend
    from streams.metrics import CONSUMER_LAG, DEAD_LETTERS

    service = recommend.learner.service
    variants = variant_rows(
        dict(service.metrics.by_variant), service.experiment.names, window.conversion_proxy()
    )
    return dashboard_payload(
        window,
        variants=variants,
        dead_letters=labelled_values(DEAD_LETTERS, "code", "_total"),
        lag=labelled_values(CONSUMER_LAG, "topic"),
        sink_degraded=clickhouse_sink.writer.degraded,
        recent=recent.latest_first(),
        now=time.time(),
    )


@cache
def static_asset(name: str) -> str:
    """A file of ``streams/web_static`` (read once; no build step, no CDN)."""
    return (resources.files("streams") / "web_static" / name).read_text(encoding="utf-8")


# --- Faust wiring ---------------------------------------------------------------------------
def _install() -> tuple[SlidingWindow, RecentRecommendations]:
    from streams.agents import clickhouse_sink
    from streams.agents.recommend import learn_and_recommend
    from streams.app import app

    window = SlidingWindow()
    recent = RecentRecommendations(size=10)
    learn_and_recommend.add_sink(recent.observe)

    json_type = "application/json"
    no_store = {"Cache-Control": "no-store"}
    page_headers = {
        **no_store,
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data:",
        "X-Content-Type-Options": "nosniff",
    }

    def _json(view: Any, value: Any, status: int = 200) -> Any:
        return view.bytes(
            orjson.dumps(value), content_type=json_type, status=status, headers=dict(no_store)
        )

    @app.timer(interval=1.0)  # type: ignore[untyped-decorator]
    async def sample_dashboard() -> None:
        window.add(take_sample(time.monotonic()))

    @app.page("/health")
    async def health(self: Any, request: Any) -> Any:
        return _json(self, {"status": "ok"})

    @app.page("/ready")
    async def ready(self: Any, request: Any) -> Any:
        ok, reasons = readiness(assigned_partitions(app), clickhouse_sink.writer.degraded)
        return _json(self, {"ready": ok, "reasons": reasons}, status=200 if ok else 503)

    @app.page("/dashboard")
    async def dashboard(self: Any, request: Any) -> Any:
        return self.html(static_asset("dashboard.html"), headers=dict(page_headers))

    @app.page("/dashboard/app.js")
    async def dashboard_js(self: Any, request: Any) -> Any:
        return self.text(
            static_asset("dashboard.js"),
            content_type="text/javascript",
            headers=dict(page_headers),
        )

    @app.page("/dashboard/style.css")
    async def dashboard_css(self: Any, request: Any) -> Any:
        return self.text(
            static_asset("dashboard.css"), content_type="text/css", headers=dict(page_headers)
        )

    @app.page("/dashboard/data")
    async def dashboard_data(self: Any, request: Any) -> Any:
        return _json(self, current_payload(window, recent))

    return window, recent


window, recent = _install()
