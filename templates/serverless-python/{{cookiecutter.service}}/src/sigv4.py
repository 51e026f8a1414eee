"""HTTPS requests signed with Signature Version 4 by botocore, for the helpers that call AWS over plain HTTPS
(search.py: OpenSearch Serverless; calls.py: the other services' APIs).

The session (the role's credentials, refreshed when they expire) and botocore's HTTP client are made on first use,
not during the cold start, and kept for the next request.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import boto3
    from botocore.awsrequest import AWSPreparedRequest
    from botocore.httpsession import URLLib3Session

TIMEOUT_S = 10


@cache
def session() -> boto3.Session:
    import boto3

    return boto3.Session()


@cache
def http() -> URLLib3Session:
    """botocore's HTTP client: TLS verified, connections kept for the next request."""
    from botocore.httpsession import URLLib3Session

    return URLLib3Session(timeout=TIMEOUT_S)


def send(request: AWSPreparedRequest) -> tuple[int, bytes]:
    """Send a signed request; the status and the body of the answer. The only network call of the helpers (their tests
    replace it in the helper's module: ``monkeypatch.setattr(search, "send", ...)``)."""
    response = http().send(request)
    return response.status_code, response.content


def clear_caches() -> None:
    """Forget the cached session and HTTP client (tests)."""
    session.cache_clear()
    http.cache_clear()
