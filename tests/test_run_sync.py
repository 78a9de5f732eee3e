"""``AIOClient.run_sync``: sync code that calls boto3 clients, awaited on the
client's engine; proven with AWS's own S3 Encryption Client."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import os
import threading
from collections.abc import Iterator
from typing import Any, Callable

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import aboto3
from examples import local_aws

from .conftest import REGION
from .looplag import LoopLag

ENGINES = ["threads", "native"] if "native" in aboto3.engines() else ["threads"]
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def slow_moto() -> Iterator[str]:
    """Moto 250 ms away: a call that blocked the loop would hold it that long,
    far above the bound below (itself far above what CPU contention adds)."""
    with local_aws.moto_server(latency_ms=250) as url:
        yield url


def _client(service: str, url: str) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=url,
        config=Config(s3={"addressing_style": "path"}),
    )


@pytest.mark.parametrize("engine", ENGINES)
async def test_run_sync_awaits_sync_code_whose_calls_do_not_block_the_loop(
    slow_moto: str, engine: str
) -> None:
    ssm = _client("ssm", slow_moto)
    ran_on: list[str] = []

    def sync_work(name: str, *, value: str) -> str:
        # Ordinary boto3 code: two calls, each answered 250 ms later.
        ran_on.append(threading.current_thread().name)
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
        return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])

    async with aboto3.AIOClient(ssm, engine=engine) as aio:
        async with LoopLag(limit=0.15):
            values = await asyncio.gather(
                *(aio.run_sync(sync_work, f"/run-sync/{i}", value=str(i)) for i in range(6))
            )
        assert values == [str(i) for i in range(6)]
        with pytest.raises(ClientError) as expected:
            ssm.get_parameter(Name="/missing")
        with pytest.raises(ClientError) as raised:
            await aio.run_sync(ssm.get_parameter, Name="/missing")
        assert str(raised.value) == str(expected.value)
    loop_thread = threading.current_thread().name
    if engine == "native":
        assert set(ran_on) == {loop_thread}  # greenlets on the loop
    else:
        assert loop_thread not in ran_on  # the client's thread pool


async def test_run_sync_refuses_calls_after_close(make_client: Callable[..., Any]) -> None:
    aio = aboto3.AIOClient(make_client("sts"))
    await aio.close()
    with pytest.raises(RuntimeError, match="closed"):
        await aio.run_sync(print)


# -- AWS's S3 Encryption Client, through aboto3 ------------------------------------

# A mark, not a module-level skip: the run_sync tests above run everywhere.
needs_s3_encryption = pytest.mark.skipif(
    importlib.util.find_spec("s3_encryption") is None,
    reason="amazon-s3-encryption-client-python is not installed (it needs Python 3.10+ "
    "and boto3 1.43.6+)",
)


def _encryption_client(s3: Any, kms: Any, key_id: str) -> Any:
    from s3_encryption import S3EncryptionClient, S3EncryptionClientConfig
    from s3_encryption.materials.kms_keyring import KmsKeyring

    keyring = KmsKeyring(kms_client=kms, kms_key_id=key_id)
    return S3EncryptionClient(
        wrapped_s3_client=s3, config=S3EncryptionClientConfig(keyring=keyring)
    )


@needs_s3_encryption
@pytest.mark.parametrize("engine", ENGINES)
async def test_s3_encryption_client_round_trips(moto_url: str, engine: str) -> None:
    s3, kms = _client("s3", moto_url), _client("kms", moto_url)
    s3.create_bucket(Bucket="sealed")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    encrypted = _encryption_client(s3, kms, key_id)
    small = b"attack at dawn"
    large = os.urandom(12 * MiB + 7)
    context = {"purpose": "test"}

    def get(key: str) -> bytes:
        # The body is read inside: a stream read after run_sync returns would
        # be a sync read on whatever thread reads it.
        body: bytes = encrypted.get_object(Bucket="sealed", Key=key, EncryptionContext=context)[
            "Body"
        ].read()
        return body

    # Both clients the encryption client uses go through aboto3.
    async with aboto3.AIOClient(s3, engine=engine) as aio_s3, aboto3.AIOClient(kms, engine=engine):
        await aio_s3.run_sync(
            encrypted.put_object,
            Bucket="sealed",
            Key="small",
            Body=small,
            EncryptionContext=context,
        )
        await aio_s3.run_sync(
            encrypted.upload_fileobj,
            io.BytesIO(large),
            "sealed",
            "large",
            multipart_chunksize=5 * MiB,
            EncryptionContext=context,
        )
        assert await aio_s3.run_sync(get, "small") == small
        assert await aio_s3.run_sync(get, "large") == large

    # What S3 holds is ciphertext, with the envelope in its metadata (read
    # through a client of its own: the encryption client decrypts whatever
    # its wrapped client gets), and a sync encryption client of its own (as
    # AWS's in other languages would) decrypts it.
    plain_s3 = _client("s3", moto_url)
    other = _encryption_client(_client("s3", moto_url), _client("kms", moto_url), key_id)
    for key, plain in (("small", small), ("large", large)):
        stored = plain_s3.get_object(Bucket="sealed", Key=key)
        ciphertext = stored["Body"].read()
        assert plain not in ciphertext and len(ciphertext) > len(plain)
        assert stored["Metadata"], "no encryption envelope in the object's metadata"
        decrypted = other.get_object(Bucket="sealed", Key=key, EncryptionContext=context)
        assert decrypted["Body"].read() == plain
    parts = plain_s3.head_object(Bucket="sealed", Key="large")["ETag"]
    assert parts.endswith('-3"')  # a multipart upload of three parts


@needs_s3_encryption
async def test_s3_encryption_client_calls_run_at_once_on_threads(moto_url: str) -> None:
    # Its per-call state lives in a threading.local: concurrent calls are
    # safe on threads (README: each greenlet of the native engine shares
    # the loop thread's).
    s3, kms = _client("s3", moto_url), _client("kms", moto_url)
    s3.create_bucket(Bucket="sealed")
    encrypted = _encryption_client(s3, kms, kms.create_key()["KeyMetadata"]["KeyId"])

    def round_trip(i: int) -> bytes:
        context = {"n": str(i)}
        encrypted.put_object(
            Bucket="sealed", Key=f"k{i}", Body=b"%d" % i, EncryptionContext=context
        )
        body: bytes = encrypted.get_object(Bucket="sealed", Key=f"k{i}", EncryptionContext=context)[
            "Body"
        ].read()
        return body

    async with aboto3.AIOClient(s3) as aio_s3, aboto3.AIOClient(kms):
        results = await asyncio.gather(*(aio_s3.run_sync(round_trip, i) for i in range(8)))
    assert results == [b"%d" % i for i in range(8)]
