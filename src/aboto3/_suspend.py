"""Synchronous botocore code that waits asynchronously underneath.

``run_in_greenlet(fn, ...)`` runs ordinary sync code in a child greenlet on the
event-loop thread. Wherever that code would block, it calls ``suspend(awaitable)``:
the greenlet pauses, the awaiting coroutine awaits the awaitable on the loop,
and the sync code resumes with its result (or its exception). botocore never
knows: this is the one place where the switch happens.

It is also where the loop is shared fairly: answers that arrive together wake
their calls in one turn of the loop, and each call's resumed work (botocore's
parsing, its hooks) runs on the loop. Once a turn has spent ``TURN_BUDGET_S`` on
starting or resuming greenlets, the calls still to go wait for the next turn, so
that timers and other tasks run in between instead of after all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import threading
import time
import types
import weakref
from collections.abc import Awaitable
from typing import Any, Callable, TypeVar

from greenlet import GreenletExit, getcurrent, greenlet

T = TypeVar("T")

__all__ = ["in_engine_greenlet", "intercept_sleep", "run_in_greenlet", "suspend"]


_FINISHED = object()  # what a worker hands up when the call is over


class _EngineGreenlet(greenlet):  # type: ignore[misc]
    """A reusable greenlet that runs one sync call after another.

    Creating a greenlet and entering it the first time costs about 8 us;
    switching into a parked one costs about 0.3 us, so workers are kept.
    A finished call's outcome is left on the worker for the parent to take:
    a parked worker must hold nothing of it (a response kept alive there
    would keep its connection busy).
    """

    result: Any = None
    failed = False

    def __init__(self) -> None:
        super().__init__(self._serve)

    def _serve(self, job: tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]) -> None:
        while True:
            fn, args, kwargs = job
            del job
            try:
                self.result, self.failed = fn(*args, **kwargs), False
            except GreenletExit:
                raise  # the worker itself is being discarded
            except BaseException as error:
                self.result, self.failed = error, True
            del fn, args, kwargs
            job = self.parent.switch(_FINISHED)


_MAX_PARKED = 512
_parked = threading.local()

# How long one turn of the loop may spend starting and resuming engine
# greenlets before the rest wait for the next turn (whose timers and other
# tasks run first).
TURN_BUDGET_S = 0.002


class _Turn(threading.local):
    """When this thread's loop began spending its current turn on greenlets."""

    started = 0.0
    loop: weakref.ref[asyncio.AbstractEventLoop] | None = None


_turn = _Turn()


def _new_turn(turn: _Turn) -> None:
    turn.loop = None


def _turn_spent() -> bool:
    """Whether this turn of the running loop has had its budget: the first
    call of a turn starts the clock, and a callback scheduled then (it runs in
    the next turn, before the calls sent there) stops it, so that in every
    turn the first call to ask goes on."""
    now = time.perf_counter()
    turn = _turn
    running = asyncio.get_running_loop()
    if turn.loop is None or turn.loop() is not running:
        turn.loop, turn.started = weakref.ref(running), now
        running.call_soon(_new_turn, turn)
        return False
    return now - turn.started > TURN_BUDGET_S


def _take_worker() -> _EngineGreenlet:
    free: list[_EngineGreenlet] | None = getattr(_parked, "workers", None)
    if free:
        return free.pop()
    if free is None:
        _parked.workers = []
    return _EngineGreenlet()


async def run_in_greenlet(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` to completion, awaiting whatever it suspends on."""
    while _turn_spent():
        await asyncio.sleep(0)  # a later turn of the loop
    worker = _take_worker()
    worker.parent = getcurrent()
    # Like asyncio.to_thread: the call sees a copy of the caller's context.
    worker.gr_context = contextvars.copy_context()
    handed_up = worker.switch((fn, args, kwargs))
    while handed_up is not _FINISHED:
        try:
            value = await handed_up
            while _turn_spent():
                await asyncio.sleep(0)
        except BaseException as error:  # cancellation too: let the sync code unwind
            handed_up = worker.throw(error)
        else:
            handed_up = worker.switch(value)
    result, failed = worker.result, worker.failed
    worker.result = None
    worker.gr_context = None
    free: list[_EngineGreenlet] = _parked.workers
    if len(free) < _MAX_PARKED:
        free.append(worker)
    if failed:
        try:
            raise result
        finally:
            del result  # no reference cycle through this frame
    return result  # type: ignore[no-any-return]


def suspend(awaitable: Awaitable[T]) -> T:
    """Wait for ``awaitable`` from sync code running under ``run_in_greenlet``."""
    current = getcurrent()
    if type(current) is not _EngineGreenlet:
        raise RuntimeError("aboto3: suspend() called outside an aboto3 engine greenlet")
    return current.parent.switch(awaitable)  # type: ignore[no-any-return]


def in_engine_greenlet() -> bool:
    """True when sync code can suspend instead of blocking the thread."""
    return type(getcurrent()) is _EngineGreenlet


_sleep_intercepted = False


def _suspending(blocking_sleep: Callable[[float], None]) -> Callable[[float], None]:
    # The blocking sleep lives in this closure only (a cell, not a dict), so
    # the sweep in intercept_sleep never swaps it for the suspending one.
    def sleep(seconds: float) -> None:
        """``time.sleep`` that suspends inside aboto3 engine greenlets."""
        if type(getcurrent()) is _EngineGreenlet:
            suspend(asyncio.sleep(seconds))
        else:
            blocking_sleep(seconds)

    return sleep


def intercept_sleep() -> None:
    """Make every ``time.sleep`` of the process suspend inside engine greenlets.

    botocore sleeps in several ways: ``time.sleep`` looked up at call time
    (retry back-off in ``botocore.endpoint``, waiter delays), ``sleep=time.sleep``
    bound as a default argument or an attribute (the long-polling back-off of
    ``botocore.retries.standard``), and a ``from time import sleep`` would be a
    module global. So the function itself is replaced, wherever it is held:
    ``time.sleep``, then every dict (module globals, instance attributes,
    keyword defaults), object attribute and default-argument tuple that still
    holds the original. Code that imports or binds ``time.sleep`` later gets
    the replacement. Outside engine greenlets it is the original sleep, so the
    rest of the process sees no difference. Idempotent.
    """
    global _sleep_intercepted
    if _sleep_intercepted:
        return
    _sleep_intercepted = True
    blocking = time.sleep
    replacement = _suspending(blocking)
    time.sleep = replacement  # type: ignore[assignment]
    for holder in gc.get_referrers(blocking):
        if isinstance(holder, dict):
            for key, value in list(holder.items()):
                if value is blocking:
                    holder[key] = replacement
        elif isinstance(holder, tuple):
            for function in gc.get_referrers(holder):
                if isinstance(function, types.FunctionType) and function.__defaults__ is holder:
                    function.__defaults__ = tuple(
                        replacement if value is blocking else value for value in holder
                    )
        elif not isinstance(holder, (type, types.FrameType, types.CellType)):
            attributes = getattr(holder, "__dict__", None)
            for name, value in list(attributes.items()) if isinstance(attributes, dict) else ():
                if value is blocking:
                    with contextlib.suppress(AttributeError, TypeError):
                        setattr(holder, name, replacement)
