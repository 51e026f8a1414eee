"""Logical IDs and physical names: a contract with every deployed stack.

A logical ID is derived only from a *name* in the spec (a table's name, a
route's method and path), never from a position in a list, so adding, removing
or reordering entries never renames another resource. Renaming a resource makes
CloudFormation replace it, and a replaced table loses its data. Change nothing
here without a migration note: ``tests/test_logical_ids.py`` pins the scheme.
"""

from __future__ import annotations

import hashlib
import re

MAX_LOGICAL_ID = 255


def pascal(name: str) -> str:
    """``payment-events`` / ``payment_events`` -> ``PaymentEvents``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def logical_id(*parts: str) -> str:
    """Join PascalCased parts; over-long IDs are cut and keep a stable hash of the whole."""
    lid = "".join(pascal(p) for p in parts)
    if len(lid) > MAX_LOGICAL_ID:
        digest = hashlib.sha256(lid.encode()).hexdigest()[:10].upper()
        lid = lid[: MAX_LOGICAL_ID - len(digest)] + digest
    return lid


def path_segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def segment_id(segment: str) -> str:
    """``payments`` -> ``Payments``; ``{id}`` -> ``ParamId``; ``{proxy+}`` -> ``ParamProxyGreedy``."""
    if segment.startswith("{") and segment.endswith("}"):
        inner = segment[1:-1]
        greedy = inner.endswith("+")
        return "Param" + pascal(inner.rstrip("+")) + ("Greedy" if greedy else "")
    return pascal(segment)


def path_id(path: str) -> str:
    """``/payments/{id}`` -> ``PaymentsParamId``; ``/`` -> ``Root``."""
    segs = path_segments(path)
    return "".join(segment_id(s) for s in segs) if segs else "Root"


def resource_id_for_path(path: str) -> str:
    return logical_id("ApiRes", path_id(path))


def method_id(method: str, path: str) -> str:
    return logical_id("ApiMethod", method.capitalize(), path_id(path))


def table_id(name: str) -> str:
    return logical_id(name, "Table")


def bucket_id(name: str) -> str:
    return logical_id(name, "Bucket")


def function_id(name: str) -> str:
    return logical_id(name, "Function")
