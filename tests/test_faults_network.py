"""More network faults, each compared at run time with what sync boto3 does:
the exception class and message (endpoints masked) or the result, and the
number of attempts botocore made. Under the thread and native engines.

The servers here speak raw HTTP on 127.0.0.1 (a scripted socket per
connection), for faults neither moto nor the fault proxy can produce.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import aboto3

from .conftest import REGION, TLSFiles, comparable
from .faultproxy import FaultProxy
from .test_uploads import SinkServer, write_file
from .waits import wait_until

RETRIES = {"max_attempts": 3, "mode": "standard"}
TIMEOUTS = {"connect_timeout": 2, "read_timeout": 2}
PARAMETER = b'{"Parameter": {"Name": "/p", "Type": "String", "Value": "v", "Version": 1}}'


@pytest.fixture(params=["threads", "native"])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class RawServer:
    """Answers each connection with ``script(connection, head)`` once the
    request head has arrived; the connection closes when the script returns."""

    def __init__(
        self,
        script: Callable[[socket.socket, bytes], None],
        tls: ssl.SSLContext | None = None,
        read_head: bool = True,
    ) -> None:
        self._script = script
        self._tls = tls
        self._read_head = read_head
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http{'s' if tls else ''}://127.0.0.1:{self._listener.getsockname()[1]}"
        self.connections = 0
        self.closed_connections = 0  # whose script has returned (the server closed them)
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            self._serve_connection(connection)
        finally:
            self.closed_connections += 1

    def _serve_connection(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError, ssl.SSLError), connection:
            connection.settimeout(5)
            if self._tls is not None:
                connection = self._tls.wrap_socket(connection, server_side=True)
            head = b""
            while self._read_head and b"\r\n\r\n" not in head:
                data = connection.recv(65536)
                if not data:
                    return
                head += data
            # A small body is read too: closing on unread bytes would send a reset,
            # which may reach the client before the answer is read (then it retries).
            body_size = small_body_size(head)
            while body_size and len(head) - head.index(b"\r\n\r\n") - 4 < body_size:
                data = connection.recv(65536)
                if not data:
                    return
                head += data
            self._script(connection, head)

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self._acceptor.join(5)
        for thread in self._threads:
            thread.join(5)


def small_body_size(head: bytes) -> int:
    """The Content-Length of a request whose body the server should read before
    answering: none when the client waits for 100 Continue or the body is large
    (the scripts of those tests read it, or not, themselves)."""
    lines = head.lower().split(b"\r\n")
    if b"expect: 100-continue" in lines:
        return 0
    for line in lines:
        if line.startswith(b"content-length:"):
            size = int(line.split(b":", 1)[1])
            return size if size <= 65536 else 0
    return 0


@contextlib.contextmanager
def raw_server(
    script: Callable[[socket.socket, bytes], None],
    tls: ssl.SSLContext | None = None,
    read_head: bool = True,
) -> Iterator[RawServer]:
    server = RawServer(script, tls, read_head)
    try:
        yield server
    finally:
        server.close()


def json_answer(status: str, body: bytes, *extra: str) -> bytes:
    head = [f"HTTP/1.1 {status}", "Content-Type: application/x-amz-json-1.1"]
    head += [f"Content-Length: {len(body)}", "x-amzn-RequestId: r", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class Attempts:
    """A ``before-send`` hook: counts the HTTP attempts botocore makes."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, **_: Any) -> None:
        self.count += 1


def make(url: str, service: str = "ssm", verify: Any = None, **config: Any) -> tuple[Any, Attempts]:
    options: dict[str, Any] = {"retries": dict(RETRIES), **TIMEOUTS, **config}
    if service == "s3":
        options["s3"] = {"addressing_style": "path"}
    client = boto3.client(
        service, region_name=REGION, endpoint_url=url, verify=verify, config=Config(**options)
    )
    attempts = Attempts()
    client.meta.events.register("before-send", attempts)
    return client, attempts


def outcome(error: BaseException | None, result: Any, attempts: Attempts, url: str) -> Any:
    if error is None:
        return ("ok", comparable(result), attempts.count)
    return (type(error), str(error).replace(url, "<endpoint>"), attempts.count)


