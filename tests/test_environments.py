"""Environments: a list of names, or a mapping of per-environment overrides; a template per environment."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from generator import api
from generator.spec.environments import merge
from generator.synth.pipeline import build_template
from tests.conftest import BLUEPRINTS

SPEC = textwrap.dedent("""\
    service: env-svc
    team: t
    environments:
      dev:
        observability: {log_retention_days: 7}
      staging:
      prod:
        application: {memory_mb: 1024, environment: {MODE: live}}
        observability: {log_retention_days: 365, alarms: {email: oncall@example.com}}
    application:
      environment: {MODE: test, REGION_HINT: eu}
    content_delivery: {enabled: false}
    api:
      routes:
        - {method: GET, path: /orders, handler: orders.list_all, uses: ["orders:read"]}
    persistence:
      tables:
        - {name: orders, partition_key: id}
    """)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "service.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_mappings_merge_deeply_and_everything_else_replaces():
    base = {"a": {"b": 1, "c": [1, 2], "d": {"e": 1}}, "f": 1}
    assert merge(base, {"a": {"c": [3], "d": {"g": 2}}}) == {"a": {"b": 1, "c": [3], "d": {"e": 1, "g": 2}}, "f": 1}
    assert merge(base, {"a": None}) == {"a": None, "f": 1}
    assert base == {"a": {"b": 1, "c": [1, 2], "d": {"e": 1}}, "f": 1}  # untouched


def test_each_environment_gets_its_own_settings(tmp_path):
    loaded = api.load_spec(write(tmp_path, SPEC))
    assert loaded.spec.environment_names == ["dev", "staging", "prod"]
    prod = loaded.spec.for_environment("prod")
    assert prod.application.memory_mb == 1024 and prod.observability.log_retention_days == 365
    assert prod.application.environment == {"MODE": "live", "REGION_HINT": "eu"}  # mappings merge key by key
    assert prod.environments == ["prod"]
    staging = loaded.spec.for_environment("staging")
    assert staging.application.memory_mb == loaded.spec.application.memory_mb
    res = build_template(loaded.spec.for_environment("dev"))["Resources"]
    assert {r["Properties"]["RetentionInDays"] for r in res.values() if r["Type"] == "AWS::Logs::LogGroup"} == {7}
    params = build_template(prod)["Parameters"]["Environment"]
    assert params["AllowedValues"] == ["prod"] and params["Default"] == "prod"


def test_logical_ids_are_the_same_in_every_environment(tmp_path):
    spec = api.load_spec(write(tmp_path, SPEC)).spec
    ids = {env: set(build_template(spec.for_environment(env))["Resources"]) for env in spec.environment_names}
    assert ids["dev"] == ids["staging"] and ids["prod"] - ids["dev"] == {"AlarmEmailSubscription"}


@pytest.mark.parametrize("override,where,message", [
    ("prod:\n    application: {memory_mb: 99999}", "environments.prod.application.memory_mb", "less than or equal to 10240"),
    ("prod:\n    application: {colour: blue}", "environments.prod.application.colour", "unknown key"),
    ("prod:\n    pattern: micro", "environments.prod.pattern", "cannot be overridden per environment: the pattern"),
    ("prod:\n    service: other-svc", "environments.prod.service", "cannot be overridden per environment"),
    ("prod:\n    persistence: {tables: [{name: orders, partition_key: other}]}", "environments.prod.persistence.tables",
     "keys or indexes of table 'orders' would differ"),
    ("prod:\n    persistence: {tables: [], buckets: [{name: orders}]}", "environments.prod.persistence.buckets",
     "'orders' is a table in the spec and would be a bucket in this environment"),
    ("prod:\n    persistence: {tables: []}", "environments.prod", "'orders' is not a table, bucket"),
    ("prod:\n    application: {timeout_s: 20}\n    messaging: {queues: [{name: jobs, visibility_timeout_s: 10, consumer: {handler: jobs.handle}}]}",
     "environments.prod.messaging.queues[0].visibility_timeout_s", "shorter than the consumer's timeout"),
])
def test_overrides_are_validated_like_the_spec_and_located_at_their_own_line(tmp_path, cli, override, where, message):
    text = SPEC.replace("environments:\n", "environments:\n  " + override + "\n", 1).replace("  prod:\n    application: {memory_mb: 1024", "  prd:\n    application: {memory_mb: 1024", 1)
    path = write(tmp_path, text)
    result = cli("validate", str(path))
    assert result.exit_code == 2, result.output
    line = next(ln for ln in result.output.splitlines() if where in ln)
    assert message in line, result.output
    file, lineno, col, *_ = line.split(":")
    assert file == str(path) and 1 < int(lineno) < 10  # inside the environments section


def test_a_list_of_names_still_works_and_gives_the_same_template_as_before(tmp_path):
    data = yaml.safe_load(BLUEPRINTS["serverless-api"].read_text(encoding="utf-8"))
    assert isinstance(data["environments"], dict)  # the blueprint declares overrides per environment
    data["environments"] = list(data["environments"])  # the same names, as a plain list (every spec written before)
    spec = api.load_spec(write(tmp_path, yaml.safe_dump(data, sort_keys=False))).spec
    golden = (Path(__file__).parent / "golden" / "serverless-api.template.yaml").read_text(encoding="utf-8")
    assert isinstance(spec.environments, list) and api.synth(spec) == golden


def test_synth_to_a_directory_writes_every_environment_and_check_covers_them(tmp_path, cli):
    spec = write(tmp_path, SPEC)
    out = tmp_path / "infra"
    result = cli("synth", str(spec), "-o", f"{out}/")
    assert result.exit_code == 0, result.output
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.yaml"))
    assert files == ["dev/template.yaml", "prod/template.yaml", "staging/template.yaml"]
    assert cli("synth", str(spec), "-o", str(out), "--check").exit_code == 0
    (out / "prod" / "template.yaml").write_text((out / "dev" / "template.yaml").read_text())
    stale = cli("synth", str(spec), "-o", str(out), "--check")
    assert stale.exit_code == 1 and "prod/template.yaml is stale" in stale.output
    (out / "staging" / "template.yaml").unlink()
    missing = cli("synth", str(spec), "-o", str(out), "--check")
    assert missing.exit_code == 1 and "staging/template.yaml does not exist" in missing.output
    one = cli("synth", str(spec), "--env", "prod", "-o", str(tmp_path / "prod.yaml"))
    assert one.exit_code == 0 and yaml.safe_load((tmp_path / "prod.yaml").read_text())["Parameters"]["Environment"]["Default"] == "prod"


def test_an_unknown_environment_is_a_usage_error(cli):
    result = cli("synth", "serverless-api", "--env", "qa")
    assert result.exit_code == 2 and "its environments are: dev, staging, prod" in result.output


@pytest.mark.parametrize("value,message", [
    ("[]", "environments: List should have at least 1 item"),
    ("[dev, dev]", "environments: an environment is listed twice"),
    ("{}", "environments: Dictionary should have at least 1 item"),
])
def test_a_wrong_list_of_environments_gets_one_message_about_what_was_written(tmp_path, cli, value, message):
    """environments is a list or a mapping: a bad list is not also told it "should be a valid dictionary"."""
    head, tail = SPEC.split("environments:\n", 1)
    path = write(tmp_path, head + f"environments: {value}\n" + tail[tail.index("\napplication:") + 1:])
    result = cli("validate", str(path))
    assert result.exit_code == 2 and message in result.output, result.output
    assert "1 problem found" in result.output and "valid dictionary" not in result.output and "valid list" not in result.output
