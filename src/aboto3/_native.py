"""The native engine: boto3 calls in greenlets on the loop thread, HTTP in C++.

The boto3 client's ``URLLib3Session`` is replaced by ``NativeHTTPSession``,
whose ``send`` hands the prepared request to the libcurl I/O thread and
suspends the calling greenlet until the answer is there. Everything else
(signing, retries, parsing, event hooks) is botocore's own code, unchanged.
"""

from __future__ import annotations

import asyncio
import atexit
import io
import socket
import sys
from collections.abc import Iterator
from typing import Any, Callable, NoReturn, TypeVar

import botocore.endpoint
import botocore.retries.bucket
from botocore.awsrequest import AWSResponse
from botocore.client import BaseClient
from botocore.httpsession import URLLib3Session, get_cert_path

from ._engine import Engine, ThreadEngine, bridge_for, require_native_engine, running_loop
from ._suspend import in_engine_greenlet, patch_sleep, run_in_greenlet, suspend

require_native_engine()  # a clear error, not an ImportError, where the build lacks it
from . import _core  # noqa: E402

T = TypeVar("T")

__all__ = ["NativeEngine", "NativeHTTPSession"]

# What a wait on a transfer waits for (see Transfer.wait_async).
_HEADERS, _DATA, _DONE = 0, 1, 2
_DEFAULT_TIMEOUT = 60.0


def _wait(transfer: _core.Transfer, want: int, min_bytes: int = 1) -> None:
    """Wait for ``want``: suspend inside an engine greenlet, block elsewhere."""
    if in_engine_greenlet():
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not transfer.wait_async(bridge_for(loop), future, want, min_bytes):
            suspend(future)
    else:
        transfer.wait(want, min_bytes)


def _raise(error: BaseException | None) -> NoReturn:
    raise error if error is not None else RuntimeError("aboto3: a transfer failed without an error")


def _timeouts(timeout: Any) -> tuple[float, float]:
    if timeout is None:
        return _DEFAULT_TIMEOUT, _DEFAULT_TIMEOUT
    if isinstance(timeout, (int, float)):
        return float(timeout), float(timeout)
    connect = getattr(timeout, "connect_timeout", _DEFAULT_TIMEOUT)
    read = getattr(timeout, "read_timeout", _DEFAULT_TIMEOUT)
    return (
        _DEFAULT_TIMEOUT if connect is None else float(connect),
        0.0 if read is None else float(read),
    )


