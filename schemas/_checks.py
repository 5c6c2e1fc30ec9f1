"""Field checks shared by every contract class (events and recommendations).

Each check either returns the (possibly normalised) value or raises :class:`InvalidEvent`
whose reason names the field in wire terms ("an array of strings", not "a tuple"), because
the same checks guard values decoded from JSON and values built in Python. They run on every
event, so they are plain functions with the cheap test first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any, Final

from schemas.errors import InvalidEvent

MAX_STRING: Final = 1024
"""Longest string accepted anywhere in a payload, known field or not."""
MAX_ID: Final = 128
"""Longest id (event, user, item, course, partner, recommendation) and token (surface, tag)."""
MAX_SAFE_INT: Final = 2**53 - 1
"""Largest integer accepted (positions): every JSON parser, JavaScript included, keeps it exact."""

# Unicode category Cc (C0, DEL, C1) plus surrogates: surrogates cannot come off the wire
# (the decoder rejects them) but a Python caller could build one, and orjson cannot encode it.
_FORBIDDEN_IN_ID: Final = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_CURRENCY: Final = re.compile("[A-Z]{3}")

_JSON_TYPE_NAMES: Final[dict[type, str]] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
    list: "an array",
    tuple: "an array",
    dict: "an object",
}


def json_type_name(value: object) -> str:
    """How a value's type reads in JSON terms, for error reasons.

    >>> json_type_name(None), json_type_name(True), json_type_name(("a",))
    ('null', 'a boolean', 'an array')
    """
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def wrong_type(field: str, expected: str, value: object) -> InvalidEvent:
    return InvalidEvent(
        "wrong_type", f"{field} must be {expected}, got {json_type_name(value)}", field
    )


def check_id(value: object, field: str) -> str:
    """An id or token: a string of 1..128 chars without control characters."""
    if not isinstance(value, str):
        raise wrong_type(field, "a string", value)
    n = len(value)
    if 0 < n <= MAX_ID and value.isascii() and value.isprintable():
        return value  # the common case, decided in C without the regex
    if n == 0:
        raise InvalidEvent("bad_value", f"{field} must not be empty", field)
    if n > MAX_ID:
        raise InvalidEvent("too_long", f"{field} is {n} chars, the limit is {MAX_ID}", field)
    if _FORBIDDEN_IN_ID.search(value) is not None:
        raise InvalidEvent("bad_value", f"{field} contains a control character", field)
    return value


def check_optional_id(value: object, field: str) -> str | None:
    return None if value is None else check_id(value, field)


def check_text(value: object, field: str, max_len: int) -> str:
    """Free text (a title): any characters, at most ``max_len`` of them."""
    if not isinstance(value, str):
        raise wrong_type(field, "a string", value)
    if len(value) > max_len:
        raise InvalidEvent(
            "too_long", f"{field} is {len(value)} chars, the limit is {max_len}", field
        )
    if _SURROGATE.search(value) is not None:
        raise InvalidEvent("bad_value", f"{field} contains a lone surrogate", field)
    return value


def check_choice(value: object, field: str, allowed: Collection[str]) -> str:
    if not isinstance(value, str):
        raise wrong_type(field, "a string", value)
    if value not in allowed:
        raise InvalidEvent(
            "bad_value", f"{field} must be one of {sorted(allowed)}, got {value[:64]!r}", field
        )
    return value


def check_currency(value: object, field: str) -> str:
    """ISO 4217 style: exactly three upper-case ASCII letters."""
    if not isinstance(value, str):
        raise wrong_type(field, "a string", value)
    if _CURRENCY.fullmatch(value) is None:
        raise InvalidEvent(
            "bad_value", f"{field} must be three upper-case letters, got {value[:16]!r}", field
        )
    return value


def check_bool(value: object, field: str) -> bool:
    if value is True or value is False:
        return value
    raise wrong_type(field, "a boolean", value)


def check_amount(value: object, field: str) -> float:
    """A finite number >= 0 (int or float, never bool); returned as float."""
    if type(value) is float:
        if not math.isfinite(value):
            raise InvalidEvent("bad_value", f"{field} must be finite", field)
    elif isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    else:
        raise wrong_type(field, "a number", value)
    if value < 0:
        raise InvalidEvent("bad_value", f"{field} must be >= 0, got {value!r}", field)
    return value


def check_float(
    value: object, field: str, lo: float | None = None, hi: float | None = None
) -> float:
    """A finite number, optionally within ``[lo, hi]``; returned as float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise wrong_type(field, "a number", value)
    value = float(value)
    if not math.isfinite(value):
        raise InvalidEvent("bad_value", f"{field} must be finite", field)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise InvalidEvent("bad_value", f"{field} must be in [{lo}, {hi}], got {value!r}", field)
    return value


def check_position(value: object, field: str) -> int:
    """An integer in 0..2**53-1 (bool is not an integer)."""
    if type(value) is not int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong_type(field, "an integer", value)
        value = int(value)
    if value < 0 or value > MAX_SAFE_INT:
        raise InvalidEvent("bad_value", f"{field} must be in 0..{MAX_SAFE_INT}, got {value}", field)
    return value


def check_optional_position(value: object, field: str) -> int | None:
    return None if value is None else check_position(value, field)


def check_tuple(value: object, field: str, min_len: int, max_len: int) -> tuple[Any, ...]:
    """An array (a tuple in Python) of ``min_len..max_len`` elements; elements unchecked."""
    if type(value) is not tuple:
        raise wrong_type(field, "an array", value)
    n = len(value)
    if n > max_len:
        raise InvalidEvent("too_long", f"{field} has {n} elements, the limit is {max_len}", field)
    if n < min_len:
        raise InvalidEvent("bad_value", f"{field} needs at least {min_len} element(s)", field)
    return value


def check_id_tuple(value: object, field: str, min_len: int, max_len: int) -> tuple[str, ...]:
    items = check_tuple(value, field, min_len, max_len)
    if not items:
        return items
    # Fast path, all in C: join() fails on any non-string, and the joined text is printable
    # ASCII only if every element is. Naming a bad element is left to the slow path.
    try:
        joined = "".join(items)
    except TypeError:
        joined = None
    lengths = list(map(len, items)) if joined is not None else []
    if (
        joined is not None
        and joined.isascii()
        and joined.isprintable()
        and min(lengths) > 0
        and max(lengths) <= MAX_ID
    ):
        return items
    for i, item in enumerate(items):
        check_id(item, f"{field}[{i}]")
    return items


def check_position_tuple(value: tuple[Any, ...], field: str) -> tuple[int, ...]:
    """Elements checked with :func:`check_position`; returns the tuple of plain ints."""
    if all(type(p) is int and 0 <= p <= MAX_SAFE_INT for p in value):
        return value
    return tuple(check_position(p, f"{field}[{i}]") for i, p in enumerate(value))


def check_ts(value: object, field: str) -> datetime:
    """A timezone-aware datetime, returned in UTC (``tzinfo is UTC``)."""
    if not isinstance(value, datetime):
        raise wrong_type(field, "an RFC 3339 timestamp string", value)
    tz = value.tzinfo
    if tz is UTC:
        return value
    if tz is None or value.utcoffset() is None:
        raise InvalidEvent("bad_value", f"{field} must carry a timezone", field)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidEvent("bad_value", f"{field} is out of range in UTC", field) from exc


def check_version(value: object, supported: int) -> int:
    if type(value) is not int:
        raise wrong_type("schema_version", "an integer", value)
    if value != supported:
        raise InvalidEvent(
            "unsupported_version",
            f"schema_version {value} is not supported (this decoder accepts {supported})",
            "schema_version",
        )
    return value