async def compare(
    engine: str,
    url: str,
    method: str,
    service: str = "ssm",
    *,
    kwargs: Callable[[], dict[str, Any]] = dict,
    verify: Any = None,
    between: Callable[[], object] = lambda: None,
    tls_reason_may_differ: bool = False,
    **config: Any,
) -> Any:
    """Run the call on sync boto3, then (after ``between()``) on ``engine``;
    both must end alike. A TLS failure's message ends with the TLS library's
    own words (Python's ssl module, or libcurl's): with
    ``tls_reason_may_differ`` only the sentence before them is compared."""
    sync_client, sync_attempts = make(url, service, verify, **config)
    try:
        result = await asyncio.to_thread(getattr(sync_client, method), **kwargs())
        expected = outcome(None, result, sync_attempts, url)
    except Exception as error:
        expected = outcome(error, None, sync_attempts, url)
    between()
    client, attempts = make(url, service, verify, **config)
    async with aboto3.AIOClient(client, engine=engine) as aio:
        try:
            result = await asyncio.wait_for(getattr(aio, method)(**kwargs()), 60)
            actual = outcome(None, result, attempts, url)
        except Exception as error:
            actual = outcome(error, None, attempts, url)
    if tls_reason_may_differ:
        expected = (*expected[:1], expected[1].split("<endpoint>/")[0], *expected[2:])
        actual = (*actual[:1], actual[1].split("<endpoint>/")[0], *actual[2:])
    assert actual == expected
    return expected


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- connecting ----------------------------------------------------------------


async def test_dns_name_that_does_not_resolve(engine: str) -> None:
    # .invalid never resolves (RFC 6761): the resolver answers at once.
    expected = await compare(
        engine, "http://no-such-host.invalid", "get_parameter", kwargs=lambda: {"Name": "/p"}
    )
    assert expected[0].__name__ == "EndpointConnectionError"


async def test_tls_handshake_failure(engine: str) -> None:
    # The server answers the TLS ClientHello with plain HTTP.
    def script(connection: socket.socket, head: bytes) -> None:
        connection.sendall(json_answer("400 Bad Request", b"{}"))

    with raw_server(script, read_head=False) as server:
        https_url = server.url.replace("http://", "https://")
        expected = await compare(
            engine,
            https_url,
            "get_parameter",
            kwargs=lambda: {"Name": "/p"},
            tls_reason_may_differ=True,
        )
    assert expected[0].__name__ == "SSLError"


async def test_certificate_hostname_mismatch(engine: str, tls_files: TLSFiles) -> None:
    context = tls_files.server_context("other.example")  # a trusted CA, another name
    with raw_server(lambda c, h: c.sendall(json_answer("200 OK", PARAMETER)), context) as server:
        expected = await compare(
            engine,
            server.url,
            "get_parameter",
            kwargs=lambda: {"Name": "/p"},
            verify=tls_files.ca_bundle,
            tls_reason_may_differ=True,
        )
    assert expected[0].__name__ == "SSLError"


# -- proxies -----------------------------------------------------------------


async def test_proxy_that_refuses(engine: str, moto_url: str) -> None:
    proxies = {"http": f"http://127.0.0.1:{free_port()}"}
    expected = await compare(
        engine, moto_url, "get_parameter", kwargs=lambda: {"Name": "/p"}, proxies=proxies
    )
    assert expected[0].__name__ == "ProxyConnectionError"


async def test_proxy_answering_407(engine: str) -> None:
    def script(connection: socket.socket, head: bytes) -> None:
        body = b"proxy authentication required"
        connection.sendall(
            b"HTTP/1.1 407 Proxy Authentication Required\r\n"
            b'Proxy-Authenticate: Basic realm="proxy"\r\n'
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )

    with raw_server(script) as proxy:
        expected = await compare(
            engine,
            "http://ssm.test.invalid",
            "get_parameter",
            kwargs=lambda: {"Name": "/p"},
            proxies={"http": proxy.url},
        )
    assert expected[0] != "ok"


