"""Test set-up: the function's environment, moto-backed tables and buckets, and real-shaped API Gateway events."""

from __future__ import annotations

import io
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

# The environment the CloudFormation template gives the function, set before the code is imported.
os.environ.update({
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "POWERTOOLS_SERVICE_NAME": "{{ cookiecutter.service }}",
    "POWERTOOLS_METRICS_NAMESPACE": "msgen/{{ cookiecutter.service }}/test",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "CORRELATION_HEADER": "{{ cookiecutter._msgen.correlation_header }}",
{%- for t in cookiecutter._msgen.tables %}
    "{{ t.env }}": "{{ cookiecutter.service }}-{{ t.name }}-test",
{%- endfor %}
{%- for b in cookiecutter._msgen.buckets %}
    "{{ b.env }}": "{{ cookiecutter.service }}-{{ b.name }}-test",
{%- endfor %}
{%- if cookiecutter._msgen.email %}
    "EMAIL_SENDER": "{{ cookiecutter._msgen.email.sender }}",
{%- endif %}
})

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

import app  # noqa: E402
import storage  # noqa: E402
from observability import logger  # noqa: E402

TABLES = [
{%- for t in cookiecutter._msgen.tables %}
    {
        "env": "{{ t.env }}",
        "partition_key": {"name": "{{ t.partition_key.name }}", "type": "{{ t.partition_key.type }}"},
        "sort_key": {% if t.sort_key %}{"name": "{{ t.sort_key.name }}", "type": "{{ t.sort_key.type }}"}{% else %}None{% endif %},
    },
{%- endfor %}
]
BUCKETS = [{% for b in cookiecutter._msgen.buckets %}"{{ b.env }}"{% if not loop.last %}, {% endif %}{% endfor %}]
QUEUES = {{ '{' }}{% for q in cookiecutter._msgen.queues %}"{{ q.name }}": "{{ q.env }}"{% if not loop.last %}, {% endif %}{% endfor %}{{ '}' }}
TOPICS = [{% for t in cookiecutter._msgen.topics %}"{{ t.env }}"{% if not loop.last %}, {% endif %}{% endfor %}]
WORKFLOWS = [{% for w in cookiecutter._msgen.workflows %}"{{ w.env }}"{% if not loop.last %}, {% endif %}{% endfor %}]
HEADER = "{{ cookiecutter._msgen.correlation_header }}"


@pytest.fixture(autouse=True)
def aws():
    """Every test runs against in-memory DynamoDB tables and S3 buckets shaped like the real ones."""
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        for table in TABLES:
            keys = [(table["partition_key"], "HASH")] + ([(table["sort_key"], "RANGE")] if table["sort_key"] else [])
            dynamodb.create_table(
                TableName=os.environ[table["env"]],
                BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": k["name"], "KeyType": kind} for k, kind in keys],
                AttributeDefinitions=[{"AttributeName": k["name"], "AttributeType": k["type"]} for k, _ in keys],
            )
        s3 = boto3.client("s3")
        for env in BUCKETS:
            s3.create_bucket(Bucket=os.environ[env], CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        sqs = boto3.client("sqs")
        for name, env in QUEUES.items():
            os.environ[env] = sqs.create_queue(QueueName=f"{{ cookiecutter.service }}-{name}-test")["QueueUrl"]
        sns = boto3.client("sns")
        for env in TOPICS:
            os.environ[env] = sns.create_topic(Name=env.lower().replace("_", "-"))["TopicArn"]
        states = boto3.client("stepfunctions")
        for env in WORKFLOWS:  # stand-ins: the tests check that the code starts them, not what they do
            os.environ[env] = states.create_state_machine(
                name=env.lower().replace("_", "-"), roleArn="arn:aws:iam::123456789012:role/workflow",
                definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
            )["stateMachineArn"]
{%- if cookiecutter._msgen.email %}
        boto3.client("ses").verify_domain_identity(Domain="{{ cookiecutter._msgen.email.domain }}")
{%- endif %}
        storage.clear_caches()
        yield


@dataclass
class FakeContext:
    """The parts of Lambda's context object that Powertools reads."""

    function_name: str = "{{ cookiecutter.service }}-api"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:{{ cookiecutter.service }}-api"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"


def api_event(method: str, resource: str, path_params: dict[str, str] | None = None, body: Any = None,
              headers: dict[str, str] | None = None, request_id: str | None = None) -> dict[str, Any]:
    """An API Gateway REST (v1) Lambda proxy event, as the stage 'api' sends it."""
    path_params = path_params or {}
    path = resource
    for name, value in path_params.items():
        path = path.replace("{" + name + "}", value).replace("{" + name + "+}", value)
    headers = {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "Host": "abc123.execute-api.eu-west-1.amazonaws.com",
        "User-Agent": "pytest",
        **(headers or {}),
    }
    request_id = request_id or str(uuid.uuid4())
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_params or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "extendedRequestId": "ABCdefGHIjkl=",
            "httpMethod": method,
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "pytest"},
            "path": f"/api{path}",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTimeEpoch": 1700000000000,
            "resourcePath": resource,
            "stage": "api",
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


@pytest.fixture
def call():
    """Invoke the function with an API Gateway event; returns the proxy response."""

    def invoke(method: str, resource: str, **kwargs: Any) -> dict[str, Any]:
        return app.lambda_handler(api_event(method, resource, **kwargs), FakeContext())

    return invoke


@pytest.fixture
def log_lines():
    """The JSON log lines the function writes during a test."""
    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    logger.registered_handler.setStream(previous)


def sqs_event(*bodies: str, correlation_id: str | None = None) -> dict[str, Any]:
    """An SQS event as Lambda's event source mapping delivers it."""
    records = []
    for i, body in enumerate(bodies):
        attributes = {"correlation_id": {"stringValue": correlation_id, "dataType": "String"}} if correlation_id else {}
        records.append({
            "messageId": f"00000000-0000-4000-8000-00000000000{i}",
            "receiptHandle": f"handle-{i}",
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"},
            "messageAttributes": attributes,
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:queue",
            "awsRegion": "eu-west-1",
        })
    return {"Records": records}


def header(response: dict[str, Any], name: str) -> str | None:
    """A response header, whichever of headers/multiValueHeaders carries it."""
    for key, value in (response.get("multiValueHeaders") or {}).items():
        if key.lower() == name.lower():
            return value[0]
    for key, value in (response.get("headers") or {}).items():
        if key.lower() == name.lower():
            return value
    return None
