"""Safe Lambda releases, proven on the templates (moto models neither CodeDeploy traffic shifting nor alarm-gated rollback).

Every function is released through its alias by a CodeDeploy deployment group that rolls back on its alarms; the alarms
watch only the version being released; everything that invokes a function invokes the alias; the release style is per
environment (blueprints: all at once in dev, a 10% canary for 5 minutes in prod).
"""

from __future__ import annotations

import copy
import json
from functools import cache

import pytest

from generator import api
from generator.errors import SpecError
from generator.lint import lint_text
from generator.spec.models import ServiceSpec
from generator.synth.pipeline import build_template, render
from tests.conftest import BLUEPRINTS, blueprint_data

CASES = [(name, env) for name in sorted(BLUEPRINTS) for env in api.load_spec(BLUEPRINTS[name]).spec.environment_names]
ROLLBACK = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST"]


@cache
def template(name: str, env: str) -> dict:
    return build_template(api.load_spec(BLUEPRINTS[name]).spec.for_environment(env))


def of_type(res: dict, kind: str) -> dict:
    return {k: v for k, v in res.items() if v["Type"] == kind}


def ref(value) -> str:
    assert isinstance(value, dict) and set(value) == {"Ref"}, value
    return value["Ref"]


@pytest.mark.parametrize(("name", "env"), CASES)
def test_every_function_has_a_version_an_alias_and_a_deployment_group_that_rolls_back(name, env):
    res = template(name, env)["Resources"]
    functions = of_type(res, "AWS::Lambda::Function")
    assert functions
    (app_id,) = of_type(res, "AWS::CodeDeploy::Application")
    assert res[app_id]["Properties"]["ComputePlatform"] == "Lambda"
    for fid in functions:
        version, alias, group = res[f"{fid}Version"], res[f"{fid}Alias"], res[f"{fid}DeploymentGroup"]
        assert version["Type"] == "AWS::Lambda::Version" and ref(version["Properties"]["FunctionName"]) == fid
        # The code identity is a parameter msgen deploy fills, never a hash baked into the template.
        assert version["Properties"]["CodeSha256"] == {"Fn::If": ["NoCodeSha256", {"Ref": "AWS::NoValue"}, {"Ref": "CodeSha256"}]}
        assert "${CodeSha256}" in json.dumps(version["Properties"]["Description"])
        assert alias["Type"] == "AWS::Lambda::Alias" and alias["Properties"]["Name"] == "live"
        assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [f"{fid}Version", "Version"]}
        update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
        assert ref(update["ApplicationName"]) == app_id and ref(update["DeploymentGroupName"]) == f"{fid}DeploymentGroup"
        props = group["Properties"]
        assert ref(props["ApplicationName"]) == app_id
        assert props["DeploymentStyle"] == {"DeploymentType": "BLUE_GREEN", "DeploymentOption": "WITH_TRAFFIC_CONTROL"}
        assert props["AutoRollbackConfiguration"] == {"Enabled": True, "Events": ROLLBACK}
        alarms = [ref(a["Name"]) for a in props["AlarmConfiguration"]["Alarms"]]
        assert props["AlarmConfiguration"]["Enabled"] is True and 1 <= len(alarms) <= 10
        assert set(alias["DependsOn"]) == set(alarms), "the alarms watch the new version before traffic moves"


@pytest.mark.parametrize(("name", "env"), CASES)
def test_the_rollback_alarms_watch_only_the_new_version_through_the_alias(name, env):
    res = template(name, env)["Resources"]
    for fid in of_type(res, "AWS::Lambda::Function"):
        for alarm_id in (ref(a["Name"]) for a in res[f"{fid}DeploymentGroup"]["Properties"]["AlarmConfiguration"]["Alarms"]):
            props = res[alarm_id]["Properties"]
            dims = {d["Name"]: d["Value"] for d in props["Dimensions"]}
            assert props["Namespace"] == "AWS/Lambda" and props["MetricName"] == "Errors"
            assert dims == {"FunctionName": {"Ref": fid}, "Resource": {"Fn::Sub": f"${{{fid}}}:live"},
                            "ExecutedVersion": {"Fn::GetAtt": [f"{fid}Version", "Version"]}}
            assert props["TreatMissingData"] == "notBreaching"  # no traffic on the new version is no reason to roll back


