"""The worker's garbage-collector policy on timers (see :mod:`streams.gc_policy`)."""

from __future__ import annotations

from streams.app import app, settings
from streams.gc_policy import freeze_survivors, sweep

if settings.gc_freeze_every_s > 0:

    @app.timer(interval=settings.gc_freeze_every_s)  # type: ignore[untyped-decorator]
    async def freeze_gc() -> None:
        freeze_survivors()

    if settings.gc_sweep_every_s > 0:

        @app.timer(interval=settings.gc_sweep_every_s)  # type: ignore[untyped-decorator]
        async def sweep_gc() -> None:
            sweep()
