"""The fleet stack (generator.fleet.stack): bus, archive, dead letters, SSM names, dashboard, saved query, health alarm."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from generator.api import load_spec
from generator.errors import InputError
from generator.fleet.model import Fleet
from generator.fleet.stack import (
    HEALTH_PARAMETER,
    MAX_SOURCE_PREFIXES,
    build_fleet_template,
    fleet_template,
    health_alarm_name,
    parameter_name,
    stack_name,
)
from generator.lint import lint_text
from tests.conftest import BLUEPRINTS
from tests.test_templates import _checkov

# Five services, the three patterns among them (the shop's size: five log-group prefixes, SOURCE's limit).
SHOP = ("serverless-api", "micro-api", "hybrid-api", "event-worker", "serverless-cognito-api")


def fleet_of(specs: dict, name: str = "shop", **settings) -> SimpleNamespace:
    """A loaded fleet as generator.fleet.loader.LoadedFleet shapes it: .fleet (the model) and .services by name."""
    fleet = Fleet(name=name, owner="Shop Platform", environments=["dev", "prod"], services=[f"{n}/service.yaml" for n in specs],
                  settings=settings)
    return SimpleNamespace(fleet=fleet, services=specs)


@cache
def shop_specs() -> dict:
    loaded = [load_spec(BLUEPRINTS[n]) for n in SHOP]
    return {ls.spec.service: ls for ls in loaded}


@cache
def shop_text(env: str = "prod") -> str:
    return fleet_template(fleet_of(shop_specs(), alarm_email="ops@example.com", event_bus={"archive_retention_days": 90}), env)


def shop(env: str = "prod") -> dict:
    return yaml.safe_load(shop_text(env))


def of_type(data: dict, type_: str) -> dict[str, dict]:
    return {k: v for k, v in data["Resources"].items() if v["Type"] == type_}


def written(tmp_path: Path, blueprint: str, name: str, edit=None) -> object:
    """A blueprint's spec under another service name (and optionally edited), loaded like any spec file."""
    data = yaml.safe_load(Path(BLUEPRINTS[blueprint]).read_text())
    data["service"] = name
    if edit:
        edit(data)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_spec(path)


# --- lint, checkov, determinism ------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ["dev", "prod"])
def test_cfn_lint_reports_nothing_at_any_level(env):
    findings = lint_text(shop_text(env), f"fleet-{env}.yaml", regions=("us-east-1", "eu-west-1"), info=True)
    assert findings == [], "\n".join(map(str, findings))


def test_lint_can_fail():
    broken = shop_text().replace("RetentionDays: 90", "RetentionDays: ninety", 1)
    assert broken != shop_text()
    assert any(f.rule.startswith("E3") for f in lint_text(broken, "broken.yaml"))


def test_no_policy_of_the_stack_allows_a_wildcard_action_or_principal():
    keys = ("KeyPolicy", "PolicyDocument", "ResourcePolicyDocument")
    docs = [p[k] for r in shop()["Resources"].values() for p in [r["Properties"]] for k in keys if k in p]
    assert len(docs) == 4  # key, queue, topic and log group policies
    for doc in docs:
        for st in doc["Statement"]:
            if st["Effect"] == "Allow":
                assert not any("*" in a for a in st["Action"]), st
                assert "*" not in json.dumps(st["Principal"]), st


