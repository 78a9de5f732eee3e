"""A local AWS endpoint for the demo and the tests: moto's server in a child process.

``moto_server(latency_ms=20)`` adds a fixed delay to every answer, the way a
real AWS endpoint a few milliseconds away would, so that concurrency shows.
Run directly, it is that server: ``python -m examples.local_aws --port 5000``.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def moto_server(
    latency_ms: float = 0, *, cert: str | None = None, key: str | None = None
) -> Iterator[str]:
    """Start moto on a free port of 127.0.0.1 and yield its URL (https with cert/key)."""
    port = free_port()
    command = [sys.executable, "-m", "examples.local_aws", "--port", str(port)]
    command += ["--latency-ms", str(latency_ms)]
    if cert and key:
        command += ["--cert", cert, "--key", key]
    root = str(Path(__file__).resolve().parent.parent)
    proc = subprocess.Popen(command, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"moto server exited with {proc.returncode}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start within 30 s") from None
                time.sleep(0.05)
        yield f"{'https' if cert else 'http'}://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _serve(port: int, latency_ms: float, cert: str | None, key: str | None) -> None:
    """moto's own server (``moto.server.main``, its command line), whose
    application answers ``latency_ms`` late."""
    import moto.server

    if latency_ms:
        delay = latency_ms / 1000
        application: Any = moto.server.DomainDispatcherApplication

        class Delayed(application):  # type: ignore[misc,valid-type]
            def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
                time.sleep(delay)  # each request has its own server thread
                return super().__call__(environ, start_response)

        # main() builds its application from this name of its own module.
        moto.server.DomainDispatcherApplication = Delayed  # type: ignore[misc]
    argv = ["--host", "127.0.0.1", "--port", str(port)]
    if cert and key:
        argv += ["--ssl-cert", cert, "--ssl-key", key]
    moto.server.main(argv)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="moto server with an optional fixed latency")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    options = parser.parse_args()
    _serve(options.port, options.latency_ms, options.cert, options.key)
