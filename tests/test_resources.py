"""Async resources against boto3's own, on the same moto server over HTTP.

Every scenario is written twice, as a boto3 user writes it and as an aioboto3
user writes it, and runs once each from a freshly reset server: the facts each
gathers (results, attribute values, collection contents, exceptions with
their messages) must be equal, under every engine.
"""

from __future__ import annotations

import asyncio
import http.client
import http.server
import inspect
import io
import json
import threading
import urllib.parse
import urllib.request
import zlib
from collections.abc import Awaitable, Iterator
from typing import Any, Callable

import boto3
import pytest
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

import aboto3
from examples import local_aws

from .conftest import REGION
from .looplag import LoopLag

ENGINES = ["threads", "native"] if "native" in aboto3.engines() else ["threads"]


def _reset(url: str) -> None:
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()


def _sync_resource(service: str, url: str) -> Any:
    config = {"s3": {"addressing_style": "path"}} if service == "s3" else {}
    return boto3.resource(
        service,
        region_name=REGION,
        endpoint_url=url,
        config=boto3.session.Config(**config),
    )


def _error(error: BaseException) -> tuple[str, str]:
    return type(error).__name__, str(error)


async def _compare(
    moto_url: str,
    engine: str,
    service: str,
    sync_scenario: Callable[[Any], dict[str, Any]],
    aio_scenario: Callable[[Any], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    _reset(moto_url)
    expected = sync_scenario(_sync_resource(service, moto_url))
    _reset(moto_url)
    async with aboto3.AIOResource(_sync_resource(service, moto_url), engine=engine) as resource:
        actual = await aio_scenario(resource)
    assert actual == expected
    return expected


TABLE = {
    "KeySchema": [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ],
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "N"},
    ],
    "BillingMode": "PAY_PER_REQUEST",
}


