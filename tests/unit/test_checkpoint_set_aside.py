"""``crossrec up`` moves a snapshot of another format aside (the worker would refuse it)."""

from __future__ import annotations

from pathlib import Path

from online_models.popularity import Popularity
from online_models.snapshot import FORMAT_VERSION, save
from streams.checkpoint import set_aside_if_outdated
from tests.unit.snapshot_framing import in_format


def test_only_a_snapshot_of_another_format_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "learner.snap"
    assert set_aside_if_outdated(path) is None  # none yet

    save(Popularity(), path)
    current = path.read_bytes()
    assert set_aside_if_outdated(path) is None and path.read_bytes() == current

    path.write_bytes(b"not a snapshot at all")  # corrupt: the worker must refuse it, loudly
    assert set_aside_if_outdated(path) is None and path.exists()

    old = in_format(current, FORMAT_VERSION - 1)
    path.write_bytes(old)
    aside = set_aside_if_outdated(path)
    assert aside is not None and not path.exists()
    assert aside.parent == tmp_path and aside.name.startswith("learner.snap.")
    assert aside.read_bytes() == old
