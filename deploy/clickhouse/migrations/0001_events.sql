-- Validated events, pseudonymous only (the raw user id never reaches ClickHouse).
-- ReplacingMergeTree on event_id: a batch replayed after a crash collapses to one row;
-- analysts' views read with FINAL or aggregate by event_id.
CREATE TABLE IF NOT EXISTS {database}.events
(
    event_id     String,
    event_type   LowCardinality(String),
    ts           DateTime64(3, 'UTC'),
    user_id      String,
    item_id      String,
    item_ids     Array(String),
    domain       LowCardinality(String),
    partner_id   String,
    amount       Float64,
    currency     LowCardinality(String),
    rec_id       String,
    position     Int32,
    surface      LowCardinality(String),
    ingested_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (event_id)
SETTINGS non_replicated_deduplication_window = 1000;
