"""Measure one cell in this (fresh) process and print the result as JSON.

The runner starts one worker per cell and repetition::

    python -m benchmarks.worker '{"cell": {...}, "endpoint_url": ..., "duration_s": ...}'

It can be run by hand against a stub started with ``python -m benchmarks.stub``
to debug a single cell; the last stdout line is ``RESULT {json}``.

The measured section is closed-loop: ``concurrency`` tasks each make one call
after another until the deadline (the calls in flight then are finished and
counted). CPU time is the whole process's (every thread), from getrusage.
An asyncio contender's loop is watched meanwhile by a 1 ms ticker (LoopLag).
After the measured section, one more call is compared with sync boto3's
(benchmarks/parity.py).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import resource
import sys
import time
import urllib.request
from typing import Any

from .contenders import (
    BIG_CALLS,
    CONTENDERS,
    PARAMETER_NAME,
    PUT_BODY,
    PUT_KEY,
    TABLE_KEY,
    WORKLOADS,
    AsyncCall,
    Cell,
    SyncCall,
    boto3_client,
)
from .parity import comparable, first_difference
from .runqueue import RunQueueClock

RESULT_PREFIX = "RESULT "


def stub_stats(endpoint_url: str | None) -> dict[str, Any] | None:
    """The stub's counters (one extra request, counted by the stub itself)."""
    if not endpoint_url:
        return None
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{endpoint_url}/__stats", timeout=10) as response:
        stats: dict[str, Any] = json.loads(response.read())
    return stats


def thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


def machine_busy_s() -> float:
    """CPU seconds spent by the whole machine (every process, every CPU) so far."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    # guest time is already included in user time
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = math.ceil(fraction * len(sorted_values))
    return sorted_values[min(max(rank, 1), len(sorted_values)) - 1]


def drive_sync(call: SyncCall, duration_s: float, min_calls: int = 1) -> list[float]:
    latencies: list[float] = []
    clock = time.perf_counter
    deadline = clock() + duration_s
    while True:
        start = clock()
        if start >= deadline and len(latencies) >= min_calls:
            return latencies
        call()
        latencies.append(clock() - start)


class LoopLag:
    """How late a 1 ms ticker on the event loop fires: the loop's stalls.

    Any stretch of work that holds the loop thread (parsing a big body on it, a
    garbage collection, waiting for the GIL) makes one late tick about as long.
    Each lateness is kept twice: as the wall clock saw it, and less the time the
    loop thread spent runnable but waiting for a CPU meanwhile (from
    /proc/thread-self/schedstat, as tests/looplag.py does): the second is the
    loop's own stall, which the client can help; the first adds the machine's
    scheduling (the stub and the client share two CPUs).

    The ticker is a plain callback that schedules itself again (no task, no
    future), so a tick costs a timer, a pread and two appends: see
    ``python -m benchmarks.worker --lag-cost`` for its CPU on this machine.
    """

    interval = 0.001

    def __init__(self) -> None:
        self.late: list[float] = []
        self.own: list[float] = []
        self._handle: asyncio.TimerHandle | None = None
        self._run_queue: RunQueueClock | None = None

    def start(self) -> None:
        """Start ticking on the running loop (call it on the loop's thread:
        /proc/thread-self names the thread that opens it)."""
        loop = asyncio.get_running_loop()
        self._run_queue = run_queue = RunQueueClock()
        interval, late, own = self.interval, self.late.append, self.own.append
        call_at, clock = loop.call_at, loop.time
        expected, waited = clock() + interval, run_queue()

        def tick() -> None:
            nonlocal expected, waited
            now, waited_now = clock(), run_queue()
            late(now - expected)
            own(now - expected - (waited_now - waited))
            expected, waited = now + interval, waited_now
            self._handle = call_at(expected, tick)

        self._handle = call_at(expected, tick)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._run_queue is not None:
            self._run_queue.close()
            self._run_queue = None

    def summary(self) -> dict[str, float]:
        if not self.late:
            return {}
        late, own = sorted(self.late), sorted(self.own)
        return {
            "loop_lag_max_ms": max(0.0, late[-1]) * 1e3,
            "loop_lag_p99_ms": max(0.0, percentile(late, 0.99)) * 1e3,
            "loop_lag_own_max_ms": max(0.0, own[-1]) * 1e3,
            "loop_lag_own_p99_ms": max(0.0, percentile(own, 0.99)) * 1e3,
            "loop_lag_ticks": len(late),
        }


async def drive_async(
    call: AsyncCall,
    concurrency: int,
    duration_s: float,
    sampler: list[int] | None = None,
    lag: LoopLag | None = None,
) -> list[float]:
    latencies: list[float] = []
    clock = time.perf_counter
    deadline = clock() + duration_s

    async def one_task() -> None:
        record = latencies.append
        while True:
            start = clock()
            if start >= deadline:
                return
            await call()
            record(clock() - start)

    async def sample_threads() -> None:
        # Threads come and go with the load: look a few times during the run.
        assert sampler is not None
        while clock() < deadline:
            sampler.append(thread_count())
            await asyncio.sleep(0.05)

    tasks = [one_task() for _ in range(concurrency)]
    if sampler is not None:
        tasks.append(sample_threads())
    # The ticker watches the loop until the last call in flight is done.
    if lag is not None:
        lag.start()
    try:
        await asyncio.gather(*tasks)
    finally:
        if lag is not None:
            lag.stop()
    return latencies


class MeasuredSection:
    """Wall time, process CPU time and the stub's counters around the measured calls."""

    def __init__(self, endpoint_url: str | None) -> None:
        self._endpoint_url = endpoint_url

    def __enter__(self) -> MeasuredSection:
        # Blocking, on purpose: outside the timed section, and without a
        # default executor whose thread would show up in the thread count.
        self.stub_before = stub_stats(self._endpoint_url)
        self._usage = resource.getrusage(resource.RUSAGE_SELF)
        self._machine = machine_busy_s()
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.elapsed = time.perf_counter() - self._started
        self.machine_busy = machine_busy_s() - self._machine
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.user = usage.ru_utime - self._usage.ru_utime
        self.sys = usage.ru_stime - self._usage.ru_stime
        # Context switches tell GIL hand-offs and thread wake-ups apart from work.
        self.switches = (usage.ru_nvcsw - self._usage.ru_nvcsw) + (
            usage.ru_nivcsw - self._usage.ru_nivcsw
        )
        self.threads_end = thread_count()
        self.stub_after = stub_stats(self._endpoint_url)


