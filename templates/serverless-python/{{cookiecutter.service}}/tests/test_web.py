{%- set health = cookiecutter._msgen.container.health_check_path if cookiecutter._msgen.container else "/health" -%}
{%- set ready = cookiecutter._msgen.container.database if cookiecutter._msgen.container else False -%}
{%- set ready = ready and not (cookiecutter._msgen.container_routes | selectattr("path", "equalto", "/ready") | list) -%}
"""The container service over real HTTP on loopback: routes, the correlation header, JSON log lines."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
import uvicorn
{%- if cookiecutter._msgen.tracing == "opentelemetry" %}
from opentelemetry.trace import SpanKind, StatusCode
{%- endif %}

import web
from correlation import HEADER


@pytest.fixture(scope="module")
def server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(web.app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


def request(url: str, method: str = "GET", body: dict | None = None, headers: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **(headers or {})}
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_health_check_answers(server):
    status, _, body = request(server + "{{ health }}")
    assert status == 200, body


def test_an_incoming_correlation_id_is_returned_and_logged(server, log_lines):
    status, headers, _ = request(server + "{{ health }}", headers={HEADER: "web-caller-1"})
    assert status == 200
    assert {k.lower(): v for k, v in headers.items()}[HEADER.lower()] == "web-caller-1"
    lines = [line for line in log_lines() if line.get("message") == "handled request"]
    assert lines and lines[-1]["correlation_id"] == "web-caller-1" and lines[-1]["service"] == "{{ cookiecutter.service }}"


def test_the_trace_id_of_the_request_is_on_its_log_lines(server, log_lines):
    """API Gateway and the load balancer pass X-Amzn-Trace-Id on: its Root is the trace id of the request's lines."""
    trace_id = "1-5759e988-bd862e3fe1be46a994272793"
    trace_header = f"Self=1-67891234-12456789abcdef012345678;Root={trace_id};Sampled=1"
    traced = {HEADER: "web-trace-1", "X-Amzn-Trace-Id": trace_header}
    assert request(server + "{{ health }}", headers=traced)[0] == 200
    assert request(server + "{{ health }}", headers={HEADER: "web-trace-2"})[0] == 200
    lines = {line["correlation_id"]: line for line in log_lines() if line.get("message") == "handled request"}
    assert lines["web-trace-1"]["xray_trace_id"] == trace_id
    assert "xray_trace_id" not in lines["web-trace-2"], "a request without a trace header has no trace id"


def test_a_missing_correlation_id_is_created(server):
    _, headers, _ = request(server + "{{ health }}")
    assert len({k.lower(): v for k, v in headers.items()}[HEADER.lower()]) == 36
{%- if ready %}


def test_readiness_asks_the_database_and_health_does_not(server, database):
    import psycopg

    status, _, body = request(server + "/ready")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    assert database.statements == ["SELECT 1"] and database.connections[0]["sslmode"] == "require"
    database.error = psycopg.OperationalError("connection refused")
    status, _, body = request(server + "/ready")
    assert status == 503 and json.loads(body) == {"status": "database unavailable"}
    status, _, _ = request(server + "{{ health }}")
    assert status == 200, "the load balancer's health check must not depend on the database"
{%- endif %}
{%- for r in cookiecutter._msgen.container_routes %}
{%- set path = r.request_path %}


def test_{{ r.module }}_{{ r.function }}_over_http(server{% if r.kind == "create" %}, log_lines{% endif %}):
{%- if r.call_method in ["POST", "PUT", "PATCH"] %}
    # JSON numbers with a fraction must reach DynamoDB as Decimal.
    payload = {"note": "over http", "amount": 12.5}
    url, headers = server + "{{ path }}", {HEADER: "web-1"}
    status, _, body = request(url, method="{{ r.call_method }}", body=payload, headers=headers)
{%- else %}
    url, headers = server + "{{ path }}", {HEADER: "web-1"}
    status, _, body = request(url, method="{{ r.call_method }}", headers=headers)
{%- endif %}
    assert status == {{ 404 if r.kind == "get" and r.full_key else r.status }}, body
{%- if r.kind == "create" %}
    # The handler runs in FastAPI's thread pool and still logs with the request's correlation id.
    (created,) = [line for line in log_lines() if line["message"].startswith("created ")]
    assert created["correlation_id"] == "web-1"
{%- endif %}
{%- endfor %}
{%- if cookiecutter._msgen.tracing == "opentelemetry" %}
{%- set r = (cookiecutter._msgen.container_routes | selectattr("params") | list + cookiecutter._msgen.container_routes) | first | default(None) %}


def served(spans, correlation_id: str):
    """The server span of the request that carried this correlation id (FastAPI ends it once the response is sent)."""
    deadline = time.monotonic() + 5
    while True:
        found = [s for s in spans.get_finished_spans() if s.attributes.get("correlation_id") == correlation_id]
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    (span,) = found
    assert span.kind == SpanKind.SERVER
    return span


def test_each_request_is_one_server_span_in_the_trace_of_its_header(server, spans):
    """API Gateway sends X-Amzn-Trace-Id through the VPC link: the request's span is a child of API Gateway's."""
    trace_id, parent = "1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8"
    traced = {HEADER: "web-span-1", "X-Amzn-Trace-Id": f"Root={trace_id};Parent={parent};Sampled=1"}
    assert request(server + "{{ health }}", headers=traced)[0] == 200
    span = served(spans, "web-span-1")
    assert format(span.context.trace_id, "032x") == trace_id[2:].replace("-", "")
    assert format(span.parent.span_id, "016x") == parent
    assert span.name == "GET {{ health }}" and span.attributes["http.route"] == "{{ health }}"
    assert span.attributes["http.request.method"] == "GET" and span.attributes["http.response.status_code"] == 200
    assert span.status.status_code == StatusCode.UNSET
    servers = [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert servers == [span], "one server span per request"


def test_a_request_without_a_trace_header_or_a_route_is_a_span_of_its_own(server, spans):
    assert request(server + "/no/such/route", headers={HEADER: "web-span-2"})[0] == 404
    span = served(spans, "web-span-2")
    assert span.parent is None and span.name == "GET" and "http.route" not in span.attributes
    assert span.attributes["http.response.status_code"] == 404 and span.status.status_code == StatusCode.UNSET
{%- if r %}
{%- set template = r.path | replace('+}', ':path}') %}


def test_the_span_of_a_route_names_its_template_and_its_status(server, spans):
    status, _, _ = request(server + "{{ r.request_path }}", method="{{ r.call_method }}", headers={HEADER: "web-span-3"})
    span = served(spans, "web-span-3")
    assert span.name == "{{ r.call_method }} {{ template }}"
    assert span.attributes["http.route"] == "{{ template }}"
    assert span.attributes["http.response.status_code"] == status


def test_a_handler_that_fails_makes_an_error_span(server, spans, monkeypatch):
    import {{ r.module }}

    def failing(*args, **kwargs):
        raise RuntimeError("the handler failed")

    monkeypatch.setattr({{ r.module }}, "{{ r.function }}", failing)
    status, _, _ = request(server + "{{ r.request_path }}", method="{{ r.call_method }}", headers={HEADER: "web-span-4"})
    assert status == 500
    span = served(spans, "web-span-4")
    assert span.status.status_code == StatusCode.ERROR and span.attributes["error.type"] == "RuntimeError"
    assert span.attributes["http.response.status_code"] == 500
{%- endif %}
{%- endif %}
