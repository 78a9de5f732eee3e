"""Tools people use with boto3 keep working on an AIOClient, under every engine:
botocore's Stubber, OpenTelemetry's botocore instrumentation, and uvloop as
the running loop."""

from __future__ import annotations

import asyncio
import os
from typing import Any, Callable

import pytest
import uvloop
from botocore.stub import Stubber
from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from .conftest import comparable

PARAMETER = {"Name": "/stubbed", "Type": "String", "Value": "from the stubber", "Version": 1}


@pytest.mark.parametrize("stubbed", ["boto3-client", "aio-client"])
async def test_stubber(
    make_client: Callable[..., Any], make_aio: Callable[..., Any], stubbed: str
) -> None:
    """Stubber answers from its queue, before any HTTP; its checks of the
    parameters and of what is left hold as with the boto3 client."""
    ssm = make_client("ssm")
    aio = make_aio(ssm)
    with Stubber(ssm if stubbed == "boto3-client" else aio) as stubber:
        stubber.add_response("get_parameter", {"Parameter": PARAMETER}, {"Name": "/stubbed"})
        stubber.add_client_error(
            "get_parameter",
            service_error_code="ParameterNotFound",
            http_status_code=400,
            expected_params={"Name": "/missing"},
        )
        result = await aio.get_parameter(Name="/stubbed")
        assert result["Parameter"] == PARAMETER
        with pytest.raises(ssm.exceptions.ParameterNotFound):
            await aio.get_parameter(Name="/missing")
        stubber.assert_no_pending_responses()
        stubber.add_response("get_parameter", {"Parameter": PARAMETER}, {"Name": "/stubbed"})
        with pytest.raises(Exception, match="Expected parameters"):
            await aio.get_parameter(Name="/other")
    await aio.close()


async def test_opentelemetry_spans(
    make_client: Callable[..., Any], make_aio: Callable[..., Any]
) -> None:
    """One span per awaited call (each paginator page too), each a child of
    the span the caller had open when it awaited."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = BotocoreInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        ssm, s3 = make_client("ssm"), make_client("s3")
        aio_ssm, aio_s3 = make_aio(ssm), make_aio(s3)
        tracer = provider.get_tracer(__name__)
        ssm.put_parameter(Name="/otel", Value="v", Type="String")
        s3.create_bucket(Bucket="otel")
        for i in range(5):
            s3.put_object(Bucket="otel", Key=f"k{i}", Body=b"x")
        exporter.clear()
        with tracer.start_as_current_span("caller") as caller:
            await asyncio.gather(*(aio_ssm.get_parameter(Name="/otel") for _ in range(3)))
            pages = aio_s3.get_paginator("list_objects_v2").paginate(
                Bucket="otel", PaginationConfig={"PageSize": 2}
            )
            assert len([page async for page in pages]) == 3
        await aio_ssm.close()
        await aio_s3.close()
    finally:
        instrumentor.uninstrument()
    spans = [span for span in exporter.get_finished_spans() if span.name != "caller"]
    names = sorted(span.name for span in spans)
    assert names == ["S3.ListObjectsV2"] * 3 + ["SSM.GetParameter"] * 3, names
    caller_context = caller.get_span_context()
    for span in spans:
        assert span.parent is not None, span.name
        assert span.parent.span_id == caller_context.span_id, span.name
        assert span.context.trace_id == caller_context.trace_id


def test_uvloop_is_the_running_loop(
    make_client: Callable[..., Any], make_aio: Callable[..., Any]
) -> None:
    """Calls, concurrent ones and a streaming body, on a uvloop loop."""

    async def main() -> None:
        assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
        ssm = make_client("ssm")
        s3 = make_client("s3")
        aio_ssm, aio_s3 = make_aio(ssm), make_aio(s3)
        await aio_ssm.put_parameter(Name="/uv", Value="loop", Type="String")
        results = await asyncio.gather(*(aio_ssm.get_parameter(Name="/uv") for _ in range(20)))
        expected = comparable(ssm.get_parameter(Name="/uv"))
        assert all(comparable(result) == expected for result in results)
        s3.create_bucket(Bucket="uvloop")
        s3.put_object(Bucket="uvloop", Key="k", Body=b"x" * 100_000)
        body = (await aio_s3.get_object(Bucket="uvloop", Key="k"))["Body"]
        assert await body.read() == b"x" * 100_000
        await aio_ssm.close()
        await aio_s3.close()

    loop = uvloop.new_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()


async def test_running_loop_is_the_one_asked_for() -> None:
    """``ABOTO3_TEST_LOOP=uvloop`` runs every async test on uvloop (tests/conftest.py)."""
    loop = asyncio.get_running_loop()
    if os.environ.get("ABOTO3_TEST_LOOP") == "uvloop":
        assert isinstance(loop, uvloop.Loop), type(loop)
    else:
        assert not isinstance(loop, uvloop.Loop), type(loop)
