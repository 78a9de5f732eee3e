"""A loop-lag sampler: proves that the event loop keeps turning while calls run.

    async with LoopLag(limit=0.05) as lag:
        await aio.some_call(...)
    # leaving the block raises AssertionError if any tick came later than `limit`

A task wakes every `interval` seconds (1 ms) and records how late each wake-up was.
Any stretch of synchronous work on the loop thread (a blocking sleep, a blocking read,
a slow import) shows up as one late tick of about its length.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from types import TracebackType


class LoopLag:
    def __init__(self, limit: float = 0.05, interval: float = 0.001) -> None:
        self.limit = limit
        self.interval = interval
        self.worst = 0.0
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        expected = time.perf_counter() + self.interval
        while True:
            await asyncio.sleep(self.interval)
            now = time.perf_counter()
            self.worst = max(self.worst, now - expected)
            self.ticks += 1
            expected = now + self.interval

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        await asyncio.sleep(0)  # let the ticker start before the guarded work does
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # One more tick, so a stall at the very end of the block is seen too.
        await asyncio.sleep(self.interval * 2)
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if exc_type is None:
            assert self.ticks > 0, "the loop-lag sampler never ran"
            assert self.worst <= self.limit, (
                f"the event loop stalled for {self.worst * 1000:.0f} ms "
                f"(limit {self.limit * 1000:.0f} ms)"
            )
