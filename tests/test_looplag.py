"""The loop-lag sampler itself: it passes a healthy loop and catches a stalled one."""

from __future__ import annotations

import asyncio
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
