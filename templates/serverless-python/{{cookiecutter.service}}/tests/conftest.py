{%- set collections = cookiecutter._msgen.collections -%}
{%- set database = cookiecutter._msgen.container and cookiecutter._msgen.container.database -%}
"""Test set-up: the function's environment, in-memory AWS resources made from infra/{{ cookiecutter._msgen.environments[0] }}/template.yaml, real-shaped events."""

from __future__ import annotations

{% if collections %}import hashlib
{% endif %}import io
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
{%- if collections %}
from urllib.parse import unquote, urlsplit
{%- elif cookiecutter._msgen.callees %}
from urllib.parse import urlsplit
{%- endif %}

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
        "CORRELATION_HEADER": "{{ cookiecutter._msgen.correlation_header }}",
{%- if cookiecutter._msgen.email %}
        "EMAIL_SENDER": "{{ cookiecutter._msgen.email.sender }}",
{%- endif %}
    }
)
{%- if cookiecutter._msgen.callees or cookiecutter._msgen.emits %}
# The fleet: the other services' base URLs (read from SSM when the stack is deployed) and the fleet's event bus.
os.environ.update(
    {
{%- for callee in cookiecutter._msgen.callees %}
        "{{ callee.env }}": "https://{{ callee.service }}.execute-api.eu-west-1.amazonaws.com/api",
{%- endfor %}
{%- if cookiecutter._msgen.emits %}
        "EVENT_BUS_NAME": "shop-test",
        "EVENT_BUS_SOURCE": "{{ cookiecutter.service }}",
{%- endif %}
    }
)
{%- endif %}

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

{% if collections %}import search  # noqa: E402
{% endif %}import storage  # noqa: E402
from observability import logger  # noqa: E402

# The first environment's template: the resources the code is given and their keys are the same in every environment.
TEMPLATE_PATH = Path(__file__).resolve().parents[1] / "infra" / "{{ cookiecutter._msgen.environments[0] }}" / "template.yaml"
TEMPLATE = yaml.safe_load(TEMPLATE_PATH.read_text(encoding="utf-8"))
RESOURCES = TEMPLATE["Resources"]


def template_references() -> dict[str, tuple[str, str | None]]:
    """Environment variables that point at the template's own resources: name -> (logical id, attribute; None for a Ref)."""
    found: dict[str, tuple[str, str | None]] = {}
    for resource in RESOURCES.values():
        properties = resource.get("Properties", {})
        variables = dict((properties.get("Environment") or {}).get("Variables") or {})  # Lambda functions
        for container in properties.get("ContainerDefinitions", []):  # ECS task definitions
            variables.update({pair["Name"]: pair["Value"] for pair in container.get("Environment", [])})
        for name, value in variables.items():
            if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in RESOURCES:
                found[name] = (value["Ref"], None)
            elif isinstance(value, dict) and set(value) == {"Fn::GetAtt"} and value["Fn::GetAtt"][0] in RESOURCES:
                found[name] = (value["Fn::GetAtt"][0], value["Fn::GetAtt"][1])
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


def collection_endpoint(logical_id: str, properties: dict[str, Any]) -> str:
    """A search collection's endpoint (its CollectionEndpoint); the search_service fixture answers what is sent to it."""
    return f"https://{logical_id.lower()}.eu-west-1.aoss.amazonaws.com"


# What a variable holds, by the resource's type and the attribute it refers to (None: a Ref).
CREATE = {
    ("AWS::DynamoDB::Table", None): create_table,
    ("AWS::S3::Bucket", None): create_bucket,
    ("AWS::SQS::Queue", None): create_queue,
    ("AWS::SNS::Topic", None): create_topic,
    ("AWS::StepFunctions::StateMachine", None): create_state_machine,
    ("AWS::OpenSearchServerless::Collection", "CollectionEndpoint"): collection_endpoint,
}


@pytest.fixture(autouse=True)
def aws(monkeypatch):
    """Every test runs against in-memory AWS: each resource the code is given, as the template declares it."""
    with mock_aws():
        for variable, (logical_id, attribute) in sorted(template_references().items()):
            resource = RESOURCES[logical_id]
            make = CREATE.get((resource["Type"], attribute))
            if make:
                monkeypatch.setenv(variable, make(logical_id, resource.get("Properties", {})))
{%- if cookiecutter._msgen.email %}
        boto3.client("ses").verify_domain_identity(Domain="{{ cookiecutter._msgen.email.domain }}")
{%- endif %}
        storage.clear_caches()
        yield
{%- if collections or cookiecutter._msgen.callees %}


