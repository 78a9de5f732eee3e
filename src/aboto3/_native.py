"""The native engine: boto3 calls in greenlets on the loop thread, HTTP in C++.

The boto3 client's ``URLLib3Session`` is replaced by ``NativeHTTPSession``,
whose ``send`` hands the prepared request to the libcurl I/O thread and
suspends the calling greenlet until the answer is there. Everything else
(signing, retries, parsing, event hooks) is botocore's own code, unchanged.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import inspect
import io
import os
import socket
import stat
import sys
import types
import weakref
from collections.abc import Iterator
from typing import Any, Callable, NoReturn, TypeVar

import botocore.retries.bucket
import urllib3.response
from botocore.awsrequest import AWSRequest, AWSResponse, HeadersDict
from botocore.client import BaseClient
from botocore.exceptions import HTTPClientError
from botocore.httpsession import URLLib3Session, get_cert_path
from urllib3.util.url import _encode_target, parse_url

from ._engine import Engine, ThreadEngine, bridge_for, require_native_engine, running_loop
from ._suspend import in_engine_greenlet, intercept_sleep, run_in_greenlet, suspend

require_native_engine()  # a clear error, not an ImportError, where the build lacks it
from . import _core  # noqa: E402

T = TypeVar("T")

__all__ = ["NativeEngine", "NativeHTTPSession"]

# What a wait on a transfer waits for (see Transfer.wait_async).
_HEADERS, _DATA, _DONE, _WHOLE = 0, 1, 2, 3
_DEFAULT_TIMEOUT = 60.0
_ROUTES_KEPT = 64  # URLs a session remembers the proxy and request target of


class _Asked(Exception):
    """Ends the probe below at the point urllib3 would be asked to send."""


def _urllib3_enforces_content_length() -> bool:
    """Whether the installed botocore has urllib3 check Content-Length.

    botocore 1.43.115 and later pass ``enforce_content_length=False``; earlier
    versions pass nothing and get urllib3's default, off in 1.x and on in 2.x.
    Rather than read version numbers, one request goes through a real
    ``URLLib3Session`` whose connection only records what it is asked.
    """
    asked: dict[str, Any] = {}

    class Connection:
        proxy_headers: dict[str, str] = {}  # noqa: RUF012 (botocore may set Host here)

        def urlopen(self, **kwargs: Any) -> NoReturn:
            asked.update(kwargs)
            raise _Asked

    class Manager:
        def connection_from_url(self, url: str) -> Connection:
            return Connection()

    session = URLLib3Session()
    session._get_connection_manager = lambda *args, **kwargs: Manager()
    try:
        session.send(AWSRequest("GET", "http://127.0.0.1/").prepare())
    except HTTPClientError:
        pass  # _Asked, as botocore wraps any exception of urllib3
    finally:
        session.close()
    default = inspect.signature(urllib3.response.HTTPResponse).parameters
    urllib3_default = default["enforce_content_length"].default
    return bool(asked.get("enforce_content_length", urllib3_default))


def _header_pairs_of(headers: Any) -> list[tuple[Any, Any]]:
    """``list(headers.items())`` for botocore's ``HeadersDict``, read from the
    dict behind it: its items() builds and hashes a key object per header in
    Python, about 4 us for a request's nine headers."""
    return [(key._key, value) for key, value in headers._dict.items()]


def _header_pairs_read_directly() -> bool:
    """Whether this botocore's HeadersDict is laid out as the reader above
    expects, with the same names, values and order as its items()."""
    probe = HeadersDict({"X-One": "1", "x-two": "2", "Three": "3"})
    probe["x-ONE"] = "4"
    del probe["X-Two"]
    probe["Two"] = ""
    try:
        return _header_pairs_of(probe) == list(probe.items())
    except Exception:
        return False


HEADER_PAIRS_READ_DIRECTLY = _header_pairs_read_directly()


def _header_pairs(headers: Any) -> list[tuple[Any, Any]]:
    if HEADER_PAIRS_READ_DIRECTLY and type(headers) is HeadersDict:
        return _header_pairs_of(headers)
    return list(headers.items())


# A body cut short by a clean close: with the check on (urllib3 2 under
# botocore < 1.43.115) every read of it fails, so a whole (non-streaming) body
# fails the send with ConnectionClosedError, which botocore retries; with it
# off a whole body is parsed as it is, and only a streaming body read whole
# fails (http.client's own check), read in pieces it just ends early and
# botocore's length check (IncompleteReadError) reports it.
ENFORCE_CONTENT_LENGTH = _urllib3_enforces_content_length()


