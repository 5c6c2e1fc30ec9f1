"""The published JSON Schemas (draft 2020-12), for producers and consumers in other languages.

The files ship as package data (``schemas/json/*.json``); tests check that they and the
Python decoders agree on valid messages and on hand-written invalid ones. What JSON Schema
cannot say is enforced by the decoders only, and written in the schemas' descriptions:
payload size (64 KiB), equal lengths of an impression's ``item_ids`` and ``positions``,
distinct items in a recommendation, and calendar validity of timestamps (the schema checks
their shape; ``format: date-time`` is an annotation unless the validator enables formats).

>>> schema = event_schema()
>>> schema["$schema"]
'https://json-schema.org/draft/2020-12/schema'
>>> sorted(b["title"] for b in schema["oneOf"])[:3]
['click', 'consent', 'course_purchase']
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any, Final

EVENT_SCHEMA_FILE: Final = "event.v1.schema.json"
RECOMMENDATION_SCHEMA_FILE: Final = "recommendation.v1.schema.json"


def event_schema() -> dict[str, Any]:
    """The event contract (``events.in`` / ``events.valid``), version 1; a fresh copy."""
    schema: dict[str, Any] = json.loads(schema_text(EVENT_SCHEMA_FILE))
    return schema


def recommendation_schema() -> dict[str, Any]:
    """The ``recommendations`` topic contract, version 1; a fresh copy."""
    schema: dict[str, Any] = json.loads(schema_text(RECOMMENDATION_SCHEMA_FILE))
    return schema


@cache
def schema_text(name: str) -> str:
    """The raw JSON text of one schema file in ``schemas/json`` (cached; files are immutable)."""
    return files("schemas").joinpath("json", name).read_text(encoding="utf-8")
