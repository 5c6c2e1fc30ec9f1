"""Prometheus metrics of the worker, declared once. Labels are small fixed sets (never ids)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_IN = Counter("crossrec_events_in_total", "Raw messages consumed from events.in")
EVENTS_VALID = Counter(
    "crossrec_events_valid_total", "Events accepted by ingestion", ["event_type"]
)
DEAD_LETTERS = Counter(
    "crossrec_dead_letters_total", "Messages sent to the dead-letter topic", ["code"]
)
PII_STRIPPED = Counter(
    "crossrec_pii_fields_stripped_total", "Personal-data fields removed at ingestion", ["field"]
)
RECOMMENDATIONS_OUT = Counter(
    "crossrec_recommendations_out_total", "Recommendation messages produced", ["variant"]
)
SINK_ROWS = Counter("crossrec_sink_rows_total", "Rows written to ClickHouse", ["table"])
SINK_FAILURES = Counter(
    "crossrec_sink_failures_total", "Failed ClickHouse writes (retried, never dropped)"
)
SINK_DEGRADED = Gauge("crossrec_sink_degraded", "1 while ClickHouse writes are failing")
STAGE_SECONDS = Histogram(
    "crossrec_stage_seconds",
    "Time spent per pipeline stage",
    ["stage"],
    buckets=(1e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5, 1.0),
)
ONLINE_METRIC = Gauge(
    "crossrec_online_metric",
    "Prequential quality of served lists since start (hit_rate, ctr, ctr_logloss, ctr_auc, ...)",
    ["variant", "metric"],
)
CONSUMER_LAG = Gauge(
    "crossrec_consumer_lag",
    "Messages behind the end of each consumed topic (sum over assigned partitions)",
    ["topic"],
)
FORGET_SECONDS = Histogram(
    "crossrec_forget_seconds",
    "Time to erase forgotten users' rows from ClickHouse (per sink batch)",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
LOOP_LAG_SECONDS = Histogram(
    "crossrec_event_loop_lag_seconds",
    "How late a 100 ms tick of the worker's event loop fires: how long one piece of work "
    "(a GC pause, a snapshot fork, a large sink batch) held every event back",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
GC_LEAKED_OBJECTS = Counter(
    "crossrec_gc_leaked_objects_total",
    "Unreachable objects found by the periodic full GC sweep (cycles that died while frozen)",
)