class _BufferedBody:
    """The ``raw`` of a response whose body arrived whole (botocore takes it
    with one ``stream()`` pass; event hooks may ``read`` it as urllib3's)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0

    def stream(self, amt: int | None = None, decode_content: bool | None = None) -> Iterator[bytes]:
        data = self.read()
        return iter((data,) if data else ())

    def read(self, amt: int | None = None) -> bytes:
        start = self._offset
        end = len(self._data) if amt is None or amt < 0 else min(len(self._data), start + amt)
        self._offset = end
        return self._data if start == 0 and end == len(self._data) else self._data[start:end]

    def close(self) -> None:
        self._data, self._offset = b"", 0


class _StreamingBody(io.RawIOBase):
    """The ``raw`` of a streaming response, fed by the I/O thread.

    botocore's own ``StreamingBody`` (or ``EventStream``) reads from it, so
    content-length and checksum validation still happen. A read that finds
    the buffer empty suspends (or blocks, outside the native engine); a slow
    reader pauses the transfer instead of buffering without bound. Like
    urllib3's response it is a file object, so ``readline``/``readlines``
    work on a boto3 client that the native engine drives.
    """

    def __init__(self, transfer: _core.Transfer) -> None:
        super().__init__()
        self._transfer = transfer
        self._position = 0

    def read(self, amt: int | None = None) -> bytes:
        """Up to ``amt`` bytes (all if None), fewer only at the end of the body."""
        return self._read(amt, fill=True)

    def read1(self, amt: int = -1) -> bytes:
        """Whatever has arrived, up to ``amt`` bytes; waits only if nothing has."""
        return self._read(None if amt < 0 else amt, fill=False)

    def _read(self, amt: int | None, *, fill: bool) -> bytes:
        if amt == 0:
            return b""
        transfer = self._transfer
        read_all = amt is None or amt < 0
        parts: list[bytes] = []
        size = 0
        while True:
            data = transfer.read(-1 if amt is None or amt < 0 else amt - size)
            if data:
                parts.append(data)
                size += len(data)
                if not fill or (amt is not None and 0 <= amt <= size):
                    break
            if transfer.at_eof:
                # Bytes that arrived before a failure are returned first, as
                # urllib3 does; the failure surfaces on the next read. Like
                # urllib3 under botocore, a body cut short by a clean close is
                # only an error when read whole: piecewise reads just end, and
                # botocore's content-length check reports it.
                failing = transfer.failed and (read_all or not parts)
                if failing and ((read_all and fill) or not transfer.truncated):
                    _raise(transfer.body_error())
                break
            # Wake for the rest of a filling read at once, not for every chunk.
            _wait(transfer, _DATA, (sys.maxsize if read_all else amt - size) if fill else 1)  # type: ignore[operator]
        self._position += size
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read1(len(view))
        view[: len(data)] = data
        return len(data)

    def stream(self, amt: int = 2**16, decode_content: bool | None = None) -> Iterator[bytes]:
        """Chunks as they arrive, as urllib3 streams a chunked response
        (event streams must not wait for 64 KiB of events)."""
        while True:
            data = self.read1(amt)
            if not data:
                return
            yield data

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        if not self.closed:
            self._transfer.cancel()  # drops the connection if the body was not read to the end
        super().close()

    def release_conn(self) -> None:
        self.close()


class NativeHTTPSession:
    """Stands in for botocore's ``URLLib3Session`` on a natively driven client.

    It takes every setting from the session it replaces (verify and CA
    bundle, timeouts, pool size, client certificate, proxies, TCP keep-alive),
    and works as a blocking session when called outside the native engine, so
    the boto3 client stays usable synchronously.
    """

    def __init__(self, original: URLLib3Session) -> None:
        self.original = original
        # The thread engines of the AIOClients driving this session: any open
        # one can read a file body off the loop.
        self.users: list[ThreadEngine] = []
        verify = getattr(original, "_verify", True)
        connect_timeout, read_timeout = _timeouts(getattr(original, "_timeout", None))
        options = getattr(original, "_socket_options", None) or []
        proxy_config = original._proxy_config
        proxy_settings = proxy_config.settings or {}
        proxy_cert = proxy_settings.get("proxy_client_cert")
        if isinstance(proxy_cert, tuple):
            proxy_cert_file, proxy_key_file = proxy_cert
        else:
            proxy_cert_file, proxy_key_file = proxy_cert or "", ""
        self._proxy_config = proxy_config
        self._core = _core.HttpSession(
            max_connections=int(getattr(original, "_max_pool_connections", 10)),
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            verify=bool(verify),
            ca_file=str(get_cert_path(verify)) if verify else "",
            client_cert=getattr(original, "_cert_file", None) or "",
            client_key=getattr(original, "_key_file", None) or "",
            tcp_keepalive=any(
                option[:2] == (socket.SOL_SOCKET, socket.SO_KEEPALIVE) and option[2]
                for option in options
            ),
            proxy_ca_file=proxy_settings.get("proxy_ca_bundle") or "",
            proxy_client_cert=proxy_cert_file,
            proxy_client_key=proxy_key_file,
        )

    def send(self, request: Any) -> AWSResponse:
        """Send a prepared botocore request and return botocore's ``AWSResponse``."""
        proxy_url = self._proxy_config.proxy_url_for(request.url) or ""
        body = request.body
        if body is not None and not isinstance(body, (bytes, bytearray, memoryview, str)):
            body = self._read_body(body)
        context = getattr(request, "context", None) or {}
        read_timeout = context.get("read_timeout")
        stream = bool(request.stream_output)
        transfer = self._core.send(
            request.method,
            request.url,
            list(request.headers.items()),
            body,
            stream,
            proxy_url,
            -1.0 if read_timeout is None else float(read_timeout),
        )
        try:
            _wait(transfer, _HEADERS if stream else _DONE)
        except BaseException:
            transfer.cancel()  # cancelled while waiting: free the connection
            raise
        # A streaming body that fails after its headers fails on read instead;
        # a whole body cut short by a clean close is kept as it is, because
        # botocore has urllib3 not enforce Content-Length.
        if transfer.failed and not (stream and transfer.status) and not transfer.truncated:
            _raise(transfer.send_error())
        raw: Any = _StreamingBody(transfer) if stream else _BufferedBody(transfer.read())
        return AWSResponse(request.url, transfer.status, dict(transfer.headers()), raw)

    def _read_body(self, body: Any) -> bytes:
        if not hasattr(body, "read"):
            return b"".join(body)  # an iterable of chunks
        if isinstance(body, io.BytesIO) or not in_engine_greenlet():
            return body.read()  # type: ignore[no-any-return]
        # A file: read it on a thread rather than on the event loop.
        return suspend(self.users[-1].run(body.read))  # type: ignore[no-any-return]

    def close(self) -> None:
        """Close the pooled connections, as ``URLLib3Session.close`` does; the
        session stays usable and reconnects when called again."""
        self._core.release_connections()


