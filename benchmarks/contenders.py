"""The workloads and the clients that race on them.

Each contender turns a workload into a zero-argument call: a plain function for
the synchronous contenders, a coroutine function for the asyncio ones. Every
contender makes the same botocore calls with the same parameters against the
same endpoint, with the same ``max_pool_connections``; they differ only in how
the call is made awaitable.

This module is imported by the worker subprocess, one contender per process, so
each contender imports what it needs when it opens: the original aboto3 0.1.2
and ours are both called ``aboto3`` and must never meet in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import inspect
import io
import sys
from collections.abc import Awaitable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

BENCH_DIR = Path(__file__).resolve().parent
VENDOR_DIR = BENCH_DIR / ".vendor"
ORIGINAL_VERSION = "0.1.2"
ORIGINAL_DIR = VENDOR_DIR / "aboto3_0_1_2"
# Our package with the extension built ABOTO3_PORTABLE=ON (self-pipe, poll()).
PORTABLE_DIR = VENDOR_DIR / "aboto3_portable"

MIB = 1024 * 1024
KIB = 1024
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
PARAMETER_NAME = "/bench/parameter"
TABLE_KEY = {"pk": {"S": "user#42"}}
BUCKET = "bench"
LISTED_BUCKET = "bench-logs"  # the stub's bucket of 10,000 objects to list
# The stub serves as many bytes as the key's suffix says.
GET_KEYS = {"s3get": f"obj-{MIB}", "s3get16k": f"obj-{16 * KIB}"}
PUT_KEY = "put-object"
PUT_BODY = bytes(range(256)) * (MIB // 256)
# The endpoint given to clients that never send (the bridge micro-benchmark).
UNUSED_ENDPOINT = "http://127.0.0.1:9"

# The big responses (issue 22): what the stub answers each of these calls with
# is described in stub/stub_server.cpp; each answer is checked on every call.
BIG_CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "ddbquery": (
        "query",
        {
            "TableName": "bench",
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": TABLE_KEY["pk"]},
        },
    ),
    "ddbscan": ("scan", {"TableName": "bench"}),
    "s3list": ("list_objects_v2", {"Bucket": LISTED_BUCKET}),
}
BIG_WORKLOADS = frozenset(BIG_CALLS)

SyncCall = Callable[[], object]
AsyncCall = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class Workload:
    key: str
    label: str
    service: str
    bytes_per_call: int = 0  # payload moved per call, for MiB/s
    # Warm-up and measured section last this many times the mode's: a workload
    # of a few calls a second needs longer to make enough of them.
    duration_scale: float = 1.0


WORKLOADS: dict[str, Workload] = {
    w.key: w
    for w in (
        Workload("ssm", "SSM GetParameter", "ssm"),
        Workload("ddb", "DynamoDB GetItem", "dynamodb"),
        Workload("s3get", "S3 GetObject 1 MiB (whole body read)", "s3", MIB),
        Workload("s3get16k", "S3 GetObject 16 KiB (whole body read)", "s3", 16 * KIB),
        Workload("s3put", "S3 PutObject 1 MiB", "s3", MIB),
        Workload("ddbquery", "DynamoDB Query, 100 items of ~400 B", "dynamodb"),
        Workload(
            "ddbscan", "DynamoDB Scan, a 1 MB page of ~2,500 items", "dynamodb", duration_scale=3
        ),
        Workload("s3list", "S3 ListObjectsV2, 1,000 keys", "s3", duration_scale=3),
        Workload("noop", "bridge: an awaited no-op", "ssm"),
    )
}


@dataclass(frozen=True)
class Cell:
    """One measurement: a contender, a workload and the conditions it runs in."""

    contender: str
    workload: str
    latency_ms: int
    concurrency: int
    pool: int

    @property
    def key(self) -> str:
        return (
            f"{self.contender}/{self.workload}/lat{self.latency_ms}"
            f"/c{self.concurrency}/pool{self.pool}"
        )


@dataclass
class Mode:
    """A benchmark run's shape: its cells, and how long and how often each is measured."""

    name: str
    reps: int
    duration_s: float  # measured section of each cell
    warmup_s: float
    cells: list[Cell] = field(default_factory=list)