@pytest.mark.parametrize(("name", "env"), CASES)
def test_everything_that_invokes_a_function_invokes_its_alias(name, env):
    res = template(name, env)["Resources"]
    functions = set(of_type(res, "AWS::Lambda::Function"))
    aliases = {f"{fid}Alias" for fid in functions}
    text = json.dumps(res)
    for lid, r in res.items():
        props = r.get("Properties", {})
        if r["Type"] == "AWS::Lambda::Permission":
            assert ref(props["FunctionName"]) in aliases, lid
        elif r["Type"] == "AWS::Lambda::EventSourceMapping":
            assert ref(props["FunctionName"]) in aliases, lid
        elif r["Type"] == "AWS::ApiGateway::Method" and props["Integration"]["Type"] == "AWS_PROXY":
            uri = props["Integration"]["Uri"]["Fn::Sub"]
            assert uri.split("/functions/${")[1].split("}")[0] in aliases, lid
        elif r["Type"] == "AWS::SNS::Subscription" and props["Protocol"] == "lambda":
            assert ref(props["Endpoint"]) in aliases, lid
        elif r["Type"] == "AWS::Events::Rule":
            for target in props["Targets"]:
                assert "Ref" in target["Arn"] and ref(target["Arn"]) in aliases if target["Id"] == "handler" else True, lid
        elif r["Type"] == "AWS::StepFunctions::StateMachine":
            for key, value in props.get("DefinitionSubstitutions", {}).items():
                if key.startswith("function_"):
                    assert ref(value) in aliases, lid
    for fid in functions:  # nothing else names the function's unqualified ARN as a target
        assert f"${{{fid}.Arn}}/invocations" not in text
        assert {"Fn::GetAtt": [fid, "Arn"]} not in [t.get("Arn") for r in of_type(res, "AWS::Events::Rule").values()
                                                    for t in r["Properties"]["Targets"]]


def test_the_blueprints_release_prod_as_a_canary_and_dev_all_at_once():
    for name in BLUEPRINTS:
        configs = {env: {g["Properties"]["DeploymentConfigName"]
                         for g in of_type(template(name, env)["Resources"], "AWS::CodeDeploy::DeploymentGroup").values()}
                   for env in ("dev", "prod")}
        assert configs == {"dev": {"CodeDeployDefault.LambdaAllAtOnce"}, "prod": {"CodeDeployDefault.LambdaCanary10Percent5Minutes"}}, name


@pytest.mark.parametrize(("release", "config"), [
    ({}, "CodeDeployDefault.LambdaAllAtOnce"),
    ({"strategy": "canary", "interval_minutes": 30}, "CodeDeployDefault.LambdaCanary10Percent30Minutes"),
    ({"strategy": "linear", "interval_minutes": 1}, "CodeDeployDefault.LambdaLinear10PercentEvery1Minute"),
    ({"strategy": "linear", "interval_minutes": 10}, "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes"),
])
def test_a_release_style_maps_to_codedeploys_predefined_configuration(release, config):
    data = blueprint_data("serverless-api")
    data.pop("environments", None)
    data["application"] = {**data.get("application", {}), "release": release}
    res = build_template(ServiceSpec.model_validate(data))["Resources"]
    assert {g["Properties"]["DeploymentConfigName"] for g in of_type(res, "AWS::CodeDeploy::DeploymentGroup").values()} == {config}


@pytest.mark.parametrize("release", [{"strategy": "canary", "percent": 20}, {"strategy": "linear", "interval_minutes": 5},
                                     {"strategy": "canary", "interval_minutes": 7}])
def test_a_release_codedeploy_does_not_predefine_is_refused_with_the_choices(release, tmp_path):
    data = blueprint_data("serverless-api")
    data["application"] = {**data.get("application", {}), "release": release}
    path = tmp_path / "service.yaml"
    import yaml

    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(SpecError) as err:
        api.load_spec(path)
    message = str(err.value)
    assert "CodeDeploy predefines no" in message and "choose percent 10 with interval_minutes" in message


def _with_hooks() -> dict:
    data = copy.deepcopy(blueprint_data("micro-api"))
    data.pop("environments", None)
    data["application"] = {**data.get("application", {}),
                           "release": {"strategy": "canary", "hooks": {"pre_traffic": "release.before", "post_traffic": "release.after"}}}
    return data


