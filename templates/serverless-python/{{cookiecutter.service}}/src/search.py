"""The service's OpenSearch Serverless collections: signed HTTPS requests to a collection's endpoint.

Get a collection by its name in service.yaml with ``storage.collection(name)``; SEARCH_<NAME> holds its endpoint
(https://<id>.<region>.aoss.amazonaws.com). Every request is signed with Signature Version 4 for the service
"aoss" by botocore, with the credentials of the function's or task's role (read when a request is made, so they
are refreshed when they expire), and carries the current correlation id; boto3 and botocore are imported on first
use, not during the cold start. What a role may do is the collection's
data access policy, written from service.yaml's `uses:`: read = search and describe indexes, write = also
index and delete documents and create indexes.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import correlation
from rest import to_json  # DynamoDB numbers (Decimal) as JSON numbers
from sigv4 import send, session  # send: the network call, which tests replace here

if TYPE_CHECKING:
    from botocore.awsrequest import AWSPreparedRequest

SERVICE = "aoss"


class SearchError(Exception):
    """The collection answered with an error (status and OpenSearch's reason)."""

    def __init__(self, status: int, reason: str):
        super().__init__(f"OpenSearch answered {status}: {reason}")
        self.status, self.reason = status, reason


def sign(method: str, url: str, body: bytes | None = None) -> AWSPreparedRequest:
    """A request signed for OpenSearch Serverless, with the payload's hash and the correlation id among the signed headers."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.exceptions import NoCredentialsError

    credentials = session().get_credentials()
    if credentials is None:
        raise NoCredentialsError()
    host = urlsplit(url).hostname or ""
    # The collection's Region is in its endpoint: <id>.<region>.aoss.amazonaws.com.
    region = host.split(".")[1] if host.endswith(".aoss.amazonaws.com") else session().region_name
    headers = {
        "Content-Type": "application/json",
        "X-Amz-Content-SHA256": hashlib.sha256(body or b"").hexdigest(),  # OpenSearch Serverless requires it
        correlation.HEADER: correlation.current(),
    }
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(credentials.get_frozen_credentials(), SERVICE, region).add_auth(request)
    return request.prepare()


def _reason(payload: Any, text: bytes) -> str:
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        return str(error.get("reason") or error.get("type"))
    return str(error or text[:200].decode("utf-8", "replace"))


class Collection:
    """One collection, by its endpoint. Index names are lower case; document ids are any text."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint.rstrip("/")

    def request(self, method: str, path: str, body: Any = None, allow: tuple[int, ...] = ()) -> tuple[int, Any]:
        """Send ``method path`` with a JSON body; the status and the JSON answer. Errors raise SearchError unless allowed."""
        data = None if body is None else to_json(body).encode()
        status, text = send(sign(method, self.endpoint + path, data))
        try:
            payload = json.loads(text) if text else None
        except ValueError:
            payload = None
        if status >= 300 and status not in allow:
            raise SearchError(status, _reason(payload, text))
        return status, payload

    def ensure_index(self, index: str, mappings: dict[str, Any] | None = None) -> bool:
        """Create ``index`` (with field mappings, if given) unless it exists; True when it was created."""
        body = {"mappings": mappings} if mappings else None
        status, payload = self.request("PUT", f"/{quote(index)}", body, allow=(400,))
        if status == 400 and "already_exists" not in json.dumps(payload):
            raise SearchError(status, _reason(payload, b""))
        return status < 300

    def index_document(self, index: str, document: dict[str, Any], doc_id: str | None = None) -> str:
        """Add or replace a document (PUT <index>/_doc/<id>); without an id the collection makes one. Returns the id."""
        if doc_id is None:
            _, payload = self.request("POST", f"/{quote(index)}/_doc", document)
        else:
            _, payload = self.request("PUT", f"/{quote(index)}/_doc/{quote(str(doc_id), safe='')}", document)
        return payload["_id"]

    def delete_document(self, index: str, doc_id: str) -> bool:
        """Remove a document; False when there was none."""
        status, _ = self.request("DELETE", f"/{quote(index)}/_doc/{quote(str(doc_id), safe='')}", allow=(404,))
        return status < 300

    def query(self, index: str, text: str = "", size: int = 20) -> list[dict[str, Any]]:
        """Documents of ``index`` (or of several: "a,b") matching ``text`` (simple query syntax; every document when empty).

        Best matches first, as {"id", "score", "document"}; none while nothing has been indexed yet."""
        match = {"simple_query_string": {"query": text}} if text.strip() else {"match_all": {}}
        body = {"size": size, "query": match}
        status, payload = self.request("POST", f"/{quote(index, safe=',')}/_search", body, allow=(404,))
        if status == 404:
            return []
        hits = payload["hits"]["hits"]
        return [{"id": hit["_id"], "score": hit.get("_score"), "document": hit.get("_source", {})} for hit in hits]
