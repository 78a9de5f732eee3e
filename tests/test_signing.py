"""The C++ SigV4 signer: AWS's published test vectors, and byte-for-byte parity with
botocore's signer on thousands of requests that botocore itself builds."""

from __future__ import annotations

import datetime
import hashlib
import io
import logging
import random
import types
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore
import botocore.auth
import pytest
from botocore.config import Config
from botocore.credentials import Credentials, RefreshableCredentials

import aboto3
from aboto3 import _signing
from aboto3._core import SigV4Signer

FROZEN = datetime.datetime(2024, 2, 29, 23, 59, 58)

# ---- AWS's SigV4 test suite ------------------------------------------------------

SUITE_KEY = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
SUITE_DATE = "20150830T123600Z"
HOST = ("Host", "example.amazonaws.com")
DATE = ("X-Amz-Date", SUITE_DATE)
EMPTY = hashlib.sha256(b"").hexdigest()
UNRESERVED = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# (name, method, path and query, headers, body, signature) from the
# aws-sig-v4-test-suite; the service is "service", the region us-east-1. (Its two
# x-www-form-urlencoded cases are left out: their canonical request, string to sign
# and signature disagree with one another.)
VECTORS = [
    (
        "get-vanilla",
        "GET",
        "/",
        [HOST, DATE],
        b"",
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    ),
    (
        "get-vanilla-query-order-key-case",
        "GET",
        "/?Param2=value2&Param1=value1",
        [HOST, DATE],
        b"",
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    ),
    (
        "get-vanilla-query-order-key",
        "GET",
        "/?Param1=value2&Param1=Value1",
        [HOST, DATE],
        b"",
        "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1",
    ),
    (
        "get-vanilla-query-order-value",
        "GET",
        "/?Param1=value2&Param1=value1",
        [HOST, DATE],
        b"",
        "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694",
    ),
    (
        "get-vanilla-query-unreserved",
        "GET",
        f"/?{UNRESERVED}={UNRESERVED}",
        [HOST, DATE],
        b"",
        "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
    ),
    (
        "get-unreserved",
        "GET",
        f"/{UNRESERVED}",
        [HOST, DATE],
        b"",
        "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
    ),
    (
        "get-header-key-duplicate",
        "GET",
        "/",
        [HOST, ("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1"), DATE],
        b"",
        "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
    ),
    (
        "get-header-value-order",
        "GET",
        "/",
        [
            HOST,
            ("My-Header1", "value4"),
            ("My-Header1", "value1"),
            ("My-Header1", "value3"),
            ("My-Header1", "value2"),
            DATE,
        ],
        b"",
        "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
    ),
    (
        "get-header-value-trim",
        "GET",
        "/",
        [HOST, ("My-Header1", " value1"), ("My-Header2", ' "a   b   c"'), DATE],
        b"",
        "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    ),
    (
        "get-relative",
        "GET",
        "/example/..",
        [HOST, DATE],
        b"",
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    ),
    (
        "get-relative-relative",
        "GET",
        "/example1/example2/../..",
        [HOST, DATE],
        b"",
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    ),
    (
        "post-vanilla",
        "POST",
        "/",
        [HOST, DATE],
        b"",
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    ),
    (
        "post-vanilla-query",
        "POST",
        "/?Param1=value1",
        [HOST, DATE],
        b"",
        "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
    ),
    (
        "post-header-key-sort",
        "POST",
        "/",
        [HOST, ("My-Header1", "value1"), DATE],
        b"",
        "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
    ),
    (
        "post-header-value-case",
        "POST",
        "/",
        [HOST, ("My-Header1", "VALUE1"), DATE],
        b"",
        "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
    ),
]


@pytest.mark.parametrize("vector", VECTORS, ids=[v[0] for v in VECTORS])
def test_aws_sigv4_test_suite(vector: tuple[Any, ...]) -> None:
    _, method, target, headers, body, signature = vector
    authorization = SigV4Signer([]).authorization(
        method,
        f"https://example.amazonaws.com{target}",
        None,
        headers,
        hashlib.sha256(body).hexdigest(),
        *SUITE_KEY,
        SUITE_DATE,
        "us-east-1",
        "service",
        True,
    )
    names = ";".join(sorted({name.lower() for name, _ in headers}))
    assert authorization == (
        f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        f"SignedHeaders={names}, Signature={signature}"
    )


def test_signing_key_derivation_matches_the_published_example() -> None:
    """The derived key is cached per (secret, date, region, service): same answer again,
    another secret another signature."""
    signer = SigV4Signer([])
    request = ("GET", "https://example.amazonaws.com/", None, [HOST, DATE], EMPTY)
    scope = (SUITE_DATE, "us-east-1", "service", True)
    first = signer.authorization(*request, *SUITE_KEY, *scope)
    again = signer.authorization(*request, *SUITE_KEY, *scope)
    other = signer.authorization(*request, "AKIDEXAMPLE", "other", *scope)
    assert first == again
    assert first is not None and other is not None and first[-64:] != other[-64:]
    for n in range(40):  # more keys than the cache keeps
        signer.authorization(*request, "AKIDEXAMPLE", f"secret {n}", *scope)
    assert signer.authorization(*request, *SUITE_KEY, *scope) == first


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.amazonaws.com/",
        "https://user@example.amazonaws.com/",
        "https://[::1]:8443/",
        "https://example.amazonaws.com/a b",
        "https://example.amazonaws.com:99999/",
        "https://example.amazonaws.com/\u00e9",
    ],
)
def test_unrecognised_shapes_are_left_to_botocore(url: str) -> None:
    assert (
        SigV4Signer([]).authorization(
            "GET", url, None, [DATE], "x", *SUITE_KEY, SUITE_DATE, "r", "s", True
        )
        is None
    )


