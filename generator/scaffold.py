"""`msgen new`: render a service repository from a cookiecutter template, all or nothing.

The template's context is computed here from the validated spec; cookiecutter renders the template with
it (StrictUndefined: a missing variable is an error) into a temporary directory next to the destination,
msgen adds the synthesized template, and only then is the result moved into place with a rename. A
failure at any step leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import keyword
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import jinja2
import yaml

from generator import __version__, openapi
from generator.errors import InputError, MsgenError, OutputExistsError
from generator.kinds import Use
from generator.plan import build_plan, parse_uses
from generator.resources import data_dir
from generator.spec.loader import Located
from generator.spec.models import SERVICE_NAME_RE, ServiceSpec
from generator.spec.refs import service_refs

TEMPLATE = "serverless-python"
STATUS = {"create": 201, "delete": 204, "enqueue": 202, "start": 202, "index": 201}
# What the generated container handlers implement; other container routes start as a status response.
CONTAINER_KINDS = ("create", "get", "list", "static")


class RenderError(MsgenError):
    """The template could not be rendered (a bug in a template, or an unwritable place)."""


def check_name(name: str) -> None:
    """Refuse a bad service name before anything is written."""
    if not re.fullmatch(SERVICE_NAME_RE, name):
        raise InputError(
            f"'{name}' is not a valid service name: use 3-40 lower-case letters, digits and '-', "
            "starting with a letter and not ending with '-' (e.g. payment-svc)"
        )


def with_service_name(loc: Located, text: str, name: str) -> str:
    """The spec's text with its top-level ``service:`` value replaced, keeping comments and layout."""
    line, col = loc.values[("service",)]
    lines = text.splitlines(keepends=True)
    current = lines[line - 1]
    value = str(loc.data["service"])
    start = col - 1
    if current[start:start + len(value)] != value:  # quoted or unusual: rewrite the whole line
        lines[line - 1] = f"service: {name}\n"
    else:
        lines[line - 1] = current[:start] + name + current[start + len(value):]
    return "".join(lines)


def _singular(word: str) -> str:
    """``refunds`` -> ``refund``, ``line-items`` -> ``line_item``."""
    word = re.sub(r"[^A-Za-z0-9_]", "_", word)
    return word[:-1] if word.endswith("s") and not word.endswith("ss") and len(word) > 1 else word


# Names a generated handler uses: a local variable named like one of them would shadow it.
HANDLER_NAMES = {"event", "body", "key", "item", "table", "value", "result", "old", "obj", "objects", "json", "storage", "correlation",
                 "logger", "metrics", "tracer", "uuid", "datetime", "os", "Key", "Counter", "Response", "MetricUnit", "document",
                 "document_id", "hits", "text", "calls", "events", "answer", "event_id"}


def _variable(word: str, taken: list[str]) -> str:
    """A Python local variable for one element of collection ``word`` that shadows nothing."""
    name = _singular(word)
    if not name.isidentifier() or keyword.iskeyword(name) or name in HANDLER_NAMES or name in taken or "_" + name in taken:
        name = f"new_{name}"
    return name


def _literal(value: str) -> str:
    """A Python string literal (double quotes, as ruff format writes them)."""
    return json.dumps(value, ensure_ascii=False)


def _new_key(attr: dict, sort: bool) -> str:
    if attr["type"] == "N":
        return "sortable_number()" if sort else "new_number()"
    return "sortable_id()" if sort else "new_id()"


