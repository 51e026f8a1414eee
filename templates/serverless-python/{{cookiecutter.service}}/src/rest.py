"""Small helpers shared by the handlers: JSON in and out, keys and ids, the caller."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, UnauthorizedError
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(value: Any) -> str:
    """JSON text of a value that may hold DynamoDB numbers (Decimal)."""
    return json.dumps(value, default=_default)


def plain(value: Any) -> Any:
    """DynamoDB items as plain JSON values (Decimal becomes int or float)."""
    return json.loads(to_json(value))


def json_response(status: int, body: Any = None, location: str | None = None) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=None if body is None else to_json(body),
        headers={"Location": location} if location else None,
    )


def json_body(event: APIGatewayProxyEvent) -> dict[str, Any]:
    """The request body as a JSON object (numbers as Decimal, as DynamoDB wants them)."""
    if not event.body:
        return {}
    try:
        body = json.loads(event.decoded_body, parse_float=Decimal)
    except ValueError as exc:
        raise BadRequestError(f"body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequestError("body must be a JSON object")
    return body


def required(body: dict[str, Any], name: str) -> Any:
    """A value the request must carry."""
    if body.get(name) in (None, ""):
        raise BadRequestError(f"'{name}' is required")
    return body[name]


def key_value(value: str, attribute_type: str) -> Any:
    """A path or query parameter as a DynamoDB key value of the attribute's type (S or N)."""
    if attribute_type == "N":
        try:
            return Decimal(value)
        except ArithmeticError:
            raise BadRequestError(f"'{value}' is not a number") from None
    return value


def query_value(event: APIGatewayProxyEvent, name: str, attribute_type: str) -> Any:
    """A required query string parameter, as a key value."""
    value = event.get_query_string_value(name)
    if not value:
        raise BadRequestError(f"query parameter '{name}' is required")
    return key_value(value, attribute_type)


def caller_id(event: APIGatewayProxyEvent) -> str:
    """The signed-in user (the `sub` claim Cognito's authorizer passes on)."""
    sub = event.request_context.authorizer.claims.get("sub")
    if not sub:
        raise UnauthorizedError("a signed-in user is required")
    return sub


def new_id() -> str:
    """A new id for something the service creates: ids are made here, never chosen by the client."""
    return str(uuid.uuid4())


def new_number() -> int:
    """A new random numeric id (48 bits) for tables whose key is a number."""
    return uuid.uuid4().int >> 80


def sortable_id() -> str:
    """A new id that sorts by creation time (for sort keys): UTC time to the microsecond, then random."""
    return f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%fZ}-{uuid.uuid4().hex[:8]}"


def sortable_number() -> int:
    """A new numeric sort key that grows with time: microseconds since the epoch."""
    return time.time_ns() // 1000


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def decimals(value: Any) -> Any:
    """JSON values as DynamoDB wants them: floats become Decimal."""
    return json.loads(json.dumps(value), parse_float=Decimal)
