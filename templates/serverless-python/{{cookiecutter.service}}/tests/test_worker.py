"""Queue consumers through the real entry point: correlation ids adopted, failures reported per message."""

from __future__ import annotations

import json

import pytest
from conftest import FakeContext, sqs_event

import worker

QUEUES = [{% for c in cookiecutter._msgen.consumers %}"{{ c.queue.name }}"{% if not loop.last %}, {% endif %}{% endfor %}]


@pytest.mark.parametrize("queue", QUEUES)
def test_a_good_message_is_processed_with_its_correlation_id(monkeypatch, log_lines, queue):
    monkeypatch.setenv("CONSUMER_QUEUE", queue)
    event = sqs_event(json.dumps({"email": "customer@example.com", "note": "hello"}), correlation_id="corr-from-producer")
    assert worker.lambda_handler(event, FakeContext()) == {"batchItemFailures": []}
    lines = log_lines()
    assert lines and {line["correlation_id"] for line in lines} == {"corr-from-producer"}


@pytest.mark.parametrize("queue", QUEUES)
def test_a_bad_message_is_reported_alone(monkeypatch, queue):
    monkeypatch.setenv("CONSUMER_QUEUE", queue)
    event = sqs_event(json.dumps({"note": "fine"}), "not json at all")
    response = worker.lambda_handler(event, FakeContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
