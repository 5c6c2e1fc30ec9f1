"""Versioned model snapshots: our own framing around a pickle of our own objects.

Layout of a snapshot file::

    MAGIC (8 bytes) | header length (4 bytes, big-endian) | header (UTF-8 JSON) | payload

The header carries ``format_version``, the library versions (python, numpy, river,
crossrec), the model class, the payload length and its SHA-256. :func:`load` refuses
anything without our magic, with another format version, with a different model class
than expected, or whose payload does not match its digest — *before* unpickling, because
unpickling runs code (DESIGN.md: never unpickle bytes we did not write). The digest guards
against truncation and corruption, not against a malicious writer with access to the path.

Writes are atomic: a temporary file in the same directory, fsync, then ``os.replace``.

>>> import tempfile, pathlib
>>> from online_models.popularity import Popularity
>>> path = pathlib.Path(tempfile.mkdtemp()) / "pop.snap"
>>> header = save(Popularity(), path)
>>> header["format_version"] == FORMAT_VERSION, type(load(path, expected=Popularity)).__name__
(True, 'Popularity')
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import platform
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

MAGIC = b"CRSNAP\x00\x01"
FORMAT_VERSION = 15
"""Bumped whenever a model's pickled state changes shape (3: the catalogue's inactive count
and the MF's mirrored ranking bias; 4: the service keeps the context each list was ranked
in; 5: the full ranker's item quality; 6: the service's online metrics keep a ROC AUC
histogram; 7: the label join keeps one record per list, the service a compact record per
served list; 8: a click waiting for its list's window keeps its served p_click too; 9: the
served calibration counts items shown and clicked; 10: a clicked slot of an open list is
labelled when the list closes, not at the click; 11: the service's recent event ids are
digests in a hash table; 12: the full ranker's parts share one user index, content and
segments keep users in its rows; 13: the full ranker's content reads the kNN's history;
14: what a user bought is never offered again in the domains the service names, the same
for every variant; 15: the recommender keeps each user's labelled impressions and clicks
per domain for its click model),
so an old snapshot is refused with a clear error."""

T = TypeVar("T")


class SnapshotError(Exception):
    """A snapshot cannot be written or is not one we can safely load."""


class IncompatibleSnapshot(SnapshotError):
    """A crossrec snapshot of another format version: sound, but not this code's to load."""


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def library_versions() -> dict[str, str | None]:
    return {
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "river": _version("river"),
        "crossrec": _version("crossrec"),
    }


def _class_name(obj: object) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def dumps(model: object) -> bytes:
    """Serialise ``model`` with our framing."""
    try:
        payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise SnapshotError(f"cannot pickle {_class_name(model)}: {exc}") from exc
    header = {
        "format_version": FORMAT_VERSION,
        "libraries": library_versions(),
        "model_class": _class_name(model),
        "payload_bytes": len(payload),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
    }
    raw = json.dumps(header, sort_keys=True).encode()
    return MAGIC + len(raw).to_bytes(4, "big") + raw + payload


def read_header(data: bytes) -> tuple[dict[str, Any], int]:
    """Parse and check the framing; returns ``(header, payload_offset)``."""
    if not data.startswith(MAGIC):
        raise SnapshotError("not a crossrec snapshot (bad magic)")
    start = len(MAGIC) + 4
    if len(data) < start:
        raise SnapshotError("truncated snapshot header")
    n = int.from_bytes(data[len(MAGIC) : start], "big")
    try:
        header = json.loads(data[start : start + n])
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SnapshotError("corrupt snapshot header") from exc
    if not isinstance(header, dict):
        raise SnapshotError("corrupt snapshot header")
    if header.get("format_version") != FORMAT_VERSION:
        raise IncompatibleSnapshot(
            f"incompatible snapshot format {header.get('format_version')!r} "
            f"(this code reads {FORMAT_VERSION})"
        )
    return header, start + n


def loads(data: bytes, expected: type[T]) -> T:
    """Check framing, class and digest, then unpickle; raises :class:`SnapshotError`."""
    header, offset = read_header(data)
    want = f"{expected.__module__}.{expected.__qualname__}"
    if header.get("model_class") != want:
        raise SnapshotError(f"snapshot holds {header.get('model_class')!r}, expected {want!r}")
    payload = data[offset:]
    if len(payload) != header.get("payload_bytes"):
        raise SnapshotError("truncated snapshot payload")
    if hashlib.sha256(payload).hexdigest() != header.get("payload_sha256"):
        raise SnapshotError("snapshot payload digest mismatch")
    try:
        model = pickle.loads(payload)
    except Exception as exc:  # unpickling can raise nearly anything
        raise SnapshotError(f"cannot unpickle snapshot: {exc}") from exc
    if not isinstance(model, expected):
        raise SnapshotError(f"snapshot holds {type(model)!r}, expected {expected!r}")
    return model


def save(model: object, path: Path) -> dict[str, Any]:
    """Atomically write a snapshot of ``model`` to ``path``; returns its header."""
    data = dumps(model)
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    header, _ = read_header(data)
    return header


def load(path: Path, expected: type[T]) -> T:
    """Load a snapshot written by :func:`save` (see :func:`loads` for the checks)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SnapshotError(f"cannot read snapshot {path}: {exc}") from exc
    return loads(data, expected)
