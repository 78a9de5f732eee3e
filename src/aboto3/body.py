"""Async streaming bodies: botocore's ``StreamingBody``, read by the engine.

Every byte comes from botocore's own ``StreamingBody.read`` (so content-length
and checksum validation happen exactly as in boto3), run by the engine; the
event loop only slices what came back.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable
from types import TracebackType
from typing import Any, Callable

from . import _inflight
from ._engine import Engine

__all__ = ["BATCH_SIZE", "AIOStreamingBody"]

# For a body of known length, small reads (iter_chunks' 1 KiB default,
# read(10)...) are served from one engine read of at least this size instead
# of one engine call each. A body of unknown length may be a live stream
# (Kinesis Video GetMedia...) and is read exactly as asked, so that each read
# returns as soon as its own bytes have arrived.
BATCH_SIZE = 128 * 1024
_MISSING: Any = object()
_DEFAULT_CHUNK_SIZE = 1024  # botocore's StreamingBody._DEFAULT_CHUNK_SIZE

# Methods of botocore's body (``io.IOBase``'s, in newer botocore) that do no
# I/O: passed through as they are.
_NO_IO = frozenset(
    {"set_socket_timeout", "seekable", "writable", "isatty", "fileno", "flush", "seek", "truncate",
     "writelines"}
)  # fmt: skip
# Sync reads with an async twin under another name: passing them through would
# read past this body's buffer.
_READS = {
    "next": "'await body.__anext__()' or 'async for chunk in body'",
    "__next__": "'await body.__anext__()' or 'async for chunk in body'",
    "__iter__": "'async for chunk in body'",
    "readall": "'await body.read()'",
    "read1": "'await body.read(n)'",
    "readinto1": "'await body.readinto(buffer)'",
}


class AIOStreamingBody:
    """The async twin of ``botocore.response.StreamingBody``.

    It is what a streaming result holds (``GetObject``'s ``Body``, Lambda
    ``Invoke``'s ``Payload``...)::

        data = await result["Body"].read()
        async for chunk in result["Body"].iter_chunks(65536): ...

    ``read(n)`` returns ``n`` bytes, fewer only at the end of the body, as
    boto3's does. A read whose task is cancelled loses nothing: the bytes it
    was waiting for are returned by the next read. Reads of one body are
    meant to follow each other, not to run concurrently.

    :param min_read: the least one engine read asks the body for; smaller
        reads are served from what it brought. ``AIOClient`` uses
        ``BATCH_SIZE`` when the response has a ``Content-Length``, and 0 (read
        exactly what is asked) for streams of unknown length.
    """

    def __init__(self, streaming_body: Any, engine: Engine, *, min_read: int = 0) -> None:
        self._body = streaming_body
        self._run: Callable[..., Awaitable[Any]] = engine.run
        self._min_read = min_read
        # The last engine read's bytes; those before _offset were returned.
        # Whole reads hand the engine's bytes object on without copying.
        self._buffer = b""
        self._offset = 0
        self._pending: asyncio.Future[bytes] | None = None  # the engine read in flight
        self._pending_size: int | None = None
        self._error: BaseException | None = None  # what the last engine read raised
        self._ended = False  # the body said it has nothing more (and was validated)
        self._short = False  # the last engine read returned less than asked
        self._position = 0
        self._closed = False

    @property
    def streaming_body(self) -> Any:
        """The wrapped ``botocore.response.StreamingBody`` (do not read it directly)."""
        return self._body

    async def _settle_all(self) -> None:
        """Wait out any read in flight, then raise the error it left, if any."""
        while self._pending is not None:
            await self._settle(self._pending)
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    async def read(self, amt: int | None = None) -> bytes:
        """Read at most ``amt`` bytes; everything that is left if ``amt`` is omitted."""
        if amt is not None and amt < 0:
            amt = None
        while True:
            await self._settle_all()
            buffered = len(self._buffer) - self._offset
            if amt is None:
                if self._ended:
                    return self._take(buffered)
                self._start(None)
            elif buffered >= amt or self._ended or (buffered and self._short):
                return self._take(amt)
            else:
                self._start(max(amt - buffered, self._min_read))

    async def readinto(self, buffer: Any) -> int:
        """Read up to ``len(buffer)`` bytes into a writable bytes-like object."""
        view = memoryview(buffer).cast("B")
        data = await self.read(len(view))
        view[: len(data)] = data
        return len(data)

    async def readline(self, size: int | None = -1) -> bytes:
        """One line, ending with its newline (or the rest of the body), at most
        ``size`` bytes if given, as boto3's ``readline``."""
        limit = -1 if size is None or size < 0 else size
        parts: list[bytes] = []
        got = 0
        while True:
            await self._settle_all()
            buffer, start = self._buffer, self._offset
            stop = len(buffer) if limit < 0 else min(len(buffer), start + limit - got)
            newline = buffer.find(b"\n", start, stop)
            if newline >= 0:
                stop = newline + 1
            if stop > start:
                parts.append(self._take(stop - start))
                got += stop - start
            if newline >= 0 or got == limit or self._ended:
                return b"".join(parts)
            # A body of unknown length may be a live stream: never ask it for
            # bytes beyond the line (IOBase.readline reads one at a time too).
            self._start(self._min_read or 1)

    async def readlines(self) -> list[bytes]:
        """All remaining lines, each ending with its newline, as boto3's ``readlines``."""
        return io.BytesIO(await self.read()).readlines()

    async def iter_chunks(self, chunk_size: int = _DEFAULT_CHUNK_SIZE) -> AsyncIterator[bytes]:
        """Yield the body in chunks of ``chunk_size`` bytes (the last may be shorter)."""
        while True:
            chunk = await self.read(chunk_size)
            if not chunk:
                return
            yield chunk

    async def iter_lines(
        self, chunk_size: int = _DEFAULT_CHUNK_SIZE, keepends: bool = False
    ) -> AsyncIterator[bytes]:
        """Yield the body line by line, exactly as boto3's ``iter_lines`` splits it."""
        pending = b""
        async for chunk in self.iter_chunks(chunk_size):
            lines = (pending + chunk).splitlines(True)
            for line in lines[:-1]:
                yield line.splitlines(keepends)[0]
            pending = lines[-1]
        if pending:
            yield pending.splitlines(keepends)[0]

    def __aiter__(self) -> AIOStreamingBody:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self.read(_DEFAULT_CHUNK_SIZE)
        if chunk:
            return chunk
        raise StopAsyncIteration

    def tell(self) -> int:
        """How many bytes reads have returned so far."""
        return self._position

    def readable(self) -> bool:
        return bool(self._body.readable())

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._closed

    def close(self) -> None:
        """Close the underlying HTTP response, as boto3's ``close`` does.

        A read still running in the engine is ended, not waited for: its
        reader gets what a read after ``close`` gets from boto3.
        """
        self._closed = True
        self._buffer, self._offset = b"", 0
        raw = getattr(self._body, "_raw_stream", None)
        _inflight.close_interrupting(self._pending, self._body.close, raw)

    async def aclose(self) -> None:
        """``close()``, awaitable, as aiobotocore's bodies have it."""
        self.close()

    async def __aenter__(self) -> AIOStreamingBody:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        # Reached only for names this class does not define: botocore's body's
        # other attributes. Data and methods that do no I/O pass through; any
        # other method (one a newer botocore may add) runs on the engine.
        attr = _MISSING
        if name not in _READS and not name.startswith("__"):
            attr = getattr(self._body, name, _MISSING)
        if attr is _MISSING:
            hint = f"; use {_READS[name]}" if name in _READS else ""
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}{hint}")
        if name in _NO_IO or not callable(attr):
            return attr
        run = self._run

        async def method(*args: Any, **kwargs: Any) -> Any:
            return await run(attr, *args, **kwargs)

        method.__name__ = name
        method.__doc__ = getattr(attr, "__doc__", None)
        return method

    def __repr__(self) -> str:
        return f"<aboto3.AIOStreamingBody of {self._body!r}>"

    # The engine read in flight is shielded from the reader's cancellation, and
    # its bytes land in the buffer whoever is (or is no longer) waiting for them.

    def _start(self, size: int | None) -> None:
        self._pending_size = size
        pending = self._pending = _inflight.start(self._run(self._body.read, size))
        pending.add_done_callback(self._landed)

    async def _settle(self, pending: asyncio.Future[bytes]) -> None:
        # wait() neither cancels the read when the reader is cancelled nor
        # raises its error here: _landed keeps that for the read to raise.
        await asyncio.wait((pending,))
        self._landed(pending)  # in case its callback has not run yet

    def _landed(self, pending: asyncio.Future[bytes]) -> None:
        if self._pending is not pending:
            return
        self._pending = None
        if pending.cancelled():  # only when the loop itself is being torn down
            return
        error = pending.exception()
        if error is not None:
            self._error = error
            return
        chunk = pending.result()
        size = self._pending_size
        self._ended = size is None or not chunk
        self._short = size is not None and len(chunk) < size
        if self._closed:
            return
        if self._offset == len(self._buffer):
            self._buffer, self._offset = chunk, 0
        else:  # a short read topped up: rare, so a copy is fine
            self._buffer, self._offset = self._buffer[self._offset :] + chunk, 0

    def _take(self, amount: int) -> bytes:
        buffer, start = self._buffer, self._offset
        # The whole engine read goes out as it came, without a copy.
        whole = start == 0 and amount >= len(buffer)
        data = buffer if whole else buffer[start : start + amount]
        self._offset = start + len(data)
        if self._offset == len(buffer):
            self._buffer, self._offset = b"", 0
        self._position += len(data)
        return data
