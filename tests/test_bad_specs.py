"""Malformed specs: each gives exit 2, a located message, no traceback, and writes nothing."""

from __future__ import annotations

import os
import re

import pytest
import yaml

from tests.conftest import blueprint_data, blueprint_text

GOOD = blueprint_text()


def _swap(old: str, new: str) -> str:
    assert old in GOOD, f"test fixture out of date: {old!r} not in the default blueprint"
    return GOOD.replace(old, new, 1)


# (case id, file content (str or bytes; None = do not create), expected text in stderr, expected line or None)
CASES = [
    ("yaml-syntax", "service: x\napi: [\n", "YAML syntax error", 3),
    ("tab-indent", "service: payment-svc\napi:\n\troutes: []\n", "tabs are not allowed", 3),
    ("empty-file", "", "file is empty", 1),
    ("only-comments", "# nothing here\n", "file is empty", 1),
    ("list-at-root", "- service: x\n", "must be a mapping", 1),
    ("scalar-at-root", "hello\n", "must be a mapping", 1),
    ("two-documents", GOOD + "\n---\nservice: y\n", "several YAML documents", None),
    ("unknown-top-key", GOOD + "colour: blue\n", "colour: unknown key", None),
    ("unknown-nested-key", _swap("  memory_mb: 512", "  memory_mb: 512\n  memroy: 1"), "application.memroy: unknown key", None),
    ("wrong-type-memory", _swap("memory_mb: 512", "memory_mb: lots"), "application.memory_mb", None),
    ("wrong-type-routes", _swap("  auth: iam", "  auth: iam\n  throttling: 5"), "api.throttling", None),
    ("bad-service-name-case", _swap("service: payment-svc", "service: Payment-Svc"), "service: 'Payment-Svc' is not valid", 3),
    ("bad-service-name-short", _swap("service: payment-svc", "service: ab"), "service: 'ab' is not valid", 3),
    ("bad-service-name-long", _swap("service: payment-svc", "service: " + "a" * 41), "is not valid", 3),
    ("service-name-dotdot", _swap("service: payment-svc", "service: ../etc"), "service: '../etc' is not valid", 3),
    ("table-name-traversal", _swap("- name: payments", "- name: ../payments"), "persistence.tables[0].name", None),
    ("duplicate-route", _swap('    - {method: POST, path: /payments, handler: payments.create, uses: ["payments:write"]}',
                              '    - {method: POST, path: /payments, handler: payments.create, uses: ["payments:write"]}\n'
                              '    - {method: POST, path: /payments, handler: payments.again}'), "duplicate route POST /payments", 15),
    ("bad-method", _swap("method: POST, path: /payments,", "method: FETCH, path: /payments,"), "api.routes[0].method", 14),
    ("path-param-unclosed", _swap('path: "/payments/{id}", handler: payments.get', 'path: "/payments/{id", handler: payments.get'),
     "not a valid path parameter", 15),
    ("path-param-conflict", _swap('path: "/payments/{id}/refunds"', 'path: "/payments/{pid}/refunds"'), "conflicts with", 16),
    ("path-param-twice", _swap('path: "/payments/{id}/refunds"', 'path: "/payments/{id}/{id}"'), "appears twice", 16),
    ("path-no-slash", _swap("path: /payments,", "path: payments,"), "api.routes[0].path", 14),
    ("unknown-table-reference", _swap('uses: ["payments:read"]', 'uses: ["ledger:read"]'), "'ledger' is not a table, bucket, queue, topic, workflow or collection", 15),
    ("bad-uses-form", _swap('uses: ["payments:read"]', 'uses: ["payments:delete"]'), "api.routes[1].uses[0]", 15),
    ("bad-handler", _swap("handler: payments.get", "handler: Payments-Get"), "api.routes[1].handler", 15),
    ("no-routes", _swap("  auth: iam\n", "  auth: iam\n  routes: []\n").replace("  routes:\n    - {method: POST", "  x_routes:\n    - {method: POST", 1),
     "api", None),
    ("missing-service", _swap("service: payment-svc\n", ""), "service: required key is missing", None),
    ("secret-in-env", _swap("CURRENCY_DEFAULT: EUR", "DB_PASSWORD: hunter2"), "looks like a secret", None),
    ("bad-retention", GOOD + "observability: {log_retention_days: 42}\n", "42 is not a retention", None),
    ("duplicate-key", _swap("team: payments", "team: payments\nteam: billing"), "duplicate key", 5),
    ("duplicate-table", _swap("  buckets:\n    - name: receipts", "    - {name: payments, partition_key: id}\n  buckets:\n    - name: receipts"),
     "duplicate name", None),
    ("unknown-yaml-tag", _swap("team: payments", "team: !Ref Team"), "cannot read value", 4),
    ("uses-wrong-verb", _swap('uses: ["payments:read"]', 'uses: ["payments:publish"]'), "use payments:read or payments:readwrite", 15),
    ("email-without-domain", _swap('uses: ["payments:read"]', 'uses: ["email:send"]'), "needs messaging.email", 15),
    ("queue-visibility-too-short", GOOD + "messaging:\n  queues:\n    - {name: jobs, visibility_timeout_s: 5, consumer: {handler: jobs.run}}\n",
     "shorter than the consumer's timeout", None),
    ("topic-unknown-subscriber", GOOD + "messaging:\n  topics:\n    - {name: events, subscribers: [nowhere]}\n",
     "'nowhere' is not a queue of this service", None),
    ("event-rule-pattern-and-schedule", GOOD + "messaging:\n  queues: [{name: jobs}]\n  events:\n    - {name: tick, schedule: rate(5 minutes), "
     "pattern: {source: [x]}, targets: [jobs]}\n", "either `pattern`", None),
    ("event-rule-unknown-target", GOOD + "messaging:\n  events:\n    - {name: tick, schedule: rate(5 minutes), targets: [nowhere]}\n",
     "'nowhere' is not a queue", None),
    ("queue-named-like-table", GOOD + "messaging:\n  queues:\n    - {name: payments}\n", "duplicate name", None),
    ("cognito-without-pool", _swap("auth: iam", "auth: cognito"), "cognito_user_pool_arn", None),
    ("billion-laughs", "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n", "more than", None),
    ("merge-key-scalar", _swap("team: payments", "team: payments\n<<: 5"), "a merge key '<<' takes a mapping", 5),
    ("merge-key-list-of-scalars", _swap("team: payments", "team: payments\n<<: [5]"), "a merge key '<<' merges mappings only", 5),
    ("merge-key-nested-scalar", _swap("  memory_mb: 512", "  memory_mb: 512\n  <<: x"), "application: a merge key", None),
    ("binary-junk", bytes(range(256)) * 4, "binary", 1),
    ("not-utf8", b"service: caf\xe9\n", "not UTF-8", 1),
    ("ten-megabytes", b"# " + b"x" * (10 * 1024 * 1024) + b"\n", "a spec may be at most", 1),
    ("missing-file", None, "no such file", None),
    ("directory", "DIR", "is a directory", None),
]


