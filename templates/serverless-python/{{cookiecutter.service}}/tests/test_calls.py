"""Calls to the other services of the fleet: signed with SigV4 for execute-api, the correlation id sent on, errors raised."""

from __future__ import annotations

import pytest

import calls
import correlation

CALLEES = [{% for c in cookiecutter._msgen.callees %}"{{ c.service }}"{% if not loop.last %}, {% endif %}{% endfor %}]


@pytest.mark.parametrize("service", CALLEES)
def test_a_call_is_signed_and_carries_the_correlation_id(services, service):
    correlation.adopt("corr-call-1")
    answer = calls.call(service, "POST", "/things/t-1", {"n": 1}, query={"q": "x y"})
    assert answer.status == 200 and answer.json() == {"service": service, "status": "ok"}
    (sent,) = services.calls
    assert (sent.service, sent.method, sent.path, sent.body) == (service, "POST", "/things/t-1", {"n": 1})
    services.assert_signed(sent, "corr-call-1")


@pytest.mark.parametrize("service", CALLEES)
def test_a_uuid_correlation_id_also_becomes_the_callees_gateway_request_id(services, service):
    cid = "0b7c7f8e-3a2b-4c1d-9e8f-1a2b3c4d5e6f"
    correlation.adopt(cid)
    calls.call(service, "GET", "/things")
    headers = {name.lower(): value for name, value in services.calls[0].headers.items()}
    assert headers[correlation.GATEWAY_REQUEST_ID_HEADER.lower()] == cid


@pytest.mark.parametrize("service", CALLEES)
def test_an_error_answer_raises_unless_allowed(services, service):
    services.answer(service, 404, {"message": "no such thing"})
    with pytest.raises(calls.CallError) as raised:
        calls.call(service, "GET", "/things/none")
    assert raised.value.status == 404 and "no such thing" in str(raised.value)
    assert calls.call(service, "GET", "/things/none", allow=(404,)).status == 404


def test_a_service_without_a_url_is_named(monkeypatch):
    with pytest.raises(RuntimeError, match="SERVICE_URL_NOT_A_CALLEE is not set"):
        calls.call("not-a-callee", "GET", "/")


@pytest.mark.parametrize("service", CALLEES)
def test_the_region_comes_from_the_invoke_url(monkeypatch, service):
    monkeypatch.setenv("AWS_REGION", "us-east-2")
    request = calls.sign("GET", "https://abc123.execute-api.ap-southeast-2.amazonaws.com/api/things")
    assert "/ap-southeast-2/execute-api/aws4_request" in request.headers["Authorization"]