def test_non_str_headers_are_left_to_botocore() -> None:
    assert (
        SigV4Signer([]).authorization(
            "GET", "https://h/", None, [("X", b"v")], "x", *SUITE_KEY, SUITE_DATE, "r", "s", True
        )
        is None
    )


def _sign_fields(
    fields: list[Any], payload: Any = EMPTY, replaces_hash: bool = False, token: Any = "tok"
) -> Any:
    return SigV4Signer([]).sign_fields(
        fields, "GET", "https://h/", None, replaces_hash, payload, "the request", token,
        *SUITE_KEY, SUITE_DATE, "r", "s", True,
    )  # fmt: skip


def _authorization(fields: list[Any], payload_hash: str) -> Any:
    return SigV4Signer([]).authorization(
        "GET", "https://h/", None, fields, payload_hash, *SUITE_KEY, SUITE_DATE, "r", "s", True
    )


@pytest.mark.parametrize(
    "odd",
    [
        ("Date", "Mon, 01 Jan 2024 00:00:00 GMT"),  # botocore rewrites it
        ("X-Amz-Security-To\u212aen", "old"),  # lowers to x-amz-security-token
        ("X-Three", "a", "b"),
        ["X-List", "a"],
        (b"X-Bytes", "a"),
    ],
)
def test_header_lists_it_does_not_edit_are_left_unchanged(odd: Any) -> None:
    fields = [("X-Amz-Date", "stale"), odd]
    assert _sign_fields(list(fields)) is NotImplemented
    unchanged = list(fields)
    _sign_fields(unchanged)
    assert unchanged == fields


def test_header_edits_call_for_the_payload_hash_only_when_needed() -> None:
    asked: list[Any] = []

    def payload(request: Any) -> str:
        asked.append(request)
        return EMPTY

    preset = [("x-amz-content-sha256", "a" * 64), ("X-Amz-Content-SHA256", "b" * 64)]
    fields = list(preset)
    signed = _sign_fields(fields, payload)
    assert asked == [] and fields[:2] == preset and fields[-1] == ("Authorization", signed)
    assert signed == _authorization(fields[:-1], "a" * 64)
    fields = list(preset)
    _sign_fields(fields, payload, replaces_hash=True)
    assert asked == ["the request"]
    assert [name for name, _ in fields] == [
        "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-SHA256", "Authorization"
    ]  # fmt: skip
    assert _sign_fields([("X", b"bytes")]) is None  # edited, then left to botocore