@pytest.mark.parametrize("case,content,expected,line", CASES, ids=[c[0] for c in CASES])
def test_bad_spec_is_refused_cleanly(cli, tmp_path, case, content, expected, line):
    spec = tmp_path / "service.yaml"
    if content == "DIR":
        spec.mkdir()
    elif isinstance(content, bytes):
        spec.write_bytes(content)
    elif content is not None:
        spec.write_text(content, encoding="utf-8")
    out = tmp_path / "out" / "template.yaml"
    existing = tmp_path / "existing.yaml"
    existing.write_text("Description: 'msgen 0.0.0: keep me'\n")
    before = existing.read_bytes()

    for target in (out, existing):
        result = cli("synth", str(spec), "-o", str(target))
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert expected in result.stderr, result.stderr
        assert str(spec) in result.stderr, "the message must name the file"
        if line is not None:
            assert re.search(rf"{re.escape(str(spec))}:{line}:\d+: ", result.stderr), result.stderr
        assert result.stdout == ""
    assert not out.exists() and not out.parent.exists(), "nothing may be written for a bad spec"
    assert existing.read_bytes() == before, "an existing output must be left untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p for p in ("service.yaml", "existing.yaml") if (tmp_path / p).exists())


def test_every_problem_is_reported_in_one_run(cli, tmp_path):
    spec = tmp_path / "service.yaml"
    text = _swap("service: payment-svc", "service: Bad_Name")
    text = text.replace("method: POST, path: /payments,", "method: FETCH, path: /payments,", 1)
    text = text.replace('uses: ["payments:read"]', 'uses: ["ledger:read"]', 1)
    text = text.replace("memory_mb: 512", "memory_mb: 1", 1)
    spec.write_text(text)
    result = cli("validate", str(spec))
    assert result.exit_code == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith(str(spec))]
    paths = [ln.split(": ")[1] for ln in lines]
    assert paths == ["service", "api.routes[0].method", "api.routes[1].uses[0]", "application.memory_mb"], result.stderr
    assert "4 problems found" in result.stderr


