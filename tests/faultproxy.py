"""A fault-injecting HTTP proxy on 127.0.0.1, for tests of network failures.

``FaultProxy`` listens on a free port of 127.0.0.1 and stands between a client
and an upstream HTTP server (moto server): point the client's ``endpoint_url``
at ``proxy.url``. What it does with each request depends on its mode, which a
test may change at any time with ``set_mode``; a request sees the mode in force
when it has been read in full.

Listener modes (nothing is read):

``refuse``
    Nothing listens on the port (the port stays reserved by a bound socket that
    never listens), so connecting fails with ECONNREFUSED: the server is down.
``stall_connect``
    The port listens with a backlog of zero and the accept queue filled by the
    proxy's own connections, so Linux drops new SYNs and ``connect()`` never
    completes: a connect timeout, on loopback, without a non-routable address.

Request modes (the request, headers and body, is read in full first, and
counted in ``requests``):

``forward``
    Send the request upstream and its answer back.
``reset``
    Answer nothing: abort the connection with a TCP RST (SO_LINGER 0).
``drop``
    Answer nothing: close the connection normally (FIN).
``stall``
    Answer nothing and keep the connection open, until the client gives up or
    the proxy closes: a read timeout.
``truncate``
    Forward, but send only ``keep`` bytes of the answer's body (half of it by
    default) after headers announcing all of it, then close (``then="close"``)
    or keep the connection open without sending more (``then="stall"``: a read
    timeout in the middle of the body).
``slow``
    Forward, but drip the whole answer (status line and headers included),
    ``chunk`` bytes (64) at a time, one chunk every ``interval`` seconds (0.05).
``throttle``
    Answer the first ``count`` requests with a throttling error (``style="json"``:
    HTTP 400 ``ThrottlingException`` as JSON services send it; ``style="s3"``:
    HTTP 503 ``SlowDown`` as S3 sends it), then forward; ``throttled`` counts
    the answers given.
``bad_tls``
    ``forward`` behind TLS with a certificate from a throwaway CA that no client
    trusts (or the ``ssl_context`` given), so verification fails; a client that
    does not verify gets the upstream's answers.

The proxy runs on background threads (one acceptor, one per connection), all
joined by ``close()``; every socket it opens is closed by then.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import select
import socket
import ssl
import struct
import threading
import time
import urllib.parse
import uuid
from typing import Any

__all__ = ["MODES", "FaultProxy"]

LISTENER_MODES = frozenset({"refuse", "stall_connect"})
REQUEST_MODES = frozenset(
    {"forward", "reset", "drop", "stall", "truncate", "slow", "throttle", "bad_tls"}
)
MODES = LISTENER_MODES | REQUEST_MODES

# Headers that belong to one hop and are never passed on as they came.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "expect"}
)
_MAX_HEADER_BYTES = 64 * 1024
_OPTIONS = {
    "truncate": frozenset({"keep", "then"}),
    "slow": frozenset({"chunk", "interval"}),
    "throttle": frozenset({"count", "style", "status", "code"}),
}


class _Closed(Exception):
    """The peer closed the connection, or the proxy is shutting down."""


class _Reader:
    """Buffered reads from a socket: whole lines, exact sizes, a header block."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise _Closed
        self.buffer += data

    def until(self, marker: bytes, limit: int = _MAX_HEADER_BYTES) -> bytes:
        while True:
            at = self.buffer.find(marker)
            if at >= 0:
                end = at + len(marker)
                data = bytes(self.buffer[:end])
                del self.buffer[:end]
                return data
            if len(self.buffer) > limit:
                raise _Closed
            self._fill()

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data


class Request:
    """One HTTP request as read from the client."""

    def __init__(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes):
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body  # as framed on the wire (chunked bodies stay chunked)

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.target} body={len(self.body)}B>"


