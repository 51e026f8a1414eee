"""Test set-up: the function's environment, in-memory AWS resources made from infra/template.yaml, real-shaped events."""

from __future__ import annotations

import io
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

# The environment the CloudFormation template gives the code, set before the code is imported.
os.environ.update(
    {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_SERVICE_NAME": "{{ cookiecutter.service }}",
        "POWERTOOLS_METRICS_NAMESPACE": "msgen/{{ cookiecutter.service }}/test",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "CORRELATION_HEADER": "{{ cookiecutter._msgen.correlation_header }}",
{%- if cookiecutter._msgen.email %}
        "EMAIL_SENDER": "{{ cookiecutter._msgen.email.sender }}",
{%- endif %}
    }
)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

import storage  # noqa: E402
from observability import logger  # noqa: E402

TEMPLATE = yaml.safe_load((Path(__file__).resolve().parents[1] / "infra" / "template.yaml").read_text(encoding="utf-8"))
RESOURCES = TEMPLATE["Resources"]


def template_references() -> dict[str, str]:
    """Environment variables that point at the template's own resources ({"Ref": ...}): name -> logical id."""
    found: dict[str, str] = {}
    for resource in RESOURCES.values():
        properties = resource.get("Properties", {})
        variables = dict((properties.get("Environment") or {}).get("Variables") or {})  # Lambda functions
        for container in properties.get("ContainerDefinitions", []):  # ECS task definitions
            variables.update({pair["Name"]: pair["Value"] for pair in container.get("Environment", [])})
        for name, value in variables.items():
            if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in RESOURCES:
                found[name] = value["Ref"]
    return found


def create_table(logical_id: str, properties: dict[str, Any]) -> str:
    """The table with the template's keys, indexes and time to live."""
    client = boto3.client("dynamodb")
    indexes = {
        kind: [{k: index[k] for k in ("IndexName", "KeySchema", "Projection")} for index in properties[kind]]
        for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes")
        if properties.get(kind)
    }
    client.create_table(
        TableName=logical_id,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=properties["KeySchema"],
        AttributeDefinitions=properties["AttributeDefinitions"],
        **indexes,
    )
    if properties.get("TimeToLiveSpecification"):
        client.update_time_to_live(TableName=logical_id, TimeToLiveSpecification=properties["TimeToLiveSpecification"])
    return logical_id


def create_bucket(logical_id: str, properties: dict[str, Any]) -> str:
    """The bucket, versioned when the template's is."""
    client, name = boto3.client("s3"), f"{logical_id.lower()}-test"
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    if properties.get("VersioningConfiguration"):
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration=properties["VersioningConfiguration"])
    return name


def create_queue(logical_id: str, properties: dict[str, Any]) -> str:
    """The queue with the template's plain settings; the variable holds its URL."""
    settings = ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds")
    attributes = {k: str(properties[k]) for k in settings if isinstance(properties.get(k), int)}
    return boto3.client("sqs").create_queue(QueueName=logical_id, Attributes=attributes)["QueueUrl"]


def create_topic(logical_id: str, properties: dict[str, Any]) -> str:
    return boto3.client("sns").create_topic(Name=logical_id)["TopicArn"]


def create_state_machine(logical_id: str, properties: dict[str, Any]) -> str:
    """A stand-in that succeeds at once: the tests check that the code starts workflows, not what they do."""
    return boto3.client("stepfunctions").create_state_machine(
        name=logical_id,
        roleArn="arn:aws:iam::123456789012:role/workflow",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
    )["stateMachineArn"]


CREATE = {
    "AWS::DynamoDB::Table": create_table,
    "AWS::S3::Bucket": create_bucket,
    "AWS::SQS::Queue": create_queue,
    "AWS::SNS::Topic": create_topic,
    "AWS::StepFunctions::StateMachine": create_state_machine,
}


@pytest.fixture(autouse=True)
def aws(monkeypatch):
    """Every test runs against in-memory AWS: each resource the code is given, as infra/template.yaml declares it."""
    with mock_aws():
        for variable, logical_id in sorted(template_references().items()):
            resource = RESOURCES[logical_id]
            if resource["Type"] in CREATE:
                monkeypatch.setenv(variable, CREATE[resource["Type"]](logical_id, resource.get("Properties", {})))
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


@pytest.fixture
def lambda_context() -> FakeContext:
    return FakeContext()


def api_event(
    method: str,
    resource: str,
    path_params: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    request_id: str | None = None,
{%- if cookiecutter._msgen.cognito %}
    user: str | None = "test-user",
{%- endif %}
) -> dict[str, Any]:
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
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_params or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
{%- if cookiecutter._msgen.cognito %}
            # What API Gateway's Cognito authorizer passes on: the signed-in user's claims.
            "authorizer": {"claims": {"sub": user, "token_use": "id"}} if user else None,
{%- endif %}
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
def call(lambda_context):
    """Invoke the API function with an API Gateway event (see api_event); returns the proxy response."""
    import app

    def invoke(method: str, resource: str, **kwargs: Any) -> dict[str, Any]:
        return app.lambda_handler(api_event(method, resource, **kwargs), lambda_context)

    return invoke


@pytest.fixture
def header():
    """A response header, whichever of headers/multiValueHeaders carries it: header(response, name)."""

    def find(response: dict[str, Any], name: str) -> str | None:
        for key, value in (response.get("multiValueHeaders") or {}).items():
            if key.lower() == name.lower():
                return value[0]
        for key, value in (response.get("headers") or {}).items():
            if key.lower() == name.lower():
                return value
        return None

    return find


@pytest.fixture
def log_lines():
    """The JSON log lines the code writes during a test."""
    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    logger.registered_handler.setStream(previous)


@pytest.fixture
def sqs_event():
    """An SQS event as Lambda's event source mapping delivers it: sqs_event(*bodies, correlation_id=None)."""

    def make(*bodies: str, correlation_id: str | None = None) -> dict[str, Any]:
        records = []
        for i, body in enumerate(bodies):
            attribute = {"stringValue": correlation_id, "dataType": "String"}
            attributes = {"correlation_id": attribute} if correlation_id else {}
            record = {
                "messageId": f"00000000-0000-4000-8000-00000000000{i}",
                "receiptHandle": f"handle-{i}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"},
                "messageAttributes": attributes,
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:queue",
                "awsRegion": "eu-west-1",
            }
            records.append(record)
        return {"Records": records}

    return make
