"""Payload-wide limits, applied to every decoded document before its fields are read.

The wire contract bounds what one message may cost us, whatever fields it carries (known
ones or not): at most ``max_bytes`` bytes (checked before parsing), nesting of at most
:data:`MAX_DEPTH` arrays/objects (the top object is level 1) and no string -- value or
object key -- longer than :data:`~schemas._checks.MAX_STRING` characters.

orjson refuses documents nested deeper than 1,024 levels on its own, in C, so parsing first
and walking afterwards is safe: the walk only ever meets up to 1,024 levels and the byte
limit bounds its width.

>>> check_limits({"a": [[1]]})
>>> check_limits({"a": [[[[[[[[1]]]]]]]]})
Traceback (most recent call last):
...
schemas.errors.InvalidEvent: too_deep: 'a' nests deeper than 8 levels
"""

from __future__ import annotations

from typing import Any, Final

from schemas._checks import MAX_STRING
from schemas.errors import InvalidEvent

MAX_DEPTH: Final = 8
DEFAULT_MAX_BYTES: Final = 65536


def check_limits(document: dict[str, Any]) -> None:
    """Raise ``too_long``/``too_deep`` if any string or nesting in ``document`` is too big."""
    for key, value in document.items():
        if len(key) > MAX_STRING:
            raise _long_key(key)
        kind = type(value)
        if kind is str:
            if len(value) > MAX_STRING:
                raise InvalidEvent(
                    "too_long",
                    f"{key[:64]} is {len(value)} chars, the limit for any string is {MAX_STRING}",
                    key[:64],
                )
        elif kind is dict or kind is list:
            _check_nested(value, 2, key)


def _check_nested(container: dict[str, Any] | list[Any], depth: int, top_key: str) -> None:
    if depth > MAX_DEPTH:
        raise InvalidEvent(
            "too_deep", f"{top_key[:64]!r} nests deeper than {MAX_DEPTH} levels", top_key[:64]
        )
    if type(container) is dict:
        for key in container:
            if len(key) > MAX_STRING:
                raise _long_key(key)
        values: Any = container.values()
    else:
        values = container
    for value in values:
        kind = type(value)
        if kind is str:
            if len(value) > MAX_STRING:
                raise InvalidEvent(
                    "too_long",
                    f"a string inside {top_key[:64]!r} is {len(value)} chars, "
                    f"the limit is {MAX_STRING}",
                    top_key[:64],
                )
        elif kind is dict or kind is list:
            _check_nested(value, depth + 1, top_key)


def _long_key(key: str) -> InvalidEvent:
    return InvalidEvent(
        "too_long", f"an object key is {len(key)} chars, the limit is {MAX_STRING}", None
    )
