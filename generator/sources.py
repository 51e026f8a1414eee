"""Where a resource came from: the path of the spec element it was made for.

Every resource msgen emits carries ``Metadata.msgen.source``, a path into the spec that is independent of
the file's layout and of list positions, so that reformatting, reordering or moving the spec never changes
a template: ``service``, ``api``, ``api.routes[GET /payments/{id}]``, ``persistence.tables[payments]``,
``messaging.queues[jobs].consumer``, ``workflows[refund]``, ``container``, ``database``, ``network``,
``content_delivery``, ``observability``. ``msgen explain`` maps a source back to ``file:line`` with
:func:`locate`.
"""

from __future__ import annotations

import re
from typing import Any

SERVICE = "service"
_PART = re.compile(r"([a-z_]+)(?:\[([^\]]+)\])?")


def route(method: str, path: str) -> str:
    return f"api.routes[{method} {path}]"


def named(section: str, name: str) -> str:
    """``named("persistence.tables", "orders")`` -> ``persistence.tables[orders]``."""
    return f"{section}[{name}]"


def to_path(source: str, data: Any) -> tuple[str | int, ...] | None:
    """The spec path (with list indexes) of ``source`` in the spec ``data``, or None when it names nothing there."""
    path: list[str | int] = []
    node = data
    if source == SERVICE:
        return ("service",)
    for part in source.split("."):
        m = _PART.fullmatch(part)
        if not m or not isinstance(node, dict) or m.group(1) not in node:
            return None
        node = node[m.group(1)]
        path.append(m.group(1))
        key = m.group(2)
        if key is None:
            continue
        if not isinstance(node, list):
            return None
        for i, item in enumerate(node):
            if isinstance(item, dict) and _matches(item, key):
                node = item
                path.append(i)
                break
        else:
            return None
    return tuple(path)


def _matches(item: dict, key: str) -> bool:
    if "name" in item:
        return str(item["name"]) == key
    method, _, path = key.partition(" ")
    return str(item.get("method", "")).upper() == method and item.get("path") == path
