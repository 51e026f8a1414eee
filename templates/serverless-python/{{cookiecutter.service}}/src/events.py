"""Events for the other services of the fleet: put on the fleet's EventBridge bus, as this service.

``publish("OrderPlaced", {"order_id": "o-1"})`` puts one event on the bus named by EVENT_BUS_NAME (the template
reads it from the SSM parameter /msgen/<env>/fleet/event-bus-name), with source = this service's name
(EVENT_BUS_SOURCE: the role may put events with no other source, so no service can speak for another) and the
detail-type given, which must be one of `emits:` in service.yaml. The envelope carries the correlation id in
``detail["correlation_id"]``; a consumer's entry point (worker.py) adopts it, so every service logs the same id.
boto3 is imported on first use, not during the cold start.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import correlation
from rest import to_json  # DynamoDB numbers (Decimal) as JSON numbers

CORRELATION_FIELD = "correlation_id"  # detail[CORRELATION_FIELD]: the documented place of the id in every event


class PublishError(Exception):
    """EventBridge did not accept the event."""


@cache
def _client():
    import boto3

    return boto3.client("events")


def envelope(detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    """The PutEvents entry: this service's source, the fleet's bus, the detail with the current correlation id."""
    return {
        "Source": os.environ["EVENT_BUS_SOURCE"],
        "DetailType": detail_type,
        "Detail": to_json({**detail, CORRELATION_FIELD: correlation.current()}),
        "EventBusName": os.environ["EVENT_BUS_NAME"],
    }


def publish(detail_type: str, detail: dict[str, Any]) -> str:
    """Put one event on the fleet's bus; its event id. Raises PublishError when EventBridge refuses it."""
    result = _client().put_events(Entries=[envelope(detail_type, detail)])
    entry = result["Entries"][0]
    if result.get("FailedEntryCount") or "EventId" not in entry:
        raise PublishError(f"{detail_type}: {entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")
    return entry["EventId"]


def from_event(event: dict[str, Any]) -> str | None:
    """The correlation id an EventBridge event carries (detail["correlation_id"]), if any."""
    detail = event.get("detail")
    return detail.get(CORRELATION_FIELD) if isinstance(detail, dict) else None


def clear_caches() -> None:
    """Forget the cached client (tests create fresh in-memory AWS for each test)."""
    _client.cache_clear()
