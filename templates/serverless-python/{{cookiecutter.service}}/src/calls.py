"""Calls to the other services of the fleet: HTTPS requests to their APIs, signed with Signature Version 4.

``call("catalog-svc", "GET", "/products/p-1")`` sends the request to the callee's base URL, which the template
gives the code as SERVICE_URL_<CALLEE> (SERVICE_URL_CATALOG_SVC: the stage's invoke URL, read from the SSM
parameter /msgen/<env>/catalog-svc/api-url when the stack was deployed). The callee's routes use IAM auth: the
request is signed by botocore for "execute-api" with the credentials of the function's or task's role (allowed by
`uses: ["catalog-svc:invoke..."]` in service.yaml, on the callee's API and stage only), and carries the current
correlation id, so the callee logs the same id. boto3 and botocore are imported on first use, not during the cold start.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import correlation
from rest import to_json  # DynamoDB numbers (Decimal) as JSON numbers
from sigv4 import send, session  # send: the network call, which tests replace here

if TYPE_CHECKING:
    from botocore.awsrequest import AWSPreparedRequest

SERVICE = "execute-api"


class CallError(Exception):
    """The other service answered with an error status."""

    def __init__(self, service: str, status: int, body: bytes):
        super().__init__(f"{service} answered {status}: {body[:200].decode('utf-8', 'replace')}")
        self.service, self.status, self.body = service, status, body


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def base_url(service: str) -> str:
    """The callee's base URL: SERVICE_URL_<SERVICE> (upper case, - as _), without a trailing /."""
    variable = f"SERVICE_URL_{service.upper().replace('-', '_')}"
    try:
        return os.environ[variable].rstrip("/")
    except KeyError:
        raise RuntimeError(f'{variable} is not set: add `uses: ["{service}:invoke"]` to service.yaml') from None


def sign(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> AWSPreparedRequest:
    """A request signed by botocore's SigV4 signer for API Gateway, with the correlation id among the signed headers."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.exceptions import NoCredentialsError

    credentials = session().get_credentials()
    if credentials is None:
        raise NoCredentialsError()
    host = urlsplit(url).hostname or ""
    # The API's Region is in its invoke URL: <api id>.execute-api.<region>.amazonaws.com.
    parts = host.split(".")
    region = (
        parts[2] if len(parts) > 3 and parts[1] == SERVICE else os.environ.get("AWS_REGION") or session().region_name
    )
    request = AWSRequest(
        method=method,
        url=url,
        data=body,
        headers=correlation.http_headers(
            {
                "Accept": "application/json",
                **({"Content-Type": "application/json"} if body is not None else {}),
                **(headers or {}),
            }
        ),
    )
    SigV4Auth(credentials.get_frozen_credentials(), SERVICE, region).add_auth(request)
    return request.prepare()


def call(
    service: str,
    method: str,
    path: str,
    json_body: Any = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    allow: tuple[int, ...] = (),
) -> Answer:
    """Call ``method path`` of another service's API (path as in its routes, values filled in, e.g. /products/p-1).

    The answer's status and body; an error status (300 or more) raises CallError unless it is in ``allow``."""
    url = base_url(service) + "/" + path.lstrip("/") + (f"?{urlencode(query)}" if query else "")
    data = None if json_body is None else to_json(json_body).encode()
    status, body = send(sign(method.upper(), url, data, headers))
    if status >= 300 and status not in allow:
        raise CallError(service, status, body)
    return Answer(status, body)
