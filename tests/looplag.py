"""A loop-lag sampler: proves that the event loop keeps turning while calls run.

    async with LoopLag(limit=0.05) as lag:
        await aio.some_call(...)
    # leaving the block raises AssertionError if any tick came later than `limit`

A task wakes every `interval` seconds (1 ms) and records how late each wake-up was.
Any stretch of synchronous work on the loop thread (a blocking sleep, a blocking read,
a slow import) shows up as one late tick of about its length.

What the loop cannot help is not counted: on Linux, the time the loop thread spent
runnable but waiting for a CPU (its run-queue wait, from /proc/thread-self/schedstat)
is taken off each tick's lateness. A loaded machine then does not fail the test, while
a loop thread that sleeps, blocks on I/O or waits for a lock still does, since none of
that is run-queue time. The block starts after a full garbage collection, so it does
not pay for the garbage of whatever ran before it (in a long test run, a full pass
over the heap can take a few hundred ms); collections inside the block do count, and
a failure says how long they took.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from types import TracebackType

from benchmarks.runqueue import RunQueueClock


class LoopLag:
    def __init__(self, limit: float = 0.05, interval: float = 0.001) -> None:
        self.limit = limit
        self.interval = interval
        self.worst = 0.0  # the latest tick, less the time spent waiting for a CPU
        self.worst_raw = 0.0  # the latest tick as the wall clock saw it
        self.ticks = 0
        self.gc_time = 0.0  # spent in garbage collections inside the block
        self._gc_started = 0.0
        self._task: asyncio.Task[None] | None = None

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self._gc_started:
            self.gc_time += time.perf_counter() - self._gc_started

    async def _tick(self) -> None:
        # Opened here, on the loop thread: /proc/thread-self names the opener.
        run_queue = RunQueueClock()
        try:
            expected = time.perf_counter() + self.interval
            waited = run_queue()
            while True:
                await asyncio.sleep(self.interval)
                now, waited_now = time.perf_counter(), run_queue()
                late = now - expected
                self.worst_raw = max(self.worst_raw, late)
                self.worst = max(self.worst, late - (waited_now - waited))
                self.ticks += 1
                expected, waited = now + self.interval, waited_now
        finally:
            run_queue.close()

    async def __aenter__(self) -> LoopLag:
        gc.collect()
        gc.callbacks.append(self._on_gc)
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
        gc.callbacks.remove(self._on_gc)
        if exc_type is None:
            assert self.ticks > 0, "the loop-lag sampler never ran"
            assert self.worst <= self.limit, (
                f"the event loop stalled for {self.worst * 1000:.0f} ms "
                f"(limit {self.limit * 1000:.0f} ms; {self.worst_raw * 1000:.0f} ms "
                f"by the wall clock, run-queue waits included; {self.gc_time * 1000:.0f} ms "
                "in garbage collections)"
            )
