"""Cross-field rules that a field-by-field schema cannot express.

They run over the raw YAML data, defensively, so they still report even when
other fields of the spec are invalid: one run shows every problem.
"""

from __future__ import annotations

import keyword
import re
import sys
from collections.abc import Iterator
from typing import Any

from generator import naming
from generator.spec.loader import Path_

PARAM_RE = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}$")
LITERAL_RE = re.compile(r"^[A-Za-z0-9._~-]+$")

Problem = tuple[Path_, str]


def _list(data: Any, *keys: str) -> list[Any]:
    for k in keys:
        if not isinstance(data, dict):
            return []
        data = data.get(k)
    return data if isinstance(data, list) else []


def _names(items: list[Any]) -> list[tuple[int, str]]:
    return [(i, it["name"]) for i, it in enumerate(items) if isinstance(it, dict) and isinstance(it.get("name"), str)]


def check(data: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    for fn in (_check_names, _check_routes, _check_handlers, _check_uses, _check_auth, _check_vpc):
        problems.extend(fn(data))
    return problems


def _check_names(data: dict[str, Any]) -> Iterator[Problem]:
    """Table and bucket names must be unique, and must not collide once turned into logical IDs."""
    seen: dict[str, tuple[str, str]] = {}
    for section in ("tables", "buckets"):
        for i, name in _names(_list(data, "persistence", section)):
            key = naming.pascal(name)
            if key in seen:
                other_section, other = seen[key]
                what = "duplicate name" if other == name else f"'{name}' and '{other}' would get the same resource IDs"
                yield (("persistence", section, i, "name"), f"{what}: '{other}' is already used in persistence.{other_section}; names must be unique across tables and buckets")
            else:
                seen[key] = (section, name)
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
                              "aws_lambda_powertools", "moto", "pytest", "responses", "tests"})


def _check_handlers(data: dict[str, Any]) -> Iterator[Problem]:
    """Handlers become Python modules and functions in the generated repository: they must be usable names."""
    seen: dict[str, int] = {}
    for i, route in enumerate(_list(data, "api", "routes")):
        handler = route.get("handler") if isinstance(route, dict) else None
        if not isinstance(handler, str) or "." not in handler:
            continue
        parts = handler.split(".")
        module = parts[0]
        where = ("api", "routes", i, "handler")
        if any(keyword.iskeyword(p) for p in parts):
            yield (where, f"'{handler}' uses a Python keyword as a name")
        elif module in sys.stdlib_module_names or module in RESERVED_MODULES:
            kind = "Python's standard module" if module in sys.stdlib_module_names else "a module the generated service needs"
            yield (where, f"module '{module}' would shadow {kind} '{module}'; choose another module name")
        if handler in seen:
            yield (where, f"handler '{handler}' already serves api.routes[{seen[handler]}]; give each route its own function")
        seen.setdefault(handler, i)


def _check_uses(data: dict[str, Any]) -> Iterator[Problem]:
    known = {name for _, name in _names(_list(data, "persistence", "tables"))}
    known |= {name for _, name in _names(_list(data, "persistence", "buckets"))}
    for i, route in enumerate(_list(data, "api", "routes")):
        if not isinstance(route, dict):
            continue
        for u, use in enumerate(route.get("uses") or [] if isinstance(route.get("uses"), list) else []):
            if not isinstance(use, str) or ":" not in use:
                continue
            target = use.split(":", 1)[0]
            if target not in known:
                hint = f"; declared are: {', '.join(sorted(known))}" if known else "; declare it under persistence.tables or persistence.buckets"
                yield (("api", "routes", i, "uses", u), f"'{target}' is not a table or bucket of this service{hint}")


def _check_auth(data: dict[str, Any]) -> Iterator[Problem]:
    api = data.get("api") if isinstance(data.get("api"), dict) else {}
    default = api.get("auth", "iam")
    uses_cognito = default == "cognito" or any(isinstance(r, dict) and r.get("auth") == "cognito" for r in _list(data, "api", "routes"))
    if uses_cognito and not api.get("cognito_user_pool_arn"):
        yield (("api",), "cognito auth needs api.cognito_user_pool_arn (the user pool that issues the tokens)")


def _check_vpc(data: dict[str, Any]) -> Iterator[Problem]:
    app = data.get("application") if isinstance(data.get("application"), dict) else {}
    subnets, groups = app.get("subnet_ids") or [], app.get("security_group_ids") or []
    if bool(subnets) != bool(groups):
        yield (("application",), "subnet_ids and security_group_ids go together: set both to run in a VPC, or neither")
