"""Client creation in a fresh process, with the loop's lag measured: the stall issue 23
is about happens once per process, so each case needs a new interpreter.

    python -m tests.cold_start ec2 threads       # await aboto3.client("ec2", engine=...)
    python -m tests.cold_start eight native      # 8 clients of 4 services, all at once
    python -m tests.cold_start parse threads     # json_loads(EC2's model, share_gil=True)
    python -m tests.cold_start ec2 threads --gc  # the collector left on (gc_max_ms)

prints one JSON line: creation time (``took_ms``), the loop's worst lag (``lag_ms``, see
ProcessLoopLag; collections are not counted in it) and as the wall clock saw it
(``lag_raw_ms``), and the longest garbage collection (``gc_max_ms``).

The automatic garbage collector is off while the clients are made (``--gc`` leaves it
on). Its full passes hold the GIL for as long as the whole heap takes to walk, which
grows with every model loaded (README: Creating clients has the figures); with it off,
what is measured is what this code controls.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import json
import os
import sys
import time
from typing import Any

from tests.looplag import LoopLag

SERVICES = ["ec2", "s3", "dynamodb", "sagemaker"]
REGION = "us-east-1"


class ProcessLoopLag(LoopLag):
    """LoopLag that also takes off the time the process's other threads waited for a CPU.

    A worker holding the GIL that the machine preempts keeps the loop waiting for the
    GIL as long as it waits for a CPU: on a loaded machine that is the machine's doing,
    not the code's. Threads waiting for the GIL or a lock sleep, so they add nothing.
    The counters are read without giving up the GIL (see _RunQueueWaits).
    """

    async def _tick(self) -> None:
        waits = _RunQueueWaits()
        expected = time.perf_counter() + self.interval
        waited = waits.total()
        while True:
            await asyncio.sleep(self.interval)
            now, waited_now = time.perf_counter(), waits.total()
            self._record(now - expected, waited_now - waited)
            expected, waited = now + self.interval, waited_now


class _RunQueueWaits:
    """Seconds all threads of this process have waited for a CPU (Linux; else 0).

    Read through libc with the GIL kept (ctypes.PyDLL): os.listdir and os.pread give
    it up, and a worker that takes it then keeps the loop waiting, so a sampler that
    read them on every tick would itself make the loop late.
    """

    def __init__(self) -> None:
        self._libc: Any = None
        self._files: dict[bytes, int] = {}  # thread id -> its schedstat, open
        self._buffer = ctypes.create_string_buffer(256)
        if sys.platform.startswith("linux"):
            try:
                self._libc = _kept_gil_libc()
            except (OSError, AttributeError):
                self._libc = None

    def total(self) -> float:
        libc = self._libc
        if libc is None:
            return 0.0
        waited = 0
        directory = libc.opendir(b"/proc/self/task")
        if not directory:
            return 0.0
        try:
            while True:
                entry = libc.readdir(directory)
                if not entry:
                    break
                name = entry.contents.d_name
                if not name.isdigit():
                    continue
                fd = self._files.get(name)
                if fd is None:
                    fd = libc.open(b"/proc/self/task/" + name + b"/schedstat", os.O_RDONLY)
                    if fd < 0:
                        continue
                    self._files[name] = fd
                size = libc.pread(fd, self._buffer, len(self._buffer) - 1, 0)
                fields = self._buffer.raw[: max(size, 0)].split()
                if len(fields) >= 2:
                    waited += int(fields[1])
        finally:
            libc.closedir(directory)
        return waited / 1e9

    def __del__(self) -> None:
        if self._libc is not None:
            for fd in self._files.values():
                self._libc.close(fd)


class _Dirent(ctypes.Structure):
    # struct dirent of 64-bit Linux C libraries (glibc, musl).
    _fields_ = (
        ("d_ino", ctypes.c_uint64),
        ("d_off", ctypes.c_int64),
        ("d_reclen", ctypes.c_ushort),
        ("d_type", ctypes.c_ubyte),
        ("d_name", ctypes.c_char * 256),
    )


def _kept_gil_libc() -> Any:
    if ctypes.sizeof(ctypes.c_void_p) != 8:
        raise OSError("only the 64-bit struct dirent is described here")
    libc = ctypes.PyDLL(None)
    libc.opendir.restype = ctypes.c_void_p
    libc.opendir.argtypes = (ctypes.c_char_p,)
    libc.readdir.restype = ctypes.POINTER(_Dirent)
    libc.readdir.argtypes = (ctypes.c_void_p,)
    libc.closedir.argtypes = (ctypes.c_void_p,)
    libc.open.argtypes = (ctypes.c_char_p, ctypes.c_int)
    libc.pread.restype = ctypes.c_ssize_t
    libc.pread.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_long)
    libc.close.argtypes = (ctypes.c_int,)
    return libc


def _ec2_model_bytes() -> bytes:
    """EC2's service model file, as botocore's loader reads it from disk."""
    import botocore.loaders

    loader = botocore.loaders.Loader()
    version = loader.determine_latest_version("ec2", "service-2")
    base = os.path.join(loader.BUILTIN_DATA_PATH, "ec2", version, "service-2")
    for extension, open_method in botocore.loaders._JSON_OPEN_METHODS.items():
        if os.path.isfile(base + extension):
            with open_method(base + extension, "rb") as model:
                return bytes(model.read())
    raise FileNotFoundError(base)


async def _create(case: str, engine: str, payload: bytes) -> tuple[list[Any], Any]:
    """What the case makes, and the botocore session it was made from."""
    import boto3

    import aboto3

    if case == "ec2":
        made = [await aboto3.client("ec2", region_name=REGION, engine=engine)]
        return made, boto3._get_default_session()._session
    if case == "eight":
        session = aboto3.Session(region_name=REGION)
        made = await asyncio.gather(*(session.client(name, engine=engine) for name in SERVICES * 2))
        return list(made), session.boto3_session._session
    if case == "parse":  # the reader alone, on a thread
        from collections import OrderedDict

        from aboto3 import _core

        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, _core.json_loads, payload, OrderedDict, None, True)
        return [], None
    raise SystemExit(f"unknown case {case!r}")


def measure(case: str, engine: str, collect_garbage: bool = False) -> dict[str, Any]:
    import aboto3  # imported before the clock starts, as an application has it

    if engine == "native":
        # Imported by the first native client. An installed aboto3 loads it from the
        # bytecode pip compiled; a source checkout without it (PYTHONDONTWRITEBYTECODE)
        # compiles it there, one step of ~10 ms on the GIL that no user pays.
        import aboto3._native  # noqa: F401

    payload = _ec2_model_bytes() if case == "parse" else b""
    pauses: list[float] = []
    started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses.append(time.perf_counter() - started[0])

    async def main() -> dict[str, Any]:
        lag = ProcessLoopLag(limit=float("inf"))
        if not collect_garbage:
            gc.disable()
        async with lag:
            # Timing collections runs Python code in them, where the GIL may change
            # hands: with the collector on, a parse's stall is partly hidden.
            gc.callbacks.append(on_gc)
            began = time.perf_counter()
            made, session = await _create(case, engine, payload)
            took = time.perf_counter() - began
            gc.callbacks.remove(on_gc)
        for client in made:
            await client.close()
        loader = session.get_component("data_loader") if session is not None else None
        return {
            "case": case,
            "engine": engine,
            "took_ms": took * 1e3,
            "lag_ms": lag.worst * 1e3,
            "lag_raw_ms": lag.worst_raw * 1e3,
            "gc_max_ms": max(pauses, default=0.0) * 1e3,
            "file_loader": type(getattr(loader, "file_loader", None)).__name__,
        }

    return asyncio.run(main())


if __name__ == "__main__":
    arguments = sys.argv[1:]
    positional = [argument for argument in arguments if not argument.startswith("--")]
    print(json.dumps(measure(positional[0], positional[1], "--gc" in arguments)))
