"""Small helpers shared by the handlers: JSON in, JSON out, DynamoDB keys."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def plain(value: Any) -> Any:
    """DynamoDB items as plain JSON values (Decimal becomes int or float)."""
    return json.loads(json.dumps(value, default=_default))


def json_response(status: int, body: Any = None) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=None if body is None else json.dumps(body, default=_default),
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


def key_value(value: str, attribute_type: str) -> Any:
    """A path parameter as a DynamoDB key value of the attribute's type (S or N)."""
    if attribute_type == "N":
        try:
            return Decimal(value)
        except ArithmeticError:
            raise BadRequestError(f"'{value}' is not a number") from None
    return value
