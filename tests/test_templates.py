"""Every blueprint's template: lint-clean, checkov-clean, and secure by construction."""

from __future__ import annotations

import copy
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


# --- every checkov skip reason is true of the template it sits in ------------------------------------------------

def refs_in(value) -> set[str]:
    """Logical IDs an expression refers to anywhere inside it (Ref, GetAtt, ${X} and ${X.Attr} in Sub)."""
    if isinstance(value, list):
        return set().union(*map(refs_in, value)) if value else set()
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    if isinstance(value.get("Ref"), str):
        found.add(value["Ref"])
    if "Fn::GetAtt" in value:
        found.add(value["Fn::GetAtt"][0])
    if "Fn::Sub" in value:
        text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
    return found | set().union(*(refs_in(v) for v in value.values()))


def _props(res: dict, lid: str) -> dict:
    return res[lid].get("Properties", {})


def _of_type(res: dict, kind: str) -> dict[str, dict]:
    return {k: v.get("Properties", {}) for k, v in res.items() if v["Type"] == kind}


def _invocable(res: dict, lid: str) -> set[str]:
    """The function and its aliases: what a caller may name to invoke it."""
    return {lid} | {a for a, alias in _of_type(res, "AWS::Lambda::Alias").items() if alias["FunctionName"] == {"Ref": lid}}


def _behind_api(res: dict, lid: str) -> bool:
    return any(m["Integration"]["Type"] == "AWS_PROXY" and _invocable(res, lid) & set(refs_in(m["Integration"]["Uri"]))
               for m in _of_type(res, "AWS::ApiGateway::Method").values())


def _invoked_asynchronously(res: dict, lid: str) -> bool:
    """SNS subscriptions and EventBridge targets invoke a function asynchronously."""
    names = _invocable(res, lid)
    return (any(names & set(refs_in(s["Endpoint"])) for s in _of_type(res, "AWS::SNS::Subscription").values())
            or any(names & set(refs_in(t["Arn"])) for r in _of_type(res, "AWS::Events::Rule").values() for t in r["Targets"]))


def _consumes_a_queue_with_dead_letters(res: dict, lid: str) -> bool:
    return any(m["FunctionName"].get("Ref") in _invocable(res, lid) and "RedrivePolicy" in _props(res, next(iter(refs_in(m["EventSourceArn"]))))
               for m in _of_type(res, "AWS::Lambda::EventSourceMapping").values())


def _a_release_hook(res: dict, lid: str) -> bool:
    """Named as a CodeDeploy lifecycle hook by an alias's update policy."""
    return any({"Ref": lid} in r["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"].values()
               for r in res.values() if r["Type"] == "AWS::Lambda::Alias" and "UpdatePolicy" in r)


def _uses_the_database(res: dict, lid: str) -> bool:
    role = _props(res, lid)["Role"]["Fn::GetAtt"][0]
    return any(a.startswith("rds-db:") for p in _props(res, role)["Policies"] for st in p["PolicyDocument"]["Statement"]
               for b in branches(st) for a in b["Action"])


def _has_a_vpc(spec, res: dict) -> bool:
    return bool(_of_type(res, "AWS::EC2::VPC")) or bool(spec.network.vpc_id)


def _reached_only_through_the_vpc_link(res: dict, lb: str) -> bool:
    """An internal load balancer whose security groups admit only the VPC link's security group, and only API Gateway uses the link."""
    props = _props(res, lb)
    link_groups = {g["Ref"] for link in _of_type(res, "AWS::ApiGatewayV2::VpcLink").values() for g in link["SecurityGroupIds"]}
    groups = {g["Ref"] for g in props["SecurityGroups"]}
    ingress = [i for i in _of_type(res, "AWS::EC2::SecurityGroupIngress").values() if i["GroupId"]["Ref"] in groups]
    return (props["Scheme"] == "internal" and bool(link_groups) and bool(ingress)
            and all(not _props(res, g).get("SecurityGroupIngress") for g in groups)
            and all(i.get("SourceSecurityGroupId", {}).get("Ref") in link_groups for i in ingress))


def _route_of(spec, lid: str):
    from generator import naming

    return next(r for r in spec.api.routes if naming.method_id(r.method, r.path) == lid)


def _function_without(key: str):
    return lambda spec, res, lid: res[lid]["Type"] == "AWS::Lambda::Function" and key not in _props(res, lid)


