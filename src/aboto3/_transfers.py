"""What boto3's S3 transfer methods are given, made usable from their threads.

boto3's ``upload_fileobj``, ``download_fileobj``, ``upload_file``,
``download_file`` and ``copy`` run s3transfer, whose worker threads call the
file object's ``read``/``write``/``seek``/``tell`` and the progress callback.
An async file (aiofiles, anyio's ``AsyncFile``, any object whose methods are
coroutines) would hand those threads coroutines they never await: an empty
download, or a ``TypeError`` deep inside an upload. Here such a file becomes
a blocking one whose every call runs on the event loop it came from, so the
transfer streams through it part by part, as it streams through a sync file.
The same goes for an ``async def`` callback, for s3transfer's own
``TransferConfig`` (boto3's adds attributes its transfer code reads), and for
an ``AIOClient`` given as ``SourceClient``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import io
from typing import Any, Callable

import boto3.s3.transfer
import s3transfer.manager

__all__ = ["transfer_arguments"]

# The file methods s3transfer calls; an object is an async file when any of
# those it has is a coroutine function.
_FILE_METHODS = ("read", "write", "seek", "tell")
# How often a thread waiting for the loop looks whether the loop has closed.
_LOOP_CHECK_S = 0.5


def transfer_arguments(
    method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``args``/``kwargs`` for boto3's transfer ``method``, with what its
    threads cannot use as given made usable: async files and callbacks (bound
    to the running loop), s3transfer's ``TransferConfig``, an ``AIOClient``
    as ``SourceClient``. Call it on the event loop, before the transfer starts,
    so that an unusable file object is refused before anything moves."""
    try:
        bound = _signature(method).bind(*args, **kwargs)
    except TypeError:
        return args, kwargs  # boto3 itself reports the wrong arguments
    arguments = bound.arguments
    loop = asyncio.get_running_loop()
    if "Fileobj" in arguments:
        # The method that moves the data: read for an upload, write for a download.
        needed = "read" if "upload" in method.__name__ else "write"
        arguments["Fileobj"] = _usable_file(arguments["Fileobj"], needed, loop)
    config = arguments.get("Config")
    if isinstance(config, s3transfer.manager.TransferConfig) and not isinstance(
        config, boto3.s3.transfer.TransferConfig
    ):
        arguments["Config"] = _boto3_transfer_config(config)
    callback = arguments.get("Callback")
    if callback is not None and inspect.iscoroutinefunction(callback):
        arguments["Callback"] = _on_loop(callback, loop)
    source = arguments.get("SourceClient")
    if source is not None and hasattr(source, "client") and hasattr(source, "engine"):
        arguments["SourceClient"] = source.client  # an AIOClient: its boto3 client
    return bound.args, bound.kwargs


@functools.lru_cache(maxsize=64)
def _cached_signature(function: Any) -> inspect.Signature:
    return inspect.signature(function)


def _signature(method: Callable[..., Any]) -> inspect.Signature:
    # Bound methods differ per object; their function and first argument do not.
    function = getattr(method, "__func__", None)
    if function is None:
        return inspect.signature(method)
    return _cached_signature(function).replace(
        parameters=list(_cached_signature(function).parameters.values())[1:]
    )


def _usable_file(fileobj: Any, needed: str, loop: asyncio.AbstractEventLoop) -> Any:
    if isinstance(fileobj, io.IOBase) or not hasattr(fileobj, needed):
        return fileobj  # a real file; or none at all, which boto3 refuses itself
    if not callable(getattr(fileobj, needed)):
        raise TypeError(
            f"Fileobj must be a file object with a callable {needed}() (sync, or async as "
            f"aiofiles' files are); {type(fileobj).__name__}.{needed} is not callable"
        )
    if any(inspect.iscoroutinefunction(getattr(fileobj, name, None)) for name in _FILE_METHODS):
        return _LoopFile(fileobj, loop)
    return _CheckedFile(fileobj)


def _wait_for_loop(loop: asyncio.AbstractEventLoop, call: Callable[[], Any], what: str) -> Any:
    """Run ``call()`` on ``loop`` from another thread, awaiting what it returns
    if that is awaitable, and return its result."""
    if _on_loop_thread(loop):
        raise RuntimeError(
            f"aboto3: {what} was called on its event loop's own thread, which would wait "
            "for itself; only the transfer's threads may call it"
        )

    async def run() -> Any:
        result = call()
        return await result if inspect.isawaitable(result) else result

    future = asyncio.run_coroutine_threadsafe(run(), loop)
    while True:
        try:
            return future.result(_LOOP_CHECK_S)
        except concurrent.futures.TimeoutError:
            if loop.is_closed() or not loop.is_running():
                future.cancel()
                raise RuntimeError(
                    f"aboto3: the event loop of this transfer stopped while {what} waited "
                    "for it; the transfer cannot go on without it"
                ) from None


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


class _LoopFile:
    """An async file object, for s3transfer's threads: each method call runs on
    the file's event loop, and the thread waits for its result.

    Attributes that are not methods (``name``, ``closed``...) are read as
    they are. s3transfer itself keeps a seek and the read or write after it
    together (one thread reads an upload; one writes a download).
    """

    def __init__(self, fileobj: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._fileobj = fileobj
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._fileobj, name)  # its AttributeError if it has none
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            return _wait_for_loop(
                self._loop,
                functools.partial(attribute, *args, **kwargs),
                f"{type(self._fileobj).__name__}.{name}()",
            )

        return call

    def __repr__(self) -> str:
        return f"<aboto3 blocking view of {self._fileobj!r}>"


class _CheckedFile:
    """A sync file object that is not an ``io`` object, passed through as it
    is, except that a method that returns an awaitable (a coroutine s3transfer
    would drop unawaited, and with it the data) raises ``TypeError``."""

    def __init__(self, fileobj: Any) -> None:
        self._fileobj = fileobj

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._fileobj, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            if inspect.isawaitable(result):
                if inspect.iscoroutine(result):
                    result.close()  # never run: no "never awaited" warning
                raise TypeError(
                    f"{type(self._fileobj).__name__}.{name}() returned an awaitable to a "
                    "transfer thread, which cannot await it; give the transfer a file "
                    "whose methods are sync, or async def methods (as aiofiles' files)"
                )
            return result

        return call


def _on_loop(callback: Callable[..., Any], loop: asyncio.AbstractEventLoop) -> Callable[..., None]:
    """An ``async def`` progress callback, called from s3transfer's threads as
    boto3 calls a sync one: each call runs on the loop and the thread waits."""

    def call(bytes_transferred: int) -> None:
        _wait_for_loop(
            loop, functools.partial(callback, bytes_transferred), "the transfer's Callback"
        )

    return call


def _boto3_transfer_config(config: s3transfer.manager.TransferConfig) -> Any:
    """boto3's ``TransferConfig`` with every setting of s3transfer's: boto3's
    transfer methods read attributes only its own has (``use_threads``...)."""
    converted = boto3.s3.transfer.TransferConfig()
    for name, value in vars(config).items():
        setattr(converted, name, value)
    # boto3 keeps two of them under a second name too.
    converted.max_concurrency = config.max_request_concurrency
    converted.max_io_queue = config.max_io_queue_size
    return converted