def _route_data(r, params: list[str], target: str, auth: str, table: dict | None, access: dict[str, set[str]],
                buckets: dict, tables: dict) -> dict[str, Any]:
    """What the handler of route ``r`` does with what it may use: its kind and the data the template needs.

    Kinds on a table: create (a new item under a key the service makes), add (POST to a sub-collection of an
    item: the new element goes into a list on that item), get (one item, or the items of one partition), list,
    update, delete. Without a table: enqueue, start, object_get and object_list (a bucket), static.
    Key attributes come from the path, the signed-in caller (Cognito's ``sub``), the query string, the body
    (create only) or are made by the service (create only).
    """
    method = "GET" if r.method == "ANY" else r.method
    levels = access.get(table["name"], set()) if table else set()
    # S3 keys follow the route's path; as an f-string body, {param} are the handler's parameters.
    prefix = "/".join(("{" + s.strip("{}+") + "}") if s.startswith("{") else s for s in r.path.strip("/").split("/") if s)
    out: dict[str, Any] = {"kind": "static", "key": [], "full_key": False, "own_key": None, "child": None, "related": [],
                           "receipt": None, "bucket": None, "object_prefix": prefix, "created_at": None}
    if table:
        pk, sk = table["partition_key"], table["sort_key"]
        sources: dict[str, tuple[str, str]] = {}
        if pk["name"] in params:
            sources["pk"] = ("path", pk["name"])
        if sk and sk["name"] in params:
            sources["sk"] = ("path", sk["name"])
        if not sources and params:  # the last parameter names the item (its name differs from the key's)
            sources["pk"] = ("path", params[-1])
        last_literal = next((s for s in reversed(r.path.strip("/").split("/")) if s and not s.startswith("{")), None)
        ends_with_param = r.path.rstrip("/").split("/")[-1].startswith("{")
        kind = "static"
        if method == "POST" and "write" in levels:
            if "pk" in sources and not sk and not ends_with_param and last_literal and target == "function":
                kind = "add"
                out["child"] = {"attribute": last_literal, "literal": _literal(last_literal), "name": _variable(last_literal, params)}
            else:
                kind = "create"
        elif method == "GET" and "read" in levels:
            kind = "get" if params else "list"
        elif method in ("PUT", "PATCH") and params and "write" in levels:
            kind = "update"
        elif method == "DELETE" and params and "write" in levels:
            kind = "delete"
        if kind != "static" and "pk" not in sources:
            caller = auth == "cognito" and pk["type"] == "S" and target == "function"
            if caller and (sk or kind != "create"):
                sources["pk"] = ("caller", "")
            elif kind == "create":
                sources["pk"] = ("body", "") if sk else ("new", "")
            elif kind == "list" or target == "container":
                pass  # list scans; the container has no query string here
            else:
                sources["pk"] = ("query", "")
        if kind == "create" and sk and "sk" not in sources:
            sources["sk"] = ("new", "")
        if kind == "create" and table["created_at"] and "created_at" not in (pk["name"], sk and sk["name"]):
            out["created_at"] = "int(time.time())" if table["created_at"] == "N" else "utc_now()"
        if kind == "list" and "pk" in sources:
            kind = "get"
        if kind in ("get", "update", "delete") and "pk" not in sources:
            kind = "static"
        if kind in ("update", "delete") and sk and "sk" not in sources:
            kind = "static"
        if target == "container" and kind not in CONTAINER_KINDS:
            kind = "static"
        if kind != "static":
            exprs = {"path": lambda a, p: f'key_value({p}, "{a["type"]}")', "caller": lambda a, p: "caller_id(event)",
                     "query": lambda a, p: f'query_value(event, {_literal(a["name"])}, "{a["type"]}")',
                     "body": lambda a, p: f"required(body, {_literal(a['name'])})"}
            for role, attr in (("pk", pk), ("sk", sk)):
                if role in sources:
                    source, param = sources[role]
                    code = _new_key(attr, role == "sk") if source == "new" else exprs[source](attr, param)
                    out["key"].append({"name": attr["name"], "literal": _literal(attr["name"]), "type": attr["type"], "source": source,
                                       "param": param, "code": code})
            out["full_key"] = len(out["key"]) == (2 if sk else 1)
            out["own_key"] = next((k for k in out["key"] if k["source"] == "new"), None)
        out["kind"] = kind
        if kind == "create":
            # Read-only tables a create may use: the new item must name an existing item of each (e.g. customer_id).
            for name, lv in sorted(access.items()):
                if name in tables and name != table["name"] and lv == {"read"}:
                    other = tables[name]
                    opk = other["partition_key"]["name"]
                    field = opk if opk != "id" else f"{_singular(name)}_id"
                    out["related"].append({"table": other, "field": field, "field_literal": _literal(field),
                                           "key_literal": _literal(opk)})
    bucket_levels = {n: lv for n, lv in access.items() if n in buckets}
    written = next((n for n, lv in sorted(bucket_levels.items()) if "write" in lv), None)
    read = next((n for n, lv in sorted(bucket_levels.items()) if "read" in lv), None)
    if out["kind"] in ("create", "add", "update") and written and target == "function":
        out["receipt"] = buckets[written]
    elif out["kind"] == "static" and not table and read and method == "GET" and target == "function":
        out["kind"] = "object_get" if r.path.rstrip("/").split("/")[-1].startswith("{") else "object_list"
        out["bucket"] = buckets[read]
    return out


def _doc_id(keys: list[dict], var: str) -> str:
    """The search document id of an item (its key; ``a:b`` for a partition and sort key) as a Python expression over ``var``."""
    if len(keys) == 1:
        return f"str({var}[{keys[0]['literal']}])"
    return 'f"' + ":".join("{" + var + "[" + k["literal"].replace('"', "'") + "]}" for k in keys) + '"'


def _index_name(word: str, fallback: str) -> str:
    """An OpenSearch index name: lower case, no commas, spaces or slashes, not starting with ``_`` or ``-``."""
    name = re.sub(r"[^a-z0-9_-]+", "-", word.lower()).lstrip("_-")
    return name or fallback


