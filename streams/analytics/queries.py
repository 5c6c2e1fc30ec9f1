"""Reading the A/B, funnel and timeline views into plain records.

``source`` picks the layer: ``exact`` (team views, writer or admin only), ``safe``
(k-anonymous, the analyst default) or ``noisy`` (Laplace noise, for sharing outside the
team). Views are always named with their database, so the analyst needs no rights on the
database itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Source = Literal["exact", "safe", "noisy"]
SOURCES: tuple[Source, ...] = ("exact", "safe", "noisy")
_PREFIX: dict[Source, str] = {"exact": "", "safe": "safe_", "noisy": "noisy_"}


@dataclass(frozen=True)
class VariantResult:
    """One variant's totals (see the ``ab_results`` view for the definitions)."""

    variant: str
    users: int
    impressions: int
    clicks: int
    conversions: int
    converting_users: int
    revenue: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class FunnelRow:
    """One cross-domain funnel row (``cross_domain_funnel`` view)."""

    variant: str
    trigger_domain: str
    target_domain: str
    recommendations: int
    users: int
    impressions: int
    clicks: int
    conversions: int
    converting_users: int
    revenue: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TimelinePoint:
    """One time bucket of one variant (cohort of the recommendations served in it)."""

    bucket: Any
    variant: str
    users: int
    impressions: int
    clicks: int
    converting_users: int


def view_name(database: str, view: str, source: Source) -> str:
    """``database.<prefix>view`` for the chosen layer.

    >>> view_name("crossrec", "ab_results", "safe")
    'crossrec.safe_ab_results'
    """
    return f"{database}.{_PREFIX[source]}{view}"


def ab_results(client: Any, database: str, source: Source) -> list[VariantResult]:
    revenue = "revenue" if source != "noisy" else "map() AS revenue"
    rows = _dicts(
        client,
        f"SELECT variant, users, impressions, clicks, conversions, converting_users, {revenue} "
        f"FROM {view_name(database, 'ab_results', source)} ORDER BY variant",
    )
    return [
        VariantResult(
            variant=str(r["variant"]),
            users=int(r["users"]),
            impressions=int(r["impressions"]),
            clicks=int(r["clicks"]),
            conversions=int(r["conversions"]),
            converting_users=int(r["converting_users"]),
            revenue=_money(r["revenue"]),
        )
        for r in rows
    ]


def funnel(client: Any, database: str, source: Source) -> list[FunnelRow]:
    revenue = "revenue" if source != "noisy" else "map() AS revenue"
    rows = _dicts(
        client,
        "SELECT variant, trigger_domain, target_domain, recommendations, users, impressions, "
        f"clicks, conversions, converting_users, {revenue} "
        f"FROM {view_name(database, 'cross_domain_funnel', source)} "
        "ORDER BY variant, trigger_domain, target_domain",
    )
    return [
        FunnelRow(
            variant=str(r["variant"]),
            trigger_domain=str(r["trigger_domain"]),
            target_domain=str(r["target_domain"]),
            recommendations=int(r["recommendations"]),
            users=int(r["users"]),
            impressions=int(r["impressions"]),
            clicks=int(r["clicks"]),
            conversions=int(r["conversions"]),
            converting_users=int(r["converting_users"]),
            revenue=_money(r["revenue"]),
        )
        for r in rows
    ]


def timeline(client: Any, database: str, source: Source, bucket_s: int) -> list[TimelinePoint]:
    """Per-bucket results; the noisy layer has no timeline, so it reads the safe one."""
    layer: Source = "safe" if source == "noisy" else source
    rows = _dicts(
        client,
        "SELECT bucket, variant, users, impressions, clicks, converting_users "
        f"FROM {view_name(database, 'ab_timeline', layer)}(bucket_s = {int(bucket_s)}) "
        "ORDER BY bucket, variant",
    )
    return [
        TimelinePoint(
            bucket=r["bucket"],
            variant=str(r["variant"]),
            users=int(r["users"]),
            impressions=int(r["impressions"]),
            clicks=int(r["clicks"]),
            converting_users=int(r["converting_users"]),
        )
        for r in rows
    ]


def _dicts(client: Any, sql: str) -> list[dict[str, Any]]:
    result = client.query(sql)
    names = list(result.column_names)
    return [dict(zip(names, row, strict=True)) for row in result.result_rows]


def _money(value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): round(float(v), 2) for k, v in sorted(value.items()) if str(k)}
