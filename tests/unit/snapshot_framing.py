"""Test helper: a snapshot as another format version would have framed it."""

from __future__ import annotations

import json

from online_models.snapshot import MAGIC, read_header


def in_format(data: bytes, version: int) -> bytes:
    """``data`` (a crossrec snapshot of this format) with ``format_version`` set to
    ``version``: the header re-encoded and its framed length updated, the payload untouched."""
    header, payload_offset = read_header(data)
    header["format_version"] = version
    raw = json.dumps(header, sort_keys=True).encode()
    return MAGIC + len(raw).to_bytes(4, "big") + raw + data[payload_offset:]
