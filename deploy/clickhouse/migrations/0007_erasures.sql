-- Tombstones of recent erasures: the pseudonymous user and the event time of their forget,
-- kept one day. After a restart the sink reloads them (streams/sinks/erasures.py), so that
-- a recommendation served before the forget and still in flight is not written back. The
-- analyst role cannot read this table (it may read only the views of 0006). No raw ids.
CREATE TABLE IF NOT EXISTS {database}.erasures
(
    user_id    String,
    forget_ts  DateTime64(3, 'UTC'),
    erased_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(forget_ts)
ORDER BY (user_id)
TTL toDateTime(erased_at) + INTERVAL 1 DAY;
