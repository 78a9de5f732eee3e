"""Async event streams: botocore's ``EventStream``, advanced by the engine."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from types import TracebackType
from typing import Any, Callable

from . import _inflight
from ._engine import Engine

__all__ = ["AIOEventStream"]

_END: Any = object()


class AIOEventStream:
    """The async twin of ``botocore.eventstream.EventStream``.

    It is what an event-stream result holds (S3 ``SelectObjectContent``'s
    ``Payload``, Bedrock ``ConverseStream``'s ``stream``, Kinesis
    ``SubscribeToShard``'s ``EventStream``...)::

        async for event in result["Payload"]:
            if "Records" in event: ...

    Each event is parsed by botocore's own ``EventStream``, one engine call per
    event, and an error event raises what boto3 raises (``EventStreamError``).
    An ``async for`` whose task is cancelled while waiting for an event loses
    nothing: that event is the next one returned.
    """

    def __init__(self, event_stream: Any, engine: Engine) -> None:
        self._stream = event_stream
        self._run: Callable[..., Awaitable[Any]] = engine.run
        self._events: Iterator[Any] | None = None  # one iterator, as a sync for loop has
        self._pending: asyncio.Future[Any] | None = None  # the next event, being read
        self._closed = False

    @property
    def event_stream(self) -> Any:
        """The wrapped ``botocore.eventstream.EventStream`` (do not iterate it directly)."""
        return self._stream

    def __aiter__(self) -> AIOEventStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        pending = self._pending
        if pending is None:
            if self._events is None:
                self._events = iter(self._stream)
            pending = self._pending = _inflight.start(self._run(next, self._events, _END))
        # wait() leaves the read running if this task is cancelled: the event
        # it brings is kept for the next __anext__.
        await asyncio.wait((pending,))
        if self._pending is pending:
            self._pending = None
        event = pending.result()
        if event is _END:
            raise StopAsyncIteration
        return event  # type: ignore[no-any-return]

    async def get_initial_response(self) -> Any:
        """The stream's ``initial-response`` event, as boto3's ``get_initial_response``
        (raises ``NoInitialResponseError`` if the first event is anything else)."""
        if self._pending is not None:
            raise RuntimeError("get_initial_response() called while an event is being read")
        return await self._run(self._stream.get_initial_response)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._closed

    def close(self) -> None:
        """Close the underlying HTTP response, as boto3's ``close`` does.

        An event still being read in the engine is not waited for: that read
        is ended.
        """
        self._closed = True
        raw = getattr(self._stream, "_raw_stream", None)
        _inflight.close_interrupting(self._pending, self._stream.close, raw)

    async def aclose(self) -> None:
        """``close()``, awaitable, as aiobotocore's event streams have it."""
        self.close()

    async def __aenter__(self) -> AIOEventStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<aboto3.AIOEventStream of {self._stream!r}>"
