"""Build and run the C++ stub AWS endpoint (``stub_server.cpp``).

Typical use::

    from benchmarks.stub import StubServer

    with StubServer(latency_ms=5) as stub:
        client = boto3.client("ssm", endpoint_url=stub.endpoint_url, ...)
        ...
        print(stub.stats())  # {"requests": ..., "cpu_user_s": ..., ...}

Run one by hand with ``python -m benchmarks.stub --latency-ms 5``.

The binary is compiled on first use into ``benchmarks/stub/.build/`` and rebuilt
whenever the source is newer.  Set ``STUB_SERVER_BINARY`` to run a prebuilt
binary instead (for example a sanitizer build); ``CXX`` selects the compiler.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import weakref
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, final

__all__ = [
    "BINARY",
    "SOURCE",
    "StubBuildError",
    "StubServer",
    "StubStartError",
    "build_stub_server",
]

STUB_DIR = Path(__file__).resolve().parent
SOURCE = STUB_DIR / "stub_server.cpp"
BUILD_DIR = STUB_DIR / ".build"
BINARY = BUILD_DIR / "stub_server"

CXXFLAGS: tuple[str, ...] = ("-O2", "-std=c++17", "-Wall", "-Wextra", "-pthread")

_BINARY_ENV = "STUB_SERVER_BINARY"


class StubBuildError(RuntimeError):
    """The stub server could not be compiled."""


class StubStartError(RuntimeError):
    """The stub server process did not start listening."""


def build_stub_server(
    *,
    force: bool = False,
    compiler: str | None = None,
    extra_flags: Sequence[str] = (),
    output: Path | None = None,
) -> Path:
    """Compile ``stub_server.cpp`` if needed and return the binary's path.

    The binary (``benchmarks/stub/.build/stub_server`` unless ``output`` is
    given) is rebuilt when it is missing, older than the source, or ``force``
    is true.  ``compiler`` defaults to ``$CXX`` and then ``g++``;
    ``extra_flags`` are appended to the usual ``-O2 -std=c++17`` flags (e.g.
    ``["-fsanitize=address,undefined", "-g"]``, together with ``output``).  The build writes to a
    temporary file and renames it, so concurrent callers never see a partial
    binary.
    """
    target = Path(output) if output is not None else BINARY
    if not force and target.exists() and target.stat().st_mtime >= SOURCE.stat().st_mtime:
        return target

    cxx = compiler or os.environ.get("CXX") or "g++"
    cxx_path = shutil.which(cxx)
    if cxx_path is None:
        raise StubBuildError(
            f"cannot build the benchmark stub server: C++ compiler {cxx!r} not found "
            "on PATH (install g++, e.g. `apt-get install g++`, or set $CXX)"
        )

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".stub_server.", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    cmd = [cxx_path, *CXXFLAGS, *extra_flags, str(SOURCE), "-o", str(tmp)]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StubBuildError(
                f"compiling the stub server failed ({' '.join(cmd)}):\n"
                f"{result.stdout}{result.stderr}"
            )
        if result.stderr.strip():
            # Warnings are not fatal, but they should be visible.
            print(result.stderr, file=sys.stderr)
        tmp.chmod(0o755)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _kill_quietly(proc: subprocess.Popen[bytes]) -> None:
    """Last-resort cleanup for a server that was never stopped."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()


