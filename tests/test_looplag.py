"""The loop-lag sampler itself: it passes a healthy loop and catches a stalled one."""

from __future__ import annotations

import asyncio
import time

import pytest

from .looplag import LoopLag


async def test_a_turning_loop_passes() -> None:
    async with LoopLag() as lag:
        await asyncio.sleep(0.1)
    assert lag.ticks > 20


async def test_a_blocked_loop_fails() -> None:
    with pytest.raises(AssertionError, match="stalled"):
        async with LoopLag(limit=0.05):
            time.sleep(0.1)
