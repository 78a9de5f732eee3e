"""The interpreter exits cleanly, and forks work, whatever aboto3 was doing.

Each case is a script run in a fresh interpreter for every engine: it must exit
with status 0, soon after its last statement, with nothing alarming on stderr
(no traceback, no "Fatal Python error", no "Exception ignored"). A script that
hangs has its threads' stacks dumped by faulthandler before it is stopped.

The scripts build their AIOClient as the ``make_aio`` fixture does: ``engine=``
the engine's name, except "executor", which passes a ThreadPoolExecutor.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Callable

import pytest

from .faultproxy import FaultProxy
from .waits import wait_until_sync

ROOT = Path(__file__).resolve().parent.parent
HANG = 25  # seconds after which a script is declared hung
STALL_READ_TIMEOUT = 1.0  # a call stalled at exit ends by this at the latest

PRELUDE = f"""
import asyncio, faulthandler, os, sys, threading, time
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

import aboto3

faulthandler.dump_traceback_later({HANG}, exit=True)  # a hang shows where it is
ENGINE = os.environ["TEST_ENGINE"]
MOTO = os.environ["TEST_MOTO_URL"]
STALL = os.environ["TEST_STALL_URL"]


def client(url=MOTO, **config):
    return boto3.client("ssm", endpoint_url=url, region_name="us-east-1", config=Config(**config))


STALL_READ_TIMEOUT = {STALL_READ_TIMEOUT}


def stalled_client(**config):
    return client(STALL, read_timeout=STALL_READ_TIMEOUT, retries={{"max_attempts": 0}}, **config)


def make_aio(boto3_client):
    if ENGINE == "executor":
        return aboto3.AIOClient(boto3_client, thread_pool_executor=ThreadPoolExecutor(4))
    return aboto3.AIOClient(boto3_client, engine=ENGINE)


async def calls(aio, n=3):
    return len(await asyncio.gather(*(aio.describe_parameters() for _ in range(n))))


def done():
    print("DONE", time.time(), flush=True)


async def released():
    # The test writes a line to stdin once the stalled server has received the
    # requests it waits for (run_script's release_when).
    loop = asyncio.get_running_loop()
    readable = asyncio.Event()
    loop.add_reader(sys.stdin.fileno(), readable.set)
    try:
        await readable.wait()
    finally:
        loop.remove_reader(sys.stdin.fileno())
    sys.stdin.readline()


def fork():
    # An armed faulthandler watchdog does not survive fork(): the child would
    # wait for the missing watchdog thread at exit. Disarm, fork, re-arm.
    faulthandler.cancel_dump_traceback_later()
    pid = os.fork()
    faulthandler.dump_traceback_later({HANG}, exit=True)
    return pid
"""

ALARMS = ("Traceback (most recent call last)", "Fatal Python error", "Exception ignored")


class Finished:
    def __init__(self, returncode: int, stdout: str, stderr: str, ended: float) -> None:
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.ended = ended

    def exit_latency(self) -> float:
        """Seconds from the script's last statement to the end of the process."""
        for line in self.stdout.splitlines():
            if line.startswith("DONE "):
                return self.ended - float(line.split()[1])
        raise AssertionError(f"the script never reached its end:\n{self}")

    def __str__(self) -> str:
        return f"rc={self.returncode}\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"


@pytest.fixture
def run_script(
    engine: str, moto_url: str, make_proxy: Callable[..., FaultProxy]
) -> Callable[..., Finished]:
    stall = make_proxy("stall")

    def run(body: str, release_when: Callable[[FaultProxy], bool] | None = None) -> Finished:
        """Run ``body``; with ``release_when``, its ``await released()`` returns
        once ``release_when(stall)`` holds (say, its calls reached the server)."""
        env = dict(os.environ)
        env.update(TEST_ENGINE=engine, TEST_MOTO_URL=moto_url, TEST_STALL_URL=stall.url)
        source = PRELUDE + textwrap.dedent(body)
        command = [sys.executable, "-X", "faulthandler", "-c", source]
        pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "stdin": subprocess.PIPE}
        with subprocess.Popen(command, cwd=ROOT, env=env, text=True, **pipes) as proc:
            try:
                if release_when is not None:
                    wait_until_sync(
                        lambda: release_when(stall) or proc.poll() is not None,
                        f"the script's calls reaching the stalled server ({stall.requests})",
                        timeout=HANG,
                    )
                    with contextlib.suppress(BrokenPipeError):
                        assert proc.stdin is not None
                        proc.stdin.write("go\n")
                        proc.stdin.flush()
                stdout, stderr = proc.communicate(timeout=HANG + 10)
            except (AssertionError, subprocess.TimeoutExpired) as error:
                proc.kill()
                stdout, stderr = proc.communicate()
                pytest.fail(f"{error}: the script hung\n{stdout}\n{stderr}")
        finished = Finished(proc.returncode, stdout, stderr, time.time())
        assert finished.returncode == 0, str(finished)
        for alarm in ALARMS:
            assert alarm not in finished.stderr, str(finished)
        return finished

    run.stall = stall  # type: ignore[attr-defined]
    run.engine = engine  # type: ignore[attr-defined]
    return run


def test_exit_with_an_idle_pool(run_script: Callable[[str], Finished]) -> None:
    finished = run_script(
        """
        aio = make_aio(client())
        assert asyncio.run(calls(aio)) == 3
        # Neither the client nor its pool is closed: the interpreter does it.
        done()
        """
    )
    assert finished.exit_latency() < 3, str(finished)


def test_exit_with_an_idle_pool_and_an_open_loop(run_script: Callable[[str], Finished]) -> None:
    finished = run_script(
        """
        loop = asyncio.new_event_loop()
        aio = make_aio(client())
        assert loop.run_until_complete(calls(aio)) == 3
        done()  # the loop is never closed
        """
    )
    assert finished.exit_latency() < 3, str(finished)


