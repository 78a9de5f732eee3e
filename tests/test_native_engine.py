"""The native engine: no thread per call, the boto3 client left intact, suspension
instead of blocking, and no leaks. Parity and fault behaviour are covered for every
engine by the other test files."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import http.server
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from typing import Any, Callable

import boto3
import pytest
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.httpsession import URLLib3Session

import aboto3

if "native" not in aboto3.engines():
    pytest.skip("this install has no native engine", allow_module_level=True)
from aboto3 import _core, _native, _suspend
from aboto3._native import NativeHTTPSession
from benchmarks.stub import StubServer

from .conftest import serving
from .rss import UNDER_ASAN
from .scripted_server import Reply, ScriptedServer
from .waits import LoopTurns, wait_until, wait_until_sync

REGION = "us-east-1"


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture(scope="module")
def slow_stub() -> Iterator[StubServer]:
    """The project's C++ stub endpoint, answering every request after 50 ms."""
    with StubServer(latency_ms=50) as stub:
        yield stub


@pytest.fixture(scope="module")
def fast_stub() -> Iterator[StubServer]:
    with StubServer(latency_ms=0) as stub:
        yield stub


def stub_ssm(stub: StubServer, **config: Any) -> Any:
    return boto3.client(
        "ssm", region_name=REGION, endpoint_url=stub.endpoint_url, config=Config(**config)
    )


async def test_session_is_replaced_and_restored(make_client: Callable[..., Any]) -> None:
    ssm = make_client("ssm")
    original = ssm._endpoint.http_session
    assert isinstance(original, URLLib3Session)
    aio = aboto3.AIOClient(ssm, engine="native")
    assert isinstance(ssm._endpoint.http_session, NativeHTTPSession)
    await aio.put_parameter(Name="/n", Value="1", Type="String")
    # The sync client keeps working meanwhile: a blocking send, here and on threads.
    assert ssm.get_parameter(Name="/n")["Parameter"]["Value"] == "1"
    from_thread = await asyncio.to_thread(ssm.get_parameter, Name="/n")
    assert from_thread["Parameter"]["Value"] == "1"
    second = aboto3.AIOClient(ssm, engine="native")  # shares the installed session
    await aio.close()
    assert isinstance(ssm._endpoint.http_session, NativeHTTPSession)
    assert (await second.get_parameter(Name="/n"))["Parameter"]["Value"] == "1"
    await second.close()
    assert ssm._endpoint.http_session is original
    assert ssm.get_parameter(Name="/n")["Parameter"]["Value"] == "1"
    with pytest.raises(RuntimeError, match="closed"):
        await aio.get_parameter(Name="/n")


def test_other_http_sessions_are_refused(make_client: Callable[..., Any]) -> None:
    class CustomSession:
        def send(self, request: Any) -> Any:
            raise AssertionError("not used")

    ssm = make_client("ssm")
    ssm._endpoint.http_session = CustomSession()
    with pytest.raises(TypeError, match="URLLib3Session"):
        aboto3.AIOClient(ssm, engine="native")


async def test_no_thread_per_call(make_client: Callable[..., Any]) -> None:
    ssm = make_client("ssm", max_pool_connections=50)
    ssm.put_parameter(Name="/t", Value="v", Type="String")
    async with aboto3.AIOClient(ssm, engine="native") as aio:
        await aio.get_parameter(Name="/t")  # the libcurl I/O thread exists from here on
        baseline = os_threads()
        peak = baseline

        async def sample() -> None:
            nonlocal peak
            while True:
                peak = max(peak, os_threads())
                await asyncio.sleep(0.002)

        sampler = asyncio.ensure_future(sample())
        results = await asyncio.gather(*(aio.get_parameter(Name="/t") for _ in range(200)))
        sampler.cancel()
        assert all(r["Parameter"]["Value"] == "v" for r in results)
        assert peak == baseline
        assert aio.engine is not aio._thread_engine
        assert aio._thread_engine.pool is not None and aio._thread_engine.pool.thread_count == 0


