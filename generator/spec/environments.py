"""Environments: one spec, a template per environment, with per-environment overrides.

``environments:`` is either a list of names (every environment gets the same settings), or a mapping from
name to *overrides* of any setting of the spec::

    environments:
      dev: {observability: {log_retention_days: 7}}
      prod:
        application: {memory_mb: 1024, reserved_concurrency: 50}
        observability: {log_retention_days: 365, alarms: {email: oncall@example.com}}

The merge rule: mappings merge deeply, key by key; anything else (a list, a number, a string) replaces the
value below it. ``persistence.tables`` in an override therefore replaces the whole list of tables.

Overrides are validated like the spec itself, and every problem points at the override's own line. An
override may not change what a resource *is*: the service's name, its pattern, its environments, a
resource's kind (a name declared as a table must stay a table) or a table's keys and indexes; such an
override is refused with the reason. It may leave out or add resources only by replacing whole lists,
which is allowed (a dev-only queue) but shows in ``msgen diff``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

# Keys an override may not set: they name the service or decide what every resource is.
FIXED = {
    "service": "the service's name is the same in every environment",
    "pattern": "the pattern decides what every resource is; it is the same in every environment",
    "environments": "environments are declared once, at the top level",
}


def merge(base: Any, override: Any) -> Any:
    """Mappings merge deeply; anything else in ``override`` replaces what is in ``base``."""
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        out = {k: copy.deepcopy(v) for k, v in base.items()}
        for key, value in override.items():
            out[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(override)


def names(environments: Any) -> list[str]:
    if isinstance(environments, Mapping):
        return [str(k) for k in environments]
    return [str(e) for e in environments] if isinstance(environments, list) else []


def overrides(data: Any) -> dict[str, Mapping[str, Any]]:
    """The non-empty overrides of a spec's raw data, by environment."""
    envs = data.get("environments") if isinstance(data, Mapping) else None
    if not isinstance(envs, Mapping):
        return {}
    return {str(name): value for name, value in envs.items() if isinstance(value, Mapping) and value}


def environment_data(data: Mapping[str, Any], env: str) -> dict[str, Any]:
    """The spec of one environment, as raw data: the base with ``env``'s overrides merged in, and only that environment."""
    base = {k: v for k, v in data.items() if k != "environments"}
    merged = merge(base, overrides(data).get(env, {}))
    merged["environments"] = [env]
    return merged


def identity(data: Mapping[str, Any]) -> dict[str, tuple]:
    """What each named resource *is*: its kind, and for tables their key schema. An override must keep it."""
    from generator.kinds import NAMED_KINDS

    out: dict[str, tuple] = {}
    for kind in NAMED_KINDS:
        items: Any = data
        for key in kind.section or ():
            items = items.get(key) if isinstance(items, Mapping) else None
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
                continue
            shape: tuple = (kind.name,)  # then the table's keys, then (last) where it is declared
            if kind.name == "table":
                shape += (_key(item.get("partition_key")), _key(item.get("sort_key")),
                          tuple(sorted((str(i.get("name")), _key(i.get("partition_key")), _key(i.get("sort_key")))
                                       for i in item.get("indexes") or [] if isinstance(i, Mapping))))
            out[item["name"]] = (*shape, kind.section)
    return out


def _key(value: Any) -> tuple:
    if isinstance(value, Mapping):
        return (value.get("name"), value.get("type", "S"))
    return (value, "S") if value is not None else ()


def changed_identity(base: Mapping[str, Any], merged: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    """(where it is declared, reason) for every resource whose kind or keys an environment's overrides change."""
    before, after = identity(base), identity(merged)
    problems = []
    for name, shape in after.items():
        old = before.get(name)
        if old is None:
            continue
        if old[0] != shape[0]:
            problems.append((shape[-1], f"'{name}' is a {old[0]} in the spec and would be a {shape[0]} in this environment"))
        elif old != shape:
            problems.append((shape[-1], f"the keys or indexes of table '{name}' would differ from the spec's; a table's keys are the "
                                   "same in every environment (changing them replaces the table and loses its data)"))
    return problems