def test_at_least_25_cases():
    assert len(CASES) >= 25


@pytest.mark.parametrize("definition,content,expected", [
    ("missing.asl.json", None, "cannot read missing.asl.json"),
    ("flow.json", "{not json", "is not valid JSON"),
    ("flow.json", '{"Comment": "no states"}', "needs StartAt and States"),
], ids=["missing", "not-json", "not-asl"])
def test_bad_workflow_definitions_are_located_at_the_definition_line(cli, tmp_path, definition, content, expected):
    if content is not None:
        (tmp_path / definition).write_text(content)
    spec = tmp_path / "service.yaml"
    spec.write_text(GOOD + f"workflows:\n  - name: flow\n    definition: {definition}\n")
    line = len(GOOD.splitlines()) + 3
    result = cli("synth", str(spec), "-o", str(tmp_path / "out.yaml"))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{spec}:{line}:17: workflows[0].definition: " in result.stderr and expected in result.stderr, result.stderr
    assert not (tmp_path / "out.yaml").exists()


def _edit(blueprint: str, old: str, new: str) -> str:
    text = blueprint_text(blueprint)
    assert old in text, f"test fixture out of date: {old!r} not in {blueprint}"
    return text.replace(old, new, 1)


# A value of an unexpected type is reported once, by the model, at its line; no cross-field check crashes on it,
# repeats it or reasons from it. (spec text, the one expected problem's path and message)
TYPE_CASES = [
    ("event-name-list", _edit("event-worker", "- name: payment-settled", "- name: [payment-settled]"),
     "messaging.events[0].name: Input should be a valid string"),
    ("event-name-mapping", _edit("event-worker", "- name: payment-settled", "- name: {a: 1}"),
     "messaging.events[0].name: Input should be a valid string"),
    ("container-cpu-list", _edit("hybrid-api", "cpu: 512", "cpu: [512]"), "container.cpu: Input should be 256, 512"),
    ("container-cpu-mapping", _edit("hybrid-api", "cpu: 512", "cpu: {units: 512}"), "container.cpu: Input should be 256, 512"),
    ("container-memory-out-of-range", _edit("hybrid-api", "memory_mb: 1024", "memory_mb: 100000"),
     "container.memory_mb: Input should be less than or equal to 30720"),
    ("container-max-tasks-zero", _edit("hybrid-api", "max_tasks: 8", "max_tasks: 0"), "container.max_tasks: Input should be greater than"),
    ("container-a-number", yaml.safe_dump({**blueprint_data("hybrid-api"), "container": 5}), "container: Input should be a valid dictionary"),
    ("pattern-list", _edit("hybrid-api", "pattern: hybrid", "pattern: [hybrid]"), "pattern: Input should be 'serverless', 'hybrid' or 'micro'"),
    ("network-subnets-a-number", GOOD + "network: {vpc_id: vpc-12345678, subnet_ids: 5}\n", "network.subnet_ids: Input should be a valid list"),
    ("network-subnets-true", GOOD + "network: {vpc_id: vpc-12345678, subnet_ids: true}\n", "network.subnet_ids: Input should be a valid list"),
    ("network-vpc-list", GOOD + "network: {vpc_id: [vpc-12345678], subnet_ids: [subnet-12345678, subnet-87654321]}\n",
     "network.vpc_id: Input should be a valid string"),
    ("timeout-list", _edit("event-worker", "timeout_s: 20", "timeout_s: [20]"),
     "application.timeout_s: Input should be a valid integer"),
    ("database-capacity-list", _edit("hybrid-api", "max_capacity: 8", "max_capacity: [8]"), "database.max_capacity: Input should be a valid number"),
    ("event-targets-a-number", _edit("event-worker", "targets: [notifications]", "targets: 5"), "messaging.events[0].targets: Input should be a valid list"),
    ("subnet-ids-mapping", _edit("serverless-api", "  memory_mb: 512", "  memory_mb: 512\n  subnet_ids: {a: 1}\n  security_group_ids: [sg-12345678]"),
     "application.subnet_ids: Input should be a valid list"),
]


