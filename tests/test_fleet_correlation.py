"""Proof that one correlation id crosses the fleet, offline (issue 13).

`msgen fleet new shop` generates the shop's five repositories; their generated entry points then run, one subprocess
per invocation (their modules share names), in the order of a real purchase:

    HTTP event -> ui-svc -> (signed call) catalog-svc -> (signed call) checkout-svc's container
               -> OrderPlaced on the fleet bus -> payment-svc's queue consumer -> PaymentSettled -> shipping-svc's handler

The generated code is not changed or hooked: the test stands in for AWS around it. Signed calls go over loopback HTTP
to a server here that plays API Gateway (it checks the SigV4 signature's scope and turns the request into the callee's
proxy event, or forwards it to the container as the VPC link does); PutEvents is answered by a botocore hook in the
harness and the test delivers each event as EventBridge would (to the rule's queue as an SQS message, or to the rule's
function), after matching the rule's pattern. DynamoDB is moto, set up by each repository's own tests/conftest.py.
Every process's stdout is kept: all five services log the edge's id in the standard JSON fields.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

import pytest

from generator.api import load_spec
from tests.test_new import service_venv  # noqa: F401  (the generated services' dependencies, from the wheelhouse)

PURCHASE = ["ui-svc", "catalog-svc", "checkout-svc", "payment-svc", "shipping-svc"]

# Runs one entry point of a generated repository: its own tests/conftest.py sets the environment and makes the
# resources of its template in moto; PutEvents is answered by a botocore hook that records the entries.
HARNESS = r'''
import importlib, io, json, os, sys, uuid
from pathlib import Path

repo, entry, request_file = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
sys.path[:0] = [str(repo / "src"), str(repo / "tests")]
os.chdir(repo)
import conftest  # the repository's test set-up: environment and in-memory resources
os.environ.update(json.loads(os.environ["FLEET_TEST_ENV"]))

import boto3
from botocore.awsrequest import AWSResponse
from moto import mock_aws


class Raw(io.BytesIO):
    def stream(self, **kwargs):
        chunk = self.read()
        while chunk:
            yield chunk
            chunk = self.read()


def put_events(request, **kwargs):
    entries = json.loads(request.body)["Entries"]
    authorization = request.headers.get("Authorization", b"")
    authorization = authorization.decode() if isinstance(authorization, bytes) else authorization
    with open(os.environ["FLEET_TEST_EVENTS"], "a", encoding="utf-8") as out:
        for entry in entries:
            out.write(json.dumps({"entry": entry, "authorization": authorization}) + "\n")
    body = json.dumps({"FailedEntryCount": 0, "Entries": [{"EventId": str(uuid.uuid4())} for _ in entries]}).encode()
    return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.1"}, Raw(body))


with mock_aws():
    for variable, (logical_id, attribute) in sorted(conftest.template_references().items()):
        resource = conftest.RESOURCES[logical_id]
        make = conftest.CREATE.get((resource["Type"], attribute))
        if make:
            os.environ[variable] = make(logical_id, resource.get("Properties", {}))
    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register_first("before-send.events.PutEvents", put_events)
    if entry == "web":
        import uvicorn
        import web

        uvicorn.run(web.app, host="127.0.0.1", port=int(os.environ["PORT"]), access_log=False, log_level="warning")
    else:
        event = json.loads(Path(request_file).read_text())
        result = importlib.import_module(entry).lambda_handler(event, conftest.FakeContext())
        print("FLEET-TEST-RESULT " + json.dumps(result))
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def url_var(service: str) -> str:
    return f"SERVICE_URL_{service.upper().replace('-', '_')}"


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return lines


def route_of(spec, method: str, path: str):
    """The callee's route (and its path parameters) that API Gateway would match."""
    segments = [s for s in path.split("/") if s]
    for route in spec.api.routes:
        template = [s for s in route.path.split("/") if s]
        if route.method in (method, "ANY") and len(template) == len(segments) and all(
                t.startswith("{") or t == s for t, s in zip(template, segments, strict=True)):
            return route, {t.strip("{}+"): s for t, s in zip(template, segments, strict=True) if t.startswith("{")}
    raise AssertionError(f"no route {method} {path}")


def matches(pattern: dict[str, Any], source: str, detail_type: str) -> bool:
    return source in pattern.get("source", []) and detail_type in pattern.get("detail-type", [])


