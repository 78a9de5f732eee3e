"""The signing share timed in one process, where the CPU's SHA extensions are used.

    python -m benchmarks.signing [--rounds 10] [--calls 1500]

Four floors (SSM ``GetParameter`` with the HTTP answered in-process, as the
benchmark's floor contenders): botocore's signer, aboto3's C++ signer, a signer
that computes nothing and only appends the two headers (chosen the same way as
the C++ one: the least any signer costs there), and the same client unsigned.
They take turns, ``calls`` calls each per round, and each keeps its best round
of CPU time per call (``time.thread_time``: what other processes do costs this
thread little). A share is what signing adds to the unsigned floor with that
signer, over what it adds with botocore's.
``benchmarks.instructions`` counts the same floors in instructions, but under
valgrind, which hides the SHA extensions.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

from .contenders import CannedHTTPSession, boto3_client, sync_call, use_null_signer
from .stub import StubServer

FLOORS = ("botocore signer", "C++ signer", "null signer", "unsigned")


def _floor(name: str, endpoint_url: str) -> Any:
    from aboto3._signing import use_fast_signing

    client = boto3_client("ssm", endpoint_url, 10, unsigned=name == "unsigned")
    client._endpoint.http_session = CannedHTTPSession(client._endpoint.http_session)
    if name == "C++ signer" and not use_fast_signing(client, True):
        raise RuntimeError("the C++ signer is not available in this install")
    if name == "null signer":
        use_null_signer(client)
    call = sync_call(client, "ssm")
    call()  # records the stub's answer
    return call


def measure(rounds: int, calls: int) -> dict[str, float]:
    """Best CPU microseconds per call of each floor."""
    with StubServer() as stub:
        floors = {name: _floor(name, stub.endpoint_url) for name in FLOORS}
        best = dict.fromkeys(FLOORS, float("inf"))
        for _ in range(rounds):
            for name, call in floors.items():
                started = time.thread_time()
                for _ in range(calls):
                    call()
                best[name] = min(best[name], (time.thread_time() - started) / calls * 1e6)
    return best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--calls", type=int, default=1500)
    args = parser.parse_args(argv)
    best = measure(args.rounds, args.calls)
    for name in FLOORS:
        print(f"floor, {name:16s} {best[name]:7.1f} us CPU per call")
    unsigned = best["unsigned"]
    botocore_share = best["botocore signer"] - unsigned
    for name in ("C++ signer", "null signer"):
        share = (best[name] - unsigned) / botocore_share
        print(f"signing share of the {name}: {share:.2f}x botocore's")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