# Workloads whose whole answer is a parsed dict, compared with sync boto3's.
COMPARED_WORKLOADS = frozenset({"ssm", "ddb", "s3put", *BIG_CALLS})


def reference_response(workload: str, endpoint_url: str | None) -> Any:
    """The workload's call made once by a plain sync boto3 client."""
    client = boto3_client(workload, endpoint_url, 1)
    try:
        if workload in BIG_CALLS:
            name, params = BIG_CALLS[workload]
            return getattr(client, name)(**params)
        if workload == "ssm":
            return client.get_parameter(Name=PARAMETER_NAME)
        if workload == "ddb":
            return client.get_item(TableName="bench", Key=TABLE_KEY)
        return client.put_object(Bucket="bench", Key=PUT_KEY, Body=PUT_BODY)
    finally:
        client.close()


def parity(workload: str, endpoint_url: str | None, response: Any) -> dict[str, Any]:
    """Whether ``response`` (one of the contender's) parses as sync boto3's does."""
    if workload not in COMPARED_WORKLOADS or not endpoint_url:
        return {}
    expected = comparable(reference_response(workload, endpoint_url))
    difference = first_difference(comparable(response), expected)
    if difference is None:
        return {"parsed_same_as_boto3": True}
    return {"parsed_same_as_boto3": False, "parsed_difference": difference}