def noop() -> None:
    """What the bridge micro-benchmark awaits: nothing, so only the bridge is measured."""


def check_big_response(response: Any, workload: str) -> None:
    """A big response is whole: a truncated or wrong answer stops the cell."""
    if workload == "s3list":
        count = len(response["Contents"])
        whole = count == 1000 and response["IsTruncated"]
    else:
        count = len(response["Items"])
        whole = count == response["Count"] and (
            count == 100 if workload == "ddbquery" else "LastEvaluatedKey" in response
        )
    if not whole:
        raise AssertionError(f"{workload}: an incomplete answer ({count} items)")


def check_body(data: bytes, workload: str) -> None:
    expected = WORKLOADS[workload].bytes_per_call
    if len(data) != expected:
        raise AssertionError(f"GetObject read {len(data)} bytes, expected {expected}")


def boto3_client(
    workload: str, endpoint_url: str | None, pool: int, *, unsigned: bool = False
) -> Any:
    """A boto3 client configured the same way for every contender."""
    import boto3
    import botocore
    from botocore.config import Config

    settings = _service_config(workload)
    if unsigned:
        settings["signature_version"] = botocore.UNSIGNED
    return boto3.session.Session().client(
        WORKLOADS[workload].service,
        endpoint_url=endpoint_url or UNUSED_ENDPOINT,
        region_name=REGION,
        config=Config(max_pool_connections=pool, **settings),
        **CREDENTIALS,
    )


def _service_config(workload: str) -> dict[str, Any]:
    if WORKLOADS[workload].service == "s3":
        return {"s3": {"addressing_style": "path"}}
    return {}


def sync_call(client: Any, workload: str) -> SyncCall:
    """The workload as one blocking call on a boto3 client."""
    if workload in BIG_CALLS:
        name, params = BIG_CALLS[workload]
        method = getattr(client, name)

        def call_big() -> object:
            response = method(**params)
            check_big_response(response, workload)
            return response

        return call_big
    if workload == "ssm":
        return functools.partial(client.get_parameter, Name=PARAMETER_NAME)
    if workload == "ddb":
        return functools.partial(client.get_item, TableName="bench", Key=TABLE_KEY)
    if workload == "s3put":
        return functools.partial(client.put_object, Bucket=BUCKET, Key=PUT_KEY, Body=PUT_BODY)
    if workload in GET_KEYS:
        get_object = client.get_object
        key = GET_KEYS[workload]

        def get_and_read() -> None:
            check_body(get_object(Bucket=BUCKET, Key=key)["Body"].read(), workload)

        return get_and_read
    raise ValueError(f"no sync call for workload {workload!r}")


def async_call(
    method: Callable[[str], Callable[..., Awaitable[Any]]],
    read_body: Callable[[Any], Awaitable[bytes]],
    workload: str,
) -> AsyncCall:
    """The workload as one awaited call, given how a contender awaits a client
    method (``method(name)``) and reads a streaming body (``read_body(body)``)."""
    if workload in BIG_CALLS:
        name, params = BIG_CALLS[workload]
        big_method = method(name)

        async def call_big() -> object:
            response = await big_method(**params)
            check_big_response(response, workload)
            return response

        return call_big
    if workload == "ssm":
        get_parameter = method("get_parameter")

        async def call_ssm() -> object:
            return await get_parameter(Name=PARAMETER_NAME)

        return call_ssm
    if workload == "ddb":
        get_item = method("get_item")

        async def call_ddb() -> object:
            return await get_item(TableName="bench", Key=TABLE_KEY)

        return call_ddb
    if workload == "s3put":
        put_object = method("put_object")

        async def call_put() -> object:
            return await put_object(Bucket=BUCKET, Key=PUT_KEY, Body=PUT_BODY)

        return call_put
    if workload in GET_KEYS:
        get_object = method("get_object")
        key = GET_KEYS[workload]

        async def call_get() -> object:
            response = await get_object(Bucket=BUCKET, Key=key)
            check_body(await read_body(response["Body"]), workload)
            return response

        return call_get
    raise ValueError(f"no async call for workload {workload!r}")