def _wait(
    transfer: _core.Transfer,
    want: int,
    min_bytes: int = 1,
    loop: asyncio.AbstractEventLoop | None = None,
) -> None:
    """Wait for ``want``: suspend inside an engine greenlet (on ``loop``, if
    the caller has it already), block elsewhere."""
    if loop is None and in_engine_greenlet():
        loop = asyncio.get_running_loop()
    if loop is not None:
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


# The loops whose next iteration wakes the I/O thread (a _wake_io_thread call
# scheduled and not run yet): the calls they start meanwhile need no call of
# their own.
_waking_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
os.register_at_fork(after_in_child=_waking_loops.clear)


def _wake_io_thread(loop: asyncio.AbstractEventLoop) -> None:
    _waking_loops.discard(loop)
    _core.wake_io_thread()


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


def _read_whole(transfer: _core.Transfer) -> bytes | None:
    """The rest of a body of known length, written by the I/O thread straight
    into the bytes object returned: held once, never joined from windows.
    None where that does not apply or the body fell short (what came is then
    buffered, and the caller's reads report it as urllib3 would)."""
    started = False
    try:
        started = transfer.start_whole_read()
        if started:
            _wait(transfer, _WHOLE)
    finally:  # a whole read started is ended, whatever interrupts it
        whole = transfer.end_whole_read() if started else None
    return whole


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
        if amt == 0 or self.closed:
            return b""  # as urllib3's closed response: botocore reports the shortfall
        transfer = self._transfer
        read_all = amt is None or amt < 0
        if read_all and fill:
            whole = _read_whole(transfer)
            if whole is not None:
                self._position += len(whole)
                return whole
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
                # urllib3 does; the failure surfaces on the next read. A body
                # cut short by a clean close fails as ENFORCE_CONTENT_LENGTH says.
                failing = transfer.failed and (read_all or not parts)
                if failing and (
                    (read_all and fill) or not transfer.truncated or ENFORCE_CONTENT_LENGTH
                ):
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

    @property
    def _fp(self) -> Any:
        # botocore's StreamingBody.set_socket_timeout reaches the socket of a
        # urllib3 response as raw._fp.fp.raw._sock: this is that path, ending
        # in the transfer's read timeout.
        return types.SimpleNamespace(
            fp=types.SimpleNamespace(raw=types.SimpleNamespace(_sock=_TransferSocket(self)))
        )


class _TransferSocket:
    """What ``set_socket_timeout`` finds where urllib3 has the socket."""

    def __init__(self, body: _StreamingBody) -> None:
        self._body = body

    def settimeout(self, timeout: float | None) -> None:
        """The body's read timeout from now on, as ``socket.settimeout`` sets it:
        ``None`` for none; a timeout raises ``ReadTimeoutError`` on a read that
        waits longer, as urllib3's socket timeout does."""
        # What a socket accepts, refused with its own words on this Python.
        with socket.socket() as probe:
            probe.settimeout(timeout)
            seconds = probe.gettimeout()
        # None: no timeout; 0 (non-blocking) fails a read that must wait.
        seconds = 0.0 if seconds is None else max(seconds, 1e-3)
        if not self._body.closed:
            self._body._transfer.set_read_timeout(seconds)


# File bodies up to this size are read whole (one read, one copy); larger ones,
# and bodies of unknown size, are fed to libcurl chunk by chunk as it sends.
_WHOLE_BODY_LIMIT = 1 << 20
_UPLOAD_CHUNK = 256 << 10


def _small(content_length: Any) -> bool:
    try:
        return content_length is not None and int(content_length) <= _WHOLE_BODY_LIMIT
    except ValueError:
        return False


def _reads_without_blocking(body: Any) -> bool:
    """A body whose reads are bounded memory or disk work: in-memory buffers
    and regular files. Pipes, sockets and unknown file-likes may block."""
    if isinstance(body, (io.BytesIO, io.BufferedReader, io.FileIO)):
        try:
            return isinstance(body, io.BytesIO) or stat.S_ISREG(os.fstat(body.fileno()).st_mode)
        except (OSError, ValueError):
            return False
    return False


