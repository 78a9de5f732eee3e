"""S3 transfers to and from async files (aiofiles, anyio, any object with
coroutine methods), s3transfer's TransferConfig, async callbacks, and the
file objects a transfer cannot use, refused before anything moves."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import threading
from pathlib import Path
from typing import Any, Callable

import aiofiles
import anyio
import boto3.s3.transfer
import pytest
import s3transfer.manager

import aboto3

from .rss import UNDER_ASAN, peak_rss_growth

MiB = 1024 * 1024
BUCKET = "files"


class Progress:
    """A boto3 ``Callback``: called from s3transfer's threads with byte counts."""

    def __init__(self) -> None:
        self.total = 0
        self._lock = threading.Lock()

    def __call__(self, amount: int) -> None:
        with self._lock:
            self.total += amount


class AsyncBuffer:
    """An async file of one's own: coroutine read/write/seek/tell over a BytesIO."""

    def __init__(self, data: bytes = b"") -> None:
        self.buffer = io.BytesIO(data)

    async def read(self, size: int = -1) -> bytes:
        await asyncio.sleep(0)
        return self.buffer.read(size)

    async def write(self, data: bytes) -> int:
        await asyncio.sleep(0)
        return self.buffer.write(data)

    async def seek(self, offset: int, whence: int = 0) -> int:
        return self.buffer.seek(offset, whence)

    async def tell(self) -> int:
        return self.buffer.tell()


@pytest.fixture
def s3_pair(make_client: Callable[..., Any], make_aio: Callable[..., Any]) -> tuple[Any, Any]:
    s3 = make_client("s3")
    s3.create_bucket(Bucket=BUCKET)
    return s3, make_aio(s3)


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.fixture
def file_50mib(tmp_path: Path) -> Path:
    path = tmp_path / "big.bin"
    with open(path, "wb") as f:
        for _ in range(50):
            f.write(os.urandom(MiB))
    return path


# Parts of 5 MiB, at most 2 read ahead of the upload and 16 chunks of 256 KiB
# waiting to be written: what the transfer holds at once does not grow with
# the file (boto3's default lets 10 parts of 8 MiB wait: a whole 50 MiB file).
# s3transfer's own TransferConfig, which boto3's methods refused.
BOUNDED = s3transfer.manager.TransferConfig(
    multipart_threshold=5 * MiB,
    multipart_chunksize=5 * MiB,
    max_request_concurrency=2,
    max_in_memory_upload_chunks=2,
    max_io_queue_size=16,
)


async def test_aiofiles_round_trip_of_50_mib_streams_in_parts(
    s3_pair: tuple[Any, Any], file_50mib: Path, tmp_path: Path
) -> None:
    s3, aio = s3_pair
    progress = Progress()
    with peak_rss_growth() as upload_growth:
        async with aiofiles.open(file_50mib, "rb") as source:
            await aio.upload_fileobj(source, BUCKET, "big", Config=BOUNDED, Callback=progress)
    uploaded = upload_growth()
    assert progress.total == 50 * MiB
    head = s3.head_object(Bucket=BUCKET, Key="big")
    assert head["ContentLength"] == 50 * MiB
    assert head["ETag"].endswith('-10"')  # ten parts of 5 MiB
    parts = boto3.s3.transfer.TransferConfig(
        multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB
    )
    with open(file_50mib, "rb") as f:  # the same parts as boto3 sends from a sync file
        s3.upload_fileobj(f, BUCKET, "sync", Config=parts)
    assert s3.head_object(Bucket=BUCKET, Key="sync")["ETag"] == head["ETag"]

    target = tmp_path / "copy.bin"
    with peak_rss_growth() as download_growth:
        async with aiofiles.open(target, "wb") as sink:
            await aio.download_fileobj(BUCKET, "big", sink, Config=BOUNDED)
    downloaded = download_growth()
    assert _digest(target) == _digest(file_50mib)
    if not UNDER_ASAN:  # its allocator, not ours, decides RSS there (tests/rss.py)
        # Under the 50 MiB moved: parts stream through, the file never waits
        # whole (about 20-30 MiB up and 10 down here, malloc's slack included).
        assert uploaded < 40 * MiB, f"upload grew RSS by {uploaded / MiB:.1f} MiB"
        assert downloaded < 40 * MiB, f"download grew RSS by {downloaded / MiB:.1f} MiB"


async def test_aiofiles_download_is_not_left_empty(
    s3_pair: tuple[Any, Any], tmp_path: Path
) -> None:
    # s3transfer calls write() and seek() without awaiting them: before,
    # the call returned None and the file stayed empty.
    s3, aio = s3_pair
    data = os.urandom(3 * MiB + 17)
    s3.put_object(Bucket=BUCKET, Key="k", Body=data)
    target = tmp_path / "out.bin"
    async with aiofiles.open(target, "wb") as sink:
        assert await aio.download_fileobj(BUCKET, "k", sink) is None
    assert target.read_bytes() == data


async def test_aiofiles_upload_works(s3_pair: tuple[Any, Any], tmp_path: Path) -> None:
    # Before: TypeError: unsupported operand type(s) for -: 'coroutine' and 'coroutine'.
    s3, aio = s3_pair
    source = tmp_path / "in.bin"
    source.write_bytes(os.urandom(2 * MiB + 5))
    async with aiofiles.open(source, "rb") as f:
        await aio.upload_fileobj(f, BUCKET, "k")
    assert s3.get_object(Bucket=BUCKET, Key="k")["Body"].read() == source.read_bytes()


