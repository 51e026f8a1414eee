"""Cross-field rules that a field-by-field schema cannot express.

They run over the raw YAML data, so they still report even when other fields of
the spec are invalid: one run shows every problem. The data may hold anything
(a list where a name belongs, a mapping for a number), so every rule reads
values through the typed accessors below and skips what it cannot use. A value
the model rejected is masked (``INVALID``) before the rules run: the model's
message is the one reported for it, and no rule adds a second one or reasons
from it.
"""

from __future__ import annotations

import keyword
import math
import re
import sys
from collections import defaultdict
from collections.abc import Collection, Iterator
from functools import cache
from typing import Any

from generator import naming
from generator.kinds import EXTERNAL_KINDS, NAMED_KINDS, SINGLETONS, Kind
from generator.spec import models
from generator.spec.loader import Path_

PARAM_RE = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}$")
LITERAL_RE = re.compile(r"^[A-Za-z0-9._~-]+$")

Problem = tuple[Path_, str]
# Where `uses:` targets are declared, and which verbs fit each kind: both from the kinds table.
SECTIONS = tuple(k.section for k in NAMED_KINDS)


def _either(words: list[str]) -> str:
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0]


NAMED_WHAT = _either([k.name for k in NAMED_KINDS])  # "table, bucket, ... or collection"
NAMED_PLURAL = _either([f"{k.name}s" for k in NAMED_KINDS]).replace(" or ", " and ")
NAMED_WHERE = _either(list(dict.fromkeys(k.section[0] for k in NAMED_KINDS)))


class _Invalid:
    """Stands in for a value the model rejected (see ``mask``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<invalid>"


INVALID = _Invalid()


def mask(data: Any, paths: Collection[Path_]) -> Any:
    """A copy of ``data`` with the value at each of ``paths`` that exists replaced by INVALID (the rest is shared)."""
    if not paths:
        return data
    if () in paths:
        return INVALID
    below: defaultdict[Any, set[Path_]] = defaultdict(set)
    for path in paths:
        below[path[0]].add(path[1:])
    if isinstance(data, dict):
        return {k: mask(v, below[k]) if k in below else v for k, v in data.items()}
    if isinstance(data, list):
        return [mask(v, below[i]) if i in below else v for i, v in enumerate(data)]
    return data


def _list(data: Any, *keys: str) -> list[Any]:
    for k in keys:
        if not isinstance(data, dict):
            return []
        data = data.get(k)
    return data if isinstance(data, list) else []


def _dig(data: Any, *keys: str) -> Any:
    """The value at ``keys``, or None where any level is missing or not a mapping."""
    for k in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(k)
    return data


def _dict(data: Any, key: str) -> dict[str, Any]:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def _str(data: Any, key: str, default: str | None = None) -> str | None:
    """The string at ``key``; ``default`` when absent; None when it is not a string."""
    if not isinstance(data, dict) or key not in data:
        return default
    value = data[key]
    return value if isinstance(value, str) else None


@cache
def _adapter(kind: type) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(kind)


def _default(model: type, field: str) -> Any:
    """The model's own default for ``field``: the checks never repeat a default."""
    return model.model_fields[field].default


def _number(data: Any, key: str, default: float | None, kind: type = int) -> Any:
    """The number at ``key`` as the model reads it ("512" is 512); ``default`` when absent; None when it is no number."""
    if not isinstance(data, dict) or key not in data:
        return default
    value = data[key]
    if value is INVALID or value is None or isinstance(value, (dict, list)):
        return None
    from pydantic import ValidationError

    try:
        number = _adapter(kind).validate_python(value)
    except ValidationError:
        return None
    return number if math.isfinite(number) else None


def _known(*values: Any) -> bool:
    return all(v is not INVALID for v in values)


def _names(items: list[Any]) -> list[tuple[int, str]]:
    return [(i, it["name"]) for i, it in enumerate(items) if isinstance(it, dict) and isinstance(it.get("name"), str)]


