"""Standards in every stack: log groups, correlation ids, alarms, dashboard, tags.

Expectations are derived from the template's own resources (not from a list kept in the test), so a
new component that forgets its alarms or log conventions fails here.
"""

from __future__ import annotations

import json
import re

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from generator import alarm_table
from generator.spec import load_spec
from tests.conftest import BLUEPRINTS, ROOT
from tests.test_templates import resources, template

NAMES = sorted(BLUEPRINTS)
PSEUDO = {"AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::URLSuffix", "AWS::StackName", "AWS::StackId"}


def spec(name):
    return load_spec(BLUEPRINTS[name])


def alarms(name):
    return resources(name, "AWS::CloudWatch::Alarm")


def watched(alarm: dict) -> set[tuple[str, str, str]]:
    """(namespace, metric, referenced logical id or '') for every metric an alarm reads."""
    props = alarm["Properties"]
    metrics = [(props["Namespace"], props["MetricName"], props.get("Dimensions", []))] if "MetricName" in props else [
        (q["MetricStat"]["Metric"]["Namespace"], q["MetricStat"]["Metric"]["MetricName"], q["MetricStat"]["Metric"].get("Dimensions", []))
        for q in props["Metrics"] if "MetricStat" in q]
    out = set()
    for ns, metric, dims in metrics:
        refs = [d["Value"].get("Ref") or d["Value"]["Fn::GetAtt"][0] for d in dims
                if isinstance(d["Value"], dict) and ("Ref" in d["Value"] or "Fn::GetAtt" in d["Value"])]
        out.add((ns if isinstance(ns, str) else "msgen", metric, refs[0] if refs else ""))
    return out


@pytest.mark.parametrize("name", NAMES)
def test_each_component_has_its_alarms(name):
    seen = set().union(*(watched(a) for a in alarms(name).values()))
    expected = set()
    for lid, res in resources(name).items():
        kind = res["Type"]
        if kind == "AWS::Lambda::Function":
            expected |= {("AWS/Lambda", m, lid) for m in ("Errors", "Throttles", "Duration", "ConcurrentExecutions")}
        elif kind == "AWS::DynamoDB::Table":
            expected |= {("AWS/DynamoDB", m, lid) for m in ("ReadThrottleEvents", "WriteThrottleEvents", "SystemErrors")}
        elif kind == "AWS::ApiGateway::RestApi":
            expected |= {("AWS/ApiGateway", m, "") for m in ("5XXError", "4XXError", "Count", "Latency")}
        elif kind == "AWS::CloudFront::Distribution":
            expected.add(("AWS/CloudFront", "5xxErrorRate", lid))
        elif kind == "AWS::ECS::Service":
            cluster = res["Properties"]["Cluster"]["Ref"]
            expected |= {("AWS/ECS", "CPUUtilization", cluster), ("AWS/ECS", "MemoryUtilization", cluster),
                         ("ECS/ContainerInsights", "RunningTaskCount", cluster)}
        elif kind == "AWS::ElasticLoadBalancingV2::LoadBalancer":
            expected |= {("AWS/ApplicationELB", m, lid) for m in ("HTTPCode_Target_5XX_Count", "TargetResponseTime", "UnHealthyHostCount")}
        elif kind == "AWS::SQS::Queue":
            metric = "ApproximateNumberOfMessagesVisible" if "DeadLetter" in lid else "ApproximateAgeOfOldestMessage"
            expected.add(("AWS/SQS", metric, lid))
        elif kind == "AWS::RDS::DBCluster":
            expected |= {("AWS/RDS", m, lid) for m in ("ServerlessDatabaseCapacity", "EngineUptime", "StorageNetworkThroughput")}
        elif kind == "AWS::RDS::DBInstance":
            expected |= {("AWS/RDS", m, lid) for m in ("CPUUtilization", "DatabaseConnections", "FreeableMemory", "MaximumUsedTransactionIDs",
                                                       "ReadLatency", "WriteLatency", "BufferCacheHitRatio")}
        elif kind == "AWS::StepFunctions::StateMachine":
            expected |= {("AWS/States", "ExecutionsFailed", lid), ("AWS/States", "ExecutionsTimedOut", lid)}
        elif kind == "AWS::Events::Rule":
            expected.add(("AWS/Events", "FailedInvocations", ""))
        elif kind == "AWS::SNS::Topic":  # the alarm topic too: if alarm notifications fail, someone must know
            expected.add(("AWS/SNS", "NumberOfNotificationsFailed", lid))
        elif kind == "AWS::SNS::Subscription" and "RedrivePolicy" in res["Properties"]:
            expected.add(("AWS/SNS", "NumberOfNotificationsFailedToRedriveToDlq", res["Properties"]["TopicArn"]["Ref"]))
        elif kind == "AWS::Logs::MetricFilter":
            expected.add(("msgen", res["Properties"]["MetricTransformations"][0]["MetricName"], ""))
    assert expected - seen == set()


