"""Response parsing alone: botocore's parser against aboto3's C++ one, per call.

    python -m benchmarks.parsers            # best of 7 rounds per body
    python -m benchmarks.parsers --rounds 3

Each body is parsed the way botocore's endpoint parses it (``parser.parse(response,
output_shape)``) by botocore's own parser class and by aboto3's, in the same process
and turn by turn; the figures are the best wall time and thread CPU time of a call.
The bodies are what the issue's workloads receive: SSM GetParameter, a DynamoDB Query
of 100 items of ~400 B, a ~1 MB DynamoDB Scan page, an S3 ListObjectsV2 of 1,000 keys
and an EC2 DescribeInstances page of 50 instances (written by moto, which must be
installed). For S3 it also times botocore's check for errors sent with status 200,
which builds an ElementTree of every S3 body before the parse, against aboto3's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from typing import Any, Callable

import botocore.handlers
import botocore.session
from botocore.awsrequest import HeadersDict
from botocore.parsers import PROTOCOL_PARSERS

from aboto3 import _parsers


def _ddb_item(rng: random.Random, i: int) -> dict[str, Any]:
    return {
        "pk": {"S": f"user#{i:08d}"},
        "sk": {"S": f"order#{rng.randrange(10**9):09d}"},
        "amount": {"N": str(rng.randrange(100000) / 100)},
        "qty": {"N": str(rng.randrange(100))},
        "status": {"S": rng.choice(["NEW", "PAID", "SHIPPED", "CANCELLED"])},
        "note": {"S": "x" * rng.randrange(120, 200)},
        "tags": {"SS": ["a", "bb", "ccc"]},
        "active": {"BOOL": True},
        "meta": {"M": {"created": {"S": "2024-01-01T00:00:00Z"}, "v": {"N": "3"}}},
    }


def _ddb_page(items: int) -> bytes:
    rng = random.Random(items)
    page = [_ddb_item(rng, i) for i in range(items)]
    last = {"pk": page[-1]["pk"], "sk": page[-1]["sk"]}
    body = {"Items": page, "Count": items, "ScannedCount": items, "LastEvaluatedKey": last}
    return json.dumps(body).encode()


def _listing(keys: int) -> bytes:
    rng = random.Random(keys)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult '
        'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bucket</Name><Prefix></Prefix>'
        f"<KeyCount>{keys}</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>"
    ]
    for i in range(keys):
        parts.append(
            f"<Contents><Key>data/2024/01/{i:06d}/object-{rng.randrange(10**9)}.json</Key>"
            f"<LastModified>2024-01-{1 + i % 28:02d}T12:{i % 60:02d}:05.000Z</LastModified>"
            f"<ETag>&quot;{rng.randrange(16**32):032x}&quot;</ETag>"
            "<ChecksumAlgorithm>CRC32</ChecksumAlgorithm>"
            f"<Size>{rng.randrange(10**7)}</Size><StorageClass>STANDARD</StorageClass></Contents>"
        )
    parts.append("<NextContinuationToken>abc</NextContinuationToken></ListBucketResult>")
    return "".join(parts).encode()


def _ssm() -> bytes:
    parameter = {
        "Name": "/app/config",
        "Type": "String",
        "Value": "hello world",
        "Version": 3,
        "LastModifiedDate": 1700000000.123,
        "ARN": "arn:aws:ssm:us-east-1:123456789012:parameter/app/config",
        "DataType": "text",
    }
    return json.dumps({"Parameter": parameter}).encode()


def _ec2_page(instances: int) -> bytes | None:
    """A DescribeInstances page as moto writes it (None without moto)."""
    try:
        from moto import mock_aws
    except ImportError:
        return None
    import boto3

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        ec2.run_instances(ImageId="ami-12c6146b", MinCount=instances, MaxCount=instances)
        captured: list[bytes] = []
        ec2.meta.events.register(
            "before-parse.ec2.DescribeInstances",
            lambda response_dict, **kw: captured.append(response_dict["body"]),
        )
        ec2.describe_instances()
    return captured[0]


def _best(fn: Callable[[], Any], rounds: int, repeat: int) -> tuple[float, float]:
    """Best time of one call; the results are freed after the clock stops."""
    wall = cpu = float("inf")
    for _ in range(rounds):
        kept = []
        w, c = time.perf_counter(), time.thread_time()
        for _ in range(repeat):
            kept.append(fn())
        wall = min(wall, (time.perf_counter() - w) / repeat)
        cpu = min(cpu, (time.thread_time() - c) / repeat)
        del kept
    return wall, cpu


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    arguments.add_argument("--rounds", type=int, default=7)
    rounds = arguments.parse_args().rounds
    session = botocore.session.get_session()
    cases = [
        ("SSM GetParameter", "ssm", "GetParameter", _ssm(), 2000),
        ("DynamoDB Query, 100 items", "dynamodb", "Query", _ddb_page(100), 50),
        ("DynamoDB Scan, ~1 MB page", "dynamodb", "Scan", _ddb_page(2400), 1),
        ("S3 ListObjectsV2, 1,000 keys", "s3", "ListObjectsV2", _listing(1000), 2),
    ]
    ec2 = _ec2_page(50)
    if ec2 is not None:
        cases.append(("EC2 DescribeInstances, 50", "ec2", "DescribeInstances", ec2, 5))
    print(f"{'call':32} {'body':>9} {'botocore':>11} {'aboto3':>10} {'ratio':>6}  CPU ratio")
    for title, service, operation, body, repeat in cases:
        _measure(session, title, service, operation, body, rounds, repeat)


def _measure(
    session: Any, title: str, service: str, operation: str, body: bytes, rounds: int, repeat: int
) -> None:
    model = session.get_service_model(service)
    protocol = getattr(model, "resolved_protocol", None) or model.metadata["protocol"]
    operation_model = model.operation_model(operation)
    shape = operation_model.output_shape
    headers = HeadersDict({"x-amzn-requestid": "id", "content-type": "application/x"})
    response = {"body": body, "headers": headers, "status_code": 200, "context": {}}
    theirs = PROTOCOL_PARSERS[protocol]()
    ours = _parsers.FAST_CLASSES[protocol]()
    assert theirs.parse(dict(response), shape) == ours.parse(dict(response), shape)
    b_wall, b_cpu = _best(lambda: theirs.parse(dict(response), shape), rounds, repeat)
    a_wall, a_cpu = _best(lambda: ours.parse(dict(response), shape), rounds, repeat)
    print(
        f"{title:32} {len(body) / 1000:7.0f}KB {b_wall * 1e3:9.3f}ms {a_wall * 1e3:8.3f}ms"
        f" {b_wall / a_wall:5.1f}x  {b_cpu / a_cpu:5.1f}x"
    )
    if service == "s3" and _parsers._replaceable_200_handler():

        def check(handler: Any) -> Callable[[], Any]:
            return lambda: handler(operation_model, {"status_code": 200, "body": body})

        b_wall, _ = _best(check(botocore.handlers._handle_200_error), rounds, repeat)
        a_wall, _ = _best(check(_parsers._handle_200_error), rounds, repeat)
        print(
            f"{'  S3 200-error check':32} {'':9} {b_wall * 1e3:9.3f}ms {a_wall * 1e3:8.3f}ms"
            f" {b_wall / a_wall:5.1f}x"
        )


if __name__ == "__main__":
    main()