class Contender:
    """One way of making boto3 calls; opened once per worker process."""

    key: str = ""
    label: str = ""
    is_async: bool = True
    thread_based: bool = False  # its concurrency comes from a pool of `pool` threads
    workloads: frozenset[str] = (
        frozenset({"ssm", "ddb", "s3get", "s3get16k", "s3put"}) | BIG_WORKLOADS
    )
    about: str = ""

    def unavailable(self) -> str | None:
        """Why this contender cannot run here (checked by the runner), or None."""
        return None

    def open_sync(self, cell: Cell, endpoint_url: str | None) -> SyncCall:
        raise NotImplementedError

    async def open(self, cell: Cell, endpoint_url: str | None) -> AsyncCall:
        raise NotImplementedError

    async def close(self) -> None:
        """Release what ``open`` made (outside the measured section)."""


class SyncBoto3(Contender):
    key = "boto3"
    label = "sync boto3"
    is_async = False
    about = "the plain boto3 client, one call after another: the baseline"

    def open_sync(self, cell: Cell, endpoint_url: str | None) -> SyncCall:
        return sync_call(boto3_client(cell.workload, endpoint_url, cell.pool), cell.workload)


class _CannedRaw:
    """A replayed response body with the part of urllib3's interface botocore uses."""

    def __init__(self, data: bytes) -> None:
        self._buffer = io.BytesIO(data)

    def read(self, amt: int | None = None, decode_content: bool = True) -> bytes:
        return self._buffer.read(amt)

    def stream(self, amt: int = 1024, decode_content: bool = True) -> Iterator[bytes]:
        while chunk := self._buffer.read(amt):
            yield chunk

    def close(self) -> None:
        pass