def check(data: Any, invalid: Collection[Path_] = ()) -> list[Problem]:
    """Every cross-field problem of ``data``; ``invalid`` lists the paths of values the model rejected."""
    if not isinstance(data, dict):
        return []
    data = mask(data, invalid)
    problems: list[Problem] = []
    for fn in (_check_names, _check_routes, _check_handlers, _check_uses, _check_messaging, _check_auth, _check_vpc, _check_hybrid):
        problems.extend(fn(data))
    return problems


def _check_names(data: dict[str, Any]) -> Iterator[Problem]:
    """Table and bucket names must be unique, and must not collide once turned into logical IDs."""
    seen: dict[str, tuple[str, str]] = {}
    for keys in SECTIONS:
        for i, name in _names(_list(data, *keys)):
            key = naming.pascal(name)
            # `events` is reserved only in a spec that emits (specs written before the fleet may name a queue so).
            if name in SINGLETONS and (name != "events" or _list(data, "emits")):
                yield ((*keys, i, "name"), f"'{name}' is reserved for `uses: [{name}:...]`; choose another name")
            if key in seen:
                other_section, other = seen[key]
                what = "duplicate name" if other == name else f"'{name}' and '{other}' would get the same resource IDs"
                yield ((*keys, i, "name"), f"{what}: '{other}' is already used in {other_section}; names must be unique across {NAMED_PLURAL}")
            else:
                seen[key] = (".".join(keys), name)
    for t, table in enumerate(_list(data, "persistence", "tables")):
        if not isinstance(table, dict):
            continue
        idx_seen: set[str] = set()
        for i, name in _names(_list(table, "indexes")):
            if name in idx_seen:
                yield (("persistence", "tables", t, "indexes", i, "name"), f"duplicate index name '{name}'")
            idx_seen.add(name)


def _check_routes(data: dict[str, Any]) -> Iterator[Problem]:
    routes = _list(data, "api", "routes")
    seen: dict[tuple[str, str], int] = {}
    # For sibling path parameters: API Gateway allows one {param} name per level.
    param_at: dict[tuple[str, ...], tuple[str, int]] = {}
    ids: dict[str, tuple[str, int]] = {}
    for i, route in enumerate(routes):
        if not isinstance(route, dict):
            continue
        path, method = route.get("path"), route.get("method")
        if not isinstance(path, str) or not path.startswith("/"):
            continue
        if isinstance(method, str):
            key = (method.upper(), path)
            if key in seen:
                yield (("api", "routes", i), f"duplicate route {key[0]} {path}: already declared as api.routes[{seen[key]}]")
                continue
            seen[key] = i
        segments = naming.path_segments(path)
        params: list[str] = []
        bad = False
        for s, seg in enumerate(segments):
            m = PARAM_RE.match(seg)
            if m:
                if m.group(1) in params:
                    yield (("api", "routes", i, "path"), f"path parameter '{{{m.group(1)}}}' appears twice in '{path}'")
                    bad = True
                params.append(m.group(1))
                if m.group(2) and s != len(segments) - 1:
                    yield (("api", "routes", i, "path"), f"greedy parameter '{seg}' must be the last segment of '{path}'")
                    bad = True
                parent = tuple(segments[:s])
                prev = param_at.get(parent)
                if prev and prev[0] != seg:
                    yield (("api", "routes", i, "path"),
                           f"'{seg}' conflicts with '{prev[0]}' in api.routes[{prev[1]}].path: API Gateway allows one parameter name at the same level")
                    bad = True
                param_at.setdefault(parent, (seg, i))
            elif "{" in seg or "}" in seg:
                yield (("api", "routes", i, "path"), f"segment '{seg}' is not a valid path parameter; write it as {{name}} with letters, digits or _")
                bad = True
            elif not LITERAL_RE.match(seg):
                yield (("api", "routes", i, "path"), f"segment '{seg}' may only contain letters, digits and . _ ~ -")
                bad = True
        if path != "/" and path.endswith("/"):
            yield (("api", "routes", i, "path"), "path must not end with '/'")
            bad = True
        if bad:
            continue
        # Distinct paths must not collapse to the same logical ID (e.g. /a-b and /a_b).
        pid = naming.path_id(path)
        if pid in ids and ids[pid][0] != path:
            yield (("api", "routes", i, "path"),
                   f"'{path}' and '{ids[pid][0]}' (api.routes[{ids[pid][1]}]) would get the same resource IDs; rename one")
        ids.setdefault(pid, (path, i))