def _search_uses(kind: str, target: str, access: dict[str, set[str]], collections: dict, table: dict | None,
                 child: dict | None) -> tuple[list[dict], dict | None]:
    """What a route (or worker: kind "worker") does with the search collections it may use.

    Writes index what the route handled: a created, replaced or deleted item (index: its table's name, id: its key),
    an added element (index: the list's name), a body (kind "index") or a message (workers; index: the collection's name).
    Collections without ids of their own (time series, vector search) get server-made ids and are not deleted from.
    Reads: a search route or worker, or a list route when a query string ``q`` is given (index: filled in later)."""
    granted = {n: lv for n, lv in sorted(access.items()) if n in collections}
    index_into = []
    for name, levels in granted.items():
        c = collections[name]
        if "write" not in levels or (kind == "delete" and not c["custom_ids"]):
            continue
        if kind in ("create", "update", "delete") and table:
            index_into.append({**c, "index": table["name"]})
        elif kind == "add" and child:
            index_into.append({**c, "index": _index_name(child["attribute"], name)})
        elif kind in ("index", "worker"):
            index_into.append({**c, "index": name})
    reads = next((n for n, lv in granted.items() if "read" in lv), None)
    search_in = None
    if reads and (kind in ("search", "list") or (kind == "worker" and "write" not in granted[reads])):
        search_in = {**collections[reads], "index": None}
    return index_into, search_in


def _powertools_path(path: str) -> str:
    """API Gateway's ``/a/{id}`` is Powertools' ``/a/<id>``."""
    return re.sub(r"\{([A-Za-z0-9_]+)\+?\}", r"<\1>", path)


def _mermaid(spec: ServiceSpec) -> str:
    functions = build_plan(spec).functions
    node = {t.name: f"t_{t.name.replace('-', '_')}" for t in spec.persistence.tables}
    node.update({b.name: f"b_{b.name.replace('-', '_')}" for b in spec.persistence.buckets})
    lines = ["flowchart LR", "  client([Client])"]
    cd = spec.content_delivery
    if cd.enabled:
        lines += ['  subgraph delivery["Content delivery"]', "    cdn[CloudFront]"]
        if cd.static_site:
            lines.append("    site[(S3 static site)]")
        lines.append("  end")
    lines += ['  subgraph apilayer["API"]', f'    api["API Gateway REST API ({len(spec.api.routes)} routes)"]', "  end",
              '  subgraph app["Application"]']
    lines += [f'    fn_{fn.name.replace("-", "_")}["Lambda: {fn.name}"]' for fn in functions]
    if spec.container:
        lines += ["    alb[Internal load balancer]", f'    svc["ECS Fargate: {spec.container.min_tasks}-{spec.container.max_tasks} tasks"]']
    lines += ["  end", '  subgraph data["Persistence"]']
    lines += [f'    {node[t.name]}[("DynamoDB: {t.name}")]' for t in spec.persistence.tables]
    lines += [f'    {node[b.name]}[("S3: {b.name}")]' for b in spec.persistence.buckets]
    if spec.database:
        node["database"] = "db"
        lines.append(f'    db[("Aurora PostgreSQL: {spec.database.name}")]')
    lines.append("  end")
    if spec.search.collections:
        lines.append('  subgraph search["Search"]')
        for c in spec.search.collections:
            node[c.name] = f"s_{c.name.replace('-', '_')}"
            lines.append(f'    {node[c.name]}[("OpenSearch Serverless: {c.name}")]')
        lines.append("  end")
    if spec.workflows:
        lines.append('  subgraph workflows["Workflows"]')
        for w in spec.workflows:
            node[w.name] = f"wf_{w.name.replace('-', '_')}"
            lines.append(f'    {node[w.name]}[["Step Functions: {w.name}"]]')
        lines.append("  end")
    m = spec.messaging
    if m.queues or m.topics or m.email or m.events:
        node.update({q.name: f"q_{q.name.replace('-', '_')}" for q in m.queues})
        node.update({t.name: f"tp_{t.name.replace('-', '_')}" for t in m.topics})
        node["email"] = "email"
        lines.append('  subgraph messaging["Messaging"]')
        lines += [f'    {node[q.name]}[["SQS: {q.name}"]]' for q in m.queues]
        lines += [f'    {node[t.name]}{{{{"SNS: {t.name}"}}}}' for t in m.topics]
        if m.email:
            lines.append(f'    email(["SES: {m.email.domain}"])')
        lines += [f'    ev_{e.name.replace("-", "_")}(("EventBridge: {e.name}"))' for e in m.events]
        lines.append("  end")
    callees = sorted({c.service for c in service_refs(spec).calls})
    if callees or spec.emits:  # the fleet: other services' APIs this one calls, the fleet's bus it puts events on
        lines.append('  subgraph fleet["Fleet"]')
        for name in callees:
            node[name] = f"x_{name.replace('-', '_')}"
            lines.append(f'    {node[name]}[/"{name} API (SigV4)"/]')
        if spec.emits:
            node["events"] = "fleet_bus"
            lines.append(f'    fleet_bus(("EventBridge: fleet bus ({", ".join(spec.emits)})"))')
        lines.append("  end")
    if cd.enabled:
        lines.append("  client --> cdn")
        lines += ["  cdn --> site", "  cdn -->|/api/*| api"] if cd.static_site else ["  cdn --> api"]
    else:
        lines.append("  client --> api")
    for fn in functions:
        fid = f"fn_{fn.name.replace('-', '_')}"
        if fn.routes:
            label = f"|{fn.routes[0].method} {fn.routes[0].path}|" if spec.pattern == "micro" else ""
            lines.append(f"  api -->{label.replace('{', '#123;').replace('}', '#125;')} {fid}")
        if fn.consumes:
            lines.append(f"  {node[fn.consumes]} --> {fid}")
        for target in sorted(set(fn.targets) - {fn.consumes}):
            lines.append(f"  {fid} --> {node[target]}")
    for w in spec.workflows:
        targets = sorted({u.target for u in parse_uses(w.uses)}) + [f"fn:{n}" for n in w.invokes]
        for target in targets:
            dest = f"fn_{target[3:].replace('-', '_')}" if target.startswith("fn:") else node.get(target)
            if dest:
                lines.append(f"  {node[w.name]} --> {dest}")
    if spec.container:
        lines += ["  api -->|VPC link| alb", "  alb --> svc"]
        lines += [f"  svc --> {node[target]}" for target in sorted({u.target for u in parse_uses(spec.container.uses)})]
    for t in m.topics:
        lines += [f"  {node[t.name]} --> {node[q]}" for q in t.subscribers]
    for e in m.events:
        lines += [f"  ev_{e.name.replace('-', '_')} --> {node[q]}" for q in e.targets]
    return "\n".join(lines)