class FaultProxy:
    """A fault-injecting proxy (or, without ``upstream``, a fake endpoint).

    ``with FaultProxy("http://127.0.0.1:5000", "reset") as proxy:`` then
    ``boto3.client(..., endpoint_url=proxy.url)``.

    Counters (read them once the client call has returned): ``connections``
    (TCP connections accepted), ``requests`` (requests read in full),
    ``throttled`` (throttling answers sent), ``tls_failures`` (TLS handshakes
    that failed). ``log`` lists every request read, as ``(method, target)``.
    """

    def __init__(
        self,
        upstream: str | None = None,
        mode: str = "forward",
        *,
        ssl_context: ssl.SSLContext | None = None,
        **options: Any,
    ) -> None:
        self.upstream = upstream
        if upstream is not None:
            parts = urllib.parse.urlsplit(upstream)
            if parts.scheme != "http" or parts.hostname is None:
                raise ValueError(f"upstream must be an http:// URL, not {upstream!r}")
            self._upstream_address = (parts.hostname, parts.port or 80)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._mode = "forward"
        self._options: dict[str, Any] = {}
        self.connections = 0
        self.requests = 0
        self.throttled = 0
        self.tls_failures = 0
        self.log: list[tuple[str, str]] = []
        self._stalled = 0
        self._ca: Any = None
        if ssl_context is None and mode == "bad_tls":
            ssl_context = self._throwaway_tls()
        self.ssl_context = ssl_context
        # Listener state, owned by the acceptor thread once it runs.
        self._listener: socket.socket | None = None
        self._fillers: list[socket.socket] = []
        self._listener_mode = "refuse"
        self._listener_state = "refuse"  # bound, not yet listening
        self._listener_error: Exception | None = None
        self._listener_changed = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._conns: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._acceptor: threading.Thread | None = None
        self.port = self._bind_free_port()
        self.set_mode(mode, **options)

    # -- public API ---------------------------------------------------------

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def active_connections(self) -> int:
        """Client connections the proxy holds open right now."""
        with self._lock:
            return len(self._conns)

    @property
    def stalled_connections(self) -> int:
        """Connections held open without an answer (``stall``, ``truncate``
        with ``then="stall"``) that the client has not closed yet."""
        with self._lock:
            return self._stalled

    def set_mode(self, mode: str, **options: Any) -> None:
        """Switch to ``mode`` with its options; resets ``throttled``.

        Switching to or from a listener mode drops every open connection, so a
        client's pooled connections cannot bypass the new mode.
        """
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; modes are {sorted(MODES)}")
        if mode == "bad_tls" and self.ssl_context is None:
            raise ValueError("bad_tls needs a proxy created with TLS (mode='bad_tls')")
        unknown = set(options) - _OPTIONS.get(mode, frozenset())
        if unknown:
            raise TypeError(f"mode {mode!r} takes no option {sorted(unknown)}")
        if mode in {"forward", "truncate", "slow", "throttle", "bad_tls"} and self.upstream is None:
            raise ValueError(f"mode {mode!r} needs an upstream")
        with self._lock:
            self._mode = mode
            self._options = dict(options)
            self.throttled = 0
        wanted = mode if mode in LISTENER_MODES else "forward"
        if wanted != self._listener_mode:
            self._listener_mode = wanted
            self._drop_connections()
            self._listener_changed.clear()
            self._listener_error = None
            if self._acceptor is None:
                self._apply_listener_mode()
            else:
                self._wake_w.send(b"x")
                if not self._listener_changed.wait(30):  # a hang guard
                    raise RuntimeError("the proxy's acceptor did not switch its listener")
            if self._listener_error is not None:
                raise self._listener_error

    def reset_counts(self) -> None:
        with self._lock:
            self.connections = self.requests = self.throttled = self.tls_failures = 0
            self.log = []

    def wait_for_requests(self, count: int, timeout: float = 30.0) -> None:
        """Block until ``requests >= count`` (for a call started elsewhere)."""
        deadline = time.monotonic() + timeout
        while self.requests < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"proxy saw {self.requests} requests, expected {count}")
            time.sleep(0.005)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until the proxy holds no client connection; True if it got there."""
        deadline = time.monotonic() + timeout
        while self.active_connections:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def start(self) -> FaultProxy:
        if self._acceptor is None:
            self._acceptor = threading.Thread(
                target=self._accept_loop, name=f"faultproxy-{self.port}", daemon=True
            )
            self._acceptor.start()
        return self

    def close(self) -> None:
        """Stop accepting, drop every connection, join every thread, close every socket."""
        if self._closing.is_set():
            return
        self._closing.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if self._acceptor is not None:
            self._acceptor.join(10)
        self._drop_connections()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(10)
        self._close_listener()
        self._wake_r.close()
        self._wake_w.close()
        alive = [t.name for t in threads if t.is_alive()]
        if self._acceptor is not None and self._acceptor.is_alive():
            alive.append(self._acceptor.name)
        if alive:
            raise RuntimeError(f"fault proxy threads did not stop: {alive}")

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<FaultProxy {self.url} mode={self._mode} requests={self.requests}>"

    # -- TLS ------------------------------------------------------------------

    def _throwaway_tls(self) -> ssl.SSLContext:
        import trustme

        self._ca = trustme.CA()  # trusted by nobody: not written anywhere
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        return context

    # -- listener -------------------------------------------------------------

    def _bind_free_port(self) -> int:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._listener = sock
        return int(sock.getsockname()[1])

    def _new_bound_socket(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        return sock

    def _close_listener(self) -> None:
        for filler in self._fillers:
            filler.close()
        self._fillers = []
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _apply_listener_mode(self) -> None:
        """Make the listening socket match ``_listener_mode`` (acceptor thread,
        or the constructor before the acceptor starts)."""
        mode = self._listener_mode
        try:
            if mode == self._listener_state:
                return
            if mode == "forward" and self._listener_state == "refuse":
                assert self._listener is not None
                self._listener.listen(128)  # the reserved port simply starts listening
            else:
                # A listening socket cannot stop listening: make a new one on the port.
                self._close_listener()
                self._listener = self._new_bound_socket()
                if mode == "forward":
                    self._listener.listen(128)
                elif mode == "stall_connect":
                    self._listener.listen(0)
                    self._fill_accept_queue()
                # "refuse": a bound socket that never listens keeps the port
                # ours, and SYNs to it are answered with RST: the server is down.
            self._listener_state = mode
        except Exception as error:
            self._listener_error = error
        finally:
            self._listener_changed.set()

    def _fill_accept_queue(self) -> None:
        # With the accept queue full, Linux drops each new SYN without a reply
        # (tcp_conn_request: "if (sk_acceptq_is_full(sk)) goto drop"), whatever
        # tcp_abort_on_overflow says; the client's connect() simply times out.
        for _ in range(16):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", self.port))
            _, writable, _ = select.select([], [filler], [], 0.2)
            if writable and filler.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                self._fillers.append(filler)  # queued, never accepted
                continue
            filler.close()  # its SYN was dropped: the queue is full
            return
        raise RuntimeError("could not fill the accept queue to stall connects")

    def _accept_loop(self) -> None:
        try:
            while not self._closing.is_set():
                listener = self._listener if self._listener_state == "forward" else None
                watch: list[Any] = [self._wake_r] + ([listener] if listener else [])
                ready, _, _ = select.select(watch, [], [], 0.5)
                if self._wake_r in ready:
                    self._wake_r.recv(4096)
                    self._apply_listener_mode()
                    continue
                if listener is not None and listener in ready:
                    try:
                        conn, _ = listener.accept()
                    except OSError:
                        continue
                    self._start_handler(conn)
        finally:
            self._listener_changed.set()

    def _start_handler(self, conn: socket.socket) -> None:
        with self._lock:
            if self._closing.is_set():
                conn.close()
                return
            self.connections += 1
            self._conns.add(conn)
            thread = threading.Thread(
                target=self._handle, args=(conn,), name=f"faultproxy-conn-{self.port}", daemon=True
            )
            self._threads.add(thread)
        thread.start()

    def _drop_connections(self) -> None:
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    # -- one connection -------------------------------------------------------

    def _handle(self, conn: socket.socket) -> None:
        upstream: http.client.HTTPConnection | None = None
        sock: socket.socket = conn
        try:
            if self.ssl_context is not None:
                conn.settimeout(5)
                sock = self.ssl_context.wrap_socket(
                    conn, server_side=True, do_handshake_on_connect=False
                )
                with self._lock:  # ``conn`` is detached now: track the TLS socket
                    self._conns.discard(conn)
                    self._conns.add(sock)
                try:
                    sock.do_handshake()
                except (ssl.SSLError, OSError):
                    with self._lock:
                        self.tls_failures += 1
                    return
            sock.settimeout(30)
            reader = _Reader(sock)
            while not self._closing.is_set():
                request = self._read_request(reader, sock)
                with self._lock:
                    self.requests += 1
                    self.log.append((request.method, request.target))
                    mode, options = self._mode, dict(self._options)
                    if mode == "throttle" and self.throttled < options.get("count", 1):
                        self.throttled += 1
                    elif mode == "throttle":
                        mode = "forward"
                if mode == "reset":
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                if mode == "drop":
                    return
                if mode == "stall":
                    self._wait_for_client_to_leave(sock)
                    return
                if mode == "throttle":
                    sock.sendall(self._throttle_answer(request, options))
                    continue
                if mode in LISTENER_MODES:
                    return  # switched while this request was being read
                if upstream is None:
                    host, port = self._upstream_address
                    upstream = http.client.HTTPConnection(host, port, timeout=30)
                head, body = self._forward(upstream, request)
                if mode == "truncate":
                    keep = options.get("keep", len(body) // 2)
                    if not 0 <= keep < len(body):
                        raise ValueError(f"truncate keep={keep} for a body of {len(body)} bytes")
                    sock.sendall(head + body[:keep])
                    if options.get("then", "close") == "stall":
                        self._wait_for_client_to_leave(sock)
                    return
                if mode == "slow":
                    self._drip(sock, head + body, options)
                    continue
                sock.sendall(head + body)
        except (_Closed, OSError, http.client.HTTPException):
            pass
        finally:
            if upstream is not None:
                upstream.close()
            with self._lock:
                self._conns.discard(sock)
                self._conns.discard(conn)
                self._threads.discard(threading.current_thread())
            sock.close()
            conn.close()

    def _read_request(self, reader: _Reader, sock: socket.socket) -> Request:
        head = reader.until(b"\r\n\r\n")
        lines = head[:-4].decode("latin-1").split("\r\n")
        while lines and not lines[0]:
            lines.pop(0)  # tolerate stray CRLF between requests
        if not lines:
            raise _Closed
        method, target, _version = lines[0].split(" ", 2)
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
        request = Request(method, target, headers, b"")
        if (request.header("expect") or "").lower() == "100-continue":
            sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in (request.header("transfer-encoding") or "").lower():
            parts = []
            while True:
                size_line = reader.until(b"\r\n")
                parts.append(size_line)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers, then the empty line
                        line = reader.until(b"\r\n")
                        parts.append(line)
                        if line == b"\r\n":
                            break
                    break
                parts.append(reader.exactly(size + 2))
            request.body = b"".join(parts)
        else:
            request.body = reader.exactly(int(request.header("content-length") or 0))
        return request

    def _forward(
        self, upstream: http.client.HTTPConnection, request: Request
    ) -> tuple[bytes, bytes]:
        upstream.putrequest(
            request.method, request.target, skip_host=True, skip_accept_encoding=True
        )
        for name, value in request.headers:
            if name.lower() not in _HOP_BY_HOP or name.lower() == "trailer":
                upstream.putheader(name, value)
        upstream.endheaders(request.body or None)
        response = upstream.getresponse()
        body = response.read()  # de-chunked; empty for HEAD
        bodiless = request.method == "HEAD" or response.status in (204, 304)
        lines = [f"HTTP/1.1 {response.status} {response.reason}"]
        for name, value in response.msg.items():
            lowered = name.lower()
            if lowered in _HOP_BY_HOP or lowered == "transfer-encoding":
                continue
            if lowered == "content-length" and not bodiless:
                continue
            lines.append(f"{name}: {value}")
        if not bodiless:
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), body

    def _drip(self, sock: socket.socket, data: bytes, options: dict[str, Any]) -> None:
        chunk = int(options.get("chunk", 64))
        interval = float(options.get("interval", 0.05))
        for start in range(0, len(data), chunk):
            if start and self._closing.wait(interval):
                raise _Closed
            sock.sendall(data[start : start + chunk])

    def _wait_for_client_to_leave(self, sock: socket.socket) -> None:
        with self._lock:
            self._stalled += 1
        try:
            while not self._closing.is_set():
                readable, _, _ = select.select([sock], [], [], 0.05)
                if readable:
                    try:
                        if not sock.recv(65536):
                            return  # the client closed its end
                    except OSError:
                        return
        finally:
            with self._lock:
                self._stalled -= 1

    @staticmethod
    def _throttle_answer(request: Request, options: dict[str, Any]) -> bytes:
        request_id = str(uuid.uuid4())
        if options.get("style", "json") == "s3":
            status = int(options.get("status", 503))
            reason = "Slow Down"
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{options.get('code', 'SlowDown')}</Code>"
                "<Message>Please reduce your request rate.</Message>"
                f"<RequestId>{request_id}</RequestId></Error>"
            ).encode()
            headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
        else:
            status = int(options.get("status", 400))
            reason = "Bad Request"
            code = options.get("code", "ThrottlingException")
            body = json.dumps({"__type": code, "message": "Rate exceeded"}).encode()
            headers = [
                ("Content-Type", "application/x-amz-json-1.1"),
                ("x-amzn-RequestId", request_id),
                ("x-amzn-ErrorType", code),
            ]
        head = [f"HTTP/1.1 {status} {reason}"]
        head += [f"{name}: {value}" for name, value in headers]
        head.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