# Modules of the generated service (and the libraries its tests import) that a handler module must not shadow.
RESERVED_MODULES = frozenset({"app", "correlation", "observability", "rest", "storage", "conftest", "boto3", "botocore",
                              "aws_lambda_powertools", "moto", "pytest", "responses", "tests", "tracing", "opentelemetry"})


def _check_handlers(data: dict[str, Any]) -> Iterator[Problem]:
    """Handlers become Python modules and functions in the generated repository: they must be usable names."""
    seen: dict[str, int] = {}
    # With search collections the generated service has a search.py helper too.
    reserved = RESERVED_MODULES | ({"search", "sigv4"} if _list(data, "search", "collections") else set())
    # A service that calls others has calls.py (and sigv4.py, as search.py); one that emits events has events.py.
    if any(isinstance(u, str) and u.split(":")[1:2] == ["invoke"] for _, uses in _uses_lists(data) for u in uses):
        reserved |= {"calls", "sigv4"}
    if _list(data, "emits"):
        reserved |= {"events"}
    for i, route in enumerate(_list(data, "api", "routes")):
        handler = route.get("handler") if isinstance(route, dict) else None
        if not isinstance(handler, str) or "." not in handler:
            continue
        parts = handler.split(".")
        module = parts[0]
        where = ("api", "routes", i, "handler")
        if any(keyword.iskeyword(p) for p in parts):
            yield (where, f"'{handler}' uses a Python keyword as a name")
        elif module in sys.stdlib_module_names or module in reserved:
            kind = "Python's standard module" if module in sys.stdlib_module_names else "a module the generated service needs"
            yield (where, f"module '{module}' would shadow {kind} '{module}'; choose another module name")
        if handler in seen:
            yield (where, f"handler '{handler}' already serves api.routes[{seen[handler]}]; give each route its own function")
        seen.setdefault(handler, i)


# Fargate's CPU units and the memory sizes (MiB) each allows.
FARGATE_MEMORY = {256: range(512, 2049, 512), 512: range(1024, 4097, 1024), 1024: range(2048, 8193, 1024),
                  2048: range(4096, 16385, 1024), 4096: range(8192, 30721, 1024)}


def _check_hybrid(data: dict[str, Any]) -> Iterator[Problem]:
    pattern = _str(data, "pattern", _default(models.ServiceSpec, "pattern"))
    container = data.get("container")
    if pattern is not None and _known(container):
        if pattern == "hybrid" and not isinstance(container, dict):
            yield ((), "the hybrid pattern needs a `container:` section (port, cpu, memory_mb, ...)")
        if pattern != "hybrid" and container is not None:
            yield (("container",), f"`container:` is only used by the hybrid pattern (this spec is {pattern})")
    if pattern is not None and pattern != "hybrid":
        for i, route in enumerate(_list(data, "api", "routes")):
            if isinstance(route, dict) and route.get("target") == "container":
                yield (("api", "routes", i, "target"), "routes can target a container only in the hybrid pattern")
    if isinstance(container, dict):
        cpu, memory = _number(container, "cpu", _default(models.Container, "cpu")), _number(container, "memory_mb", _default(models.Container, "memory_mb"))
        if cpu in FARGATE_MEMORY and memory is not None and memory not in FARGATE_MEMORY[cpu]:
            allowed = FARGATE_MEMORY[cpu]
            yield (("container", "memory_mb"), f"Fargate with cpu {cpu} takes {allowed.start}-{allowed.stop - 1} MiB in steps of {allowed.step}")
        lo, hi = _number(container, "min_tasks", _default(models.Container, "min_tasks")), _number(container, "max_tasks", _default(models.Container, "max_tasks"))
        if lo is not None and hi is not None and lo > hi:
            yield (("container", "max_tasks"), f"max_tasks ({hi}) is below min_tasks ({lo})")
    network, database, app = _dict(data, "network"), _dict(data, "database"), _dict(data, "application")
    lo, hi = _number(database, "min_capacity", _default(models.Database, "min_capacity"), float), _number(database, "max_capacity", _default(models.Database, "max_capacity"), float)
    if lo is not None and hi is not None and lo > hi:
        yield (("database", "max_capacity"), f"max_capacity ({hi:g}) is below min_capacity ({lo:g})")
    if database and _known(app.get("subnet_ids")) and app.get("subnet_ids"):
        yield (("application", "subnet_ids"), "with a `database:`, functions that use it run in the service's own private subnets; "
               "set network.vpc_id and network.subnet_ids instead of application.subnet_ids")
    vpc_id, subnet_ids = network.get("vpc_id"), network.get("subnet_ids")
    if not _known(vpc_id, subnet_ids):
        return
    if bool(vpc_id) != bool(subnet_ids):
        yield (("network",), "vpc_id and subnet_ids go together: name an existing VPC and its private subnets, or neither")
    elif isinstance(subnet_ids, list) and len(subnet_ids) == 1:
        yield (("network", "subnet_ids"), "give at least two subnets, in different availability zones")


