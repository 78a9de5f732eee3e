"""Engine calls started ahead of the code that will await them.

``Engine.run`` returns an awaitable that may be a started ``asyncio.Future``
(thread engine) or a coroutine that does nothing until awaited (native
engine). Read-ahead and cancellation-safe reads need the call running now and
its outcome kept until someone asks for it, so they go through ``start``; work
that nobody will ask for any more goes through ``discard``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, Callable, TypeVar

T = TypeVar("T")

__all__ = ["close_after", "discard", "start"]


def _retrieve(future: asyncio.Future[Any]) -> None:
    # Marks the outcome as seen, so an error nobody awaited is not logged as
    # "exception was never retrieved" when the future is collected.
    if not future.cancelled():
        future.exception()


def start(awaitable: Awaitable[T]) -> asyncio.Future[T]:
    """Run ``awaitable`` now, as a future whose failure is never reported as unretrieved."""
    future = asyncio.ensure_future(awaitable)
    future.add_done_callback(_retrieve)
    return future


def discard(future: asyncio.Future[Any] | None) -> None:
    """Cancel work that nobody will await (a call already running on a thread
    still finishes there, and its outcome is dropped)."""
    if future is not None and not future.done():
        future.cancel()


def close_after(pending: asyncio.Future[Any] | None, close: Callable[[], object]) -> None:
    """Call ``close`` now, or once the engine read in flight has returned: a
    stream is never closed under a read, and closing never waits."""
    if pending is None:
        close()
    else:
        pending.add_done_callback(lambda _: close())
