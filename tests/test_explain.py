"""msgen explain: every resource accounted for once, under the spec element it came from, with grants, alarms and idle cost."""

from __future__ import annotations

import json

import pytest
import yaml

from generator import api, explain
from generator.spec import load_spec
from generator.synth.pipeline import build_template
from tests.conftest import BLUEPRINTS

NAMES = sorted(BLUEPRINTS)


@pytest.mark.parametrize("name", NAMES)
def test_json_accounts_for_every_resource_exactly_once(name):
    data = json.loads(api.explain(str(BLUEPRINTS[name]), "json"))
    template = build_template(load_spec(BLUEPRINTS[name]))["Resources"]
    listed = [r["logical_id"] for e in data["elements"] for r in e["resources"]]
    assert sorted(listed) == sorted(template) and len(listed) == len(set(listed)) == data["resources"]
    lines = yaml.safe_load(BLUEPRINTS[name].read_text(encoding="utf-8"))
    for e in data["elements"]:
        assert e["file"] == str(BLUEPRINTS[name]) and e["line"] >= 1
        assert all(template[r["logical_id"]]["Metadata"]["msgen"]["source"] == e["source"] for r in e["resources"])
    assert data["idle_monthly"] == round(sum(e["idle_monthly"] for e in data["elements"]), 2) > 0
    assert data["region"] == "us-east-1" and data["prices_checked"]
    assert lines["service"] == data["service"]


def test_each_route_element_points_at_its_line_and_lists_what_its_uses_granted():
    path = BLUEPRINTS["serverless-api"]
    data = json.loads(api.explain(str(path), "json"))
    text = path.read_text(encoding="utf-8").splitlines()
    routes = [e for e in data["elements"] if e["source"].startswith("api.routes[")]
    assert routes
    for e in routes:
        method, _, route_path = e["source"][len("api.routes["):-1].partition(" ")
        assert route_path in text[e["line"] - 1] or method.lower() in text[e["line"] - 1].lower(), (e["source"], text[e["line"] - 1])
    create = next(e for e in routes if e["source"] == "api.routes[POST /payments]")
    assert any(g["use"] == "payments:write" and "dynamodb:PutItem" in g["actions"] and "PaymentsTable.Arn" in g["on"]
               for g in create["grants"])


def test_idle_cost_counts_alarms_and_fixed_capacity():
    table = explain.price_table()
    alarm = table["resources"]["AWS::CloudWatch::Alarm"]["prices"]["alarm_metric"]["rate"]
    assert explain.idle_monthly("AWS::CloudWatch::Alarm", {"MetricName": "Errors"}, {}) == (alarm, "fixed")
    assert explain.idle_monthly("AWS::CloudWatch::Alarm", {"Metrics": [{"MetricStat": {}}, {"MetricStat": {}}, {"Expression": "a/b"}]}, {}) \
        == (pytest.approx(2 * alarm), "fixed")
    assert explain.idle_monthly("AWS::ApiGateway::Stage", {"CacheClusterEnabled": True}, {})[0] == pytest.approx(0.02 * 730)
    assert explain.idle_monthly("AWS::EC2::VPCEndpoint", {"VpcEndpointType": "Gateway"}, {}) == (0.0, "free")
    assert explain.idle_monthly("AWS::Lambda::Function", {}, {}) == (0.0, "by use")
    hybrid = json.loads(api.explain(str(BLUEPRINTS["hybrid-api"]), "json"))
    serverless = json.loads(api.explain(str(BLUEPRINTS["serverless-api"]), "json"))
    assert hybrid["idle_monthly"] > serverless["idle_monthly"] + 16  # at least the load balancer on top
    alarms = [r for e in serverless["elements"] for r in e["resources"] if r["type"] == "AWS::CloudWatch::Alarm"]
    assert alarms and all(r["idle_monthly"] > 0 for r in alarms)


def test_text_and_markdown_formats(cli):
    text = cli("explain", "serverless-api")
    assert text.exit_code == 0 and text.output.startswith("payment-svc (serverless)") and "grants (function api)" in text.output
    md = cli("explain", "serverless-api", "--format", "markdown")
    assert md.exit_code == 0 and md.output.startswith("# payment-svc") and "| Element | Where | Resources | Idle / month |" in md.output


def test_a_bad_spec_is_a_located_error(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("service: x\n", encoding="utf-8")
    result = cli("explain", str(bad))
    assert result.exit_code == 2 and f"{bad}:1:1" in result.output


def test_the_blueprints_idle_cost_document_is_current():
    import importlib.util

    from tests.conftest import ROOT

    spec = importlib.util.spec_from_file_location("update_costs_doc", ROOT / "scripts" / "update_costs_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.DOC.read_text(encoding="utf-8") == module.render(), "docs/costs.md is stale: run make costs"