# What each skip reason claims, as a check of the spec and the template (spec, resources, logical id) -> bool.
CLAIMS = {
    "CKV_AWS_18": lambda spec, res, lid: (
        "LoggingConfiguration" not in _props(res, lid)
        and (any(b.get("LoggingConfiguration", {}).get("DestinationBucketName") == {"Ref": lid} for b in _of_type(res, "AWS::S3::Bucket").values())
             or any(lid in refs_in(d["DistributionConfig"].get("Logging", {})) for d in _of_type(res, "AWS::CloudFront::Distribution").values()))),
    "CKV_AWS_68": lambda spec, res, lid: "WebACLId" not in _props(res, lid)["DistributionConfig"] and not spec.content_delivery.web_acl_arn,
    "CKV_AWS_174": lambda spec, res, lid: (
        not spec.content_delivery.domain and "Aliases" not in _props(res, lid)["DistributionConfig"]
        and _props(res, lid)["DistributionConfig"]["ViewerCertificate"] == {"CloudFrontDefaultCertificate": True}),
    "CKV_AWS_59": lambda spec, res, lid: _props(res, lid)["AuthorizationType"] == "NONE" and _route_of(spec, lid).auth == "none",
    "CKV_AWS_59:default": lambda spec, res, lid: (
        _props(res, lid)["AuthorizationType"] == "NONE" and _route_of(spec, lid).auth is None and spec.api.auth == "none"),
    "CKV_AWS_120": lambda spec, res, lid: not spec.api.cache_enabled and not _props(res, lid).get("CacheClusterEnabled"),
    "CKV_AWS_115": lambda spec, res, lid: (
        _function_without("ReservedConcurrentExecutions")(spec, res, lid) and spec.application.reserved_concurrency is None),
    "CKV_AWS_116": lambda spec, res, lid: (
        _function_without("DeadLetterConfig")(spec, res, lid) and _behind_api(res, lid) and not _invoked_asynchronously(res, lid)),
    "CKV_AWS_116:hook": lambda spec, res, lid: (
        _function_without("DeadLetterConfig")(spec, res, lid) and _a_release_hook(res, lid)
        and not _behind_api(res, lid) and not _invoked_asynchronously(res, lid)),
    "CKV_AWS_116:queue": lambda spec, res, lid: (
        _function_without("DeadLetterConfig")(spec, res, lid) and _consumes_a_queue_with_dead_letters(res, lid)
        and not _behind_api(res, lid) and not _invoked_asynchronously(res, lid)),
    "CKV_AWS_2": lambda spec, res, lid: (
        _props(res, lid)["Protocol"] == "HTTP" and not spec.container.certificate_arn
        and _reached_only_through_the_vpc_link(res, _props(res, lid)["LoadBalancerArn"]["Ref"])),
    "CKV_AWS_103": lambda spec, res, lid: CLAIMS["CKV_AWS_2"](spec, res, lid),
    "CKV_AWS_91": lambda spec, res, lid: (
        _reached_only_through_the_vpc_link(res, lid)
        and all("AccessLogSetting" in stage for stage in _of_type(res, "AWS::ApiGateway::Stage").values())),
    "CKV_AWS_150": lambda spec, res, lid: (
        not spec.lifecycle.protected and {"Key": "deletion_protection.enabled", "Value": "false"} in _props(res, lid)["LoadBalancerAttributes"]),
    "CKV_AWS_139": lambda spec, res, lid: not spec.lifecycle.protected and _props(res, lid)["DeletionProtection"] is False,
    "CKV_AWS_117": lambda spec, res, lid: (
        _function_without("VpcConfig")(spec, res, lid) and not _has_a_vpc(spec, res) and not spec.application.subnet_ids
        and not _uses_the_database(res, lid)),
    "CKV_AWS_117:outside": lambda spec, res, lid: (
        _function_without("VpcConfig")(spec, res, lid) and _has_a_vpc(spec, res) and not spec.application.subnet_ids
        and not _uses_the_database(res, lid)),
}


def untrue_skips(spec, data: dict) -> list[tuple[str, str, str]]:
    """(logical id, check, reason) of every skip whose reason is unknown or not true of this template."""
    res = data["Resources"]
    key_of = {(key.partition(":")[0], reason): key for key, reason in SKIP_REASONS.items()}
    out = []
    for lid, r in res.items():
        for skip in r.get("Metadata", {}).get("checkov", {}).get("skip", []):
            key = key_of.get((skip["id"], skip["comment"]))
            if key is None or not CLAIMS[key](spec, res, lid):
                out.append((lid, skip["id"], skip["comment"]))
    return out


