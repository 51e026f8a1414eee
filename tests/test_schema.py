"""The JSON Schema (`msgen schema`, committed as generator/spec/service.schema.json, copied into every generated
repository) accepts exactly what msgen's model accepts.

What the schema does not express, by design:
- the cross-field rules of generator/spec/checks.py (a `uses:` naming a resource the service lacks, duplicate routes and
  names, path parameters, a verb that does not fit the resource, queue timeouts shorter than the consumer's, cognito
  without a user pool, ...); `msgen validate` reports them;
- problems of the file rather than of the document (YAML syntax, duplicate keys, unknown tags, merge keys, size, encoding);
- pydantic's lax scalar coercions: msgen also reads `true`/`false` as 1/0 for numbers, 0/1 for booleans, and quoted
  numbers and yes/no strings; the schema asks for the plain types (see _lax_coercion below).
"""

from __future__ import annotations

import copy
import importlib
import json
import sys
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError
from pydantic import ValidationError

from generator.errors import SpecError
from generator.spec import json_schema
from generator.spec.loader import Located, load_located, parse_located
from generator.spec.models import UPPER_TO_ASCII, ServiceSpec
from generator.spec.validate import validate_located
from tests.conftest import BLUEPRINTS, ROOT, blueprint_data, micro_spec

COMMITTED = ROOT / "generator" / "spec" / "service.schema.json"
SCHEMA = json.loads(COMMITTED.read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA)


def schema_accepts(data: Any) -> bool:
    return VALIDATOR.is_valid(data)


