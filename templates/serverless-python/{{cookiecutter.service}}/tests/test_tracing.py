"""OpenTelemetry spans (observability.tracing: opentelemetry): children of the trace being recorded, with the correlation id."""

from __future__ import annotations

import pytest
from opentelemetry import propagate

import correlation
import tracing

TRACE_ID = "1-5759e988-bd862e3fe1be46a994272793"
PARENT = "53995c3f42cd8ad8"


def test_spans_join_the_trace_lambda_records(monkeypatch, spans):
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={TRACE_ID};Parent={PARENT};Sampled=1")
    correlation.adopt("corr-span-1")
    with tracing.span("charge card", provider="acme"), tracing.span("inner"):
        pass
    inner, outer = spans.get_finished_spans()
    assert format(outer.context.trace_id, "032x") == TRACE_ID[2:].replace("-", "")
    assert format(outer.parent.span_id, "016x") == PARENT
    assert inner.parent.span_id == outer.context.span_id and inner.context.trace_id == outer.context.trace_id
    assert outer.attributes["correlation_id"] == "corr-span-1" and outer.attributes["provider"] == "acme"


def test_a_trace_that_is_not_sampled_records_no_span(monkeypatch, spans):
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={TRACE_ID};Parent={PARENT};Sampled=0")
    with tracing.span("not sampled"):
        pass
    assert spans.get_finished_spans() == ()


def test_without_a_trace_header_a_span_starts_its_own_trace(monkeypatch, spans):
    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    with tracing.span("local"):
        pass
    (span,) = spans.get_finished_spans()
    assert span.parent is None and span.name == "local"


def test_an_exception_leaving_a_span_makes_it_an_error_and_is_recorded(monkeypatch, spans):
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={TRACE_ID};Parent={PARENT};Sampled=1")
    with pytest.raises(RuntimeError), tracing.span("failing"):
        raise RuntimeError("card declined")
    (span,) = spans.get_finished_spans()
    assert span.status.status_code.name == "ERROR"
    (event,) = [e for e in span.events if e.name == "exception"]
    assert event.attributes["exception.type"] == "RuntimeError"
    assert event.attributes["exception.message"] == "card declined"


def test_the_trace_header_propagator_reads_and_writes_x_amzn_trace_id(monkeypatch, spans):
    """What the container service's request spans continue (API Gateway's header), and what a call inside a span sends."""
    propagator = tracing.TraceHeaderPropagator()
    # As API Gateway sends it (header names in lower case, as the ASGI server passes them).
    header = f"Self=1-67891234-12456789abcdef012345678;Root={TRACE_ID};Parent={PARENT};Sampled=1"
    context = propagator.extract({"x-amzn-trace-id": header})
    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    with tracing.tracer.start_as_current_span("request", context=context) as current:
        carrier: dict[str, str] = {}
        propagator.inject(carrier)
    assert format(current.get_span_context().trace_id, "032x") == TRACE_ID[2:].replace("-", "")
    assert carrier == {"X-Amzn-Trace-Id": f"Root={TRACE_ID};Parent={current.get_span_context().span_id:016x};Sampled=1"}
    assert propagator.extract({"X-Amzn-Trace-Id": "Root=not-a-trace-id"}) == {}, "a malformed header continues nothing"
    tracing.propagate_trace_header()
    installed = propagate.get_global_textmap()
    tracing.propagate_trace_header()
    assert propagate.get_global_textmap() is installed and "X-Amzn-Trace-Id" in installed.fields, "added once"
    assert propagate.extract({"X-Amzn-Trace-Id": f"Root={TRACE_ID};Parent={PARENT};Sampled=1"}) != {}


@pytest.mark.parametrize(
    "header,linked",
    [
        (f"Root={TRACE_ID};Parent={PARENT};Sampled=1", True),
        (f"Root={TRACE_ID};Parent={PARENT};Sampled=0", True),
        (f"Root={TRACE_ID}", False),
        ("Root=1-5759e988-bd862e3fe1be46a99427279;Parent=53995c3f42cd8ad8;Sampled=1", False),
        (f"Root={TRACE_ID};Parent=zzzzzzzzzzzzzzzz;Sampled=1", False),
        (None, False),
    ],
)
def test_an_sqs_message_links_to_the_trace_its_producer_sent(header, linked):
    """SQS gives each message the producer's trace header as its AWSTraceHeader system attribute."""
    record = {"messageId": "m-1", "attributes": {"AWSTraceHeader": header} if header else {}}
    links = tracing.producer_links(record)
    assert len(links) == (1 if linked else 0)
    if linked:
        assert format(links[0].context.trace_id, "032x") == TRACE_ID[2:].replace("-", "")
        assert format(links[0].context.span_id, "016x") == PARENT and links[0].context.is_remote
{%- if cookiecutter._msgen.function_routes %}
{%- set r = cookiecutter._msgen.function_routes[0] %}
{%- set method = r.method if r.method != "ANY" else "GET" %}
{%- set params = [] %}
{%- for p in r.params %}{% set _ = params.append('"' ~ p ~ '": "p-' ~ loop.index ~ '"') %}{% endfor %}


def test_each_request_is_a_span_of_its_route(monkeypatch, spans, call):
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={TRACE_ID};Parent={PARENT};Sampled=1")
    params = {{ '{' }}{{ params | join(", ") }}}
    response = call("{{ method }}", "{{ r.path }}", path_params=params{% if method in ["POST", "PUT", "PATCH"] %}, body={}{% endif %})
    (span,) = [s for s in spans.get_finished_spans() if s.name == "{{ method }} {{ r.path }}"]
    assert format(span.parent.span_id, "016x") == PARENT
    assert span.attributes["route"] == "{{ method }} {{ r.path }}" and span.attributes["correlation_id"]
    assert span.attributes["http.response.status_code"] == response["statusCode"] < 500
    assert span.status.status_code.name == "UNSET"


def test_a_request_answered_with_a_5xx_is_an_error_span(monkeypatch, spans, call):
    from aws_lambda_powertools.event_handler import Response

    import {{ r.module }}

    def unavailable(*args, **kwargs) -> Response:
        return Response(status_code=503, content_type="application/json", body='{"message": "try later"}')

    monkeypatch.setattr({{ r.module }}, "{{ r.function }}", unavailable)
    params = {{ '{' }}{{ params | join(", ") }}}
    response = call("{{ method }}", "{{ r.path }}", path_params=params{% if method in ["POST", "PUT", "PATCH"] %}, body={}{% endif %})
    assert response["statusCode"] == 503
    (span,) = [s for s in spans.get_finished_spans() if s.name == "{{ method }} {{ r.path }}"]
    assert span.attributes["http.response.status_code"] == 503 and span.status.status_code.name == "ERROR"
{%- endif %}
