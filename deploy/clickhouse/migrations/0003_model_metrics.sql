-- Online model quality per minute: one row per (metric, model_version, variant, minute).
-- Writers send the value of the whole minute so far (e.g. a running log loss and the number
-- of predictions behind it); a later write for the same key supersedes the earlier one, so a
-- replayed or repeated write never double counts.
CREATE TABLE IF NOT EXISTS {database}.model_metrics
(
    minute         DateTime('UTC'),
    model_version  LowCardinality(String),
    variant        LowCardinality(String),
    metric         LowCardinality(String),
    value          Float64,
    count          UInt64,
    written_at     DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(written_at)
PARTITION BY toYYYYMM(minute)
ORDER BY (metric, model_version, variant, minute)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE VIEW IF NOT EXISTS {database}.model_metrics_minute
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT minute, model_version, variant, metric, value, count
FROM {database}.model_metrics FINAL;
