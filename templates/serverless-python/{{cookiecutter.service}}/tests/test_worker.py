"""Functions that are not behind the API, through the real entry point: correlation ids adopted, failures reported."""

from __future__ import annotations

{% if cookiecutter._msgen.consumers | rejectattr("kind", "equalto", "on_event") | list %}import json

{% endif %}import pytest

import worker

SQS = [{% for c in cookiecutter._msgen.consumers if c.kind == "consume" %}"{{ c.source }}"{% if not loop.last %}, {% endif %}{% endfor %}]
SNS = [{% for c in cookiecutter._msgen.consumers if c.kind == "on_sns" %}"{{ c.source }}"{% if not loop.last %}, {% endif %}{% endfor %}]
EVENTS = [{% for c in cookiecutter._msgen.consumers if c.kind == "on_event" %}"{{ c.source }}"{% if not loop.last %}, {% endif %}{% endfor %}]
MESSAGE = {"id": "m-1", "email": "customer@example.com", "note": "hello"}


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
{%- endif %}