class _OffloadingCredentials:
    """Credentials whose refresh (STS, IMDS, SSO: HTTP of its own) runs on a
    thread when it is due during a natively driven call."""

    def __init__(self, credentials: Any, session: NativeHTTPSession) -> None:
        self.wrapped = credentials
        self._session = session

    def get_frozen_credentials(self) -> Any:
        credentials = self.wrapped
        if in_engine_greenlet() and credentials.refresh_needed():
            refresh = self._session.users[-1].run(credentials.get_frozen_credentials)
            return suspend(refresh)
        return credentials.get_frozen_credentials()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


_original_acquire = botocore.retries.bucket.TokenBucket.acquire


def _acquire_without_blocking_the_loop(self: Any, amount: int = 1, block: bool = True) -> bool:
    """The adaptive retry mode's rate limiter: wait for a token by suspending."""
    if not (block and in_engine_greenlet()):
        return _original_acquire(self, amount, block)  # type: ignore[no-any-return]
    while True:
        try:
            return _original_acquire(self, amount, block=False)  # type: ignore[no-any-return]
        except botocore.exceptions.CapacityNotAvailableError:
            fill_rate = getattr(self, "_fill_rate", 0) or 0
            suspend(asyncio.sleep(amount / fill_rate if fill_rate > 0 else 0.05))


def _install_suspension_points() -> None:
    # Retry back-off sleeps in Endpoint._needs_retry; waiters sleep in
    # botocore.waiter; the adaptive limiter waits in TokenBucket.acquire.
    patch_sleep(botocore.endpoint)
    botocore.retries.bucket.TokenBucket.acquire = _acquire_without_blocking_the_loop


class NativeEngine(Engine):
    """Runs each call in a greenlet on the event-loop thread; its HTTP goes
    through the libcurl I/O thread, so no thread is held per call."""

    def __init__(self, client: BaseClient, thread_engine: ThreadEngine) -> None:
        endpoint = client._endpoint
        current = endpoint.http_session
        if isinstance(current, NativeHTTPSession):
            session = current  # another native AIOClient already drives this client
        elif isinstance(current, URLLib3Session):
            session = NativeHTTPSession(current)
        else:
            raise TypeError(
                "engine='native' replaces botocore's URLLib3Session, but this client sends "
                f"with {type(current).__name__}; use engine='threads'"
            )
        _install_suspension_points()
        session.users.append(thread_engine)
        endpoint.http_session = session
        self._client = client
        self._session = session
        self._thread_engine = thread_engine
        self._in_flight = 0
        self._drained: asyncio.Event | None = None
        signer = client._request_signer
        credentials = getattr(signer, "_credentials", None)
        if hasattr(credentials, "refresh_needed") and not isinstance(
            credentials, _OffloadingCredentials
        ):
            signer._credentials = _OffloadingCredentials(credentials, session)

    def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Any:
        if self.closed:
            self._refuse_closed(fn)
        return self._run(fn, args, kwargs)

    async def _run(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            running_loop(fn)
        self._in_flight += 1
        try:
            return await run_in_greenlet(fn, *args, **kwargs)
        finally:
            self._in_flight -= 1
            if self._drained is not None and self._in_flight == 0:
                self._drained.set()

    async def aclose(self) -> None:
        self.closed = True
        if self._in_flight:
            if self._drained is None:
                self._drained = asyncio.Event()
            await self._drained.wait()
        session = self._session
        if self._thread_engine in session.users:
            session.users.remove(self._thread_engine)
        endpoint = self._client._endpoint
        if not session.users and endpoint.http_session is session:
            endpoint.http_session = session.original  # the boto3 client as it was
            session.close()
            signer = self._client._request_signer
            credentials = getattr(signer, "_credentials", None)
            if isinstance(credentials, _OffloadingCredentials):
                signer._credentials = credentials.wrapped


atexit.register(_core.shutdown_curl_engine)
