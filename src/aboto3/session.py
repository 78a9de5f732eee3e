"""Creating clients off the event loop: ``await aboto3.client("s3")``.

Building a boto3 client costs botocore tens to hundreds of milliseconds of
loading service models and resolving endpoints (and a boto3 ``Session`` tens
more), all synchronous. Done in a coroutine, that time stalls the event loop;
here it runs on a worker thread and the coroutine gets the finished
``AIOClient``. Clients are meant to live long: make one per service and
reuse it.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
import boto3.session

from ._engine import Executor, ThreadEngine, ThreadPool
from .client import AIOClient, check_engine

__all__ = ["Session", "client"]

# Client creation gets a small pool of its own, so it never waits behind the
# calls of the clients it creates (and never needs one of their pools).
_creation_pool: ThreadPool | None = None
_creation_pool_lock = threading.Lock()
# boto3's default session is shared; botocore does not promise that two
# threads may create clients from one session at once.
_default_session_lock = threading.Lock()


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


def _default_client(*args: Any, **kwargs: Any) -> Any:
    with _default_session_lock:
        return boto3.client(*args, **kwargs)


async def client(
    service_name: str,
    *args: Any,
    thread_pool_executor: Executor | None = None,
    engine: str = "threads",
    **kwargs: Any,
) -> AIOClient[Any]:
    """``await aboto3.client("s3", ...)``: ``boto3.client(...)``, built on a worker thread.

    Takes ``boto3.client``'s arguments (``region_name``, ``endpoint_url``,
    ``config``...) and ``AIOClient``'s keywords (``engine``,
    ``thread_pool_executor``); returns the ``AIOClient``. The creation runs on
    ``thread_pool_executor`` if given, else on a small pool kept for creating
    clients.
    """
    runner, options = _options(thread_pool_executor, engine)
    boto3_client = await runner.run(_default_client, service_name, *args, **kwargs)
    return AIOClient(boto3_client, **options)


class Session:
    """A boto3 ``Session`` whose ``client()`` is awaited and returns an ``AIOClient``.

    ``aboto3.Session(profile_name="dev", region_name="eu-west-1")`` takes
    ``boto3.Session``'s arguments. The boto3 session itself (which costs tens of
    milliseconds) is made on a worker thread by the first ``client()``.
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
        return self._session

    def _create_client(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return self._ensure_session().client(*args, **kwargs)

    async def client(
        self,
        service_name: str,
        *args: Any,
        thread_pool_executor: Executor | None = None,
        engine: str = "threads",
        **kwargs: Any,
    ) -> AIOClient[Any]:
        """``Session.client(...)`` built on a worker thread, returned as an ``AIOClient``.

        Takes ``boto3.Session.client``'s arguments and ``AIOClient``'s keywords
        (``engine``, ``thread_pool_executor``).
        """
        runner, options = _options(thread_pool_executor, engine)
        boto3_client = await runner.run(self._create_client, service_name, *args, **kwargs)
        return AIOClient(boto3_client, **options)

    def __repr__(self) -> str:
        return f"<aboto3.Session of {self._session!r}>" if self._session else "<aboto3.Session>"
