"""Edge cases found in review, each compared with what sync boto3 does: huge
Content-Length on HEAD, HTTPS through a CONNECT proxy, latin-1 header bytes,
dropped streaming responses, clients sharing a boto3 client, concurrent close,
fork with a used session, and interpreter exit with work still running."""

from __future__ import annotations

import asyncio
import gc
import select
import socket
import socketserver
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from typing import Any, Callable

import boto3
import pytest
from botocore.config import Config

import aboto3
from benchmarks.stub import StubServer

from .conftest import REGION, TLSFiles, comparable, serving
from .waits import wait_until

PATH_STYLE = {"s3": {"addressing_style": "path"}}


@pytest.fixture(scope="module")
def stub() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


@pytest.fixture(scope="module")
def slow_stub() -> Iterator[StubServer]:
    with StubServer(latency_ms=300) as server:
        yield server


def s3_client(url: str, **config: Any) -> Any:
    return boto3.client(
        "s3", region_name=REGION, endpoint_url=url, config=Config(**PATH_STYLE, **config)
    )


@pytest.mark.parametrize("engine", ["threads", "native"])
async def test_head_of_a_huge_object(stub: StubServer, engine: str) -> None:
    s3 = s3_client(stub.endpoint_url)
    key = "huge-5000000000000"  # the stub claims 5 TB; HEAD sends no body
    expected = s3.head_object(Bucket="b", Key=key)
    async with aboto3.AIOClient(s3, engine=engine) as aio:
        actual = await aio.head_object(Bucket="b", Key=key)
    assert actual["ContentLength"] == expected["ContentLength"] == 5_000_000_000_000
    assert comparable(actual) == comparable(expected)


