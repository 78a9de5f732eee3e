"""Engine calls started ahead of the code that will await them.

``Engine.run`` returns an awaitable that may be a started ``asyncio.Future``
(thread engine) or a coroutine that does nothing until awaited (native
engine). Read-ahead and cancellation-safe reads need the call running now and
its outcome kept until someone asks for it, so they go through ``start``; work
that nobody will ask for any more goes through ``discard``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable
from typing import Any, Callable, TypeVar

T = TypeVar("T")

__all__ = ["close_interrupting", "discard", "start"]


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


def _socket_of(raw: Any) -> socket.socket | None:
    """The socket under a urllib3 response (the thread engine's), if it has one.
    (The native engine's body answers botocore's path to it with an object of
    its own, which is not a socket: its reads end by cancellation.)"""
    connection = getattr(raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    if sock is None:  # urllib3 1.x keeps the file of http.client's response
        buffered = getattr(getattr(raw, "_fp", None), "fp", None)
        sock = getattr(getattr(buffered, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


def close_interrupting(
    pending: asyncio.Future[Any] | None, close: Callable[[], object], raw: Any
) -> None:
    """Close a stream now, ending the engine read in flight on it rather than
    waiting for it (it may wait forever with ``read_timeout=None``).

    The read is cancelled: in the native engine the cancellation is thrown into
    the greenlet waiting for data, which drops the transfer. A read blocked in
    ``recv`` on a thread cannot be cancelled, so its socket is shut down, which
    makes the ``recv`` return. The stream itself is closed once the read is over.
    """
    if pending is None or pending.done():
        close()
        return
    pending.cancel()
    sock = _socket_of(raw)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    pending.add_done_callback(lambda _: close())
