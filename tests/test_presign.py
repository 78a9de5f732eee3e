"""Presigned URLs and POSTs are boto3's, string for string, signed at the same instant."""

from __future__ import annotations

import copy
import datetime
import inspect
import time
import urllib.request
from typing import Any, Callable

import botocore.auth
import botocore.signers
import pytest


class FrozenTime:
    """Stands in for the ``time`` module in botocore.auth: ``time()`` is fixed."""

    def __init__(self, now: float) -> None:
        self._now = now

    def time(self) -> float:
        return self._now

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


class FrozenDatetime(datetime.datetime):
    """``datetime.datetime`` whose ``utcnow()``/``now()`` are one instant."""

    instant = datetime.datetime(2030, 5, 17, 12, 34, 56)

    @classmethod
    def utcnow(cls) -> datetime.datetime:
        return cls.instant

    @classmethod
    def now(cls, tz: datetime.tzinfo | None = None) -> datetime.datetime:
        if tz is None:
            return cls.instant
        return cls.instant.replace(tzinfo=datetime.timezone.utc).astimezone(tz)


class FrozenDatetimeModule:
    """Stands in for the ``datetime`` module in botocore.auth and botocore.signers."""

    datetime = FrozenDatetime

    def __getattr__(self, name: str) -> Any:
        return getattr(datetime, name)


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> datetime.datetime:
    """Every signature (sync or async, on any thread, SigV4 or S3's SigV2 query
    auth, which counts expiry from time.time()) is made at this instant.

    botocore 1.40 and later ask ``get_current_datetime()``, earlier versions
    ``datetime.datetime.utcnow()``: both are frozen, whichever is there.
    """
    now = FrozenDatetime.instant
    for module in (botocore.auth, botocore.signers):
        monkeypatch.setattr(module, "datetime", FrozenDatetimeModule())
        if hasattr(module, "get_current_datetime"):
            monkeypatch.setattr(module, "get_current_datetime", lambda *_, **__: now)
    epoch = now.replace(tzinfo=datetime.timezone.utc).timestamp()
    monkeypatch.setattr(botocore.auth, "time", FrozenTime(epoch))
    return now


SIGNATURES = ["default", "s3v4"]


@pytest.mark.parametrize("signature", SIGNATURES)
async def test_presigned_url_like_boto3(
    make_client: Callable[..., Any],
    make_aio: Callable[..., Any],
    frozen_clock: Any,
    signature: str,
) -> None:
    s3 = make_client("s3", **({} if signature == "default" else {"signature_version": signature}))
    aio = make_aio(s3)
    assert inspect.iscoroutinefunction(aio.generate_presigned_url)
    cases: list[dict[str, Any]] = [
        {"ClientMethod": "get_object", "Params": {"Bucket": "signed", "Key": "a/b c.txt"}},
        {
            "ClientMethod": "put_object",
            "Params": {"Bucket": "signed", "Key": "up", "ContentType": "text/plain"},
            "ExpiresIn": 60,
        },
        {
            "ClientMethod": "list_objects_v2",
            "Params": {"Bucket": "signed", "Prefix": "a/"},
            "HttpMethod": "GET",
        },
    ]
    for case in cases:
        expected = s3.generate_presigned_url(**case)
        url = await aio.generate_presigned_url(**case)
        assert url == expected
        if signature == "s3v4":
            assert "X-Amz-Date=20300517T123456Z" in url
        else:
            assert f"Expires={int(time.time())}" not in url  # the frozen clock, not ours


async def test_presigned_url_works(
    make_client: Callable[..., Any], make_aio: Callable[..., Any]
) -> None:
    s3 = make_client("s3")
    aio = make_aio(s3)
    await aio.create_bucket(Bucket="signed")
    await aio.put_object(Bucket="signed", Key="hello.txt", Body=b"hello, presigned")
    url = await aio.generate_presigned_url(
        "get_object", Params={"Bucket": "signed", "Key": "hello.txt"}, ExpiresIn=300
    )
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"hello, presigned"


@pytest.mark.parametrize("signature", SIGNATURES)
async def test_presigned_post_like_boto3(
    make_client: Callable[..., Any],
    make_aio: Callable[..., Any],
    frozen_clock: Any,
    signature: str,
) -> None:
    s3 = make_client("s3", **({} if signature == "default" else {"signature_version": signature}))
    aio = make_aio(s3)
    assert inspect.iscoroutinefunction(aio.generate_presigned_post)
    request: dict[str, Any] = {
        "Bucket": "signed",
        "Key": "uploads/${filename}",
        "Fields": {"acl": "private", "Content-Type": "image/png"},
        "Conditions": [
            {"acl": "private"},
            {"Content-Type": "image/png"},
            ["content-length-range", 1, 1048576],
            ["starts-with", "$key", "uploads/"],
        ],
        "ExpiresIn": 900,
    }
    # botocore appends the bucket and key to the Conditions it is given: a copy each
    expected = s3.generate_presigned_post(**copy.deepcopy(request))
    post = await aio.generate_presigned_post(**copy.deepcopy(request))
    assert post == expected
    if signature == "s3v4":
        assert post["fields"]["x-amz-date"] == "20300517T123456Z"


async def test_presigned_url_of_other_services(
    make_client: Callable[..., Any], make_aio: Callable[..., Any], frozen_clock: Any
) -> None:
    for service, method, params in [
        ("sts", "get_caller_identity", {}),
        ("ec2", "describe_instances", {"MaxResults": 5}),
        ("sqs", "list_queues", {"QueueNamePrefix": "jobs"}),
    ]:
        client = make_client(service)
        aio = make_aio(client)
        expected = client.generate_presigned_url(method, Params=params, ExpiresIn=120)
        assert await aio.generate_presigned_url(method, Params=params, ExpiresIn=120) == expected
