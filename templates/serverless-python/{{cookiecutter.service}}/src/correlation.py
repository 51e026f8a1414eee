"""The correlation-ID contract: one id follows a request through every service.

- In: the id comes from the correlation header; without one, API Gateway's request id is the id.
- Out: the id goes back to the caller in the same header.
- Onward: ``http_headers()`` for calls to other services, ``message_attributes()`` for SQS and SNS, and
  ``detail["correlation_id"]`` in events on the fleet's bus (events.py); an event a rule delivers to a queue carries it there.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

HEADER = os.environ.get("CORRELATION_HEADER", "X-Correlation-Id")
ATTRIBUTE = "correlation_id"
# API Gateway uses an incoming X-Amzn-RequestId as its own request id when it is a UUID, so the
# next service's access log carries the same id (docs/standards.md in msgen).
GATEWAY_REQUEST_ID_HEADER = "X-Amzn-RequestId"
_VALID = re.compile(r"^[A-Za-z0-9._:/=+@-]{1,128}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_current: ContextVar[str] = ContextVar("correlation_id", default="")


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """Header lookup that ignores case (clients and proxies differ)."""
    wanted = name.lower()
    for key, value in (headers or {}).items():
        if key.lower() == wanted:
            return value[0] if isinstance(value, list) and value else value
    return None


def gateway_request_id(event: Mapping[str, Any]) -> str | None:
    return (event.get("requestContext") or {}).get("requestId")


def is_valid(cid: str) -> bool:
    """Accept ids of safe characters only: an id is logged and forwarded, so it must not carry anything else."""
    return bool(_VALID.match(cid))


def from_event(event: Mapping[str, Any]) -> str:
    """The caller's id if it sent a well-formed one, else API Gateway's request id, else a new UUID."""
    incoming = _header(event.get("headers"), HEADER) or _header(event.get("multiValueHeaders"), HEADER)
    if incoming and _VALID.match(incoming):
        return incoming
    return gateway_request_id(event) or str(uuid.uuid4())


def start(event: Mapping[str, Any]) -> str:
    """Adopt the id of the request being handled; later calls to current() return it."""
    cid = from_event(event)
    _current.set(cid)
    return cid


def adopt(cid: str) -> str:
    """Make ``cid`` the current id (for work that did not start from an HTTP request, e.g. a queue message)."""
    _current.set(cid)
    return cid


def current() -> str:
    cid = _current.get()
    if not cid:
        cid = str(uuid.uuid4())
        _current.set(cid)
    return cid


def with_header(response: dict[str, Any], cid: str) -> dict[str, Any]:
    """Return the id to the caller on an API Gateway proxy response."""
    if "multiValueHeaders" in response:
        response["multiValueHeaders"] = {**(response["multiValueHeaders"] or {}), HEADER: [cid]}
    else:
        response["headers"] = {**(response.get("headers") or {}), HEADER: cid}
    return response


def http_headers(headers: Mapping[str, str] | None = None) -> dict[str, str]:
    """Headers for a call to another service, carrying the current id, and the trace header of the work being done
    (X-Amzn-Trace-Id: API Gateway continues that trace; botocore adds it to AWS calls by itself, not to these)."""
    from observability import TRACE_HEADER, current_trace_header, trace_root

    cid = current()
    out = {**(headers or {}), HEADER: cid}
    if _UUID.match(cid):
        out[GATEWAY_REQUEST_ID_HEADER] = cid
    trace = current_trace_header()
    if trace_root(trace):
        out[TRACE_HEADER] = trace
    return out


def message_attributes(attributes: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """MessageAttributes for sqs.send_message / sns.publish, carrying the current id."""
    return {**(attributes or {}), ATTRIBUTE: {"DataType": "String", "StringValue": current()}}


def from_message(record: Mapping[str, Any]) -> str | None:
    """The id carried by an SQS record or an SNS notification, if any."""
    sqs = (record.get("messageAttributes") or {}).get(ATTRIBUTE) or {}
    if sqs.get("stringValue"):
        return sqs["stringValue"]
    sns = ((record.get("Sns") or record).get("MessageAttributes") or {}).get(ATTRIBUTE) or {}
    if sns.get("Value"):
        return sns["Value"]
    return _from_event_body(record.get("body"))


def _from_event_body(body: Any) -> str | None:
    """An EventBridge event a rule delivered to a queue is the message's body: its id is detail["correlation_id"]."""
    if not isinstance(body, str) or not body.startswith("{"):
        return None
    try:
        event = json.loads(body)
    except ValueError:
        return None
    detail = event.get("detail") if isinstance(event, dict) else None
    cid = detail.get(ATTRIBUTE) if isinstance(detail, dict) else None
    return cid if isinstance(cid, str) else None
