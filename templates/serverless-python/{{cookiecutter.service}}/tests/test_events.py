"""Events on the fleet's bus: this service's source, the correlation id in the detail, and the consumer's side of it."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

import correlation
import events

EMITS = [{% for e in cookiecutter._msgen.emits %}"{{ e }}"{% if not loop.last %}, {% endif %}{% endfor %}]


@pytest.mark.parametrize("detail_type", EMITS)
def test_an_event_goes_on_the_fleet_bus_as_this_service_with_the_correlation_id(monkeypatch, detail_type):
    client = boto3.client("events")
    entry = {
        "Source": "{{ cookiecutter.service }}",
        "DetailType": detail_type,
        "Detail": json.dumps({"order_id": "o-1", "correlation_id": "corr-event-1"}),
        "EventBusName": "shop-test",
    }
    with Stubber(client) as stub:
        stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]}, {"Entries": [entry]})
        monkeypatch.setattr(events, "_client", lambda: client)
        correlation.adopt("corr-event-1")
        assert events.publish(detail_type, {"order_id": "o-1"}) == "e-1"
        stub.assert_no_pending_responses()


@pytest.mark.parametrize("detail_type", EMITS)
def test_an_event_is_accepted_by_the_fleet_bus(fleet_bus, detail_type):
    correlation.adopt("corr-2")
    assert events.publish(detail_type, {"n": 1})  # moto's bus, as the fleet stack makes it: an event id


@pytest.mark.parametrize("detail_type", EMITS)
def test_a_refused_event_raises(monkeypatch, detail_type):
    client = boto3.client("events")
    with Stubber(client) as stub:
        refused = [{"ErrorCode": "AccessDeniedException", "ErrorMessage": "not allowed"}]
        stub.add_response("put_events", {"FailedEntryCount": 1, "Entries": refused})
        monkeypatch.setattr(events, "_client", lambda: client)
        with pytest.raises(events.PublishError, match="AccessDeniedException"):
            events.publish(detail_type, {})


def test_a_consumer_adopts_the_id_of_an_event_a_rule_delivered_to_its_queue():
    body = json.dumps({"source": "another-svc", "detail-type": "Something", "detail": {"correlation_id": "corr-3"}})
    assert correlation.from_message({"body": body, "messageAttributes": {}}) == "corr-3"
    assert events.from_event({"detail": {"correlation_id": "corr-4"}}) == "corr-4"
    assert correlation.from_message({"body": "not json", "messageAttributes": {}}) is None