@pytest.mark.parametrize("name", NAMES)
def test_alarms_notify_the_encrypted_topic_and_follow_the_naming_convention(name):
    topic = "AlarmTopic"
    assert "KmsMasterKeyId" in resources(name)[topic]["Properties"]
    service = spec(name).service
    every = {**alarms(name), **resources(name, "AWS::CloudWatch::CompositeAlarm")}
    assert len(every) >= 10
    for lid, alarm in every.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": topic}] and props["OKActions"] == [{"Ref": topic}], lid
        assert re.fullmatch(rf"msgen-{service}-\$\{{Environment\}}-[a-z0-9-]+-[a-z0-9-]+", props["AlarmName"]["Fn::Sub"]), lid
        assert "Look first at" in props["AlarmDescription"], lid


# Alarms that are signals (about callers, traffic, capacity trends or the alarm channel itself), not "the service is
# unhealthy": the alarm table's rows with health=False. Their signals are unique in the table (tests/unit/test_alarm_table.py).
SIGNALS = tuple(f"-{row.signal}" for _, row in alarm_table.rows() if not row.health)


def test_the_signals_are_the_expected_ones():
    assert {"-4xx-rate", "-request-rate", "-notifications-failed", "-buffer-cache-hit-ratio", "-storage-throughput",
            "-producers-stopped", "-published-none", "-delivered-none", "-release-errors"} == set(SIGNALS)


@pytest.mark.parametrize("name", NAMES)
def test_the_health_composite_covers_every_health_alarm(name):
    (health,) = resources(name, "AWS::CloudWatch::CompositeAlarm").values()
    rule = json.dumps(health["Properties"]["AlarmRule"])
    for lid, alarm in alarms(name).items():
        is_signal = alarm["Properties"]["AlarmName"]["Fn::Sub"].endswith(SIGNALS)
        assert (f"${{{lid}.Arn}}" in rule) != is_signal, lid


