"""The loop-lag sampler itself: it passes a healthy loop and catches a stalled one."""

from __future__ import annotations

import asyncio
import gc
import time

import pytest

from .looplag import LoopLag


async def test_a_turning_loop_passes() -> None:
    # The sampler ticks throughout the block: its 1 ms timer comes due before
    # each 50 ms one, however slow the machine.
    async with LoopLag() as lag:
        await asyncio.sleep(0.05)
        halfway = lag.ticks
        await asyncio.sleep(0.05)
    assert 0 < halfway < lag.ticks


async def test_a_blocked_loop_fails() -> None:
    with pytest.raises(AssertionError, match="stalled"):
        async with LoopLag(limit=0.05):
            time.sleep(0.1)


async def test_an_empty_block_is_sampled() -> None:
    # The sampler's first 1 ms timer comes due before the block's closing one,
    # however slow the machine: even a block that does nothing gets a tick.
    async with LoopLag() as lag:
        pass
    assert lag.ticks >= 1


async def test_garbage_collections_are_not_counted() -> None:
    # Collections hold the loop for 100 ms in one stretch; a blocking sleep of that
    # length fails above. How long each pass takes depends on the heap, so the loop
    # collects until 100 ms of them have been timed, whatever the machine.
    heap = [[] for _ in range(100_000)]
    async with LoopLag(limit=0.05) as lag:
        while lag.gc_time < 0.1:
            gc.collect()
    assert lag.worst_raw >= 0.1  # the loop did wait for them
    del heap
