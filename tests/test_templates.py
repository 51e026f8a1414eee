"""Every blueprint's template: lint-clean, checkov-clean, and secure by construction."""

from __future__ import annotations

import json
import os
import re
import subprocess
from functools import cache
from pathlib import Path

import pytest
import yaml

from generator.lint import lint_text
from generator.spec import load_spec
from generator.synth.context import SKIP_REASONS
from generator.synth.pipeline import synthesize
from tests.conftest import BLUEPRINTS, ROOT

NAMES = sorted(BLUEPRINTS)
STATEFUL = {"AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::Logs::LogGroup", "AWS::KMS::Key", "AWS::SQS::Queue",
            "AWS::RDS::DBCluster", "AWS::SecretsManager::Secret"}


@cache
def template_text(name: str) -> str:
    return synthesize(load_spec(BLUEPRINTS[name]))


@cache
def template(name: str) -> dict:
    return yaml.safe_load(template_text(name))


def resources(name: str, type_: str | None = None) -> dict[str, dict]:
    return {k: v for k, v in template(name)["Resources"].items() if type_ is None or v["Type"] == type_}


@pytest.mark.parametrize("name", NAMES)
def test_cfn_lint_reports_nothing_at_any_level(name):
    findings = lint_text(template_text(name), f"{name}.yaml", regions=("us-east-1", "eu-west-1"), info=True)
    assert findings == [], "\n".join(map(str, findings))


def test_lint_can_fail():
    """The lint check above is only meaningful if lint_text reports real problems."""
    broken = template_text(NAMES[0]).replace("PointInTimeRecoveryEnabled: true", "PointInTimeRecoveryEnabled: maybe", 1)
    broken = broken.replace("- xray:PutTelemetryRecords", "- xray:*", 1)
    rules = {f.rule for f in lint_text(broken, "broken.yaml")}
    assert "E9101" in rules and any(r.startswith("E3") for r in rules), rules


def _checkov(path: Path) -> dict:
    exe = os.environ.get("MSGEN_CHECKOV") or str(ROOT / ".venv-checkov" / "bin" / "checkov")
    assert Path(exe).exists(), f"checkov not found at {exe}; run `make test`, which installs it in its own venv"
    proc = subprocess.run(
        [exe, "-f", str(path), "--framework", "cloudformation", "--quiet", "--compact", "--skip-download", "-o", "json"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
    )
    assert proc.stdout.strip(), proc.stderr
    report = json.loads(proc.stdout)
    return report[0] if isinstance(report, list) else report


@pytest.mark.parametrize("name", NAMES)
def test_checkov_has_no_failed_checks(name, tmp_path):
    path = tmp_path / f"{name}.yaml"
    path.write_text(template_text(name))
    report = _checkov(path)
    failed = [(c["check_id"], c["resource"]) for c in report.get("results", {}).get("failed_checks", [])]
    assert report["summary"]["passed"] > 30, report["summary"]
    assert failed == [], failed


def test_checkov_can_fail(tmp_path):
    broken = template_text(NAMES[0]).replace("EnableKeyRotation: true", "EnableKeyRotation: false", 1)
    path = tmp_path / "broken.yaml"
    path.write_text(broken)
    failed = {c["check_id"] for c in _checkov(path)["results"]["failed_checks"]}
    assert "CKV_AWS_7" in failed


def _skips(name: str) -> list[tuple[str, str, str]]:
    return [(lid, s["id"], s["comment"]) for lid, r in resources(name).items() for s in r.get("Metadata", {}).get("checkov", {}).get("skip", [])]


@pytest.mark.parametrize("name", NAMES)
def test_every_checkov_skip_is_known_justified_and_documented(name):
    readme = (ROOT / "README.md").read_text()
    for lid, check, comment in _skips(name):
        reasons = {reason for key, reason in SKIP_REASONS.items() if key.partition(":")[0] == check}
        assert comment in reasons, (lid, check)
        assert re.search(rf"\b{check}\b", readme), f"{check} (skipped on {lid}) is not listed in the README"


def test_switches_in_the_spec_remove_skips():
    """The hardened blueprint sets domain, WAF, cache, concurrency and VPC: only inherent skips remain."""
    checks = {check for _, check, _ in _skips("serverless-cognito-api")}
    assert checks == {"CKV_AWS_18", "CKV_AWS_116", "CKV_AWS_59"}, checks


def _policy_statements(name: str):
    for lid, res in resources(name).items():
        props = res.get("Properties", {})
        docs = [p["PolicyDocument"] for p in props.get("Policies", [])]
        for key in ("PolicyDocument", "KeyPolicy", "AssumeRolePolicyDocument"):
            if key in props:
                docs.append(props[key])
        for doc in docs:
            for st in doc["Statement"]:
                yield from ((lid, branch) for branch in branches(st))


def branches(statement: dict) -> list[dict]:
    """A policy statement, or both branches of a conditional one (``Fn::If``; ``AWS::NoValue`` is no statement)."""
    if "Fn::If" in statement:
        return [b for branch in statement["Fn::If"][1:] for b in branches(branch)]
    return [] if statement == {"Ref": "AWS::NoValue"} else [statement]


@pytest.mark.parametrize("name", NAMES)
def test_no_wildcard_actions_are_allowed(name):
    allowed = [(lid, a) for lid, st in _policy_statements(name) if st["Effect"] == "Allow"
               for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]]) if "*" in a]
    assert allowed == []
    # Wildcard *resources* are allowed only for actions AWS gives no resource-level permissions (and in key policies).
    star = {(lid, tuple(st["Action"])) for lid, st in _policy_statements(name)
            if st["Effect"] == "Allow" and "*" in st.get("Resource", []) and resources(name)[lid]["Type"] != "AWS::KMS::Key"}
    for _lid, actions in star:
        # None of these has resource-level permissions in IAM: "*" is the only resource they accept.
        from generator.synth.layers.workflows import LOG_DELIVERY, TRACING

        assert set(actions) <= {"xray:PutTelemetryRecords", "xray:PutTraceSegments", "ec2:DescribeNetworkInterfaces",
                                "ecr:GetAuthorizationToken", *LOG_DELIVERY, *TRACING}, actions


