"""The correlation-ID contract, on every route: kept when it comes in, created when it does not, returned, logged (with the trace id)."""

from __future__ import annotations

import uuid

import pytest

import correlation
from correlation import HEADER

ROUTES = [
{%- for r in cookiecutter._msgen.function_routes %}
{%- set method = '"' ~ (r.method if r.method != "ANY" else "GET") ~ '"' %}
{%- set params = [] %}
{%- for p in r.params %}{% set _ = params.append('"' ~ p ~ '": "p-' ~ loop.index ~ '"') %}{% endfor %}
{%- set line = "    (" ~ method ~ ', "' ~ r.path ~ '", {' ~ (params | join(", ")) ~ "})," %}
{%- if line | length <= 120 %}
{{ line }}
{%- else %}
    (
        {{ method }},
        "{{ r.path }}",
        {{ '{' }}{{ params | join(", ") }}},
    ),
{%- endif %}
{%- endfor %}
]


def body_for(method: str) -> dict | None:
    return {} if method in ("POST", "PUT", "PATCH") else None


@pytest.mark.parametrize("method,resource,params", ROUTES, ids=[f"{m} {r}" for m, r, _ in ROUTES])
def test_an_incoming_id_is_kept_returned_and_logged(call, header, log_lines, method, resource, params):
    response = call(method, resource, path_params=params, body=body_for(method), headers={HEADER: "caller-id-123"})
    assert response["statusCode"] < 500
    assert header(response, HEADER) == "caller-id-123"
    lines = log_lines()
    assert lines, "the function must log at least one JSON line per request"
    for line in lines:
        assert line["correlation_id"] == "caller-id-123"
        assert line["service"] == "{{ cookiecutter.service }}"


@pytest.mark.parametrize("method,resource,params", ROUTES, ids=[f"{m} {r}" for m, r, _ in ROUTES])
def test_every_line_carries_the_correlation_id_and_the_trace_id(monkeypatch, call, log_lines, method, resource, params):
    """Lambda sets _X_AMZN_TRACE_ID for each invocation (active tracing): its Root is the trace id of every line."""
    trace_id = "1-5759e988-bd862e3fe1be46a994272793"
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={trace_id};Parent=53995c3f42cd8ad8;Sampled=1")
    call(method, resource, path_params=params, body=body_for(method), headers={HEADER: "caller-id-456"})
    ids = {(line["correlation_id"], line["xray_trace_id"]) for line in log_lines()}
    assert ids == {("caller-id-456", trace_id)}


@pytest.mark.parametrize("method,resource,params", ROUTES, ids=[f"{m} {r}" for m, r, _ in ROUTES])
def test_a_missing_id_becomes_api_gateways_request_id(call, header, log_lines, method, resource, params):
    request_id = str(uuid.uuid4())
    response = call(method, resource, path_params=params, body=body_for(method), request_id=request_id)
    assert header(response, HEADER) == request_id
    assert {line["correlation_id"] for line in log_lines()} == {request_id}


def test_header_names_are_matched_without_regard_to_case(call, header):
    method, resource, params = ROUTES[0]
    headers = {HEADER.lower(): "lower-case-id"}
    response = call(method, resource, path_params=params, body=body_for(method), headers=headers)
    assert header(response, HEADER) == "lower-case-id"


def test_malformed_ids_are_replaced(call, header):
    method, resource, params = ROUTES[0]
    headers, request_id = {HEADER: "bad id\nwith newline"}, "gw-request-1"
    response = call(method, resource, path_params=params, body=body_for(method), headers=headers, request_id=request_id)
    assert header(response, HEADER) == request_id


def test_the_id_is_forwarded_to_http_calls_and_messages():
    cid = str(uuid.uuid4())
    correlation.start({"headers": {HEADER: cid}})
    expected = {"Accept": "application/json", HEADER: cid, "X-Amzn-RequestId": cid}
    assert correlation.http_headers({"Accept": "application/json"}) == expected
    attributes = correlation.message_attributes()
    assert attributes == {"correlation_id": {"DataType": "String", "StringValue": cid}}
    sqs_record = {"messageAttributes": {"correlation_id": {"stringValue": cid, "dataType": "String"}}}
    sns_record = {"Sns": {"MessageAttributes": {"correlation_id": {"Type": "String", "Value": cid}}}}
    assert correlation.from_message(sqs_record) == cid
    assert correlation.from_message(sns_record) == cid


def test_non_uuid_ids_are_not_sent_as_gateway_request_ids():
    correlation.start({"headers": {HEADER: "order-42"}})
    assert "X-Amzn-RequestId" not in correlation.http_headers()
