"""Paginators fetch one page ahead: same pages, same order, same resume tokens, no litter."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any, Callable

import pytest

from .conftest import comparable
from .waits import wait_until

# moto answers DescribeParameters 10 parameters a page, whatever the PageSize.
PAGED = {"PaginationConfig": {"PageSize": 10}}


@pytest.fixture
def ssm_pair(make_client: Callable[..., Any], make_aio: Callable[..., Any]) -> tuple[Any, Any]:
    ssm = make_client("ssm")
    for i in range(23):
        ssm.put_parameter(Name=f"/p/{i:02}", Value=str(i), Type="String")
    return ssm, make_aio(ssm)


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """What the loop reports (e.g. "exception was never retrieved", "Task was
    destroyed but it is pending"); each test asserts there is none."""
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: errors.append(context))
    yield errors
    gc.collect()
    loop.set_exception_handler(previous)


def count_requests(client: Any, operation: str, event: str = "before-call") -> list[int]:
    calls: list[int] = []
    client.meta.events.register(
        f"{event}.{client.meta.service_model.endpoint_prefix}.{operation}",
        lambda **_: calls.append(1),
    )
    return calls


async def test_same_pages_as_boto3(ssm_pair: tuple[Any, Any]) -> None:
    ssm, aio = ssm_pair
    # all pages; MaxItems inside a page (truncated); MaxItems on a page boundary
    for config in [{"PageSize": 10}, {"PageSize": 10, "MaxItems": 15}, {"MaxItems": 20}]:
        sync_pages = ssm.get_paginator("describe_parameters").paginate(PaginationConfig=config)
        expected = list(sync_pages)
        for read_ahead in (True, False):
            pages = aio.get_paginator("describe_parameters", read_ahead=read_ahead).paginate(
                PaginationConfig=config
            )
            assert pages.read_ahead is read_ahead
            got = [page async for page in pages]
            assert len(got) == len(expected) > 1
            assert comparable(got) == comparable(expected)
            assert pages.resume_token == sync_pages.resume_token


async def test_next_page_fetched_while_caller_works(ssm_pair: tuple[Any, Any]) -> None:
    ssm, aio = ssm_pair
    for read_ahead in (True, False):
        requests = count_requests(ssm, "DescribeParameters")
        paginator = aio.get_paginator("describe_parameters", read_ahead=read_ahead)
        async for _ in paginator.paginate(**PAGED):
            # The caller works on the first page...
            if read_ahead:  # ...while the second is fetched
                await wait_until(lambda: len(requests) == 2, "the second page's request")  # noqa: B023
            else:  # ...and nothing is fetched meanwhile
                await asyncio.sleep(0.1)
                assert len(requests) == 1
            break
        ssm.meta.events.unregister("before-call.ssm.DescribeParameters")


async def test_break_early_leaves_nothing_behind(
    ssm_pair: tuple[Any, Any], loop_errors: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    ssm, aio = ssm_pair
    caplog.set_level(logging.DEBUG, logger="asyncio")
    sync_pages = ssm.get_paginator("describe_parameters").paginate(
        PaginationConfig={"PageSize": 10, "MaxItems": 15}
    )
    for _ in sync_pages:
        break
    for attempt in range(6):
        pages = aio.get_paginator("describe_parameters").paginate(
            PaginationConfig={"PageSize": 10, "MaxItems": 15}
        )
        iterator = pages.__aiter__()
        first = await iterator.__anext__()
        assert [p["Name"] for p in first["Parameters"]] == [f"/p/{i:02}" for i in range(10)]
        # Leave with the read-ahead just started, or done (its answer parsed,
        # then a moment for its outcome to reach the loop).
        if attempt % 2:
            # botocore's page iterator (this attempt's own: a read-ahead that an
            # earlier attempt left on a worker thread may still be answering)
            # has its resume token once the truncated second page is parsed.
            page_iterator = pages._page_iterator
            await wait_until(lambda: page_iterator.resume_token, "the read-ahead answered")  # noqa: B023
            await asyncio.sleep(0.05)
        await iterator.aclose()  # type: ignore[attr-defined]  # what "break" leads to, here without waiting for gc
        # The read-ahead fetched (and truncated) the second page, but the caller
        # has seen only the first: the resume token is boto3's.
        assert pages.resume_token == sync_pages.resume_token
    async for _ in aio.get_paginator("describe_parameters").paginate(**PAGED):
        break  # and a plain break, finalised by the loop
    await asyncio.sleep(0.1)
    gc.collect()
    await asyncio.sleep(0)
    assert loop_errors == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_error_on_a_later_page_is_raised_in_turn(
    ssm_pair: tuple[Any, Any], loop_errors: list[dict[str, Any]]
) -> None:
    ssm, aio = ssm_pair
    requests = count_requests(ssm, "DescribeParameters")

    def fail_second(**_: Any) -> None:
        if len(requests) == 2:
            raise RuntimeError("second page failed")

    ssm.meta.events.register("before-call.ssm.DescribeParameters", fail_second)
    got = []
    with pytest.raises(RuntimeError, match="second page failed"):
        async for page in aio.get_paginator("describe_parameters").paginate(**PAGED):
            got.append(page)
            # The read-ahead fails meanwhile, and its error waits for its turn.
            await wait_until(lambda: len(requests) == 2, "the read-ahead failing")
    assert len(got) == 1

    # A failed read-ahead that nobody asks for is not reported either.
    requests.clear()
    async for _ in aio.get_paginator("describe_parameters").paginate(**PAGED):
        await wait_until(lambda: len(requests) == 2, "the read-ahead failing")
        await asyncio.sleep(0.05)  # a moment for its outcome to reach the loop
        break
    await asyncio.sleep(0.05)
    gc.collect()
    await asyncio.sleep(0)
    assert loop_errors == []


async def test_cancelled_consumer(
    ssm_pair: tuple[Any, Any], loop_errors: list[dict[str, Any]]
) -> None:
    _, aio = ssm_pair
    seen = asyncio.Event()

    async def consume() -> None:
        async for _ in aio.get_paginator("describe_parameters").paginate(**PAGED):
            seen.set()
            await asyncio.sleep(10)

    task = asyncio.ensure_future(consume())
    await seen.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.05)
    gc.collect()
    assert loop_errors == []


async def test_search_and_full_result(ssm_pair: tuple[Any, Any]) -> None:
    ssm, aio = ssm_pair
    sync_paginator = ssm.get_paginator("describe_parameters")
    paginator = aio.get_paginator("describe_parameters")
    expected = list(sync_paginator.paginate(**PAGED).search("Parameters[].Name"))
    assert [name async for name in paginator.paginate(**PAGED).search("Parameters[].Name")] == (
        expected
    )
    assert len(expected) == 23
    full = await paginator.paginate(
        PaginationConfig={"PageSize": 10, "MaxItems": 15}
    ).build_full_result()
    sync_full = sync_paginator.paginate(
        PaginationConfig={"PageSize": 10, "MaxItems": 15}
    ).build_full_result()
    assert comparable(full) == comparable(sync_full)
    assert "NextToken" in full
