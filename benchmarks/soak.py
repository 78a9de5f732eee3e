"""Soak run: many mixed calls per engine against the C++ stub endpoint, with
RSS, open file descriptors and OS threads sampled every ``--interval`` seconds.

    python -m benchmarks.soak --calls 1000000          # ./dev soak, nox -s soak

The mix: SSM GetParameter; S3 GetObject read in chunks; S3 PutObject of bytes
and of a file (the streamed upload path); a DescribeParameters paginator; a
client error (DeleteObject answered 404 NoSuchKey); calls cancelled while in
flight and calls that hit their read timeout (against a second stub that
answers 100 ms late). After warm-up (the first fifth of the calls) each
resource must stay flat: the highest sample of the last half may not exceed
the highest of the first half by more than a small slack. Exits 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

import aboto3

from .stub import StubServer

# How far the last half may rise above the first half and still be "flat".
SLACK = {"rss_mib": 8.0, "fds": 8.0, "threads": 2.0}


@dataclass
class Sample:
    calls: int
    seconds: float
    rss_mib: float
    fds: float
    threads: float


@dataclass
class Run:
    engine: str
    samples: list[Sample] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
    return kib / 1024


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def client(service: str, url: str, **config: Any) -> Any:
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="soak",
        aws_secret_access_key="soak",
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=32, **config),
    )


async def soak(engine: str, calls: int, concurrency: int, interval: float, upload: str) -> Run:
    run = Run(engine)
    with StubServer() as fast, StubServer(latency_ms=100) as slow:
        clients = {
            "ssm": client("ssm", fast.endpoint_url),
            "s3": client("s3", fast.endpoint_url),
            "slow": client("ssm", slow.endpoint_url, retries={"max_attempts": 1}),
            "timeout": client(
                "ssm", slow.endpoint_url, read_timeout=0.02, retries={"max_attempts": 1}
            ),
        }
        aio = {name: aboto3.AIOClient(c, engine=engine) for name, c in clients.items()}
        payload = b"p" * (256 << 10)
        done = 0
        started = time.monotonic()

        async def one(i: int) -> str:
            kind = i % 20
            if kind < 8:
                await aio["ssm"].get_parameter(Name=f"/soak/{i % 100}")
                return "ssm"
            if kind < 11:
                body = (await aio["s3"].get_object(Bucket="b", Key="obj-65536"))["Body"]
                async for _ in body.iter_chunks(16384):
                    pass
                return "s3-get"
            if kind < 13:
                await aio["s3"].put_object(Bucket="b", Key="up", Body=payload)
                return "s3-put"
            if kind == 13:
                with open(upload, "rb") as f:
                    await aio["s3"].put_object(Bucket="b", Key="file", Body=f)
                return "s3-put-file"
            if kind < 16:
                async for _ in aio["ssm"].get_paginator("describe_parameters").paginate():
                    pass
                return "paginator"
            if kind < 18:
                try:
                    await aio["s3"].delete_object(Bucket="b", Key="missing")
                except ClientError:
                    return "client-error"
                return "unexpected-success"
            if kind == 18:
                try:
                    await asyncio.wait_for(aio["slow"].get_parameter(Name="/x"), 0.005)
                except asyncio.TimeoutError:
                    return "cancelled"
                return "answered-before-cancel"  # a loaded machine: the answer won the race
            try:
                await aio["timeout"].get_parameter(Name="/x")
            except ReadTimeoutError:
                return "timeout"
            return "answered-before-timeout"

        async def worker() -> None:
            nonlocal done
            while done < calls:
                i = done
                done += 1
                kind = await one(i)
                run.outcomes[kind] = run.outcomes.get(kind, 0) + 1

        async def sampler() -> None:
            while True:
                run.samples.append(
                    Sample(done, time.monotonic() - started, rss_mib(), open_fds(), os_threads())
                )
                s = run.samples[-1]
                print(
                    f"  {engine:7} {s.seconds:6.0f} s {s.calls:9d} calls  RSS {s.rss_mib:6.1f} MiB"
                    f"  fds {s.fds:4.0f}  threads {s.threads:3.0f}",
                    flush=True,
                )
                await asyncio.sleep(interval)

        sampling = asyncio.ensure_future(sampler())
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        sampling.cancel()
        run.samples.append(
            Sample(done, time.monotonic() - started, rss_mib(), open_fds(), os_threads())
        )
        for c in aio.values():
            await c.close()
    return run


def flat(run: Run, calls: int) -> list[str]:
    """The resources that grew after warm-up (empty if all stayed flat)."""
    settled = [s for s in run.samples if s.calls >= calls // 5]
    if len(settled) < 4:
        return [f"only {len(settled)} samples after warm-up: run more calls"]
    half = len(settled) // 2
    grew = []
    for name, slack in SLACK.items():
        first = max(getattr(s, name) for s in settled[:half])
        last = max(getattr(s, name) for s in settled[half:])
        if last > first + slack:
            grew.append(f"{name} rose from {first:.1f} to {last:.1f}")
    return grew


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1_000_000, help="calls per engine")
    parser.add_argument("--engine", action="append", choices=["threads", "native"])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    args = parser.parse_args()
    failed = False
    with tempfile.NamedTemporaryFile(suffix=".bin") as upload:
        upload.write(os.urandom(2 << 20))  # over the size read whole: streamed
        upload.flush()
        for engine in args.engine or ["native", "threads"]:
            print(f"{engine}: {args.calls} calls, {args.concurrency} at a time", flush=True)
            run = asyncio.run(
                soak(engine, args.calls, args.concurrency, args.interval, upload.name)
            )
            last = run.samples[-1]
            print(f"  {engine}: {last.calls / last.seconds:.0f} calls/s; outcomes {run.outcomes}")
            problems = flat(run, args.calls)
            unexpected = {k for k in run.outcomes if k.startswith("unexpected")}
            if unexpected:
                problems.append(f"unexpected outcomes: {sorted(unexpected)}")
            for problem in problems:
                print(f"  FAIL {engine}: {problem}")
            failed |= bool(problems)
            if not problems:
                print(f"  {engine}: RSS, fds and threads flat after warm-up")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