# -- answers -----------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503])
async def test_server_error_that_recovers_on_retry(
    engine: str, status: int, moto_url: str, make_proxy: Callable[..., FaultProxy]
) -> None:
    boto3.client("ssm", region_name=REGION, endpoint_url=moto_url).put_parameter(
        Name="/p", Value="v", Type="String"
    )
    code = "InternalServerError" if status == 500 else "ServiceUnavailable"
    proxy = make_proxy("throttle", count=1, status=status, code=code)
    expected = await compare(
        engine,
        proxy.url,
        "get_parameter",
        kwargs=lambda: {"Name": "/p"},
        between=proxy.reset_counts,
    )
    assert expected[0] == "ok" and expected[2] == 2  # one failure, one retry


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b"HTTP/1.1 abc Broken\r\nContent-Length: 0\r\n\r\n", id="malformed-status"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 200_000 + b"\r\nContent-Length: 0\r\n\r\n",
            id="oversized-headers",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n"
            b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
            id="broken-chunked",
        ),
        pytest.param(json_answer("200 OK", PARAMETER)[:-10] + b"\r\n\r\n", id="headers-only"),
    ],
)
async def test_broken_answer(engine: str, answer: bytes) -> None:
    with raw_server(lambda c, h: c.sendall(answer)) as server:
        await compare(engine, server.url, "get_parameter", kwargs=lambda: {"Name": "/p"})


async def test_body_longer_than_content_length(engine: str) -> None:
    def script(connection: socket.socket, head: bytes) -> None:
        connection.sendall(json_answer("200 OK", PARAMETER) + b"and some bytes too many")

    with raw_server(script) as server:
        expected = await compare(engine, server.url, "get_parameter", kwargs=lambda: {"Name": "/p"})
    assert expected[0] == "ok"


async def test_server_closes_an_idle_keep_alive_connection(engine: str) -> None:
    # Keep-alive answers; the server closes a connection idle for 0.2 s, so
    # the second call finds its pooled connection dead (the stale case).
    def script(connection: socket.socket, head: bytes) -> None:
        while True:
            connection.sendall(json_answer("200 OK", PARAMETER))
            connection.settimeout(0.2)
            try:
                head = connection.recv(65536)
            except OSError:
                return  # idle too long: close
            if not head:
                return

    with raw_server(script) as server:
        sync_client, sync_attempts = make(server.url)
        client, attempts = make(server.url)
        async with aboto3.AIOClient(client, engine=engine) as aio:
            results = []
            for round in (1, 2):
                expected = sync_client.get_parameter(Name="/p")
                actual = await aio.get_parameter(Name="/p")
                results.append((comparable(expected), comparable(actual)))
                await wait_until(
                    lambda: server.closed_connections == 2 * round,  # noqa: B023
                    "the server closing the idle connections",
                )
        assert server.connections == 4  # each client reconnected for its second call
    assert all(expected == actual for expected, actual in results)
    assert attempts.count == sync_attempts.count == 2  # no retry was needed


# -- uploads -----------------------------------------------------------------


async def test_100_continue_answered_with_403(engine: str, tmp_path: Path) -> None:
    path = tmp_path / "body.bin"
    write_file(path, 3 << 20)
    server = SinkServer()
    server.expect_answer = 403
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with open(path, "rb") as sync_body, open(path, "rb") as body:
            bodies = iter([sync_body, body])
            expected = await compare(
                engine,
                server.url,
                "put_object",
                "s3",
                kwargs=lambda: {"Bucket": "b", "Key": "k", "Body": next(bodies)},
            )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert issubclass(expected[0], ClientError)  # AccessDenied, as S3 answered
    assert server.bodies == [0, 0]  # no body bytes after the refusal


async def test_reset_in_the_middle_of_an_upload_body(engine: str, tmp_path: Path) -> None:
    path = tmp_path / "body.bin"
    write_file(path, 8 << 20)

    def script(connection: socket.socket, head: bytes) -> None:
        if b"100-continue" in head.lower():
            connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        received = 0
        while received < (1 << 20):  # a part of the body, then RST
            data = connection.recv(65536)
            if not data:
                return
            received += len(data)
        connection.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
        )

    with raw_server(script) as server, open(path, "rb") as sync_body, open(path, "rb") as body:
        bodies = iter([sync_body, body])
        expected = await compare(
            engine,
            server.url,
            "put_object",
            "s3",
            kwargs=lambda: {"Bucket": "b", "Key": "k", "Body": next(bodies)},
        )
    assert expected[0] != "ok"
