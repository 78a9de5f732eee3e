"""TLS: certificate verification behaves in every engine as in boto3.

A throwaway CA (``trustme``) signs a certificate for 127.0.0.1 and localhost;
moto serves HTTPS with it. Each case runs one call with a plain boto3 client
first, then through an ``AIOClient`` of the engine under test, and requires the
same outcome (success, or the same exception class) after the same number of
attempts. Each case also states what boto3 is known to do, so that a broken
setup (say, every client trusting everything) fails instead of passing.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from typing import Any, Callable

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import SSLError

from .conftest import REGION, TLSFiles, comparable
from .faultproxy import FaultProxy

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

CA, OTHER_CA, DEFAULT, NO = "ca", "other-ca", "default", "no"


@dataclass(frozen=True)
class Case:
    server: str  # "moto": moto over HTTPS; "bad_tls": a proxy with an unknown CA;
    # "wrong_name": a proxy with a cert of our CA for another name; "proxy": the
    # same with a cert for 127.0.0.1 (the control for "wrong_name")
    verify: str  # CA, OTHER_CA (a CA that signed nothing here), DEFAULT or NO (verify=False)
    expect: str  # "ok" or "SSLError": what boto3 does
    env_ca_bundle: str | None = None  # AWS_CA_BUNDLE: CA or OTHER_CA


CASES = {
    "verify_ca_bundle_path": Case("moto", CA, "ok"),
    "default_verify_rejects": Case("moto", DEFAULT, "SSLError"),
    "verify_false": Case("moto", NO, "ok"),
    "verify_other_ca_rejects": Case("moto", OTHER_CA, "SSLError"),
    "aws_ca_bundle_env": Case("moto", DEFAULT, "ok", env_ca_bundle=CA),
    "aws_ca_bundle_env_other_ca": Case("moto", DEFAULT, "SSLError", env_ca_bundle=OTHER_CA),
    "explicit_verify_beats_env": Case("moto", CA, "ok", env_ca_bundle=OTHER_CA),
    "bad_tls_proxy": Case("bad_tls", CA, "SSLError"),
    "bad_tls_proxy_default_verify": Case("bad_tls", DEFAULT, "SSLError"),
    "bad_tls_proxy_verify_false": Case("bad_tls", NO, "ok"),
    "hostname_mismatch": Case("wrong_name", CA, "SSLError"),
    "trusted_proxy": Case("proxy", CA, "ok"),
}


@pytest.fixture(scope="module")
def other_ca_bundle(tmp_path_factory: pytest.TempPathFactory) -> str:
    import trustme

    path = tmp_path_factory.mktemp("other-ca") / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return str(path)


class SendCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, **_: Any) -> None:
        self.count += 1


@pytest.mark.parametrize("name", list(CASES))
async def test_tls_like_boto3(
    name: str,
    tls_files: TLSFiles,
    tls_moto_server: str,
    other_ca_bundle: str,
    moto_url: str,
    make_aio: Callable[..., Any],
    fast_retry_backoff: float,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = CASES[name]
    bundles = {CA: tls_files.ca_bundle, OTHER_CA: other_ca_bundle}
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
    if case.env_ca_bundle is not None:
        monkeypatch.setenv("AWS_CA_BUNDLE", bundles[case.env_ca_bundle])

    proxy: FaultProxy | None = None
    if case.server == "moto":
        url = tls_moto_server
    else:
        context: ssl.SSLContext | None = {
            "bad_tls": None,  # the proxy makes a CA of its own, trusted by nobody
            "wrong_name": tls_files.server_context("not-this-host.example"),
            "proxy": tls_files.server_context(),
        }[case.server]
        mode = "bad_tls" if case.server == "bad_tls" else "forward"
        proxy = FaultProxy(moto_url, mode, ssl_context=context).start()
        url = proxy.url
    assert url.startswith("https://127.0.0.1:")

    def new_client() -> tuple[Any, SendCounter]:
        kwargs: dict[str, Any] = {}
        if case.verify == NO:
            kwargs["verify"] = False
        elif case.verify in bundles:
            kwargs["verify"] = bundles[case.verify]
        # A fresh session, so AWS_CA_BUNDLE is read now.
        client = boto3.Session().client(
            "sts",
            region_name=REGION,
            endpoint_url=url,
            config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5),
            **kwargs,
        )
        counter = SendCounter()
        client.meta.events.register("before-send", counter)
        return client, counter

    def connections(at_least: int = 0) -> int:
        """TCP connections the proxy accepted, once it has accepted ``at_least``
        (its acceptor may lag a moment behind the client)."""
        if proxy is None:
            return 0
        deadline = time.monotonic() + 30  # a hang guard
        while proxy.connections < at_least and time.monotonic() < deadline:
            time.sleep(0.01)
        return proxy.connections

    try:
        sync_client, sync_counter = new_client()
        try:
            expected: Any = comparable(sync_client.get_caller_identity())
        except Exception as error:
            expected = error
        # Through a proxy, each failed attempt is a TLS connection of its own.
        failing_at_proxy = proxy is not None and case.expect == "SSLError"
        sync_connections = connections(sync_counter.count if failing_at_proxy else 0)
        if failing_at_proxy:
            assert sync_connections == sync_counter.count
        expected_name = "ok" if not isinstance(expected, Exception) else type(expected).__name__
        assert expected_name == case.expect, f"boto3 under {case}: {expected!r}"

        client, counter = new_client()
        aio = make_aio(client)
        try:
            actual: Any = comparable(await aio.get_caller_identity())
        except Exception as error:
            actual = error
        await aio.close()
        if isinstance(expected, Exception):
            assert type(actual) is type(expected), f"boto3: {expected!r}\naboto3: {actual!r}"
            # The message's tail is the TLS library's own words.
            assert isinstance(expected, SSLError)
            assert str(actual).startswith(f"SSL validation failed for {url}/ ")
        else:
            assert actual == expected
        assert counter.count == sync_counter.count  # SSL errors are retried alike
        if failing_at_proxy:
            assert connections(2 * sync_connections) - sync_connections == sync_connections
        sync_client.close()
        client.close()
    finally:
        if proxy is not None:
            proxy.close()