def _fleet_actions(uses: list[str], emits: list[str], own: list[str] = ()) -> tuple[list[dict[str, Any]], list[str]]:
    """What a handler does for the fleet with what it handled: the calls of the routes its uses name
    (`catalog-svc:invoke:POST /orders`; a whole-API use names no route, so nothing is called), and the events it publishes
    (`events:emit:<DetailType>`, or every one of `emits:` for `events:emit`)."""
    calls: list[dict[str, Any]] = []
    events: list[str] = []
    for text in uses:
        use = Use.parse(text)
        if use.verb == "invoke" and use.detail:
            method, _, path = use.detail.partition(" ")
            segments = [{"text": s, "param": s.strip("{}+") if s.startswith("{") else None} for s in path.strip("/").split("/") if s]
            params = [g["param"] for g in segments if g["param"]]
            body = method in ("POST", "PUT", "PATCH")
            # The handler's own path parameters fill the callee's of the same name; the others come from what it handled.
            calls.append({"service": use.target, "method": "GET" if method == "ANY" else method, "path": path, "segments": segments,
                          "params": params, "body": body, "uses_payload": body or any(p not in own for p in params)})
        elif use.target == "events" and use.verb == "emit":
            events += [use.detail] if use.detail else list(emits)
    return calls, list(dict.fromkeys(events))


