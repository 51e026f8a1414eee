"""OpenTelemetry spans inside the code (service.yaml: observability.tracing: opentelemetry).

Lambda's and API Gateway's active tracing still record every request. The spans made here are children of the
trace being recorded: their trace id and parent come from the trace header of the work being done (Lambda's
_X_AMZN_TRACE_ID, or the X-Amzn-Trace-Id header the container service adopted), and they follow its sampling
decision (Sampled=0: nothing is recorded). Each span carries the correlation id.

What gets a span: each API request (app.py: its route and status code), each request to the container service (web.py: FastAPI's own
server span, with its method, route template and status code, continuing the request's X-Amzn-Trace-Id), each SQS message, SNS notification and EventBridge event a
worker handles (worker.py: a consumer span; a failure sets its status to ERROR with the exception), and whatever the
code wraps in ``span()``. An SQS message carries its producer's trace (SQS's AWSTraceHeader attribute, set when the
sender was traced: a function, API Gateway, SNS or an EventBridge rule): its span links to that trace, so the
producer's trace leads to the message's processing even though Lambda records the batch in a trace of its own. SNS
and EventBridge do not put the trace header in what they deliver to a function: Lambda continues their trace itself,
so the span, a child of the function's trace, is in the producer's trace already.

Where spans go: an OpenTelemetry Lambda layer or agent that has set a tracer provider (e.g. the AWS Distro for
OpenTelemetry layer with AWS_LAMBDA_EXEC_WRAPPER=/opt/otel-instrument) exports them to X-Ray; without one, this
module sets a provider that writes each finished span as one JSON line to the log (OpenTelemetry's console
exporter), so nothing is lost and nothing is sent anywhere else. The cost: importing the OpenTelemetry SDK adds to
the cold start (docs/standards.md in msgen states the measured figure).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import Getter, Setter, TextMapPropagator, default_getter, default_setter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags

import correlation
import observability


def _provider() -> trace.TracerProvider:
    """The provider an OpenTelemetry layer set, else one that logs each span as a JSON line (synchronously: Lambda
    freezes the process between invocations, so nothing waits in a background thread)."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider()
    exporter = ConsoleSpanExporter(out=sys.stdout, formatter=lambda span: span.to_json(indent=None) + "\n")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return trace.get_tracer_provider()


tracer = _provider().get_tracer("{{ cookiecutter.service }}")


def span_context(header: str | None) -> SpanContext | None:
    """An X-Ray trace header ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1") as
    OpenTelemetry's remote span context; None unless it has a well-formed Root and Parent."""
    fields = dict(part.strip().partition("=")[::2] for part in (header or "").split(";") if "=" in part)
    root, parent = observability.trace_root(header), fields.get("Parent", "")
    if not root or len(parent) != 16:
        return None
    try:
        return SpanContext(
            trace_id=int(root[2:].replace("-", ""), 16),  # 1-5759e988-bd862e3fe1be46a994272793: 32 hex digits
            span_id=int(parent, 16),
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED if fields.get("Sampled") == "1" else TraceFlags.DEFAULT),
        )
    except ValueError:
        return None


def parent_context() -> Any:
    """The trace being recorded (X-Ray's trace header) as OpenTelemetry's parent context; None when there is none."""
    context = span_context(observability.current_trace_header())
    return trace.set_span_in_context(NonRecordingSpan(context)) if context else None


@contextmanager
def span(
    name: str, *, kind: SpanKind = SpanKind.INTERNAL, links: Sequence[Link] = (), **attributes: Any
) -> Iterator[trace.Span]:
    """A span around a piece of work, a child of the request's trace, with the correlation id and these attributes:

    with tracing.span("charge card", provider="acme"):
        ...

    An exception that leaves the block is recorded on the span, whose status becomes ERROR.
    """
    inside_a_span = trace.get_current_span().get_span_context().is_valid
    context = None if inside_a_span else parent_context()
    with tracer.start_as_current_span(name, context=context, kind=kind, links=links) as current:
        current.set_attribute("correlation_id", correlation.current())
        for key, value in attributes.items():
            current.set_attribute(key, value)
        yield current


def record_status(current: trace.Span, status: int) -> None:
    """The status code of a request's answer on its span (OpenTelemetry's attribute name); a 5xx answer is an error
    (a 4xx is the caller's)."""
    current.set_attribute("http.response.status_code", status)
    if status >= 500:
        current.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))


def producer_links(record: Mapping[str, Any]) -> list[Link]:
    """The producer's trace of an SQS message (its AWSTraceHeader system attribute) as a span link; none for a
    message sent untraced, an SNS notification or an EventBridge event (their trace is the function's own)."""
    context = span_context((record.get("attributes") or {}).get("AWSTraceHeader"))
    return [Link(context, {"link.kind": "producer"})] if context else []


def message_span(source: str, message_id: str, record: Mapping[str, Any]) -> Any:
    """The span of one message or event a worker handles (EVENT_SOURCE, e.g. sqs:orders), linked to its producer's
    trace; the correlation id must be adopted first."""
    links = producer_links(record)
    return span(source, kind=SpanKind.CONSUMER, links=links, event_source=source, message_id=message_id)


class TraceHeaderPropagator(TextMapPropagator):
    """X-Ray's trace header (X-Amzn-Trace-Id) as an OpenTelemetry propagator: a request that carries it continues its
    trace, and a call made inside a span carries the span as its Parent."""

    def extract(self, carrier: Any, context: Context | None = None, getter: Getter = default_getter) -> Context:
        name = observability.TRACE_HEADER
        values = getter.get(carrier, name) or getter.get(carrier, name.lower())
        remote = span_context(values[0] if values else None)
        if remote is None:
            return context if context is not None else Context()
        return trace.set_span_in_context(NonRecordingSpan(remote), context)

    def inject(self, carrier: Any, context: Context | None = None, setter: Setter = default_setter) -> None:
        current = trace.get_current_span(context).get_span_context()
        if not current.is_valid:
            return
        trace_id, sampled = format(current.trace_id, "032x"), "1" if current.trace_flags.sampled else "0"
        header = f"Root=1-{trace_id[:8]}-{trace_id[8:]};Parent={current.span_id:016x};Sampled={sampled}"
        setter.set(carrier, observability.TRACE_HEADER, header)

    @property
    def fields(self) -> set[str]:
        return {observability.TRACE_HEADER}


def propagate_trace_header() -> None:
    """Continue the trace of each request's X-Amzn-Trace-Id header (the container service: FastAPI's request spans use
    OpenTelemetry's propagators, which read only W3C's traceparent unless told; API Gateway sends X-Amzn-Trace-Id)."""
    current = propagate.get_global_textmap()
    if observability.TRACE_HEADER not in current.fields:  # not yet, nor by an agent's X-Ray propagator
        propagate.set_global_textmap(CompositePropagator([current, TraceHeaderPropagator()]))


def annotate(**attributes: Any) -> None:
    """Add attributes to the span being recorded (in the container service: FastAPI's span of the request)."""
    trace.get_current_span().set_attributes(attributes)