class _ConnectProxy(socketserver.ThreadingTCPServer):
    """A CONNECT proxy whose answer carries a header of its own."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.tunnels = 0
        super().__init__(("127.0.0.1", 0), _ConnectHandler)


class _ConnectHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        client: socket.socket = self.request
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                return
            head += chunk
        target = head.split(b" ")[1].decode()
        host, port = target.rsplit(":", 1)
        with socket.create_connection((host, int(port))) as upstream:
            self.server.tunnels += 1  # type: ignore[attr-defined]
            client.sendall(b"HTTP/1.1 200 Connection established\r\nX-Proxy: yes\r\n\r\n")
            peers = {client: upstream, upstream: client}
            while True:
                ready, _, _ = select.select(list(peers), [], [], 10)
                if not ready:
                    return
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)


@pytest.fixture
def connect_proxy() -> Iterator[_ConnectProxy]:
    with serving(_ConnectProxy()) as server:
        yield server


@pytest.mark.parametrize("engine", ["threads", "native"])
async def test_https_through_a_connect_proxy(
    tls_moto_server: str, tls_files: TLSFiles, connect_proxy: _ConnectProxy, engine: str
) -> None:
    proxy = f"http://127.0.0.1:{connect_proxy.server_address[1]}"
    s3 = boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=tls_moto_server,
        verify=tls_files.ca_bundle,
        config=Config(**PATH_STYLE, proxies={"https": proxy}),
    )
    s3.create_bucket(Bucket="proxied")
    s3.put_object(Bucket="proxied", Key="k", Body=b"x" * 1000, Metadata={"foo": "bar"})
    expected = s3.get_object(Bucket="proxied", Key="k")
    async with aboto3.AIOClient(s3, engine=engine) as aio:
        actual = await aio.get_object(Bucket="proxied", Key="k")
        assert await actual["Body"].read() == expected["Body"].read()
        with pytest.raises(s3.exceptions.NoSuchKey):
            await aio.get_object(Bucket="proxied", Key="missing")
    assert actual["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert actual["Metadata"] == expected["Metadata"] == {"foo": "bar"}
    assert "x-proxy" not in actual["ResponseMetadata"]["HTTPHeaders"]
    assert connect_proxy.tunnels >= 2


class _Latin1Handler(socketserver.BaseRequestHandler):
    """Answers every request with a header holding the byte 0xE9 ('é' in latin-1)."""

    def handle(self) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            data += chunk
        self.request.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nx-amz-meta-name: caf\xe9\r\n"
            b"x-amz-meta-utf8: caf\xc3\xa9\r\nConnection: close\r\n\r\n"
        )


@pytest.mark.parametrize("engine", ["threads", "native"])
async def test_header_bytes_are_latin_1(engine: str) -> None:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Latin1Handler)
    server.daemon_threads = True
    with serving(server):
        s3 = s3_client(f"http://127.0.0.1:{server.server_address[1]}")
        expected = s3.head_object(Bucket="b", Key="k")
        async with aboto3.AIOClient(s3, engine=engine) as aio:
            actual = await aio.head_object(Bucket="b", Key="k")
    assert actual["Metadata"] == expected["Metadata"] == {"name": "café", "utf8": "cafÃ©"}


@pytest.mark.native
async def test_dropped_streaming_responses_free_their_connections(stub: StubServer) -> None:
    s3 = s3_client(stub.endpoint_url, max_pool_connections=1)
    async with aboto3.AIOClient(s3, engine="native") as aio:
        for _ in range(3):
            # Never read, never closed: only dropped, as a careless caller would.
            await asyncio.wait_for(aio.get_object(Bucket="b", Key="obj-1048576"), 30)
            gc.collect()
        # (the wait_for is a hang guard: a connection not freed is never given back)
        body = (await asyncio.wait_for(aio.get_object(Bucket="b", Key="small"), 30))["Body"]
        assert len(await body.read()) == 1024


@pytest.mark.native
async def test_raw_read_of_nothing_returns_at_once(stub: StubServer) -> None:
    s3 = s3_client(stub.endpoint_url)
    async with aboto3.AIOClient(s3, engine="native"):
        body = s3.get_object(Bucket="b", Key="small")["Body"]  # sync, through the native session
        assert body.read(0) == b""
        assert len(body.read()) == 1024


@pytest.mark.native
async def test_two_native_clients_on_one_boto3_client(stub: StubServer, tmp_path: Any) -> None:
    s3 = s3_client(stub.endpoint_url)
    original = s3._endpoint.http_session
    first = aboto3.AIOClient(s3, engine="native")
    second = aboto3.AIOClient(s3, engine="native")
    await first.close()
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"p" * 4096)
    with payload.open("rb") as file:  # a file body is read on a thread: the open client's
        assert (await second.put_object(Bucket="b", Key="k", Body=file))["ETag"]
    assert s3._endpoint.http_session is not original
    await second.close()
    assert s3._endpoint.http_session is original


@pytest.mark.parametrize("engine", ["threads", "native"])
async def test_concurrent_closes_all_return(slow_stub: StubServer, engine: str) -> None:
    ssm = boto3.client("ssm", region_name=REGION, endpoint_url=slow_stub.endpoint_url)
    sent: list[int] = []
    ssm.meta.events.register("before-send", lambda **_: sent.append(1))
    aio = aboto3.AIOClient(ssm, engine=engine)
    call = asyncio.ensure_future(aio.get_parameter(Name="/x"))
    await wait_until(lambda: sent, "the call reaching the HTTP layer")  # in flight from here
    await asyncio.wait_for(asyncio.gather(aio.close(), aio.close(), aio.close()), 30)
    assert (await call)["Parameter"]["Name"] == "/x"


def run_script(source: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.native
def test_fork_with_a_call_in_flight_on_a_used_session(slow_stub: StubServer) -> None:
    done = run_script(f"""
        import asyncio, os, boto3, aboto3
        from botocore.config import Config
        ssm = boto3.client("ssm", region_name="us-east-1", endpoint_url="{slow_stub.endpoint_url}",
                           aws_access_key_id="testing", aws_secret_access_key="testing",
                           config=Config(max_pool_connections=1))
        aio = aboto3.AIOClient(ssm, engine="native")
        sent = []
        ssm.meta.events.register("before-send", lambda **_: sent.append(1))

        async def parent():
            await aio.get_parameter(Name="/warm")
            call = asyncio.ensure_future(aio.get_parameter(Name="/in-flight"))
            while len(sent) < 2:  # the only connection slot is taken from here on
                await asyncio.sleep(0.01)
            pid = os.fork()
            if pid == 0:
                async def child():
                    reply = await asyncio.wait_for(aio.get_parameter(Name="/child"), 30)
                    return reply["Parameter"]["Name"]
                os._exit(0 if asyncio.run(child()) == "/child" else 1)
            assert (await call)["Parameter"]["Name"] == "/in-flight"
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status)

        assert asyncio.run(parent()) == 0
        print("ok")
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


