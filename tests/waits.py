"""Waiting for behaviour instead of for time (issue 23: a loaded machine is slow,
not wrong, so no test may depend on how fast it is).

    await wait_until(lambda: proxy.requests >= 1, "the request reaching the proxy")
    turned = LoopTurns()   # on the loop; then, from the work on another thread:
    turned.wait()          # True once the loop ran a callback meanwhile

Every timeout here is a hang guard, far longer than any loaded machine needs: a
test fails on it only when what it waits for never happens.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable

HANG_GUARD = 30.0  # seconds; pytest-timeout stops a test at 120


async def wait_until(
    predicate: Callable[[], object], what: str, timeout: float = HANG_GUARD
) -> None:
    """Poll ``predicate`` on the loop (which keeps turning) until it holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        await asyncio.sleep(0.01)


def wait_until_sync(
    predicate: Callable[[], object], what: str, timeout: float = HANG_GUARD
) -> None:
    """``wait_until`` for a thread that is not running a loop."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.01)


class LoopTurns:
    """Proves that the event loop turned while work on another thread was in flight.

    Made on the loop. The work calls :meth:`wait` while it runs (a hook, a
    progress callback): the loop is asked to run a callback, and the work waits
    for it. A loop that is free runs it at its next turn; a loop blocked until
    the work ends cannot, so :meth:`wait` gives up after the hang guard and
    records False. Work found running on the loop thread itself records False at
    once (waiting there would only block the loop), and so does every wait after
    one that gave up, so that a blocked loop fails a test after one hang guard.
    """

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self.outcomes: list[bool] = []  # one per wait(): whether the loop turned

    def wait(self, timeout: float = HANG_GUARD) -> bool:
        if threading.get_ident() == self._loop_thread or False in self.outcomes:
            turned = False
        else:
            ran = threading.Event()
            self._loop.call_soon_threadsafe(ran.set)
            turned = ran.wait(timeout)
        self.outcomes.append(turned)
        return turned


class InFlight:
    """Wraps a function that the engine runs (a botocore body's ``read``, an
    event stream iterator's ``__next__``) to tell when a call of it has started
    and not returned yet: the moment a test acts on *while* it waits."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self._function = function
        self.calls: dict[int, tuple[Any, ...]] = {}  # the arguments of each call in flight
        self.returned: list[Any] = []  # what the finished calls returned, in order
        self._next_call = 0

    def __call__(self, *args: Any) -> Any:
        call, self._next_call = self._next_call, self._next_call + 1
        self.calls[call] = args
        try:
            result = self._function(*args)
        finally:
            del self.calls[call]
        self.returned.append(result)
        return result
