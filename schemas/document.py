"""Bytes -> one JSON object within the payload limits, and the wire -> Python conversions.

Shared by every decoder (events, recommendations) so they fail the same way on the same
bytes. The conversions only change representation (JSON array -> tuple, ``3.0`` -> ``3``,
RFC 3339 string -> ``datetime``); the contract classes do the checking.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from schemas._checks import MAX_STRING, json_type_name
from schemas.errors import InvalidEvent
from schemas.limits import DEFAULT_MAX_BYTES, MAX_DEPTH, check_limits
from schemas.timestamps import parse_rfc3339

MISSING: Final = object()
"""Sentinel for ``dict.get``: distinguishes an absent key from ``null``."""


def parse_document(raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """Bytes -> a JSON object within the payload limits (shared with other decoders)."""
    if type(raw) is not bytes:
        if not isinstance(raw, bytearray | memoryview):
            raise InvalidEvent("wrong_type", f"payload must be bytes, got {type(raw).__name__}")
        raw = bytes(raw)
    if len(raw) > max_bytes:
        raise InvalidEvent("too_large", f"payload is {len(raw)} bytes, the limit is {max_bytes}")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        message = str(exc)
        if "surrogate" in message or not _is_utf8(raw):
            raise InvalidEvent("invalid_utf8", f"payload is not valid UTF-8: {message}") from exc
        if "depth" in message or "recursion" in message:
            raise InvalidEvent("too_deep", f"payload nests too deeply: {message}") from exc
        raise InvalidEvent("not_json", f"payload is not a JSON document: {message}") from exc
    if type(document) is not dict:
        raise InvalidEvent(
            "not_object", f"payload must be a JSON object, got {json_type_name(document)}"
        )
    # A string longer than MAX_STRING chars needs more than MAX_STRING bytes, and every
    # nesting level needs a '{' or '[' byte: small, flat payloads cannot break the limits.
    if len(raw) > MAX_STRING or raw.count(b"{") + raw.count(b"[") > MAX_DEPTH:
        check_limits(document)
    return document


def _is_utf8(raw: bytes) -> bool:
    """Only called on the error path, to tell encoding problems from syntax ones."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def wire_int(value: Any) -> Any:
    """JSON has one number type: ``3.0`` is the integer 3 (as in JSON Schema)."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


def wire_ts(value: Any, field: str = "ts") -> Any:
    """Parse RFC 3339 strings; anything else is left for the type check to reject."""
    return parse_rfc3339(value, field) if type(value) is str else value


def wire_array(value: Any) -> Any:
    """JSON arrays become tuples (contract classes are immutable and hashable)."""
    return tuple(value) if type(value) is list else value
