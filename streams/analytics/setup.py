"""Bring a database up to date for analytics and hand the views their settings.

The views read k-anonymity, the Laplace epsilon and the attribution window from the
``analytics_settings`` table (migration 0004) instead of having them baked into their SQL, so a
changed setting takes effect at the next start-up without a migration. Call
:func:`prepare_analytics` once at start-up with an administrator or writer client.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from streams.settings import Settings, SettingsError
from streams.sinks.migrations import apply_migrations, load_migrations


def prepare_analytics(client: Any, settings: Settings) -> list[int]:
    """Apply the migrations, then store the analytics settings; return applied versions."""
    applied = apply_migrations(client, settings.clickhouse_database, load_migrations())
    store_analytics_settings(client, settings.clickhouse_database, settings)
    return applied


def store_analytics_settings(client: Any, database: str, settings: Settings) -> bool:
    """Write k, epsilon and the attribution window if they changed; return True if written.

    The secret noise salt is kept (it was drawn when the table was created), so the noisy
    views keep returning the same noise for the same group.
    """
    check_analytics_settings(settings)
    rows = client.query(
        f"SELECT k_anonymity, dp_epsilon, attribution_window_s, noise_salt "
        f"FROM {database}.analytics_settings ORDER BY updated_at DESC LIMIT 1"
    ).result_rows
    wanted = (settings.k_anonymity, settings.dp_epsilon, settings.attribution_window_s)
    if rows and (int(rows[0][0]), float(rows[0][1]), float(rows[0][2])) == wanted:
        return False
    salt = str(rows[0][3]) if rows else None
    if salt is None:
        salt = str(client.command("SELECT hex(randomString(16))"))
    client.insert(
        f"{database}.analytics_settings",
        [[*wanted, salt, datetime.now(UTC)]],
        column_names=[
            "k_anonymity", "dp_epsilon", "attribution_window_s", "noise_salt", "updated_at",
        ],
    )  # fmt: skip
    return True


def check_analytics_settings(settings: Settings) -> None:
    """Refuse values the views cannot honour, naming the variable."""
    if settings.k_anonymity < 1:
        raise SettingsError(f"CROSSREC_K_ANONYMITY must be >= 1, got {settings.k_anonymity}")
    if not (settings.dp_epsilon > 0 and math.isfinite(settings.dp_epsilon)):
        raise SettingsError(f"CROSSREC_DP_EPSILON must be > 0, got {settings.dp_epsilon}")
    if not (settings.attribution_window_s > 0 and math.isfinite(settings.attribution_window_s)):
        raise SettingsError(
            f"CROSSREC_ATTRIBUTION_WINDOW_S must be > 0, got {settings.attribution_window_s}"
        )