def test_checkov_has_no_failed_checks_and_no_skips(tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text(shop_text())
    report = _checkov(path)
    failed = [(c["check_id"], c["resource"]) for c in report.get("results", {}).get("failed_checks", [])]
    assert failed == [], failed
    assert report["summary"]["passed"] >= 6, report["summary"]
    assert not any("checkov" in r.get("Metadata", {}) for r in shop()["Resources"].values())


def test_checkov_can_fail(tmp_path):
    broken = shop()
    del broken["Resources"]["FleetKey"]["Properties"]["EnableKeyRotation"]
    del broken["Resources"]["EventBusDeadLetterQueue"]["Properties"]["KmsMasterKeyId"]
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    failed = {(c["check_id"], c["resource"]) for c in _checkov(path)["results"]["failed_checks"]}
    assert {("CKV_AWS_7", "AWS::KMS::Key.FleetKey"), ("CKV_AWS_27", "AWS::SQS::Queue.EventBusDeadLetterQueue")} <= failed, failed


def test_same_fleet_same_bytes_and_json_is_the_same_template():
    again = fleet_template(fleet_of(dict(shop_specs()), alarm_email="ops@example.com", event_bus={"archive_retention_days": 90}), "prod")
    assert again == shop_text()
    as_json = fleet_template(fleet_of(shop_specs(), alarm_email="ops@example.com", event_bus={"archive_retention_days": 90}), "prod", "json")
    assert json.loads(as_json) == shop()


def test_every_resource_says_where_it_comes_from_and_is_tagged():
    for lid, res in shop()["Resources"].items():
        assert res["Metadata"]["msgen"]["source"] == "fleet", lid
        assert res["Metadata"]["msgen"]["description"], lid
    tagged = [r for r in shop()["Resources"].values() if "Tags" in r["Properties"]]
    assert len(tagged) >= 4
    for res in tagged:
        tags = res["Properties"]["Tags"]
        tags = tags if isinstance(tags, dict) else {t["Key"]: t["Value"] for t in tags}
        assert tags["fleet"] == "shop" and tags["environment"] == "prod" and tags["managed-by"] == "msgen"


def test_an_environment_the_fleet_lacks_is_refused():
    with pytest.raises(InputError, match="'qa'.*dev, prod"):
        build_fleet_template(fleet_of(shop_specs()), "qa")


# --- the bus -------------------------------------------------------------------------------------------------------

def test_bus_is_named_for_fleet_and_environment_and_encrypted_with_the_rotated_fleet_key():
    data = shop("dev")
    (bus,) = of_type(data, "AWS::Events::EventBus").values()
    assert bus["Properties"]["Name"] == "msgen-shop-dev"
    assert bus["Properties"]["KmsKeyIdentifier"] == {"Fn::GetAtt": ["FleetKey", "Arn"]}
    assert bus["Properties"]["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["EventBusDeadLetterQueue", "Arn"]}}
    key = data["Resources"]["FleetKey"]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert (key["DeletionPolicy"], key["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert stack_name("shop", "dev") == "msgen-fleet-shop-dev"


def test_key_lets_eventbridge_use_it_only_for_this_bus_and_its_rules():
    statements = {s.get("Sid"): s for s in shop()["Resources"]["FleetKey"]["Properties"]["KeyPolicy"]["Statement"]}
    bus_arn = {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/msgen-shop-prod"}
    encrypts = statements["EventBridgeEncryptsTheBus"]
    assert encrypts["Principal"] == {"Service": "events.amazonaws.com"}
    assert encrypts["Condition"]["StringEquals"]["kms:EncryptionContext:aws:events:event-bus:arn"] == bus_arn
    assert set(encrypts["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"}
    dead = statements["EventBridgeWritesDeadLetters"]
    assert bus_arn in dead["Condition"]["ArnLike"]["aws:SourceArn"]


def test_archive_keeps_events_as_the_fleet_file_says_encrypted():
    (archive,) = of_type(shop(), "AWS::Events::Archive").values()
    props = archive["Properties"]
    assert props["RetentionDays"] == 90
    assert props["SourceArn"] == {"Fn::GetAtt": ["EventBus", "Arn"]}
    assert props["KmsKeyIdentifier"] == {"Fn::GetAtt": ["FleetKey", "Arn"]}
    assert len(props["ArchiveName"]) <= 48


def test_a_long_fleet_name_still_gives_a_valid_archive_name():
    name = "a-very-long-fleet-name-for-the-archives"  # 39 characters: msgen-<name>-prod has 50, the archive allows 48
    data = build_fleet_template(fleet_of({"payment-svc": shop_specs()["payment-svc"]}, name=name), "prod")
    (archive,) = of_type(data, "AWS::Events::Archive").values()
    archive_name = archive["Properties"]["ArchiveName"]
    assert len(archive_name) <= 48 and re.fullmatch(r"[.\-_A-Za-z0-9]+", archive_name)
    assert archive_name.startswith("msgen-a-very-long")


def test_dead_letter_queue_is_encrypted_kept_and_only_eventbridge_sends_to_it_over_tls():
    data = shop()
    dlq = data["Resources"]["EventBusDeadLetterQueue"]
    assert dlq["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": ["FleetKey", "Arn"]}
    assert dlq["Properties"]["MessageRetentionPeriod"] == 1_209_600
    assert dlq["DeletionPolicy"] == "Retain"
    (policy,) = of_type(data, "AWS::SQS::QueuePolicy").values()
    sts = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert sts["EventBridgeSendsDeadLetters"]["Principal"] == {"Service": "events.amazonaws.com"}
    assert sts["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_bus_error_records_go_to_an_encrypted_fleet_log_group_kept_as_the_fleet_file_says():
    data = build_fleet_template(fleet_of(shop_specs(), log_retention_days=90), "dev")
    res = data["Resources"]
    assert res["EventBus"]["Properties"]["LogConfig"] == {"Level": "ERROR", "IncludeDetail": "NONE"}  # no event payloads in logs
    group = res["EventBusLogGroup"]
    assert group["Properties"]["LogGroupName"] == "/msgen/shop/dev/event-bus"
    assert group["Properties"]["RetentionInDays"] == 90
    assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["FleetKey", "Arn"]}
    (writes,) = group["Properties"]["ResourcePolicyDocument"]["Statement"]
    assert writes["Principal"] == {"Service": "delivery.logs.amazonaws.com"} and "aws:SourceAccount" in writes["Condition"]["StringEquals"]
    source = res["EventBusLogSource"]["Properties"]
    assert (source["LogType"], source["ResourceArn"]) == ("ERROR_LOGS", {"Fn::GetAtt": ["EventBus", "Arn"]})
    destination = res["EventBusLogDestination"]["Properties"]["DestinationResourceArn"]["Fn::Sub"]
    assert destination.endswith(":log-group:/msgen/shop/dev/event-bus")
    delivery = res["EventBusLogDelivery"]["Properties"]
    assert delivery == {**delivery, "DeliverySourceName": {"Ref": "EventBusLogSource"},
                        "DeliveryDestinationArn": {"Fn::GetAtt": ["EventBusLogDestination", "Arn"]}}
    logs_key = {s["Sid"]: s for s in res["FleetKey"]["Properties"]["KeyPolicy"]["Statement"]}["CloudWatchLogsEncrypts"]
    assert logs_key["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]["Fn::Sub"].endswith(":log-group:/msgen/shop/dev/event-bus")


def test_ssm_parameters_publish_the_bus_and_the_fleet_under_the_agreed_names():
    params = {p["Properties"]["Name"]: p["Properties"]["Value"] for p in of_type(shop("dev"), "AWS::SSM::Parameter").values()}
    assert params == {
        "/msgen/dev/fleet/event-bus-name": {"Ref": "EventBus"},
        "/msgen/dev/fleet/event-bus-arn": {"Fn::GetAtt": ["EventBus", "Arn"]},
        "/msgen/dev/fleet/dead-letter-queue-arn": {"Fn::GetAtt": ["EventBusDeadLetterQueue", "Arn"]},
        "/msgen/dev/fleet/name": "shop",
    }
    assert parameter_name("dev", "event-bus-name") == "/msgen/dev/fleet/event-bus-name"


# --- the health alarm ----------------------------------------------------------------------------------------------

def test_fleet_health_alarm_watches_every_service_health_alarm_and_notifies_the_encrypted_topic():
    data = shop()
    (alarm,) = of_type(data, "AWS::CloudWatch::CompositeAlarm").values()
    props = alarm["Properties"]
    assert props["AlarmName"] == "msgen-shop-prod-fleet-health"
    members = re.findall(r'ALARM\("([^"]+)"\)', props["AlarmRule"])
    assert members == [health_alarm_name(s, "prod") for s in shop_specs()]
    assert members[0] == "msgen-payment-svc-prod-service-health"
    assert props["AlarmActions"] == [{"Ref": "FleetAlarmTopic"}] and props["OKActions"] == [{"Ref": "FleetAlarmTopic"}]
    topic = data["Resources"]["FleetAlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": ["FleetKey", "Arn"]}
    (sub,) = of_type(data, "AWS::SNS::Subscription").values()
    assert (sub["Properties"]["Protocol"], sub["Properties"]["Endpoint"]) == ("email", "ops@example.com")


def test_health_alarm_waits_for_the_services_alarms_to_exist():
    """CloudWatch refuses a composite naming alarms that do not exist: the alarm is conditional, off by default."""
    data = shop()
    assert data["Parameters"][HEALTH_PARAMETER]["Default"] == "false"
    assert data["Conditions"]["WatchServices"] == {"Fn::Equals": [{"Ref": HEALTH_PARAMETER}, "true"]}
    assert data["Resources"]["FleetHealthAlarm"]["Condition"] == "WatchServices"


def test_without_alarm_email_there_is_no_subscription():
    data = build_fleet_template(fleet_of(shop_specs()), "prod")
    assert of_type(data, "AWS::SNS::Subscription") == {}


def test_a_service_without_alarms_in_that_environment_is_left_out_of_the_health_alarm_and_said_so(tmp_path):
    def alarms_off_in_dev(data):
        data["environments"]["dev"] = {**(data["environments"].get("dev") or {}), "observability": {"alarms": {"enabled": False}}}

    quiet = written(tmp_path, "serverless-api", "quiet-svc", alarms_off_in_dev)
    specs = {"quiet-svc": quiet, "payment-svc": shop_specs()["payment-svc"]}
    dev = build_fleet_template(fleet_of(specs), "dev")
    rule = dev["Resources"]["FleetHealthAlarm"]["Properties"]["AlarmRule"]
    assert rule == 'ALARM("msgen-payment-svc-dev-service-health")'
    assert "quiet-svc" in dev["Resources"]["FleetHealthAlarm"]["Properties"]["AlarmDescription"]
    prod = build_fleet_template(fleet_of(specs), "prod")
    assert "msgen-quiet-svc-prod-service-health" in prod["Resources"]["FleetHealthAlarm"]["Properties"]["AlarmRule"]


# --- the saved query -----------------------------------------------------------------------------------------------

def test_saved_query_follows_one_correlation_id_across_every_service_by_log_group_prefix():
    (query,) = of_type(shop(), "AWS::Logs::QueryDefinition").values()
    props = query["Properties"]
    assert props["Name"] == "msgen/fleet/shop/prod/follow-correlation-id"
    assert "LogGroupNames" not in props  # selected by prefix in the query, not listed
    source = props["QueryString"].splitlines()[0]
    assert re.findall(r"'([^']+)'", source) == [f"/msgen/{s}/prod/" for s in shop_specs()]
    assert "correlation_id = '{{correlation_id}}'" in props["QueryString"]
    assert props["Parameters"] == [{"Name": "correlation_id", "Description": "The correlation id to follow across the fleet"}]
    lines = props["QueryString"].splitlines()
    assert "| sort @timestamp asc" in lines
    assert lines[-1] == "| display @timestamp, svc, level, correlation_id, message"


def test_stack_does_not_change_when_a_service_adds_a_function(tmp_path):
    def one_more_route(data):
        data["api"]["routes"].append({"method": "GET", "path": "/health-extra", "handler": "extra.handle"})

    (tmp_path / "after").mkdir()
    before = written(tmp_path, "micro-api", "catalog-svc")
    after = written(tmp_path / "after", "micro-api", "catalog-svc", one_more_route)
    assert len(after.spec.api.routes) == len(before.spec.api.routes) + 1  # micro: one more function and log group
    assert fleet_template(fleet_of({"catalog-svc": before}), "prod") == fleet_template(fleet_of({"catalog-svc": after}), "prod")


def test_more_services_than_source_prefixes_select_msgen_log_groups_and_filter_to_the_fleet(tmp_path):
    names = [f"svc-{c}" for c in "abcdef"]
    assert len(names) > MAX_SOURCE_PREFIXES
    specs = {n: written(tmp_path, "serverless-api", n) for n in names}
    data = build_fleet_template(fleet_of(specs), "prod")
    query = next(iter(of_type(data, "AWS::Logs::QueryDefinition").values()))["Properties"]["QueryString"]
    first = query.splitlines()[0]
    assert first.startswith("SOURCE logGroups(namePrefix: ['/msgen/'])")
    assert "(svc-a|svc-b|svc-c|svc-d|svc-e|svc-f)" in first and "\\/prod\\/" in first
    assert lint_text(fleet_template(fleet_of(specs), "prod"), "six.yaml") == []


# --- the dashboard -------------------------------------------------------------------------------------------------

def dashboard_widgets(data: dict) -> list[dict]:
    (dash,) = of_type(data, "AWS::CloudWatch::Dashboard").values()
    assert dash["Properties"]["DashboardName"] == "msgen-shop-prod-fleet"
    return json.loads(dash["Properties"]["DashboardBody"]["Fn::Sub"])["widgets"]


def test_dashboard_has_one_row_per_service_requests_vs_expected_errors_latency_and_health():
    widgets = dashboard_widgets(shop())
    for service in shop_specs():
        row = [w for w in widgets if w["properties"].get("title", "").startswith(f"{service}:")]
        assert len(row) == 4, service
        assert len({w["y"] for w in row}) == 1 and sum(w["width"] for w in row) == 24
        requests, errors, latency, health = row
        metrics = requests["properties"]["metrics"]
        assert metrics[0][:6] == ["AWS/ApiGateway", "Count", "ApiName", f"{service}-prod", "Stage", "api"]
        assert metrics[1][0]["expression"].startswith("ANOMALY_DETECTION_BAND(requests")
        assert any("expression" in m[-1] and "e5" in m[-1]["expression"] for m in errors["properties"]["metrics"])
        assert latency["properties"]["metrics"][0][-1]["stat"] == "p90"
        assert health["type"] == "alarm"
        assert health["properties"]["alarms"] == [
            f"arn:${{AWS::Partition}}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:msgen-{service}-prod-service-health"]


def test_dashboard_error_table_covers_every_service_newest_first():
    (table,) = [w for w in dashboard_widgets(shop()) if w["type"] == "log"]
    query = table["properties"]["query"]
    assert re.findall(r"'(/msgen/[^']+)'", query.splitlines()[0]) == [f"/msgen/{s}/prod/" for s in shop_specs()]
    assert "filter level = 'ERROR'" in query and "| sort time desc" in query
    assert query.splitlines()[-1] == "| display time, svc, message, count"
    assert table["properties"]["view"] == "table" and table["width"] == 24


def test_the_header_says_what_stands_for_the_same_time_yesterday():
    header = dashboard_widgets(shop())[0]["properties"]["markdown"]
    assert "same time yesterday" in header and "anomaly detection" in header


# --- the shop blueprint, through the fleet loader ------------------------------------------------------------------

def test_the_shop_fleet_from_its_fleet_file_lints_clean_and_watches_its_five_services():
    from generator.fleet.loader import load_fleet
    from tests.conftest import ROOT

    shop_fleet = load_fleet(ROOT / "blueprints" / "fleets" / "shop" / "fleet.yaml")
    text = fleet_template(shop_fleet, "staging")
    assert lint_text(text, "shop-staging.yaml", regions=("us-east-1",), info=True) == []
    data = yaml.safe_load(text)
    rule = data["Resources"]["FleetHealthAlarm"]["Properties"]["AlarmRule"]
    assert re.findall(r'ALARM\("([^"]+)"\)', rule) == [health_alarm_name(s, "staging") for s in shop_fleet.services]
    assert data["Resources"]["EventBus"]["Properties"]["Name"] == "msgen-shop-staging"
    archive = next(iter(of_type(data, "AWS::Events::Archive").values()))
    assert archive["Properties"]["RetentionDays"] == shop_fleet.fleet.settings.event_bus.archive_retention_days


def test_free_text_in_the_dashboard_cannot_break_its_substitution():
    fleet = Fleet(name="shop", owner="team ${AWS::NoSuchThing}", environments=["prod"], services=["a.yaml"])
    data = build_fleet_template(SimpleNamespace(fleet=fleet, services={"payment-svc": shop_specs()["payment-svc"]}), "prod")
    body = data["Resources"]["FleetDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    assert "team ${!AWS::NoSuchThing}" in body  # Fn::Sub writes a literal ${ as ${!


def test_no_dynamic_reference_outside_resource_properties():
    """The stack creates the parameters the services resolve: a {{resolve:ssm:...}} of its own would fail its creation."""
    for env in ("dev", "prod"):
        assert "{{resolve:" not in shop_text(env), env
