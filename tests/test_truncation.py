"""A body cut short by a clean close fails as the installed boto3 fails.

What boto3 does depends on its version and urllib3's: botocore 1.43.115 and
later ask urllib3 not to check Content-Length, earlier versions leave
urllib3's default (off in urllib3 1.x, on in 2.x). aboto3 finds out once, at
import (``aboto3._native.ENFORCE_CONTENT_LENGTH``); these tests run plain
boto3 against the same fault and check that every engine matches it: class,
message, attempts, result; and that the import-time finding matches what
boto3 was seen to do.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import pytest

from aboto3._native import ENFORCE_CONTENT_LENGTH

from .faultproxy import FaultProxy
from .test_faults import (
    BLOB,
    BUCKET,
    CALLER_IDENTITY,
    GET_PARAMETER,
    KEY,
    LIST_OBJECTS,
    LONG,
    Call,
    assert_same_outcome,
    new_client,
    read_body,
    run_async,
    run_sync,
    seed,
)

WHOLE_BODY_CALLS = {"json": GET_PARAMETER, "query-xml": CALLER_IDENTITY, "rest-xml": LIST_OBJECTS}


@pytest.mark.parametrize("keep", [0, 10], ids=["empty", "10-bytes"])
@pytest.mark.parametrize("protocol", list(WHOLE_BODY_CALLS))
async def test_whole_body_cut_short_like_boto3(
    protocol: str,
    keep: int,
    moto_url: str,
    make_proxy: Callable[..., FaultProxy],
    make_aio: Callable[..., Any],
    fast_retry_backoff: float,
) -> None:
    call: Call = WHOLE_BODY_CALLS[protocol]
    seed(moto_url)
    sync_proxy = make_proxy("truncate", keep=keep)
    sync_client, sync_counter = new_client(sync_proxy.url, call.service, **LONG)
    proxy = make_proxy("truncate", keep=keep)
    client, counter = new_client(proxy.url, call.service, **LONG)
    aio = make_aio(client)
    expected, actual = await asyncio.gather(
        asyncio.to_thread(run_sync, sync_client, sync_counter, sync_proxy, call),
        run_async(aio, counter, proxy, call),
    )
    await aio.close()
    # The fault did something, and what it did is what aboto3 expected of this
    # botocore and urllib3: with the check, a failed read, retried; without
    # it, botocore parsed the short body (an empty result, a parse error, or
    # for S3 a retried "200 error").
    if ENFORCE_CONTENT_LENGTH:
        assert expected.error is not None, expected.describe()
        assert expected.error.__name__ == "ConnectionClosedError", expected.describe()
        assert expected.requests == 3, expected.describe()
    else:
        assert expected.error is None or expected.error.__name__ != "ConnectionClosedError"
        assert expected.error is not None or set(expected.result) == {"ResponseMetadata"}
    assert_same_outcome(expected, actual)
    sync_client.close()
    client.close()


@pytest.mark.parametrize("how", ["whole", "pieces"])
@pytest.mark.parametrize("keep", [0, len(BLOB) // 2], ids=["empty", "half"])
async def test_streaming_body_cut_short_like_boto3(
    how: str,
    keep: int,
    moto_url: str,
    make_proxy: Callable[..., FaultProxy],
    make_aio: Callable[..., Any],
) -> None:
    seed(moto_url)
    proxy = make_proxy("truncate", keep=keep)

    async def outcome(aio: Any | None) -> tuple[Any, ...]:
        client, _ = new_client(proxy.url, "s3", **LONG)
        try:
            if aio is None:
                response = client.get_object(Bucket=BUCKET, Key=KEY)
            else:
                wrapped = aio(client)
                response = await wrapped.get_object(Bucket=BUCKET, Key=KEY)
            assert response["ContentLength"] == len(BLOB)
            try:
                data = await asyncio.wait_for(read_body(response["Body"], how), 30)
            except Exception as error:
                return (type(error), str(error).replace(proxy.url, "<endpoint>"))
            return (None, len(data))
        finally:
            if aio is not None:
                await wrapped.close()
            client.close()

    expected = await outcome(None)
    assert proxy.requests == 1  # body errors are never retried
    assert expected[0] is not None, "the proxy did not cut the body short"
    # Read whole, http.client's own check fails the read; in pieces, urllib3's
    # where it checks, else botocore's (IncompleteReadError).
    name = "IncompleteReadError" if how == "pieces" and not ENFORCE_CONTENT_LENGTH else None
    assert expected[0].__name__ == (name or "ResponseStreamingError"), expected
    proxy.reset_counts()
    assert await outcome(make_aio) == expected
    assert proxy.requests == 1