def assert_sigv4(
    headers: dict[str, str], service: str, correlation_id: str, also: tuple[str, ...] = ()
) -> dict[str, str]:
    """A request signed with SigV4 for SERVICE in the tests' Region, the correlation id (and ALSO) among the signed
    headers and carrying CORRELATION_ID; its headers, names in lower case."""
    import correlation

    lowered = {name.lower(): value for name, value in headers.items()}
    authorization = lowered["authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential="), authorization
    assert f"/eu-west-1/{service}/aws4_request" in authorization, authorization
    signed = authorization.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")
    assert {"host", "x-amz-date", *also, correlation.HEADER.lower()} <= set(signed), signed
    assert lowered[correlation.HEADER.lower()] == correlation_id
    return lowered
{%- endif %}
{%- if collections %}


@dataclass
class SentRequest:
    """A request the code sent to a search collection, as the collection received it."""

    method: str
    url: str
    host: str
    path: str  # decoded: /products/_doc/p-1
    headers: dict[str, str]
    raw: bytes
    body: Any


def error(kind: str, reason: str) -> dict[str, Any]:
    """An OpenSearch error body."""
    return {"error": {"type": kind, "reason": reason}}


class FakeCollections:
    """OpenSearch Serverless for the tests: each request is kept and answered from memory; nothing goes to the network.

    Enough of the API for the generated code: create an index, index (PUT or POST _doc) and delete documents, and
    _search (every word of a simple query must occur in the document)."""

    def __init__(self) -> None:
        self.requests: list[SentRequest] = []
        self.indexes: dict[tuple[str, str], dict[str, Any]] = {}  # (endpoint host, index) -> documents by id

    def send(self, request) -> tuple[int, bytes]:
        url = urlsplit(request.url)
        segments = [unquote(part) for part in url.path.strip("/").split("/")]
        raw, path, headers = request.body or b"", "/" + "/".join(segments), dict(request.headers.items())
        body = json.loads(raw) if raw else None
        sent = SentRequest(request.method, request.url, url.hostname or "", path, headers, raw, body)
        self.requests.append(sent)
        status, answer = self.answer(sent, segments)
        return status, json.dumps(answer).encode()

    def answer(self, sent: SentRequest, segments: list[str]) -> tuple[int, dict[str, Any]]:
        method, index, host = sent.method, segments[0], sent.host
        if method == "PUT" and len(segments) == 1:
            if (host, index) in self.indexes:
                return 400, error("resource_already_exists_exception", f"index [{index}] already exists")
            self.indexes[(host, index)] = {}
            return 200, {"acknowledged": True, "index": index}
        if segments[1:2] == ["_doc"] and method in ("PUT", "POST"):
            documents = self.indexes.setdefault((host, index), {})  # indexing a document creates its index
            doc_id = segments[2] if len(segments) > 2 else uuid.uuid4().hex
            result = "updated" if doc_id in documents else "created"
            documents[doc_id] = sent.body
            return (200 if result == "updated" else 201), {"_index": index, "_id": doc_id, "result": result}
        if segments[1:2] == ["_doc"] and method == "DELETE":
            documents = self.indexes.get((host, index), {})
            if documents.pop(segments[2], None) is None:
                return 404, {"_index": index, "_id": segments[2], "result": "not_found"}
            return 200, {"_index": index, "_id": segments[2], "result": "deleted"}
        if segments[1:] == ["_search"] and method == "POST":
            names = index.split(",")
            if not any((host, name) in self.indexes for name in names):
                return 404, error("index_not_found_exception", f"no such index [{index}]")
            words = sent.body["query"].get("simple_query_string", {}).get("query", "").lower().split()
            hits = []
            for name in names:
                for doc_id, document in self.indexes.get((host, name), {}).items():
                    if all(word in json.dumps(document).lower() for word in words):
                        hits.append({"_index": name, "_id": doc_id, "_score": 1.0, "_source": document})
            hits = hits[: sent.body.get("size", 10)]
            return 200, {"hits": {"total": {"value": len(hits), "relation": "eq"}, "hits": hits}}
        return 400, error("illegal_argument_exception", f"{method} {sent.path} is not simulated here")

    def sent(self, collection: str, method: str, path: str) -> list[SentRequest]:
        """The requests sent to collection ``collection`` (as named in service.yaml) with this method and decoded path."""
        host = urlsplit(os.environ[f"SEARCH_{collection.upper().replace('-', '_')}"]).hostname
        return [r for r in self.requests if r.host == host and r.method == method and r.path == path]

    @staticmethod
    def assert_signed(sent: SentRequest, correlation_id: str) -> None:
        """Signed with SigV4 for OpenSearch Serverless (service "aoss"), the payload's hash and the correlation id signed too."""
        headers = assert_sigv4(sent.headers, "aoss", correlation_id, also=("x-amz-content-sha256",))
        assert headers["x-amz-content-sha256"] == hashlib.sha256(sent.raw).hexdigest()