def test_every_skip_reason_has_a_claim_check():
    assert set(CLAIMS) == set(SKIP_REASONS)


@pytest.mark.parametrize("name", NAMES)
def test_every_checkov_skip_reason_is_true_of_its_template(name):
    assert untrue_skips(load_spec(BLUEPRINTS[name]), template(name)) == []


def _variant(tmp_path, data: dict) -> tuple:
    from generator.synth.pipeline import build_template

    path = tmp_path / "service.yaml"
    path.write_text(yaml.safe_dump(data))
    spec = load_spec(path)
    return spec, build_template(spec)


def test_skip_reasons_follow_the_situation_they_describe(tmp_path):
    from tests.test_combinations import DEFINITION, SPEC

    # An existing VPC and a database: functions that do not use it stay outside, and say so.
    (tmp_path / "flow.asl.json").write_text(json.dumps(DEFINITION))
    spec, data = _variant(tmp_path, SPEC)
    assert untrue_skips(spec, data) == []
    reasons = {s["comment"] for s in data["Resources"]["JobsConsumerFunction"]["Metadata"]["checkov"]["skip"]}
    assert SKIP_REASONS["CKV_AWS_117:outside"] in reasons and SKIP_REASONS["CKV_AWS_117"] not in reasons
    # The hybrid stack creates a VPC: its function's reason is the one for a stack with a VPC.
    hybrid = {s["id"]: s["comment"] for s in resources("hybrid-api")["ApiFunction"]["Metadata"]["checkov"]["skip"]}
    assert hybrid["CKV_AWS_117"] == SKIP_REASONS["CKV_AWS_117:outside"]
    # Public by the API's default, or by the route's own declaration.
    public = yaml.safe_load(BLUEPRINTS["serverless-api"].read_text())
    public["api"]["auth"] = "none"
    public["api"]["routes"][0]["auth"] = "none"
    spec, data = _variant(tmp_path, public)
    assert untrue_skips(spec, data) == []
    from generator import naming

    by_route = {naming.method_id(r.method, r.path): r for r in spec.api.routes}
    for lid, route in by_route.items():
        (comment,) = [s["comment"] for s in data["Resources"][lid]["Metadata"]["checkov"]["skip"] if s["id"] == "CKV_AWS_59"]
        assert comment == SKIP_REASONS["CKV_AWS_59" if route.auth else "CKV_AWS_59:default"], lid


def test_the_skip_reason_check_can_fail():
    """The old hybrid reason ("no VPC in the spec") on a stack that creates a VPC is caught, as is an unknown reason."""
    data = copy.deepcopy(template("hybrid-api"))
    skips = data["Resources"]["ApiFunction"]["Metadata"]["checkov"]["skip"]
    for skip in skips:
        if skip["id"] == "CKV_AWS_117":
            skip["comment"] = SKIP_REASONS["CKV_AWS_117"]
    skips.append({"id": "CKV_AWS_115", "comment": "because"})
    found = {(lid, check) for lid, check, _ in untrue_skips(load_spec(BLUEPRINTS["hybrid-api"]), data)}
    assert found == {("ApiFunction", "CKV_AWS_117"), ("ApiFunction", "CKV_AWS_115")}


def test_the_account_logging_role_is_in_a_service_stack_only_when_the_spec_opts_in(tmp_path):
    from generator.spec.models import ServiceSpec
    from generator.synth.pipeline import build_template, render

    data = {"service": "acct-svc", "team": "t", "content_delivery": {"enabled": False},
            "api": {"routes": [{"method": "GET", "path": "/x", "handler": "x.get"}]}}
    assert "ApiGatewayAccount" not in build_template(ServiceSpec.model_validate(data))["Resources"]  # msgen bootstrap sets it
    data["api"]["account_logging_role"] = True
    opted = build_template(ServiceSpec.model_validate(data))
    assert opted["Resources"]["ApiGatewayAccount"]["Properties"]["CloudWatchRoleArn"] == {"Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]}
    assert "ApiGatewayAccount" in opted["Resources"]["ApiStage"]["DependsOn"]
    assert lint_text(render(opted), "acct.yaml", regions=("us-east-1",), info=True) == []