class CannedHTTPSession:
    """Stands in for botocore's URLLib3Session: the first request goes to the
    stub over HTTP, and its exact response (status, headers, body) is replayed
    for every later request. What remains is the cost of botocore alone."""

    def __init__(self, real_session: Any) -> None:
        self._real = real_session
        self._canned: tuple[int, dict[str, str], bytes] | None = None

    def send(self, request: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        if self._canned is None:
            response = self._real.send(request)
            self._canned = (response.status_code, dict(response.headers), response.content)
        status, headers, body = self._canned
        return AWSResponse(request.url, status, headers, _CannedRaw(body))

    def close(self) -> None:
        self._real.close()


def use_null_signer(client: Any) -> None:
    """Give ``client`` a signer that appends the two headers SigV4 adds and
    computes nothing, chosen the way aboto3 chooses its C++ signer: what any
    signer costs the floor through botocore's extension point."""
    import botocore.auth

    class NullSigV4Auth(botocore.auth.SigV4Auth):  # type: ignore[misc]
        def add_auth(self, request: Any) -> None:
            fields = request.headers._headers
            fields.append(("X-Amz-Date", "20250101T000000Z"))
            fields.append(("Authorization", "AWS4-HMAC-SHA256 Credential=" + "x" * 160))

    botocore.auth.AUTH_TYPE_MAPS["null-v4"] = NullSigV4Auth
    signer = client._request_signer
    get_auth_instance = signer.get_auth_instance

    def choose(*args: Any, **kwargs: Any) -> Any:  # as aboto3._signing's
        if kwargs.get("signature_version") == "v4":
            kwargs["signature_version"] = "null-v4"
        return get_auth_instance(*args, **kwargs)

    signer.get_auth_instance = choose


class BotocoreFloor(Contender):
    key = "floor"
    label = "botocore floor"
    is_async = False
    about = (
        "sync boto3 with the HTTP layer answered in-process with the stub's recorded "
        "bytes: what botocore alone costs per call"
    )

    def __init__(self, signer: str = "botocore") -> None:
        self.signer = signer
        if signer == "cpp":
            self.key = "floor-cpp-signer"
            self.label = "botocore floor, C++ signer"
            self.about = "the botocore floor with only the signer swapped for aboto3's C++ SigV4"
        elif signer == "unsigned":
            self.key = "floor-unsigned"
            self.label = "botocore floor, unsigned"
            self.about = (
                "the botocore floor with Config(signature_version=UNSIGNED): what the floor "
                "costs without signing"
            )

    def open_sync(self, cell: Cell, endpoint_url: str | None) -> SyncCall:
        client = boto3_client(
            cell.workload, endpoint_url, cell.pool, unsigned=self.signer == "unsigned"
        )
        endpoint = client._endpoint
        endpoint.http_session = CannedHTTPSession(endpoint.http_session)
        if self.signer == "cpp":
            from aboto3._signing import use_fast_signing

            if not use_fast_signing(client, True):
                raise RuntimeError("aboto3's C++ signer is not available in this process")
        return sync_call(client, cell.workload)


class ToThread(Contender):
    key = "to_thread"
    label = "asyncio.to_thread"
    thread_based = True
    about = (
        "each call (and the body read) via asyncio.to_thread, on a default executor "
        "of `pool` threads"
    )

    async def open(self, cell: Cell, endpoint_url: str | None) -> AsyncCall:
        client = boto3_client(cell.workload, endpoint_url, cell.pool)
        # to_thread runs on the loop's default executor: give it the same
        # number of threads as every other thread-based contender.
        self._executor = ThreadPoolExecutor(max_workers=cell.pool)
        asyncio.get_running_loop().set_default_executor(self._executor)
        to_thread = asyncio.to_thread

        def method(name: str) -> Callable[..., Awaitable[Any]]:
            return functools.partial(to_thread, getattr(client, name))

        def read_body(body: Any) -> Awaitable[bytes]:
            return to_thread(body.read)

        return async_call(method, read_body, cell.workload)

    async def close(self) -> None:
        self._executor.shutdown(wait=False)


def import_original_aboto3() -> Any:
    """Import the published aboto3 0.1.2 from its isolated install directory as
    ``aboto3`` (this process must not have imported ours)."""
    if "aboto3" in sys.modules:
        raise RuntimeError("aboto3 is already imported in this process; cannot load 0.1.2")
    package = ORIGINAL_DIR / "aboto3"
    spec = importlib.util.spec_from_file_location(
        "aboto3", package / "__init__.py", submodule_search_locations=[str(package)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"aboto3 {ORIGINAL_VERSION} is not installed in {ORIGINAL_DIR}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["aboto3"] = module
    spec.loader.exec_module(module)
    if module.__version__ != ORIGINAL_VERSION:
        raise ImportError(f"expected aboto3 {ORIGINAL_VERSION}, found {module.__version__}")
    return module


class OriginalAboto3(Contender):
    key = "aboto3-0.1.2"
    label = "aboto3 0.1.2 (original)"
    thread_based = True
    about = (
        "the published pure-Python aboto3 0.1.2 from PyPI: loop.run_in_executor on a "
        "ThreadPoolExecutor of max_pool_connections threads"
    )

    def unavailable(self) -> str | None:
        if not (ORIGINAL_DIR / "aboto3" / "__init__.py").exists():
            return f"aboto3 {ORIGINAL_VERSION} is not installed in {ORIGINAL_DIR}"
        return None

    async def open(self, cell: Cell, endpoint_url: str | None) -> AsyncCall:
        original = import_original_aboto3()
        aio = original.AIOClient(boto3_client(cell.workload, endpoint_url, cell.pool))
        self._pool = aio._thread_pool
        loop = asyncio.get_running_loop()

        def read_body(body: Any) -> Awaitable[bytes]:
            # 0.1.2 has no async body; read it on the client's own pool.
            return loop.run_in_executor(aio._thread_pool, body.read)

        return async_call(functools.partial(getattr, aio), read_body, cell.workload)

    async def close(self) -> None:
        self._pool.shutdown(wait=False)


class AioBotocore(Contender):
    key = "aiobotocore"
    label = "aiobotocore"
    about = "aiobotocore (aiohttp), AioConfig(max_pool_connections=pool)"

    def unavailable(self) -> str | None:
        if importlib.util.find_spec("aiobotocore") is None:
            return "aiobotocore is not installed (pip install -e .[bench])"
        return None

    async def open(self, cell: Cell, endpoint_url: str | None) -> AsyncCall:
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session

        self._stack = contextlib.AsyncExitStack()
        client = await self._stack.enter_async_context(
            get_session().create_client(
                WORKLOADS[cell.workload].service,
                endpoint_url=endpoint_url or UNUSED_ENDPOINT,
                region_name=REGION,
                config=AioConfig(max_pool_connections=cell.pool, **_service_config(cell.workload)),
                **CREDENTIALS,
            )
        )

        async def read_body(body: Any) -> bytes:
            async with body as stream:
                data: bytes = await stream.read()
            return data

        return async_call(functools.partial(getattr, client), read_body, cell.workload)

    async def close(self) -> None:
        await self._stack.aclose()


async def _read_aboto3_body(aio: Any, body: Any) -> bytes:
    """Read a body the way aboto3 offers: ``await body.read()`` when the engine
    wraps bodies, else botocore's own ``read`` run by the engine."""
    from botocore.response import StreamingBody

    if isinstance(body, StreamingBody):
        data: bytes = await aio.engine.run(body.read)
        return data
    result = body.read()
    return await result if inspect.isawaitable(result) else result  # type: ignore[no-any-return]


class Aboto3(Contender):
    thread_based = True
    engine = "threads"
    workloads = frozenset({"ssm", "ddb", "s3get", "s3get16k", "s3put", "noop"}) | BIG_WORKLOADS

    def __init__(self, engine: str) -> None:
        self.engine = engine
        self.key = f"aboto3-{engine}"
        self.label = f"aboto3 {engine}"
        self.thread_based = engine == "threads"
        self.about = {
            "threads": "aboto3.AIOClient(client): C++ pool of max_pool_connections threads, "
            "batched completions",
            "native": 'aboto3.AIOClient(client, engine="native"): greenlets + libcurl',
        }.get(engine, engine)

    def _make(self, client: Any) -> Any:
        import aboto3

        if self.engine == "threads":
            return aboto3.AIOClient(client)
        return aboto3.AIOClient(client, engine=self.engine)

    def unavailable(self) -> str | None:
        if self.engine == "threads":
            return None
        return native_engine_unavailable(self.engine)

    async def open(self, cell: Cell, endpoint_url: str | None) -> AsyncCall:
        self._aio = aio = self._make(boto3_client(cell.workload, endpoint_url, cell.pool))
        if cell.workload == "noop":
            run = aio.engine.run

            async def bridge() -> object:
                return await run(noop)

            return bridge
        return async_call(
            functools.partial(getattr, aio),
            functools.partial(_read_aboto3_body, aio),
            cell.workload,
        )

    async def close(self) -> None:
        await self._aio.close()


class PureAboto3(Aboto3):
    """Our thread engine without the C++ extension (ABOTO3_PURE_PYTHON=1)."""

    def __init__(self) -> None:
        super().__init__("threads")
        self.key = "aboto3-pure"
        self.label = "aboto3 pure Python"
        self.about = (
            "aboto3.AIOClient(client) with ABOTO3_PURE_PYTHON=1: Python threads, "
            "batched completions (what platforms without a binary wheel run)"
        )

    def _make(self, client: Any) -> Any:
        import aboto3

        if aboto3._engine.HAVE_CORE:
            raise RuntimeError("aboto3 was imported with its extension before this contender")
        return aboto3.AIOClient(client)

    async def open(self, cell: Cell, endpoint_url: str | None) -> AsyncCall:
        import os

        os.environ["ABOTO3_PURE_PYTHON"] = "1"  # read when aboto3 is first imported
        return await super().open(cell, endpoint_url)


class PortableNativeAboto3(Aboto3):
    """The native engine on the portable poll() backend (what macOS runs)."""

    def __init__(self) -> None:
        super().__init__("native")
        self.key = "aboto3-native-poll"
        self.label = "aboto3 native (poll)"
        self.about = (
            'aboto3.AIOClient(client, engine="native") built with ABOTO3_PORTABLE=ON: '
            "poll() and a self-pipe instead of epoll and eventfd"
        )

    def unavailable(self) -> str | None:
        if not list((PORTABLE_DIR / "aboto3").glob("_core*.so")):
            return f"no portable build in {PORTABLE_DIR} (benchmarks.run builds it)"
        return None

    def _make(self, client: Any) -> Any:
        aboto3 = import_portable_aboto3()
        return aboto3.AIOClient(client, engine="native")


def import_portable_aboto3() -> Any:
    """Import our package from PORTABLE_DIR instead of the installed one."""
    if "aboto3" not in sys.modules:
        # An editable install redirects imports of aboto3 (and its extension)
        # to the build tree: drop its finder so the path below is used.
        sys.meta_path[:] = [
            f for f in sys.meta_path if type(f).__name__ != "ScikitBuildRedirectingFinder"
        ]
        sys.path.insert(0, str(PORTABLE_DIR))
    import aboto3

    if not aboto3.__file__ or not aboto3.__file__.startswith(str(PORTABLE_DIR)):
        raise RuntimeError(f"expected aboto3 from {PORTABLE_DIR}, got {aboto3.__file__}")
    if aboto3._engine.NATIVE_IO != "poll":
        raise RuntimeError(f"the portable build runs {aboto3._engine.NATIVE_IO!r}, not poll")
    return aboto3


def native_engine_unavailable(engine: str) -> str | None:
    """Why ``AIOClient(client, engine=engine)`` cannot be made here, or None.

    Asked in a subprocess: the answer must not depend on what the runner imported.
    """
    import subprocess

    probe = (
        "import asyncio, aboto3\n"
        "from benchmarks.contenders import boto3_client\n"
        "async def main():\n"
        f"    aio = aboto3.AIOClient(boto3_client('ssm', None, 10), engine={engine!r})\n"
        "    await aio.close()\n"
        "asyncio.run(main())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=BENCH_DIR.parent,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if result.returncode == 0:
        return None
    lines = result.stderr.strip().splitlines()
    return f'AIOClient(engine="{engine}") is not available: {lines[-1] if lines else "?"}'


class Obstore(Contender):
    key = "obstore"
    label = "obstore"
    workloads = frozenset({"s3get", "s3get16k"})
    about = (
        "obstore (Rust object_store, no botocore): S3Store against the stub, "
        "await get_async(...).bytes_async(); its own connection pool, not capped at `pool`"
    )

    def unavailable(self) -> str | None:
        if importlib.util.find_spec("obstore") is None:
            return "obstore is not installed (pip install -e .[bench])"
        return None

    async def open(self, cell: Cell, endpoint_url: str | None) -> AsyncCall:
        import obstore
        from obstore.store import S3Store

        store = S3Store(
            BUCKET,
            endpoint=endpoint_url or UNUSED_ENDPOINT,
            region=REGION,
            access_key_id=CREDENTIALS["aws_access_key_id"],
            secret_access_key=CREDENTIALS["aws_secret_access_key"],
            virtual_hosted_style_request=False,
            client_options={"allow_http": True},
        )
        key = GET_KEYS[cell.workload]
        get_async = obstore.get_async

        async def call_get() -> object:
            result = await get_async(store, key)
            check_body(bytes(await result.bytes_async()), cell.workload)
            return result

        return call_get


class RunInExecutor(Contender):
    key = "run_in_executor"
    label = "loop.run_in_executor"
    thread_based = True
    workloads = frozenset({"noop"})
    about = "loop.run_in_executor(ThreadPoolExecutor(pool), noop): the bridge baseline"

    async def open(self, cell: Cell, endpoint_url: str | None) -> AsyncCall:
        self._executor = executor = ThreadPoolExecutor(max_workers=cell.pool)
        loop = asyncio.get_running_loop()

        async def bridge() -> object:
            return await loop.run_in_executor(executor, noop)

        return bridge

    async def close(self) -> None:
        self._executor.shutdown(wait=False)


CONTENDERS: dict[str, Contender] = {
    c.key: c
    for c in (
        SyncBoto3(),
        BotocoreFloor(),
        BotocoreFloor("cpp"),
        BotocoreFloor("unsigned"),
        ToThread(),
        OriginalAboto3(),
        AioBotocore(),
        Aboto3("threads"),
        Aboto3("native"),
        PureAboto3(),
        PortableNativeAboto3(),
        Obstore(),
        RunInExecutor(),
    )
}
