"""``AIOClient``: a boto3 client whose I/O methods are awaitable."""

from __future__ import annotations

import concurrent.futures
from types import TracebackType
from typing import Any, Callable, Generic, TypeVar

from botocore.client import BaseClient

from ._engine import Engine, Executor, ThreadEngine, ThreadPool
from .paginate import AIOPaginator

ClientT = TypeVar("ClientT", bound=BaseClient)

__all__ = ["AIOClient"]

# Public client methods that do no I/O and so stay synchronous. get_paginator
# and get_waiter are defined on AIOClient itself; everything else callable
# (operations, presigning, S3 transfers, methods added by plugins) is async.
_SYNC_METHODS = frozenset({"can_paginate"})


class AIOClient(Generic[ClientT]):
    """An asyncio client with the interface of the boto3 client it wraps.

    Every operation, and every other client method that does I/O, is a
    coroutine function with the name, docstring and parameters of the
    synchronous method; ``meta``, ``exceptions``, ``can_paginate`` and
    ``get_paginator``/``get_waiter`` behave as on the boto3 client. The boto3
    client stays usable as an ordinary synchronous client.

    :param boto3_client: a client from ``boto3.client(...)`` or
        ``Session.client(...)`` (any ``botocore.client.BaseClient``).
    :param thread_pool_executor: where calls run. By default the client gets a
        pool of its own with ``max_pool_connections`` threads (from the boto3
        client's ``Config``, 10 unless set). Pass a
        ``concurrent.futures.Executor`` or an ``aboto3.ThreadPool`` to share
        threads between clients; a pool you pass is never shut down by the
        client.
    :param engine: ``"threads"`` (the default) runs each call unchanged on a
        worker thread.
    """

    def __init__(
        self,
        boto3_client: ClientT,
        thread_pool_executor: Executor | None = None,
        *,
        engine: str = "threads",
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
        if engine != "threads":
            raise ValueError(f"engine must be 'threads', not {engine!r}")
        self._client = boto3_client
        self._engine: Engine = ThreadEngine(
            thread_pool_executor, max_workers=boto3_client.meta.config.max_pool_connections
        )
        # Work that waits on threads of its own (s3transfer) must itself run on
        # a thread, whatever engine runs the calls.
        self._thread_engine: ThreadEngine = self._engine

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
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._engine.closed

    def get_paginator(self, operation_name: str) -> AIOPaginator:
        """An async paginator for ``operation_name``: ``async for page in p.paginate(...)``."""
        return AIOPaginator(self._client.get_paginator(operation_name), self._engine)

    async def close(self) -> None:
        """Refuse further calls and shut down the thread pool this client created.

        Calls already started finish first. A pool or executor passed in by
        the caller is left running, and the boto3 client stays usable.
        """
        await self._engine.aclose()

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
        method = _async_method(self._engine, name, attr, type(self._client).__name__)
        self.__dict__[name] = method  # built once per client
        return method

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(dir(self._client)))

    def __repr__(self) -> str:
        return f"<aboto3.AIOClient of {self._client!r}>"


def _async_method(
    engine: Engine, name: str, sync_method: Callable[..., Any], owner: str
) -> Callable[..., Any]:
    run = engine.run

    async def method(*args: Any, **kwargs: Any) -> Any:
        return await run(sync_method, *args, **kwargs)

    method.__name__ = name
    method.__qualname__ = f"{owner}.{name}"
    method.__doc__ = sync_method.__doc__  # botocore's docstrings stay lazy
    method.__wrapped__ = sync_method  # type: ignore[attr-defined]  # signature follows it
    return method

