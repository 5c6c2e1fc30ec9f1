-- Exact analytics views for the team (not granted to analysts: see 0006 for those).
--
-- Exact on replay: every view reads `events` and `recommendations` with FINAL, so a batch
-- written twice, or re-composed after a crash, changes nothing. Money is summed in integer
-- cents per currency (`revenue_cents`, a Map currency -> cents); ClickHouse converts no
-- currencies. `revenue` is the same Map in currency units.
--
-- Domains of clicked and shown items come from the catalogue (`item` events, latest wins);
-- an item never seen in the catalogue is in domain 'unknown'.

-- The catalogue: the latest upsert of each item.
CREATE VIEW IF NOT EXISTS {database}.item_catalogue
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT
    item_id,
    argMax(domain, (ts, event_id)) AS domain,
    argMax(partner_id, (ts, event_id)) AS partner_id
FROM {database}.events FINAL
WHERE event_type = 'item'
GROUP BY item_id;

-- Conversions: course purchases (domain 'course', no partner) and partner orders.
CREATE VIEW IF NOT EXISTS {database}.conversion_events
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT
    event_id,
    user_id,
    ts,
    event_type AS conversion_type,
    domain,
    partner_id,
    if(event_type = 'course_purchase', [item_id], item_ids) AS items,
    toInt64(round(amount * 100)) AS cents,
    currency
FROM {database}.events FINAL
WHERE event_type IN ('course_purchase', 'partner_order');

-- Clicks with the clicked item's domain and partner.
CREATE VIEW IF NOT EXISTS {database}.click_events
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT
    e.event_id AS event_id,
    e.user_id AS user_id,
    e.ts AS ts,
    e.item_id AS item_id,
    e.rec_id AS rec_id,
    e.surface AS surface,
    if(c.domain = '', 'unknown', c.domain) AS domain,
    c.partner_id AS partner_id
FROM {database}.events AS e FINAL
LEFT JOIN {database}.item_catalogue AS c ON c.item_id = e.item_id
WHERE e.event_type = 'click';

-- One row per item slot shown in an impression.
CREATE VIEW IF NOT EXISTS {database}.impression_slots
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT
    i.event_id AS event_id,
    i.user_id AS user_id,
    i.ts AS ts,
    i.rec_id AS rec_id,
    i.surface AS surface,
    i.item_id AS item_id,
    if(c.domain = '', 'unknown', c.domain) AS domain
FROM
(
    SELECT event_id, user_id, ts, rec_id, surface, arrayJoin(item_ids) AS item_id
    FROM {database}.events FINAL
    WHERE event_type = 'impression'
) AS i
LEFT JOIN {database}.item_catalogue AS c ON c.item_id = i.item_id;

-- Served recommendations, one row per rec_id, with the trigger's domain resolved from the
-- source event when the worker did not record it (click: the clicked item's domain;
-- course purchase: 'course'; partner order: its domain; source event unknown: 'unknown').
CREATE VIEW IF NOT EXISTS {database}.served_recs
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT
    r.rec_id AS rec_id,
    r.user_id AS user_id,
    r.variant AS variant,
    r.model_version AS model_version,
    r.source_event_id AS source_event_id,
    r.trigger_type AS trigger_type,
    multiIf(r.trigger_domain != '', r.trigger_domain, s.domain != '', s.domain, 'unknown')
        AS trigger_domain,
    r.event_ts AS event_ts,
    r.generated_at AS generated_at,
    r.item_ids AS item_ids,
    r.domains AS domains,
    r.partners AS partners
FROM {database}.recommendations AS r FINAL
LEFT JOIN
(
    SELECT e.event_id AS event_id, if(e.event_type = 'click', c.domain, e.domain) AS domain
    FROM {database}.events AS e FINAL
    LEFT JOIN {database}.item_catalogue AS c ON c.item_id = e.item_id
    WHERE e.event_type IN ('click', 'course_purchase', 'partner_order')
) AS s ON s.event_id = r.source_event_id;

-- Conversion attribution (last touch). A conversion C (course purchase or partner order) of
-- user U at time t is attributed to the served recommendation R of the same user U with
--   R.event_ts <= t < R.event_ts + attribution window (CROSSREC_ATTRIBUTION_WINDOW_S),
--   C is not R's own trigger event, and
--   (a) an item of C (the course, or any item of the order) was in R's list   [match 'item'],
--   or (b) C's domain differs from R's trigger domain and R's list had at least one item of
--       C's domain                                                           [match 'domain'];
-- when several recommendations qualify, the latest (event_ts, then rec_id) wins, so each
-- conversion and its revenue count at most once. `cross_domain` = C's domain differs from
-- R's trigger domain; the cross-domain attribution is the subset where it is true.
CREATE VIEW IF NOT EXISTS {database}.attributed_conversions
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT
    c.event_id AS conversion_event_id,
    c.user_id AS user_id,
    c.ts AS conversion_ts,
    c.conversion_type AS conversion_type,
    c.domain AS conversion_domain,
    c.partner_id AS partner_id,
    c.cents AS revenue_cents,
    c.currency AS currency,
    r.rec_id AS rec_id,
    r.variant AS variant,
    r.model_version AS model_version,
    r.trigger_type AS trigger_type,
    r.trigger_domain AS trigger_domain,
    r.event_ts AS rec_ts,
    if(hasAny(r.item_ids, c.items), 'item', 'domain') AS match,
    c.domain != r.trigger_domain AS cross_domain,
    dateDiff('millisecond', r.event_ts, c.ts) / 1000 AS lag_s
