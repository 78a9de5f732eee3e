"""Creating clients and resources off the event loop.

``await aboto3.client("s3")``, or ``async with aboto3.client("s3") as s3:``
(closed when the block ends); the same for ``Session().client(...)``,
``Session().resource(...)`` and ``aboto3.resource(...)``.

Building a boto3 client costs botocore tens to hundreds of milliseconds of
loading service models and resolving endpoints (and a boto3 ``Session`` tens
more), all synchronous. Done in a coroutine, that time stalls the event loop;
here it runs on a worker thread and the coroutine gets the finished
``AIOClient`` (or ``AIOResource``). Clients are meant to live long: make one
per service and reuse it.
"""

from __future__ import annotations

import threading
from collections.abc import Coroutine, Generator
from types import TracebackType
from typing import Any, Callable, Generic, Protocol, TypeVar

import boto3
import boto3.session
from botocore import xform_name

from ._engine import Executor, ThreadEngine, ThreadPool
from ._loader import use_fast_loading
from .client import AIOClient, check_engine
from .resource import AIOResource

__all__ = ["Creating", "Session", "client", "resource"]


class _Closable(Protocol):
    async def close(self) -> None: ...


CreatedT = TypeVar("CreatedT", bound=_Closable)

# Client creation gets a small pool of its own, so it never waits behind the
# calls of the clients it creates (and never needs one of their pools).
_creation_pool: ThreadPool | None = None
_creation_pool_lock = threading.Lock()
# boto3's default session is shared; botocore does not promise that two
# threads may create clients from one session at once.
_default_session_lock = threading.Lock()
_native_setup_lock = threading.Lock()


def _creation_engine(executor: Executor | None) -> ThreadEngine:
    global _creation_pool
    if executor is not None:
        return ThreadEngine(executor)
    with _creation_pool_lock:
        if _creation_pool is None:
            _creation_pool = ThreadPool(max_workers=4)
        return ThreadEngine(_creation_pool)


def _options(
    thread_pool_executor: Executor | None, engine: str
) -> tuple[ThreadEngine, dict[str, Any]]:
    check_engine(engine)  # before the costly part
    return _creation_engine(thread_pool_executor), {
        "thread_pool_executor": thread_pool_executor,
        "engine": engine,
    }


class Creating(Generic[CreatedT]):
    """An ``AIOClient`` or ``AIOResource`` being made: await it, or enter it.

    ``aio = await aboto3.client("s3")`` makes the client and returns it;
    ``async with aboto3.client("s3") as aio:`` makes it on entry and closes
    it (``await aio.close()``) when the block ends, as aiobotocore's and
    aioboto3's ``async with session.client(...)`` do. Nothing is made until
    one of the two happens, each time it happens.
    """

    def __init__(self, create: Callable[[], Coroutine[Any, Any, CreatedT]]) -> None:
        self._create = create
        self._entered: CreatedT | None = None

    def __await__(self) -> Generator[Any, None, CreatedT]:
        return self._create().__await__()

    async def __aenter__(self) -> CreatedT:
        if self._entered is not None:
            raise RuntimeError("aboto3: this client or resource is already entered")
        self._entered = await self._create()
        return self._entered

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        created, self._entered = self._entered, None
        if created is not None:
            await created.close()


def _default_client(*args: Any, **kwargs: Any) -> Any:
    _fast_loading_on_default_session()
    return boto3.client(*args, **kwargs)


def _default_resource(*args: Any, **kwargs: Any) -> Any:
    _fast_loading_on_default_session()
    return boto3.resource(*args, **kwargs)


def _fast_loading_on_default_session() -> None:
    # Model files read without stalling the loop (_loader.py). Plain
    # boto3.client() calls share this session and its loader: they get the
    # very objects botocore's own file loader makes (checked per process).
    use_fast_loading(boto3._get_default_session())


def _made_and_wrapped(
    make: Callable[..., Any],
    wrap: Callable[..., CreatedT],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    options: dict[str, Any],
    lock: threading.Lock,
) -> CreatedT:
    # On the worker, wrapping too: the first AIOClient of a process runs one-time
    # checks and imports (tens of ms) that would otherwise run on the loop. Both
    # under the session's lock: one creation at a time works on the GIL, so the
    # loop waits behind one thread, not behind several taking turns.
    if options["engine"] == "native":
        # The native engine's one-time set-up (NativeEngine repeats it) sweeps
        # the heap for time.sleep, each sweep one GIL-holding step: done first,
        # while the heap is a fraction of its size after the models load, and
        # with the other creations waiting rather than taking turns on the GIL.
        from ._native import _install_suspension_points

        with _native_setup_lock:
            _install_suspension_points()
    with lock:
        created = wrap(make(*args, **kwargs), **options)
        _load_paginator_and_waiter_models(created)
        return created


def _load_paginator_and_waiter_models(created: object) -> None:
    # botocore reads them on the client's first get_paginator, can_paginate or
    # get_waiter: calls made on the loop (get_paginator is synchronous, and the
    # native engine runs botocore there), where reading the file, and the first
    # time a session lists which services have one (a directory scan, 10-15 ms
    # here), would hold the loop. Read here, they stay in the client's cache.
    if isinstance(created, AIOResource):
        created = created.meta.client
    assert isinstance(created, AIOClient)
    boto3_client = created.client
    operations = boto3_client.meta.service_model.operation_names
    if operations:
        boto3_client.can_paginate(xform_name(operations[0]))
    boto3_client.waiter_names  # noqa: B018  # a property that loads the waiter model


