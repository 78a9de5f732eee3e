"""An HTTP endpoint on 127.0.0.1 that records every request exactly as it arrived.

``CaptureServer()`` listens on a free port; point a client's ``endpoint_url`` at
``server.url`` (``https://...`` with ``ssl_context``), or use it as a proxy
(``server.proxy_url``): it answers ``CONNECT`` with 200 and goes on reading
requests inside the tunnel, behind TLS when it has an ``ssl_context``, as the
endpoint the client asked for. Each request read is appended to ``requests``
as a ``Captured``: the request line's parts, the header block as raw
``(name, value)`` pairs in order, and the body (de-chunked, with
``chunked=True`` then). Tunnels are recorded too, as ``Captured`` entries whose
method is ``CONNECT``.

Every request gets the same plausible answer: ``200``, an empty JSON object
for JSON protocols and an empty body otherwise, so no client retries. Nothing
is forwarded anywhere.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import ssl
import threading
from dataclasses import dataclass

__all__ = ["CaptureServer", "Captured"]

_MAX_HEAD = 256 * 1024


@dataclass
class Captured:
    """One request (or ``CONNECT``) as it arrived, byte for byte where it matters."""

    method: str
    target: bytes  # the request target exactly as sent
    version: str
    headers: list[tuple[bytes, bytes]]  # raw names and values (what follows the colon), in order
    body: bytes = b""
    chunked: bool = False
    tls: bool = False  # read over TLS (directly, or inside a CONNECT tunnel)
    tunnelled: bool = False  # read inside a CONNECT tunnel

    def header(self, name: bytes) -> bytes | None:
        """The value of header ``name``, without the whitespace around it."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value.strip(b" \t")
        return None


class _Stream:
    """Buffered reads from a socket (plain or TLS)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buffer += data
        return bool(data)

    def until(self, marker: bytes) -> bytes | None:
        """Everything up to and including ``marker``; None if the peer closed first."""
        while True:
            at = self.buffer.find(marker)
            if at >= 0:
                data = bytes(self.buffer[: at + len(marker)])
                del self.buffer[: at + len(marker)]
                return data
            if len(self.buffer) > _MAX_HEAD or not self._fill():
                return None

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self._fill():
                raise ConnectionError("the client closed in the middle of a body")
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(10)
        owner = self.server.owner
        tls = False
        try:
            if owner.ssl_context is not None and not owner.proxy_only:
                sock = owner.wrap(sock)
                tls = True
            owner.track(sock)
            self._serve(sock, tls=tls, tunnelled=False)
        except (OSError, ValueError, ConnectionError):
            pass  # the client went away, or the server is closing; what was read is recorded

    def _serve(self, sock: socket.socket, *, tls: bool, tunnelled: bool) -> None:
        owner = self.server.owner
        stream = _Stream(sock)
        while True:
            head = stream.until(b"\r\n\r\n")
            if head is None:
                return
            lines = head[:-4].split(b"\r\n")
            method, target, version = lines[0].split(b" ", 2)
            headers = []
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                headers.append((name, value))  # as sent, whitespace included
            request = Captured(
                method.decode("ascii"),
                target,
                version.decode("ascii"),
                headers,
                tls=tls,
                tunnelled=tunnelled,
            )
            if request.method == "CONNECT":
                owner.record(request)
                sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if owner.ssl_context is not None:
                    sock = owner.wrap(sock)
                    owner.track(sock)
                self._serve(sock, tls=owner.ssl_context is not None, tunnelled=True)
                return
            if (request.header(b"expect") or b"").lower() == b"100-continue":
                sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            if (request.header(b"transfer-encoding") or b"").lower() == b"chunked":
                request.chunked = True
                parts = []
                while True:
                    size_line = stream.until(b"\r\n")
                    if size_line is None:
                        raise ConnectionError("the client closed in a chunked body")
                    size = int(size_line.split(b";")[0], 16)
                    if size == 0:
                        while stream.until(b"\r\n") not in (b"\r\n", None):
                            pass  # trailers, then the blank line that ends the body
                        break
                    parts.append(stream.exactly(size))
                    stream.exactly(2)
                request.body = b"".join(parts)
            else:
                request.body = stream.exactly(int(request.header(b"content-length") or b"0"))
            owner.record(request)
            json = b"json" in (request.header(b"content-type") or b"")
            body = b"{}" if json else b"<Response/>"
            content_type = b"application/x-amz-json-1.1" if json else b"application/xml"
            sock.sendall(
                b"HTTP/1.1 200 OK\r\nx-amzn-RequestId: captured\r\nContent-Type: "
                + content_type
                + b"\r\nContent-Length: %d\r\n\r\n" % len(body)
                + (b"" if request.method == "HEAD" else body)
            )


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = False
    block_on_close = True  # server_close() joins every connection's thread
    allow_reuse_address = True
    owner: CaptureServer


class CaptureServer:
    """Records requests; see the module docstring. Use it as a context manager."""

    def __init__(
        self, ssl_context: ssl.SSLContext | None = None, *, proxy_only: bool = False
    ) -> None:
        # proxy_only: TLS (if any) only inside CONNECT tunnels, the listener
        # itself speaks plain HTTP, as an ordinary forward proxy does.
        self.ssl_context = ssl_context
        self.proxy_only = proxy_only
        self.requests: list[Captured] = []
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []  # open connections, shut at close
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None and not self.proxy_only else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wrap(self, sock: socket.socket) -> socket.socket:
        assert self.ssl_context is not None
        return self.ssl_context.wrap_socket(sock, server_side=True)

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)

    def record(self, request: Captured) -> None:
        with self._lock:
            self.requests.append(request)

    def take(self) -> list[Captured]:
        """The requests recorded so far, forgetting them."""
        with self._lock:
            taken, self.requests = self.requests, []
        return taken

    def __enter__(self) -> CaptureServer:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:  # wakes each connection's thread out of recv()
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
