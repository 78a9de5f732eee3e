"""Measure one cell in this (fresh) process and print the result as JSON.

The runner starts one worker per cell and repetition::

    python -m benchmarks.worker '{"cell": {...}, "endpoint_url": ..., "duration_s": ...}'

It can be run by hand against a stub started with ``python -m benchmarks.stub``
to debug a single cell; the last stdout line is ``RESULT {json}``.

The measured section is closed-loop: ``concurrency`` tasks each make one call
after another until the deadline (the calls in flight then are finished and
counted). CPU time is the whole process's (every thread), from getrusage.
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

from .contenders import CONTENDERS, AsyncCall, Cell, SyncCall

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


async def drive_async(
    call: AsyncCall, concurrency: int, duration_s: float, sampler: list[int] | None = None
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
    await asyncio.gather(*tasks)
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


def measure(
    cell: Cell,
    endpoint_url: str | None,
    duration_s: float,
    warmup_s: float,
) -> dict[str, Any]:
    """Open the contender, warm up, then measure ``duration_s`` of calls."""
    contender = CONTENDERS[cell.contender]
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    thread_samples: list[int] = []
    section = MeasuredSection(endpoint_url)

    if contender.is_async:

        async def run_async() -> list[float]:
            call = await contender.open(cell, endpoint_url)
            try:
                # Warm up at the cell's concurrency (capped, so that warming a
                # thousand-task cell stays short): connections, threads, caches.
                await drive_async(call, min(cell.concurrency, 100), warmup_s)
                with section:
                    return await drive_async(call, cell.concurrency, duration_s, thread_samples)
            finally:
                await contender.close()

        latencies = asyncio.run(run_async())
    else:
        call = contender.open_sync(cell, endpoint_url)
        drive_sync(call, warmup_s)
        with section:
            latencies = drive_sync(call, duration_s)

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
    return result


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    spec = json.loads(args[0])
    cpu = spec.get("cpu")
    if cpu is not None:
        os.sched_setaffinity(0, set(cpu))
    cell = Cell(**spec["cell"])
    result = measure(cell, spec.get("endpoint_url"), spec["duration_s"], spec["warmup_s"])
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
