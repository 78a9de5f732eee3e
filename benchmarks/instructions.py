"""Instructions per call, counted by callgrind: a figure that stays put on a busy machine.

``python -m benchmarks.instructions [--calls 300] [variant ...]`` runs SSM
``GetParameter`` against the C++ stub endpoint under ``valgrind --tool=callgrind``
twice per variant, with ``calls`` and ``3 * calls`` sequential calls, and prints
the difference divided by the extra calls: start-up and imports cancel out.

Variants: ``floor`` (botocore with the HTTP answered in-process, as the benchmark's
floor), ``floor-unsigned`` (the same with ``signature_version=UNSIGNED``),
``floor-cpp-signer`` (the floor with aboto3's C++ signer), ``floor-null-signer``
(the floor with a signer that only appends the two headers, plugged in the same
way: the least any signer can cost there), ``boto3`` (plain sync
boto3 over HTTP), ``native`` and ``threads`` (``AIOClient`` engines, one call at a
time).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

VARIANTS = (
    "floor",
    "floor-unsigned",
    "floor-cpp-signer",
    "floor-null-signer",
    "boto3",
    "native",
    "threads",
)
ROOT = Path(__file__).resolve().parent.parent


def run_calls(variant: str, calls: int, endpoint_url: str) -> None:
    """The measured program: ``calls`` GetParameter calls, after one warm-up call."""

    from benchmarks.contenders import CannedHTTPSession, boto3_client, sync_call, use_null_signer

    # The unsigned floor is the same client with signing off (the benchmark's
    # floor-unsigned contender): only the signer differs between the floors.
    client = boto3_client("ssm", endpoint_url, 10, unsigned=variant == "floor-unsigned")
    if variant.startswith("floor"):
        client._endpoint.http_session = CannedHTTPSession(client._endpoint.http_session)
        if variant == "floor-cpp-signer":
            from aboto3._signing import use_fast_signing

            assert use_fast_signing(client, True)
        elif variant == "floor-null-signer":
            use_null_signer(client)
    if variant.startswith("floor") or variant == "boto3":
        call = sync_call(client, "ssm")
        for _ in range(calls + 1):
            call()
        return

    import aboto3

    async def main() -> None:
        aio = aboto3.AIOClient(client, engine=variant)
        for _ in range(calls + 1):
            await aio.get_parameter(Name="/bench/parameter")
        await aio.close()

    asyncio.run(main())


def count(variant: str, calls: int, endpoint_url: str) -> int:
    """Instructions callgrind counts for the whole program."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={tmp}/out",
            sys.executable,
            "-m",
            "benchmarks.instructions",
            "--run",
            variant,
            "--calls",
            str(calls),
            "--endpoint",
            endpoint_url,
        ]
        result = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, check=True, env=os.environ.copy()
        )
    found = re.search(r"Collected : (\d+)", result.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from callgrind:\n{result.stderr[-2000:]}")
    return int(found.group(1))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="*", help=f"any of {', '.join(VARIANTS)} (all)")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--run", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        run_calls(args.run, args.calls, args.endpoint)
        return 0
    unknown = set(args.variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    if shutil.which("valgrind") is None:
        print("valgrind is not installed", file=sys.stderr)
        return 1
    from benchmarks.stub import StubServer

    with StubServer(latency_ms=0) as stub:
        for variant in args.variants or VARIANTS:
            low = count(variant, args.calls, stub.endpoint_url)
            high = count(variant, 3 * args.calls, stub.endpoint_url)
            per_call = (high - low) / (2 * args.calls)
            print(f"{variant:18s} {per_call / 1e6:6.3f} M instructions per call", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