def test_header_edits_with_an_unsigned_payload_and_without_a_token() -> None:
    """botocore's edits for v4 with payload signing off, and for an empty token
    (falsy: a token header set in advance stays, none is added)."""
    fields = [("X-Amz-Security-Token", "old"), ("x-amz-content-sha256", "a" * 64)]
    signed = _sign_fields(fields, "UNSIGNED-PAYLOAD", replaces_hash=True, token="")
    assert fields == [
        ("X-Amz-Security-Token", "old"),
        ("X-Amz-Date", SUITE_DATE),
        ("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD"),
        ("Authorization", signed),
    ]
    assert signed == _authorization(fields[:-1], "UNSIGNED-PAYLOAD")
    assert _sign_fields([], token=b"bytes") is NotImplemented


def test_a_failing_payload_hash_leaves_botocores_edits_and_no_signature() -> None:
    def payload(request: Any) -> str:
        raise OSError("the body cannot be read")

    fields = [("Authorization", "stale")]
    with pytest.raises(OSError, match="cannot be read"):
        _sign_fields(fields, payload)
    assert fields == [("X-Amz-Date", SUITE_DATE), ("X-Amz-Security-Token", "tok")]


def test_header_values_are_trimmed_as_python_splits_them() -> None:
    """SigV4's trim is botocore's ' '.join(value.split()): a value signs like its
    trimmed form, whatever ASCII whitespace it has and wherever."""
    rng = random.Random(11)
    for _ in range(500):
        value = "".join(
            rng.choice("ab \t\n\v\f\r\x1c\x1d\x1e\x1f") for _ in range(rng.randint(0, 9))
        )
        signed = _authorization([("X-V", value)], EMPTY)
        assert signed is not None
        assert signed == _authorization([("X-V", " ".join(value.split()))], EMPTY)