def measure(
    cell: Cell,
    endpoint_url: str | None,
    duration_s: float,
    warmup_s: float,
    loop_lag: bool = True,
) -> dict[str, Any]:
    """Open the contender, warm up, then measure ``duration_s`` of calls (times
    the workload's ``duration_scale``)."""
    contender = CONTENDERS[cell.contender]
    scale = WORKLOADS[cell.workload].duration_scale
    duration_s, warmup_s = duration_s * scale, warmup_s * scale
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    thread_samples: list[int] = []
    section = MeasuredSection(endpoint_url)
    lag = LoopLag() if loop_lag and contender.is_async else None
    compare = cell.workload in COMPARED_WORKLOADS and endpoint_url is not None
    sample: Any = None  # one response, made after the measured section

    if contender.is_async:

        async def run_async() -> list[float]:
            nonlocal sample
            call = await contender.open(cell, endpoint_url)
            try:
                # Warm up at the cell's concurrency (capped, so that warming a
                # thousand-task cell stays short): connections, threads, caches.
                await drive_async(call, min(cell.concurrency, 100), warmup_s)
                with section:
                    measured = await drive_async(
                        call, cell.concurrency, duration_s, thread_samples, lag
                    )
                if compare:
                    sample = await call()
                return measured
            finally:
                await contender.close()

        latencies = asyncio.run(run_async())
    else:
        call = contender.open_sync(cell, endpoint_url)
        drive_sync(call, warmup_s)
        with section:
            latencies = drive_sync(call, duration_s)
        if compare:
            sample = call()

    latencies.sort()
    calls = len(latencies)
    cpu_s = section.user + section.sys
    result: dict[str, Any] = {
        "calls": calls,
        "elapsed_s": section.elapsed,
        "calls_per_s": calls / section.elapsed,
        "cpu_us_per_call": cpu_s / calls * 1e6,
        "cpu_user_s": section.user,
        "cpu_sys_s": section.sys,
        "cpu_cores": cpu_s / section.elapsed,  # average cores busy in the client
        "sys_us_per_call": section.sys / calls * 1e6,
        "switches_per_call": section.switches / calls,
        "p50_ms": percentile(latencies, 0.50) * 1e3,
        "p99_ms": percentile(latencies, 0.99) * 1e3,
        "mean_ms": sum(latencies) / calls * 1e3,
        "rss_start_mib": rss_start / 1024,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads_peak": max([section.threads_end, *thread_samples]),
    }
    before, after = section.stub_before, section.stub_after
    if before is not None and after is not None:
        stub_cpu = (after["cpu_user_s"] + after["cpu_sys_s"]) - (
            before["cpu_user_s"] + before["cpu_sys_s"]
        )
        result["stub_requests"] = after["requests"] - before["requests"] - 1  # minus /__stats
        result["stub_cpu_s"] = stub_cpu
        result["stub_cpu_us_per_call"] = stub_cpu / calls * 1e6
    # CPU the rest of the machine used meanwhile (other processes, the
    # runner): when it is not near zero, the cell was disturbed.
    others = section.machine_busy - cpu_s - result.get("stub_cpu_s", 0.0)
    result["other_cores"] = max(0.0, others) / section.elapsed
    if lag is not None:
        result.update(lag.summary())
    # Last: a reference client must not count in the figures above.
    if compare:
        result.update(parity(cell.workload, endpoint_url, sample))
    return result


def lag_cost(seconds: float = 2.0) -> dict[str, float]:
    """The ticker's own CPU per tick, alone on an idle loop."""

    async def tick_alone() -> dict[str, float]:
        lag = LoopLag()
        before = time.process_time()
        lag.start()
        await asyncio.sleep(seconds)
        lag.stop()
        cpu = time.process_time() - before
        ticks = len(lag.late)
        return {"ticks_per_s": ticks / seconds, "cpu_us_per_tick": cpu / ticks * 1e6}

    return asyncio.run(tick_alone())


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--lag-cost"]:
        cost = lag_cost()
        print(
            f"loop-lag ticker: {cost['ticks_per_s']:.0f} ticks/s, "
            f"{cost['cpu_us_per_tick']:.1f} us CPU per tick, "
            f"{cost['ticks_per_s'] * cost['cpu_us_per_tick'] / 1e4:.1f} % of a core"
        )
        return 0
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    spec = json.loads(args[0])
    cpu = spec.get("cpu")
    if cpu is not None:
        os.sched_setaffinity(0, set(cpu))
    cell = Cell(**spec["cell"])
    result = measure(
        cell,
        spec.get("endpoint_url"),
        spec["duration_s"],
        spec["warmup_s"],
        loop_lag=spec.get("loop_lag", True),
    )
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
