"""Validate a located spec against the model and the cross-field checks; every problem in one error."""

from __future__ import annotations

import json
import os
from typing import Any

from pydantic import ValidationError

from generator.errors import Issue, SpecError
from generator.spec import checks, models
from generator.spec.loader import Located, dotted, load_located, parse_located
from generator.spec.models import ServiceSpec

PATTERN_HELP = {
    models.SERVICE_NAME_RE: "use 3-40 lower-case letters, digits and '-', starting with a letter and not ending with '-' (e.g. payment-svc)",
    models.RESOURCE_NAME_RE: "use lower-case letters, digits, '-' and '_', starting with a letter, at most 48 characters",
    models.HANDLER_RE: "write it as module.function in lower-case Python names (e.g. payments.create)",
    models.ROUTE_PATH_RE: "a path starts with '/', has no empty segments and no trailing '/' (e.g. /payments/{id})",
    models.USES_RE: "write it as <table-or-bucket>:read, :write or :readwrite (e.g. payments:read)",
    models.ENV_VAR_RE: "environment variable names are letters, digits and '_', not starting with a digit",
    models.TAG_KEY_RE: "tag keys may use letters, digits, spaces and _ . : / = + - @",
    models.TAG_VALUE_RE: "tag values may use letters, digits, spaces and _ . : / = + - @",
    models.ARN_RE: "expected an ARN (arn:aws:...)",
}

__all__ = ["ServiceSpec", "load_spec", "parse_spec", "validate_located", "json_schema"]


def _message(err: dict[str, Any]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
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


def validate_located(loc: Located) -> ServiceSpec:
    issues: list[Issue] = []
    spec: ServiceSpec | None = None
    try:
        spec = ServiceSpec.model_validate(loc.data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            path = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            key = err["type"] == "extra_forbidden"
            if err["type"] == "missing":
                # Point at the mapping that lacks the key, but name the key in the path.
                line, col = loc.position(path[:-1])
                issues.append(Issue(loc.file, line, col, dotted(path), _message(err)))
            else:
                issues.append(loc.issue(path, _message(err), key=key))
    for path, message in checks.check(loc.data):
        issues.append(loc.issue(path, message))
    if issues:
        raise SpecError(issues)
    assert spec is not None
    return spec


def load_spec(path: str | os.PathLike[str], display: str | None = None) -> ServiceSpec:
    """Read, parse and validate a spec file. Raises SpecError or InputError."""
    return validate_located(load_located(path, display))


def parse_spec(text: str, name: str = "<spec>") -> ServiceSpec:
    return validate_located(parse_located(text, name))


def json_schema() -> str:
    """The JSON Schema of the spec, as committed in generator/spec/service.schema.json."""
    schema = ServiceSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://msgen.dev/schemas/service.schema.json"
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
