"""The one place where synchronous botocore work becomes awaitable.

Every user-facing feature (client methods, paginators, waiters, bodies) calls
``Engine.run(fn, *args, **kwargs)`` with an ordinary synchronous callable and
awaits what it returns.

The thread engine's pool and completion bridge come from the C++ extension
``aboto3._core``, or, where it cannot be loaded (or ``ABOTO3_PURE_PYTHON=1``
is set), from their pure-Python twins in ``_pure.py``.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextvars
import functools
import os
import warnings
import weakref
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Callable, TypeVar, Union, cast

from . import _pure

T = TypeVar("T")

__all__ = [
    "CoreMissingWarning",
    "Engine",
    "ThreadEngine",
    "ThreadPool",
    "engines",
    "require_native_engine",
    "running_loop",
]

# Set to 1 to run without the C++ extension even where it is installed.
PURE_PYTHON_ENV = "ABOTO3_PURE_PYTHON"


class CoreMissingWarning(RuntimeWarning):
    """aboto3's C++ core could not be loaded; the pure-Python thread engine runs instead."""


def _load_core() -> tuple[bool, str]:
    """Whether ``aboto3._core`` loaded, and if not, why."""
    if os.environ.get(PURE_PYTHON_ENV, "") not in ("", "0"):
        return False, f"{PURE_PYTHON_ENV} is set"
    try:
        from . import _core  # noqa: F401
    except ImportError as error:
        reason = str(error) or type(error).__name__
        warnings.warn(
            f"aboto3: the C++ core is missing ({reason}); running on the pure-Python "
            "thread engine, which is slower and has no native engine. Install a wheel for "
            "this platform, or build from source with a C++17 compiler (README: Install).",
            CoreMissingWarning,
            stacklevel=2,
        )
        return False, reason
    return True, ""


HAVE_CORE, CORE_MISSING_REASON = _load_core()
if TYPE_CHECKING or HAVE_CORE:
    from . import _core
else:
    _core = None
# _pure's classes have _core's interface (the same tests run on both), so
# both are typed as _core's.

# "epoll" or "poll" when the extension has the native engine, else "".
NATIVE_IO = _core.build_features()["native_io"] if HAVE_CORE else ""


def engines() -> dict[str, str]:
    """The engines this install can run, each with what runs it.

    ``"threads"`` is always there; ``"native"`` only where the C++ extension
    was built with libcurl.
    """
    if HAVE_CORE:
        found = {"threads": "C++ thread pool"}
    else:
        found = {"threads": f"pure-Python thread pool (no C++ core: {CORE_MISSING_REASON})"}
    if NATIVE_IO:
        found["native"] = f"libcurl on one I/O thread ({NATIVE_IO})"
    return found


def require_native_engine() -> None:
    """Raise a RuntimeError saying what to install if engine="native" cannot run here."""
    if NATIVE_IO:
        return
    if not HAVE_CORE:
        why = f"the C++ core (aboto3._core) is not loaded: {CORE_MISSING_REASON}"
        fix = (
            "Install a wheel for this platform (pip install --force-reinstall aboto3), or "
            "build from source with a C++17 compiler and the libcurl headers"
        )
    else:
        why = "this aboto3 was built without libcurl"
        fix = (
            "Install the libcurl development headers (Debian/Ubuntu: apt-get install "
            "libcurl4-openssl-dev; Fedora/RHEL: dnf install libcurl-devel; Alpine: apk add "
            "curl-dev; macOS: brew install curl), then reinstall aboto3 from source: "
            "pip install --force-reinstall --no-binary aboto3 aboto3"
        )
    raise RuntimeError(
        f"aboto3: engine='native' is not available: {why}. {fix}. "
        "engine='threads' works in this install."
    )


def running_loop(what: object) -> asyncio.AbstractEventLoop:
    """The running event loop, or a RuntimeError that names the misused call."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        name = getattr(what, "__qualname__", None) or getattr(what, "__name__", None) or what
        raise RuntimeError(
            f"aboto3: {name} must be awaited inside a running asyncio event loop, "
            "and no event loop is running in this thread"
        ) from None


# One completion bridge per event loop. Bridges hold no reference to their
# loop, so a closed loop is collected and its bridge (and descriptors) with it.
_bridges: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _core.CompletionBridge] = (
    weakref.WeakKeyDictionary()
)


def bridge_for(loop: asyncio.AbstractEventLoop) -> _core.CompletionBridge:
    """The completion bridge that wakes ``loop``, created on first use."""
    bridge = _bridges.get(loop)
    if bridge is None:
        if HAVE_CORE:
            bridge = _core.CompletionBridge()
            loop.add_reader(bridge.fd, bridge.drain)
        else:
            bridge = cast("_core.CompletionBridge", _pure.CompletionBridge(loop))
        _bridges[loop] = bridge
    return bridge


class Engine:
    """Runs synchronous botocore callables so that an event loop can await them."""

    closed: bool = False

    def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Awaitable[T]:
        """Start ``fn(*args, **kwargs)`` and return an awaitable of its outcome."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Refuse new calls and release what this engine owns."""
        self.closed = True

    def _refuse_closed(self, fn: object) -> None:
        name = getattr(fn, "__name__", fn)
        raise RuntimeError(f"aboto3: cannot call {name}(): this AIOClient is closed")


