"""Functions that are not behind the API, through the real entry point: correlation ids adopted, failures reported."""

from __future__ import annotations

{% if cookiecutter._msgen.consumers | rejectattr("kind", "equalto", "on_event") | list %}import json

{% endif %}import pytest
{%- if cookiecutter._msgen.tracing == "opentelemetry" %}
from opentelemetry.trace import SpanKind, StatusCode
{%- endif %}

import worker

SQS = [{% for c in cookiecutter._msgen.consumers if c.kind == "consume" %}"{{ c.source }}"{% if not loop.last %}, {% endif %}{% endfor %}]
SNS = [{% for c in cookiecutter._msgen.consumers if c.kind == "on_sns" %}"{{ c.source }}"{% if not loop.last %}, {% endif %}{% endfor %}]
EVENTS = [{% for c in cookiecutter._msgen.consumers if c.kind == "on_event" %}"{{ c.source }}"{% if not loop.last %}, {% endif %}{% endfor %}]
MESSAGE = {"id": "m-1", "email": "customer@example.com", "note": "hello"}
{%- if cookiecutter._msgen.tracing == "opentelemetry" %}
# The invocation's trace (Lambda sets _X_AMZN_TRACE_ID), and the trace of a message's producer (SQS's AWSTraceHeader).
TRACE_ID, PARENT = "1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8"
PRODUCER_TRACE_ID, PRODUCER_PARENT = "1-6759e988-0123456789abcdef01234567", "1a2b3c4d5e6f7a8b"


def in_the_functions_trace(span) -> bool:
    """A child of the span Lambda recorded for the invocation."""
    same_trace = format(span.context.trace_id, "032x") == TRACE_ID[2:].replace("-", "")
    return same_trace and span.parent is not None and format(span.parent.span_id, "016x") == PARENT


def handled(spans, source: str) -> list:
    """The spans of the messages or events the worker handled, in the order they finished."""
    return [s for s in spans.get_finished_spans() if s.kind == SpanKind.CONSUMER and s.name == source]


def failing(*args, **kwargs) -> None:
    raise RuntimeError("the handler failed")
{%- endif %}


{%- if cookiecutter._msgen.consumers | selectattr("kind", "equalto", "consume") | list %}


@pytest.mark.parametrize("source", SQS)
def test_a_good_message_is_processed_with_its_correlation_id(monkeypatch, log_lines, lambda_context, sqs_event, source):
    monkeypatch.setenv("EVENT_SOURCE", source)
    event = sqs_event(json.dumps(MESSAGE), correlation_id="corr-from-producer")
    assert worker.lambda_handler(event, lambda_context) == {"batchItemFailures": []}
    lines = log_lines()
    assert lines and {line["correlation_id"] for line in lines} == {"corr-from-producer"}


@pytest.mark.parametrize("source", SQS)
def test_a_bad_message_is_reported_alone(monkeypatch, lambda_context, sqs_event, source):
    monkeypatch.setenv("EVENT_SOURCE", source)
    event = sqs_event(json.dumps({"note": "fine"}), "not json at all")
    response = worker.lambda_handler(event, lambda_context)
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
{%- if cookiecutter._msgen.tracing == "opentelemetry" %}


@pytest.mark.parametrize("source", SQS)
def test_each_message_is_a_span_in_the_functions_trace_linked_to_its_producer(
    monkeypatch, lambda_context, sqs_event, spans, source
):
    monkeypatch.setenv("EVENT_SOURCE", source)
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={TRACE_ID};Parent={PARENT};Sampled=1")
    event = sqs_event(json.dumps(MESSAGE), "not json at all", correlation_id="corr-traced")
    producer = f"Root={PRODUCER_TRACE_ID};Parent={PRODUCER_PARENT};Sampled=1"
    event["Records"][0]["attributes"]["AWSTraceHeader"] = producer
    response = worker.lambda_handler(event, lambda_context)
    # The bad message is still reported alone, and retried by SQS.
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    good, bad = handled(spans, source)
    for span, record in ((good, event["Records"][0]), (bad, event["Records"][1])):
        assert in_the_functions_trace(span)
        assert span.attributes["correlation_id"] == "corr-traced"
        assert span.attributes["message_id"] == record["messageId"] and span.attributes["event_source"] == source
    (link,) = good.links
    assert format(link.context.trace_id, "032x") == PRODUCER_TRACE_ID[2:].replace("-", "")
    assert format(link.context.span_id, "016x") == PRODUCER_PARENT
    assert not bad.links, "a message sent untraced has no producer's trace"
    assert good.status.status_code == StatusCode.UNSET and bad.status.status_code == StatusCode.ERROR
    assert [e.name for e in bad.events] == ["exception"] and not good.events
{%- endif %}
{%- endif %}
{%- if cookiecutter._msgen.consumers | selectattr("kind", "equalto", "on_sns") | list %}


