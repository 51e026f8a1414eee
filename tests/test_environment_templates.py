"""Every blueprint's template for every environment: lint-clean, checkov-clean, and protected or deletable as its lifecycle says."""

from __future__ import annotations

from functools import cache

import pytest
import yaml

from generator import api
from generator.lint import lint_text
from generator.synth.pipeline import build_template
from tests.conftest import BLUEPRINTS
from tests.test_templates import STATEFUL, _checkov, untrue_skips

CASES = [(name, env) for name in sorted(BLUEPRINTS) for env in api.load_spec(BLUEPRINTS[name]).spec.environment_names]


@cache
def env_spec(name: str, env: str):
    return api.load_spec(BLUEPRINTS[name]).spec.for_environment(env)


@cache
def env_text(name: str, env: str) -> str:
    return api.synth(api.load_spec(BLUEPRINTS[name]).spec, "yaml", env)


@pytest.mark.parametrize("name,env", CASES)
def test_cfn_lint_reports_nothing_for_any_environment(name, env):
    findings = lint_text(env_text(name, env), f"{name}-{env}.yaml", regions=("us-east-1",), info=True)
    assert findings == [], "\n".join(map(str, findings))


@pytest.mark.parametrize("name", sorted(BLUEPRINTS))
def test_checkov_passes_every_environment_and_every_skip_is_true(name, tmp_path):
    for env in api.load_spec(BLUEPRINTS[name]).spec.environment_names:
        path = tmp_path / f"{env}.yaml"
        path.write_text(env_text(name, env), encoding="utf-8")
        report = _checkov(path)
        failed = [(c["check_id"], c["resource"]) for c in report.get("results", {}).get("failed_checks", [])]
        assert failed == [], (env, failed)
        assert untrue_skips(env_spec(name, env), yaml.safe_load(env_text(name, env))) == [], env


@pytest.mark.parametrize("name,env", CASES)
def test_data_is_kept_and_protected_unless_the_environment_says_it_may_go(name, env):
    spec = env_spec(name, env)
    data = build_template(spec)["Resources"]
    keep = spec.lifecycle.retain_data
    for lid, res in data.items():
        if res["Type"] in STATEFUL:
            expected = ("Retain", "Snapshot") if keep else ("Delete",)
            assert res["DeletionPolicy"] in expected and res["UpdateReplacePolicy"] in expected, (lid, res["DeletionPolicy"])
        props = res.get("Properties", {})
        if res["Type"] == "AWS::DynamoDB::Table":
            assert props["DeletionProtectionEnabled"] is spec.lifecycle.protected, lid
        if res["Type"] == "AWS::RDS::DBCluster":
            assert props["DeletionProtection"] is spec.lifecycle.protected, lid
        if res["Type"] == "AWS::OpenSearchServerless::Collection":
            assert props["DeletionProtection"] == ("ENABLED" if spec.lifecycle.protected else "DISABLED"), lid


def test_the_blueprints_dev_environments_are_deletable_and_prod_is_protected():
    for name in BLUEPRINTS:
        spec = api.load_spec(BLUEPRINTS[name]).spec
        assert not spec.for_environment("dev").lifecycle.protected and not spec.for_environment("dev").lifecycle.retain_data, name
        assert spec.for_environment("prod").lifecycle.protected and spec.for_environment("prod").lifecycle.retain_data, name
        assert spec.for_environment("prod").observability.log_retention_days > spec.for_environment("dev").observability.log_retention_days
