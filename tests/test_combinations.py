"""Combinations no blueprint shows: each must still be lint-clean, checkov-clean and least-privilege."""

from __future__ import annotations

import json

import pytest
import yaml

from generator.lint import lint_text
from generator.spec import load_spec
from generator.synth.pipeline import synthesize
from tests.test_templates import _checkov

SPEC = {
    "service": "combo-svc",
    "team": "platform",
    "pattern": "serverless",
    "content_delivery": {"enabled": False},
    "api": {"routes": [
        {"method": "POST", "path": "/jobs", "handler": "jobs.create", "uses": ["jobs:send", "flow:start"]},
        {"method": "GET", "path": "/reports/{id}", "handler": "reports.get", "uses": ["database:connect", "reports:read"]},
    ]},
    "persistence": {"tables": [{"name": "reports", "partition_key": {"name": "id", "type": "N"}}]},
    "database": {"name": "combo", "max_capacity": 2},
    "network": {"vpc_id": "vpc-0123456789abcdef0", "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]},
    "messaging": {
        # Steady traffic declared: the producer-stopped alarms AWS recommends for such queues and topics are on (AWS's periods).
        "queues": [{"name": "jobs", "visibility_timeout_s": 120, "max_quiet_minutes": 15,
                    "consumer": {"handler": "jobs.run", "uses": ["changes:publish"]}}],
        "topics": [{"name": "changes", "max_quiet_minutes": 5, "handler": {"handler": "audit.record", "uses": ["reports:write"]}}],
        "events": [{"name": "partner-updates", "bus": "partners", "pattern": {"source": ["partner.feed"]},
                    "targets": ["jobs"], "handler": {"handler": "partners.sync"}}],
    },
    "workflows": [{"name": "flow", "definition": "flow.asl.json", "type": "EXPRESS", "invokes": ["jobs-consumer"], "uses": ["reports:write"]}],
}
DEFINITION = {"StartAt": "Run", "States": {"Run": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                                  "Parameters": {"FunctionName": "${function_jobs_consumer}", "Payload.$": "$"}, "End": True}}}


@pytest.fixture(scope="module")
def template_text(tmp_path_factory):
    folder = tmp_path_factory.mktemp("combo")
    (folder / "flow.asl.json").write_text(json.dumps(DEFINITION))
    (folder / "service.yaml").write_text(yaml.safe_dump(SPEC))
    return synthesize(load_spec(folder / "service.yaml"))


def test_every_block_together_lints_clean(template_text):
    findings = lint_text(template_text, "combo.yaml", regions=("us-east-1", "eu-west-1"), info=True)
    assert findings == [], "\n".join(map(str, findings))


def test_every_block_together_passes_checkov(template_text, tmp_path):
    path = tmp_path / "combo.yaml"
    path.write_text(template_text)
    failed = [(c["check_id"], c["resource"]) for c in _checkov(path)["results"].get("failed_checks", [])]
    assert failed == []


def test_the_pieces_are_wired(template_text):
    res = yaml.safe_load(template_text)["Resources"]
    kinds = {r["Type"] for r in res.values()}
    assert {"AWS::RDS::DBCluster", "AWS::StepFunctions::StateMachine", "AWS::Events::Rule", "AWS::SNS::Subscription",
            "AWS::Lambda::EventSourceMapping"} <= kinds
    assert "AWS::EC2::VPC" not in kinds, "an existing VPC is used, not created"
    api = res["ApiFunction"]["Properties"]
    assert api["VpcConfig"]["SubnetIds"] == SPEC["network"]["subnet_ids"], "the function that uses the database runs in the VPC"
    assert "VpcConfig" not in res["JobsConsumerFunction"]["Properties"], "functions that do not use it stay outside"
    assert res["PartnerUpdatesRule"]["Properties"]["EventBusName"] == "partners"
    assert {t["Id"] for t in res["PartnerUpdatesRule"]["Properties"]["Targets"]} == {"jobs", "handler"}
    assert res["FlowStateMachine"]["Properties"]["DefinitionSubstitutions"] == {"function_jobs_consumer": {"Ref": "JobsConsumerFunctionAlias"},
                                                                               "table_reports": {"Ref": "ReportsTable"}}
    for async_fn in ("ChangesHandlerFunction", "PartnerUpdatesHandlerFunction"):
        assert res[async_fn]["Properties"]["DeadLetterConfig"]["TargetArn"] == {"Fn::GetAtt": [f"{async_fn}DeadLetterQueue", "Arn"]}
