"""On the wire, every engine sends exactly what plain boto3 (urllib3) sends.

A capture server on 127.0.0.1 (``tests/capture_server.py``) records each request
as it arrives: the request target byte for byte, the header block as raw
names and values in order, and the body. The same corpus of calls (S3 keys with
dot segments, ``//``, ``%``, ``%2F``, ``+``, spaces, ``;``, ``=``, ``?``, ``#``,
non-ASCII and 1,024 bytes; query strings with reserved characters; the JSON,
query, ec2, rest-json and rest-xml protocols; empty, bytes and file bodies) is
made through a plain boto3 client and then through an ``AIOClient`` of the
engine under test, over plain HTTP, over TLS, through a ``CONNECT`` proxy (TLS
inside the tunnel) and through a forwarding proxy, and the two recordings must
be identical apart from ``TIME_DEPENDENT`` (the values of the headers that
change with the clock or a random id) and one optional space after a header's
colon (``normalised``).

The capture server answers every request with an empty 200, so each call is
one request whatever the protocol makes of that answer.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import HTTPClientError

import aboto3

from .capture_server import Captured, CaptureServer
from .conftest import REGION, TLSFiles

# Header values that differ between two identical calls made a moment apart:
# (header name, the part of its value that may differ). Everything else, the
# rest of these values included, must be equal byte for byte.
TIME_DEPENDENT = {
    b"x-amz-date": re.compile(rb"^\d{8}T\d{6}Z$"),  # the signing time
    # The signature (over that time) and the date in the credential scope.
    b"authorization": re.compile(rb"Signature=[0-9a-f]{64}|/\d{8}/"),
    b"amz-sdk-invocation-id": re.compile(rb"^[0-9a-f-]{36}$"),  # a uuid4 per call
}

BUCKET = "wire"

# S3 keys that a path normaliser, a URL parser or an encoder could alter.
KEYS = [
    "a/./b",
    "key./././name",
    "x/../y",
    "./lead",
    "../bucket-b/x",
    ".",
    "..",
    "a/..",
    "a//b",
    "//lead",
    "trail/",
    "100%",
    "%41",
    "a%2Fb",
    "a+b",
    "a b",
    "a;b=c",
    "a?b=c",
    "a#frag",
    "über/ключ/鍵 €",
    "tab\tand~tilde",
    ("d/./../" * 147)[:1024],  # 1,024 bytes: the longest key S3 takes
]
assert len(KEYS[-1].encode()) == 1024

RESERVED = "a&b=c?d/e#f%g+h i;j:k@l,m$n!o*p'q(r)s[t]u~é"


@dataclass
class Call:
    service: str
    operation: str
    params: Callable[[Path], dict[str, Any]]  # a new dict per call (file bodies)


def corpus() -> list[Call]:
    calls: list[Call] = []
    for key in KEYS:
        calls += [
            Call("s3", "put_object", lambda _, k=key: {"Bucket": BUCKET, "Key": k, "Body": b"x"}),
            Call("s3", "get_object", lambda _, k=key: {"Bucket": BUCKET, "Key": k}),
            Call("s3", "head_object", lambda _, k=key: {"Bucket": BUCKET, "Key": k}),
            Call(
                "s3",
                "copy_object",
                lambda _, k=key: {
                    "Bucket": BUCKET,
                    "Key": k + ".copy",
                    "CopySource": {"Bucket": BUCKET, "Key": k},
                },
            ),
            Call("s3", "delete_object", lambda _, k=key: {"Bucket": BUCKET, "Key": k}),
        ]
    calls += [
        # rest-xml: query strings, header values, bodies
        Call(
            "s3",
            "list_objects_v2",
            lambda _: {
                "Bucket": BUCKET,
                "Prefix": RESERVED,
                "StartAfter": RESERVED,
                "Delimiter": "/",
            },
        ),
        Call(
            "s3",
            "get_object",
            lambda _: {
                "Bucket": BUCKET,
                "Key": "k",
                "VersionId": RESERVED,
                "ResponseContentDisposition": 'attachment; filename="a b&c.txt"',
            },
        ),
        Call("s3", "put_object", lambda _: {"Bucket": BUCKET, "Key": "empty", "Body": b""}),
        Call("s3", "put_object", lambda _: {"Bucket": BUCKET, "Key": "none"}),
        Call(
            "s3",
            "put_object",
            lambda folder: {
                "Bucket": BUCKET,
                "Key": "file",
                "Body": (folder / "body.bin").open("rb"),
            },
        ),
        Call(
            "s3",
            "put_object",
            lambda _: {
                "Bucket": BUCKET,
                "Key": "meta",
                "Body": bytes(range(256)) * 64,
                "Metadata": {"a-b": "c d", "e": ""},
                "ContentDisposition": 'attachment; filename="caf\xe9.txt"',
            },
        ),
        Call(
            "s3",
            "delete_objects",
            lambda _: {"Bucket": BUCKET, "Delete": {"Objects": [{"Key": k} for k in KEYS[:6]]}},
        ),
        Call("s3", "list_buckets", lambda _: {}),
        Call("route53", "get_hosted_zone", lambda _: {"Id": "/hostedzone/Z1 2&3"}),
        Call(
            "route53",
            "list_resource_record_sets",
            lambda _: {
                "HostedZoneId": "Z1",
                "StartRecordName": "a b.example.com.",
                "StartRecordType": "A",
            },
        ),
        # rest-json
        Call("lambda", "list_functions", lambda _: {"Marker": RESERVED, "MaxItems": 5}),
        Call(
            "lambda",
            "invoke",
            lambda _: {
                "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:f",
                "Qualifier": "$LATEST",
                "Payload": b'{"a": "b c"}',
            },
        ),
        Call("lambda", "get_function", lambda _: {"FunctionName": "f", "Qualifier": "1"}),
        # json
        Call("ssm", "get_parameter", lambda _: {"Name": "/a b/" + RESERVED}),
        Call("ssm", "describe_parameters", lambda _: {}),
        Call(
            "dynamodb",
            "put_item",
            lambda _: {"TableName": "t", "Item": {"k": {"S": RESERVED}, "b": {"B": b"\x00\xff"}}},
        ),
        # query (and ec2's variant of it)
        Call("sts", "get_caller_identity", lambda _: {}),
        Call(
            "sts",
            "assume_role",
            lambda _: {
                "RoleArn": "arn:aws:iam::123456789012:role/r",
                "RoleSessionName": "s-=+,.@",
                "Policy": '{"a": "' + RESERVED + '"}',
            },
        ),
        Call(
            "ec2",
            "describe_instances",
            lambda _: {"Filters": [{"Name": "tag:a b", "Values": [RESERVED]}]},
        ),
    ]
    return calls


CORPUS = corpus()


def normalised(request: Captured) -> tuple[Any, ...]:
    headers = []
    for name, raw in request.headers:
        # The one difference in form: http.client writes "Name: value", and
        # "Name: " and the blanks for an empty or blank value, libcurl "Name:"
        # (it cannot send a value of whitespace). Whitespace around a value is
        # not part of it (RFC 9110 5.5), so that is all that may differ.
        value = raw.strip(b" \t")
        pattern = TIME_DEPENDENT.get(name.lower())
        headers.append((name, pattern.sub(b"<varies>", value) if pattern else value))
    return (
        request.method,
        request.target,
        request.version,
        headers,
        request.body,
        request.chunked,
        request.tls,
        request.tunnelled,
    )


def difference(want: tuple[Any, ...], got: tuple[Any, ...]) -> list[Any]:
    """What differs, readably: ``(field, boto3's, aboto3's)``; headers one by one."""
    fields = ("method", "target", "version", "headers", "body", "chunked", "tls", "tunnelled")
    out: list[Any] = []
    for name, a, b in zip(fields, want, got):
        if name == "headers" and a != b:
            out += [("header", x, y) for x, y in itertools.zip_longest(a, b) if x != y]
        elif a != b:
            out.append((name, a, b))
    return out


@dataclass
class Scenario:
    server: Callable[[TLSFiles], CaptureServer]
    endpoint: Callable[[CaptureServer], str]
    config: Callable[[CaptureServer], dict[str, Any]]
    verify: bool = False  # verify with the throwaway CA


SCENARIOS = {
    "http": Scenario(lambda _: CaptureServer(), lambda s: s.url, lambda _: {}),
    "tls": Scenario(
        lambda tls: CaptureServer(tls.server_context()), lambda s: s.url, lambda _: {}, verify=True
    ),
    # https through an HTTP proxy: CONNECT, then TLS inside the tunnel.
    "connect_proxy": Scenario(
        lambda tls: CaptureServer(tls.server_context(), proxy_only=True),
        lambda s: f"https://127.0.0.1:{s.port}",
        lambda s: {"proxies": {"https": s.proxy_url}},
        verify=True,
    ),
    # http through an HTTP proxy: absolute-form request targets.
    "forward_proxy": Scenario(
        lambda _: CaptureServer(),
        lambda s: f"http://127.0.0.1:{s.port}",
        lambda s: {"proxies": {"http": s.proxy_url}},
    ),
}


def make_clients(server: CaptureServer, scenario: Scenario, tls: TLSFiles) -> dict[str, Any]:
    config = Config(
        retries={"total_max_attempts": 1},
        s3={"addressing_style": "path"},
        **scenario.config(server),
    )
    verify: Any = tls.ca_bundle if scenario.verify else None
    # A session of their own: the client that first resolves a session's
    # credentials names their source in its User-Agent ("m/...g"), the others not.
    session = boto3.Session()
    return {
        service: session.client(
            service,
            region_name=REGION,
            endpoint_url=scenario.endpoint(server),
            config=config,
            verify=verify,
        )
        for service in sorted({call.service for call in CORPUS})
    }


@pytest.fixture
def body_folder(tmp_path: Path) -> Path:
    (tmp_path / "body.bin").write_bytes(b"file body\n" * 1000)
    return tmp_path


@pytest.fixture(autouse=True)
def no_proxy_bypass(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The proxies must be used for 127.0.0.1 too.
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    yield


def run_sync(client: Any, call: Call, folder: Path) -> Any:
    try:
        result = getattr(client, call.operation)(**call.params(folder))
        for value in result.values():
            if hasattr(value, "read"):
                value.read()
        return "ok"
    except Exception as error:
        return type(error).__name__


async def run_async(aio: aboto3.AIOClient[Any], call: Call, folder: Path) -> Any:
    try:
        result = await getattr(aio, call.operation)(**call.params(folder))
        for value in result.values():
            if isinstance(value, aboto3.AIOStreamingBody):
                await value.read()
        return "ok"
    except Exception as error:
        return type(error).__name__


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_wire_like_boto3(
    scenario: str,
    make_aio: Callable[..., aboto3.AIOClient[Any]],
    tls_files: TLSFiles,
    body_folder: Path,
) -> None:
    setup = SCENARIOS[scenario]
    with setup.server(tls_files) as server:
        # What each call did, and the requests it sent (the server has recorded
        # a request before it answers, so they are all there when a call returns).
        clients = make_clients(server, setup, tls_files)
        expected = []
        for call in CORPUS:
            expected.append((run_sync(clients[call.service], call, body_folder), server.take()))
        for client in clients.values():
            client.close()

        clients = make_clients(server, setup, tls_files)
        aios = {service: make_aio(client) for service, client in clients.items()}
        actual = []
        for call in CORPUS:
            result = await run_async(aios[call.service], call, body_folder)
            actual.append((result, server.take()))
        for aio in aios.values():
            await aio.close()
        for client in clients.values():
            client.close()

    def requests(recorded: list[Captured]) -> list[Captured]:
        return [r for r in recorded if r.method != "CONNECT"]

    # The corpus reached the wire, one request per call: nothing retried, and
    # (whatever an older botocore refuses before sending) almost every call sent.
    assert all(len(requests(recorded)) <= 1 for _, recorded in expected)
    assert sum(len(requests(recorded)) for _, recorded in expected) >= len(CORPUS) - 3
    differences = [
        (
            call.service,
            call.operation,
            want[0],
            got[0],
            [
                difference(normalised(a), normalised(b))
                for a, b in zip(requests(want[1]), requests(got[1]))
            ],
        )
        for call, want, got in zip(CORPUS, expected, actual)
        if want[0] != got[0]
        or [normalised(r) for r in requests(want[1])] != [normalised(r) for r in requests(got[1])]
    ]
    assert not differences, differences[:3]

    if scenario == "connect_proxy":
        sent = [r for _, recorded in expected for r in requests(recorded)]
        assert all(r.tunnelled and r.tls for r in sent)

        # A tunnel is not a request botocore builds: only where it leads is
        # compared (urllib3 and libcurl word the CONNECT itself differently,
        # and each pools its tunnels its own way).
        def tunnels(calls: list[Any]) -> set[bytes]:
            return {r.target for _, recorded in calls for r in recorded if r.method == "CONNECT"}

        assert tunnels(expected) == tunnels(actual) == {f"127.0.0.1:{server.port}".encode()}
    # What botocore built did reach the wire (a capture that lost the path
    # would pass the comparisons above).
    targets = {r.target for _, recorded in expected for r in recorded}
    if scenario != "forward_proxy":
        assert b"/wire/a/./b" in targets
        assert b"/wire/../bucket-b/x" in targets
        assert b"/wire/a%252Fb" in targets  # botocore encodes the '%' of a%2Fb


# Keys that a normalising client turns into other keys, or into a request to
# another bucket ("../bucket-b/x").
DOT_SEGMENT_KEYS = ["a/./b", "key./././name", "x/../y", "./lead", "../bucket-b/x", "a//b", "trail/"]


async def test_dot_segment_keys_land_as_given(
    make_client: Callable[..., Any], make_aio: Callable[..., aboto3.AIOClient[Any]]
) -> None:
    s3 = make_client("s3")
    s3.create_bucket(Bucket="dots-a")
    s3.create_bucket(Bucket="bucket-b")
    aio = make_aio(s3)
    for key in DOT_SEGMENT_KEYS:
        await aio.put_object(Bucket="dots-a", Key=key, Body=key.encode())
    listed = (await aio.list_objects_v2(Bucket="dots-a"))["Contents"]
    assert sorted(o["Key"] for o in listed) == sorted(DOT_SEGMENT_KEYS)
    for key in DOT_SEGMENT_KEYS:
        body = (await aio.get_object(Bucket="dots-a", Key=key))["Body"]
        assert await body.read() == key.encode()
        await aio.delete_object(Bucket="dots-a", Key=key)
    await aio.close()
    # Plain boto3 saw the same: every key where it was put, none elsewhere.
    assert s3.list_objects_v2(Bucket="dots-a")["KeyCount"] == 0
    assert s3.list_objects_v2(Bucket="bucket-b")["KeyCount"] == 0


# Header names and values as user code may set them (here in a before-send
# hook): the ones http.client refuses (a CR or LF that would start a header of
# its own, a colon or leading space in a name, what latin-1 or ASCII cannot
# encode, a type it cannot send) and ones it lets through (a folded line, a
# tab, a blank value, which libcurl would leave out, an int, a bool, latin-1).
ODD_HEADERS = [
    ("X-Injected", "a\r\nInjected: 1"),
    ("X-Injected-Bytes", b"a\r\nInjected: 1"),
    ("X-Lf", "a\nb"),
    ("X-Cr", "a\rb"),
    ("X-Trailing-Cr", "a\r"),
    ("X-Folded", "a\r\n b"),
    ("X-Tab", "a\tb"),
    ("X-Blank", "  "),
    ("X-Blank-Tab", "\t"),
    ("Bad:Name", "1"),
    (" Lead", "1"),
    ("", "1"),
    ("Na\u00efve", "1"),
    ("X-Latin", "caf\u00e9"),
    ("X-Euro", "\u20ac"),
    ("X-Int", 5),
    ("X-Bool", True),
    ("X-None", None),
    ("X-Float", 1.5),
]


@pytest.mark.parametrize(("name", "value"), ODD_HEADERS, ids=[repr(h) for h in ODD_HEADERS])
async def test_headers_http_client_refuses_are_refused_alike(
    name: str, value: Any, make_aio: Callable[..., aboto3.AIOClient[Any]]
) -> None:
    """What plain boto3 does with such a header, every engine does: the same
    exception (botocore's HTTPClientError around http.client's), the same
    attempts, and for a header it sends, the same bytes on the wire. Never a
    request with a header injected."""
    mode = "standard" if name == "X-Injected" else "legacy"
    with CaptureServer() as server:

        def client() -> Any:
            s3 = boto3.client(
                "s3",
                region_name=REGION,
                endpoint_url=server.url,
                # Standard retries retry what sending raises, after a back-off
                # of up to a second: one case shows the attempts match.
                config=Config(retries={"mode": mode, "max_attempts": 2}),
            )
            s3.meta.events.register(
                "before-send", lambda request, **_: request.headers.__setitem__(name, value)
            )
            s3.meta.events.register("before-send", lambda **_: attempts.append(1))
            return s3

        def outcome(error: BaseException | None) -> Any:
            sent = [normalised(r) for r in server.take()]
            return (type(error).__name__, str(error)) if error else None, len(attempts), sent

        attempts: list[int] = []
        try:
            client().put_object(Bucket=BUCKET, Key="k", Body=b"x")
            expected = outcome(None)
        except Exception as error:
            expected = outcome(error)
        attempts = []
        try:
            async with make_aio(client()) as aio:
                await aio.put_object(Bucket=BUCKET, Key="k", Body=b"x")
            actual = outcome(None)
        except Exception as error:
            actual = outcome(error)
    assert actual[:2] == expected[:2]
    assert [difference(want, got) for want, got in zip(expected[2], actual[2])] == [
        [] for _ in expected[2]
    ]
    assert len(actual[2]) == len(expected[2])
    assert all(header[0].lower() != b"injected" for sent in actual[2] for header in sent[3])


async def test_a_nul_byte_in_a_header_is_refused_not_cut_short(
    make_aio: Callable[..., aboto3.AIOClient[Any]], engine: str
) -> None:
    """http.client sends a NUL byte in a header value; libcurl's header lines
    end at one. The native engine refuses such a header with an error that
    says so, and sends nothing; the thread engines send what boto3 sends."""
    with CaptureServer() as server:
        s3 = boto3.client(
            "s3",
            region_name=REGION,
            endpoint_url=server.url,
            config=Config(retries={"total_max_attempts": 1}),
        )
        call = {"Bucket": BUCKET, "Key": "k", "Body": b"x", "Metadata": {"m": "a\x00b"}}
        s3.put_object(**call)
        (expected,) = server.take()
        assert expected.header(b"x-amz-meta-m") == b"a\x00b"
        async with make_aio(s3) as aio:
            if engine == "native":
                with pytest.raises(HTTPClientError, match="cannot send a NUL byte"):
                    await aio.put_object(**call)
                assert server.take() == []
            else:
                await aio.put_object(**call)
                (actual,) = server.take()
                assert difference(normalised(expected), normalised(actual)) == []