@pytest.mark.parametrize("name", NAMES)
def test_queue_subscriptions_keep_what_sns_cannot_deliver_in_an_encrypted_alarmed_dead_letter_queue(name):
    res = resources(name)
    (health,) = resources(name, "AWS::CloudWatch::CompositeAlarm").values()
    rule = json.dumps(health["Properties"]["AlarmRule"])
    subscriptions = {lid: r["Properties"] for lid, r in resources(name, "AWS::SNS::Subscription").items() if r["Properties"]["Protocol"] == "sqs"}
    for lid, sub in subscriptions.items():
        dlq = sub["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert dlq == f"{lid}DeadLetterQueue" and res[dlq]["Type"] == "AWS::SQS::Queue", lid
        assert dlq != sub["Endpoint"]["Fn::GetAtt"][0], "the dead-letter queue is not the subscribed queue itself"
        queue = res[dlq]
        assert queue["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": ["ServiceKey", "Arn"]}, dlq
        assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600, dlq
        assert queue["DeletionPolicy"] == queue["UpdateReplacePolicy"] == "Retain", dlq
        statements = res[f"{dlq}Policy"]["Properties"]["PolicyDocument"]["Statement"]
        assert any(st["Effect"] == "Deny" and st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for st in statements), dlq
        (allow,) = [st for st in statements if st["Effect"] == "Allow"]
        assert allow["Principal"] == {"Service": "sns.amazonaws.com"} and allow["Action"] == ["sqs:SendMessage"], dlq
        assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": sub["TopicArn"]}}, "only this subscription's topic may send"
        watching = [a for a, alarm in alarms(name).items() if ("AWS/SQS", "ApproximateNumberOfMessagesVisible", dlq) in watched(alarm)]
        assert len(watching) == 1, dlq
        alarm = alarms(name)[watching[0]]["Properties"]
        assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold", dlq
        assert f"${{{watching[0]}.Arn}}" in rule, "a dead letter is a health problem"
    assert bool(subscriptions) == any(t.subscribers for t in spec(name).messaging.topics)


def test_some_blueprint_subscribes_a_queue_to_a_topic():
    assert any(r["Properties"]["Protocol"] == "sqs" for name in NAMES for r in resources(name, "AWS::SNS::Subscription").values())


@pytest.mark.parametrize("name", NAMES)
def test_cloudfront_alarm_only_exists_in_us_east_1(name):
    cdn = [a for a in alarms(name).values() if any(ns == "AWS/CloudFront" for ns, _, _ in watched(a))]
    assert len(cdn) == len(resources(name, "AWS::CloudFront::Distribution"))
    assert all(a["Condition"] == "InUsEast1" for a in cdn)
    if cdn:
        assert template(name)["Conditions"]["InUsEast1"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}


@pytest.mark.parametrize("name", NAMES)
def test_log_groups_have_retention_kms_and_the_naming_convention(name):
    s = spec(name)
    groups = resources(name, "AWS::Logs::LogGroup")
    assert len(groups) >= 3
    for lid, group in groups.items():
        props = group["Properties"]
        assert props["RetentionInDays"] == s.observability.log_retention_days, lid
        assert props["KmsKeyId"] == {"Fn::GetAtt": ["ServiceKey", "Arn"]}, lid
        group_name = props["LogGroupName"]["Fn::Sub"]
        fixed_by_aws = ("API-Gateway-Execution-Logs_${RestApi}/", f"/aws/rds/cluster/{s.service}-${{Environment}}/")
        assert group_name.startswith(f"/msgen/{s.service}/${{Environment}}/") or group_name.startswith(fixed_by_aws), lid


@pytest.mark.parametrize("name", NAMES)
def test_the_key_policy_lets_cloudwatch_logs_encrypt_every_declared_log_group(name):
    import fnmatch

    key = resources(name, "AWS::KMS::Key")["ServiceKey"]["Properties"]["KeyPolicy"]["Statement"]
    (logs_statement,) = [st for st in key if st.get("Sid") == "CloudWatchLogsEncrypts"]
    patterns = [p["Fn::Sub"].split(":log-group:")[1] for p in logs_statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]]
    for lid, group in resources(name, "AWS::Logs::LogGroup").items():
        group_name = group["Properties"]["LogGroupName"]["Fn::Sub"].replace("${Environment}", "prod").replace("${RestApi}", "a1b2c3")
        assert any(fnmatch.fnmatchcase(group_name, p) for p in patterns), (lid, group_name, patterns)


@pytest.mark.parametrize("name", NAMES)
def test_functions_log_json_to_their_declared_group_with_an_error_metric(name):
    groups = resources(name, "AWS::Logs::LogGroup")
    filters = {f["Properties"]["LogGroupName"]["Ref"]: f["Properties"] for f in resources(name, "AWS::Logs::MetricFilter").values()}
    s = spec(name)
    for lid, fn in resources(name, "AWS::Lambda::Function").items():
        cfg = fn["Properties"]["LoggingConfig"]
        assert cfg["LogFormat"] == "JSON" and cfg["ApplicationLogLevel"] == s.application.log_level
        assert cfg["SystemLogLevel"] == s.application.system_log_level
        group = cfg["LogGroup"]["Ref"]
        assert group in groups, lid
        assert filters[group]["FilterPattern"] == '{ $.level = "ERROR" }'
        assert filters[group]["MetricTransformations"][0]["MetricNamespace"] == {"Fn::Sub": f"msgen/{s.service}/${{Environment}}"}
        env = fn["Properties"]["Environment"]["Variables"]
        assert env["CORRELATION_HEADER"] == s.observability.correlation_header
        assert fn["Properties"]["TracingConfig"]["Mode"] == "Active"


@pytest.mark.parametrize("name", NAMES)
def test_access_logs_are_one_json_line_with_the_join_fields(name):
    (stage,) = resources(name, "AWS::ApiGateway::Stage").values()
    assert stage["Properties"]["TracingEnabled"] is True
    fmt = stage["Properties"]["AccessLogSetting"]["Format"]
    assert "\n" not in fmt
    fields = json.loads(fmt)
    assert {"request_id": "$context.requestId", "extended_request_id": "$context.extendedRequestId",
            "xray_trace_id": "$context.xrayTraceId", "correlation_id": "$context.requestId", "method": "$context.httpMethod",
            "status": "$context.status", "latency_ms": "$context.responseLatency", "integration_status": "$context.integration.status",
            "integration_latency_ms": "$context.integration.latency", "error": "$context.error.message"}.items() <= fields.items()
    assert fields["service"] == spec(name).service