class HoldingServer:
    """An SSM endpoint on one thread that answers no GetParameter until
    ``expected`` requests are waiting (or 30 s pass), then answers them all."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.arrived = 0
        self.threads_when_all_arrived = -1
        self.answered_unfilled = 0  # requests the server gave up holding
        self._loop = asyncio.new_event_loop()
        listening = threading.Event()

        def run() -> None:
            # This thread's own loop: the test's loop must not serve its own calls.
            asyncio.set_event_loop(self._loop)  # Python 3.9 binds an Event to it
            self._all_arrived = asyncio.Event()
            start = asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=2 * expected)
            server = self._loop.run_until_complete(start)
            self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            listening.set()
            self._loop.run_forever()
            server.close()  # the listening socket; every answer has been sent

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        listening.wait(10)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        name = json.loads(await reader.readexactly(length))["Name"]
        if name != "/warm":
            self.arrived += 1
            if self.arrived == self.expected:
                self.threads_when_all_arrived = os_threads()
                self._all_arrived.set()
            try:
                await asyncio.wait_for(self._all_arrived.wait(), 30)
            except asyncio.TimeoutError:
                self.answered_unfilled += 1
        body = json.dumps({"Parameter": {"Name": name, "Value": "v", "Type": "String"}}).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        writer.close()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


async def test_a_thousand_calls_in_flight() -> None:
    """1000 calls are on the wire at once, with no thread per call. The server
    answers none until all 1000 requests have arrived, so the outcome does not
    depend on how fast a loaded machine prepares them: an engine that capped
    them would leave the server holding, and fail."""
    calls = 1000
    server = HoldingServer(calls)
    try:
        ssm = boto3.client(
            "ssm",
            region_name=REGION,
            endpoint_url=server.url,
            config=Config(max_pool_connections=calls, retries={"total_max_attempts": 1}),
        )
        async with aboto3.AIOClient(ssm, engine="native") as aio:
            await aio.get_parameter(Name="/warm")  # the libcurl I/O thread exists from here on
            baseline = os_threads()
            results = await asyncio.gather(
                *(aio.get_parameter(Name=f"/p/{i}") for i in range(calls))
            )
    finally:
        server.close()
    assert server.answered_unfilled == 0
    assert server.arrived == calls
    assert [r["Parameter"]["Name"] for r in results] == [f"/p/{i}" for i in range(calls)]
    assert server.threads_when_all_arrived <= baseline  # an idle worker of an earlier test may exit


async def test_calls_started_together_wake_the_io_thread_once(
    fast_stub: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Calls started in one loop iteration reach the I/O thread with one wake,
    at the next iteration: waking a sleeping thread costs more than the rest
    of starting a call. Woken once per call, it would count about 20 here.
    (The 2 ms limit on a deferral, tested below, and the loop turn's budget
    for starting calls are lifted so that how fast this machine starts calls
    does not matter.)"""
    monkeypatch.setattr(_suspend, "TURN_BUDGET_S", 60.0)
    ssm = stub_ssm(fast_stub, max_pool_connections=10)
    limit = _core.set_max_wake_deferral(60.0)
    try:
        async with aboto3.AIOClient(ssm, engine="native") as aio:
            await aio.get_parameter(Name="/warm")
            before = _core.curl_wakes()
            results = await asyncio.gather(*(aio.get_parameter(Name="/w") for _ in range(20)))
            wakes = _core.curl_wakes() - before
    finally:
        _core.set_max_wake_deferral(limit)
    assert limit == pytest.approx(0.002)
    for wrong in (-1.0, float("nan"), 1e300):
        with pytest.raises(ValueError, match="between 0 and 3600 seconds"):
            _core.set_max_wake_deferral(wrong)
    assert [r["Parameter"]["Name"] for r in results] == ["/w"] * 20
    assert 1 <= wakes <= 2  # 2: a stray command, e.g. an earlier test's transfer collected


