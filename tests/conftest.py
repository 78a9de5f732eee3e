"""Shared fixtures: a moto server over real HTTP, clients, and engine choices."""

from __future__ import annotations

import contextlib
import os
import socketserver
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import boto3
import botocore.endpoint
import pytest
from botocore.client import BaseClient
from botocore.config import Config

import aboto3
from examples import local_aws

# Fake credentials only; never let a developer's real profile leak in.
for _name in (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
):
    os.environ.pop(_name, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_CONFIG_FILE=os.devnull,
    AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    AWS_EC2_METADATA_DISABLED="true",
)

# Nothing a test sends may leave this machine. A client whose endpoint is not
# local (an old botocore that ignores AWS_ENDPOINT_URL, a forgotten
# endpoint_url) fails loudly here, under every engine, instead of reaching AWS.
_send_anywhere = botocore.endpoint.Endpoint._send


def _send_locally(self: Any, request: Any) -> Any:
    host = urllib.parse.urlsplit(request.url).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1") and not host.endswith(".invalid"):
        raise RuntimeError(f"a test tried to reach {request.url}: tests talk only to 127.0.0.1")
    return _send_anywhere(self, request)


botocore.endpoint.Endpoint._send = _send_locally

# ABOTO3_TEST_LOOP=uvloop runs every async test on uvloop (CI runs the engine
# and parity tests so once); pytest-asyncio makes its loops from the policy.
if os.environ.get("ABOTO3_TEST_LOOP") == "uvloop":
    import asyncio

    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

REGION = "us-east-1"
# Every engine this install can run: a build without libcurl, or without the
# C++ core (ABOTO3_PURE_PYTHON=1), runs the same tests on what it has.
ENGINES = ["threads", "executor"] + (["native"] if "native" in aboto3.engines() else [])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip what needs the native engine where this install has none."""
    if "native" in aboto3.engines():
        return
    skip = pytest.mark.skip(reason="this install has no native engine (aboto3.engines())")
    for item in items:
        callspec = getattr(item, "callspec", None)
        if item.get_closest_marker("native") or (
            callspec is not None and callspec.params.get("engine") == "native"
        ):
            item.add_marker(skip)


def has_operation(service: str, operation: str) -> bool:
    """Whether the installed botocore models ``operation`` ("ConverseStream") of ``service``."""
    import botocore.session
    from botocore.exceptions import UnknownServiceError

    try:
        model = botocore.session.get_session().get_service_model(service)
    except UnknownServiceError:
        return False
    return operation in model.operation_names


def requires_operation(service: str, operation: str) -> pytest.MarkDecorator:
    """Skip a test whose service or operation the installed botocore lacks (older models)."""
    import botocore

    return pytest.mark.skipif(
        not has_operation(service, operation),
        reason=f"botocore {botocore.__version__} has no {service} {operation}",
    )


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


# ---------------------------------------------------------------------------
# Faults and TLS: fixtures shared by test_faults.py, test_tls.py and any engine
# test that needs a broken network. Everything listens on 127.0.0.1 only.
# ---------------------------------------------------------------------------


@pytest.fixture
def make_proxy(moto_url: str) -> Iterator[Callable[..., Any]]:
    """``make_proxy("reset")``: a started ``FaultProxy`` in front of this test's
    moto server; every proxy is closed (threads joined) when the test ends."""
    from .faultproxy import FaultProxy

    proxies: list[FaultProxy] = []

    def make(mode: str = "forward", **options: Any) -> FaultProxy:
        proxies.append(FaultProxy(moto_url, mode, **options).start())
        return proxies[-1]

    yield make
    for proxy in proxies:
        proxy.close()


@pytest.fixture
def fast_retry_backoff(monkeypatch: pytest.MonkeyPatch) -> float:
    """Make botocore's standard-mode retry delay a fixed 20 ms instead of its
    random jitter (up to 1 s, 2 s, ...), for sync and async clients alike.

    The delay still goes through botocore's own sleep, so an engine must still
    wait for it without blocking the loop; attempt counts are unchanged.
    """
    from botocore.retries import standard

    delay = 0.02
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: delay)
    return delay


class TLSFiles:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost, on disk."""

    def __init__(self, directory: Any) -> None:
        import trustme

        self.ca = trustme.CA()
        self.server = self.ca.issue_cert("127.0.0.1", "localhost")
        self.ca_bundle = str(directory / "ca.pem")
        self.cert = str(directory / "server.pem")
        self.key = str(directory / "server.key")
        self.ca.cert_pem.write_to_path(self.ca_bundle)
        self.server.cert_chain_pems[0].write_to_path(self.cert)
        for extra in self.server.cert_chain_pems[1:]:
            extra.write_to_path(self.cert, append=True)
        self.server.private_key_pem.write_to_path(self.key)

    def server_context(self, *hostnames: str) -> Any:
        """An ``ssl.SSLContext`` serving a certificate of this CA (for
        ``hostnames``, or 127.0.0.1 and localhost)."""
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert = self.ca.issue_cert(*hostnames) if hostnames else self.server
        cert.configure_cert(context)
        return context


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return TLSFiles(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def tls_moto_server(tls_files: TLSFiles) -> Iterator[str]:
    """A moto server over HTTPS with ``tls_files``' certificate (https://127.0.0.1:port)."""
    with local_aws.moto_server(cert=tls_files.cert, key=tls_files.key) as url:
        yield url


ServerT = TypeVar("ServerT", bound=socketserver.BaseServer)


@contextlib.contextmanager
def serving(server: ServerT) -> Iterator[ServerT]:
    """Run a ``socketserver`` server on a daemon thread for the ``with`` block."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