class ThreadPool:
    """A pool of native worker threads for running boto3 calls.

    Pass one as ``thread_pool_executor`` to several ``AIOClient`` objects to
    share its threads between them, like a shared ``ThreadPoolExecutor`` but
    without a ``concurrent.futures.Future`` per call. Without the C++ core its
    workers are Python threads, with the same behaviour.
    """

    def __init__(self, max_workers: int = 10) -> None:
        if isinstance(max_workers, bool) or not isinstance(max_workers, int):
            raise TypeError(f"max_workers must be an int, not {type(max_workers).__name__}")
        if max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        self._pool = (
            _core.ThreadPool(max_workers)
            if HAVE_CORE
            else cast("_core.ThreadPool", _pure.ThreadPool(max_workers))
        )

    @property
    def max_workers(self) -> int:
        """The most threads this pool will start."""
        return self._pool.max_workers

    @property
    def thread_count(self) -> int:
        """Threads started and not yet exited."""
        return self._pool.thread_count

    def shutdown(self, wait: bool = True) -> None:
        """Refuse new calls; queued calls still run. ``wait`` blocks until workers exit."""
        self._pool.shutdown(wait)

    async def aclose(self) -> None:
        """Like ``shutdown(wait=True)``, without blocking the event loop."""
        loop = running_loop("ThreadPool.aclose()")
        done = loop.create_future()
        self._pool.shutdown_notify(bridge_for(loop), done)
        await done
        self._pool.shutdown(True)  # the last worker is past its final Python step

    def __repr__(self) -> str:
        return f"<aboto3.ThreadPool max_workers={self.max_workers} threads={self.thread_count}>"


Executor = Union[ThreadPool, concurrent.futures.Executor]


class ThreadEngine(Engine):
    """Runs each call on a worker thread: the native pool or a user's executor.

    Outcomes come back through the loop's completion bridge, so a burst of
    finished calls wakes the event loop once.
    """

    def __init__(self, executor: Executor | None = None, *, max_workers: int = 10) -> None:
        self._owns_pool = executor is None
        if executor is None:
            executor = ThreadPool(max_workers)
        if isinstance(executor, ThreadPool):
            self._pool: ThreadPool | None = executor
            self._submit = executor._pool.submit
        elif isinstance(executor, concurrent.futures.Executor):
            self._pool = None
            self._executor = executor
            self._submit = self._submit_to_executor
        else:
            raise TypeError(
                "thread_pool_executor must be a concurrent.futures.Executor or an "
                f"aboto3.ThreadPool, not {type(executor).__name__}"
            )

    @property
    def pool(self) -> ThreadPool | None:
        """The native pool this engine runs on, or None for a user executor."""
        return self._pool

    def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        if self.closed:
            self._refuse_closed(fn)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = running_loop(fn)
        future = loop.create_future()
        self._submit(bridge_for(loop), future, contextvars.copy_context(), fn, args, kwargs)
        return future

    def _submit_to_executor(
        self,
        bridge: _core.CompletionBridge,
        future: asyncio.Future[Any],
        context: contextvars.Context,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        concurrent_future = self._executor.submit(context.run, fn, *args, **kwargs)
        concurrent_future.add_done_callback(functools.partial(bridge.push_concurrent, future))
        # Cancelling the awaiting task drops the call if it has not started.
        future.add_done_callback(lambda f: concurrent_future.cancel() if f.cancelled() else None)

    async def aclose(self) -> None:
        self.closed = True
        if self._owns_pool and self._pool is not None:
            await self._pool.aclose()


if HAVE_CORE:
    atexit.register(_core.shutdown_all_pools)  # _pure registers its own
if hasattr(os, "register_at_fork"):
    # A forked child has none of the parent's event loops to wake.
    os.register_at_fork(after_in_child=_bridges.clear)