async def test_calls_started_together_schedule_one_wake(
    fast_stub: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The calls started in one loop iteration schedule one wake_io_thread
    between them, and the next iteration's calls schedule their own."""
    monkeypatch.setattr(_suspend, "TURN_BUDGET_S", 60.0)  # all 20 start in one turn
    flushes = []
    flush = _core.wake_io_thread
    monkeypatch.setattr(_core, "wake_io_thread", lambda: flushes.append(1) or flush())
    ssm = stub_ssm(fast_stub, max_pool_connections=10)
    async with aboto3.AIOClient(ssm, engine="native") as aio:
        await aio.get_parameter(Name="/warm")
        flushes.clear()
        results = await asyncio.gather(*(aio.get_parameter(Name="/w") for _ in range(20)))
        assert len(flushes) == 1  # 20 without the sharing
        await aio.get_parameter(Name="/w")
        assert len(flushes) == 2
    assert [r["Parameter"]["Name"] for r in results] == ["/w"] * 20


def test_a_loop_whose_wake_is_pending_does_not_hold_back_another_loop(
    fast_stub: StubServer,
) -> None:
    """A loop blocked before its scheduled wake ran holds back only its own
    calls: another loop's calls, in another thread, schedule a wake of their own."""
    limit = _core.set_max_wake_deferral(60.0)  # only a scheduled wake sends a call
    released = threading.Event()
    other: dict[str, Any] = {}

    async def elsewhere() -> Any:
        async with aboto3.AIOClient(stub_ssm(fast_stub), engine="native") as aio:
            # Within this loop's join below: a call that waits for that loop times out.
            return await asyncio.wait_for(aio.get_parameter(Name="/other"), 30)

    def block_until_the_other_loop_is_done() -> None:
        # Runs after the held call has scheduled its wake, and before the wake.
        def run_the_other_loop() -> None:
            try:
                other["result"] = asyncio.run(elsewhere())
            except BaseException as error:  # a TimeoutError if it waited for this loop
                other["error"] = error

        thread = threading.Thread(target=run_the_other_loop)
        thread.start()
        thread.join(60)
        released.set()

    async def held() -> Any:
        asyncio.get_running_loop().call_soon(block_until_the_other_loop_is_done)
        async with aboto3.AIOClient(stub_ssm(fast_stub), engine="native") as aio:
            return await aio.get_parameter(Name="/held")

    try:
        assert asyncio.run(held())["Parameter"]["Name"] == "/held"
    finally:
        _core.set_max_wake_deferral(limit)
    assert released.is_set()
    assert "error" not in other, other
    assert other["result"]["Parameter"]["Name"] == "/other"


def test_request_headers_are_read_as_botocore_lists_them() -> None:
    """The send reads botocore's HeadersDict through the dict behind it; the
    pairs, order and case are what its items() gives, and anything else
    (a subclass, another mapping) goes through items()."""
    from botocore.awsrequest import AWSRequest, HeadersDict

    assert _native.HEADER_PAIRS_READ_DIRECTLY  # every botocore from 1.29 keeps that layout
    request = AWSRequest(
        "PUT",
        "https://b.s3.amazonaws.com/k",
        data=b"x",
        headers={"Content-MD5": "a", "x-amz-meta-Case": "Kept", "Expect": "100-continue"},
    )
    request.headers["X-Amz-Date"] = "20260101T000000Z"
    prepared = request.prepare()
    prepared.headers["content-md5"] = "b"  # replaces the value, keeps the first spelling
    prepared.headers["X-Empty"] = ""
    assert type(prepared.headers) is HeadersDict
    pairs = _native._header_pairs(prepared.headers)
    assert pairs == list(prepared.headers.items())
    assert pairs[0] == ("Content-MD5", "b")

    class Reordered(HeadersDict):  # type: ignore[misc]
        def __iter__(self) -> Iterator[str]:
            return reversed(list(super().__iter__()))

    reordered = Reordered(prepared.headers)
    assert _native._header_pairs(reordered) == list(reordered.items()) == pairs[::-1]
    assert _native._header_pairs({"A": "1"}) == [("A", "1")]


def connections_to(port: int) -> set[str]:
    """This process's TCP connections to 127.0.0.1:``port``, by socket inode."""
    ours = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            ours.add(target[len("socket:[") : -1])
    found = set()
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].split(":")[1], 16)
            if remote_port == port and fields[9] in ours:
                found.add(fields[9])
    return found


