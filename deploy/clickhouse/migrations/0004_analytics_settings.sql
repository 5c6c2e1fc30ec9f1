-- Settings the analytics views need (k-anonymity, Laplace epsilon, attribution window) and
-- the secret salt of the noisy views. Stored in a table rather than baked into the view SQL,
-- so changing a setting takes effect at the next start-up
-- (streams.analytics.setup.store_analytics_settings) without a new migration. Analysts can
-- read neither this table nor the salt; the views read it with their definer's rights.
-- The first row carries the documented defaults, so the views are safe before any start-up.
CREATE TABLE IF NOT EXISTS {database}.analytics_settings
(
    k_anonymity           UInt32,
    dp_epsilon            Float64,
    attribution_window_s  Float64,
    noise_salt            String,
    updated_at            DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY tuple();

INSERT INTO {database}.analytics_settings
SELECT 10, 1.0, 86400, hex(randomString(16)), toDateTime64(0, 3, 'UTC');

-- One row, the latest settings. k is at least 1; epsilon must be positive (checked when stored).
CREATE VIEW IF NOT EXISTS {database}.analytics_config
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT
    greatest(argMax(k_anonymity, updated_at), 1) AS k_anonymity,
    argMax(dp_epsilon, updated_at) AS dp_epsilon,
    argMax(attribution_window_s, updated_at) AS attribution_window_s,
    argMax(noise_salt, updated_at) AS noise_salt
FROM {database}.analytics_settings;