def test_hooks_may_only_report_their_verdict_for_this_stacks_deployment_groups():
    res = build_template(ServiceSpec.model_validate(_with_hooks()))["Resources"]
    groups = set(of_type(res, "AWS::CodeDeploy::DeploymentGroup"))
    for event, hook in (("BeforeAllowTrafficHook", "ReleasePreTrafficHook"), ("AfterAllowTrafficHook", "ReleasePostTrafficHook")):
        for fid in of_type(res, "AWS::Lambda::Function"):
            if fid.startswith("Release"):
                continue
            assert res[f"{fid}Alias"]["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"][event] == {"Ref": hook}
        statements = res[f"{hook}Role"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        actions = sorted(a for s in statements for a in s["Action"])
        assert actions == ["codedeploy:PutLifecycleEventHookExecutionStatus", "logs:CreateLogStream", "logs:PutLogEvents",
                           "xray:PutTelemetryRecords", "xray:PutTraceSegments"]
        (verdict,) = [s for s in statements if s["Sid"] == "ReportVerdict"]
        scoped = {r["Fn::Sub"].rsplit(":deploymentgroup:${ReleaseApplication}/${", 1)[1].rstrip("}") for r in verdict["Resource"]}
        assert scoped == groups
    role = res["ReleaseRolePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (run,) = [s for s in role if s["Sid"] == "RunHooks"]
    assert run["Action"] == ["lambda:InvokeFunction"] and len(run["Resource"]) == 2


def test_a_spec_with_hooks_is_lint_clean_and_its_skips_are_true():
    from tests.test_templates import untrue_skips

    spec = ServiceSpec.model_validate(_with_hooks())
    data = build_template(spec)
    findings = lint_text(render(data), "hooks.yaml", regions=("us-east-1",), info=True)
    assert findings == [], "\n".join(map(str, findings))
    assert untrue_skips(spec, data) == []
    assert any(s["comment"].startswith("a CodeDeploy lifecycle hook") for s in data["Resources"]["ReleasePreTrafficHook"]["Metadata"]["checkov"]["skip"])


def test_the_codedeploy_role_is_scoped_to_the_stacks_functions_and_alarms():
    res = template("micro-api", "prod")["Resources"]
    assert res["ReleaseRolePolicy"]["Properties"]["Roles"] == [{"Ref": "ReleaseRole"}]
    statements = res["ReleaseRolePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert all("*" not in a for s in statements for a in s["Action"])
    (shift,) = [s for s in statements if s["Sid"] == "ShiftAliases"]
    assert {r["Fn::Sub"] for r in shift["Resource"]} == {f"${{{fid}.Arn}}*" for fid in of_type(res, "AWS::Lambda::Function")}
    (alarms,) = [s for s in statements if s["Sid"] == "ReadRollbackAlarms"]
    assert alarms["Resource"][0]["Fn::Sub"].endswith(":alarm:msgen-catalog-svc-${Environment}-*")


def test_a_new_version_is_published_when_code_or_settings_change_and_logical_ids_stay():
    data = blueprint_data("serverless-api")
    data.pop("environments", None)
    before = build_template(ServiceSpec.model_validate(data))["Resources"]
    data["application"] = {**data.get("application", {}), "memory_mb": 1024}
    after = build_template(ServiceSpec.model_validate(data))["Resources"]
    assert set(before) == set(after), "logical IDs are a contract: the version's is stable"
    assert before["ApiFunctionVersion"]["Properties"]["Description"] != after["ApiFunctionVersion"]["Properties"]["Description"]


def test_the_container_service_rolls_back_on_its_5xx_and_latency_alarms():
    res = template("hybrid-api", "prod")["Resources"]
    (service,) = of_type(res, "AWS::ECS::Service").values()
    config = service["Properties"]["DeploymentConfiguration"]
    assert config["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    names = [ref(n) for n in config["Alarms"]["AlarmNames"]]
    assert config["Alarms"]["Enable"] is True and config["Alarms"]["Rollback"] is True
    signals = sorted(res[n]["Properties"]["AlarmName"]["Fn::Sub"].rsplit("-containers-", 1)[1] for n in names)
    assert signals == ["5xx-rate", "response-time-p90"]


def test_the_dashboard_compares_the_current_release_with_the_previous_one():
    res = template("serverless-api", "prod")["Resources"]
    body = json.loads(res["ServiceDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"])
    release = [w for w in body["widgets"] if "current release vs previous" in w["properties"].get("title", "")]
    metrics = set()
    for widget in release:
        (expression,) = [m[0]["expression"] for m in widget["properties"]["metrics"]]
        assert expression.startswith("SEARCH('{AWS/Lambda,FunctionName,Resource,ExecutedVersion}")
        assert 'Resource="${ApiFunction}:live"' in expression
        metrics.add(expression.split('MetricName="')[1].split('"')[0])
    assert metrics == {"Invocations", "Errors", "Duration"}