FROM {database}.conversion_events AS c
INNER JOIN {database}.served_recs AS r ON r.user_id = c.user_id
WHERE r.event_ts <= c.ts
    AND c.ts < r.event_ts + toIntervalMillisecond(
        toInt64((SELECT attribution_window_s FROM {database}.analytics_config) * 1000))
    AND r.source_event_id != c.event_id
    AND (hasAny(r.item_ids, c.items) OR (c.domain != r.trigger_domain AND has(r.domains, c.domain)))
ORDER BY conversion_event_id ASC, rec_ts DESC, rec_id DESC
LIMIT 1 BY conversion_event_id;

CREATE VIEW IF NOT EXISTS {database}.cross_domain_conversions
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT * FROM {database}.attributed_conversions WHERE cross_domain;

-- Per-minute KPIs by domain and partner (partner '' for courses and unknown items).
-- conversion_rate = (course_purchases + partner_orders) / clicks in the same minute, domain
-- and partner: orders per click, NULL without clicks. The conversions are not required to
-- come from those clicks (see attributed_conversions for that). users = distinct users with
-- any click or conversion in the group; buyers = distinct users with a conversion.
CREATE VIEW IF NOT EXISTS {database}.kpi_minute
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT
    minute,
    domain,
    partner_id,
    countIf(kind = 'click') AS clicks,
    countIf(kind = 'course_purchase') AS course_purchases,
    countIf(kind = 'partner_order') AS partner_orders,
    course_purchases + partner_orders AS conversions,
    if(clicks = 0, NULL, conversions / clicks) AS conversion_rate,
    uniqExact(user_id) AS users,
    uniqExactIf(user_id, kind != 'click') AS buyers,
    sumMapIf(map(cur, cents), kind != 'click') AS revenue_cents,
    mapApply((k, v) -> (k, v / 100), revenue_cents) AS revenue
FROM
(
    SELECT toStartOfMinute(ts) AS minute, domain, partner_id, 'click' AS kind, user_id,
        '' AS cur, toInt64(0) AS cents
    FROM {database}.click_events
    UNION ALL
    SELECT toStartOfMinute(ts) AS minute, domain, partner_id, conversion_type AS kind, user_id,
        currency AS cur, cents
    FROM {database}.conversion_events
)
GROUP BY minute, domain, partner_id;

