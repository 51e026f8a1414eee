"""OpenTelemetry spans inside the code (service.yaml: observability.tracing: opentelemetry).

Lambda's and API Gateway's active tracing still record every request. The spans made here are children of the
trace being recorded: their trace id and parent come from the trace header of the work being done (Lambda's
_X_AMZN_TRACE_ID, or the X-Amzn-Trace-Id header the container service adopted), and they follow its sampling
decision (Sampled=0: nothing is recorded). Each span carries the correlation id.

Where spans go: an OpenTelemetry Lambda layer or agent that has set a tracer provider (e.g. the AWS Distro for
OpenTelemetry layer with AWS_LAMBDA_EXEC_WRAPPER=/opt/otel-instrument) exports them to X-Ray; without one, this
module sets a provider that writes each finished span as one JSON line to the log (OpenTelemetry's console
exporter), so nothing is lost and nothing is sent anywhere else. The cost: importing the OpenTelemetry SDK adds to
the cold start (docs/standards.md in msgen states the measured figure).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

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


def parent_context() -> Any:
    """The trace being recorded (X-Ray's trace header) as OpenTelemetry's parent context; None when there is none."""
    header = observability.current_trace_header()
    fields = dict(part.strip().partition("=")[::2] for part in (header or "").split(";") if "=" in part)
    root, parent = observability.trace_root(header), fields.get("Parent", "")
    if not root or len(parent) != 16:
        return None
    try:
        span_context = SpanContext(
            trace_id=int(root[2:].replace("-", ""), 16),  # 1-5759e988-bd862e3fe1be46a994272793: 32 hex digits
            span_id=int(parent, 16),
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED if fields.get("Sampled") == "1" else TraceFlags.DEFAULT),
        )
    except ValueError:
        return None
    return trace.set_span_in_context(NonRecordingSpan(span_context))


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[trace.Span]:
    """A span around a piece of work, a child of the request's trace, with the correlation id and these attributes:

    with tracing.span("charge card", provider="acme"):
        ...
    """
    inside_a_span = trace.get_current_span().get_span_context().is_valid
    with tracer.start_as_current_span(name, context=None if inside_a_span else parent_context()) as current:
        current.set_attribute("correlation_id", correlation.current())
        for key, value in attributes.items():
            current.set_attribute(key, value)
        yield current