def context(spec: ServiceSpec, spec_text: str, source: str) -> dict[str, Any]:
    """Everything the template needs, computed once from the validated spec."""
    from generator.spec.schema import committed_schema

    # The repository's service.yaml gets its own schema line (pointing into .msgen/).
    spec_text = "".join(ln for ln in spec_text.splitlines(keepends=True) if "yaml-language-server:" not in ln).rstrip("\n")
    plan = build_plan(spec)  # what each use is and grants: read from the plan, never re-derived here
    tables = {
        t.name: {
            "name": t.name,
            "env": f"TABLE_{t.name.upper().replace('-', '_')}",
            "partition_key": {"name": t.partition_key.name, "type": t.partition_key.type},
            "sort_key": {"name": t.sort_key.name, "type": t.sort_key.type} if t.sort_key else None,
            # An index keyed on when items were made: creates set it (S: ISO 8601 text, N: epoch seconds).
            "created_at": next((k.type for i in t.indexes for k in (i.partition_key, i.sort_key) if k and k.name == "created_at"), None),
        }
        for t in spec.persistence.tables
    }
    queues = {q.name: {"name": q.name, "env": f"QUEUE_{q.name.upper().replace('-', '_')}"} for q in spec.messaging.queues}
    topics = {t.name: {"name": t.name, "env": f"TOPIC_{t.name.upper().replace('-', '_')}"} for t in spec.messaging.topics}
    buckets = {b.name: {"name": b.name, "env": f"BUCKET_{b.name.upper().replace('-', '_')}"} for b in spec.persistence.buckets}
    # OpenSearch Serverless: only search collections take the documents' own ids (time series and vector search make them).
    collections = {c.name: {"name": c.name, "env": f"SEARCH_{c.name.upper().replace('-', '_')}", "type": c.type,
                            "custom_ids": c.type == "search"} for c in spec.search.collections}
    routes = []
    for r in spec.api.routes:
        module, function = r.handler.rsplit(".", 1)
        params = [s.strip("{}+") for s in r.path.split("/") if s.startswith("{")]
        target = "container" if spec.pattern == "hybrid" and (r.target or "container") == "container" else "function"
        # A container route acts with the task role's rights (container.uses) unless it names its own.
        uses = r.uses or (list(spec.container.uses) if target == "container" and spec.container else [])
        declared = [Use.parse(u) for u in uses]  # in the spec's order: the first table named is the route's table
        access = plan.access(tuple(declared))
        table_name = next((u.target for u in declared if u.target in tables), None)
        table = tables.get(table_name) if table_name else None
        data = _route_data(r, params, target, r.auth or spec.api.auth, table, access, buckets, tables)
        kind = data["kind"]
        queue_name = next((n for n, levels in access.items() if "send" in levels and n in queues), None)
        workflow_name = next((n for n, levels in access.items() if "start" in levels), None)
        searchable = {n: lv for n, lv in access.items() if n in collections}
        if kind == "static" and table is None and queue_name and target == "function":
            kind = "enqueue"
        elif kind == "static" and table is None and workflow_name and target == "function":
            kind = "start"
        elif kind == "static" and searchable:
            reads, writes = (any(level in lv for lv in searchable.values()) for level in ("read", "write"))
            if writes and r.method in ("POST", "PUT") and target == "function":
                kind = "index"  # the body becomes a document
            elif reads and (r.method in ("GET", "ANY") or (r.method == "POST" and target == "function")):
                kind = "search"  # GET: the query string's q; POST: the body's "query"
        if kind in ("static", "search", "index"):
            table = None
        index_into, search_in = _search_uses(kind, target, access, collections, table, data["child"])
        # What the route is granted besides its main action: it sends, publishes, starts or e-mails what it handled.
        also = {"also_queues": [], "also_topics": [], "also_workflows": [], "email": False}
        if target == "function":
            also["also_queues"] = [queues[n] for n, lv in sorted(access.items()) if n in queues and "send" in lv
                                   and not (kind == "enqueue" and n == queue_name)]
            also["also_topics"] = [topics[n] for n, lv in sorted(access.items()) if n in topics and "publish" in lv]
            also["also_workflows"] = [{"name": n} for n, lv in sorted(access.items()) if "start" in lv and not (kind == "start" and n == workflow_name)]
            also["email"] = "email" in access
            written = next((n for n, lv in sorted(access.items()) if n in buckets and "write" in lv), None)
            if kind in ("enqueue", "start", "static", "search", "index") and written:
                data["receipt"] = buckets[written]
        # Calls and events (the fleet); a container route without a payload of its own (static, search, index) does neither.
        fleet = _fleet_actions(list(uses), list(spec.emits), params) if target == "function" or kind not in ("static", "search", "index") else ([], [])
        # A read announces nothing: only routes that change something publish (a container's uses apply to all its routes).
        also["also_calls"], also["also_events"] = fleet[0], fleet[1] if r.method not in ("GET", "HEAD", "OPTIONS") else []
        numbers = {k["param"] for k in data["key"] if k["source"] == "path" and k["type"] == "N"} if table else set()
        values = {p: f"4{i}" if p in numbers else f"v-{i}" for i, p in enumerate(params, 1)}
        slug = re.sub(r"[^a-z0-9]+", "_", r.path.lower()).strip("_") or "root"
        request_path = "/".join(values[s.strip("{}+")] if s.startswith("{") else s for s in r.path.split("/"))
        for k in data["key"]:  # what the generated tests send for each key attribute, and expect back
            number = k["type"] == "N"
            k["test_value"] = {"path": values.get(k["param"], ""), "caller": "test-user", "query": "7" if number else "q-1",
                               "body": "7" if number else "b-1", "new": ""}[k["source"]]
            k["test_literal"] = f'Decimal("{k["test_value"]}")' if number else json.dumps(k["test_value"])
        routes.append({
            **data,
            **also,
            "kind": kind,
            "target": target,
            "test_name": f"test_{function}_{r.method.lower()}_{slug}",
            "call_method": "GET" if r.method == "ANY" else r.method,
            "params_literal": json.dumps(values),
            "request_path": request_path,
            "param_values": [values[p] for p in params],
            "method": r.method,
            "path": r.path,
            "powertools_path": _powertools_path(r.path),
            "handler": r.handler,
            "module": module.replace(".", "_"),
            "function": function,
            "params": params,
            "table": table,
            "uses": list(uses),  # as granted: the route's own, or the container's
            "index_into": index_into,  # collections the route indexes what it handled into
            "search_in": search_in,  # the collection a search (or a list with ?q=) queries
            # The search document id of the item a create, update or delete handles: over `item` (or `key`), and over `key`.
            "doc_id": _doc_id(data["key"], "key" if kind == "delete" else "item") if data["key"] and kind in ("create", "update", "delete") else None,
            "key_doc_id": _doc_id(data["key"], "key") if data["key"] and kind in ("create", "update", "delete") else None,
            "caller": kind != "static" and any(k["source"] == "caller" for k in data["key"]),
            "queue": queues.get(queue_name) if queue_name else None,
            "workflow": {"name": workflow_name, "env": f"WORKFLOW_{workflow_name.upper().replace('-', '_')}"} if workflow_name else None,
            "uses_storage": kind != "static" or bool(index_into or search_in),
            "uses_correlation": kind in ("enqueue", "start") or bool(also["also_queues"] or also["also_topics"] or also["also_workflows"]),
            "status": STATUS.get(kind, 200),
            "metric": "".join(p.capitalize() for p in re.split(r"[._]", r.handler)),
        })
    # What a function route creates or queues gets a Location when a GET route below its path serves it.
    for route in routes:
        made_here = route["kind"] == "enqueue" or (route["kind"] == "create" and route["own_key"] is not None)
        route["location"] = route["target"] == "function" and made_here and any(
            g["method"] == "GET" and g["kind"] == "get" and g["target"] == "function" and g["params"]
            and g["path"] == f"{route['path'].rstrip('/')}/{{{g['params'][-1]}}}" for g in routes)
    def worker(kind: str, source: str, name: str, handler: str, uses: list[str], test_verb: str, queue: dict) -> dict[str, Any]:
        """A function that is not behind the API: a queue consumer, or a topic or events handler."""
        module, function = handler.rsplit(".", 1)
        targets = plan.access(tuple(Use.parse(u) for u in uses))
        written = [tables[t] for t, v in targets.items() if t in tables and "write" in v]
        index_into, search_in = _search_uses("worker", "function", targets, collections, None, None)
        return {
            "kind": kind, "source": source, "target": "queue", "queue": queue, "handler": handler,
            "module": module.replace(".", "_"), "function": function,
            "test_name": f"test_{function}_{test_verb}_{name.replace('-', '_')}",
            "metric": "".join(p.capitalize() for p in re.split(r"[._]", handler)),
            "table": written[0] if written else None,
            # A handler that may only read a table reports on it (e.g. a scheduled digest).
            "summary_table": next((tables[t] for t, v in targets.items() if t in tables and v == {"read"}), None) if not written else None,
            "topics": [topics[t] for t in targets if t in topics],
            "queues": [queues[t] for t, v in targets.items() if t in queues and "send" in v],
            "buckets": [buckets[b] for b, v in targets.items() if b in buckets and "write" in v],
            "workflows": [{"name": w} for w, v in targets.items() if "start" in v],
            "email": "email" in targets,
            "index_into": index_into,
            "search_in": search_in,
            "uses": list(uses),
            **dict(zip(("calls", "events"), _fleet_actions(list(uses), list(spec.emits)), strict=True)),
        }

    consumers = [worker("consume", f"sqs:{q.name}", q.name, q.consumer.handler, q.consumer.uses, "consumes", queues[q.name])
                 for q in spec.messaging.queues if q.consumer]
    for kind, prefix, items in (("on_sns", "sns", spec.messaging.topics), ("on_event", "events", spec.messaging.events)):
        consumers += [worker(kind, f"{prefix}:{item.name}", item.name, item.handler.handler, item.handler.uses, "handles",
                             {"name": item.name, "env": ""}) for item in items if item.handler]
    for consumer in consumers:
        consumer["uses_storage"] = any(consumer[k] for k in ("table", "summary_table", "topics", "queues", "buckets", "workflows", "email",
                                                             "index_into", "search_in"))
        consumer["uses_correlation"] = bool(consumer["topics"] or consumer["queues"] or consumer["workflows"])
    # A search reads the indexes the service's writers fill (several: OpenSearch's comma-separated list), else the collection's name.
    filled: dict[str, set[str]] = {}
    for entry in routes + consumers:
        for c in entry["index_into"]:
            filled.setdefault(c["name"], set()).add(c["index"])
    for entry in routes + consumers:
        if entry["search_in"]:
            name = entry["search_in"]["name"]
            entry["search_in"]["index"] = ",".join(sorted(filled.get(name, ()))) or name
    modules: dict[str, list[dict]] = {}
    for entry in routes + consumers:
        modules.setdefault(entry["module"], []).append(entry)
    return {
        "msgen_version": __version__,
        "template": TEMPLATE,
        "source": source,
        "spec_text": spec_text,
        "spec_sha256": hashlib.sha256(spec_text.encode()).hexdigest(),
        "service": spec.service,
        "team": spec.team,
        "description": spec.description or f"The {spec.service} microservice",
        "python_version": spec.application.runtime.removeprefix("python"),
        "architecture": spec.application.architecture,
        "correlation_header": spec.observability.correlation_header,
        "tracing": spec.observability.tracing,
        "tables": list(tables.values()),
        "buckets": list(buckets.values()),
        "routes": routes,
        "function_routes": [r for r in routes if r["target"] == "function"],
        "container_routes": [r for r in routes if r["target"] == "container"],
        "hybrid": spec.pattern == "hybrid",
        # Cognito's authorizer passes the signed-in user's claims in the event (the generated tests send a user).
        "cognito": any((r.auth or spec.api.auth) == "cognito" for r in spec.api.routes),
        "workflows": [{"name": w.name, "env": f"WORKFLOW_{w.name.upper().replace('-', '_')}", "definition": w.definition,
                       "content": json.dumps(w.definition_data, indent=2, ensure_ascii=False) + "\n"} for w in spec.workflows],
        "database": {"name": spec.database.name, "app_user": spec.database.app_user} if spec.database else None,
        # The container's readiness route (/ready) runs `SELECT 1` when the container may connect to the database.
        "container": {"port": spec.container.port, "health_check_path": spec.container.health_check_path,
                      "database": spec.database is not None and any(u == "database:connect" for u in spec.container.uses)}
        if spec.container else None,
        "collections": [{**c, "indexes": sorted(filled.get(c["name"], ()))} for c in collections.values()],
        "consumers": consumers,
        "queues": list(queues.values()),
        "topics": list(topics.values()),
        "email": {"domain": spec.messaging.email.domain, "sender": f"{spec.messaging.email.sender}@{spec.messaging.email.domain}"}
        if spec.messaging.email else None,
        "modules": [{"name": name, "routes": rs} for name, rs in sorted(modules.items())],
        "answers_yaml": yaml.safe_dump({"team": spec.team, "description": spec.description or f"The {spec.service} microservice"},
                                       allow_unicode=True, sort_keys=False, width=1_000_000).rstrip("\n"),
        "mermaid": _mermaid(spec),
        "catalog_info": _catalog_info(spec),
        # The fleet: the services this one calls (SERVICE_URL_<NAME>), the events it emits, and its API as OpenAPI 3.
        "callees": [{"service": name, "env": f"SERVICE_URL_{name.upper().replace('-', '_')}"}
                    for name in sorted({c.service for c in service_refs(spec).calls})],
        "emits": list(spec.emits),
        "openapi": openapi.render(spec).rstrip("\n"),
        "schema_json": committed_schema().rstrip("\n"),
        "environments": spec.environment_names,
        "synth_in_hook": False,
    }