async def test_bursts_reuse_the_pools_connections(
    fast_stub: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool keeps its idle connections, as urllib3's does. libcurl by itself
    keeps 4 for each transfer still running (in any client), so bursts that end
    while another call runs lose connections, and the next burst connects again.
    Each burst goes out in one wake (the deferral limit and the loop turn's
    budget are lifted), so the first opens all the connections the others need."""
    monkeypatch.setattr(_suspend, "TURN_BUDGET_S", 60.0)
    ssm = stub_ssm(fast_stub, max_pool_connections=10)
    limit = _core.set_max_wake_deferral(60.0)
    try:
        with StubServer(latency_ms=300) as slower_stub:
            async with (
                aboto3.AIOClient(ssm, engine="native") as aio,
                aboto3.AIOClient(stub_ssm(slower_stub), engine="native") as slow,
            ):
                await slow.get_parameter(Name="/s")  # its connection is open from here on
                await asyncio.gather(*(aio.get_parameter(Name="/b") for _ in range(13)))
                before = connections_to(fast_stub.port)
                slow_call = asyncio.ensure_future(slow.get_parameter(Name="/s"))
                for _ in range(5):  # 13 calls, so the last few of each end with 2 or 3 running
                    await asyncio.gather(*(aio.get_parameter(Name="/b") for _ in range(13)))
                await slow_call
                opened = connections_to(fast_stub.port) - before
    finally:
        _core.set_max_wake_deferral(limit)
    assert opened == set()


@contextlib.contextmanager
def no_stray_commands() -> Iterator[None]:
    """Nothing else posts to the I/O thread meanwhile, which would wake it for the
    deferred sends too: no garbage collection (a collected transfer or session
    posts), and an earlier test's last commands are handled before it starts."""
    gc.collect()
    gc.disable()
    try:
        with StubServer(latency_ms=0) as stub:
            # Handled after whatever is queued; kept until the end, as a session
            # posts when it goes.
            handled = _core.HttpSession(1, 5.0, 5.0)
            handled.send("GET", stub.endpoint_url + "/__stats", [], None, False).wait(2)
            yield
    finally:
        gc.enable()


@no_stray_commands()
def test_a_deferred_send_waits_for_a_wake(fast_stub: StubServer) -> None:
    """send(defer_wake=True) stays queued until wake_io_thread(), or until any
    other command wakes the I/O thread: a loop closed before its wake strands
    nothing for good."""
    session = _core.HttpSession(4, 5.0, 5.0)
    url = fast_stub.endpoint_url + "/__stats"
    held = session.send("GET", url, [], None, False, defer_wake=True)
    time.sleep(0.3)
    assert held.status == 0  # not sent: the stub answers in well under a millisecond
    _core.wake_io_thread()
    held.wait(2)
    assert held.status == 200
    held = session.send("GET", url, [], None, False, defer_wake=True)
    other = session.send("GET", url, [], None, False)  # a blocking caller's send
    other.wait(2)
    held.wait(2)
    assert held.status == other.status == 200


@no_stray_commands()
def test_a_deferred_send_waits_two_milliseconds_at_most(fast_stub: StubServer) -> None:
    """A deferred send that has waited 2 ms goes out with the next deferred one,
    without its loop's wake: a loop turn that resumes a hundred calls lasts tens
    of milliseconds, while their connections would idle."""
    session = _core.HttpSession(4, 5.0, 5.0)
    url = fast_stub.endpoint_url + "/__stats"
    first = session.send("GET", url, [], None, False, defer_wake=True)
    time.sleep(0.01)
    second = session.send("GET", url, [], None, False, defer_wake=True)
    wait_until_sync(lambda: 0 not in (first.status, second.status), "both sends answered")
    assert first.status == second.status == 200


async def test_connections_per_client_are_capped(slow_stub: StubServer) -> None:
    ssm = stub_ssm(slow_stub, max_pool_connections=4)
    before = slow_stub.stats()["connections"]
    async with aboto3.AIOClient(ssm, engine="native") as aio:
        peak = 0

        async def sample() -> None:
            nonlocal peak
            while True:
                peak = max(peak, slow_stub.stats()["connections"] - before)
                await asyncio.sleep(0.01)

        sampler = asyncio.ensure_future(sample())
        await asyncio.gather(*(aio.get_parameter(Name="/c") for _ in range(40)))
        sampler.cancel()
    # the sampler's own /__stats connection counts once
    assert 1 <= peak <= 4 + 1


async def test_retry_delay_suspends_instead_of_blocking(make_client: Callable[..., Any]) -> None:
    ssm = make_client("ssm")
    ssm.put_parameter(Name="/r", Value="v", Type="String")
    seen: list[int] = []
    sends: list[int] = []
    sends_seen_by_the_loop: list[int] = []

    def retry_once_after_300ms(attempts: int, **_: Any) -> float | None:
        seen.append(attempts)
        if attempts != 1:
            return None
        # The delay starts when this returns. A callback scheduled now runs at
        # the loop's next turn: during the delay, if the delay suspends (one
        # attempt sent by then); only once the second attempt is sent, had the
        # delay blocked the loop.
        asyncio.get_running_loop().call_soon(lambda: sends_seen_by_the_loop.append(len(sends)))
        return 0.3

    ssm.meta.events.register("needs-retry.ssm.GetParameter", retry_once_after_300ms)
    ssm.meta.events.register("before-send.ssm.GetParameter", lambda **_: sends.append(1))
    async with aboto3.AIOClient(ssm, engine="native") as aio:
        result = await aio.get_parameter(Name="/r")
    assert result["ResponseMetadata"]["RetryAttempts"] == 1
    assert seen[:2] == [1, 2]
    assert sends_seen_by_the_loop == [1]  # the loop turned during the delay


async def test_credential_refresh_runs_on_a_thread(make_client: Callable[..., Any]) -> None:
    refreshed_on: list[int] = []

    def refresh() -> dict[str, str]:
        refreshed_on.append(threading.get_ident())
        turns.wait()  # e.g. an STS call, during which the loop must turn
        expiry = time.time() + 3600
        return {
            "access_key": "testing",
            "secret_key": "testing",
            "token": "token",
            "expiry_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expiry)),
        }

    credentials = RefreshableCredentials.create_from_metadata(
        metadata={
            "access_key": "old",
            "secret_key": "old",
            "token": "old",
            "expiry_time": "2000-01-01T00:00:00Z",
        },
        refresh_using=refresh,
        method="test",
    )
    sts = make_client("sts")
    sts._request_signer._credentials = credentials
    turns = LoopTurns()
    async with aboto3.AIOClient(sts, engine="native") as aio:
        identity = await aio.get_caller_identity()
    assert identity["Account"] == "123456789012"
    assert refreshed_on and refreshed_on[0] != threading.get_ident()
    assert turns.outcomes == [True]
    assert sts._request_signer._credentials is credentials  # restored on close


async def test_adaptive_retry_mode_works(make_client: Callable[..., Any]) -> None:
    sts = make_client("sts", retries={"mode": "adaptive", "max_attempts": 3})
    async with aboto3.AIOClient(sts, engine="native") as aio:
        results = await asyncio.gather(*(aio.get_caller_identity() for _ in range(20)))
    assert {r["Account"] for r in results} == {"123456789012"}


async def test_cancelled_call_frees_its_transfer() -> None:
    # A pool of one, and a server that holds "/held" until the test ends: the
    # call after the cancelled one needs the slot that the cancellation frees.
    hold = threading.Event()

    def answer(reply: Reply) -> None:
        name = json.loads(reply.body)["Name"]
        if name == "/held":
            hold.wait(60)
        body = json.dumps({"Parameter": {"Name": name, "Value": "v", "Type": "String"}}).encode()
        reply.start(
            200, {"Content-Type": "application/x-amz-json-1.1", "Content-Length": str(len(body))}
        )
        reply.write(body)

    with ScriptedServer(answer) as server:
        try:
            ssm = boto3.client(
                "ssm", region_name=REGION, endpoint_url=server.url,
                config=Config(max_pool_connections=1, retries={"total_max_attempts": 1}),
            )  # fmt: skip
            async with aboto3.AIOClient(ssm, engine="native") as aio:
                await aio.get_parameter(Name="/warm")
                task = asyncio.ensure_future(aio.get_parameter(Name="/held"))
                await wait_until(lambda: _core.curl_in_flight() == 1, "the call in flight")
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                await wait_until(lambda: _core.curl_in_flight() == 0, "the transfer freed")
                after = await asyncio.wait_for(aio.get_parameter(Name="/after"), 30)
                assert after["Parameter"]["Name"] == "/after"
        finally:
            hold.set()


async def test_close_waits_for_calls_in_flight(slow_stub: StubServer) -> None:
    ssm = stub_ssm(slow_stub, max_pool_connections=20)
    aio = aboto3.AIOClient(ssm, engine="native")
    calls = [asyncio.ensure_future(aio.get_parameter(Name=f"/{i}")) for i in range(20)]
    await asyncio.sleep(0)
    await asyncio.wait_for(aio.close(), timeout=30)  # a hang guard
    assert len(await asyncio.gather(*calls)) == 20
    assert isinstance(ssm._endpoint.http_session, URLLib3Session)


def test_closing_the_loop_with_calls_in_flight(slow_stub: StubServer, tmp_path: Any) -> None:
    script = tmp_path / "abandon.py"
    script.write_text(
        textwrap.dedent(f"""
        import asyncio, gc, boto3, aboto3
        ssm = boto3.client("ssm", region_name="us-east-1", endpoint_url="{slow_stub.endpoint_url}",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        loop = asyncio.new_event_loop()
        aio = aboto3.AIOClient(ssm, engine="native")
        tasks = [loop.create_task(aio.get_parameter(Name="/x")) for _ in range(50)]
        loop.run_until_complete(asyncio.sleep(0.02))
        loop.close()          # 50 calls abandoned mid-flight
        del tasks
        gc.collect()
        print(ssm.get_parameter(Name="/sync")["Parameter"]["Name"])
        asyncio.run(aio.get_parameter(Name="/y"))
        print("ok")
    """)
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["/sync", "ok"]
    assert "Fatal" not in done.stderr


def test_fork_child_gets_a_fresh_engine(fast_stub: StubServer, tmp_path: Any) -> None:
    script = tmp_path / "fork.py"
    script.write_text(
        textwrap.dedent(f"""
        import asyncio, os, boto3, aboto3
        ssm = boto3.client("ssm", region_name="us-east-1", endpoint_url="{fast_stub.endpoint_url}",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        async def call():
            async with aboto3.AIOClient(ssm, engine="native") as aio:
                return (await aio.get_parameter(Name="/f"))["Parameter"]["Name"]
        assert asyncio.run(call()) == "/f"
        pid = os.fork()
        if pid == 0:
            os._exit(0 if asyncio.run(call()) == "/f" else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        print("ok")
    """)
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


async def test_slow_reader_pauses_the_transfer(fast_stub: StubServer) -> None:
    s3 = boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=fast_stub.endpoint_url,
        config=Config(s3={"addressing_style": "path"}),
    )
    size = 24 * 1024 * 1024
    async with aboto3.AIOClient(s3, engine="native") as aio:
        response = await aio.get_object(Bucket="b", Key=f"big-{size}")
        body = response["Body"]
        first = await body.read(64 * 1024)
        transfer = body._body._raw_stream._transfer
        # The I/O thread fills the buffer up to the high-water mark (1 MiB)...
        await wait_until(lambda: transfer.buffered >= 512 * 1024, "the buffer filling")
        await asyncio.sleep(0.3)  # ...and would go on to buffer everything meanwhile
        assert transfer.buffered <= 2 * 1024 * 1024  # paused near the 1 MiB high-water mark
        assert not transfer.finished
        rest = await body.read()
    data = first + rest
    assert len(data) == size
    assert data[:512] == bytes(i & 0xFF for i in range(512))


async def test_tcp_keepalive_setting_is_used() -> None:
    with StubServer() as stub:  # a fresh endpoint: no pooled connection to reuse
        ssm = stub_ssm(stub, tcp_keepalive=True)
        async with aboto3.AIOClient(ssm, engine="native") as aio:
            await aio.get_parameter(Name="/k")
            shown = subprocess.run(
                ["ss", "-tnoH", "state", "established", f"dport = :{stub.port}"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
    assert "keepalive" in shown


class _ForwardProxy(http.server.ThreadingHTTPServer):
    """A minimal HTTP forward proxy that counts what passes through it."""

    daemon_threads = True

    def __init__(self) -> None:
        self.seen: list[str] = []
        super().__init__(("127.0.0.1", 0), _ProxyHandler)


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _forward(self) -> None:
        import urllib.parse

        target = urllib.parse.urlsplit(self.path)
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        upstream = socket.create_connection((target.hostname, target.port), timeout=10)
        with upstream:
            path = target.path + (f"?{target.query}" if target.query else "")
            lines = [f"{self.command} {path} HTTP/1.1"]
            lines += [
                f"{k}: {v}" for k, v in self.headers.items() if k.lower() != "proxy-connection"
            ]
            upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
            reply = upstream.makefile("rb")
            status = reply.readline()
            headers = []
            while (line := reply.readline()) not in (b"\r\n", b""):
                headers.append(line)
            content_length = next(
                (int(h.split(b":")[1]) for h in headers if h.lower().startswith(b"content-length")),
                0,
            )
            payload = reply.read(content_length)
        self.wfile.write(status + b"".join(headers) + b"\r\n" + payload)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _forward


@pytest.fixture
def forward_proxy() -> Iterator[_ForwardProxy]:
    with serving(_ForwardProxy()) as server:
        yield server


@pytest.mark.parametrize("engine", ["threads", "native"])
async def test_proxies_config_and_no_proxy(
    fast_stub: StubServer,
    forward_proxy: _ForwardProxy,
    engine: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = f"http://127.0.0.1:{forward_proxy.server_address[1]}"
    ssm = stub_ssm(fast_stub, proxies={"http": proxy})
    async with aboto3.AIOClient(ssm, engine=engine) as aio:
        assert (await aio.get_parameter(Name="/via"))["Parameter"]["Name"] == "/via"
    assert forward_proxy.seen == [f"{fast_stub.endpoint_url}/"]

    # From the environment, with NO_PROXY honoured as botocore honours it.
    monkeypatch.setenv("HTTP_PROXY", proxy)
    ssm = stub_ssm(fast_stub)
    async with aboto3.AIOClient(ssm, engine=engine) as aio:
        await aio.get_parameter(Name="/env")
    assert len(forward_proxy.seen) == 2
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    ssm = stub_ssm(fast_stub)
    async with aboto3.AIOClient(ssm, engine=engine) as aio:
        await aio.get_parameter(Name="/direct")
    assert len(forward_proxy.seen) == 2


async def test_https_forwarding_through_an_https_proxy_is_refused(fast_stub: StubServer) -> None:
    """urllib3 forwards HTTPS requests to such a proxy as they are; libcurl can
    only tunnel them, so the native engine says so instead of sending them
    another way. The thread engine (urllib3) takes the same client."""
    forwarding = {"proxy_use_forwarding_for_https": True}
    ssm = stub_ssm(fast_stub, proxies={"https": "https://127.0.0.1:9"}, proxies_config=forwarding)
    with pytest.raises(ValueError, match=r"proxy_use_forwarding_for_https.*engine='threads'"):
        aboto3.AIOClient(ssm, engine="native")
    assert isinstance(ssm._endpoint.http_session, URLLib3Session)  # left as it was
    async with aboto3.AIOClient(ssm) as aio:
        assert not isinstance(ssm._endpoint.http_session, NativeHTTPSession)
    # The setting means nothing to urllib3 without an HTTPS proxy: accepted.
    plain = stub_ssm(fast_stub, proxies={"https": "http://127.0.0.1:9"}, proxies_config=forwarding)
    async with aboto3.AIOClient(plain, engine="native") as aio:
        assert (await aio.get_parameter(Name="/no-proxy-for-http"))["Parameter"]


@pytest.mark.timeout(600)  # a hang guard: on a loaded machine the calls take minutes
async def test_no_leaks_over_many_calls(fast_stub: StubServer) -> None:
    """File descriptors, threads and RSS stay flat over 30k calls (ABOTO3_SOAK_CALLS);
    `./dev soak` makes a million, mixed, under both engines."""
    calls = int(os.environ.get("ABOTO3_SOAK_CALLS", "30000"))
    pool = 64
    ssm = stub_ssm(fast_stub, max_pool_connections=pool)

    async def run(aio: Any, n: int) -> None:
        # 64 callers in a loop: memory held by the test itself stays constant.
        async def caller(share: int) -> None:
            for i in range(share):
                await aio.get_parameter(Name=f"/soak/{i % 100}")

        await asyncio.gather(*(caller(n // 64) for _ in range(64)))

    def rss_kib() -> int:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))

    async with aboto3.AIOClient(ssm, engine="native") as aio:
        await run(aio, 64 * 50)  # warm up caches, connections and allocator pools
        gc.collect()
        fds, threads = open_fds(), os_threads()
        await run(aio, calls // 2)
        gc.collect()
        rss_half = rss_kib()
        await run(aio, calls // 2)
        gc.collect()
        rss_end = rss_kib()
        # The pool may still open connections its 64 callers had not needed at
        # once yet (calls started in one loop turn go out together, and a slow
        # build reaches new peaks late), up to its size, where a leak would
        # show one per call.
        assert open_fds() <= fds + pool
        assert os_threads() == threads
        # A leak of even 100 bytes a call would add several MiB over the second half.
        if not UNDER_ASAN:  # its quarantine grows RSS with what is freed (tests/rss.py)
            assert rss_end - rss_half < 2 * 1024


def test_send_refuses_header_items_that_are_not_pairs() -> None:
    session = _core.HttpSession(1, 5.0, 5.0)
    for items in ([["X-A", "1"]], [("X-A", "1", "2")], ["X-A: 1"]):
        with pytest.raises(TypeError, match=r"\(name, value\) tuples"):
            session.send("GET", "http://127.0.0.1:9/", items, None, False)