-- Impressions (item slots shown) and clicks on shown lists (clicks carrying a rec_id), per
-- minute, variant and item domain. variant '' = a list crossrec did not serve (e.g. the
-- platform's own). ctr = clicks / impressions, NULL without impressions.
CREATE VIEW IF NOT EXISTS {database}.ctr_minute
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT
    minute,
    variant,
    domain,
    countIf(kind = 'impression') AS impressions,
    countIf(kind = 'click') AS clicks,
    if(impressions = 0, NULL, clicks / impressions) AS ctr,
    uniqExact(user_id) AS users
FROM
(
    SELECT toStartOfMinute(i.ts) AS minute, r.variant AS variant, i.domain AS domain,
        'impression' AS kind, i.user_id AS user_id
    FROM {database}.impression_slots AS i
    LEFT JOIN (SELECT rec_id, variant FROM {database}.recommendations FINAL) AS r
        ON r.rec_id = i.rec_id
    UNION ALL
    SELECT toStartOfMinute(k.ts) AS minute, r.variant AS variant, k.domain AS domain,
        'click' AS kind, k.user_id AS user_id
    FROM {database}.click_events AS k
    LEFT JOIN (SELECT rec_id, variant FROM {database}.recommendations FINAL) AS r
        ON r.rec_id = k.rec_id
    WHERE k.rec_id != ''
)
GROUP BY minute, variant, domain;

-- Everything that happened to each served recommendation, one row per outcome:
-- kind 'served' (the recommendation itself), 'impression' (an item slot of it shown),
-- 'click' (a click carrying its rec_id), 'conversion' (a conversion attributed to it).
-- domain = the shown/clicked/converted item's domain (from the list, else the catalogue).
CREATE VIEW IF NOT EXISTS {database}.rec_outcomes
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT
    'served' AS kind, rec_id, variant, model_version, trigger_domain, event_ts AS rec_ts,
    user_id, domains, '' AS domain, false AS cross_domain, '' AS cur, toInt64(0) AS cents
FROM {database}.served_recs
UNION ALL
SELECT
    'impression' AS kind, r.rec_id AS rec_id, r.variant AS variant,
    r.model_version AS model_version, r.trigger_domain AS trigger_domain,
    r.event_ts AS rec_ts, i.user_id AS user_id, [] AS domains,
    if(indexOf(r.item_ids, i.item_id) > 0, r.domains[indexOf(r.item_ids, i.item_id)], i.domain)
        AS domain,
    domain != r.trigger_domain AS cross_domain, '' AS cur, toInt64(0) AS cents
FROM {database}.impression_slots AS i
INNER JOIN {database}.served_recs AS r ON r.rec_id = i.rec_id
UNION ALL
SELECT
    'click' AS kind, r.rec_id AS rec_id, r.variant AS variant,
    r.model_version AS model_version, r.trigger_domain AS trigger_domain,
    r.event_ts AS rec_ts, k.user_id AS user_id, [] AS domains,
    if(indexOf(r.item_ids, k.item_id) > 0, r.domains[indexOf(r.item_ids, k.item_id)], k.domain)
        AS domain,
    domain != r.trigger_domain AS cross_domain, '' AS cur, toInt64(0) AS cents
FROM {database}.click_events AS k
INNER JOIN {database}.served_recs AS r ON r.rec_id = k.rec_id
UNION ALL
SELECT
    'conversion' AS kind, rec_id, variant, model_version, trigger_domain, rec_ts,
    user_id, [] AS domains, conversion_domain AS domain, cross_domain,
    currency AS cur, revenue_cents AS cents
FROM {database}.attributed_conversions;

-- A/B results per variant. users = distinct users served at least one recommendation;
-- impressions = item slots shown of the variant's lists; clicks = clicks on them;
-- ctr = clicks / impressions; conversions = attributed conversions (any domain, see
-- attributed_conversions), cross_domain_conversions the cross-domain part;
-- conversion_rate = converting_users / users; revenue_per_user = attributed revenue / users.
CREATE VIEW IF NOT EXISTS {database}.ab_results
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT
    variant,
    uniqExactIf(user_id, kind = 'served') AS users,
    countIf(kind = 'served') AS recommendations,
    countIf(kind = 'impression') AS impressions,
    countIf(kind = 'click') AS clicks,
    if(impressions = 0, NULL, clicks / impressions) AS ctr,
    countIf(kind = 'conversion') AS conversions,
    countIf(kind = 'conversion' AND cross_domain) AS cross_domain_conversions,
    uniqExactIf(user_id, kind = 'conversion') AS converting_users,
    if(users = 0, NULL, converting_users / users) AS conversion_rate,
    sumMapIf(map(cur, cents), kind = 'conversion') AS revenue_cents,
    mapApply((k, v) -> (k, v / 100), revenue_cents) AS revenue,
    mapApply((k, v) -> (k, if(users = 0, 0, v / 100 / users)), revenue_cents) AS revenue_per_user
FROM {database}.rec_outcomes
GROUP BY variant;

-- The same per time bucket of the recommendation (cohort view: a click or conversion counts
-- in the bucket of the recommendation it belongs to). Parameterised: ab_timeline(bucket_s=60).
CREATE VIEW IF NOT EXISTS {database}.ab_timeline
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT
    toStartOfInterval(rec_ts, toIntervalSecond({bucket_s:UInt32})) AS bucket,
    variant,
    uniqExactIf(user_id, kind = 'served') AS users,
    countIf(kind = 'served') AS recommendations,
    countIf(kind = 'impression') AS impressions,
    countIf(kind = 'click') AS clicks,
    countIf(kind = 'conversion') AS conversions,
    uniqExactIf(user_id, kind = 'conversion') AS converting_users
FROM {database}.rec_outcomes
GROUP BY bucket, variant;

-- Cross-domain funnel per variant, trigger domain and target domain (a domain other than
-- the trigger's): recommendations whose list had target-domain items and their users ->
-- target-domain item slots shown -> clicks on them -> cross-domain conversions attributed in
-- the target domain, converting users and revenue.
CREATE VIEW IF NOT EXISTS {database}.cross_domain_funnel
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT
    variant,
    trigger_domain,
    target_domain,
    countIf(kind = 'served') AS recommendations,
    uniqExactIf(user_id, kind = 'served') AS users,
    countIf(kind = 'impression') AS impressions,
    countIf(kind = 'click') AS clicks,
    countIf(kind = 'conversion') AS conversions,
    uniqExactIf(user_id, kind = 'conversion') AS converting_users,
    sumMapIf(map(cur, cents), kind = 'conversion') AS revenue_cents,
    mapApply((k, v) -> (k, v / 100), revenue_cents) AS revenue
FROM
(
    SELECT kind, variant, trigger_domain,
        arrayJoin(arrayFilter(d -> d != trigger_domain, arrayDistinct(domains))) AS target_domain,
        user_id, cur, cents
    FROM {database}.rec_outcomes
    WHERE kind = 'served'
    UNION ALL
    SELECT kind, variant, trigger_domain, domain AS target_domain, user_id, cur, cents
    FROM {database}.rec_outcomes
    WHERE kind != 'served' AND cross_domain
)
GROUP BY variant, trigger_domain, target_domain;