# ---- the same requests, signed by botocore and by aboto3 -------------------------


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every botocore version's SigV4 clock, stopped: get_current_datetime
    (newer) or datetime.datetime.utcnow (older botocore.auth). The safety net
    is bypassed: these tests check the signer, not the net."""
    monkeypatch.setattr(_signing.safety_net, "verdict", "")

    class FrozenDatetime(datetime.datetime):
        @classmethod
        def utcnow(cls) -> datetime.datetime:  # type: ignore[override]
            return FROZEN

    fake = types.SimpleNamespace(**vars(datetime))
    fake.datetime = FrozenDatetime
    monkeypatch.setattr(botocore.auth, "datetime", fake)
    if hasattr(botocore.auth, "get_current_datetime"):
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: FROZEN)


class Stop(Exception):
    """Raised at before-send: the signed request is all these tests want."""


Sent = tuple[str, Any, list[tuple[str, Any]]]


def _capture(client: Any) -> list[Sent]:
    """What the client sends from now on (its URL, body, headers), stopping each call."""
    sent: list[Sent] = []

    def before_send(request: Any, **_: Any) -> None:
        headers = [(k, v) for k, v in request.headers.items() if k != "amz-sdk-invocation-id"]
        body = request.body if isinstance(request.body, (bytes, str, type(None))) else "<stream>"
        sent.append((request.url, body, headers))
        raise Stop

    client.meta.events.register("before-send", before_send, unique_id="capture")
    return sent


def _add_odd_headers(rng: random.Random) -> Callable[..., None]:
    # Repeated, mixed-case, padded and non-ASCII header values, added where a
    # user's before-sign handler would add them.
    extra = rng.choice(
        [
            [],
            [("X-Amz-Meta-Mixed", "  a \t b  ")],
            [("x-dup", "2"), ("X-Dup", "1"), ("X-DUP", " 3 ")],
            [("X-Custom", "caf\u00e9\u00a0 \u2003au  lait")],
            [("Expect", "100-continue"), ("User-Agent", "ua"), ("x-amzn-trace-id", "t")],
            # Replaced by the signer: a stale signature, date and token, a
            # Date header (botocore rewrites it), a hash set in advance.
            [("authorization", "stale"), ("X-AMZ-DATE", "x"), ("X-Amz-Security-Token", "old")],
            [("date", "Mon, 01 Jan 2024 00:00:00 GMT")],
            [("X-Amz-Content-Sha256", "a" * 64), ("x-amz-content-sha256", "b" * 64)],
            # Lowers to x-amz-security-token in Python (the Kelvin sign).
            [("X-Amz-Security-To\u212aen", "old")],
        ]
    )

    def add(request: Any, **_: Any) -> None:
        for name, value in extra:
            request.headers[name] = value

    return add


ODD = " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\u00e9\u00df\u65e5\u672c\u00a0\U0001f600"


def _text(rng: random.Random, size: int = 12) -> str:
    pool = "abcXYZ019" + ODD
    return "".join(rng.choice(pool) for _ in range(rng.randint(1, size)))


def _calls(rng: random.Random) -> Iterator[tuple[str, dict[str, Any], str, dict[str, Any]]]:
    """(service, client settings, method, params): JSON, query, ec2, rest-json,
    rest-xml and S3 calls with odd names, keys and bodies."""
    while True:
        kind = rng.randrange(9)
        if kind == 0:
            yield "ssm", {}, "get_parameter", {"Name": "/" + _text(rng)}
        elif kind == 1:
            key = {"k": {"S": _text(rng)}}
            yield "dynamodb", {}, "get_item", {"TableName": "t", "Key": key}
        elif kind == 2:
            yield "iam", {}, "get_user", {"UserName": _text(rng)}
        elif kind == 3:
            yield "ec2", {}, "describe_instances", {"InstanceIds": [_text(rng), _text(rng)]}
        elif kind == 4:
            name = rng.choice(["f", "..", "a.b", "x%2F"])
            params = {"FunctionName": name, "Qualifier": _text(rng)}
            yield "lambda", {}, "get_function", params
        elif kind == 5:
            params = {"HostedZoneId": "Z1", "StartRecordName": _text(rng), "MaxItems": "5"}
            yield "route53", {}, "list_resource_record_sets", params
        elif kind == 6:
            key = rng.choice(["", "../", "a//b/./c"]) + _text(rng, 20)
            yield "s3", {}, "get_object", {"Bucket": "bucket", "Key": key, "Range": "bytes=0-9"}
        elif kind == 7:
            params = {"Bucket": "bucket", "Prefix": _text(rng), "Delimiter": "/"}
            yield "s3", {}, "list_objects_v2", params
        else:
            body: Any = rng.choice([b"", b"x" * rng.randint(1, 3000), "text \u00e9"])
            if rng.random() < 0.4 and isinstance(body, bytes):
                body = io.BytesIO(body)  # seekable: hashed in 1 MiB reads, rewound
            params = {"Bucket": "bucket", "Key": _text(rng), "Body": body}
            if rng.random() < 0.5:
                params["Metadata"] = {"Mixed-Case": _text(rng).encode("ascii", "replace").decode()}
            if rng.random() < 0.3:
                params["ChecksumAlgorithm"] = rng.choice(["SHA256", "CRC32"])
            if rng.random() < 0.3:
                params["ContentMD5"] = "XUFAKrxLKna5cZ2REBfFkg=="
            settings = {"payload_signing_enabled": rng.choice([None, True, False])}
            yield "s3", settings, "put_object", params


def _client(service: str, rng: random.Random, settings: dict[str, Any]) -> Any:
    s3: dict[str, Any] = {"addressing_style": rng.choice(["path", "virtual"])}
    if settings.get("payload_signing_enabled") is not None:
        s3["payload_signing_enabled"] = settings["payload_signing_enabled"]
    token = rng.choice([None, "session/token+=="])
    return boto3.client(
        service,
        region_name=rng.choice(["us-east-1", "eu-west-3"]),
        endpoint_url=rng.choice([None, "http://127.0.0.1:9", "https://127.0.0.1:8443"]),
        aws_access_key_id="AKID",
        aws_secret_access_key=rng.choice(["secret", "s\u00e9cret/+="]),
        aws_session_token=token,
        config=Config(s3=s3, retries={"max_attempts": 1}),
    )


def _signed(client: Any, method: str, params: dict[str, Any], fast: bool) -> Any:
    """The request as sent, or the error botocore raised before sending it."""
    assert _signing.use_fast_signing(client, fast) == fast
    sent = _capture(client)
    call = dict(params)
    if isinstance(call.get("Body"), io.BytesIO):
        call["Body"] = io.BytesIO(call["Body"].getvalue())
    try:
        getattr(client, method)(**call)
    except Stop:
        return sent[-1]
    except Exception as error:
        return repr(error)
    finally:
        client.meta.events.unregister("before-send", unique_id="capture")
    raise AssertionError("the call was not sent")


@pytest.mark.usefixtures("frozen_clock")
def test_cpp_signer_matches_botocore_on_generated_requests() -> None:
    rng = random.Random(20240229)
    clients: dict[tuple[Any, ...], Any] = {}
    calls = _calls(rng)
    sent = 0
    for _ in range(2400):
        service, settings, method, params = next(calls)
        key = (service, tuple(sorted(settings.items())), rng.randrange(6))
        client = clients.get(key)
        if client is None:
            client = clients[key] = _client(service, rng, settings)
        client.meta.events.register("before-sign", _add_odd_headers(rng), unique_id="odd")
        theirs = _signed(client, method, params, fast=False)
        ours = _signed(client, method, params, fast=True)
        client.meta.events.unregister("before-sign", unique_id="odd")
        assert ours == theirs, (service, method, params)
        sent += not isinstance(theirs, str)
    assert sent > 2000  # the rest are errors botocore raises before signing, compared too


@pytest.mark.usefixtures("frozen_clock")
def test_every_generated_request_takes_the_cpp_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison above means something only if the C++ signer signed them."""
    signer = _signing._core_signer()
    results: list[bool] = []

    class Spy:
        def sign_fields(self, *args: Any) -> Any:
            result = signer.sign_fields(*args)
            results.append(isinstance(result, str))
            return result

        def authorization(self, *args: Any) -> Any:
            result = signer.authorization(*args)
            results.append(result is not None)
            return result

    monkeypatch.setattr(_signing, "_signer", Spy())
    rng = random.Random(7)
    calls = _calls(rng)
    for _ in range(200):
        service, settings, method, params = next(calls)
        client = _client(service, rng, settings)
        _signed(client, method, params, fast=True)
    assert len(results) > 150
    assert all(results)