async def test_anyio_and_own_async_files(s3_pair: tuple[Any, Any], tmp_path: Path) -> None:
    s3, aio = s3_pair
    data = os.urandom(6 * MiB + 3)
    multipart = boto3.s3.transfer.TransferConfig(
        multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB
    )
    source = tmp_path / "in.bin"
    source.write_bytes(data)
    async with await anyio.open_file(source, "rb") as f:
        await aio.upload_fileobj(f, BUCKET, "anyio", Config=multipart)
    target = tmp_path / "out.bin"
    async with await anyio.open_file(target, "wb") as f:
        await aio.download_fileobj(BUCKET, "anyio", f, Config=multipart)
    assert target.read_bytes() == data

    await aio.upload_fileobj(AsyncBuffer(data), BUCKET, "own", Config=multipart)
    sink = AsyncBuffer()
    await aio.download_fileobj(BUCKET, "own", sink, Config=multipart)
    assert sink.buffer.getvalue() == data
    assert s3.head_object(Bucket=BUCKET, Key="own")["ETag"].endswith('-2"')


async def test_async_callback_and_s3transfer_config_as_boto3(
    s3_pair: tuple[Any, Any], tmp_path: Path
) -> None:
    s3, aio = s3_pair
    data = os.urandom(6 * MiB)
    config = s3transfer.manager.TransferConfig(multipart_threshold=5 * MiB)
    sync_progress = Progress()
    with pytest.raises(AttributeError):  # what plain boto3 does with it
        s3.upload_fileobj(io.BytesIO(data), BUCKET, "sync", Config=config, Callback=sync_progress)
    s3.upload_fileobj(
        io.BytesIO(data),
        BUCKET,
        "sync",
        Config=boto3.s3.transfer.TransferConfig(multipart_threshold=5 * MiB),
        Callback=sync_progress,
    )
    seen: list[int] = []
    loop = asyncio.get_running_loop()

    async def on_progress(amount: int) -> None:
        assert asyncio.get_running_loop() is loop
        seen.append(amount)

    await aio.upload_fileobj(io.BytesIO(data), BUCKET, "aio", Config=config, Callback=on_progress)
    assert sum(seen) == sync_progress.total == len(data)
    assert (
        s3.head_object(Bucket=BUCKET, Key="aio")["ETag"]
        == s3.head_object(Bucket=BUCKET, Key="sync")["ETag"]
    )
    target = tmp_path / "f"
    await aio.download_file(BUCKET, "aio", str(target), Config=config)
    assert target.read_bytes() == data


class NotCallableRead:
    read = 5


class SyncLookingAsyncWrite:
    """write() is a plain method that returns a coroutine (say, a queue's put)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def write(self, data: bytes) -> Any:
        return self.queue.put(data)


class SyncLookingAsyncRead:
    def read(self, size: int = -1) -> Any:
        return asyncio.sleep(0, result=b"data")


async def test_unusable_file_objects_are_refused_before_anything_moves(
    s3_pair: tuple[Any, Any],
) -> None:
    s3, aio = s3_pair
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"content")
    with pytest.raises(TypeError, match=r"NotCallableRead\.read is not callable"):
        await aio.upload_fileobj(NotCallableRead(), BUCKET, "never")
    # No read at all: boto3's own ValueError, word for word.
    with pytest.raises(ValueError) as sync_error:
        s3.upload_fileobj(b"bytes, not a file", BUCKET, "never")
    with pytest.raises(ValueError) as aio_error:
        await aio.upload_fileobj(b"bytes, not a file", BUCKET, "never")
    assert str(aio_error.value) == str(sync_error.value)
    with pytest.raises(TypeError, match=r"write\(\) returned an awaitable"):
        await aio.download_fileobj(BUCKET, "k", SyncLookingAsyncWrite())
    with pytest.raises(TypeError, match=r"read\(\) returned an awaitable"):
        await aio.upload_fileobj(SyncLookingAsyncRead(), BUCKET, "never")
    listed = s3.list_objects_v2(Bucket=BUCKET)["Contents"]
    assert [o["Key"] for o in listed] == ["k"]  # nothing was uploaded


async def test_resource_transfer_methods_take_async_files(
    make_client: Callable[..., Any], engine: str, tmp_path: Path
) -> None:
    if engine == "executor":
        pytest.skip("resources take engine='threads' or 'native'")
    s3 = make_client("s3")
    data = os.urandom(MiB + 1)
    source, target = tmp_path / "in", tmp_path / "out"
    source.write_bytes(data)
    resource = boto3.resource(
        "s3", region_name=s3.meta.region_name, endpoint_url=s3.meta.endpoint_url,
        config=s3.meta.config,
    )  # fmt: skip
    async with aboto3.AIOResource(resource, engine=engine) as s3r:
        bucket = await s3r.create_bucket(Bucket="resource-files")
        async with aiofiles.open(source, "rb") as f:
            await bucket.upload_fileobj(f, "k")
        obj = await bucket.Object("k")
        async with aiofiles.open(target, "wb") as f:
            await obj.download_fileobj(f)
        await bucket.copy({"Bucket": "resource-files", "Key": "k"}, "copied")
        copied = await bucket.Object("copied")
        assert await copied.content_length == len(data)
    assert target.read_bytes() == data