@final
class StubServer:
    """Run ``stub_server`` in a subprocess for the duration of a ``with`` block.

    Args:
        latency_ms: delay added to every response (``--latency-ms``); the
            server keeps serving other connections while responses wait.
        threads: number of event-loop threads (``--threads``, SO_REUSEPORT).
        host: address to listen on.
        binary: prebuilt server binary; defaults to ``$STUB_SERVER_BINARY`` or
            the result of :func:`build_stub_server`.
        startup_timeout: seconds to wait for the ``PORT <n>`` line.
        stop_timeout: seconds to wait after SIGTERM before killing it.
    """

    def __init__(
        self,
        latency_ms: int = 0,
        threads: int = 1,
        *,
        host: str = "127.0.0.1",
        binary: Path | str | None = None,
        startup_timeout: float = 10.0,
        stop_timeout: float = 5.0,
    ) -> None:
        if latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        if threads < 1:
            raise ValueError("threads must be >= 1")
        self.latency_ms = latency_ms
        self.threads = threads
        self.host = host
        self._binary = Path(binary) if binary is not None else None
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> StubServer:
        """Start the server and wait until it listens.  Returns ``self``."""
        if self._proc is not None:
            raise RuntimeError("StubServer already started")
        binary = self._binary
        if binary is None:
            env_binary = os.environ.get(_BINARY_ENV)
            binary = Path(env_binary) if env_binary else build_stub_server()
        cmd = [
            str(binary),
            "--host",
            self.host,
            "--port",
            "0",
            "--latency-ms",
            str(self.latency_ms),
            "--threads",
            str(self.threads),
        ]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        self._proc = proc
        # Never leave an orphan server behind, even if stop() is not called.
        self._finalizer = weakref.finalize(self, _kill_quietly, proc)
        try:
            self._port = self._read_port(proc)
        except BaseException:
            self.stop()
            raise
        return self

    def _read_port(self, proc: subprocess.Popen[bytes]) -> int:
        assert proc.stdout is not None
        deadline = time.monotonic() + self.startup_timeout
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while b"\n" not in buf:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise StubStartError(
                        f"stub server did not report its port within {self.startup_timeout}s"
                    )
                if not sel.select(remaining):
                    continue
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    code = proc.wait()
                    raise StubStartError(f"stub server exited with status {code} before listening")
                buf += chunk
        line = buf.split(b"\n", 1)[0].decode("ascii", "replace").strip()
        word, _, value = line.partition(" ")
        if word != "PORT" or not value.isdigit():
            raise StubStartError(f"unexpected first line from stub server: {line!r}")
        return int(value)

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after ``stop_timeout``)."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        if self._finalizer is not None:
            self._finalizer.detach()

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- accessors ---------------------------------------------------------

    @property
    def port(self) -> int:
        """TCP port the server listens on."""
        if self._port is None:
            raise RuntimeError("StubServer is not running")
        return self._port

    @property
    def endpoint_url(self) -> str:
        """Base URL to pass as boto3's ``endpoint_url``."""
        host = self.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def pid(self) -> int:
        """Process id of the server (e.g. for psutil CPU accounting)."""
        if self._proc is None:
            raise RuntimeError("StubServer is not running")
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """Exit status once the process has ended, else ``None``."""
        return None if self._proc is None else self._proc.poll()

    def stats(self, timeout: float = 5.0) -> dict[str, Any]:
        """Fetch ``GET /__stats``: request count, open connections, CPU seconds."""
        # No proxy handler: never route loopback traffic through $http_proxy.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{self.endpoint_url}/__stats", timeout=timeout) as resp:
            data: dict[str, Any] = json.loads(resp.read())
        return data

    def __repr__(self) -> str:
        state = f"port={self._port}" if self._port is not None else "not started"
        return f"<StubServer {state} latency_ms={self.latency_ms} threads={self.threads}>"


def main(argv: Sequence[str] | None = None) -> int:
    """Run a stub server in the foreground (``python -m benchmarks.stub``)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.stub", description="Run the benchmark stub AWS endpoint."
    )
    parser.add_argument("--latency-ms", type=int, default=0, help="delay added to each response")
    parser.add_argument("--threads", type=int, default=1, help="event-loop threads")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    args = parser.parse_args(argv)
    with StubServer(args.latency_ms, args.threads, host=args.host) as server:
        print(f"stub server pid {server.pid} at {server.endpoint_url} (Ctrl-C to stop)", flush=True)
        try:
            while server.returncode is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        # Ctrl-C also reaches the server (same process group), which may be gone.
        with contextlib.suppress(OSError):
            print(json.dumps(server.stats(timeout=1.0)))
    return 0
