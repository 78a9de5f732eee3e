"""One response's parsed output, compared across contenders.

Every contender calls the same stub with the same parameters, so each must get
what sync boto3 gets: the same keys in the same order, the same values and the
same types (``int`` against ``float`` or ``bool``, ``datetime`` with its
``tzinfo``, ``bytes``). The worker compares one call of each cell with a plain
boto3 call made in the same process, outside the measured section, so a
contender that parses differently (a new parser, another botocore) cannot go
unnoticed behind its figures.

What differs between two calls by design is left out: the request ids (the
stub numbers its requests) and the order of the HTTP headers.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping
from typing import Any

# Headers whose values name the request, not the response.
PER_REQUEST_HEADERS = frozenset({"x-amzn-requestid", "x-amz-request-id", "x-amz-id-2", "date"})
PER_REQUEST_METADATA = frozenset({"RequestId", "HostId"})


def comparable(response: Mapping[str, Any]) -> dict[str, Any]:
    """``response`` without what names its request; headers as a plain dict."""
    out = dict(response)
    metadata = dict(out.get("ResponseMetadata") or {})
    for key in PER_REQUEST_METADATA:
        metadata.pop(key, None)
    headers = metadata.get("HTTPHeaders")
    if headers is not None:
        metadata["HTTPHeaders"] = {
            name.lower(): value
            for name, value in sorted(headers.items())
            if name.lower() not in PER_REQUEST_HEADERS
        }
    if "ResponseMetadata" in out:
        out["ResponseMetadata"] = metadata
    return out


def first_difference(ours: Any, theirs: Any, path: str = "") -> str | None:
    """Where ``ours`` first differs from ``theirs`` (the reference), or None."""
    return next(_differences(ours, theirs, path or "response"), None)


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:80]}{'...' if len(text) > 80 else ''}"


def _differences(ours: Any, theirs: Any, path: str) -> Iterator[str]:
    if type(ours) is not type(theirs) and not (
        isinstance(ours, Mapping) and isinstance(theirs, Mapping)
    ):
        yield f"{path}: {_describe(ours)}, boto3 has {_describe(theirs)}"
    elif isinstance(ours, Mapping):
        if list(ours) != list(theirs):
            yield f"{path}: keys {list(ours)}, boto3 has {list(theirs)}"
        for key in ours:
            yield from _differences(ours[key], theirs[key], f"{path}[{key!r}]")
    elif isinstance(ours, (list, tuple)):
        if len(ours) != len(theirs):
            yield f"{path}: {len(ours)} entries, boto3 has {len(theirs)}"
        for index, (mine, reference) in enumerate(zip(ours, theirs)):
            yield from _differences(mine, reference, f"{path}[{index}]")
    elif isinstance(ours, datetime.datetime):
        if (ours, type(ours.tzinfo), ours.utcoffset()) != (
            theirs,
            type(theirs.tzinfo),
            theirs.utcoffset(),
        ):
            yield f"{path}: {ours!r}, boto3 has {theirs!r}"
    elif ours != theirs:
        yield f"{path}: {_describe(ours)}, boto3 has {_describe(theirs)}"