@pytest.mark.parametrize("name", NAMES)
def test_data_is_encrypted_retained_and_private(name):
    for lid, res in resources(name).items():
        props = res.get("Properties", {})
        if res["Type"] in STATEFUL:
            assert res.get("DeletionPolicy") in ("Retain", "Snapshot") and res.get("UpdateReplacePolicy") in ("Retain", "Snapshot"), lid
        if res["Type"] == "AWS::DynamoDB::Table":
            assert props["SSESpecification"]["SSEEnabled"] and props["SSESpecification"]["KMSMasterKeyId"], lid
            assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, lid
            assert props["DeletionProtectionEnabled"] is True and props["BillingMode"] == "PAY_PER_REQUEST", lid
        if res["Type"] == "AWS::S3::Bucket":
            assert all(props["PublicAccessBlockConfiguration"].values()), lid
            assert props["VersioningConfiguration"]["Status"] == "Enabled", lid
            assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"], lid
            policy = resources(name)[f"{lid}Policy"]["Properties"]["PolicyDocument"]["Statement"]
            assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policy), lid
        if res["Type"] == "AWS::Logs::LogGroup":
            assert props["RetentionInDays"] and "KmsKeyId" in props, lid
        if res["Type"] == "AWS::KMS::Key":
            assert props["EnableKeyRotation"] is True, lid
        if res["Type"] == "AWS::Lambda::Function":
            assert props["TracingConfig"]["Mode"] == "Active" and "KmsKeyArn" in props, lid
            assert props["LoggingConfig"]["LogFormat"] == "JSON", lid


@pytest.mark.parametrize("name", NAMES)
def test_cloudfront_is_https_only_with_security_headers(name):
    for lid, res in resources(name, "AWS::CloudFront::Distribution").items():
        cfg = res["Properties"]["DistributionConfig"]
        behaviors = [cfg["DefaultCacheBehavior"], *cfg.get("CacheBehaviors", [])]
        assert all(b["ViewerProtocolPolicy"] in ("https-only", "redirect-to-https") for b in behaviors), lid
        assert all("ResponseHeadersPolicyId" in b for b in behaviors), lid
        assert all(o.get("CustomOriginConfig", {}).get("OriginProtocolPolicy", "https-only") == "https-only" for o in cfg["Origins"])
        assert all("OriginAccessControlId" in o for o in cfg["Origins"] if "S3OriginConfig" in o)
