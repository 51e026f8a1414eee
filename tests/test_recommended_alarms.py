"""Every resource of every blueprint (and of the combination spec) against AWS's recommended alarms.

The recommendations are tests/fixtures/aws_recommended_alarms.json, AWS's list transcribed with its date and kept
apart from msgen's alarm table (generator/alarm_table.py). scripts/alarm_coverage.py decides from the template
alone which recommendations apply to which resource and whether an alarm with AWS's settings is there; then each
difference must be a deviation the table records with its reason, each absence a recommendation the table leaves
out with its reason, and a recommendation the table forgot fails. The last tests break the table or a template on
purpose: the check can fail.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from types import MappingProxyType

import pytest
import yaml

from generator import alarm_table
from generator.spec import load_spec
from generator.synth.pipeline import build_template
from tests.conftest import BLUEPRINTS, ROOT
from tests.test_combinations import DEFINITION, SPEC
from tests.test_templates import template

NAMES = sorted(BLUEPRINTS)


def _coverage():
    spec = importlib.util.spec_from_file_location("alarm_coverage", ROOT / "scripts" / "alarm_coverage.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


coverage = _coverage()


def problems(tpl: dict) -> list[str]:
    return [p for f in coverage.check(tpl) for p in coverage.judge(f).problems]


def outcomes(tpl: dict) -> dict[str, str]:
    return coverage.summary(coverage.check(tpl))["by_recommendation"]


@pytest.fixture(scope="module")
def combination(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("combo-alarms")
    (folder / "flow.asl.json").write_text(json.dumps(DEFINITION))
    (folder / "service.yaml").write_text(yaml.safe_dump(SPEC))
    return build_template(load_spec(folder / "service.yaml"))


@pytest.mark.parametrize("name", NAMES)
def test_every_recommendation_is_emitted_with_aws_settings_or_a_recorded_reason(name):
    found = coverage.check(template(name))
    assert len(found) >= 20, "the check found the blueprint's resources"
    assert problems(template(name)) == []


def test_the_combination_spec_too(combination):
    assert problems(combination) == []
    result = outcomes(combination)
    # queues and topics that declare steady traffic get the producer-stopped alarms, with AWS's settings
    for rec in ("queue: AWS/SQS NumberOfMessagesSent (QueueName)", "topic: AWS/SNS NumberOfMessagesPublished (TopicName)",
                "topic: AWS/SNS NumberOfNotificationsDelivered (TopicName)"):
        assert result[rec] == "aws", rec
    for rec in ("database: AWS/RDS MaximumUsedTransactionIDs (DBInstanceIdentifier)", "database: AWS/RDS ReadLatency (DBInstanceIdentifier)",
                "database: AWS/RDS EngineUptime (DBClusterIdentifier, Role)", "queue: AWS/SQS ApproximateNumberOfMessagesVisible (QueueName)"):
        assert result[rec] == "aws", rec


def test_the_issues_missing_alarms_are_there():
    """Issue 10's list of what was missing, per blueprint that emits the resource."""
    expected = {
        "serverless-api": ["table: AWS/DynamoDB ReadThrottleEvents (TableName, GlobalSecondaryIndexName)",
                           "table: AWS/DynamoDB WriteThrottleEvents (TableName, GlobalSecondaryIndexName)",
                           "table: AWS/DynamoDB SuccessfulRequestLatency (TableName, Operation)",
                           "alarm_topic: AWS/SNS NumberOfNotificationsFailed (TopicName)"],
        "event-worker": ["queue: AWS/SQS ApproximateNumberOfMessagesVisible (QueueName)",
                         "queue: AWS/SQS ApproximateNumberOfMessagesNotVisible (QueueName)"],
        "hybrid-api": [f"database: AWS/RDS {m} (DBInstanceIdentifier)" for m in
                       ("MaximumUsedTransactionIDs", "ReadLatency", "WriteLatency", "BufferCacheHitRatio", "DatabaseConnections")]
                      + ["database: AWS/RDS EngineUptime (DBClusterIdentifier, Role)",
                         "database: AWS/RDS StorageNetworkThroughput (DBClusterIdentifier, Role)",
                         "container_service: ECS/ContainerInsights EphemeralStorageUtilized (ClusterName, ServiceName)"],
    }
    for name, recs in expected.items():
        result = outcomes(template(name))
        for rec in recs:
            assert result[rec] in ("aws", "deviation"), (name, rec, result[rec])
    assert outcomes(template("event-worker"))["queue: AWS/SQS ApproximateAgeOfOldestMessage (QueueName)"] == "aws"  # 15 of 15


