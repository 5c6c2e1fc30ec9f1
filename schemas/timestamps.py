"""RFC 3339 timestamps on the wire, aware UTC ``datetime`` in Python.

Accepted: ``YYYY-MM-DDTHH:MM:SS[.fraction]`` followed by ``Z`` or ``±HH:MM`` (``T``/``Z`` may
be lower case, as RFC 3339 allows; 1..9 fraction digits, kept to the microsecond). Rejected:
no timezone, a space instead of ``T``, leap second ``:60``, dates that do not exist, and
anything else ``datetime.fromisoformat`` would be lenient about (week dates, basic format).
Written: always UTC with ``Z`` (``2026-11-29T10:00:00.123000Z``; no fraction when zero).

>>> parse_rfc3339("2026-11-29T11:00:00.5+01:00", "ts")
datetime.datetime(2026, 11, 29, 10, 0, 0, 500000, tzinfo=datetime.timezone.utc)
>>> parse_rfc3339("2026-11-29 10:00:00", "ts")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
schemas.errors.InvalidEvent: bad_value: ts must be an RFC 3339 timestamp with a timezone, ...
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

from schemas.errors import InvalidEvent

RFC3339_PATTERN: Final = (
    "[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    "[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:[.][0-9]{1,9})?"
    "(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
"""The shape check, shared (anchored) with the published JSON Schema."""
_RFC3339: Final = re.compile(RFC3339_PATTERN)


def parse_rfc3339(value: str, field: str) -> datetime:
    """Parse a wire timestamp into an aware UTC datetime or raise ``InvalidEvent``."""
    if _RFC3339.fullmatch(value) is None:
        raise InvalidEvent(
            "bad_value",
            f"{field} must be an RFC 3339 timestamp with a timezone, e.g. 2026-11-29T10:00:00.123Z",
            field,
        )
    try:
        parsed = datetime.fromisoformat(value.upper())
        return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidEvent("bad_value", f"{field} is not a valid date/time: {exc}", field) from exc


def format_rfc3339(value: datetime) -> str:
    """Render an aware datetime as RFC 3339 UTC with ``Z`` (what the encoders write).

    >>> format_rfc3339(datetime(2026, 11, 29, 10, tzinfo=UTC))
    '2026-11-29T10:00:00Z'
    """
    utc = value.astimezone(UTC)
    text = utc.replace(tzinfo=None).isoformat()
    return text + "Z"