def _uses_lists(data: dict[str, Any]) -> Iterator[tuple[Path_, list[Any]]]:
    for i, route in enumerate(_list(data, "api", "routes")):
        if isinstance(route, dict) and isinstance(route.get("uses"), list):
            yield ("api", "routes", i, "uses"), route["uses"]
    for q, queue in enumerate(_list(data, "messaging", "queues")):
        consumer = queue.get("consumer") if isinstance(queue, dict) else None
        if isinstance(consumer, dict) and isinstance(consumer.get("uses"), list):
            yield ("messaging", "queues", q, "consumer", "uses"), consumer["uses"]
    container = data.get("container")
    if isinstance(container, dict) and isinstance(container.get("uses"), list):
        yield ("container", "uses"), container["uses"]
    for w, workflow in enumerate(_list(data, "workflows")):
        if isinstance(workflow, dict) and isinstance(workflow.get("uses"), list):
            yield ("workflows", w, "uses"), workflow["uses"]
    for section in ("topics", "events"):
        for i, item in enumerate(_list(data, "messaging", section)):
            handler = item.get("handler") if isinstance(item, dict) else None
            if isinstance(handler, dict) and isinstance(handler.get("uses"), list):
                yield ("messaging", section, i, "handler", "uses"), handler["uses"]


SINGLETON_NEEDS = {"email": "'email:send' needs messaging.email (the domain to send from)",
                   "database": "'database:connect' needs a `database:` section",
                   "events": "'events:emit' needs top-level `emits:` (the detail-types this service puts on the fleet's bus)"}


def _check_uses(data: dict[str, Any]) -> Iterator[Problem]:
    kinds: dict[str, Kind] = {}
    for kind in NAMED_KINDS:
        for _, name in _names(_list(data, *kind.section)):
            kinds.setdefault(name, kind)
    for name, kind in SINGLETONS.items():
        if _dig(data, *kind.section):
            kinds[name] = kind
    for path, uses in _uses_lists(data):
        for u, use in enumerate(uses):
            if not isinstance(use, str) or ":" not in use:
                continue
            target, _, verb = use.partition(":")
            verb, _, detail = verb.partition(":")
            kind = kinds.get(target)
            if path[0] == "workflows" and (verb in EXTERNAL_KINDS or target == "events") and target not in kinds.keys() - {"events"}:
                yield (path + (u,), "a workflow does not call other services or put events on the fleet's bus; "
                                    "do it in a function the workflow invokes")
                continue
            if kind is None and verb in EXTERNAL_KINDS and target not in SINGLETONS:
                if target == data.get("service"):  # another service of the fleet; whether it exists is the fleet's check
                    yield (path + (u,), f"'{use}': a service does not call its own API; call the code directly")
                continue
            if kind is not None and kind.name == "events" and detail:
                emits = _list(data, "emits")
                if detail not in emits:
                    yield (path + (u,), f"'{detail}' is not in `emits:` ({', '.join(str(e) for e in emits)})")
            if kind is None:
                if target in SINGLETON_NEEDS:
                    yield (path + (u,), SINGLETON_NEEDS[target])
                    continue
                known = sorted(k for k in kinds if k != "email")
                hint = f"; declared are: {', '.join(known)}" if known else f"; declare it under {NAMED_WHERE}"
                yield (path + (u,), f"'{target}' is not a {NAMED_WHAT} of this service{hint}")
            elif verb not in kind.verbs:
                yield (path + (u,), f"'{target}' is a {kind.name}: use {' or '.join(sorted(f'{target}:{v}' for v in kind.verbs))}")
            elif kind.name == "workflow" and path[0] == "workflows":
                yield (path + (u,), "a workflow cannot start workflows here; call them from its definition")