def test_containers_do_not_page_saturated_when_no_task_runs():
    res = template("hybrid-api")["Resources"]
    assert res["ServiceCpuAlarm"]["Properties"]["TreatMissingData"] == "notBreaching"
    assert res["ServiceMemoryAlarm"]["Properties"]["TreatMissingData"] == "notBreaching"
    running = res["ServiceRunningTasksAlarm"]["Properties"]
    assert running["TreatMissingData"] == "breaching" and "service is down" in running["AlarmDescription"]


# --- the check can fail ----------------------------------------------------------------------------------------------
def _without(mapping, kind, predicate):
    rows = dict(mapping)
    rows[kind] = tuple(r for r in rows[kind] if not predicate(r))
    return MappingProxyType(rows)


def _fresh(name: str = "serverless-api") -> dict:
    return build_template(load_spec(BLUEPRINTS[name]))


def test_a_row_the_table_forgot_fails(monkeypatch):
    monkeypatch.setattr(alarm_table, "ALARMS", _without(alarm_table.ALARMS, "table", lambda r: r.metric == "SuccessfulRequestLatency"))
    found = problems(_fresh())
    assert any("SuccessfulRequestLatency" in p and "not in the alarm table" in p for p in found), found


def test_a_reason_the_table_forgot_fails(monkeypatch):
    monkeypatch.setattr(alarm_table, "NOT_EMITTED",
                        _without(alarm_table.NOT_EMITTED, "function", lambda s: s.aws.metric == "ClaimedAccountConcurrency"))
    found = problems(_fresh())
    assert any("ClaimedAccountConcurrency" in p and "not in the alarm table" in p for p in found), found


def test_an_unrecorded_deviation_fails(monkeypatch):
    rows = dict(alarm_table.ALARMS)
    rows["function"] = tuple(r if r.signal != "errors" else
                             alarm_table.Alarm(**{**r.__dict__, "missing": "notBreaching"}) for r in rows["function"])
    monkeypatch.setattr(alarm_table, "ALARMS", MappingProxyType(rows))
    found = problems(_fresh())
    assert any("AWS/Lambda Errors" in p and "treat_missing_data with no reason recorded" in p for p in found), found


def test_a_stale_deviation_fails(monkeypatch):
    rows = dict(alarm_table.ALARMS)
    rows["function"] = tuple(r if r.signal != "duration-p90" else
                             alarm_table.Alarm(**{**r.__dict__, "deviation": {"period": "a reason for a difference there is not"}})
                             for r in rows["function"])
    monkeypatch.setattr(alarm_table, "ALARMS", MappingProxyType(rows))
    found = problems(_fresh())
    assert any("AWS/Lambda Duration" in p and "records a deviation in period" in p for p in found), found


def test_a_template_missing_an_alarm_or_changing_a_setting_fails():
    tpl = copy.deepcopy(template("serverless-api"))
    del tpl["Resources"]["ApiFunctionDurationAlarm"]
    tpl["Resources"]["ApiLatencyAlarm"]["Properties"].update(EvaluationPeriods=3, DatapointsToAlarm=3)
    found = problems(tpl)
    assert any("AWS/Lambda Duration" in p and "the template has no such alarm" in p for p in found), found
    assert any("ApiLatencyAlarm differs from AWS in datapoints_to_alarm, evaluation_periods" in p for p in found), found
