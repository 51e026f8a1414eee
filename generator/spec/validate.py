"""Validate a located spec against the model and the cross-field checks; every problem in one error."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from generator.errors import Issue, SpecError
from generator.kinds import uses_help
from generator.spec import checks, models
from generator.spec.loader import Located, dotted, load_located, parse_located
from generator.spec.models import ServiceSpec

PATTERN_HELP = {
    models.SERVICE_NAME_RE: "use 3-40 lower-case letters, digits and '-', starting with a letter and not ending with '-' (e.g. payment-svc)",
    models.RESOURCE_NAME_RE: "use lower-case letters, digits, '-' and '_', starting with a letter, at most 48 characters",
    models.HANDLER_RE: "write it as module.function in lower-case Python names (e.g. payments.create)",
    models.ROUTE_PATH_RE: "a path starts with '/', has no empty segments and no trailing '/' (e.g. /payments/{id})",
    models.USES_RE: "write it as <name>:<verb> (e.g. payments:read). " + uses_help(),
    models.ENV_VAR_RE: "environment variable names are letters, digits and '_', not starting with a digit",
    models.TAG_KEY_RE: "tag keys may use letters, digits, spaces and _ . : / = + - @",
    models.TAG_VALUE_RE: "tag values may use letters, digits, spaces and _ . : / = + - @",
    models.ARN_RE: "expected an ARN (arn:aws:...)",
}

MAX_DEFINITION_BYTES = 1024 * 1024  # Step Functions refuses larger state machine definitions
MAX_DEFINITION_DEPTH = 64  # far beyond any real definition; the template writers recurse once per level

__all__ = ["ServiceSpec", "load_spec", "parse_spec", "validate_located", "attach_workflows"]


# Settings msgen no longer has, and what took their place (a spec that still sets one is told, not just refused).
RENAMED = {
    "target_5xx_count": "use observability.alarms.target_5xx_rate_percent (5XX responses as a share of the containers' "
                        "requests, as AWS recommends, instead of a fixed count)",
}


def _message(err: dict[str, Any]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        replaced = RENAMED.get(str(err["loc"][-1]))
        if replaced:
            return f"no longer a setting: {replaced}"
        return "unknown key (check the spelling; `msgen schema` lists every key)"
    if kind == "missing":
        return "required key is missing"
    if kind == "string_pattern_mismatch":
        pattern = err["ctx"]["pattern"]
        return f"{err['input']!r} is not valid: {PATTERN_HELP.get(pattern, 'must match ' + pattern)}"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return msg


def _problems(data: Any) -> tuple[ServiceSpec | None, list[tuple[tuple, str, str]]]:
    """The model and the cross-field checks over ``data``: (spec or None, [(path, message, how)]), how is key, missing or value."""
    found: list[tuple[tuple, str, str]] = []
    spec: ServiceSpec | None = None
    rejected: set[tuple[str | int, ...]] = set()  # values the model refused: the cross-field checks leave them alone
    try:
        spec = ServiceSpec.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        for err in errors:
            path = tuple(p for p in err["loc"] if not (isinstance(p, str) and (p.startswith("function-") or p in UNION_TAGS)))
            if _other_member_fits(err, errors):
                continue
            rejected.add(tuple(p for p in path if p != "[key]"))
            how = "key" if err["type"] == "extra_forbidden" else "missing" if err["type"] == "missing" else "value"
            found.append((path, _message(err), how))
    found += [(path, message, "value") for path, message in checks.check(data, rejected)]
    return spec, found


# pydantic names the member of a union it tried in an error's location; the spec's path has no such step.
UNION_TAGS = ("list[constrained-str]", "dict[constrained-str,nullable[dict[str,any]]]")


def _other_member_fits(err: Any, errors: list[Any]) -> bool:
    """A union member refused the value for its type while another member took the type and found a real problem.

    ``environments: []`` is a list: "should be a valid dictionary" from the mapping member is noise beside the
    list member's "should have at least 1 item"."""
    if err["type"] not in ("dict_type", "list_type") or not any(p in UNION_TAGS for p in err["loc"]):
        return False
    at = err["loc"][:-1] if err["loc"][-1] in UNION_TAGS else None
    return at is not None and any(o is not err and o["loc"][: len(at)] == at and o["type"] not in ("dict_type", "list_type") for o in errors)


def _issue(loc: Located, path: tuple, message: str, how: str) -> Issue:
    if how == "missing":  # point at the mapping that lacks the key, but name the key in the path
        line, col = loc.position(path[:-1])
        return Issue(loc.file, line, col, dotted(path), message)
    return loc.issue(path, message, key=how == "key")


def validate_located(loc: Located) -> ServiceSpec:
    spec, found = _problems(loc.data)
    issues = [_issue(loc, path, message, how) for path, message, how in found]
    if spec is not None and not issues:
        issues += _environment_issues(loc)
    if issues:
        raise SpecError(issues)
    assert spec is not None
    return spec