@pytest.mark.usefixtures("frozen_clock")
@pytest.mark.parametrize("service, method, params", [
    ("ssm", "get_parameter", {"Name": "/x"}),
    ("s3", "put_object", {"Bucket": "b", "Key": "k", "Body": b"x"}),
])  # fmt: skip
def test_signing_headers_are_edited_in_one_pass_unless_there_is_a_date(
    monkeypatch: pytest.MonkeyPatch, service: str, method: str, params: dict[str, Any]
) -> None:
    """The generated-request comparison covers the one-pass header edits only if
    they run: botocore's own edits are left to requests with a Date header."""
    edited_by_botocore: list[Any] = []
    botocores = botocore.auth.SigV4Auth._modify_request_before_signing

    def spy(self: Any, request: Any) -> None:
        edited_by_botocore.append(request)
        botocores(self, request)

    monkeypatch.setattr(botocore.auth.SigV4Auth, "_modify_request_before_signing", spy)
    client = _client(service, random.Random(3), {})
    _signed(client, method, params, fast=True)
    assert edited_by_botocore == []
    client.meta.events.register(
        "before-sign", lambda request, **_: request.headers.__setitem__("Date", "x"), unique_id="d"
    )
    _signed(client, method, params, fast=True)
    assert len(edited_by_botocore) == 1


