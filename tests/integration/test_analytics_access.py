"""The analyst on the real local ClickHouse: reads only the safe views, writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import clickhouse_connect
import pytest

from streams.analytics.setup import prepare_analytics, store_analytics_settings
from streams.local.clickhouse import LocalClickHouse
from streams.sinks.access import ANALYST_VIEWS, ensure_analyst, write_analyst_users_xml
from tests.integration.test_analytics_views import (
    best_items,
    event_rows,
    random_items,
    rec_rows,
    settings_for,
    simulate,
    write_all,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def admin(clickhouse: LocalClickHouse) -> Iterator[Any]:
    client = clickhouse_connect.get_client(host="127.0.0.1", port=clickhouse.http_port)
    yield client
    client.close()


def _denied(client: Any, sql: str) -> str:
    with pytest.raises(Exception) as info:  # noqa: PT011 - clickhouse-connect's error types vary
        client.query(sql) if sql.startswith("SELECT") else client.command(sql)
    return str(info.value)


async def test_analyst_reads_only_safe_views_and_small_groups_are_suppressed(
    clickhouse: LocalClickHouse, admin: Any, unique: str
) -> None:
    settings = settings_for(clickhouse, unique, CROSSREC_ANALYST_PASSWORD="s3cret-'quote")
    prepare_analytics(admin, settings)
    data = simulate(2000, seed=5, variants={"a": best_items(6), "b": random_items(6)})
    await write_all(settings, event_rows(data.events), rec_rows(data.recs))

    # The local engine keeps users in users.xml only: declare the analyst there, restart.
    write_analyst_users_xml(clickhouse.data_dir, settings)
    clickhouse.stop()
    clickhouse.start()
    admin = clickhouse_connect.get_client(host="127.0.0.1", port=clickhouse.http_port)
    access = ensure_analyst(admin, settings)
    assert access.storage == "users_xml" and access.views == ANALYST_VIEWS

    # k between the smallest and largest funnel group, so some rows go and some stay.
    users = sorted(
        r[0] for r in admin.query(f"SELECT users FROM {unique}.cross_domain_funnel").result_rows
    )
    k = users[len(users) // 2]
    assert users[0] < k
    store_analytics_settings(admin, unique, settings_for(clickhouse, unique,
                             CROSSREC_K_ANONYMITY=str(k)))  # fmt: skip

    analyst = clickhouse_connect.get_client(
        host="127.0.0.1",
        port=clickhouse.http_port,
        username=settings.analyst_user,
        password=settings.analyst_password,
    )
    try:
        for view in ANALYST_VIEWS:
            name = view.replace("ab_timeline", "ab_timeline(bucket_s = 60)")
            analyst.query(f"SELECT * FROM {unique}.{name} LIMIT 1")
        for table in ("events", "recommendations", "analytics_settings", "kpi_minute",
                      "served_recs", "attributed_conversions"):  # fmt: skip
            assert "ACCESS_DENIED" in _denied(analyst, f"SELECT * FROM {unique}.{table}")
        for write in (
            f"INSERT INTO {unique}.events (event_id) VALUES ('x')",
            f"DROP TABLE {unique}.events",
            f"TRUNCATE TABLE {unique}.recommendations",
        ):
            message = _denied(analyst, write)
            assert "ACCESS_DENIED" in message or "READONLY" in message, message
        assert admin.command(f"EXISTS TABLE {unique}.events") == 1

        columns = "variant, trigger_domain, target_domain, users, conversions"
        exact = admin.query(
            f"SELECT {columns} FROM {unique}.cross_domain_funnel WHERE users >= {k}"
        ).result_rows
        safe = analyst.query(f"SELECT {columns} FROM {unique}.safe_cross_domain_funnel").result_rows
        assert sorted(map(tuple, safe)) == sorted(map(tuple, exact)) and safe
        exact_kpi = admin.query(
            f"SELECT minute, domain, partner_id, clicks FROM {unique}.kpi_minute WHERE users >= {k}"
        ).result_rows
        safe_kpi = analyst.query(
            f"SELECT minute, domain, partner_id, clicks FROM {unique}.safe_kpi_minute"
        ).result_rows
        assert sorted(map(tuple, safe_kpi)) == sorted(map(tuple, exact_kpi))
        assert all(u >= k for (u,) in analyst.query(
            f"SELECT users FROM {unique}.noisy_cross_domain_funnel").result_rows)  # fmt: skip

        noisy = (
            f"SELECT variant, users, clicks, impressions FROM {unique}.noisy_ab_results "
            "ORDER BY variant"
        )
        first, again = analyst.query(noisy).result_rows, analyst.query(noisy).result_rows
        assert first == again, "the noise is keyed, so repeating a query cannot average it out"
        true = admin.query(
            f"SELECT variant, users, clicks, impressions FROM {unique}.ab_results"
        ).result_rows
        assert first and sorted(map(tuple, first)) != sorted(map(tuple, true))
    finally:
        analyst.close()
        admin.close()
