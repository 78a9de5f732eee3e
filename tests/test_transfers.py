"""S3 transfer helpers: boto3's own, on a thread, awaited without blocking the loop."""

from __future__ import annotations

import io
import random
import threading
from pathlib import Path
from typing import Any, Callable

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from .waits import LoopTurns

MiB = 1024 * 1024
# moto, like S3, wants parts of at least 5 MiB: 11 MiB makes three parts.
MULTIPART = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)


class Progress:
    """A boto3 ``Callback``: called from s3transfer's threads with byte counts."""

    def __init__(self) -> None:
        self.total = 0
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, amount: int) -> None:
        with self._lock:
            self.total += amount
            self.calls += 1


@pytest.fixture
def s3_pair(make_client: Callable[..., Any], make_aio: Callable[..., Any]) -> tuple[Any, Any]:
    s3 = make_client("s3")
    s3.create_bucket(Bucket="transfers")
    return s3, make_aio(s3)


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "big.bin"
    path.write_bytes(random.Random(11).randbytes(11 * MiB + 321))
    return path


async def test_upload_and_download_file_multipart(
    s3_pair: tuple[Any, Any], big_file: Path, tmp_path: Path
) -> None:
    s3, aio = s3_pair
    data = big_file.read_bytes()
    s3.upload_file(str(big_file), "transfers", "sync.bin", Config=MULTIPART)
    progress = Progress()
    result = await aio.upload_file(
        str(big_file), "transfers", "aio.bin", Config=MULTIPART, Callback=progress
    )
    assert result is None
    assert progress.total == len(data)
    sync_head = s3.head_object(Bucket="transfers", Key="sync.bin")
    aio_head = s3.head_object(Bucket="transfers", Key="aio.bin")
    assert aio_head["ETag"] == sync_head["ETag"]
    assert aio_head["ETag"].endswith('-3"')  # a multipart upload of three parts

    sync_copy, aio_copy = tmp_path / "sync.out", tmp_path / "aio.out"
    sync_progress, progress = Progress(), Progress()
    s3.download_file(
        "transfers", "aio.bin", str(sync_copy), Config=MULTIPART, Callback=sync_progress
    )
    await aio.download_file(
        "transfers", "aio.bin", str(aio_copy), Config=MULTIPART, Callback=progress
    )
    assert aio_copy.read_bytes() == sync_copy.read_bytes() == data
    assert progress.total == sync_progress.total == len(data)


async def test_fileobj_transfers(s3_pair: tuple[Any, Any]) -> None:
    s3, aio = s3_pair
    data = random.Random(12).randbytes(6 * MiB + 5)
    progress = Progress()
    await aio.upload_fileobj(
        io.BytesIO(data),
        "transfers",
        "obj.bin",
        ExtraArgs={"ContentType": "application/x-test", "Metadata": {"k": "v"}},
        Callback=progress,
        Config=MULTIPART,
    )
    head = s3.head_object(Bucket="transfers", Key="obj.bin")
    assert head["ContentType"] == "application/x-test"
    assert head["Metadata"] == {"k": "v"}
    assert progress.total == len(data)

    out = io.BytesIO()
    await aio.download_fileobj("transfers", "obj.bin", out, Config=MULTIPART)
    expected = io.BytesIO()
    s3.download_fileobj("transfers", "obj.bin", expected, Config=MULTIPART)
    assert out.getvalue() == expected.getvalue() == data


async def test_copy(s3_pair: tuple[Any, Any]) -> None:
    s3, aio = s3_pair
    data = random.Random(13).randbytes(11 * MiB)
    s3.put_object(Bucket="transfers", Key="source", Body=data)
    progress = Progress()
    await aio.copy(
        {"Bucket": "transfers", "Key": "source"},
        "transfers",
        "aio-copy",
        Config=MULTIPART,
        Callback=progress,
    )
    s3.copy({"Bucket": "transfers", "Key": "source"}, "transfers", "sync-copy", Config=MULTIPART)
    assert s3.get_object(Bucket="transfers", Key="aio-copy")["Body"].read() == data
    assert (
        s3.head_object(Bucket="transfers", Key="aio-copy")["ETag"]
        == s3.head_object(Bucket="transfers", Key="sync-copy")["ETag"]
    )
    assert progress.total == len(data)


async def test_missing_key_raises_like_boto3(s3_pair: tuple[Any, Any], tmp_path: Path) -> None:
    s3, aio = s3_pair
    with pytest.raises(ClientError) as sync_error:
        s3.download_file("transfers", "missing", str(tmp_path / "x"))
    with pytest.raises(ClientError) as aio_error:
        await aio.download_file("transfers", "missing", str(tmp_path / "y"))
    assert type(aio_error.value) is type(sync_error.value)
    assert str(aio_error.value) == str(sync_error.value)


async def test_transfer_never_blocks_the_loop(
    s3_pair: tuple[Any, Any], big_file: Path, tmp_path: Path
) -> None:
    _, aio = s3_pair
    turns = LoopTurns()

    class WaitForTheLoop:
        """A progress callback (on s3transfer's threads): while the transfer
        runs, its first call waits for the loop to turn. Were the loop blocked
        until the transfer ended, it would wait in vain."""

        def __init__(self) -> None:
            self.waited = False

        def __call__(self, amount: int) -> None:
            if not self.waited:
                self.waited = True
                turns.wait()

    upload, download = WaitForTheLoop(), WaitForTheLoop()
    await aio.upload_file(str(big_file), "transfers", "k", Config=MULTIPART, Callback=upload)
    await aio.download_file(
        "transfers", "k", str(tmp_path / "k"), Config=MULTIPART, Callback=download
    )
    assert upload.waited and download.waited
    assert turns.outcomes and all(turns.outcomes)
    assert (tmp_path / "k").read_bytes() == big_file.read_bytes()
