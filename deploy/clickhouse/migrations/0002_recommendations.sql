-- Served recommendations, one row per rec_id (pseudonymous user only).
-- The worker re-emits the SAME rec_id when it replays after a crash, so the table is a
-- ReplacingMergeTree on rec_id (the latest generated_at wins); views read it with FINAL.
-- trigger_type/trigger_domain describe the event that caused the recommendation; an empty
-- trigger_domain is resolved by the views from the source event.
CREATE TABLE IF NOT EXISTS {database}.recommendations
(
    rec_id           String,
    user_id          String,
    variant          LowCardinality(String),
    model_version    LowCardinality(String),
    source_event_id  String,
    trigger_type     LowCardinality(String),
    trigger_domain   LowCardinality(String),
    event_ts         DateTime64(3, 'UTC'),
    generated_at     DateTime64(3, 'UTC'),
    item_ids         Array(String),
    domains          Array(LowCardinality(String)),
    partners         Array(String),
    scores           Array(Float64),
    p_clicks         Array(Float64),
    reasons          Array(LowCardinality(String))
)
ENGINE = ReplacingMergeTree(generated_at)
PARTITION BY toYYYYMM(event_ts)
ORDER BY (rec_id)
SETTINGS non_replicated_deduplication_window = 1000;