@pytest.mark.parametrize("case,text,expected", TYPE_CASES, ids=[c[0] for c in TYPE_CASES])
def test_a_value_of_the_wrong_type_is_reported_once_and_located(cli, tmp_path, case, text, expected):
    spec = tmp_path / "service.yaml"
    spec.write_text(text)
    result = cli("validate", str(spec))
    assert result.exit_code == 2, result.output
    assert "internal error" not in result.output and "Traceback" not in result.output
    problems = [ln for ln in result.stderr.splitlines() if ln.startswith(f"{spec}:")]
    assert len(problems) == 1 and re.match(rf"{re.escape(str(spec))}:\d+:\d+: {re.escape(expected)}", problems[0]), result.stderr


def test_cross_field_checks_read_numbers_as_the_model_does(cli, tmp_path):
    spec = tmp_path / "service.yaml"
    spec.write_text(_edit("hybrid-api", "memory_mb: 1024", 'memory_mb: "8192"'))
    result = cli("validate", str(spec))
    assert result.exit_code == 2 and "container.memory_mb: Fargate with cpu 512 takes 1024-4096 MiB" in result.stderr, result.stderr


@pytest.mark.parametrize("make,expected", [
    (lambda p: p.symlink_to(p.name), "cannot read flow.json: a symbolic link loop"),
    (lambda p: p.mkdir(), "cannot read flow.json: not a regular file"),
    (lambda p: os.mkfifo(p), "cannot read flow.json: not a regular file"),
    (lambda p: p.write_text("[" * 100_000 + "]" * 100_000), "flow.json is not valid JSON: nested too deeply"),
    (lambda p: p.write_text('{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Result": ' + "[" * 900 + "]" * 900 + "}}}"),
     "flow.json nests values more than 64 levels deep"),
    (lambda p: p.write_text('{"StartAt": "A", "States": {}, "Comment": "' + "x" * 1024 * 1024 + '"}'), "larger than Step Functions' limit"),
], ids=["symlink-loop", "directory", "fifo", "json-too-deep-to-parse", "json-too-deep-to-write", "too-large"])
def test_unusable_workflow_definition_files_are_located_errors(cli, tmp_path, make, expected):
    make(tmp_path / "flow.json")
    spec = tmp_path / "service.yaml"
    spec.write_text(GOOD + "workflows:\n  - name: flow\n    definition: flow.json\n")
    line = len(GOOD.splitlines()) + 3
    for command in ("validate", "synth"):
        result = cli(command, str(spec), *(["--no-cache"] if command == "synth" else []))
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
        assert f"{spec}:{line}:17: workflows[0].definition: " in result.stderr and expected in result.stderr, result.stderr


def test_a_setting_msgen_replaced_says_what_replaced_it(cli, tmp_path):
    spec = tmp_path / "old.yaml"
    spec.write_text("service: old-svc\nteam: t\napi:\n  routes:\n    - {method: GET, path: /x, handler: x.get}\n"
                    "observability:\n  alarms:\n    target_5xx_count: 5\n", encoding="utf-8")
    result = cli("validate", str(spec))
    assert result.exit_code == 2
    assert f"{spec}:8:5: observability.alarms.target_5xx_count: no longer a setting: use observability.alarms.target_5xx_rate_percent" \
        in result.output