def _environment_issues(loc: Located) -> list[Issue]:
    """Validate each environment's overrides like the spec itself; every problem points at the override's own line."""
    from generator.spec import environments

    issues: list[Issue] = []
    for env, override in environments.overrides(loc.data).items():
        where = ("environments", env)
        fixed = [k for k in override if k in environments.FIXED]
        for key in fixed:
            issues.append(loc.issue((*where, key), f"cannot be overridden per environment: {environments.FIXED[key]}", key=True))
        if isinstance(override.get("observability"), dict) and "tracing" in override["observability"]:
            issues.append(loc.issue((*where, "observability", "tracing"), "cannot be overridden per environment: the code, and so "
                                    "its tracing, is the same in every environment; set observability.tracing at the top level", key=True))
        if fixed:
            continue
        merged = environments.environment_data(loc.data, env)
        _, found = _problems(merged)
        for path, message, how in found:
            if path and path[0] in override:  # the override set it: point there
                issues.append(_issue(loc, (*where, *path), message, how))
            else:  # only the combination is wrong: point at the environment, name the setting
                line, col = loc.position(where, key=True)
                issues.append(Issue(loc.file, line, col, dotted(where), f"with this environment's overrides, {dotted(path)}: {message}"))
        for section, reason in environments.changed_identity(loc.data, merged):
            issues.append(loc.issue((*where, *section), f"cannot be overridden per environment: {reason}", key=True))
    return issues


def _depth(data: Any) -> int:
    """How deeply lists and objects nest in JSON data (without recursion)."""
    deepest, stack = 0, [(data, 0)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(node, dict):
            stack.extend((v, level + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, level + 1) for v in node)
    return deepest


def attach_workflows(spec: ServiceSpec, loc: Located, base_dir: Path) -> dict[str, str]:
    """Read each workflow's definition file (relative to the spec) into the spec; returns {path: sha256} of what was read.

    Problems are reported like any spec problem, at the `definition:` line.
    """
    issues: list[Issue] = []
    read: dict[str, str] = {}
    root = base_dir.resolve()
    for i, workflow in enumerate(spec.workflows):
        where = ("workflows", i, "definition")
        try:
            path = (base_dir / workflow.definition).resolve()
        except (OSError, RuntimeError):  # a symbolic link loop
            issues.append(loc.issue(where, f"cannot read {workflow.definition}: a symbolic link loop"))
            continue
        if root not in path.parents:
            issues.append(loc.issue(where, "the definition must be inside the spec's folder"))
            continue
        try:
            if path.exists() and not path.is_file():
                issues.append(loc.issue(where, f"cannot read {workflow.definition}: not a regular file"))
                continue
            if path.exists() and path.stat().st_size > MAX_DEFINITION_BYTES:
                issues.append(loc.issue(where, f"{workflow.definition} is larger than Step Functions' limit of {MAX_DEFINITION_BYTES} bytes"))
                continue
            raw = path.read_bytes()
        except OSError as exc:
            issues.append(loc.issue(where, f"cannot read {workflow.definition}: {exc.strerror or exc}"))
            continue
        read[str(path)] = hashlib.sha256(raw).hexdigest()
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            issues.append(loc.issue(where, f"{workflow.definition} is not valid JSON: {reason}"))
            continue
        if _depth(data) > MAX_DEFINITION_DEPTH:
            issues.append(loc.issue(where, f"{workflow.definition} nests values more than {MAX_DEFINITION_DEPTH} levels deep"))
            continue
        if not isinstance(data, dict) or "StartAt" not in data or not isinstance(data.get("States"), dict):
            issues.append(loc.issue(where, f"{workflow.definition} is not an Amazon States Language definition (needs StartAt and States)"))
            continue
        workflow._definition = data
    from generator.plan import build_plan

    known = {fn.name for fn in build_plan(spec).functions}
    for i, workflow in enumerate(spec.workflows):
        for j, name in enumerate(workflow.invokes):
            if name not in known:
                issues.append(loc.issue(("workflows", i, "invokes", j), f"'{name}' is not a function of this service; "
                                                                         f"its functions are: {', '.join(sorted(known)) or 'none'}"))
    if issues:
        raise SpecError(issues)
    return read


def load_spec(path: str | os.PathLike[str], display: str | None = None) -> ServiceSpec:
    """Read, parse and validate a spec file (and the workflow definitions it names). Raises SpecError or InputError."""
    loc = load_located(path, display)
    spec = validate_located(loc)
    if spec.workflows:
        attach_workflows(spec, loc, Path(path).parent)
    return spec


def parse_spec(text: str, name: str = "<spec>", base_dir: str | os.PathLike[str] = ".") -> ServiceSpec:
    loc = parse_located(text, name)
    spec = validate_located(loc)
    if spec.workflows:
        attach_workflows(spec, loc, Path(base_dir))
    return spec
