"""A scripted HTTP endpoint on 127.0.0.1, and AWS event-stream frames to send from it.

``ScriptedServer(answer)`` calls ``answer(reply)`` for every request (after
reading it in full); the script writes the response piece by piece with
``reply.start(status, headers)``, ``reply.write(data)`` and may block on a
``threading.Event`` in between, to stall a response half way. The connection
is closed when the script returns. Used where moto cannot serve a case: event
streams of services it does not stream, stalled and truncated bodies.

``event_frame(headers, payload)`` encodes one message of the
``application/vnd.amazon.eventstream`` format the way AWS sends it: prelude
(total and header lengths, CRC32 of both), typed headers, payload, CRC32 of
the whole message.
"""

from __future__ import annotations

import contextlib
import http.server
import socketserver
import struct
import threading
import zlib
from typing import Any, Callable

__all__ = ["Reply", "ScriptedServer", "event_frame", "event_message"]


class Reply:
    """What a script uses to answer one request."""

    def __init__(self, handler: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
        self._handler = handler
        self.method = handler.command
        self.path = handler.path
        self.headers = handler.headers
        self.body = body

        self._chunked = False

    def start(self, status: int, headers: dict[str, str], *, chunked: bool = False) -> None:
        """Send the status and headers; ``chunked`` sends each ``write`` as one
        HTTP chunk, as AWS sends event streams, so the client sees it at once."""
        self._handler.send_response(status)
        for name, value in headers.items():
            self._handler.send_header(name, value)
        if chunked:
            self._handler.send_header("Transfer-Encoding", "chunked")
        self._handler.send_header("Connection", "close")
        self._handler.end_headers()
        self._handler.wfile.flush()
        self._chunked = chunked

    def write(self, data: bytes) -> None:
        if self._chunked:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self._handler.wfile.write(data)
        self._handler.wfile.flush()

    def end(self) -> None:
        """The last chunk of a chunked response."""
        self._handler.wfile.write(b"0\r\n\r\n")
        self._handler.wfile.flush()


class _ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # tests open up to 1000 connections at once
    block_on_close = False


class ScriptedServer:
    """An HTTP/1.1 server on a free port of 127.0.0.1 answering every request with a script."""

    def __init__(self, answer: Callable[[Reply], None]) -> None:
        self.requests: list[Reply] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                reply = Reply(self, self.rfile.read(length))
                outer.requests.append(reply)
                # the client may hang up first: that is its right
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    answer(reply)
                self.close_connection = True

            do_GET = do_POST = do_PUT = do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _ThreadingServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _header(name: str, value: str) -> bytes:
    encoded_name = name.encode()
    encoded_value = value.encode()
    # type 7 is a string: a 16-bit length, then the UTF-8 bytes
    return (
        struct.pack("!B", len(encoded_name))
        + encoded_name
        + struct.pack("!BH", 7, len(encoded_value))
        + encoded_value
    )


def event_frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One binary event-stream message."""
    encoded_headers = b"".join(_header(name, value) for name, value in headers.items())
    total = 12 + len(encoded_headers) + len(payload) + 4
    prelude = struct.pack("!II", total, len(encoded_headers))
    prelude += struct.pack("!I", zlib.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + encoded_headers + payload
    return message + struct.pack("!I", zlib.crc32(message) & 0xFFFFFFFF)


def event_message(event_type: str, payload: bytes, content_type: str = "application/json") -> bytes:
    """An ``event`` message, as services send each event of a stream."""
    return event_frame(
        {":message-type": "event", ":event-type": event_type, ":content-type": content_type},
        payload,
    )