@pytest.mark.parametrize("source", SNS)
def test_a_notification_is_handled_with_its_correlation_id(monkeypatch, log_lines, lambda_context, source):
    monkeypatch.setenv("EVENT_SOURCE", source)
    attributes = {"correlation_id": {"Type": "String", "Value": "corr-sns"}}
    notification = {"MessageId": "sns-1", "Message": json.dumps(MESSAGE), "MessageAttributes": attributes}
    record = {"EventSource": "aws:sns", "Sns": notification}
    assert worker.lambda_handler({"Records": [record]}, lambda_context) is None
    assert {line["correlation_id"] for line in log_lines()} == {"corr-sns"}
{%- if cookiecutter._msgen.tracing == "opentelemetry" %}


@pytest.mark.parametrize("source", SNS)
def test_each_notification_is_a_span_in_the_functions_trace(monkeypatch, lambda_context, spans, source):
    """SNS passes its trace to Lambda, not in the notification: the function's trace is the publisher's."""
    monkeypatch.setenv("EVENT_SOURCE", source)
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={TRACE_ID};Parent={PARENT};Sampled=1")
    records = []
    for i, cid in enumerate(["corr-sns-1", "corr-sns-2"]):
        attributes = {"correlation_id": {"Type": "String", "Value": cid}}
        notification = {"MessageId": f"sns-{i}", "Message": json.dumps(MESSAGE), "MessageAttributes": attributes}
        records.append({"EventSource": "aws:sns", "Sns": notification})
    assert worker.lambda_handler({"Records": records}, lambda_context) is None
    spans_made = handled(spans, source)
    assert [(s.attributes["message_id"], s.attributes["correlation_id"]) for s in spans_made] == [
        ("sns-0", "corr-sns-1"),
        ("sns-1", "corr-sns-2"),
    ]
    assert all(in_the_functions_trace(s) and s.status.status_code == StatusCode.UNSET for s in spans_made)


@pytest.mark.filterwarnings("ignore:No application metrics")  # the failed invocation adds none
@pytest.mark.parametrize("source", SNS)
def test_a_failed_notification_is_an_error_span_and_fails_the_invocation(monkeypatch, lambda_context, spans, source):
    monkeypatch.setenv("EVENT_SOURCE", source)
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={TRACE_ID};Parent={PARENT};Sampled=1")
    monkeypatch.setitem(worker.HANDLERS, source, failing)
    notification = {"MessageId": "sns-bad", "Message": json.dumps(MESSAGE), "MessageAttributes": {}}
    with pytest.raises(RuntimeError):  # Lambda retries, then sends the event to the function's dead-letter queue
        worker.lambda_handler({"Records": [{"EventSource": "aws:sns", "Sns": notification}]}, lambda_context)
    (span,) = handled(spans, source)
    assert span.status.status_code == StatusCode.ERROR and in_the_functions_trace(span)
    (recorded,) = span.events
    assert recorded.name == "exception" and recorded.attributes["exception.message"] == "the handler failed"
{%- endif %}
{%- endif %}
{%- if cookiecutter._msgen.consumers | selectattr("kind", "equalto", "on_event") | list %}


@pytest.mark.parametrize("source", EVENTS)
def test_an_event_is_handled_with_its_correlation_id(monkeypatch, log_lines, lambda_context, source):
    monkeypatch.setenv("EVENT_SOURCE", source)
    event = {
        "version": "0",
        "id": "evt-1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {**MESSAGE, "correlation_id": "corr-evt"},
    }
    assert worker.lambda_handler(event, lambda_context) is None
    assert {line["correlation_id"] for line in log_lines()} == {"corr-evt"}
{%- if cookiecutter._msgen.tracing == "opentelemetry" %}


@pytest.mark.filterwarnings("ignore:No application metrics")  # the failed invocation adds none
@pytest.mark.parametrize("source", EVENTS)
def test_an_event_is_a_span_in_the_functions_trace_and_a_failure_an_error(monkeypatch, lambda_context, spans, source):
    """EventBridge passes its trace to Lambda, not in the event: the function's trace is the sender's."""
    monkeypatch.setenv("EVENT_SOURCE", source)
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={TRACE_ID};Parent={PARENT};Sampled=1")
    event = {"version": "0", "id": "evt-span", "detail-type": "Scheduled Event", "source": "aws.events"}
    event |= {"account": "123456789012", "time": "2026-01-01T00:00:00Z", "region": "eu-west-1", "resources": []}
    event["detail"] = {**MESSAGE, "correlation_id": "corr-evt-span"}
    assert worker.lambda_handler(event, lambda_context) is None
    monkeypatch.setitem(worker.HANDLERS, source, failing)
    with pytest.raises(RuntimeError):
        worker.lambda_handler({**event, "id": "evt-failed"}, lambda_context)
    done, failed = handled(spans, source)
    assert (done.attributes["message_id"], failed.attributes["message_id"]) == ("evt-span", "evt-failed")
    assert all(in_the_functions_trace(s) and s.attributes["correlation_id"] == "corr-evt-span" for s in (done, failed))
    assert done.status.status_code == StatusCode.UNSET and failed.status.status_code == StatusCode.ERROR
    assert [e.name for e in failed.events] == ["exception"]
{%- endif %}
{%- endif %}