@pytest.mark.parametrize("name", NAMES)
def test_the_correlation_header_is_declared_and_echoed(name):
    header = spec(name).observability.correlation_header
    for lid, method in resources(name, "AWS::ApiGateway::Method").items():
        assert method["Properties"]["RequestParameters"][f"method.request.header.{header}"] is False, lid
    responses = resources(name, "AWS::ApiGateway::GatewayResponse").values()
    assert {r["Properties"]["ResponseType"] for r in responses} == {"DEFAULT_4XX", "DEFAULT_5XX"}
    for r in responses:
        assert r["Properties"]["ResponseParameters"] == {f"gatewayresponse.header.{header}": f"method.request.header.{header}"}


@pytest.mark.parametrize("name", NAMES)
def test_the_saved_query_covers_every_log_group(name):
    (query,) = resources(name, "AWS::Logs::QueryDefinition").values()
    props = query["Properties"]
    assert sorted(g["Ref"] for g in props["LogGroupNames"]) == sorted(resources(name, "AWS::Logs::LogGroup"))
    assert [p["Name"] for p in props["Parameters"]] == ["correlation_id"]
    assert "{{correlation_id}}" in props["QueryString"]


def _resolve(sub: str, name: str) -> str:
    known = set(template(name)["Resources"]) | set(template(name).get("Parameters", {})) | PSEUDO
    for ref in re.findall(r"\$\{([^}!]+)\}", sub):
        assert ref.split(".")[0] in known, f"dashboard names {ref}, which is not in the stack"
    return re.sub(r"\$\{([^}!]+)\}", lambda m: "REF_" + m.group(1).replace(".", "_"), sub)


@pytest.mark.parametrize("name", NAMES)
def test_dashboard_is_valid_json_and_names_only_resources_in_the_stack(name):
    (dash,) = resources(name, "AWS::CloudWatch::Dashboard").values()
    body = json.loads(_resolve(dash["Properties"]["DashboardBody"]["Fn::Sub"], name))
    kinds = [w["type"] for w in body["widgets"]]
    assert {"text", "metric", "alarm", "log"} <= set(kinds)
    titles = " | ".join(w["properties"].get("title", "") for w in body["widgets"])
    for needle in ("Requests per minute", "Error rate", "Latency", "Recent errors", "Alarms"):
        assert needle in titles
    for lid in resources(name, "AWS::Lambda::Function"):
        assert f"REF_{lid}" in json.dumps(body), f"no widget for function {lid}"
    for lid in resources(name, "AWS::DynamoDB::Table"):
        assert f"REF_{lid}" in json.dumps(body), f"no widget for table {lid}"
    for w in body["widgets"]:
        assert 0 <= w["x"] and w["x"] + w["width"] <= 24
    log = next(w for w in body["widgets"] if w["type"] == "log")
    assert "level = \"ERROR\"" in log["properties"]["query"] and log["properties"]["view"] == "table"


def test_dashboard_check_can_fail():
    with pytest.raises(AssertionError):
        _resolve('{"x": "${NoSuchResource}"}', NAMES[0])


@pytest.mark.parametrize("name", NAMES)
def test_every_taggable_resource_carries_the_standard_tags(name):
    s = spec(name)
    for lid, res in resources(name).items():
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", res["Type"]).schema
        if "Tags" not in schema.get("properties", {}):
            continue
        tags = res.get("Properties", {}).get("Tags")
        assert tags is not None, f"{lid} ({res['Type']}) can be tagged but is not"
        items = tags if isinstance(tags, list) else [{"Key": k, "Value": v} for k, v in tags.items()]
        keys = {t["Key"] for t in items}
        assert {"service", "team", "environment", "managed-by", *s.tags} <= keys, lid


def test_standards_doc_exists_and_is_linked():
    doc = (ROOT / "docs" / "standards.md").read_text()
    for needle in ("/msgen/<service>/<environment>/<component>", "correlation_id", "msgen-<service>-<environment>-<component>-<signal>",
                   "X-Correlation-Id", "ApplicationErrors", "observability:"):
        assert needle in doc, needle
    assert "docs/standards.md" in (ROOT / "README.md").read_text()
