"""Every awaited result equals the synchronous client's, over real HTTP to moto."""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest

from .conftest import comparable


async def both(sync_client: Any, aio: Any, method: str, **kwargs: Any) -> tuple[Any, Any]:
    expected = getattr(sync_client, method)(**kwargs)
    actual = await getattr(aio, method)(**kwargs)
    return expected, actual


async def test_ssm(make_client: Callable[..., Any], make_aio: Callable[..., Any]) -> None:
    ssm = make_client("ssm")
    aio = make_aio(ssm)
    for i in range(12):
        ssm.put_parameter(Name=f"/app/p{i:02}", Value=f"v{i}", Type="String")
    expected, actual = await both(ssm, aio, "get_parameter", Name="/app/p03")
    assert comparable(actual) == comparable(expected)
    expected, actual = await both(ssm, aio, "get_parameters_by_path", Path="/app")
    assert comparable(actual) == comparable(expected)
    put = await aio.put_parameter(Name="/app/new", Value="x", Type="SecureString")
    assert put["Version"] == 1
    assert ssm.get_parameter(Name="/app/new", WithDecryption=True)["Parameter"]["Value"] == "x"

    sync_pages = list(
        ssm.get_paginator("describe_parameters").paginate(PaginationConfig={"PageSize": 5})
    )
    aio_pages = [
        p
        async for p in aio.get_paginator("describe_parameters").paginate(
            PaginationConfig={"PageSize": 5}
        )
    ]
    assert len(aio_pages) == len(sync_pages) > 1
    assert comparable(aio_pages) == comparable(sync_pages)


async def test_ec2(make_client: Callable[..., Any], make_aio: Callable[..., Any]) -> None:
    ec2 = make_client("ec2")
    aio = make_aio(ec2)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    ec2.run_instances(ImageId=image, MinCount=3, MaxCount=3, InstanceType="t2.micro")
    ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="m5.large")
    filters = [{"Name": "instance-type", "Values": ["t2.micro"]}]
    expected, actual = await both(ec2, aio, "describe_instances", Filters=filters)
    assert comparable(actual) == comparable(expected)
    assert sum(len(r["Instances"]) for r in actual["Reservations"]) == 3
    expected, actual = await both(ec2, aio, "describe_vpcs")
    assert comparable(actual) == comparable(expected)

    sync_pages = list(ec2.get_paginator("describe_instances").paginate(Filters=filters))
    aio_pages = [p async for p in aio.get_paginator("describe_instances").paginate(Filters=filters)]
    assert comparable(aio_pages) == comparable(sync_pages)


async def test_s3_put_get_list(
    make_client: Callable[..., Any], make_aio: Callable[..., Any]
) -> None:
    s3 = make_client("s3")
    aio = make_aio(s3)
    await aio.create_bucket(Bucket="parity")
    payload = bytes(range(256)) * 1024
    put = await aio.put_object(Bucket="parity", Key="a/blob.bin", Body=payload)
    assert put["ETag"] == s3.head_object(Bucket="parity", Key="a/blob.bin")["ETag"]
    for i in range(5):
        s3.put_object(Bucket="parity", Key=f"b/{i}", Body=b"x" * i)

    got = await aio.get_object(Bucket="parity", Key="a/blob.bin")
    sync_got = s3.get_object(Bucket="parity", Key="a/blob.bin")
    assert await got["Body"].read() == sync_got["Body"].read() == payload
    assert got["ContentLength"] == sync_got["ContentLength"] == len(payload)
    assert got["ETag"] == sync_got["ETag"]

    expected, actual = await both(s3, aio, "list_objects_v2", Bucket="parity", Prefix="b/")
    assert comparable(actual) == comparable(expected)
    expected, actual = await both(s3, aio, "head_object", Bucket="parity", Key="b/3")
    assert comparable(actual) == comparable(expected)

    sync_pages = list(
        s3.get_paginator("list_objects_v2").paginate(
            Bucket="parity", PaginationConfig={"PageSize": 2}
        )
    )
    aio_pages = [
        p
        async for p in aio.get_paginator("list_objects_v2").paginate(
            Bucket="parity", PaginationConfig={"PageSize": 2}
        )
    ]
    assert len(aio_pages) == 3
    assert comparable(aio_pages) == comparable(sync_pages)


async def test_dynamodb(make_client: Callable[..., Any], make_aio: Callable[..., Any]) -> None:
    ddb = make_client("dynamodb")
    aio = make_aio(ddb)
    await aio.create_table(
        TableName="tbl",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for i in range(10):
        await aio.put_item(
            TableName="tbl",
            Item={"pk": {"S": "a"}, "sk": {"N": str(i)}, "doc": {"M": {"n": {"N": str(i * 1.5)}}}},
        )
    key = {"pk": {"S": "a"}, "sk": {"N": "4"}}
    expected, actual = await both(ddb, aio, "get_item", TableName="tbl", Key=key)
    assert comparable(actual) == comparable(expected)
    assert actual["Item"]["doc"]["M"]["n"]["N"] == "6.0"
    expected, actual = await both(
        ddb,
        aio,
        "query",
        TableName="tbl",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "a"}},
    )
    assert comparable(actual) == comparable(expected)
    assert actual["Count"] == 10
    expected, actual = await both(ddb, aio, "scan", TableName="tbl")
    assert comparable(actual) == comparable(expected)


async def test_sts(make_client: Callable[..., Any], make_aio: Callable[..., Any]) -> None:
    sts = make_client("sts")
    aio = make_aio(sts)
    expected, actual = await both(sts, aio, "get_caller_identity")
    assert comparable(actual) == comparable(expected)
    assert actual["Account"] == "123456789012"


async def test_sqs(make_client: Callable[..., Any], make_aio: Callable[..., Any]) -> None:
    sqs = make_client("sqs")
    aio = make_aio(sqs)
    url = (await aio.create_queue(QueueName="jobs"))["QueueUrl"]
    assert url == sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
    sent = await aio.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 1}))
    got = await aio.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1)
    assert got["Messages"][0]["MessageId"] == sent["MessageId"]
    assert json.loads(got["Messages"][0]["Body"]) == {"n": 1}
    expected, actual = await both(sqs, aio, "list_queues")
    assert comparable(actual) == comparable(expected)


@pytest.mark.parametrize("bad", [{"Name": 5}, {}, {"Name": "/x", "Bogus": 1}])
async def test_param_validation_error(
    make_client: Callable[..., Any], make_aio: Callable[..., Any], bad: dict[str, Any]
) -> None:
    from botocore.exceptions import ParamValidationError

    ssm = make_client("ssm")
    aio = make_aio(ssm)
    with pytest.raises(ParamValidationError) as sync_error:
        ssm.get_parameter(**bad)
    with pytest.raises(ParamValidationError) as aio_error:
        await aio.get_parameter(**bad)
    assert str(aio_error.value) == str(sync_error.value)
