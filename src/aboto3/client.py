"""``AIOClient``: a boto3 client whose I/O methods are awaitable."""

from __future__ import annotations

import asyncio
import concurrent.futures
from types import TracebackType
from typing import Any, Callable, Generic, TypeVar

from botocore.client import BaseClient

from ._engine import Engine, Executor, ThreadEngine, ThreadPool, require_native_engine
from ._parsers import use_fast_parsing
from ._serializers import use_fast_serializing
from ._signing import use_fast_signing
from ._transfers import transfer_arguments
from .body import BATCH_SIZE, AIOStreamingBody
from .eventstream import AIOEventStream
from .paginate import AIOPaginator
from .waiter import AIOWaiter

ClientT = TypeVar("ClientT", bound=BaseClient)
T = TypeVar("T")

__all__ = ["TRANSFER_METHODS", "AIOClient", "check_engine", "stream_wrapper", "transfer_method"]

# Public client methods that do no I/O and so stay synchronous. get_paginator
# and get_waiter are defined on AIOClient itself; everything else callable
# (operations, presigning, S3 transfers, methods added by plugins) is async.
_SYNC_METHODS = frozenset({"can_paginate"})

# The S3 transfer methods boto3 adds to the client (and to the S3 resources):
# they start s3transfer threads and block until those finish, so they always
# run on a thread.
TRANSFER_METHODS = frozenset(
    {"upload_file", "download_file", "upload_fileobj", "download_fileobj", "copy"}
)


def check_engine(engine: str) -> None:
    """Refuse an unknown engine, or one this install cannot run (saying what to install)."""
    if engine not in ("threads", "native"):
        raise ValueError(f"engine must be 'threads' or 'native', not {engine!r}")
    if engine == "native":
        require_native_engine()


