-- The privacy-safe analyst layer: the only objects the analyst role may read
-- (streams.sinks.access.ANALYST_VIEWS). SQL SECURITY DEFINER lets them read the raw tables
-- with their definer's rights while the analyst can read only these views.
--
-- safe_*  : exact numbers, but groups with fewer than k distinct users
--           (CROSSREC_K_ANONYMITY) are left out; no user ids.
-- noisy_* : for dashboards shared outside the team. The same suppression, applied to the
--           noisy user count, and Laplace noise on every released count:
--           noise = -b * sign(v) * ln(1 - 2|v|), v uniform in (-0.5, 0.5), b = m / epsilon
--           (CROSSREC_DP_EPSILON) where m is the number of counts a row releases, so a row
--           spends epsilon in total with sensitivity 1 per count (event-level, not
--           user-level, privacy). v comes from a keyed hash of (secret salt, view, group,
--           column), so asking again returns the same noise and averaging repeated queries
--           does not remove it. Noisy counts are rounded and clipped at 0; rates are computed
--           from the noisy counts. Revenue is left out of the noisy views (a sum of amounts has
--           no bounded sensitivity).

CREATE VIEW IF NOT EXISTS {database}.safe_kpi_minute
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT
    minute, domain, partner_id, clicks, course_purchases, partner_orders, conversions,
    conversion_rate, users, buyers, revenue
FROM {database}.kpi_minute
WHERE users >= (SELECT k_anonymity FROM {database}.analytics_config);

CREATE VIEW IF NOT EXISTS {database}.safe_ab_results
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT
    variant, users, recommendations, impressions, clicks, ctr, conversions,
    cross_domain_conversions, converting_users, conversion_rate, revenue, revenue_per_user
FROM {database}.ab_results
WHERE users >= (SELECT k_anonymity FROM {database}.analytics_config);

CREATE VIEW IF NOT EXISTS {database}.safe_ab_timeline
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT *
FROM {database}.ab_timeline(bucket_s = {bucket_s:UInt32})
WHERE users >= (SELECT k_anonymity FROM {database}.analytics_config);

CREATE VIEW IF NOT EXISTS {database}.safe_cross_domain_funnel
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT
    variant, trigger_domain, target_domain, recommendations, users, impressions, clicks,
    conversions, converting_users, revenue
FROM {database}.cross_domain_funnel
WHERE users >= (SELECT k_anonymity FROM {database}.analytics_config);

CREATE VIEW IF NOT EXISTS {database}.noisy_kpi_minute
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT
    minute, domain, partner_id, clicks, course_purchases, partner_orders,
    course_purchases + partner_orders AS conversions,
    if(clicks = 0, NULL, conversions / clicks) AS conversion_rate,
    users, buyers
FROM
(
    SELECT
        minute, domain, partner_id,
        (SELECT dp_epsilon FROM {database}.analytics_config) AS eps,
        (SELECT noise_salt FROM {database}.analytics_config) AS salt,
        arrayMap(
            name -> ((cityHash64(salt, 'kpi_minute', name, minute, domain, partner_id)
                % 9007199254740992) + 0.5) / 9007199254740992 - 0.5,
            ['clicks', 'course_purchases', 'partner_orders', 'users', 'buyers']) AS v,
        arrayMap(x -> -(5 / eps) * sign(x) * log(1 - 2 * abs(x)), v) AS z,
        toUInt64(greatest(0, round(kpi.clicks + z[1]))) AS clicks,
        toUInt64(greatest(0, round(kpi.course_purchases + z[2]))) AS course_purchases,
        toUInt64(greatest(0, round(kpi.partner_orders + z[3]))) AS partner_orders,
        toUInt64(greatest(0, round(kpi.users + z[4]))) AS users,
        toUInt64(greatest(0, round(kpi.buyers + z[5]))) AS buyers
    FROM {database}.kpi_minute AS kpi
)
WHERE users >= (SELECT k_anonymity FROM {database}.analytics_config);

CREATE VIEW IF NOT EXISTS {database}.noisy_ab_results
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT
    variant, users, impressions, clicks,
    if(impressions = 0, NULL, clicks / impressions) AS ctr,
    conversions, converting_users,
    if(users = 0, NULL, converting_users / users) AS conversion_rate
FROM
(
    SELECT
        variant,
        (SELECT dp_epsilon FROM {database}.analytics_config) AS eps,
        (SELECT noise_salt FROM {database}.analytics_config) AS salt,
        arrayMap(
            name -> ((cityHash64(salt, 'ab_results', name, variant)
                % 9007199254740992) + 0.5) / 9007199254740992 - 0.5,
            ['users', 'impressions', 'clicks', 'conversions', 'converting_users']) AS v,
        arrayMap(x -> -(5 / eps) * sign(x) * log(1 - 2 * abs(x)), v) AS z,
        toUInt64(greatest(0, round(ab.users + z[1]))) AS users,
        toUInt64(greatest(0, round(ab.impressions + z[2]))) AS impressions,
        toUInt64(greatest(0, round(ab.clicks + z[3]))) AS clicks,
        toUInt64(greatest(0, round(ab.conversions + z[4]))) AS conversions,
        toUInt64(greatest(0, round(ab.converting_users + z[5]))) AS converting_users
    FROM {database}.ab_results AS ab
)
WHERE users >= (SELECT k_anonymity FROM {database}.analytics_config);

CREATE VIEW IF NOT EXISTS {database}.noisy_cross_domain_funnel
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT
    variant, trigger_domain, target_domain, recommendations, users, impressions, clicks,
    conversions, converting_users
FROM
(
    SELECT
        variant, trigger_domain, target_domain,
        (SELECT dp_epsilon FROM {database}.analytics_config) AS eps,
        (SELECT noise_salt FROM {database}.analytics_config) AS salt,
        arrayMap(
            name -> ((cityHash64(salt, 'cross_domain_funnel', name, variant, trigger_domain,
                target_domain) % 9007199254740992) + 0.5) / 9007199254740992 - 0.5,
            ['recommendations', 'users', 'impressions', 'clicks', 'conversions',
             'converting_users']) AS v,
        arrayMap(x -> -(6 / eps) * sign(x) * log(1 - 2 * abs(x)), v) AS z,
        toUInt64(greatest(0, round(f.recommendations + z[1]))) AS recommendations,
        toUInt64(greatest(0, round(f.users + z[2]))) AS users,
        toUInt64(greatest(0, round(f.impressions + z[3]))) AS impressions,
        toUInt64(greatest(0, round(f.clicks + z[4]))) AS clicks,
        toUInt64(greatest(0, round(f.conversions + z[5]))) AS conversions,
        toUInt64(greatest(0, round(f.converting_users + z[6]))) AS converting_users
    FROM {database}.cross_domain_funnel AS f
)
WHERE users >= (SELECT k_anonymity FROM {database}.analytics_config);
