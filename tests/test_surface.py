"""aboto3's objects offer every public attribute of their botocore twins.

For the installed botocore, the public attributes of a client, ``Paginator``,
``PageIterator``, ``Waiter``, ``StreamingBody`` and ``EventStream`` are listed
at run time, and the aboto3 counterpart must offer each: as a coroutine (or
async iterator) where it does I/O, identical where it does not. Every name is
classified below; a name a newer botocore adds fails the test until it is
classified, so a gap cannot open silently. ``EXCLUDED`` lists, with a reason
each, the names aboto3 deliberately does not offer under the same name.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Callable

import pytest
from botocore.eventstream import EventStream
from botocore.response import StreamingBody

import aboto3

from .conftest import comparable as without_request_ids

# Names offered under another spelling, with the reason.
EXCLUDED = {
    ("StreamingBody", "next"): "the sync iterator step; its twin is `async for` (`__anext__`)",
}

# Client methods that are not operations: those doing I/O are awaited.
CLIENT_IO = {
    "close",  # awaits the calls in flight and the pool's shutdown
    "generate_presigned_url",  # may refresh credentials over the network
    "generate_presigned_post",
    # boto3's S3 transfer methods
    "upload_file",
    "download_file",
    "upload_fileobj",
    "download_fileobj",
    "copy",
}
CLIENT_SYNC = {"can_paginate", "get_paginator", "get_waiter"}
CLIENT_DATA = {"meta", "exceptions", "waiter_names"}  # the very same object as boto3's

PAGINATOR_SYNC = {"paginate"}  # returns the iterator; pages are fetched by iterating it
PAGINATOR_DATA = {"result_keys", "PAGE_ITERATOR_CLS"}

PAGE_ITERATOR_IO = {"build_full_result"}
PAGE_ITERATOR_ASYNC_ITERATORS = {"search"}
PAGE_ITERATOR_SYNC = {"result_key_iters"}  # a list of async iterators, fetching nothing yet
PAGE_ITERATOR_DATA = {"result_keys", "resume_token", "non_aggregate_part"}

WAITER_IO = {"wait"}
WAITER_DATA = {"name", "config"}

BODY_IO = {"read", "readinto", "readline", "readlines"}
BODY_ASYNC_ITERATORS = {"iter_chunks", "iter_lines"}
BODY_SYNC = {"close"}  # also `await body.aclose()`, as aiobotocore's
# io.IOBase's methods that do no I/O on a response body: passed through, and
# compared by calling both (None for a method that takes arguments).
BODY_NO_IO: dict[str, tuple[Any, ...] | None] = {
    "readable": (),
    "seekable": (),
    "writable": (),
    "isatty": (),
    "tell": (),
    "flush": (),
    "fileno": (),
    "seek": (0,),
    "truncate": (),
    "writelines": ([b"x"],),
    "set_socket_timeout": None,  # reaches into urllib3's socket: only its presence is compared
}
# "checksum": the running checksum of a StreamingChecksumBody (S3 in newer botocore).
BODY_DATA = {"closed", "checksum"}

EVENT_STREAM_IO = {"get_initial_response"}
EVENT_STREAM_SYNC = {"close"}  # also `await stream.aclose()`


def public(obj: Any) -> list[str]:
    return sorted(name for name in dir(obj) if not name.startswith("_"))


def comparable(value: Any) -> Any:
    """Values equal in meaning compare equal: compiled JMESPath expressions
    by their text, config objects by their fields."""
    if isinstance(value, (list, tuple)):
        return [comparable(v) for v in value]
    if hasattr(value, "expression"):
        return value.expression
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return {k: comparable(v) for k, v in vars(value).items()}
    return value


def outcome(call: Callable[[], Any]) -> Any:
    try:
        return ("returns", call())
    except Exception as error:
        return ("raises", type(error))


def check(kind: str, boto_obj: Any, aio_obj: Any, **classes: set[str]) -> None:
    """Each public name of ``boto_obj`` is in one of ``classes`` and offered by
    ``aio_obj`` accordingly: ``io`` awaitable, ``async_iterators``, ``sync``
    (plain callables), ``data`` (equal values)."""
    unclassified = []
    for name in public(boto_obj):
        if (kind, name) in EXCLUDED:
            continue
        assert hasattr(aio_obj, name), f"{type(aio_obj).__name__} lacks {kind}.{name}"
        theirs, ours = getattr(boto_obj, name), getattr(aio_obj, name)
        if name in classes.get("io", ()):
            assert inspect.iscoroutinefunction(ours), f"{kind}.{name} must be awaitable"
        elif name in classes.get("async_iterators", ()):
            assert inspect.isasyncgenfunction(ours), f"{kind}.{name} must be an async iterator"
        elif name in classes.get("sync", ()):
            assert callable(ours) and not inspect.iscoroutinefunction(ours), f"{kind}.{name}"
        elif name in classes.get("data", ()):
            assert comparable(ours) == comparable(theirs), f"{kind}.{name}: {ours!r} != {theirs!r}"
        else:
            unclassified.append(name)
    assert not unclassified, f"classify these new {kind} attributes: {unclassified}"


@pytest.mark.parametrize("service", ["s3", "ssm"])
async def test_client_surface(
    service: str, make_client: Callable[..., Any], make_aio: Callable[..., Any]
) -> None:
    client = make_client(service)
    aio = make_aio(client)
    operations = set(client.meta.method_to_api_mapping)
    check(
        "client",
        client,
        aio,
        io=operations | CLIENT_IO,
        sync=CLIENT_SYNC,
        data=CLIENT_DATA,
    )
    assert aio.meta is client.meta and aio.exceptions is client.exceptions
    await aio.close()


async def test_paginator_waiter_body_event_stream_surface(
    make_client: Callable[..., Any], make_aio: Callable[..., Any]
) -> None:
    s3 = make_client("s3")
    s3.create_bucket(Bucket="surface")
    s3.put_object(Bucket="surface", Key="k", Body=b"data")
    aio = make_aio(s3)

    paginator = s3.get_paginator("list_objects_v2")
    aio_paginator = aio.get_paginator("list_objects_v2")
    check("Paginator", paginator, aio_paginator, sync=PAGINATOR_SYNC, data=PAGINATOR_DATA)

    pages = paginator.paginate(Bucket="surface")
    aio_pages = aio_paginator.paginate(Bucket="surface")
    check(
        "PageIterator",
        pages,
        aio_pages,
        io=PAGE_ITERATOR_IO,
        async_iterators=PAGE_ITERATOR_ASYNC_ITERATORS,
        sync=PAGE_ITERATOR_SYNC,
        data=PAGE_ITERATOR_DATA,
    )

    check(
        "Waiter",
        s3.get_waiter("bucket_exists"),
        aio.get_waiter("bucket_exists"),
        io=WAITER_IO,
        data=WAITER_DATA,
    )

    body = s3.get_object(Bucket="surface", Key="k")["Body"]
    aio_body = (await aio.get_object(Bucket="surface", Key="k"))["Body"]
    assert isinstance(body, StreamingBody)
    check(
        "StreamingBody",
        body,
        aio_body,
        io=BODY_IO,
        async_iterators=BODY_ASYNC_ITERATORS,
        sync=BODY_SYNC | set(BODY_NO_IO),
        data=BODY_DATA,
    )
    assert inspect.iscoroutinefunction(aio_body.aclose)
    for name, args in BODY_NO_IO.items():
        if args is not None and hasattr(body, name):
            assert outcome(lambda n=name, a=args: getattr(aio_body, n)(*a)) == outcome(
                lambda n=name, a=args: getattr(body, n)(*a)
            ), name
    body.close()
    await aio_body.aclose()

    # Any event stream will do for its attributes: S3 Select's.
    result = await aio.select_object_content(
        Bucket="surface",
        Key="k",
        ExpressionType="SQL",
        Expression="SELECT * FROM S3Object",
        InputSerialization={"CSV": {}},
        OutputSerialization={"CSV": {}},
    )
    stream = result["Payload"]
    assert isinstance(stream, aboto3.AIOEventStream)
    assert isinstance(stream.event_stream, EventStream)
    check(
        "EventStream",
        stream.event_stream,
        stream,
        io=EVENT_STREAM_IO,
        sync=EVENT_STREAM_SYNC,
    )
    assert inspect.iscoroutinefunction(stream.aclose)
    await stream.aclose()
    await aio.close()


@pytest.fixture
def listing(make_client: Callable[..., Any]) -> Any:
    """A bucket whose listing by "/" has both result keys (Contents, CommonPrefixes)
    over several pages."""
    s3 = make_client("s3")
    s3.create_bucket(Bucket="listing")
    for i in range(7):
        s3.put_object(Bucket="listing", Key=f"top{i}", Body=b"")
        s3.put_object(Bucket="listing", Key=f"dir{i}/x", Body=b"")
    return s3


LISTING = {"Bucket": "listing", "Delimiter": "/", "PaginationConfig": {"PageSize": 3}}


async def test_result_key_iters_like_boto3(listing: Any, make_aio: Callable[..., Any]) -> None:
    s3 = listing
    pages = s3.get_paginator("list_objects_v2").paginate(**LISTING)
    expected = [list(items) for items in pages.result_key_iters()]
    assert [len(items) for items in expected] == [7, 7]

    aio = make_aio(s3)
    sent: list[str] = []
    s3.meta.events.register("before-send", lambda request, **_: sent.append(request.url))
    aio_pages = aio.get_paginator("list_objects_v2").paginate(**LISTING)
    iters = aio_pages.result_key_iters()
    assert comparable([i.result_key for i in iters]) == ["Contents", "CommonPrefixes"]

    async def collect(items: Any) -> list[Any]:
        return [item async for item in items]

    # One reader after the other: the first fetches every page, the second
    # reads the pages it kept.
    assert [await collect(items) for items in iters] == expected
    pages_fetched = len(sent)
    assert pages_fetched >= 4

    # Side by side: each page is still fetched once.
    sent.clear()
    both = aio.get_paginator("list_objects_v2").paginate(**LISTING).result_key_iters()
    assert list(await asyncio.gather(*(collect(items) for items in both))) == expected
    assert len(sent) == pages_fetched
    await aio.close()


async def test_page_iterator_state_like_boto3(listing: Any, make_aio: Callable[..., Any]) -> None:
    s3 = listing
    config = {**LISTING, "Prefix": "", "PaginationConfig": {"PageSize": 3, "MaxItems": 4}}
    pages = s3.get_paginator("list_objects_v2").paginate(**config)
    aio = make_aio(s3)
    aio_pages = aio.get_paginator("list_objects_v2").paginate(**config)
    assert comparable(aio_pages.result_keys) == comparable(pages.result_keys)
    assert aio_pages.resume_token == pages.resume_token  # None before iterating
    assert aio_pages.non_aggregate_part == pages.non_aggregate_part == {}
    expected = without_request_ids(list(pages))
    assert without_request_ids([page async for page in aio_pages]) == expected
    assert aio_pages.resume_token == pages.resume_token is not None
    assert aio_pages.non_aggregate_part == pages.non_aggregate_part
    if "Prefix" in pages.non_aggregate_part:  # a non-aggregate key in newer botocore
        assert aio_pages.non_aggregate_part["Prefix"] == ""
    await aio.close()


async def test_result_key_iters_error_reaches_every_reader(
    make_client: Callable[..., Any], make_aio: Callable[..., Any]
) -> None:
    s3 = make_client("s3")
    aio = make_aio(s3)
    iters = aio.get_paginator("list_objects_v2").paginate(Bucket="missing").result_key_iters()
    for items in iters:  # neither reader mistakes the failure for an empty listing
        with pytest.raises(s3.exceptions.NoSuchBucket):
            [item async for item in items]
    await aio.close()
