"""The worker's GC policy: frozen survivors leave full passes; a sweep still finds leaks."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from streams.gc_policy import freeze_survivors, settle_after_restore, sweep


@pytest.fixture(autouse=True)
def _restore_gc() -> Iterator[None]:
    yield
    gc.unfreeze()


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_frozen_objects_are_not_walked_by_a_full_collection() -> None:
    settle_after_restore()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    kept = [_Node() for _ in range(1000)]
    freeze_survivors()
    assert gc.get_freeze_count() >= frozen + len(kept)


def test_a_sweep_frees_cycles_that_died_while_frozen() -> None:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    probe = weakref.ref(a)
    freeze_survivors()
    del a, b  # unreachable now, but frozen
    gc.collect()
    assert probe() is not None, "an ordinary full pass skips frozen objects"
    assert sweep() >= 2
    assert probe() is None
    assert gc.get_freeze_count() > 0  # what survived the sweep is frozen again