def sync_dynamodb(ddb: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    table = ddb.create_table(TableName="items", **TABLE)
    table.wait_until_exists()
    for name in ("other-a", "other-b"):
        ddb.create_table(TableName=name, **TABLE)
    facts["table"] = (repr(table), table.name, table.table_status, table.key_schema)
    with table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
        for i in range(60):
            batch.put_item(Item={"pk": "p", "sk": i % 55, "n": i, "b": i % 2 == 0})
        batch.delete_item(Key={"pk": "p", "sk": 3})
    table.put_item(Item={"pk": "q", "sk": 1, "nested": {"l": [1, "x", None], "s": {"a"}}})
    facts["get"] = table.get_item(Key={"pk": "q", "sk": 1})["Item"]
    query = table.query(KeyConditionExpression=Key("pk").eq("p") & Key("sk").between(10, 14))
    facts["query"] = query["Items"]
    facts["scan"] = sorted(
        (i["sk"], i["n"]) for i in table.scan(FilterExpression=Attr("b").eq(True))["Items"]
    )
    table.reload()
    facts["item_count"] = table.item_count
    facts["tables"] = [t.name for t in ddb.tables.all()]
    facts["tables_paged"] = [[t.name for t in page] for page in ddb.tables.page_size(1).pages()]
    facts["tables_limited"] = [t.name for t in ddb.tables.limit(2)]
    try:
        ddb.Table("missing").get_item(Key={"pk": "x", "sk": 1})
    except ClientError as error:
        facts["missing"] = _error(error)
    try:
        ddb.Table("missing").load()
    except ClientError as error:
        facts["missing_load"] = _error(error)
    table.delete()
    table.wait_until_not_exists()
    facts["after_delete"] = sorted(t.name for t in ddb.tables.all())
    return facts


async def aio_dynamodb(ddb: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    table = await ddb.create_table(TableName="items", **TABLE)
    await table.wait_until_exists()
    for name in ("other-a", "other-b"):
        await ddb.create_table(TableName=name, **TABLE)
    facts["table"] = (repr(table), table.name, await table.table_status, await table.key_schema)
    async with table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
        for i in range(60):
            await batch.put_item(Item={"pk": "p", "sk": i % 55, "n": i, "b": i % 2 == 0})
        await batch.delete_item(Key={"pk": "p", "sk": 3})
    await table.put_item(Item={"pk": "q", "sk": 1, "nested": {"l": [1, "x", None], "s": {"a"}}})
    facts["get"] = (await table.get_item(Key={"pk": "q", "sk": 1}))["Item"]
    query = await table.query(KeyConditionExpression=Key("pk").eq("p") & Key("sk").between(10, 14))
    facts["query"] = query["Items"]
    scanned = await table.scan(FilterExpression=Attr("b").eq(True))
    facts["scan"] = sorted((i["sk"], i["n"]) for i in scanned["Items"])
    await table.reload()
    facts["item_count"] = await table.item_count
    facts["tables"] = [t.name async for t in ddb.tables.all()]
    facts["tables_paged"] = [
        [t.name for t in page] async for page in ddb.tables.page_size(1).pages()
    ]
    facts["tables_limited"] = [t.name async for t in ddb.tables.limit(2)]
    missing = await ddb.Table("missing")
    try:
        await missing.get_item(Key={"pk": "x", "sk": 1})
    except ClientError as error:
        facts["missing"] = _error(error)
    try:
        await missing.load()
    except ClientError as error:
        facts["missing_load"] = _error(error)
    await table.delete()
    await table.wait_until_not_exists()
    facts["after_delete"] = sorted([t.name async for t in ddb.tables.all()])
    return facts


def sync_s3(s3: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    bucket = s3.create_bucket(Bucket="bucket")
    bucket.wait_until_exists()
    for i in range(7):
        bucket.put_object(Key=f"a/{i}", Body=b"x" * i, Metadata={"i": str(i)})
    bucket.Object("b/only").put(Body=b"b")
    obj = s3.Object("bucket", "a/3")
    obj.wait_until_exists()
    facts["object"] = (obj.content_length, obj.metadata, obj.e_tag, obj.get()["Body"].read())
    facts["keys"] = [o.key for o in bucket.objects.filter(Prefix="a/")]
    facts["sizes"] = [(o.key, o.size) for o in bucket.objects.page_size(2)]
    facts["pages"] = [[o.key for o in page] for page in bucket.objects.page_size(3).pages()]
    facts["limited"] = [o.key for o in bucket.objects.limit(4)]
    facts["summary_object"] = repr(next(iter(bucket.objects.limit(1))).Object())
    facts["buckets"] = [b.name for b in s3.buckets.all()]
    data = io.BytesIO()
    bucket.upload_fileobj(io.BytesIO(b"uploaded"), "up")
    s3.Object("bucket", "up").download_fileobj(data)
    facts["transfer"] = data.getvalue()
    try:
        s3.Object("bucket", "missing").load()
    except ClientError as error:
        facts["missing"] = _error(error)
    deleted = bucket.objects.filter(Prefix="a/").delete()
    facts["deleted"] = sorted(d["Key"] for response in deleted for d in response["Deleted"])
    facts["left"] = [o.key for o in bucket.objects.all()]
    return facts


async def aio_s3(s3: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    bucket = await s3.create_bucket(Bucket="bucket")
    await bucket.wait_until_exists()
    for i in range(7):
        await bucket.put_object(Key=f"a/{i}", Body=b"x" * i, Metadata={"i": str(i)})
    await (await bucket.Object("b/only")).put(Body=b"b")
    obj = await s3.Object("bucket", "a/3")
    await obj.wait_until_exists()
    body = (await obj.get())["Body"]
    facts["object"] = (
        await obj.content_length,
        await obj.metadata,
        await obj.e_tag,
        await body.read(),
    )
    facts["keys"] = [o.key async for o in bucket.objects.filter(Prefix="a/")]
    facts["sizes"] = [(o.key, await o.size) async for o in bucket.objects.page_size(2)]
    facts["pages"] = [[o.key for o in page] async for page in bucket.objects.page_size(3).pages()]
    facts["limited"] = [o.key async for o in bucket.objects.limit(4)]
    async for first in bucket.objects.limit(1):
        facts["summary_object"] = repr(await first.Object())
    facts["buckets"] = [b.name async for b in s3.buckets.all()]
    data = io.BytesIO()
    await bucket.upload_fileobj(io.BytesIO(b"uploaded"), "up")
    await (await s3.Object("bucket", "up")).download_fileobj(data)
    facts["transfer"] = data.getvalue()
    try:
        await (await s3.Object("bucket", "missing")).load()
    except ClientError as error:
        facts["missing"] = _error(error)
    deleted = await bucket.objects.filter(Prefix="a/").delete()
    facts["deleted"] = sorted(d["Key"] for response in deleted for d in response["Deleted"])
    facts["left"] = [o.key async for o in bucket.objects.all()]
    return facts


def sync_ec2(ec2: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")
    vpc.wait_until_available()
    subnet = vpc.create_subnet(CidrBlock="10.7.1.0/24")
    instances = ec2.create_instances(
        ImageId="ami-12c6146b", MinCount=7, MaxCount=7, InstanceType="t2.micro",
        SubnetId=subnet.id,
    )  # fmt: skip
    facts["created"] = [type(i).__name__ for i in instances]
    first = instances[0]
    first.wait_until_running()
    first.create_tags(Tags=[{"Key": "role", "Value": "web"}])
    first.reload()
    facts["first"] = (first.instance_type, first.state["Name"], first.tags, first.vpc.cidr_block)
    facts["subnet_of_first"] = first.subnet.cidr_block
    mine = ec2.instances.filter(Filters=[{"Name": "subnet-id", "Values": [subnet.id]}])
    facts["count"] = len(list(mine))
    facts["paged"] = [len(page) for page in mine.page_size(5).pages()]
    facts["vpc_subnets"] = [s.cidr_block for s in vpc.subnets.all()]
    stopped = mine.stop()
    facts["stopped"] = sorted(
        change["CurrentState"]["Name"] for r in stopped for change in r["StoppingInstances"]
    )
    first.delete_tags(Tags=[{"Key": "role"}])
    first.reload()
    facts["tags_after"] = first.tags
    try:
        ec2.Instance("i-00000000000000000").load()
    except Exception as error:
        facts["missing"] = _error(error)
    mine.terminate()
    return facts


async def aio_ec2(ec2: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    vpc = await ec2.create_vpc(CidrBlock="10.7.0.0/16")
    await vpc.wait_until_available()
    subnet = await vpc.create_subnet(CidrBlock="10.7.1.0/24")
    instances = await ec2.create_instances(
        ImageId="ami-12c6146b", MinCount=7, MaxCount=7, InstanceType="t2.micro",
        SubnetId=subnet.id,
    )  # fmt: skip
    facts["created"] = [type(i).__name__ for i in instances]
    first = instances[0]
    await first.wait_until_running()
    await first.create_tags(Tags=[{"Key": "role", "Value": "web"}])
    await first.reload()
    vpc_of_first = await first.vpc
    facts["first"] = (
        await first.instance_type,
        (await first.state)["Name"],
        await first.tags,
        await vpc_of_first.cidr_block,
    )
    facts["subnet_of_first"] = await (await first.subnet).cidr_block
    mine = ec2.instances.filter(Filters=[{"Name": "subnet-id", "Values": [subnet.id]}])
    facts["count"] = len([i async for i in mine])
    facts["paged"] = [len(page) async for page in mine.page_size(5).pages()]
    facts["vpc_subnets"] = [await s.cidr_block async for s in vpc.subnets.all()]
    stopped = await mine.stop()
    facts["stopped"] = sorted(
        change["CurrentState"]["Name"] for r in stopped for change in r["StoppingInstances"]
    )
    await first.delete_tags(Tags=[{"Key": "role"}])
    await first.reload()
    facts["tags_after"] = await first.tags
    try:
        await (await ec2.Instance("i-00000000000000000")).load()
    except Exception as error:
        facts["missing"] = _error(error)
    await mine.terminate()
    return facts


POLICY = (
    '{"Version": "2012-10-17", "Statement": '
    '[{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}'
)


def sync_iam(iam: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for i in range(5):
        iam.create_user(UserName=f"user{i}", Path="/team/")
    user = iam.User("user2")
    facts["user"] = (user.name, user.path, user.arn)
    group = iam.create_group(GroupName="devs")
    group.add_user(UserName="user2")
    facts["groups_of_user"] = [g.name for g in user.groups.all()]
    facts["users_of_group"] = [u.name for u in group.users.all()]
    facts["users"] = [u.name for u in iam.users.filter(PathPrefix="/team/")]
    facts["paged"] = [[u.name for u in p] for p in iam.users.page_size(2).pages()]
    facts["limited"] = [u.name for u in iam.users.limit(3)]
    policy = user.create_policy(PolicyName="p", PolicyDocument=POLICY)
    facts["policy"] = (policy.name, policy.user_name, policy.policy_document)
    facts["policies"] = [p.name for p in user.policies.all()]
    try:
        iam.User("nobody").load()
    except ClientError as error:
        facts["missing"] = _error(error)
    return facts


async def aio_iam(iam: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for i in range(5):
        await iam.create_user(UserName=f"user{i}", Path="/team/")
    user = await iam.User("user2")
    facts["user"] = (user.name, await user.path, await user.arn)
    group = await iam.create_group(GroupName="devs")
    await group.add_user(UserName="user2")
    facts["groups_of_user"] = [g.name async for g in user.groups.all()]
    facts["users_of_group"] = [u.name async for u in group.users.all()]
    facts["users"] = [u.name async for u in iam.users.filter(PathPrefix="/team/")]
    facts["paged"] = [[u.name for u in p] async for p in iam.users.page_size(2).pages()]
    facts["limited"] = [u.name async for u in iam.users.limit(3)]
    policy = await user.create_policy(PolicyName="p", PolicyDocument=POLICY)
    facts["policy"] = (policy.name, policy.user_name, await policy.policy_document)
    facts["policies"] = [p.name async for p in user.policies.all()]
    try:
        await (await iam.User("nobody")).load()
    except ClientError as error:
        facts["missing"] = _error(error)
    return facts


def sync_sqs(sqs: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    queue = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "31"})
    sqs.create_queue(QueueName="jobs-2")
    sqs.create_queue(QueueName="other")
    facts["queue"] = (queue.url.rsplit("/", 1)[-1], queue.attributes["VisibilityTimeout"])
    facts["queues"] = sorted(
        q.url.rsplit("/", 1)[-1] for q in sqs.queues.filter(QueueNamePrefix="jobs")
    )
    for i in range(3):
        queue.send_message(MessageBody=f"m{i}")
    messages = queue.receive_messages(MaxNumberOfMessages=10)
    facts["received"] = sorted((type(m).__name__, m.body) for m in messages)
    for message in messages:
        message.delete()
    facts["by_name"] = sqs.get_queue_by_name(QueueName="jobs").url == queue.url
    try:
        sqs.get_queue_by_name(QueueName="absent")
    except ClientError as error:
        facts["missing"] = _error(error)
    return facts


async def aio_sqs(sqs: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    queue = await sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "31"})
    await sqs.create_queue(QueueName="jobs-2")
    await sqs.create_queue(QueueName="other")
    facts["queue"] = (queue.url.rsplit("/", 1)[-1], (await queue.attributes)["VisibilityTimeout"])
    facts["queues"] = sorted(
        [q.url.rsplit("/", 1)[-1] async for q in sqs.queues.filter(QueueNamePrefix="jobs")]
    )
    for i in range(3):
        await queue.send_message(MessageBody=f"m{i}")
    messages = await queue.receive_messages(MaxNumberOfMessages=10)
    facts["received"] = sorted([(type(m).__name__, await m.body) for m in messages])
    for message in messages:
        await message.delete()
    facts["by_name"] = (await sqs.get_queue_by_name(QueueName="jobs")).url == queue.url
    try:
        await sqs.get_queue_by_name(QueueName="absent")
    except ClientError as error:
        facts["missing"] = _error(error)
    return facts


def sync_sns(sns: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    topic = sns.create_topic(Name="news")
    sns.create_topic(Name="alerts")
    facts["topic"] = (topic.arn.rsplit(":", 1)[-1], topic.attributes["DisplayName"])
    facts["published"] = sorted(topic.publish(Message="hi"))
    subscription = topic.subscribe(Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:123456789012:q")
    facts["subscription"] = subscription.attributes["Protocol"]
    facts["subscriptions"] = [s.arn == subscription.arn for s in topic.subscriptions.all()]
    facts["topics"] = sorted(t.arn.rsplit(":", 1)[-1] for t in sns.topics.all())
    subscription.delete()
    facts["after"] = len(list(topic.subscriptions.all()))
    return facts


async def aio_sns(sns: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    topic = await sns.create_topic(Name="news")
    await sns.create_topic(Name="alerts")
    facts["topic"] = (topic.arn.rsplit(":", 1)[-1], (await topic.attributes)["DisplayName"])
    facts["published"] = sorted(await topic.publish(Message="hi"))
    subscription = await topic.subscribe(
        Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:123456789012:q"
    )
    facts["subscription"] = (await subscription.attributes)["Protocol"]
    facts["subscriptions"] = [s.arn == subscription.arn async for s in topic.subscriptions.all()]
    facts["topics"] = sorted([t.arn.rsplit(":", 1)[-1] async for t in sns.topics.all()])
    await subscription.delete()
    facts["after"] = len([s async for s in topic.subscriptions.all()])
    return facts


TEMPLATE = '{"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q"}}}}'


def sync_cloudformation(cfn: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    stack = cfn.create_stack(StackName="app", TemplateBody=TEMPLATE)
    facts["stack"] = (stack.name, stack.stack_status)
    facts["resources"] = [(r.logical_id, r.resource_type) for r in stack.resource_summaries.all()]
    facts["stacks"] = [s.name for s in cfn.stacks.all()]
    resource = stack.Resource("Queue")
    facts["resource"] = (resource.logical_id, resource.resource_type)
    stack.delete()
    try:
        cfn.Stack("absent").load()
    except ClientError as error:
        facts["missing"] = _error(error)
    return facts


async def aio_cloudformation(cfn: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    stack = await cfn.create_stack(StackName="app", TemplateBody=TEMPLATE)
    facts["stack"] = (stack.name, await stack.stack_status)
    facts["resources"] = [
        (r.logical_id, await r.resource_type) async for r in stack.resource_summaries.all()
    ]
    facts["stacks"] = [s.name async for s in cfn.stacks.all()]
    resource = await stack.Resource("Queue")
    facts["resource"] = (resource.logical_id, await resource.resource_type)
    await stack.delete()
    try:
        await (await cfn.Stack("absent")).load()
    except ClientError as error:
        facts["missing"] = _error(error)
    return facts


def sync_cloudwatch(cw: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    metric = cw.Metric("App", "Latency")
    metric.put_data(MetricData=[{"MetricName": "Latency", "Value": 3.0}])
    facts["metrics"] = [(m.namespace, m.name) for m in cw.metrics.filter(Namespace="App")]
    for i in range(4):
        metric.put_alarm(
            AlarmName=f"slow-{i}", ComparisonOperator="GreaterThanThreshold", EvaluationPeriods=1,
            Period=60, Statistic="Average", Threshold=float(i),
        )  # fmt: skip
    alarm = cw.Alarm("slow-2")
    facts["alarm"] = (alarm.name, alarm.threshold, alarm.state_value, alarm.metric_name)
    facts["alarms"] = [a.name for a in cw.alarms.all()]
    facts["paged"] = [[a.name for a in p] for p in cw.alarms.page_size(3).pages()]
    cw.alarms.filter(AlarmNamePrefix="slow-").delete()
    facts["after"] = [a.name for a in cw.alarms.all()]
    return facts


async def aio_cloudwatch(cw: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    metric = await cw.Metric("App", "Latency")
    await metric.put_data(MetricData=[{"MetricName": "Latency", "Value": 3.0}])
    facts["metrics"] = [(m.namespace, m.name) async for m in cw.metrics.filter(Namespace="App")]
    for i in range(4):
        await metric.put_alarm(
            AlarmName=f"slow-{i}", ComparisonOperator="GreaterThanThreshold", EvaluationPeriods=1,
            Period=60, Statistic="Average", Threshold=float(i),
        )  # fmt: skip
    alarm = await cw.Alarm("slow-2")
    facts["alarm"] = (
        alarm.name,
        await alarm.threshold,
        await alarm.state_value,
        await alarm.metric_name,
    )
    facts["alarms"] = [a.name async for a in cw.alarms.all()]
    facts["paged"] = [[a.name for a in p] async for p in cw.alarms.page_size(3).pages()]
    await cw.alarms.filter(AlarmNamePrefix="slow-").delete()
    facts["after"] = [a.name async for a in cw.alarms.all()]
    return facts


def sync_glacier(glacier: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    vault = glacier.create_vault(vaultName="cold")
    glacier.create_vault(vaultName="colder")
    facts["vault"] = (vault.name, vault.vault_name, vault.number_of_archives)
    archive = vault.upload_archive(body=b"frozen")
    facts["archive"] = (type(archive).__name__, archive.vault_name)
    facts["vaults"] = [v.name for v in glacier.vaults.all()]
    try:
        glacier.Vault("-", "absent").load()
    except ClientError as error:
        facts["missing"] = _error(error)
    return facts


async def aio_glacier(glacier: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    vault = await glacier.create_vault(vaultName="cold")
    await glacier.create_vault(vaultName="colder")
    facts["vault"] = (vault.name, vault.vault_name, await vault.number_of_archives)
    archive = await vault.upload_archive(body=b"frozen")
    facts["archive"] = (type(archive).__name__, archive.vault_name)
    facts["vaults"] = [v.name async for v in glacier.vaults.all()]
    try:
        await (await glacier.Vault("-", "absent")).load()
    except ClientError as error:
        facts["missing"] = _error(error)
    return facts


SCENARIOS = {
    "dynamodb": (sync_dynamodb, aio_dynamodb),
    "s3": (sync_s3, aio_s3),
    "ec2": (sync_ec2, aio_ec2),
    "iam": (sync_iam, aio_iam),
    "sqs": (sync_sqs, aio_sqs),
    "sns": (sync_sns, aio_sns),
    "cloudformation": (sync_cloudformation, aio_cloudformation),
    "cloudwatch": (sync_cloudwatch, aio_cloudwatch),
    "glacier": (sync_glacier, aio_glacier),
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("service", list(SCENARIOS))
async def test_resource_like_boto3(moto_url: str, service: str, engine: str) -> None:
    sync_scenario, aio_scenario = SCENARIOS[service]
    facts = await _compare(moto_url, engine, service, sync_scenario, aio_scenario)
    assert facts  # the scenario gathered something to compare


# -- batch_writer with items the service leaves unprocessed ---------------------


class UnprocessedProxy:
    """Forwards to moto; of every BatchWriteItem of more than one item it
    sends on only the first half and answers the rest as ``UnprocessedItems``,
    as DynamoDB does when throttled. ``forwarded`` lists every item that
    reached moto, in order."""

    def __init__(self, upstream: str) -> None:
        self.forwarded: list[tuple[str, str]] = []
        self.trimmed = 0
        outer = self
        target = urllib.parse.urlsplit(upstream)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k: v for k, v in self.headers.items() if k.lower() != "content-length"}
                dropped: dict[str, list[Any]] = {}
                if "BatchWriteItem" in self.headers.get("X-Amz-Target", ""):
                    request = json.loads(body)
                    for table, items in request["RequestItems"].items():
                        keep = len(items) - len(items) // 2
                        if len(items) > 1:
                            dropped[table] = items[keep:]
                            request["RequestItems"][table] = items[:keep]
                            outer.trimmed += 1
                        for item in request["RequestItems"][table]:
                            key = (item.get("PutRequest") or {}).get("Item") or item[
                                "DeleteRequest"
                            ]["Key"]
                            outer.forwarded.append((key["pk"]["S"], key["sk"]["N"]))
                    body = json.dumps(request).encode()
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                connection.request("POST", self.path, body, headers)
                answer = connection.getresponse()
                data = answer.read()
                if dropped:
                    parsed = json.loads(data)
                    parsed["UnprocessedItems"] = dropped
                    data = json.dumps(parsed).encode()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("content-length", "x-amz-crc32", "connection"):
                        self.send_header(name, value)
                self.send_header("x-amz-crc32", str(zlib.crc32(data) & 0xFFFFFFFF))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                connection.close()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@pytest.fixture
def unprocessed_proxy(moto_url: str) -> Iterator[UnprocessedProxy]:
    proxy = UnprocessedProxy(moto_url)
    yield proxy
    proxy.close()


def _items_table(url: str, name: str) -> Any:
    ddb = _sync_resource("dynamodb", url)
    table = ddb.create_table(TableName=name, **TABLE)
    table.wait_until_exists()
    return table


def _stored(table: Any) -> list[tuple[str, int]]:
    return sorted((i["pk"], int(i["sk"])) for i in table.scan(ConsistentRead=True)["Items"])


@pytest.mark.parametrize("engine", ENGINES)
async def test_batch_writer_resends_unprocessed_items_once_each(
    moto_url: str, unprocessed_proxy: UnprocessedProxy, engine: str
) -> None:
    _items_table(moto_url, "sync-items")
    sync_table = _sync_resource("dynamodb", unprocessed_proxy.url).Table("sync-items")
    with sync_table.batch_writer() as batch:
        for i in range(70):
            batch.put_item(Item={"pk": "p", "sk": i})
    sync_forwarded = list(unprocessed_proxy.forwarded)
    unprocessed_proxy.forwarded.clear()

    table = _items_table(moto_url, "aio-items")
    async with aboto3.AIOResource(
        _sync_resource("dynamodb", unprocessed_proxy.url), engine=engine
    ) as ddb:
        aio_table = await ddb.Table("aio-items")
        async with aio_table.batch_writer() as batch:
            for i in range(70):
                await batch.put_item(Item={"pk": "p", "sk": i})
    assert unprocessed_proxy.trimmed > 3  # the proxy did leave items unprocessed
    # Every item reached the service exactly once, in the order boto3 sends them.
    assert sorted(unprocessed_proxy.forwarded, key=lambda k: int(k[1])) == [
        ("p", str(i)) for i in range(70)
    ]
    assert unprocessed_proxy.forwarded == sync_forwarded
    assert _stored(table) == [("p", i) for i in range(70)]


@pytest.mark.parametrize("engine", ENGINES)
async def test_batch_writer_sends_buffered_items_when_the_block_raises(
    moto_url: str, engine: str
) -> None:
    table = _items_table(moto_url, "items")
    async with aboto3.AIOResource(_sync_resource("dynamodb", moto_url), engine=engine) as ddb:
        aio_table = await ddb.Table("items")
        with pytest.raises(KeyError, match="in the block"):
            async with aio_table.batch_writer() as batch:
                for i in range(37):  # one batch of 25 sent, 12 still buffered
                    await batch.put_item(Item={"pk": "p", "sk": i})
                raise KeyError("in the block")
    assert _stored(table) == [("p", i) for i in range(37)]


@pytest.mark.parametrize("engine", ENGINES)
async def test_batch_writer_tasks_writing_at_once_lose_nothing(moto_url: str, engine: str) -> None:
    table = _items_table(moto_url, "items")
    async with aboto3.AIOResource(_sync_resource("dynamodb", moto_url), engine=engine) as ddb:
        aio_table = await ddb.Table("items")
        async with aio_table.batch_writer(flush_amount=10) as batch:
            await asyncio.gather(
                *(
                    batch.put_item(Item={"pk": f"t{t}", "sk": i})
                    for t in range(4)
                    for i in range(30)
                )
            )
    assert len(_stored(table)) == 120


# -- the loop stays free ----------------------------------------------------------


# A call made on the loop thread would hold it for the server's whole latency;
# the bound sits well below that, and well above what a loaded machine's CPU
# contention adds to the loop's own work (up to 77 ms seen beside two burners).
SLOW_MS = 250
LAG_LIMIT = 0.15


@pytest.fixture(scope="module")
def slow_moto() -> Iterator[str]:
    """A moto server SLOW_MS away."""
    with local_aws.moto_server(latency_ms=SLOW_MS) as url:
        yield url


@pytest.mark.parametrize("engine", ENGINES)
async def test_loads_collections_and_batch_writes_never_block_the_loop(
    slow_moto: str, engine: str
) -> None:
    _reset(slow_moto)
    table = _items_table(slow_moto, "items")
    s3 = _sync_resource("s3", slow_moto)
    bucket = s3.create_bucket(Bucket="lag")
    for i in range(6):
        bucket.put_object(Key=f"k{i}", Body=b"x")
    ddb = aboto3.AIOResource(_sync_resource("dynamodb", slow_moto), engine=engine)
    aio_s3 = aboto3.AIOResource(s3, engine=engine)
    async with LoopLag(limit=LAG_LIMIT):
        aio_table = await ddb.Table("items")
        assert await aio_table.item_count == 0  # a load
        async with aio_table.batch_writer() as batch:
            for i in range(30):
                await batch.put_item(Item={"pk": "p", "sk": i})
        aio_bucket = await aio_s3.Bucket("lag")
        keys = [o.key async for o in aio_bucket.objects.page_size(2)]  # three pages
        obj = await aio_s3.Object("lag", "k1")
        size = await obj.content_length  # a load
        await aio_bucket.objects.filter(Prefix="k").delete()  # a batch action
    await ddb.close()
    await aio_s3.close()
    assert keys == [f"k{i}" for i in range(6)] and size == 1
    assert len(_stored(table)) == 30


# -- every resource model, and misuse ---------------------------------------------


def _reachable_resources(service: str) -> list[Any]:
    """The service resource, and every resource type its 'has' relations reach,
    built with placeholder identifiers (nothing is sent)."""
    root = boto3.resource(service, region_name=REGION, endpoint_url="http://aws.invalid")
    found, queue = [root], [root]
    seen = {type(root).__name__}
    while queue:
        parent = queue.pop()
        for sub in parent.meta.resource_model.subresources:
            if type(parent).__name__ != f"{service}.ServiceResource" and any(
                i.source == "data" for i in sub.resource.identifiers
            ):
                continue  # would load its parent
            ids = [f"x{n}" for n, _ in enumerate(sub.resource.model.identifiers)]
            given = ids[: len(ids) - sum(i.source != "input" for i in sub.resource.identifiers)]
            try:
                child = getattr(parent, sub.name)(*given)
            except Exception:
                continue
            if type(child).__name__ not in seen:
                seen.add(type(child).__name__)
                found.append(child)
                queue.append(child)
    return found


@pytest.mark.parametrize("service", boto3.session.Session().get_available_resources())
async def test_every_member_of_every_resource_is_of_its_kind(service: str) -> None:
    # Walks every resource class the installed boto3 builds for the service:
    # identifiers read as in boto3; attributes and references are awaitables;
    # collections, waiters and actions are what their kind says. Nothing is
    # awaited, so nothing is sent.
    for sync in _reachable_resources(service):
        aio = aboto3.AIOResource(sync)
        model = sync.meta.resource_model
        assert repr(aio) == repr(sync) and aio == aboto3.AIOResource(sync)
        assert type(aio).__name__ == type(sync).__name__
        for name in sync.meta.identifiers:
            assert getattr(aio, name) == getattr(sync, name)
        shape = model.shape and sync.meta.client.meta.service_model.shape_for(model.shape)
        attributes = list(model.get_attributes(shape)) if shape else []
        aliases = {i.member_name for i in model.identifiers}  # read the identifier
        for name in aliases - {None}:
            if hasattr(type(sync), name):
                assert getattr(aio, name) == getattr(sync, name)
            else:  # renamed away by boto3: neither has it
                assert not hasattr(aio, name)
        for name in [*attributes, *(r.name for r in model.references)]:
            if name in sync.meta.identifiers or name in aliases:
                continue
            value = getattr(aio, name)
            assert inspect.iscoroutine(value), (type(sync).__name__, name)
            value.close()
        for collection in model.collections:
            assert isinstance(getattr(aio, collection.name), aboto3.AIOCollection)
        members = [*model.actions, *model.waiters, *model.subresources]
        for member in members:
            assert inspect.iscoroutinefunction(getattr(aio, member.name)), member.name
        if model.load:
            assert inspect.iscoroutinefunction(aio.load)
        assert aio.get_available_subresources() == sync.get_available_subresources()
        assert aio.meta.client.client is sync.meta.client
        assert aio.meta.data is sync.meta.data


async def test_misuse_gets_a_clear_error(moto_url: str) -> None:
    with pytest.raises(TypeError, match="needs a boto3 resource"):
        aboto3.AIOResource(boto3.client("s3", region_name=REGION))  # type: ignore[arg-type]
    s3 = aboto3.AIOResource(_sync_resource("s3", moto_url))
    with pytest.raises(AttributeError):
        s3.no_such_member  # noqa: B018
    bucket = await s3.Bucket("b")
    await s3.close()
    with pytest.raises(RuntimeError, match="closed"):
        await bucket.create()


def test_the_client_options_reach_the_resources_client(moto_url: str) -> None:
    sync = _sync_resource("s3", moto_url)
    aio = aboto3.AIOResource(sync, fast_signing=False, fast_parsing=False, fast_serializing=False)
    client = aio.meta.client
    assert not (client.fast_signing or client.fast_parsing or client.fast_serializing)
    assert aboto3.AIOResource(_sync_resource("s3", moto_url)).meta.client.fast_parsing


def test_awaiting_a_resource_member_without_a_loop_says_so(moto_url: str) -> None:
    table = aboto3.AIOResource(_sync_resource("dynamodb", moto_url)).Table("t")
    with pytest.raises(RuntimeError, match="running asyncio event loop"):
        table.send(None)  # what awaiting outside a loop comes down to