class Fleet:
    """The five repositories and what the test plays of AWS around them."""

    def __init__(self, root: Path, bin_dir: Path, tmp: Path):
        self.root, self.python, self.tmp = root, str(bin_dir / "python"), tmp
        self.harness = tmp / "harness.py"
        self.harness.write_text(HARNESS)
        self.specs = {name: load_spec(root / name / "service.yaml").spec for name in PURCHASE}
        self.logs: dict[str, list[dict[str, Any]]] = {name: [] for name in PURCHASE}
        self.dispatched: list[tuple[str, str]] = []  # (service, what): in the order the test ran them
        self.signed: list[dict[str, str]] = []
        self.port = free_port()
        self.container_port = free_port()
        self.lock = threading.Lock()
        self.errors: list[str] = []

    def env(self, service: str, **extra: str) -> dict[str, str]:
        """The process environment: what the template gives the code; other services and the bus as the test plays them."""
        fleet = {url_var(name): f"http://127.0.0.1:{self.port}/{name}/api" for name in PURCHASE}
        fleet.update(EVENT_BUS_NAME="shop-dev", EVENT_BUS_SOURCE=service, PORT=str(self.container_port), **extra)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON", "VIRTUAL_ENV"))}
        return {**base, "FLEET_TEST_ENV": json.dumps(fleet), "FLEET_TEST_EVENTS": str(self.tmp / f"{service}.events.jsonl")}

    def invoke(self, service: str, entry: str, event: dict[str, Any], **extra: str) -> Any:
        """Run one entry point (app or worker) with ``event``; its JSON log lines are kept; returns what it returned."""
        request = self.tmp / f"{service}-{uuid.uuid4().hex}.json"
        request.write_text(json.dumps(event))
        with self.lock:
            self.dispatched.append((service, entry))
        done = subprocess.run([self.python, str(self.harness), str(self.root / service), entry, str(request)],
                              env=self.env(service, **extra), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{service} {entry}:\n{done.stdout}\n{done.stderr}"
        self.logs[service] += json_lines(done.stdout)
        (result,) = [ln.split(" ", 1)[1] for ln in done.stdout.splitlines() if ln.startswith("FLEET-TEST-RESULT ")]
        return json.loads(result)

    def events(self, service: str) -> list[dict[str, Any]]:
        path = self.tmp / f"{service}.events.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    # --- API Gateway, as far as the calls need it ----------------------------------------------------------------
    def api_event(self, service: str, method: str, path: str, headers: dict[str, str], body: bytes | None) -> dict[str, Any]:
        route, params = route_of(self.specs[service], method, path)
        incoming = {k.lower(): v for k, v in headers.items()}
        # API Gateway takes a caller's UUID in X-Amzn-RequestId as its own request id (docs/standards.md).
        request_id = incoming.get("x-amzn-requestid") or str(uuid.uuid4())
        return {
            "resource": route.path, "path": path, "httpMethod": method, "headers": dict(headers),
            "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": None,
            "multiValueQueryStringParameters": None, "pathParameters": params or None, "stageVariables": None,
            "requestContext": {"accountId": "123456789012", "apiId": service, "httpMethod": method, "path": f"/api{path}",
                               "requestId": request_id, "resourcePath": route.path, "stage": "api",
                               "identity": {"sourceIp": "10.0.0.1"}, "requestTimeEpoch": int(time.time() * 1000)},
            "body": body.decode() if body else None, "isBase64Encoded": False,
        }

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes | None) -> tuple[int, dict[str, str], bytes]:
        service, _, rest = raw_path.lstrip("/").partition("/")
        path = "/" + rest.removeprefix("api").lstrip("/")
        with self.lock:
            self.signed.append({"service": service, **{k.lower(): v for k, v in headers.items()}})
        spec = self.specs[service]
        route, _ = route_of(spec, method, path)
        if spec.pattern == "hybrid" and (route.target or "container") == "container":  # the VPC link to the container
            with self.lock:
                self.dispatched.append((service, "container"))
            forwarded = Request(f"http://127.0.0.1:{self.container_port}{path}", data=body, method=method,
                                headers={k: v for k, v in headers.items() if k.lower() not in ("host", "authorization")})
            with urlopen(forwarded, timeout=60) as answer:
                return answer.status, dict(answer.headers.items()), answer.read()
        response = self.invoke(service, "app", self.api_event(service, method, path, headers, body))
        return response["statusCode"], {k: v[0] for k, v in (response.get("multiValueHeaders") or {}).items()} or \
            response.get("headers") or {}, (response.get("body") or "").encode()

    def serve(self) -> ThreadingHTTPServer:
        fleet = self

        class Gateway(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                try:
                    status, headers, payload = fleet.handle(self.command, self.path, dict(self.headers.items()), body)
                except Exception as exc:  # noqa: BLE001 (reported by the test, not lost in this thread)
                    fleet.errors.append(f"{self.command} {self.path}: {exc!r}")
                    status, headers, payload = 502, {}, b'{"message": "test gateway failed"}'
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Gateway)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def start_container(self, service: str) -> subprocess.Popen:
        log = open(self.tmp / f"{service}.container.log", "w")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen([self.python, str(self.harness), str(self.root / service), "web", "-"],
                                   env=self.env(service), stdout=log, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urlopen(f"http://127.0.0.1:{self.container_port}/health", timeout=2):
                    return process
            except OSError:
                assert process.poll() is None, (self.tmp / f"{service}.container.log").read_text()
                time.sleep(0.3)
        raise AssertionError("the container did not start: " + (self.tmp / f"{service}.container.log").read_text())

    # --- EventBridge, as far as the rules need it ------------------------------------------------------------------
    def deliver(self, emitted: dict[str, Any]) -> list[str]:
        """Deliver an entry put on the fleet bus to every rule (of every service) whose pattern matches it."""
        entry = emitted["entry"]
        event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": entry["DetailType"], "source": entry["Source"],
                 "account": "123456789012", "time": "2026-12-02T00:00:00Z", "region": "eu-west-1", "resources": [],
                 "detail": json.loads(entry["Detail"])}
        reached = []
        for name, spec in self.specs.items():
            for rule in spec.messaging.events:
                if rule.bus != "fleet" or not matches(rule.pattern or {}, entry["Source"], entry["DetailType"]):
                    continue
                for queue in rule.targets:  # EventBridge sends the event, as JSON, as the queue message's body
                    record = {"messageId": str(uuid.uuid4()), "receiptHandle": "h", "body": json.dumps(event),
                              "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"},
                              "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                              "eventSourceARN": f"arn:aws:sqs:eu-west-1:123456789012:{queue}", "awsRegion": "eu-west-1"}
                    result = self.invoke(name, "worker", {"Records": [record]}, EVENT_SOURCE=f"sqs:{queue}")
                    assert result == {"batchItemFailures": []}, result
                    reached.append(f"{name}:{queue}")
                if rule.handler:
                    assert self.invoke(name, "worker", event, EVENT_SOURCE=f"events:{rule.name}") is None
                    reached.append(f"{name}:{rule.name}")
        return reached


