"""Test helper: a snapshot as another format version would have framed it."""

from __future__ import annotations

import json

from online_models.snapshot import MAGIC


def in_format(data: bytes, version: int) -> bytes:
    """``data`` (a crossrec snapshot) with ``format_version`` set to ``version``: the header
    re-encoded and its framed length updated, the payload untouched."""
    start = len(MAGIC) + 4
    n = int.from_bytes(data[len(MAGIC) : start], "big")
    header = json.loads(data[start : start + n])
    header["format_version"] = version
    raw = json.dumps(header, sort_keys=True).encode()
    return MAGIC + len(raw).to_bytes(4, "big") + raw + data[start + n :]