@pytest.mark.native
def test_exit_with_a_daemon_thread_blocked_in_the_native_session(slow_stub: StubServer) -> None:
    done = run_script(f"""
        import asyncio, threading, boto3, aboto3
        ssm = boto3.client("ssm", region_name="us-east-1", endpoint_url="{slow_stub.endpoint_url}",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        aio = aboto3.AIOClient(ssm, engine="native")
        asyncio.run(aio.get_parameter(Name="/x"))
        sent = threading.Event()
        ssm.meta.events.register("before-send", lambda **_: sent.set())
        def forever():
            while True:
                ssm.get_parameter(Name="/sync")  # blocks in the native session
        threading.Thread(target=forever, daemon=True).start()
        assert sent.wait(30)  # the thread's call is on its way
        print("exiting")
    """)
    assert done.returncode == 0, done.stderr
    assert "terminate" not in done.stderr and "Fatal" not in done.stderr


def test_exit_after_dropping_a_client_with_a_call_in_flight(slow_stub: StubServer) -> None:
    # The pool's workers are still running when the client is garbage-collected
    # unclosed; interpreter exit must wait for them, not tear them down.
    for _ in range(3):
        done = run_script(f"""
            import asyncio, gc, boto3, aboto3
            ssm = boto3.client("ssm", region_name="us-east-1",
                               endpoint_url="{slow_stub.endpoint_url}",
                               aws_access_key_id="testing", aws_secret_access_key="testing")
            ballast = [{{"k": [i] * 20}} for i in range(200_000)]  # slow down final teardown

            sent = []
            ssm.meta.events.register("before-send", lambda **_: sent.append(1))

            async def main():
                aio = aboto3.AIOClient(ssm)
                asyncio.ensure_future(aio.get_parameter(Name="/x"))
                while not sent:  # the call is on a worker thread, on its way
                    await asyncio.sleep(0.01)

            asyncio.run(main())
            gc.collect()
            print("exiting")
        """)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "exiting"


async def test_completions_wake_the_loop_once_per_batch(make_client: Callable[..., Any]) -> None:
    # One worker runs the calls in turn, and a last call holds it until the
    # loop has taken the 200 before it, all queued while the loop was busy.
    async with aboto3.AIOClient(make_client("sts", max_pool_connections=1)) as aio:
        await aio.get_caller_identity()
        bridge = aboto3._engine.bridge_for(asyncio.get_running_loop())
        before = bridge.signals
        reached_last, may_finish = threading.Event(), threading.Event()

        def last() -> None:
            reached_last.set()  # every call before this one has been queued
            may_finish.wait(30)

        calls = [aio.engine.run(int) for _ in range(200)]
        holding = aio.engine.run(last)
        assert reached_last.wait(30)  # the loop is busy (GIL released) meanwhile
        assert [await call for call in calls] == [0] * 200
        assert bridge.signals - before == 1
        may_finish.set()
        await holding


@pytest.mark.parametrize("engine", ["threads", "native"])
async def test_more_unread_bodies_than_connections(stub: StubServer, engine: str) -> None:
    # Bodies bigger than the read-ahead buffer, held unread: their responses must
    # not keep the connection slots that the next calls need (boto3 just opens
    # another connection).
    s3 = s3_client(stub.endpoint_url, max_pool_connections=2)
    keys = [f"big{i}-{8 * 1024 * 1024}" for i in range(4)]
    expected = [len(s3.get_object(Bucket="b", Key=key)["Body"].read()) for key in keys]
    async with aboto3.AIOClient(s3, engine=engine) as aio:
        responses = await asyncio.wait_for(
            asyncio.gather(*(aio.get_object(Bucket="b", Key=key) for key in keys)), 30
        )
        actual = [len(await response["Body"].read()) for response in responses]
    assert actual == expected == [8 * 1024 * 1024] * 4


async def test_nothing_a_test_sends_leaves_this_machine(
    make_aio: Callable[[Any], aboto3.AIOClient[Any]],
) -> None:
    # conftest's guard: a client left on AWS's own endpoint fails loudly.
    ssm = boto3.client("ssm", region_name=REGION)
    async with make_aio(ssm) as aio:
        with pytest.raises(RuntimeError, match="tests talk only to 127"):
            await aio.get_parameter(Name="/x")
    with pytest.raises(RuntimeError, match="tests talk only to 127"):
        ssm.get_parameter(Name="/x")
