"""Shared fixtures: a moto server over real HTTP, clients, and engine choices."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.config import Config

import aboto3
from examples import local_aws

# Fake credentials only; never let a developer's real profile leak in.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_CONFIG_FILE=os.devnull,
    AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    AWS_EC2_METADATA_DISABLED="true",
)

REGION = "us-east-1"
ENGINES = ["threads", "executor"]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    with local_aws.moto_server() as url:
        yield url


@pytest.fixture
def moto_url(moto_server: str) -> str:
    """The moto server's URL, with every service's state reset for this test."""
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()
    return moto_server


@pytest.fixture
def make_client(moto_url: str) -> Callable[..., BaseClient]:
    """``make_client("s3", max_pool_connections=4)``: a boto3 client of the moto server."""

    def make(service: str, **config: Any) -> BaseClient:
        if service == "s3":
            config.setdefault("s3", {"addressing_style": "path"})
        return boto3.client(
            service, region_name=REGION, endpoint_url=moto_url, config=Config(**config)
        )

    return make


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Every engine configuration a parity test must hold under."""
    return str(request.param)


@pytest.fixture
def make_aio(engine: str) -> Iterator[Callable[[BaseClient], aboto3.AIOClient[Any]]]:
    """Wrap a boto3 client with the engine under test."""
    executors: list[ThreadPoolExecutor] = []

    def make(client: BaseClient) -> aboto3.AIOClient[Any]:
        if engine == "executor":
            executors.append(ThreadPoolExecutor(max_workers=8))
            return aboto3.AIOClient(client, thread_pool_executor=executors[-1])
        return aboto3.AIOClient(client, engine=engine)

    yield make
    for executor in executors:
        executor.shutdown(wait=True)


def comparable(response: Any) -> Any:
    """A response without what differs between two identical calls (request ids, dates)."""
    if isinstance(response, dict):
        out = {k: comparable(v) for k, v in response.items() if k != "ResponseMetadata"}
        meta = response.get("ResponseMetadata")
        if isinstance(meta, dict):
            out["ResponseMetadata"] = {
                "HTTPStatusCode": meta.get("HTTPStatusCode"),
                "RetryAttempts": meta.get("RetryAttempts"),
            }
        return out
    if isinstance(response, list):
        return [comparable(v) for v in response]
    return response
