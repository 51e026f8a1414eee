{%- set collections = cookiecutter._msgen.collections -%}
{#- The first collection with ids of its own, else the first one (the file is removed when there is none). -#}
{%- set c = ((collections | selectattr("custom_ids") | list) + collections + [{"name": "none", "custom_ids": True}]) | first -%}
"""The search helper: requests signed for OpenSearch Serverless that carry the correlation id. The search_service
fixture (tests/conftest.py) answers them; send() itself is tested against a stub server on loopback."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import correlation
import search
import storage

REAL_SEND = search.send  # the network call, before the search_service fixture replaces it in each test
COLLECTION = "{{ c.name }}"


def test_requests_are_signed_for_aoss_with_the_payload_hash_and_the_correlation_id(search_service):
    correlation.adopt("search-helper-1")
{%- if c.custom_ids %}
    storage.collection(COLLECTION).index_document("notes", {"title": "Blue lamp", "price": Decimal("12.5")}, "n/1")
    (sent,) = search_service.sent(COLLECTION, "PUT", "/notes/_doc/n/1")
    assert sent.url.endswith("/notes/_doc/n%2F1"), "ids are escaped in the path"
{%- else %}
    storage.collection(COLLECTION).index_document("notes", {"title": "Blue lamp", "price": Decimal("12.5")})
    (sent,) = search_service.sent(COLLECTION, "POST", "/notes/_doc")
{%- endif %}
    search_service.assert_signed(sent, "search-helper-1")
    assert sent.body == {"title": "Blue lamp", "price": 12.5}, "DynamoDB's numbers are sent as JSON numbers"
    assert sent.url.startswith("https://") and sent.host.endswith(".eu-west-1.aoss.amazonaws.com")


def test_documents_are_indexed_found_and_removed(search_service):
    collection = storage.collection(COLLECTION)
    assert collection.query("notes", "lamp") == [], "nothing is found before anything is indexed"
{%- if c.custom_ids %}
    assert collection.index_document("notes", {"title": "Blue lamp"}, "n-1") == "n-1"
    collection.index_document("notes", {"title": "Red chair"}, "n-2")
    assert [hit["id"] for hit in collection.query("notes", "lamp")] == ["n-1"]
    assert sorted(hit["id"] for hit in collection.query("notes")) == ["n-1", "n-2"]
    assert collection.delete_document("notes", "n-1") is True
    assert collection.delete_document("notes", "n-1") is False, "deleting a missing document is not an error"
    assert collection.query("notes", "lamp") == []
{%- else %}
    made = collection.index_document("notes", {"title": "Blue lamp"})
    collection.index_document("notes", {"title": "Red chair"})
    assert [hit["id"] for hit in collection.query("notes", "lamp")] == [made]
    assert len(collection.query("notes")) == 2
{%- endif %}
    searches = search_service.sent(COLLECTION, "POST", "/notes/_search")
    assert searches[1].body == {"size": 20, "query": {"simple_query_string": {"query": "lamp"}}}
    assert searches[2].body == {"size": 20, "query": {"match_all": {}}}


def test_an_index_is_created_once(search_service):
    collection = storage.collection(COLLECTION)
    assert collection.ensure_index("notes", {"properties": {"title": {"type": "text"}}}) is True
    assert collection.ensure_index("notes") is False
    first, second = search_service.sent(COLLECTION, "PUT", "/notes")
    assert first.body == {"mappings": {"properties": {"title": {"type": "text"}}}} and second.body is None


def test_errors_of_the_collection_are_raised(monkeypatch):
    denied = {"error": {"type": "security_exception", "reason": "no permissions for [indices:data/read/search]"}}
    monkeypatch.setattr(search, "send", lambda request: (403, json.dumps(denied).encode()))
    with pytest.raises(search.SearchError) as raised:
        storage.collection(COLLECTION).query("notes", "lamp")
    assert raised.value.status == 403 and "no permissions" in raised.value.reason


@pytest.fixture
def stub_endpoint():
    """An HTTP server on loopback that records what it receives and answers as OpenSearch does to an indexed document."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
            answer = json.dumps({"_index": "notes", "_id": "n-1", "result": "created"}).encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    thread.join(timeout=10)


def test_send_delivers_the_signed_request(monkeypatch, stub_endpoint):
    url, received = stub_endpoint
    monkeypatch.setattr(search, "send", REAL_SEND)
    correlation.adopt("search-helper-2")
    assert search.Collection(url).index_document("notes", {"title": "Blue lamp"}, "n-1") == "n-1"
    (request,) = received
    assert request["path"] == "/notes/_doc/n-1" and request["body"] == {"title": "Blue lamp"}
    headers = {name.lower(): value for name, value in request["headers"].items()}
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
    assert "/eu-west-1/aoss/aws4_request" in headers["authorization"]
    assert headers[correlation.HEADER.lower()] == "search-helper-2"