def schema_problems(data: Any) -> str:
    return "\n".join(f"{'.'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in VALIDATOR.iter_errors(data))


def model_accepts(data: Any) -> bool:
    """What the schema is meant to match: the model's field-by-field validation (no cross-field checks)."""
    try:
        ServiceSpec.model_validate(data)
    except ValidationError:
        return False
    return True


def msgen_accepts(data: dict[str, Any]) -> bool:
    """The model and the cross-field checks, as `msgen validate` runs them."""
    try:
        validate_located(Located("<test>", data))
    except SpecError:
        return False
    return True


# --- the committed file -------------------------------------------------------------------------------------------


def test_committed_schema_is_up_to_date():
    assert COMMITTED.read_text(encoding="utf-8") == json_schema(), "run: msgen schema > generator/spec/service.schema.json"


def test_schema_is_a_draft_2020_12_schema_and_stable():
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert json_schema() == json_schema()
    assert json.dumps(SCHEMA, indent=2, sort_keys=True, ensure_ascii=False) + "\n" == json_schema(), "keys are sorted"


def test_schema_forbids_unknown_keys_and_describes_the_spec():
    assert SCHEMA["additionalProperties"] is False
    assert {"service", "team", "api"} <= set(SCHEMA["required"])
    assert all(d.get("additionalProperties") is False for d in SCHEMA["$defs"].values() if d.get("type") == "object")


def test_mappings_with_constrained_keys_refuse_other_keys():
    """pydantic writes a key pattern as patternProperties, which does not refuse other keys; the model does."""

    def walk(node):
        if isinstance(node, dict):
            assert "patternProperties" not in node, node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(SCHEMA)
    data = blueprint_data()
    data["application"]["environment"]["not-a-name"] = "x"
    assert not model_accepts(data) and not schema_accepts(data)


def test_schema_command_prints_it(cli):
    result = cli("schema")
    assert result.exit_code == 0 and result.stdout == json_schema()


# --- everything msgen accepts validates ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BLUEPRINTS))
def test_every_blueprint_validates_and_names_the_committed_schema(name):
    path = BLUEPRINTS[name]
    data = load_located(path).data
    assert schema_accepts(data), schema_problems(data)
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    assert (path.parent / first.split("$schema=", 1)[1]).resolve() == COMMITTED.resolve()


def _spec_candidates(value: Any, depth: int = 0):
    """Spec documents (dicts with service and api, or YAML text of one) inside a test module's globals."""
    if depth > 4:
        return
    if isinstance(value, dict):
        if {"service", "api"} <= value.keys():
            yield value
        else:
            for item in value.values():
                yield from _spec_candidates(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _spec_candidates(item, depth + 1)
    elif isinstance(value, str) and "\napi:" in value:
        try:
            data = parse_located(value, "<test>").data
        except SpecError:
            return
        if isinstance(data, dict) and {"service", "api"} <= data.keys():
            yield data


def specs_used_in_tests() -> list[tuple[str, dict[str, Any]]]:
    """Every spec the other test modules hold at module level (dicts and YAML texts), plus those their helpers build,
    that msgen accepts."""
    found: list[tuple[str, Any]] = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        if path.stem == "test_schema":
            continue
        module = importlib.import_module(f"tests.{path.stem}")
        for attr, value in sorted(vars(module).items()):
            if not attr.startswith("__") and not callable(value):
                found += [(f"{path.stem}.{attr}", spec) for spec in _spec_candidates(value)]
    logical_ids = importlib.import_module("tests.test_logical_ids")
    new = importlib.import_module("tests.test_new")
    found.append(("conftest.micro_spec(40)", micro_spec(40)))
    found.append(("test_logical_ids ROUTES and TABLES", {"service": "prop-svc", "team": "t", "api": {"routes": logical_ids.ROUTES},
                                                         "persistence": {"tables": logical_ids.TABLES}}))
    free_text = blueprint_data()
    free_text["team"] = "".join(new.TOKENS)
    free_text["description"] = "".join(reversed(new.TOKENS))
    found.append(("test_new free text", free_text))
    grown = blueprint_data()
    grown["api"]["routes"].insert(0, {"method": "GET", "path": "/customers/{customer_id}", "handler": "customers.get", "uses": ["customers:read"]})
    grown["persistence"]["tables"].insert(0, {"name": "customers", "partition_key": "customer_id"})
    found.append(("test_logical_ids grown", grown))
    return [(where, spec) for where, spec in found if msgen_accepts(copy.deepcopy(spec))]


def test_every_spec_the_tests_use_validates():
    specs = specs_used_in_tests()
    where = {w for w, _ in specs}
    assert {"test_combinations.SPEC", "test_bad_specs.GOOD", "conftest.micro_spec(40)"} <= where, sorted(where)
    for name, spec in specs:
        assert schema_accepts(spec), f"{name}:\n{schema_problems(spec)}"


@pytest.mark.parametrize("blueprint", sorted(BLUEPRINTS))
def test_a_generated_repositorys_service_yaml_validates_against_its_own_copy(cli, tmp_path, blueprint):
    result = cli("new", "schema-svc", "--blueprint", blueprint, "-o", str(tmp_path), "--no-input")
    assert result.exit_code == 0, result.output
    spec = tmp_path / "schema-svc" / "service.yaml"
    first = spec.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=.msgen/service.schema.json"
    copy_path = spec.parent / first.split("$schema=", 1)[1]
    assert copy_path.read_text(encoding="utf-8") == COMMITTED.read_text(encoding="utf-8"), "the copy is the committed schema"
    data = load_located(spec).data
    assert data["service"] == "schema-svc"
    assert Draft202012Validator(json.loads(copy_path.read_text(encoding="utf-8"))).is_valid(data), schema_problems(data)


# --- invalid specs fail -------------------------------------------------------------------------------------------


def _bad_spec_cases() -> list[tuple[str, dict[str, Any] | list | str | None, str]]:
    """The cases of test_bad_specs whose file holds one YAML document, with what the schema must say about it.

    "field": the model refuses it, so must the schema; "cross-field": only generator/spec/checks.py refuses it, the
    schema accepts it; "not-a-mapping": msgen refuses a document that is not a mapping, so does the schema.
    The other cases are problems of the file (syntax, encoding, size, duplicate keys, tags, merge keys): not the
    schema's business.
    """
    from tests.test_bad_specs import CASES

    out = []
    for case, content, *_ in CASES:
        if not isinstance(content, str) or content == "DIR":
            continue
        try:
            data = parse_located(content, "<case>").data
        except SpecError as exc:
            if "top level of a spec must be a mapping" in str(exc) or "file is empty" in str(exc):
                out.append((case, yaml.safe_load(content), "not-a-mapping"))
            continue
        kind = "cross-field" if model_accepts(data) else "field"
        out.append((case, data, kind))
    return out


BAD = _bad_spec_cases()


def test_the_bad_spec_table_has_cases_of_each_kind():
    kinds = [kind for _, _, kind in BAD]
    assert kinds.count("field") >= 15 and kinds.count("cross-field") >= 10 and kinds.count("not-a-mapping") >= 2, BAD


@pytest.mark.parametrize("case,data,kind", BAD, ids=[f"{case}-{kind}" for case, _, kind in BAD])
def test_the_schema_refuses_the_bad_specs_the_model_refuses(case, data, kind):
    if kind == "cross-field":
        assert schema_accepts(data), schema_problems(data)
        assert not msgen_accepts(data), "msgen refuses it for a cross-field reason"
    else:
        assert not schema_accepts(data)


def _set(data: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    node = data
    for part in path[:-1]:
        node = node.setdefault(part, {}) if isinstance(part, str) else node[part]
    node[path[-1]] = value
    return data


TABLE = ("persistence", "tables", 0)
INDEX = (*TABLE, "indexes", 0)
# Each form a validator in models.py accepts or refuses: (id, path, value, accepted by msgen).
FORMS = [
    ("environments-list", ("environments",), ["dev", "prod"], True),
    ("environments-empty-list", ("environments",), [], False),
    ("environments-listed-twice", ("environments",), ["dev", "dev"], False),
    ("environments-eleven", ("environments",), [f"e{i}" for i in range(11)], False),
    ("environments-empty-mapping", ("environments",), {}, False),
    ("environments-not-a-collection", ("environments",), 3, False),
    ("partition-key-shorthand", (*TABLE, "partition_key"), "order_id", True),
    ("partition-key-mapping", (*TABLE, "partition_key"), {"name": "id", "type": "N"}, True),
    ("partition-key-mapping-name-only", (*TABLE, "partition_key"), {"name": "id"}, True),
    ("partition-key-shorthand-bad-name", (*TABLE, "partition_key"), "order id", False),
    ("partition-key-empty", (*TABLE, "partition_key"), "", False),
    ("partition-key-null", (*TABLE, "partition_key"), None, False),
    ("partition-key-number", (*TABLE, "partition_key"), 5, False),
    ("partition-key-bad-type", (*TABLE, "partition_key"), {"name": "id", "type": "X"}, False),
    ("partition-key-unknown-key", (*TABLE, "partition_key"), {"name": "id", "kind": "S"}, False),
    ("sort-key-shorthand", (*TABLE, "sort_key"), "created_at", True),
    ("sort-key-null", (*TABLE, "sort_key"), None, True),
    ("sort-key-list", (*TABLE, "sort_key"), ["created_at"], False),
    ("index-keys-shorthand", INDEX, {"name": "by-x", "partition_key": "x", "sort_key": "y"}, True),
    ("index-keys-mapping", INDEX, {"name": "by-x", "partition_key": {"name": "x", "type": "B"}, "sort_key": {"name": "y"}}, True),
    ("index-key-null", INDEX, {"name": "by-x", "partition_key": None}, False),
    ("index-sort-key-null", INDEX, {"name": "by-x", "partition_key": "x", "sort_key": None}, True),
    ("method-lower", ("api", "routes", 0, "method"), "post", True),
    ("method-mixed", ("api", "routes", 0, "method"), "pAtCh", True),
    ("method-long-s", ("api", "routes", 0, "method"), "po\u017ft", True),
    ("method-ligature", ("api", "routes", 0, "method"), "po\ufb06", True),
    ("method-dotless-i", ("api", "routes", 0, "method"), "opt\u0131ons", True),
    ("method-unknown", ("api", "routes", 0, "method"), "fetch", False),
    ("method-trailing-space", ("api", "routes", 0, "method"), "get ", False),
    ("method-number", ("api", "routes", 0, "method"), 5, False),
    ("env-plain", ("application", "environment"), {"LOG_FORMAT": "json", "feature_flags": "a,b"}, True),
    ("env-aws-prefix", ("application", "environment"), {"AWS_REGION": "x"}, False),
    ("env-aws-lower-case", ("application", "environment"), {"aws_region": "x"}, True),
    ("env-secret-any-case", ("application", "environment"), {"Db_PassWord": "x"}, False),
    ("env-secret-inside", ("application", "environment"), {"STRIPE_API_KEY_ID": "x"}, False),
    ("env-token-substring", ("application", "environment"), {"TOKENIZER": "x"}, False),
    ("env-bad-name", ("application", "environment"), {"1X": "x"}, False),
    ("env-value-number", ("application", "environment"), {"RETRIES": 3}, False),
    ("tag-plain", ("tags",), {"cost-centre": "cc-1", "Team": "x", "aws-account": "y"}, True),
    ("tag-aws-prefix", ("tags",), {"AwS:x": "y"}, False),
    ("tag-reserved", ("tags",), {"managed-by": "x"}, False),
    ("tag-bad-key", ("tags",), {"a!b": "x"}, False),
    ("tag-key-too-long", ("tags",), {"k" * 129: "x"}, False),
    ("retention-allowed", ("observability", "log_retention_days"), 3653, True),
    ("retention-allowed-float", ("observability", "log_retention_days"), 30.0, True),
    ("retention-not-allowed", ("observability", "log_retention_days"), 42, False),
    ("header-plain", ("observability", "correlation_header"), "X-Amznx-Id", True),
    ("header-amz", ("observability", "correlation_header"), "x-AMZ-id", False),
    ("header-amzn", ("observability", "correlation_header"), "X-Amzn-Trace-Id", False),
    ("cpu-allowed-float", ("container",), {"cpu": 512.0}, True),
    ("cpu-not-allowed", ("container",), {"cpu": 300}, False),
    ("cidr-ascii-digits", ("network",), {"cidr": "10.3.0.0/16"}, True),
    ("cidr-other-script-digits", ("network",), {"cidr": "10.\u0663.0.0/16"}, False),  # \d would match Arabic-Indic digits
    ("event-pattern-any-mapping", ("messaging",), {"events": [{"name": "e", "pattern": {"source": ["x"], "detail": {"n": [{"numeric": [">", 1]}]}}}]},
     True),
]


@pytest.mark.parametrize("path,value,accepted", [f[1:] for f in FORMS], ids=[f[0] for f in FORMS])
def test_the_forms_validators_accept_or_refuse_are_in_the_schema(path, value, accepted):
    data = _set(blueprint_data(), path, value)
    assert model_accepts(data) is accepted
    assert schema_accepts(data) is accepted, schema_problems(data)


def test_upper_to_ascii_lists_every_character_that_upper_cases_to_ascii():
    """Route.method is upper-cased before it is checked; the schema's pattern for it is built from this table."""
    import re

    ascii_caps = re.compile("[A-Z]+")
    found = {c: c.upper() for c in map(chr, range(sys.maxunicode + 1))
             if not ("a" <= c <= "z" or "A" <= c <= "Z") and ascii_caps.fullmatch(c.upper())}
    assert found == UPPER_TO_ASCII


# --- the schema and the model agree on mutated blueprints ---------------------------------------------------------


def _lax_coercion(error: SchemaError) -> bool:
    """A schema error on a value pydantic coerces in lax mode (true as 1, 0/1 as booleans)."""
    if error.validator == "enum" and isinstance(error.instance, bool):  # true as 1 where 1 is allowed (JSON Schema: true is not 1)
        return any(type(v) is int and v == int(error.instance) for v in error.validator_value)
    if error.validator == "type":
        value, wanted = error.instance, error.validator_value
        return (isinstance(value, bool) and wanted in ("integer", "number")) or (
            not isinstance(value, bool) and value in (0, 1) and wanted == "boolean")
    if error.validator in ("anyOf", "oneOf"):
        return any(_lax_coercion(sub) for sub in error.context or ())
    return False


def _paths(node: Any, path: tuple = ()):
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*path, i))


BLUEPRINT_DATA = {name: load_located(path).data for name, path in sorted(BLUEPRINTS.items())}
VALUES = ["x", "", "get", "GET", "payments", "payments:read", "id", "a.b", "/x", "arn:aws:sns:us-east-1:123456789012:t", "X" * 300,
          0, 1, -1, 5, 256, 3653, 10**6, 2.5, 0.5, True, False, None, [], ["x"], [{"name": "q"}], {}, {"name": "id"}, {"handler": "a.b"}]


def test_true_as_an_allowed_integer_is_the_only_disagreement_on_an_enumerated_integer():
    """Found by the mutation test below: the model reads `log_retention_days: true` as 1 (an allowed retention, pydantic's
    lax mode); the schema refuses it twice (not an integer, not one of the values), both only that coercion."""
    data = copy.deepcopy(BLUEPRINT_DATA["serverless-api"])
    data.setdefault("observability", {})["log_retention_days"] = True
    assert model_accepts(data) and not schema_accepts(data)
    errors = list(VALIDATOR.iter_errors(data))
    assert {e.validator for e in errors} == {"enum", "type"} and all(_lax_coercion(e) for e in errors)
    data["observability"]["log_retention_days"] = 2  # not an allowed value: both refuse it, and it is no coercion
    assert not model_accepts(data) and not any(_lax_coercion(e) for e in VALIDATOR.iter_errors(data))


# derandomized (as tests/test_fuzz.py): CI runs the same examples every time
@settings(max_examples=400, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(BLUEPRINT_DATA)), choice=st.data())
def test_mutated_blueprints_the_schema_and_the_model_agree(name, choice):
    data = copy.deepcopy(BLUEPRINT_DATA[name])
    path = choice.draw(st.sampled_from(list(_paths(data))[1:]), label="path")
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    op = choice.draw(st.sampled_from(["replace", "delete", "add"]), label="op")
    value = choice.draw(st.sampled_from(VALUES), label="value")
    if op == "delete":
        del parent[path[-1]]
    elif op == "add" and isinstance(parent, dict):
        parent[choice.draw(st.sampled_from(["colour", "name", "X_Y", "uses"]), label="key")] = value
    elif op == "add":
        parent.append(value)
    else:
        parent[path[-1]] = value
    model, schema = model_accepts(data), schema_accepts(data)
    if model and not schema:
        errors = list(VALIDATOR.iter_errors(data))
        assert all(_lax_coercion(e) for e in errors), schema_problems(data)
    else:
        assert model == schema, f"model accepts: {model}; schema: {schema_problems(data) or 'accepts'}"