def test_exit_when_asyncio_run_returns_with_calls_queued_and_in_flight(
    run_script: Callable[..., Finished],
) -> None:
    """asyncio.run cancels what is left: queued calls never start, stalled ones
    end by their read timeout at the latest, and exit does not wait longer."""
    finished = run_script(
        """
        aio = make_aio(stalled_client(max_pool_connections=2))
        moto = make_aio(client())

        async def main():
            for _ in range(20):
                asyncio.ensure_future(aio.describe_parameters())
                asyncio.ensure_future(moto.describe_parameters())
            await released()  # two or so reach the stalled server, the rest wait

        asyncio.run(main())
        done()
        """,
        release_when=lambda stall: stall.requests >= 1,
    )
    assert finished.exit_latency() < STALL_READ_TIMEOUT + 4, str(finished)
    stall: FaultProxy = run_script.stall  # type: ignore[attr-defined]
    # Cancelled before they started, the queued calls never reached the server.
    # The native engine learns of a cancellation when the task next runs, so a
    # connection slot freed by the first cancellations can still go to a call
    # whose own cancellation is a few microseconds behind; most never start.
    native = run_script.engine == "native"  # type: ignore[attr-defined]
    assert 1 <= stall.requests <= (8 if native else 4), stall.requests


def test_exit_after_the_loop_closed_with_calls_in_flight(
    run_script: Callable[..., Finished],
) -> None:
    """The loop is closed under calls still running: their completions find no
    loop to wake, and that must be harmless."""
    finished = run_script(
        """
        import logging
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # "Task was destroyed..."

        loop = asyncio.new_event_loop()
        aio = make_aio(stalled_client())
        moto = make_aio(client())
        tasks = []

        async def start():
            tasks.extend(loop.create_task(aio.describe_parameters()) for _ in range(3))
            tasks.extend(loop.create_task(moto.describe_parameters()) for _ in range(3))
            await released()  # the three stalled calls have reached the server

        loop.run_until_complete(start())
        loop.close()
        time.sleep(STALL_READ_TIMEOUT + 0.5)  # the stalled calls time out now, their loop gone
        done()
        """,
        release_when=lambda stall: stall.requests >= 3,
    )
    assert finished.exit_latency() < 3, str(finished)


def test_fork_then_use_aioclients_in_the_child(
    engine: str, run_script: Callable[[str], Finished]
) -> None:
    """After os.fork() the child's new event loop can use the parent's client
    (whose pool threads do not exist in the child) and a new one, and the child
    exits normally (atexit included); the parent carries on."""
    finished = run_script(
        """
        aio = make_aio(client())
        assert asyncio.run(calls(aio)) == 3  # the parent's pool is running now

        pid = fork()
        if pid == 0:
            reused = asyncio.run(calls(aio)) if ENGINE != "executor" else 3
            fresh = asyncio.run(calls(make_aio(client())))
            print("CHILD", reused, fresh, flush=True)
            sys.exit(0 if (reused, fresh) == (3, 3) else 1)

        deadline = time.monotonic() + 15
        while True:
            finished, status = os.waitpid(pid, os.WNOHANG)
            if finished:
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                sys.exit("the forked child hung")
            time.sleep(0.02)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"the forked child failed: {os.waitstatus_to_exitcode(status)}")
        assert asyncio.run(calls(aio)) == 3
        done()
        """
    )
    # The parent's executor cannot serve a forked child (concurrent.futures is
    # not fork-safe), so there the child only uses a client of its own.
    assert "CHILD 3 3" in finished.stdout, str(finished)
    assert finished.exit_latency() < 3, str(finished)


def test_fork_with_a_call_in_flight(engine: str, run_script: Callable[..., Finished]) -> None:
    """Fork from inside a running loop while a call is stalled on the network:
    in the child (on a new thread, with a new loop) the parent's idle client
    and a new one both work; the parent's stalled call still ends normally."""
    finished = run_script(
        """
        from botocore.exceptions import ReadTimeoutError

        moto = make_aio(client())
        stalled = make_aio(stalled_client())

        def in_child():
            results = []

            def work():
                reused = asyncio.run(calls(moto)) if ENGINE != "executor" else 3
                results.append((reused, asyncio.run(calls(make_aio(client())))))

            thread = threading.Thread(target=work)
            thread.start()
            thread.join(15)
            print("CHILD", results, flush=True)
            os._exit(0 if results == [(3, 3)] else 1)

        async def main():
            assert await calls(moto) == 3  # pool threads (or the I/O thread) exist now
            in_flight = asyncio.ensure_future(stalled.describe_parameters())
            await released()  # it has reached the stalled server
            pid = fork()
            if pid == 0:
                in_child()
            deadline = time.monotonic() + 15
            while True:
                finished, status = os.waitpid(pid, os.WNOHANG)
                if finished:
                    break
                if time.monotonic() > deadline:
                    os.kill(pid, 9)
                    sys.exit("the forked child hung")
                await asyncio.sleep(0.02)
            if os.waitstatus_to_exitcode(status) != 0:
                sys.exit(f"the forked child failed: {os.waitstatus_to_exitcode(status)}")
            try:
                await in_flight
            except ReadTimeoutError:
                pass
            else:
                sys.exit("the stalled call did not time out")
            assert await calls(moto) == 3

        asyncio.run(main())
        done()
        """,
        release_when=lambda stall: stall.requests >= 1,
    )
    assert "CHILD [(3, 3)]" in finished.stdout, str(finished)
    assert finished.exit_latency() < 3, str(finished)
