"""An awaited call raises the very exception boto3 raises, with a useful traceback."""

from __future__ import annotations

import traceback
from typing import Any, Callable

import pytest
from botocore.exceptions import ClientError, OperationNotPageableError


async def test_modeled_exception_matches_boto3(
    make_client: Callable[..., Any], make_aio: Callable[..., Any]
) -> None:
    ssm = make_client("ssm")
    aio = make_aio(ssm)
    with pytest.raises(ssm.exceptions.ParameterNotFound) as sync_error:
        ssm.get_parameter(Name="/unknown/param")
    with pytest.raises(aio.exceptions.ParameterNotFound) as aio_error:
        await aio.get_parameter(Name="/unknown/param")
    assert aio.exceptions is ssm.exceptions
    assert type(aio_error.value) is type(sync_error.value)
    assert isinstance(aio_error.value, ClientError)
    assert str(aio_error.value) == str(sync_error.value)
    assert aio_error.value.response["Error"] == sync_error.value.response["Error"]
    assert aio_error.value.operation_name == "GetParameter"


async def test_traceback_has_caller_and_botocore_frames(
    make_client: Callable[..., Any], make_aio: Callable[..., Any]
) -> None:
    aio = make_aio(make_client("s3"))
    try:
        await aio.head_bucket(Bucket="does-not-exist")
    except ClientError as error:
        frames = traceback.extract_tb(error.__traceback__)
    else:
        pytest.fail("head_bucket on a missing bucket must raise")
    names = [(frame.filename, frame.name) for frame in frames]
    assert names[0] == (__file__, "test_traceback_has_caller_and_botocore_frames")
    assert any("botocore" in filename and name == "_make_api_call" for filename, name in names)


async def test_unknown_attribute_like_boto3(
    make_client: Callable[..., Any], make_aio: Callable[..., Any]
) -> None:
    ssm = make_client("ssm")
    aio = make_aio(ssm)
    with pytest.raises(AttributeError) as sync_error:
        ssm.get_parameterz  # noqa: B018
    with pytest.raises(AttributeError) as aio_error:
        aio.get_parameterz  # noqa: B018
    assert str(aio_error.value) == str(sync_error.value)


async def test_unpageable_and_unknown_waiter_like_boto3(
    make_client: Callable[..., Any], make_aio: Callable[..., Any]
) -> None:
    ssm = make_client("ssm")
    aio = make_aio(ssm)
    with pytest.raises(OperationNotPageableError) as sync_error:
        ssm.get_paginator("get_parameter")
    with pytest.raises(OperationNotPageableError) as aio_error:
        aio.get_paginator("get_parameter")
    assert str(aio_error.value) == str(sync_error.value)
    assert aio.can_paginate("describe_parameters") is True
    assert aio.can_paginate("get_parameter") is False