@pytest.mark.slow
def test_one_correlation_id_crosses_the_shops_five_services_in_purchase_order(cli, tmp_path, service_venv):  # noqa: F811
    result = cli("fleet", "new", "shop", "-o", str(tmp_path / "src"))
    assert result.exit_code == 0, result.output
    fleet = Fleet(tmp_path / "src", service_venv, tmp_path)
    server = fleet.serve()
    container = fleet.start_container("checkout-svc")
    try:
        edge = str(uuid.uuid4())  # API Gateway's request id at the edge: the purchase's correlation id
        event = fleet.api_event("ui-svc", "POST", "/purchases", {"Content-Type": "application/json"},
                                json.dumps({"sku": "p-1", "quantity": 2}).encode())
        event["requestContext"]["requestId"] = edge
        response = fleet.invoke("ui-svc", "app", event)
        assert not fleet.errors and response["statusCode"] == 200, (fleet.errors, response)

        (order_placed,) = fleet.events("checkout-svc")
        assert fleet.deliver(order_placed) == ["payment-svc:orders-to-charge"]
        (payment_settled,) = fleet.events("payment-svc")
        assert fleet.deliver(payment_settled) == ["shipping-svc:payment-settled"]
    finally:
        container.terminate()
        container.wait(timeout=30)
        server.shutdown()
    # The container's lines, but for the load balancer's health checks (each its own request, its own id).
    fleet.logs["checkout-svc"] += [ln for ln in json_lines((tmp_path / "checkout-svc.container.log").read_text())
                                   if ln.get("route") != "GET /health"]

    # The purchase ran in order: the edge, two signed calls, two events.
    assert [service for service, _ in fleet.dispatched] == PURCHASE
    # Every service logged, in the standard JSON fields, the id made at the edge, and no other.
    logs = {name: [ln for ln in fleet.logs[name] if ln.get("service") == name and "level" in ln] for name in PURCHASE}  # not EMF
    for name in PURCHASE:
        lines = logs[name]
        assert lines, f"{name} logged nothing"
        assert {ln.get("correlation_id") for ln in lines} == {edge}, (name, lines)
        assert all({"timestamp", "level", "message", "service", "correlation_id"} <= ln.keys() for ln in lines)
    # The asynchronous hops happened after what caused them (log time); the calls were nested in their callers.
    first = {name: min(ln["timestamp"] for ln in logs[name]) for name in PURCHASE}
    last = {name: max(ln["timestamp"] for ln in logs[name]) for name in PURCHASE}
    assert last["checkout-svc"] <= first["payment-svc"] <= last["payment-svc"] <= first["shipping-svc"]
    assert first["checkout-svc"] <= last["catalog-svc"] <= last["ui-svc"]
    # The calls were signed for execute-api and carried the id; the events went out as their service, with the id.
    for call in fleet.signed:
        assert call["authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
        assert "/execute-api/aws4_request" in call["authorization"] and "x-correlation-id" in call["authorization"]
        assert call["x-correlation-id"] == edge and call["x-amzn-requestid"] == edge
    assert [c["service"] for c in fleet.signed] == ["catalog-svc", "checkout-svc"]
    for emitted, source in ((order_placed, "checkout-svc"), (payment_settled, "payment-svc")):
        assert emitted["entry"]["Source"] == source and emitted["entry"]["EventBusName"] == "shop-dev"
        assert json.loads(emitted["entry"]["Detail"])["correlation_id"] == edge
        assert "/events/aws4_request" in emitted["authorization"]
