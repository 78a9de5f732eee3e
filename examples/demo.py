"""aboto3 demo: the same SSM calls through plain boto3 and through AIOClient.

Starts a moto server (a local AWS endpoint) on 127.0.0.1, stores some
parameters, then makes the same GetParameter calls four ways: one after the
other with the boto3 client, all at once with ``aboto3.AIOClient`` on each of
its engines (threads, the default, and native), and all at once with
``asyncio.to_thread`` for reference. It does so twice: with moto
answering at once (moto's own CPU is then the limit), and with moto answering
after a fixed delay, as an AWS endpoint a few milliseconds away would. Fake
credentials only; nothing leaves this machine.

    ./dev demo [--calls N] [--pool N] [--latency-ms MS]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import boto3
from botocore.config import Config

import aboto3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from examples.local_aws import moto_server


def measure(endpoint: str, calls: int, pool: int) -> dict[str, float]:
    """Seconds taken by each way of making ``calls`` GetParameter calls."""
    ssm = boto3.client(
        "ssm",
        region_name="us-east-1",
        endpoint_url=endpoint,
        config=Config(max_pool_connections=pool),
    )
    names = [f"/demo/param-{i:03}" for i in range(50)]
    for name in names:
        ssm.put_parameter(Name=name, Value=name.upper(), Type="String", Overwrite=True)
    wanted = [names[i % len(names)] for i in range(calls)]
    ssm.get_parameter(Name=names[0])  # warm the connection and the model caches

    started = time.perf_counter()
    sync_values = [ssm.get_parameter(Name=n)["Parameter"]["Value"] for n in wanted]
    seconds = {"boto3, one call after another": time.perf_counter() - started}

    async def concurrently() -> None:
        for engine, label in (("threads", "thread engine"), ("native", "native engine")):
            async with aboto3.AIOClient(ssm, engine=engine) as aio:
                await aio.get_parameter(Name=names[0])
                started = time.perf_counter()
                results = await asyncio.gather(*(aio.get_parameter(Name=n) for n in wanted))
                seconds[f"aboto3 {label}, all at once"] = time.perf_counter() - started
            values = [r["Parameter"]["Value"] for r in results]
            assert values == sync_values, "AIOClient must return exactly what boto3 returns"
        started = time.perf_counter()
        await asyncio.gather(*(asyncio.to_thread(ssm.get_parameter, Name=n) for n in wanted))
        seconds["asyncio.to_thread, all at once"] = time.perf_counter() - started

    asyncio.run(concurrently())
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400, help="GetParameter calls per run")
    parser.add_argument("--pool", type=int, default=32, help="max_pool_connections")
    parser.add_argument(
        "--latency-ms", type=float, default=20, help="simulated network latency of the second run"
    )
    args = parser.parse_args()
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        os.environ.setdefault(name, value)

    print(
        f"{args.calls} SSM GetParameter calls to a local moto server, "
        f"max_pool_connections={args.pool}; results identical to boto3's."
    )
    for latency in (0, args.latency_ms):
        with moto_server(latency_ms=latency) as endpoint:
            seconds = measure(endpoint, args.calls, args.pool)
        print(f"\nmoto answering {'at once' if not latency else f'after {latency:g} ms'}:")
        baseline = seconds["boto3, one call after another"]
        for label, taken in seconds.items():
            print(
                f"  {label:<32} {taken:7.3f} s {args.calls / taken:7.0f} calls/s"
                f" {baseline / taken:6.2f}x boto3"
            )


if __name__ == "__main__":
    main()