def test_the_timestamp_is_the_system_clock_of_this_second(monkeypatch: pytest.MonkeyPatch) -> None:
    """With botocore's clock untouched, the timestamp comes from time.time (made
    once a second): the clock freezegun and the like replace, so they still apply."""
    now = [1_700_000_000.2]
    monkeypatch.setattr(_signing.time, "time", lambda: now[0])
    assert _signing._timestamp_now() == "20231114T221320Z"
    now[0] += 0.7  # the same second
    assert _signing._timestamp_now() == "20231114T221320Z"
    now[0] += 0.2  # the next one
    assert _signing._timestamp_now() == "20231114T221321Z"
    real = datetime.datetime.now(datetime.timezone.utc).strftime(botocore.auth.SIGV4_TIMESTAMP)
    monkeypatch.undo()
    assert _signing._timestamp_now() >= real


# ---- what the C++ signer does not sign ---------------------------------------------


def test_presigned_urls_and_posts_stay_botocore(frozen_clock: None) -> None:
    plain = boto3.client("s3", region_name="us-east-1")
    fast = boto3.client("s3", region_name="us-east-1")
    assert _signing.use_fast_signing(fast, True)
    args = ("get_object", {"Bucket": "b", "Key": "k \u00e9"})
    assert fast.generate_presigned_url(*args) == plain.generate_presigned_url(*args)
    assert fast.generate_presigned_post("b", "k") == plain.generate_presigned_post("b", "k")


def test_unsigned_and_user_chosen_signers_are_respected() -> None:
    anonymous = Config(signature_version=botocore.UNSIGNED)
    client = boto3.client("ssm", region_name="us-east-1", config=anonymous)
    assert _signing.use_fast_signing(client, True)
    seen: list[Any] = []
    sent = _capture(client)
    client.meta.events.register(
        "before-sign", lambda signature_version, **_: seen.append(signature_version)
    )
    with pytest.raises(Stop):
        client.get_parameter(Name="x")
    assert seen == [botocore.UNSIGNED]
    assert not any(name == "Authorization" for name, _ in sent[0][2])

    client = boto3.client("iam", region_name="us-east-1")
    assert _signing.use_fast_signing(client, True)
    client.meta.events.register("choose-signer.iam.GetUser", lambda **_: "v2")
    sent = _capture(client)
    with pytest.raises(Stop):
        client.get_user(UserName="x")
    assert "Authorization" not in dict(sent[0][2])
    assert "SignatureVersion=2" in str(sent[0][1])  # SigV2, as the user chose


def test_credentials_are_frozen_once_per_request() -> None:
    """Refreshable credentials: one refresh check per signed request, as botocore does."""
    frozen_calls = 0

    class CountingCredentials(Credentials):  # type: ignore[misc]
        def get_frozen_credentials(self) -> Any:
            nonlocal frozen_calls
            frozen_calls += 1
            return super().get_frozen_credentials()

    client = boto3.client("ssm", region_name="us-east-1")
    client._request_signer._credentials = CountingCredentials("AKID", "secret", "tok")
    assert _signing.use_fast_signing(client, True)
    sent = _capture(client)
    for _ in range(3):
        with pytest.raises(Stop):
            client.get_parameter(Name="x")
    assert frozen_calls == 3
    assert all(dict(s[2])["X-Amz-Security-Token"] in ("tok", b"tok") for s in sent)

    expired = {"access_key": "A1", "secret_key": "s1", "token": "t1"}
    fresh = {"access_key": "A2", "secret_key": "s2", "token": "t2"}
    refreshed = RefreshableCredentials.create_from_metadata(
        {**expired, "expiry_time": "2000-01-01T00:00:00Z"},
        refresh_using=lambda: {**fresh, "expiry_time": "2999-01-01T00:00:00Z"},
        method="test",
    )
    client._request_signer._credentials = refreshed
    with pytest.raises(Stop):
        client.get_parameter(Name="x")
    assert b"Credential=A2/" in dict(sent[-1][2])["Authorization"]