def _check_messaging(data: dict[str, Any]) -> Iterator[Problem]:
    queues = {name for _, name in _names(_list(data, "messaging", "queues"))}
    timeout = _number(_dict(data, "application"), "timeout_s", _default(models.Application, "timeout_s"))
    for q, queue in enumerate(_list(data, "messaging", "queues")):
        if not isinstance(queue, dict) or not isinstance(queue.get("consumer"), dict):
            continue
        visibility = _number(queue, "visibility_timeout_s", _default(models.Queue, "visibility_timeout_s"))
        if visibility is not None and timeout is not None and visibility < timeout:
            yield (("messaging", "queues", q, "visibility_timeout_s"),
                   f"{visibility} s is shorter than the consumer's timeout ({timeout} s, application.timeout_s); SQS would redeliver "
                   "messages still being processed. Use at least six times the timeout")
    names: set[str] = set()
    for e, rule in enumerate(_list(data, "messaging", "events")):
        if not isinstance(rule, dict):
            continue
        name = rule.get("name")
        if isinstance(name, str):
            if name in names:
                yield (("messaging", "events", e, "name"), f"duplicate rule name '{name}'")
            names.add(name)
        pattern, schedule = rule.get("pattern"), rule.get("schedule")
        if _known(pattern, schedule) and bool(pattern) == bool(schedule):
            yield (("messaging", "events", e), "give either `pattern` (events to match) or `schedule`, not both and not neither")
        bus = _str(rule, "bus", "default")
        if isinstance(schedule, str) and schedule and bus is not None and bus != "default":
            yield (("messaging", "events", e, "schedule"), "schedules run on the default event bus only")
        targets, handler = rule.get("targets"), rule.get("handler")
        if _known(targets, handler) and not targets and not handler:
            yield (("messaging", "events", e), "give the rule `targets` (queues) or a `handler` (a function), or both")
        for t, target in enumerate(targets if isinstance(targets, list) else []):
            if isinstance(target, str) and target not in queues:
                yield (("messaging", "events", e, "targets", t), f"'{target}' is not a queue of this service (messaging.queues)")
    for t, topic in enumerate(_list(data, "messaging", "topics")):
        subscribers = topic.get("subscribers") if isinstance(topic, dict) else None
        for s, name in enumerate(subscribers if isinstance(subscribers, list) else []):
            if isinstance(name, str) and name not in queues:
                yield (("messaging", "topics", t, "subscribers", s), f"'{name}' is not a queue of this service (messaging.queues)")


def _check_auth(data: dict[str, Any]) -> Iterator[Problem]:
    api = _dict(data, "api")
    default = api.get("auth", _default(models.Api, "auth"))
    uses_cognito = default == "cognito" or any(isinstance(r, dict) and r.get("auth") == "cognito" for r in _list(data, "api", "routes"))
    if uses_cognito and not api.get("cognito_user_pool_arn"):
        yield (("api",), "cognito auth needs api.cognito_user_pool_arn (the user pool that issues the tokens)")


def _check_vpc(data: dict[str, Any]) -> Iterator[Problem]:
    app = _dict(data, "application")
    subnets, groups = app.get("subnet_ids"), app.get("security_group_ids")
    if _known(subnets, groups) and bool(subnets) != bool(groups):
        yield (("application",), "subnet_ids and security_group_ids go together: set both to run in a VPC, or neither")
