"""OpenTelemetry spans (observability.tracing: opentelemetry): children of the trace being recorded, with the correlation id."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import correlation
import tracing

TRACE_ID = "1-5759e988-bd862e3fe1be46a994272793"
PARENT = "53995c3f42cd8ad8"


@pytest.fixture
def spans():
    """The spans finished during the test (kept in memory, next to the provider's own exporter)."""
    exporter = InMemorySpanExporter()
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


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
{%- if cookiecutter._msgen.function_routes %}
{%- set r = cookiecutter._msgen.function_routes[0] %}
{%- set method = r.method if r.method != "ANY" else "GET" %}
{%- set params = [] %}
{%- for p in r.params %}{% set _ = params.append('"' ~ p ~ '": "p-' ~ loop.index ~ '"') %}{% endfor %}


def test_each_request_is_a_span_of_its_route(monkeypatch, spans, call):
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={TRACE_ID};Parent={PARENT};Sampled=1")
    params = {{ '{' }}{{ params | join(", ") }}}
    call("{{ method }}", "{{ r.path }}", path_params=params{% if method in ["POST", "PUT", "PATCH"] %}, body={}{% endif %})
    (span,) = [s for s in spans.get_finished_spans() if s.name == "{{ method }} {{ r.path }}"]
    assert format(span.parent.span_id, "016x") == PARENT
{%- endif %}
