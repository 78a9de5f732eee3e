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
that is run-queue time.

CPython's garbage collections are not counted either: a collection holds the GIL
for as long as walking the whole heap takes, and in a test run the heap is every
test's leftovers, so its length measures the run's history rather than the code
under test (a full pass inside a 1 MB Scan took 11 ms in a sanitizer run whose
parse slices took 2). Their time is taken off the tick they fall in and reported
in a failure's message. The README's Response parsing and Creating clients say
what collections cost users and what reduces it.
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
        self.worst = 0.0  # the latest tick, less CPU waits and garbage collections
        self.worst_raw = 0.0  # the latest tick as the wall clock saw it
        self.ticks = 0
        self.gc_time = 0.0  # spent in garbage collections inside the block
        self._gc_started = 0.0
        self._gc_counted = 0.0  # gc_time already taken off earlier ticks
        self._task: asyncio.Task[None] | None = None

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self._gc_started:
            self.gc_time += time.perf_counter() - self._gc_started

    def _record(self, late: float, cpu_wait: float) -> None:
        """One tick came `late`; `cpu_wait` of that was spent waiting for a CPU."""
        # A collection holds the GIL throughout, so it falls inside one tick.
        collecting = self.gc_time - self._gc_counted
        self._gc_counted = self.gc_time
        self.worst_raw = max(self.worst_raw, late)
        self.worst = max(self.worst, late - cpu_wait - collecting)
        self.ticks += 1

    async def _tick(self) -> None:
        # Opened here, on the loop thread: /proc/thread-self names the opener.
        run_queue = RunQueueClock()
        try:
            expected = time.perf_counter() + self.interval
            waited = run_queue()
            while True:
                await asyncio.sleep(self.interval)
                now, waited_now = time.perf_counter(), run_queue()
                self._record(now - expected, waited_now - waited)
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
                f"by the wall clock, run-queue waits and {self.gc_time * 1000:.0f} ms "
                "of garbage collections included)"
            )
