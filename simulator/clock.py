"""Simulated event time: integer milliseconds since the epoch, rendered as RFC 3339 UTC.

Integers avoid float drift over long runs and make the stream byte-identical for a seed.

>>> format_ts(0)
'1970-01-01T00:00:00.000Z'
>>> parse_ts("2026-11-29T11:00:00.5+01:00") == parse_ts("2026-11-29T10:00:00.500Z")
True
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

DEFAULT_START = "2026-11-29T10:00:00.000Z"

_cache_sec = -1
_cache_prefix = ""


def format_ts(ms: int) -> str:
    """RFC 3339 UTC with milliseconds and a ``Z`` suffix (cached per second: it is hot)."""
    global _cache_sec, _cache_prefix
    sec, milli = divmod(ms, 1000)
    if sec != _cache_sec:
        _cache_prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        _cache_sec = sec
    return f"{_cache_prefix}.{milli:03d}Z"


def parse_ts(value: str | float | int | datetime) -> int:
    """Milliseconds since the epoch from an RFC 3339 string, epoch seconds or a datetime.

    A naive datetime or a string without an offset is rejected: event time must be explicit.
    """
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        dt = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    else:
        return round(float(value) * 1000)
    if dt.tzinfo is None:
        raise ValueError(f"timestamp without a timezone: {value!r}")
    delta = dt.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def minute_of(ts: str) -> str:
    """The UTC minute bucket of a ``format_ts`` string (``2026-11-29T10:00``)."""
    return ts[:16]
