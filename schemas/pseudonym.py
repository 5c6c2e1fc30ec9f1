"""Pseudonymous user ids: what every topic after ingestion, and every model, sees.

``pseudonymise(key, raw) = "p:" + hex(HMAC-SHA256(key, utf8(raw)))[:32]`` -- 128 bits, so
collisions are negligible, and without ``key`` the raw id cannot be recovered by hashing
candidate ids. The same key gives the same pseudonym on every worker, so partitioning and
joins keep working; rotating the key unlinks all history (which is sometimes the point).

>>> key = b"k" * 32
>>> p = pseudonymise(key, "user-42")
>>> p
'p:5a072009dcd41adedb893b07f032f3fb'
>>> is_pseudonym(p), is_pseudonym("user-42")
(True, False)
"""

from __future__ import annotations

import hmac
import re
from typing import Final

PSEUDONYM_PREFIX: Final = "p:"
_PSEUDONYM: Final = re.compile("p:[0-9a-f]{32}")


def pseudonymise(key: bytes, user_id: str) -> str:
    """The pseudonym of ``user_id`` under ``key``.

    ``key`` must be secret and non-empty; use 32 random bytes in production (an empty key
    would make pseudonyms reversible by anyone who can guess user ids).
    """
    if not key:
        raise ValueError("the pseudonymisation key must not be empty")
    digest = hmac.digest(key, user_id.encode("utf-8"), "sha256")
    return PSEUDONYM_PREFIX + digest[:16].hex()


def is_pseudonym(value: str) -> bool:
    """True for strings shaped like :func:`pseudonymise` output (``p:`` + 32 lower hex)."""
    return _PSEUDONYM.fullmatch(value) is not None
