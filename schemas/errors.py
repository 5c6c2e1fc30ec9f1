"""The one error every contract check raises: :class:`InvalidEvent`.

Ingestion dead-letters bad messages by ``code`` (a metric label, so the set is small and
fixed) and keeps ``reason`` for humans. Constructing an event in Python runs the same checks
as decoding one from the wire, so both raise this error.

>>> err = InvalidEvent("missing_field", "click: missing required field 'item_id'", "item_id")
>>> err.code, err.field
('missing_field', 'item_id')
>>> str(err)
"missing_field: click: missing required field 'item_id'"
"""

from __future__ import annotations

from typing import Final, Literal, get_args

ErrorCode = Literal[
    "too_large",
    "invalid_utf8",
    "not_json",
    "too_deep",
    "not_object",
    "unsupported_version",
    "unknown_type",
    "missing_field",
    "wrong_type",
    "bad_value",
    "too_long",
]
"""Stable machine codes; adding one is a contract change (dashboards group by them).

- ``too_large``: the payload is longer than ``max_bytes`` (checked before parsing).
- ``invalid_utf8``: the bytes are not UTF-8, or a JSON escape encodes a lone surrogate.
- ``not_json``: not one JSON document (empty, trailing data, ``NaN``/``Infinity``, a byte
  order mark, a number too large for a double).
- ``too_deep``: arrays/objects nested more than 8 levels (the top object is level 1).
- ``not_object``: the document is valid JSON but not an object.
- ``unsupported_version``: ``schema_version`` is an integer this decoder does not accept.
- ``unknown_type``: ``event_type`` is a string that names no event type.
- ``missing_field``: a required field is absent.
- ``wrong_type``: a field has the wrong JSON type (``"1"`` for a number, ``1`` for a bool,
  ``null`` for a string ...), or the payload is not bytes at all.
- ``bad_value``: right type, wrong value (empty id, control character, negative price,
  unknown domain, malformed timestamp, mismatched list lengths ...).
- ``too_long``: a string or list is longer than its limit (1,024 chars for any string,
  128 for ids, 300 for titles, 50/100/32 elements for lists).
"""

ERROR_CODES: Final[frozenset[str]] = frozenset(get_args(ErrorCode))


class InvalidEvent(ValueError):
    """A message (or a Python-built event) that breaks the wire contract.

    ``code`` is one of :data:`ERROR_CODES`; ``reason`` says what is wrong and names the
    field; ``field`` is that field's name when one is to blame (``None`` for payload-level
    problems such as ``not_json``).
    """

    code: ErrorCode
    reason: str
    field: str | None

    def __init__(self, code: ErrorCode, reason: str, field: str | None = None) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
        self.field = field

    def __reduce__(self) -> tuple[type[InvalidEvent], tuple[ErrorCode, str, str | None]]:
        # Exceptions pickle through ``self.args`` by default, which would call
        # ``InvalidEvent("code: reason")`` on unpickling; keep all three attributes instead.
        return (type(self), (self.code, self.reason, self.field))