def _catalog_info(spec: ServiceSpec) -> str:
    """The repository's Backstage catalog-info.yaml (generator.fleet.catalog); ``msgen fleet new`` names the fleet's system."""
    from generator.fleet.catalog import catalog_info

    return catalog_info(spec, None).rstrip("\n")


def cookiecutter_json(ctx: dict[str, Any]) -> dict[str, Any]:
    # "_msgen" starts with one underscore: cookiecutter passes it through unrendered, so free text
    # (a description with "{{ }}" in it) is data, never a template.
    return {"service": ctx["service"], "_msgen": ctx, "_copy_without_render": ["_templates/*"]}


def template_root() -> Path:
    """The repository template msgen renders. MSGEN_TEMPLATE_DIR points at another copy of it (msgen's own tests of
    `msgen update` render a changed copy, standing in for a later msgen release)."""
    override = os.environ.get("MSGEN_TEMPLATE_DIR")
    return Path(override) if override else data_dir("templates") / TEMPLATE


def _post_gen_module(template_dir: Path):
    """The template's post-generation hook, imported so msgen runs it in-process (same code as plain cookiecutter)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("msgen_post_gen_project", template_dir / "hooks" / "post_gen_project.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# What Jinja treats as template syntax: a file without any of these (and without carriage returns, which its lexer turns
# into newlines) renders to its own bytes.
JINJA_MARKERS = ("{{", "{%", "{#", "\r")


def _verbatim_files(template_files: dict[str, bytes]) -> list[str]:
    """The project template's files cookiecutter would render to their own bytes (UTF-8 text without Jinja syntax), as
    _copy_without_render patterns: copying them costs no template compilation. Their names are still rendered."""
    from glob import escape

    out = []
    for rel, data in template_files.items():
        project, _, path = rel.partition("/")
        if not path or "{{" not in project:  # hooks/, cookiecutter.json
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if not any(marker in text for marker in JINJA_MARKERS):
            out.append(escape(path))
    return out


class CompiledTemplates(jinja2.FileSystemBytecodeCache):
    """Jinja's compiled code of the template's files, kept between runs as Python keeps msgen's in __pycache__: compiling
    the templates (parsing ~140 KB of Jinja, generating and compiling Python) is most of what `msgen new` costs above its
    synthesis, and the rendering itself is unchanged (every file is still rendered from the spec's context).

    An entry is keyed by the template's name and the environment's syntax options and extensions (what the compiled code
    depends on besides the source); Jinja checks the source's checksum on every load, so a changed template (another
    msgen, MSGEN_TEMPLATE_DIR) is compiled afresh and its entry replaced. Best effort: an entry that cannot be read or
    written is compiled instead. Off with MSGEN_NO_CACHE=1 or `msgen new --no-cache`.
    """

    def get_bucket(self, environment: jinja2.Environment, name: str, filename: str | None, source: str):
        e = environment

        def named(value: Any) -> Any:  # a function by its name: its repr holds an address that changes every run
            return value if value is None or isinstance(value, bool) else getattr(value, "__qualname__", type(value).__qualname__)

        options = (e.block_start_string, e.block_end_string, e.variable_start_string, e.variable_end_string, e.comment_start_string,
                   e.comment_end_string, e.line_statement_prefix, e.line_comment_prefix, e.trim_blocks, e.lstrip_blocks,
                   e.newline_sequence, e.keep_trailing_newline, e.optimized, e.is_async, named(e.autoescape), named(e.finalize),
                   sorted(e.extensions), type(e).__qualname__, e.code_generator_class.__qualname__, e.context_class.__qualname__)
        # The name (not the file's path: the per-module templates are read from a new working folder each run) and the options.
        return super().get_bucket(environment, f"{name}\0{options!r}", None, source)

    def load_bytecode(self, bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # a truncated or foreign entry: compile afresh
            bucket.reset()

    def dump_bytecode(self, bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def compiled_templates(use_cache: bool = True) -> CompiledTemplates | None:
    """The cache of compiled templates (beside msgen's synth cache, per Python, Jinja and cookiecutter version: the
    latter's extensions parse its environment's tags), or None when off."""
    import sys

    import cookiecutter

    from generator import cache

    if not (use_cache and cache.enabled()):
        return None
    version = f"{sys.implementation.cache_tag}-jinja2-{jinja2.__version__}-cookiecutter-{cookiecutter.__version__}"
    directory = cache.cache_dir().parent / "templates" / version
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    return CompiledTemplates(str(directory))


def _record_for_update(out: Path, template_dir: Path, template_files: dict[str, bytes]) -> None:
    """What `msgen update` needs: the template's hash in .msgen/answers.yml, and what was rendered (the next update's
    merge base) in .msgen/pristine.tar.gz (generator.update)."""
    from generator.pristine import ANSWERS, PRISTINE, pristine_archive, read_dir, stamp_answers, template_version

    answers = out / ANSWERS
    version = template_version(template_dir, template_files)
    answers.write_text(stamp_answers(answers.read_text(encoding="utf-8"), template_sha256=version), encoding="utf-8")
    (out / PRISTINE).write_bytes(pristine_archive(read_dir(out)))


def render(spec: ServiceSpec, spec_text: str, source: str, destination: Path, force: bool = False, use_cache: bool = True) -> Path:
    """Render the repository into ``destination`` (``parent/name``), atomically.

    Uses cookiecutter's Python API (context, prompts with no_input, generate_files with StrictUndefined).
    The template's hooks run in-process: the name is already checked, and the post-generation step is
    imported from the template, so no interpreter is started per hook. With USE_CACHE (and MSGEN_NO_CACHE unset), the
    templates' compiled code is kept between runs (:class:`CompiledTemplates`).
    """
    from collections import OrderedDict

    from cookiecutter.exceptions import CookiecutterException
    from cookiecutter.generate import generate_files
    from cookiecutter.prompt import prompt_for_config

    from generator.pristine import template_files
    from generator.synth.pipeline import synthesize

    check_name(destination.name)
    parent = destination.parent
    if not parent.is_dir():
        raise InputError(f"{parent}: output directory does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{parent}: output directory is not writable")
    if destination.exists() and not force:
        raise OutputExistsError(f"{destination}: already exists; use --force to replace it")
    ctx = context(spec, spec_text, source)
    # infra/<env>/template.yaml for every environment, as `msgen synth service.yaml -o infra/` writes them.
    templates = {env: synthesize(spec.for_environment(env)) for env in spec.environment_names}
    try:
        work = Path(tempfile.mkdtemp(prefix=f".{destination.name}.msgen-", dir=parent))
    except OSError as exc:
        raise InputError(f"{parent}: cannot create a working directory: {exc.strerror}") from None
    template_dir = template_root()
    try:
        context_in = {"cookiecutter": OrderedDict(cookiecutter_json(ctx))}
        # Jinja's optimizer folds constants at compile time, which changes no output; compiling the templates is most of
        # msgen new's time, the optimizer ~10% of it. Plain cookiecutter (the template's own cookiecutter.json) keeps it.
        compiled = compiled_templates(use_cache)
        context_in["cookiecutter"]["_jinja2_env_vars"] = {"optimized": False, **({"bytecode_cache": compiled} if compiled else {})}
        hook = _post_gen_module(template_dir)
        files = template_files(template_dir)
        # Files the hook deletes (a worker without queues, the container's files without containers, ...) and files without
        # template syntax: copied, not rendered.
        context_in["cookiecutter"]["_copy_without_render"] = [*context_in["cookiecutter"]["_copy_without_render"], *hook.unused_files(ctx),
                                                              *_verbatim_files(files)]
        try:
            rendered = {"cookiecutter": prompt_for_config(context_in, no_input=True)}
            rendered["cookiecutter"]["_template"] = str(template_dir)
            out = Path(generate_files(repo_dir=str(template_dir), context=rendered, output_dir=str(work / "out"), accept_hooks=False))
            hook.render_modules(out, ctx, bytecode_cache=compiled)
        except (CookiecutterException, jinja2.TemplateError) as exc:
            # cookiecutter's messages end with the whole context; the first part says what failed.
            raise RenderError(f"rendering template '{TEMPLATE}' failed: {str(exc).split(' Context: ')[0]}") from None
        for env, text in templates.items():
            (out / "infra" / env).mkdir(parents=True, exist_ok=True)
            (out / "infra" / env / "template.yaml").write_text(text, encoding="utf-8")
        _record_for_update(out, template_dir, files)
        if destination.exists():  # --force: the old tree is replaced only once the new one is complete
            trash = work / "replaced"
            os.replace(destination, trash)
            try:
                os.replace(out, destination)
            except OSError:
                os.replace(trash, destination)
                raise
        else:
            os.replace(out, destination)
        return destination
    except OSError as exc:
        raise RenderError(f"writing {destination} failed: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