def _creating(
    make: Callable[..., Any],
    wrap: Callable[..., CreatedT],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    thread_pool_executor: Executor | None,
    engine: str,
    lock: threading.Lock,
) -> Creating[CreatedT]:
    runner, options = _options(thread_pool_executor, engine)  # refused here, not later

    async def create() -> CreatedT:
        return await runner.run(_made_and_wrapped, make, wrap, args, kwargs, options, lock)

    return Creating(create)


def client(
    service_name: str,
    *args: Any,
    thread_pool_executor: Executor | None = None,
    engine: str = "threads",
    **kwargs: Any,
) -> Creating[AIOClient[Any]]:
    """``await aboto3.client("s3", ...)``: ``boto3.client(...)``, built on a worker thread.

    Takes ``boto3.client``'s arguments (``region_name``, ``endpoint_url``,
    ``config``...) and ``AIOClient``'s keywords (``engine``,
    ``thread_pool_executor``); awaited, it returns the ``AIOClient``; used as
    ``async with aboto3.client(...) as aio:`` it closes it when the block ends.
    The creation runs on ``thread_pool_executor`` if given, else on a small
    pool kept for creating clients.
    """
    return _creating(
        _default_client,
        AIOClient,
        (service_name, *args),
        kwargs,
        thread_pool_executor,
        engine,
        _default_session_lock,
    )


def resource(
    service_name: str,
    *args: Any,
    thread_pool_executor: Executor | None = None,
    engine: str = "threads",
    **kwargs: Any,
) -> Creating[AIOResource]:
    """``await aboto3.resource("dynamodb", ...)``: ``boto3.resource(...)``, built
    on a worker thread, as an ``AIOResource``; or ``async with`` it, as
    ``aboto3.client``."""
    return _creating(
        _default_resource,
        AIOResource,
        (service_name, *args),
        kwargs,
        thread_pool_executor,
        engine,
        _default_session_lock,
    )


class Session:
    """A boto3 ``Session`` whose ``client()`` and ``resource()`` make an
    ``AIOClient`` and an ``AIOResource``, awaited or with ``async with``.

    ``aboto3.Session(profile_name="dev", region_name="eu-west-1")`` takes
    ``boto3.Session``'s arguments. The boto3 session itself (which costs tens of
    milliseconds) is made on a worker thread by the first ``client()``. The rest
    of boto3's ``Session`` is there too (``region_name``,
    ``get_available_resources()``...), with ``get_credentials()`` awaited.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._args = args
        self._kwargs = kwargs
        self._session: boto3.session.Session | None = None
        # Creates the session once and keeps two threads from creating
        # clients from it at the same time.
        self._lock = threading.Lock()

    @property
    def boto3_session(self) -> boto3.session.Session:
        """The boto3 ``Session``; made here, on this thread, if no client was made yet."""
        with self._lock:
            return self._ensure_session()

    def _ensure_session(self) -> boto3.session.Session:
        if self._session is None:
            self._session = boto3.session.Session(*self._args, **self._kwargs)
            use_fast_loading(self._session)
        return self._session

    def _create_client(self, *args: Any, **kwargs: Any) -> Any:  # under self._lock
        return self._ensure_session().client(*args, **kwargs)

    def _create_resource(self, *args: Any, **kwargs: Any) -> Any:  # under self._lock
        return self._ensure_session().resource(*args, **kwargs)

    def client(
        self,
        service_name: str,
        *args: Any,
        thread_pool_executor: Executor | None = None,
        engine: str = "threads",
        **kwargs: Any,
    ) -> Creating[AIOClient[Any]]:
        """``Session.client(...)`` built on a worker thread, as an ``AIOClient``:
        ``await session.client("s3")``, or ``async with session.client("s3") as s3:``.

        Takes ``boto3.Session.client``'s arguments and ``AIOClient``'s keywords
        (``engine``, ``thread_pool_executor``).
        """
        return _creating(
            self._create_client,
            AIOClient,
            (service_name, *args),
            kwargs,
            thread_pool_executor,
            engine,
            self._lock,
        )

    def resource(
        self,
        service_name: str,
        *args: Any,
        thread_pool_executor: Executor | None = None,
        engine: str = "threads",
        **kwargs: Any,
    ) -> Creating[AIOResource]:
        """``Session.resource(...)`` built on a worker thread, as an ``AIOResource``:
        ``async with session.resource("dynamodb") as dynamodb:``, or awaited.

        Takes ``boto3.Session.resource``'s arguments and ``AIOClient``'s keywords.
        """
        return _creating(
            self._create_resource,
            AIOResource,
            (service_name, *args),
            kwargs,
            thread_pool_executor,
            engine,
            self._lock,
        )

    async def get_credentials(self) -> Any:
        """boto3's ``Session.get_credentials()``, awaited (as in aioboto3): it runs
        on a worker thread, since a credential provider may call a metadata
        service, an SSO endpoint or a process."""
        return await _creation_engine(None).run(self._get_credentials)

    def _get_credentials(self) -> Any:
        with self._lock:
            return self._ensure_session().get_credentials()

    def __getattr__(self, name: str) -> Any:
        # The rest of boto3's Session (region_name, profile_name, events,
        # get_available_resources()...), which reads local settings and models.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.boto3_session, name)

    def __repr__(self) -> str:
        return f"<aboto3.Session of {self._session!r}>" if self._session else "<aboto3.Session>"
