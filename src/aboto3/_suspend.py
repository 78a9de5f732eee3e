"""Synchronous botocore code that waits asynchronously underneath.

``run_in_greenlet(fn, ...)`` runs ordinary sync code in a child greenlet on the
event-loop thread. Wherever that code would block, it calls ``suspend(awaitable)``:
the greenlet pauses, the awaiting coroutine awaits the awaitable on the loop,
and the sync code resumes with its result (or its exception). botocore never
knows: this is the one place where the switch happens.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Awaitable
from typing import Any, Callable, TypeVar

from greenlet import GreenletExit, getcurrent, greenlet

T = TypeVar("T")

__all__ = ["in_engine_greenlet", "patch_sleep", "run_in_greenlet", "suspend"]


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


def _take_worker() -> _EngineGreenlet:
    free: list[_EngineGreenlet] | None = getattr(_parked, "workers", None)
    if free:
        return free.pop()
    if free is None:
        _parked.workers = []
    return _EngineGreenlet()


async def run_in_greenlet(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` to completion, awaiting whatever it suspends on."""
    worker = _take_worker()
    worker.parent = getcurrent()
    # Like asyncio.to_thread: the call sees a copy of the caller's context.
    worker.gr_context = contextvars.copy_context()
    handed_up = worker.switch((fn, args, kwargs))
    while handed_up is not _FINISHED:
        try:
            value = await handed_up
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


class _SuspendingTime:
    """Stands in for the ``time`` module inside botocore modules that sleep.

    ``sleep`` suspends when called in an engine greenlet (waiter delays, retry
    back-off) and blocks as usual everywhere else; the rest is ``time`` itself.
    """

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        if type(getcurrent()) is _EngineGreenlet:
            suspend(asyncio.sleep(seconds))
        else:
            time.sleep(seconds)


_SUSPENDING_TIME = _SuspendingTime()


def patch_sleep(module: Any) -> None:
    """Make ``module.time.sleep`` suspend in engine greenlets; idempotent."""
    if getattr(module, "time", None) is not _SUSPENDING_TIME:
        module.time = _SUSPENDING_TIME