class AIOClient(Generic[ClientT]):
    """An asyncio client with the interface of the boto3 client it wraps.

    Every operation, and every other client method that does I/O, is a
    coroutine function with the name, docstring and parameters of the
    synchronous method; ``meta``, ``exceptions``, ``can_paginate`` and
    ``get_paginator``/``get_waiter`` behave as on the boto3 client. The boto3
    client stays usable as an ordinary synchronous client.

    A result that holds a stream holds its async twin instead: an
    :class:`~aboto3.AIOStreamingBody` for a streaming body (S3 ``Body``), an
    :class:`~aboto3.AIOEventStream` for an event stream. S3 transfer methods
    (``upload_file``...) always run on the thread pool.

    :param boto3_client: a client from ``boto3.client(...)`` or
        ``Session.client(...)`` (any ``botocore.client.BaseClient``).
    :param thread_pool_executor: where calls run. By default the client gets a
        pool of its own with ``max_pool_connections`` threads (from the boto3
        client's ``Config``, 10 unless set). Pass a
        ``concurrent.futures.Executor`` or an ``aboto3.ThreadPool`` to share
        threads between clients; a pool you pass is never shut down by the
        client.
    :param engine: ``"threads"`` (the default) runs each call unchanged on a
        worker thread. ``"native"`` runs it in a greenlet on the event-loop
        thread with its HTTP in aboto3's libcurl engine: no thread per call,
        thousands of calls in flight. S3 transfer helpers and credential
        refreshes still use the thread pool. ``aboto3.engines()`` tells
        which engines this install has.
    :param fast_signing: sign ``v4``/``s3v4`` requests with aboto3's C++
        SigV4 signer, whose headers are byte-identical to botocore's (checked
        once per process against botocore's signer, which is kept if they
        differ). ``False``, or ``ABOTO3_FAST_SIGNING=0`` in the environment,
        keeps botocore's signer. It applies to the boto3 client itself, so
        its synchronous calls sign the same way.
    :param fast_parsing: parse responses with aboto3's C++ parsers (json,
        rest-json, rest-xml, query, ec2, smithy-rpc-v2-cbor), whose results equal botocore's
        (checked once per process against botocore's parsers, which are kept
        if they differ; any response the C++ side does not reproduce exactly
        is parsed by botocore). ``False``, or ``ABOTO3_FAST_PARSING=0`` in the
        environment, keeps botocore's parsers. It applies to the boto3 client
        itself, as ``fast_signing`` does.
    :param fast_serializing: write the JSON bodies of ``json`` and
        ``rest-json`` requests (DynamoDB, Lambda, SSM...) with aboto3's C++
        writer, byte-identical to botocore's serializer (checked once per
        process; botocore's is kept if they differ, and writes any body with
        values the C++ writer leaves to it). ``False``, or
        ``ABOTO3_FAST_SERIALIZING=0`` in the environment, keeps botocore's
        serializer. It applies to the boto3 client itself, as ``fast_signing`` does.
    """

    def __init__(
        self,
        boto3_client: ClientT,
        thread_pool_executor: Executor | None = None,
        *,
        engine: str = "threads",
        fast_signing: bool = True,
        fast_parsing: bool = True,
        fast_serializing: bool = True,
    ) -> None:
        if not isinstance(boto3_client, BaseClient):
            raise TypeError(
                "AIOClient needs a boto3 client such as boto3.client('s3') "
                f"(a botocore.client.BaseClient), not {type(boto3_client).__name__}"
            )
        if thread_pool_executor is not None and not isinstance(
            thread_pool_executor, (concurrent.futures.Executor, ThreadPool)
        ):
            raise TypeError(
                "thread_pool_executor must be a concurrent.futures.Executor or an "
                f"aboto3.ThreadPool, not {type(thread_pool_executor).__name__}"
            )
        check_engine(engine)
        self._client = boto3_client
        self._fast_signing = use_fast_signing(boto3_client, fast_signing)
        self._fast_parsing = use_fast_parsing(boto3_client, fast_parsing)
        self._fast_serializing = use_fast_serializing(boto3_client, fast_serializing)
        self._closing: asyncio.Future[None] | None = None
        # Work that waits on threads of its own (s3transfer) must itself run on
        # a thread, whatever engine runs the calls.
        self._thread_engine = ThreadEngine(
            thread_pool_executor, max_workers=boto3_client.meta.config.max_pool_connections
        )
        self._engine: Engine = self._thread_engine
        if engine == "native":
            from ._native import NativeEngine

            self._engine = NativeEngine(boto3_client, self._thread_engine)

    @property
    def client(self) -> ClientT:
        """The wrapped boto3 client, still usable synchronously."""
        return self._client

    @property
    def meta(self) -> Any:
        """The boto3 client's ``meta`` (region, config, service model, events)."""
        return self._client.meta

    @property
    def exceptions(self) -> Any:
        """The boto3 client's modeled exceptions, e.g. ``exceptions.NoSuchKey``."""
        return self._client.exceptions

    @property
    def engine(self) -> Engine:
        """The engine that runs this client's calls."""
        return self._engine

    @property
    def fast_signing(self) -> bool:
        """True when the client's SigV4 requests are signed by aboto3's C++ signer."""
        return self._fast_signing

    @property
    def fast_parsing(self) -> bool:
        """True when the client's responses are parsed by aboto3's C++ parsers."""
        return self._fast_parsing

    @property
    def fast_serializing(self) -> bool:
        """True when the client's JSON request bodies are written by aboto3's C++ writer."""
        return self._fast_serializing

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._engine.closed

    def get_paginator(self, operation_name: str, *, read_ahead: bool = True) -> AIOPaginator:
        """An async paginator for ``operation_name``: ``async for page in p.paginate(...)``.

        With ``read_ahead`` (the default) the next page is fetched while the
        caller handles the current one; ``read_ahead=False`` fetches each page
        only when the loop asks for it.
        """
        return AIOPaginator(
            self._client.get_paginator(operation_name), self._engine, read_ahead=read_ahead
        )

    def get_waiter(self, waiter_name: str) -> AIOWaiter:
        """An async waiter: ``await aio.get_waiter("bucket_exists").wait(Bucket=...)``.

        Unknown names raise what boto3 raises (``ValueError``).
        """
        return AIOWaiter(self._client, waiter_name, self._engine)

    async def run_sync(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Await ``fn(*args, **kwargs)``: synchronous code that calls boto3
        clients, run by this client's engine.

        Code written for boto3 (a library that wraps a boto3 client, such as
        AWS's S3 Encryption Client, or a function of your own) runs unchanged.
        With ``engine="threads"`` it runs on this client's thread pool, as
        ``asyncio.to_thread`` would run it. With ``engine="native"`` it runs
        in a greenlet on the event-loop thread: each call it makes through
        a boto3 client that a native ``AIOClient`` drives (this one's
        ``client``, or another's) suspends the greenlet instead of blocking,
        and so do its ``time.sleep`` calls; its other work runs on the loop.
        """
        return await self._engine.run(fn, *args, **kwargs)

    async def close(self) -> None:
        """Refuse further calls and shut down the thread pool this client created.

        Calls already started finish first. A pool or executor passed in by
        the caller is left running, and the boto3 client stays usable.
        """
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._shut_down())
        # Shielded: a caller that gives up waiting does not stop the shutdown.
        await asyncio.shield(self._closing)

    async def _shut_down(self) -> None:
        await self._engine.aclose()
        if self._thread_engine is not self._engine:
            await self._thread_engine.aclose()

    async def __aenter__(self) -> AIOClient[ClientT]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __getattr__(self, name: str) -> Any:
        # Only reached for names not found normally: boto3's attributes.
        if name.startswith("__") or name == "_client":
            raise AttributeError(name)
        attr = getattr(self._client, name)  # boto3's own AttributeError if unknown
        if name.startswith("_") or name in _SYNC_METHODS or not callable(attr):
            return attr
        method = self._make_async(name, attr)
        self.__dict__[name] = method  # built once per client
        return method

    def _make_async(self, name: str, sync_method: Callable[..., Any]) -> Callable[..., Any]:
        # Decided once per method: which engine runs it, and whether its result
        # holds a stream to wrap. Plain operations get no post-processing step.
        owner = type(self._client).__name__
        meta = self._client.meta
        api_name = meta.method_to_api_mapping.get(name)
        if api_name is None:
            if name in TRANSFER_METHODS:
                return transfer_method(self._thread_engine, name, sync_method, owner)
            return _async_method(self._engine, name, sync_method, owner)
        return _async_method(
            self._engine,
            name,
            sync_method,
            owner,
            stream_wrapper(meta.service_model.operation_model(api_name), self._engine),
        )

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(dir(self._client)))

    def __repr__(self) -> str:
        return f"<aboto3.AIOClient of {self._client!r}>"


def stream_wrapper(operation_model: Any, engine: Engine) -> Callable[[Any], Any] | None:
    """What turns the operation's sync stream into an async one, if it has one."""
    output = operation_model.output_shape
    if operation_model.has_event_stream_output:
        stream_member = output.event_stream_name

        def wrap_events(result: Any) -> Any:
            stream = result.get(stream_member)
            if stream is not None:
                result[stream_member] = AIOEventStream(stream, engine)
            return result

        return wrap_events
    if operation_model.has_streaming_output:
        body_member = output.serialization["payload"]

        def wrap_body(result: Any) -> Any:
            body = result.get(body_member)
            if body is not None and not isinstance(body, (bytes, str)):
                headers = result.get("ResponseMetadata", {}).get("HTTPHeaders", {})
                min_read = BATCH_SIZE if "content-length" in headers else 0
                result[body_member] = AIOStreamingBody(body, engine, min_read=min_read)
            return result

        return wrap_body
    return None


def _async_method(
    engine: Engine,
    name: str,
    sync_method: Callable[..., Any],
    owner: str,
    wrap: Callable[[Any], Any] | None = None,
) -> Callable[..., Any]:
    run = engine.run

    if wrap is None:

        async def method(*args: Any, **kwargs: Any) -> Any:
            return await run(sync_method, *args, **kwargs)

    else:

        async def method(*args: Any, **kwargs: Any) -> Any:
            return wrap(await run(sync_method, *args, **kwargs))

    return _named(method, name, sync_method, owner)


def transfer_method(
    engine: Engine, name: str, sync_method: Callable[..., Any], owner: str
) -> Callable[..., Any]:
    """An S3 transfer method of boto3's, run on ``engine`` (a thread engine),
    with async files and callbacks made usable from s3transfer's threads."""
    run = engine.run

    async def method(*args: Any, **kwargs: Any) -> Any:
        args, kwargs = transfer_arguments(sync_method, args, kwargs)
        return await run(sync_method, *args, **kwargs)

    return _named(method, name, sync_method, owner)


def _named(
    method: Callable[..., Any], name: str, sync_method: Callable[..., Any], owner: str
) -> Callable[..., Any]:
    method.__name__ = name
    method.__qualname__ = f"{owner}.{name}"
    method.__doc__ = sync_method.__doc__  # botocore's docstrings stay lazy
    method.__wrapped__ = sync_method  # type: ignore[attr-defined]  # signature follows it
    return method