class _BodyFeeder:
    """A file-like or iterable request body, given to libcurl in chunks.

    At most about two chunks are held at a time. Chunks of in-memory buffers
    and regular files are read in the engine greenlet, on the loop (a read is
    a bounded copy from the page cache: cheaper there than a hop to a thread
    and back); anything that may block (a pipe, a socket, a generator) is read
    on the thread engine. A seekable body seeks back to where it started when
    libcurl has to send it again.
    """

    def __init__(self, body: Any, session: NativeHTTPSession) -> None:
        self._session = session
        self._body = body
        read = getattr(body, "read", None)
        self._is_file = read is not None
        if read is not None:
            self._next: Callable[[], Any] = lambda: read(_UPLOAD_CHUNK)
        else:
            chunks = iter(body)  # an iterable of chunks, as urllib3 accepts
            self._next = lambda: next(chunks, None)
        self._on_loop = _reads_without_blocking(body)
        self.seekable = False
        self._start = 0
        if read is not None and hasattr(body, "seek") and hasattr(body, "tell"):
            try:
                self.seekable = bool(getattr(body, "seekable", lambda: True)())
                self._start = body.tell() if self.seekable else 0
            except (OSError, ValueError):
                self.seekable = False

    def _read_chunk(self) -> bytes:
        while True:
            if self._on_loop or not in_engine_greenlet():
                chunk = self._next()
            else:
                chunk = self._session.read_off_loop(self._next)
            if chunk is None:
                return b""  # the iterable's end
            if isinstance(chunk, str):
                chunk = chunk.encode("iso-8859-1")  # as http.client sends text
            if chunk or self._is_file:
                return bytes(chunk)
            # an empty chunk of an iterable is not its end

    def feed(self, transfer: _core.Transfer, epoch: int, rewind: bool) -> None:
        if rewind:
            self._body.seek(self._start)
        transfer.feed(epoch, self._read_chunk())


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
        https_proxy = proxy_config.proxy_url_for("https://aws.invalid/") or ""
        forwarding = proxy_settings.get("proxy_use_forwarding_for_https")
        if forwarding and https_proxy.startswith("https:"):
            # urllib3 then sends HTTPS requests to the proxy as they are, for it
            # to forward; libcurl can only tunnel them (CONNECT), which such a
            # proxy may refuse and would see differently.
            raise ValueError(
                "engine='native' cannot forward HTTPS requests through an HTTPS proxy as "
                "urllib3 does (proxies_config 'proxy_use_forwarding_for_https'); "
                "use engine='threads' for this client"
            )
        self._proxy_config = proxy_config
        # url -> (proxy URL, request target): both follow from the URL and this
        # session's fixed settings, and working them out costs about 8 us a call.
        self._routes: dict[str, tuple[str, str]] = {}
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
        proxy_url, target = self._route(request.url)
        body = request.body
        feeder: _BodyFeeder | None = None
        if body is not None and not isinstance(body, (bytes, bytearray, memoryview, str)):
            if _small(request.headers.get("Content-Length")) and hasattr(body, "read"):
                body = self._read_whole(body)
            else:
                feeder = _BodyFeeder(body, self)
                body = None
        context = getattr(request, "context", None) or {}
        read_timeout = context.get("read_timeout")
        stream = bool(request.stream_output)
        loop = asyncio.get_running_loop() if in_engine_greenlet() else None
        try:
            transfer = self._core.send(
                request.method,
                request.url,
                _header_pairs(request.headers),
                body,
                stream,
                proxy_url,
                -1.0 if read_timeout is None else float(read_timeout),
                feeder is not None,
                feeder is not None and feeder.seekable,
                target,
                loop is not None,
            )
        except Exception as error:
            # A header http.client refuses (CR or LF in a value, a colon in a
            # name...), refused with its exception: URLLib3Session wraps
            # whatever sending raises the same way.
            raise HTTPClientError(error=error) from None
        if loop is not None and loop not in _waking_loops:
            # The I/O thread is woken once per loop iteration for all the calls
            # started in it: waking a sleeping thread costs more than the rest
            # of what starting a call costs here.
            _waking_loops.add(loop)
            loop.call_soon(_wake_io_thread, loop)
        try:
            # One wait serves both: it also returns whenever libcurl needs the
            # next chunk of a fed body.
            while True:
                _wait(transfer, _HEADERS if stream else _DONE, loop=loop)
                need = transfer.upload_need() if feeder is not None else None
                if need is None:
                    break
                feeder.feed(transfer, *need)  # type: ignore[union-attr]
        except BaseException:
            transfer.cancel()  # cancelled while waiting: free the connection
            raise
        # A streaming body that fails after its headers fails on read instead;
        # a whole body cut short by a clean close is kept as it is unless
        # urllib3 enforces Content-Length (ENFORCE_CONTENT_LENGTH).
        if (
            transfer.failed
            and not (stream and transfer.status)
            and (ENFORCE_CONTENT_LENGTH or not transfer.truncated)
        ):
            _raise(transfer.send_error())
        raw: Any = _StreamingBody(transfer) if stream else _BufferedBody(transfer.read())
        return AWSResponse(request.url, transfer.status, dict(transfer.headers()), raw)

    def _route(self, url: str) -> tuple[str, str]:
        route = self._routes.get(url)
        if route is None:
            proxy_url = self._proxy_config.proxy_url_for(url) or ""
            route = (proxy_url, self._request_target(url, proxy_url))
            if len(self._routes) >= _ROUTES_KEPT:
                self._routes.clear()  # URLs that vary per call (S3 keys) gain nothing
            self._routes[url] = route
        return route

    def _request_target(self, url: str, proxy_url: str) -> str:
        """The request target urllib3 would send for ``url``: botocore's own
        choice (path and query, or the absolute URL for a forwarding proxy),
        then what urllib3's ``urlopen`` does to it before the request line."""
        target: str = self.original._get_request_target(url, proxy_url or None)
        if target.startswith("/"):
            return str(_encode_target(target))
        return str(parse_url(target).url)

    def _read_whole(self, body: Any) -> bytes:
        # A small file body: one read, off the loop unless it cannot block.
        if _reads_without_blocking(body) or not in_engine_greenlet():
            return body.read()  # type: ignore[no-any-return]
        return suspend(self.users[-1].run(body.read))  # type: ignore[no-any-return]

    def read_off_loop(self, fn: Callable[[], T]) -> T:
        """``fn()`` on the thread engine (a read that may block), suspending meanwhile."""
        return suspend(self.users[-1].run(fn))

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