@pytest.fixture(autouse=True)
def search_service(monkeypatch) -> FakeCollections:
    """The search collections, simulated: search.send (the helper's only network call) goes here in every test."""
    fake = FakeCollections()
    monkeypatch.setattr(search, "send", fake.send)
    return fake
{%- endif %}
{%- if database %}


class FakeConnection:
    """What the code uses of a psycopg connection: a context manager that executes statements."""

    def __init__(self, statements: list[str]) -> None:
        self.statements = statements

    def __enter__(self) -> FakeConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def execute(self, query: str, params: Any = None) -> FakeConnection:
        self.statements.append(query)
        return self

    def fetchone(self) -> tuple[int]:
        return (1,)


class FakeDatabase:
    """psycopg.connect for the tests (there is no database here): the settings of each connection, the statements run."""

    def __init__(self) -> None:
        self.connections: list[dict[str, Any]] = []
        self.statements: list[str] = []
        self.error: Exception | None = None  # raised by connect when set

    def connect(self, **settings: Any) -> FakeConnection:
        if self.error is not None:
            raise self.error
        self.connections.append(settings)
        return FakeConnection(self.statements)


@pytest.fixture
def database(monkeypatch) -> FakeDatabase:
    """The task's DB_* variables as the template sets them (the cluster's address made up), and a fake psycopg.connect."""
    import psycopg

    address = "db.cluster-abc.eu-west-1.rds.amazonaws.com"
    (task,) = [r for r in RESOURCES.values() if r["Type"] == "AWS::ECS::TaskDefinition"]
    for pair in task["Properties"]["ContainerDefinitions"][0].get("Environment", []):
        if pair["Name"].startswith("DB_"):
            monkeypatch.setenv(pair["Name"], pair["Value"] if isinstance(pair["Value"], str) else address)
    fake = FakeDatabase()
    monkeypatch.setattr(psycopg, "connect", fake.connect)
    return fake
{%- endif %}


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
{%- if cookiecutter._msgen.callees %}


@dataclass
class SentCall:
    """A request the code sent to another service of the fleet, as that service received it."""

    service: str  # whose base URL (SERVICE_URL_<NAME>) it went to
    method: str
    path: str  # below the stage, e.g. /products/p-1
    headers: dict[str, str]
    body: Any


class FakeServices:
    """The other services of the fleet, for the tests: each signed request is kept and answered (200 and a JSON body, or
    what answer() set for that service); nothing goes to the network."""

    def __init__(self) -> None:
        self.calls: list[SentCall] = []
        self.answers: dict[str, tuple[int, Any]] = {}

    def answer(self, service: str, status: int, body: Any) -> None:
        self.answers[service] = (status, body)

    def send(self, request) -> tuple[int, bytes]:
        url = urlsplit(request.url)
        service = next(name for name, value in FLEET_URLS.items() if urlsplit(value).hostname == url.hostname)
        body = json.loads(request.body) if request.body else None
        path, headers = url.path.removeprefix("/api"), dict(request.headers.items())
        self.calls.append(SentCall(service, request.method, path, headers, body))
        status, answer = self.answers.get(service, (200, {"service": service, "status": "ok"}))
        return status, json.dumps(answer).encode()

    @staticmethod
    def assert_signed(sent: SentCall, correlation_id: str) -> None:
        """Signed with SigV4 for API Gateway (service "execute-api") in the API's Region, the correlation id signed too."""
        assert_sigv4(sent.headers, "execute-api", correlation_id)


FLEET_URLS = {
{%- for callee in cookiecutter._msgen.callees %}
    "{{ callee.service }}": os.environ["{{ callee.env }}"],
{%- endfor %}
}


@pytest.fixture(autouse=True)
def services(monkeypatch) -> FakeServices:
    """The services this one calls, simulated: calls.send (the client's only network call) goes here in every test."""
    import calls

    fake = FakeServices()
    monkeypatch.setattr(calls, "send", fake.send)
    return fake
{%- endif %}
{%- if cookiecutter._msgen.emits %}


@pytest.fixture(autouse=True)
def fleet_bus(aws):
    """The fleet's event bus in moto, as the fleet stack makes it; the events module gets a fresh client."""
    import events

    boto3.client("events").create_event_bus(Name=os.environ["EVENT_BUS_NAME"])
    events.clear_caches()
    return os.environ["EVENT_BUS_NAME"]
{%- endif %}
{%- if cookiecutter._msgen.tracing == "opentelemetry" %}


@pytest.fixture
def spans():
    """The spans finished during the test (kept in memory, next to the provider's own exporter)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import tracing  # noqa: F401  (sets the tracer provider the code's spans go to)

    exporter = InMemorySpanExporter()
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()
{%- endif %}
