"""The thread engine's parts in pure Python, for an install without ``aboto3._core``.

Same interface and behaviour as the C++ ``CompletionBridge`` and ``ThreadPool``
(see ``_core.pyi``), so ``_engine.py`` picks one or the other and nothing else
changes: workers start lazily up to ``max_workers``, a call cancelled before it
starts never runs, each call runs in its caller's ``contextvars`` context, and
finished calls reach the event loop in batches, one ``call_soon_threadsafe``
per batch.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import concurrent.futures
import contextlib
import contextvars
import functools
import os
import threading
import weakref
from typing import Any, Callable

__all__ = ["CompletionBridge", "ThreadPool", "shutdown_all_pools"]


def settle_future(future: asyncio.Future[Any], value: Any, failed: bool) -> None:
    """Set ``future`` unless its task was cancelled meanwhile (the outcome is dropped)."""
    if future.done():
        return
    try:
        if failed:
            future.set_exception(value)
        else:
            future.set_result(value)
    except (TypeError, RuntimeError) as reason:
        # A Future cannot hold every exception (StopIteration): fail it with the
        # reason rather than leave it pending.
        future.set_exception(reason)


class CompletionBridge:
    """Delivers finished calls to one event loop: one wake-up per batch."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # A weak reference: bridges live in a WeakKeyDictionary keyed by their loop.
        self._loop = weakref.ref(loop)
        self._lock = threading.Lock()
        self._pending: list[Callable[[], None]] = []
        self.signals = 0

    def push(self, settle: Callable[[], None]) -> None:
        """Any thread: queue ``settle`` to run on the loop thread."""
        with self._lock:
            was_empty = not self._pending
            self._pending.append(settle)
            if was_empty:
                self.signals += 1
        if was_empty:
            loop = self._loop()
            # A closed loop (even one closing meanwhile) has nobody awaiting.
            if loop is not None and not loop.is_closed():
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self.drain)

    def drain(self) -> int:
        """Settle every finished call queued so far; returns how many."""
        with self._lock:
            batch, self._pending = self._pending, []
        for settle in batch:
            settle()
        return len(batch)

    def push_concurrent(
        self, future: asyncio.Future[Any], concurrent_future: concurrent.futures.Future[Any]
    ) -> None:
        """Done-callback target for a concurrent.futures.Future; any thread."""
        self.push(lambda: _settle_from_concurrent(future, concurrent_future))


def _settle_from_concurrent(
    future: asyncio.Future[Any], concurrent_future: concurrent.futures.Future[Any]
) -> None:
    if future.done():
        return
    if concurrent_future.cancelled():
        future.cancel()
        return
    error = concurrent_future.exception()
    if error is not None:
        settle_future(future, error, True)
    else:
        settle_future(future, concurrent_future.result(), False)


# Bumped in a forked child: a pool's threads and lock belong to the parent.
_fork_generation = 0
# Every pool that may have workers, so the exit hook can stop and join them.
_pools: weakref.WeakSet[ThreadPool] = weakref.WeakSet()


class ThreadPool:
    """Python worker threads that run synchronous callables for the event loop."""

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max_workers
        self._reset()
        _pools.add(self)

    def _reset(self) -> None:
        self._generation = _fork_generation
        self._cond = threading.Condition(threading.Lock())
        self._jobs: collections.deque[tuple[Any, ...]] = collections.deque()
        self._threads: list[threading.Thread] = []
        self._live = 0
        self._idle = 0
        self._stopping = False
        self._on_exit: list[tuple[CompletionBridge, asyncio.Future[None]]] = []

    @property
    def thread_count(self) -> int:
        """Threads started and not yet exited."""
        return self._live

    def submit(
        self,
        bridge: CompletionBridge,
        future: asyncio.Future[Any],
        context: contextvars.Context,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        if self._generation != _fork_generation:
            self._reset()  # a forked child: the workers were the parent's
        with self._cond:
            if self._stopping:
                raise RuntimeError("cannot schedule new calls after the thread pool was shut down")
            self._jobs.append((bridge, future, context, fn, args, kwargs))
            if self._idle >= len(self._jobs):
                self._cond.notify()
            elif self._live < self.max_workers:
                # Daemon threads, stopped and joined by the atexit hook: a
                # non-daemon idle worker would hang interpreter exit.
                thread = threading.Thread(target=self._work, name="aboto3-worker", daemon=True)
                thread.start()
                self._threads.append(thread)
                self._live += 1

    def _work(self) -> None:
        while True:
            with self._cond:
                self._idle += 1
                while not self._stopping and not self._jobs:
                    self._cond.wait()
                self._idle -= 1
                if not self._jobs:
                    break  # stopping, and nothing left to run
                bridge, future, context, fn, args, kwargs = self._jobs.popleft()
            _run_job(bridge, future, context, fn, args, kwargs)
            del bridge, future, context, fn, args, kwargs  # drop the call's references now
        with self._cond:
            self._live -= 1
            on_exit = self._on_exit if self._live == 0 else []
            if self._live == 0:
                self._on_exit = []
            self._cond.notify_all()
        for bridge, done in on_exit:
            bridge.push(functools.partial(settle_future, done, None, False))

    def shutdown(self, wait: bool = True) -> None:
        """Refuse new calls; queued calls still run. ``wait`` blocks until workers exit."""
        with self._cond:
            if wait and threading.current_thread() in self._threads:
                raise RuntimeError(
                    "a thread pool cannot wait for itself from one of its own workers"
                )
            self._stopping = True
            self._cond.notify_all()
        if wait:
            with self._cond:
                while self._live:
                    self._cond.wait()
                exited, self._threads = self._threads, []
            for thread in exited:
                thread.join()

    def shutdown_notify(self, bridge: CompletionBridge, future: asyncio.Future[None]) -> None:
        """Like ``shutdown(False)``; ``future`` is settled once the last worker exits."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            if self._live:
                self._on_exit.append((bridge, future))
                return
        bridge.push(lambda: settle_future(future, None, False))


def _run_job(
    bridge: CompletionBridge,
    future: asyncio.Future[Any],
    context: contextvars.Context,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    # A call whose awaiting task was cancelled before it started never runs.
    if future.cancelled():
        return
    try:
        result = context.run(fn, *args, **kwargs)
    except BaseException as error:
        bridge.push(functools.partial(settle_future, future, error, True))
    else:
        bridge.push(lambda: settle_future(future, result, False))


def shutdown_all_pools() -> None:
    """Stop every pool and wait for its workers; run at interpreter exit."""
    pools = [pool for pool in list(_pools) if pool._generation == _fork_generation]
    for pool in pools:
        with pool._cond:
            pool._stopping = True
            pool._cond.notify_all()
    for pool in pools:
        pool.shutdown(wait=True)


def _after_fork_in_child() -> None:
    global _fork_generation
    _fork_generation += 1


atexit.register(shutdown_all_pools)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