# ---- switching it on and off --------------------------------------------------------


def test_aioclient_uses_it_by_default_and_can_turn_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    client = boto3.client("ssm", region_name="us-east-1")
    assert aboto3.AIOClient(client).fast_signing
    assert "get_auth_instance" in vars(client._request_signer)
    assert not aboto3.AIOClient(client, fast_signing=False).fast_signing
    assert "get_auth_instance" not in vars(client._request_signer)
    monkeypatch.setenv("ABOTO3_FAST_SIGNING", "0")
    assert not aboto3.AIOClient(client).fast_signing


def test_a_disagreeing_signer_is_not_used_and_says_why(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_signing.safety_net, "verdict", None)
    monkeypatch.setattr(_signing.safety_net, "warned", False)

    class Wrong:
        def sign_fields(self, fields: list[Any], *args: Any) -> str:
            result = signer.sign_fields(fields, *args)
            fields[-1] = ("Authorization", "AWS4-HMAC-SHA256 wrong")
            return str(result)

        def authorization(self, *args: Any) -> str:
            return "AWS4-HMAC-SHA256 wrong"

    signer = _signing._core_signer()

    monkeypatch.setattr(_signing, "_signer", Wrong())
    client = boto3.client("ssm", region_name="us-east-1")
    with caplog.at_level(logging.WARNING, logger="aboto3"):
        assert not aboto3.AIOClient(client).fast_signing
        assert not aboto3.AIOClient(client).fast_signing
    warnings = [r for r in caplog.records if r.name == "aboto3"]
    assert len(warnings) == 1
    assert "botocore's SigV4 signer" in warnings[0].getMessage()
    assert "v4 signature differs" in warnings[0].getMessage()


def test_the_canned_check_passes_on_the_installed_botocore() -> None:
    assert _signing.safety_net.check() == ""


PORTABLE_CHECK = """
import json, random
from aboto3._core import SigV4Signer
rng = random.Random(5)
signer = SigV4Signer([])
out = []
for size in list(range(0, 200)) + [rng.randrange(200, 5000) for _ in range(50)]:
    value = "".join(rng.choice("abc xyz09") for _ in range(size))
    out.append(signer.authorization(
        "PUT", "https://h.example/p", None, [("X-V", value)], "UNSIGNED-PAYLOAD",
        "AKID", "secret" * rng.randrange(1, 20), "20240229T000000Z", "r", "s", True))
print(json.dumps(out))
"""


def test_portable_sha256_agrees_with_the_cpu_extensions() -> None:
    """On CPUs with the x86 SHA extensions the signer hashes with them; the portable
    code (ABOTO3_PORTABLE_SHA256=1, or another CPU) must give the same signatures
    for canonical requests of every length around the 64-byte block edges."""
    import json
    import os
    import subprocess
    import sys

    def signatures(**env: str) -> list[str]:
        result = subprocess.run(
            [sys.executable, "-c", PORTABLE_CHECK],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return list(json.loads(result.stdout))

    default = signatures()
    assert len(default) == 250 and all(default)
    assert signatures(ABOTO3_PORTABLE_SHA256="1") == default


def test_without_the_cpp_signer_botocore_signs_quietly(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A build of aboto3._core without the signer (or no _core at all) keeps botocore's."""
    monkeypatch.setattr(_signing, "SigV4Signer", None)
    client = boto3.client("ssm", region_name="us-east-1")
    with caplog.at_level(logging.WARNING, logger="aboto3"):
        assert not aboto3.AIOClient(client).fast_signing
    assert "get_auth_instance" not in vars(client._request_signer)
    assert not [r for r in caplog.records if r.name == "aboto3"]
