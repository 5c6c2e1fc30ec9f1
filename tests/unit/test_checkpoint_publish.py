"""A checkpoint is published only once the output of every event it holds is written.

A restarted worker skips the events its checkpoint holds. Had their recommendations been lost
in the producer when the worker died, those events would never be answered, so
:func:`~streams.checkpoint.save_in_background` renames the child's file into place only after
the writes handed over before the fork are acknowledged (here: a future the test resolves).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from streams.checkpoint import (
    Checkpoint,
    discard_unpublished,
    load_checkpoint,
    save_in_background,
)
from streams.model_factory import build_service
from streams.settings import Settings


def learner(offset: int) -> Checkpoint:
    return Checkpoint(build_service(Settings.from_env({})), "events.valid", {0: offset})


async def until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def unpublished(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f".{path.name}.*.unpublished"))


async def test_published_only_once_the_output_is_written(tmp_path: Path) -> None:
    path = tmp_path / "learner.snap"
    output: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    captured: list[int] = []

    def written() -> asyncio.Future[None]:
        captured.append(1)
        return output

    saving = asyncio.ensure_future(save_in_background(learner(41), path, written))
    await until(lambda: unpublished(path))  # the child has written its file
    await asyncio.sleep(0.2)
    assert captured == [1] and not saving.done() and not path.exists()

    output.set_result(None)
    assert await asyncio.wait_for(saving, timeout=10)
    restored = load_checkpoint(path)
    assert restored is not None and restored.offsets == {0: 41}
    assert unpublished(path) == []


async def test_not_published_when_an_output_failed(tmp_path: Path) -> None:
    path = tmp_path / "learner.snap"

    async def written_before() -> None:
        return None

    async def failed() -> None:
        raise RuntimeError("MessageSizeTooLarge")

    assert await save_in_background(learner(7), path, written_before)
    assert not await save_in_background(learner(99), path, failed)
    restored = load_checkpoint(path)
    assert restored is not None and restored.offsets == {0: 7}  # the earlier one stands
    assert os.listdir(tmp_path) == [path.name]


def test_leftovers_of_a_killed_worker_are_discarded(tmp_path: Path) -> None:
    path = tmp_path / "learner.snap"
    path.write_bytes(b"published")
    aside = tmp_path / "learner.snap.1700000000.outdated"
    aside.write_bytes(b"moved aside by crossrec up")
    for name in (".learner.snap.123.unpublished", "..learner.snap.123.unpublished.x1.tmp"):
        (tmp_path / name).write_bytes(b"never published")
    discard_unpublished(path)
    assert sorted(tmp_path.iterdir()) == [path, aside]