_TokenBucket = botocore.retries.bucket.TokenBucket
_original_acquire = _TokenBucket.acquire
_original_max_rate = _TokenBucket.max_rate


def _acquire_without_blocking_the_loop(self: Any, amount: int = 1, block: bool = True) -> bool:
    """The adaptive retry mode's rate limiter, waiting by suspending.

    The same steps as botocore's blocking wait: refill, then wait until the
    missing tokens have refilled at the current rate, or until ``max_rate``
    changes (its setter wakes the waiters), and look again. Only the wait
    itself differs: the greenlet suspends instead of blocking on the
    condition variable, so the loop keeps running meanwhile.
    """
    if not (block and in_engine_greenlet()):
        return _original_acquire(self, amount, block)  # type: ignore[no-any-return]
    condition = self._new_fill_rate_condition
    with condition:
        self._refill()
        if amount <= self._current_capacity:
            self._current_capacity -= amount
            return True
        delay = self._sleep_amount(amount)
    loop = asyncio.get_running_loop()
    while delay > 0:
        woken = loop.create_future()
        waiters = self.__dict__.setdefault("_aboto3_waiters", set())
        waiters.add(woken)
        try:
            suspend(asyncio.wait((woken,), timeout=delay))
        finally:
            waiters.discard(woken)
        with condition:
            self._refill()
            delay = self._sleep_amount(amount)
            if delay <= 0:
                self._current_capacity -= amount
    return True


def _set_max_rate_and_wake(self: Any, value: float) -> None:
    _original_max_rate.fset(self, value)  # wakes botocore's blocked threads
    for woken in list(self.__dict__.get("_aboto3_waiters", ())):
        # A waiter of any loop: the rate may be set from another thread.
        with contextlib.suppress(RuntimeError):  # its loop is closed
            woken.get_loop().call_soon_threadsafe(_wake, woken)


def _wake(woken: asyncio.Future[None]) -> None:
    if not woken.done():
        woken.set_result(None)


def _install_suspension_points() -> None:
    # Retry back-off, waiter delays and long-polling back-off sleep with
    # time.sleep (however each module holds it); the adaptive limiter waits in
    # TokenBucket.acquire on a condition variable, which max_rate's setter
    # notifies.
    intercept_sleep()
    _TokenBucket.acquire = _acquire_without_blocking_the_loop
    _TokenBucket.max_rate = property(_original_max_rate.fget, _set_max_rate_and_wake)


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


# Unread streaming-body bytes the process may hold across all its transfers
# before each pauses at 128 KiB of its own (default 32 MiB; see transfer.cpp).
if os.environ.get("ABOTO3_STREAM_BUFFER_BUDGET"):
    _core.set_stream_buffer_budget(int(os.environ["ABOTO3_STREAM_BUFFER_BUDGET"]))

atexit.register(_core.shutdown_curl_engine)
