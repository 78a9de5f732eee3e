"""Fast C++ stub AWS endpoint (SSM, DynamoDB, S3) for the aboto3 benchmarks."""

from .launcher import (
    BINARY,
    SOURCE,
    StubBuildError,
    StubServer,
    StubStartError,
    build_stub_server,
)

__all__ = [
    "BINARY",
    "SOURCE",
    "StubBuildError",
    "StubServer",
    "StubStartError",
    "build_stub_server",
]
