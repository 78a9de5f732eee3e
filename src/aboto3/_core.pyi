"""Type stubs for aboto3's C++ engine (the private extension ``aboto3._core``)."""

import asyncio
import concurrent.futures
import contextvars
from collections.abc import Sequence
from typing import Any, Callable

def build_features() -> dict[str, str]: ...

class CompletionBridge:
    """Delivers finished calls to one event loop: one wake-up per batch."""

    def __init__(self) -> None: ...
    @property
    def fd(self) -> int: ...
    @property
    def signals(self) -> int: ...
    def drain(self) -> int: ...
    def push_concurrent(
        self, future: asyncio.Future[Any], concurrent_future: concurrent.futures.Future[Any]
    ) -> None: ...

class ThreadPool:
    """Native worker threads that run synchronous callables for the event loop."""

    def __init__(self, max_workers: int) -> None: ...
    def submit(
        self,
        bridge: CompletionBridge,
        future: asyncio.Future[Any],
        context: contextvars.Context,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None: ...
    def shutdown(self, wait: bool = True) -> None: ...
    def shutdown_notify(self, bridge: CompletionBridge, future: asyncio.Future[None]) -> None: ...
    @property
    def max_workers(self) -> int: ...
    @property
    def thread_count(self) -> int: ...

def shutdown_all_pools() -> None: ...

# Only in a build with libcurl (native_io non-empty):

class Transfer:
    """One HTTP exchange running on the libcurl I/O thread."""

    def wait_async(
        self, bridge: CompletionBridge, future: asyncio.Future[Any], want: int, min_bytes: int = 1
    ) -> bool: ...
    def wait(self, want: int, min_bytes: int = 1) -> None: ...
    @property
    def status(self) -> int: ...
    def headers(self) -> list[tuple[str, str]]: ...
    def read(self, max: int = -1) -> bytes: ...
    def start_whole_read(self) -> bool: ...
    def end_whole_read(self) -> bytes | None: ...
    @property
    def finished(self) -> bool: ...
    @property
    def at_eof(self) -> bool: ...
    @property
    def buffered(self) -> int: ...
    @property
    def failed(self) -> bool: ...
    @property
    def truncated(self) -> bool: ...
    def send_error(self) -> BaseException | None: ...
    def body_error(self) -> BaseException | None: ...
    def upload_need(self) -> tuple[int, bool] | None: ...
    def feed(self, epoch: int, chunk: bytes) -> bool: ...
    def cancel(self) -> None: ...
    def set_read_timeout(self, seconds: float) -> None: ...

class HttpSession:
    """One botocore client's HTTP settings for libcurl."""

    def __init__(
        self,
        max_connections: int,
        connect_timeout: float,
        read_timeout: float,
        verify: bool = True,
        ca_file: str = "",
        client_cert: str = "",
        client_key: str = "",
        tcp_keepalive: bool = False,
        proxy_ca_file: str = "",
        proxy_client_cert: str = "",
        proxy_client_key: str = "",
    ) -> None: ...
    def send(
        self,
        method: str,
        url: str,
        headers: list[tuple[Any, Any]],
        body: object | None,
        stream: bool,
        proxy_url: str = "",
        read_timeout: float = -1.0,
        fed_body: bool = False,
        seekable: bool = False,
        target: str = "",
        defer_wake: bool = False,
    ) -> Transfer: ...
    def release_connections(self) -> None: ...

def wake_io_thread() -> None: ...
def set_max_wake_deferral(seconds: float) -> float: ...
def set_stream_buffer_budget(bytes: int) -> int: ...
def stream_buffered() -> int: ...
def shutdown_curl_engine() -> None: ...
def curl_in_flight() -> int: ...
def curl_wakes() -> int: ...
def sha256_hex(data: bytes) -> str: ...
def json_loads(
    data: bytes,
    mapping_type: Callable[[], Any] | None = None,
    pause: Callable[[], object] | None = None,
    share_gil: bool = False,
) -> Any: ...

class ParsePlan:
    """A botocore Shape compiled for one protocol family (aboto3._parsers builds it)."""

    def __init__(self, nodes: list[tuple[Any, ...]], root: int) -> None: ...
    @property
    def size(self) -> int: ...

def configure_parsers(
    parse_timestamp: Callable[[Any], Any],
    default_blob_parser: Callable[..., Any],
    tzutc: Any,
    sparse_lists: bool,
) -> None: ...
def parse_response(
    protocol: int,
    plan: ParsePlan | None,
    response: dict[str, Any],
    parser: Any,
    modeled_error: bool,
    tz_utc: Any,
    tz_local: Any,
    local_is_utc: bool,
    pause: Callable[[], object] | None,
) -> Any: ...
def parser_counters() -> dict[str, int]: ...
def xml_root_tag(body: bytes) -> Any: ...

class JsonBodyPlan:
    """A botocore input shape compiled for writing JSON request bodies."""

    def __init__(self, nodes: list[tuple[Any, ...]]) -> None: ...
    def write(self, params: Any, serializer: Any) -> bytes | None: ...

class SigV4Signer:
    """AWS Signature Version 4 in headers, as botocore's SigV4Auth/S3SigV4Auth sign."""

    def __init__(self, unsigned_headers: list[str]) -> None: ...
    def authorization(
        self,
        method: str,
        url: str,
        canonical_query: str | None,
        headers: Sequence[tuple[str, Any]],
        payload_hash: str,
        access_key: str,
        secret_key: str,
        timestamp: str,
        region: str,
        service: str,
        normalize_path: bool,
    ) -> str | None: ...
    def sign_fields(
        self,
        fields: list[tuple[str, Any]],
        method: str,
        url: str,
        canonical_query: str | None,
        replaces_hash: bool,
        payload: str | Callable[[Any], str],
        request: Any,
        token: str | None,
        access_key: str,
        secret_key: str,
        timestamp: str,
        region: str,
        service: str,
        normalize_path: bool,
    ) -> Any: ...
