"""The API patterns: serverless (one function) and micro (one function per route), and their least privilege."""

from __future__ import annotations

import copy

import pytest

from generator.errors import SynthError
from generator.spec import load_spec
from generator.spec.models import ServiceSpec
from generator.synth.layers.application import plan
from generator.synth.pipeline import MAX_RESOURCES, build_template, synthesize
from tests.conftest import BLUEPRINTS, blueprint_data
from tests.test_templates import resources

NAMES = sorted(BLUEPRINTS)


def _allowed_resources(statement: dict) -> list:
    res = statement["Resource"]
    return res if isinstance(res, list) else [res]


def _names_in(value) -> set[str]:
    """Logical IDs an intrinsic refers to (Ref, GetAtt, and ${X} / ${X.Attr} inside Sub)."""
    import re

    if isinstance(value, dict):
        if "Ref" in value:
            return {value["Ref"]}
        if "Fn::GetAtt" in value:
            return {value["Fn::GetAtt"][0]}
        if "Fn::Sub" in value:
            return {m.split(".")[0] for m in re.findall(r"\$\{([^}]+)\}", value["Fn::Sub"]) if not m.startswith("AWS::")}
    return set()


@pytest.mark.parametrize("name", NAMES)
def test_every_permission_of_a_function_is_explained_by_its_uses_or_its_own_logs_and_tracing(name):
    spec = load_spec(BLUEPRINTS[name])
    template_resources = resources(name)
    from generator import naming

    for fn in plan(spec):
        lid = naming.function_id(fn.name)
        role = template_resources[f"{lid}Role"]
        assert template_resources[lid]["Properties"]["Role"] == {"Fn::GetAtt": [f"{lid}Role", "Arn"]}
        used = {u.split(":")[0] for u in fn.uses}
        explained = {f"{lid}LogGroup", "ServiceKey", f"{lid}DeadLetterQueue"}
        for target in used:
            explained |= {naming.table_id(target), naming.bucket_id(target), naming.logical_id(target, "Queue"), naming.logical_id(target, "Topic")}
        if "database" in used:
            explained.add("DatabaseCluster")
        explained |= {naming.logical_id(w.name, "StateMachine") for w in spec.workflows if w.name in used}
        network = {"PrivateSubnet1", "PrivateSubnet2", "FunctionSecurityGroup"}
        for policy in role["Properties"]["Policies"]:
            for st in policy["PolicyDocument"]["Statement"]:
                assert st["Effect"] == "Allow"
                actions = st["Action"]
                assert not any("*" in a for a in actions), (lid, actions)
                if set(actions) <= {"xray:PutTelemetryRecords", "xray:PutTraceSegments", "ec2:DescribeNetworkInterfaces"}:
                    continue  # no resource-level permissions exist for these
                if st.get("Sid") == "SendEmail":
                    assert "email" in used and spec.messaging.email.domain in _allowed_resources(st)[0]["Fn::Sub"], lid
                    continue
                for resource in _allowed_resources(st):
                    refs = _names_in(resource)
                    if actions[0].startswith("ec2:") and refs <= network:
                        continue  # its own subnets and security group (VPC networking)
                    assert refs and refs <= explained, (lid, st.get("Sid"), resource)
                if any(a.startswith("dynamodb:Put") or a.startswith("s3:Put") for a in actions):
                    target = next(iter(_names_in(_allowed_resources(st)[0])))
                    assert any(u.split(":")[1] in ("write", "readwrite") and target in (naming.table_id(u.split(":")[0]), naming.bucket_id(u.split(":")[0]))
                               for u in fn.uses), (lid, "writes without a write use")


def test_the_container_task_role_holds_exactly_container_uses():
    from generator import naming

    for name in NAMES:
        spec = load_spec(BLUEPRINTS[name])
        roles = resources(name, "AWS::IAM::Role")
        if spec.container is None:
            assert "TaskRole" not in roles
            continue
        used = {u.split(":")[0] for u in spec.container.uses}
        explained = {"ServiceKey"} | {naming.table_id(t) for t in used} | {naming.bucket_id(t) for t in used}
        if "database" in used:
            explained.add("DatabaseCluster")
        for st in roles["TaskRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]:
            assert not any("*" in a for a in st["Action"])
            for resource in _allowed_resources(st):
                assert _names_in(resource) <= explained, (st.get("Sid"), resource)
        execution = roles["TaskExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        assert {a for st in execution for a in st["Action"]} == {
            "ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
            "logs:CreateLogStream", "logs:PutLogEvents"}


def test_hybrid_routes_reach_the_containers_through_the_vpc_link_and_function_routes_lambda():
    name = "hybrid-api"
    spec = load_spec(BLUEPRINTS[name])
    methods = resources(name, "AWS::ApiGateway::Method")
    from generator import naming

    for route in spec.api.routes:
        integration = methods[naming.method_id(route.method, route.path)]["Properties"]["Integration"]
        if route.target == "function":
            assert integration["Type"] == "AWS_PROXY"
        else:
            assert integration["Type"] == "HTTP_PROXY" and integration["ConnectionType"] == "VPC_LINK"
            assert integration["ConnectionId"] == {"Ref": "VpcLink"} and integration["IntegrationTarget"] == {"Ref": "LoadBalancer"}
    service = resources(name, "AWS::ECS::Service")["Service"]["Properties"]
    assert service["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert service["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"
    lb = resources(name, "AWS::ElasticLoadBalancingV2::LoadBalancer")["LoadBalancer"]["Properties"]
    assert lb["Scheme"] == "internal"
    cluster = resources(name, "AWS::ECS::Cluster")["Cluster"]["Properties"]
    assert cluster["ClusterSettings"] == [{"Name": "containerInsights", "Value": "enabled"}]
    container = resources(name, "AWS::ECS::TaskDefinition")["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    assert container["LogConfiguration"]["LogDriver"] == "awslogs" and container["ReadonlyRootFilesystem"] is True
    policies = resources(name, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    metrics = {p["Properties"]["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]["PredefinedMetricType"] for p in policies}
    assert metrics == {"ECSServiceAverageCPUUtilization", "ALBRequestCountPerTarget"}
    subnets = resources(name, "AWS::EC2::Subnet")
    assert len(subnets) == 2 and all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets.values())
    assert not resources(name, "AWS::EC2::NatGateway") and not resources(name, "AWS::EC2::InternetGateway")


def test_micro_gives_each_route_its_own_function_role_log_group_alarms_and_permission():
    name = "micro-api"
    spec = load_spec(BLUEPRINTS[name])
    functions = resources(name, "AWS::Lambda::Function")
    assert len(functions) == len(spec.api.routes)
    roles = {f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()}
    groups = {f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] for f in functions.values()}
    assert len(roles) == len(groups) == len(functions)
    methods = resources(name, "AWS::ApiGateway::Method")
    integrated = {m["Properties"]["Integration"]["Uri"]["Fn::Sub"].split("${")[-1].split(".Arn")[0] for m in methods.values()}
    assert integrated == set(functions)
    permissions = resources(name, "AWS::Lambda::Permission")
    scopes = sorted(p["Properties"]["SourceArn"]["Fn::Sub"].split("${RestApi}/")[1] for p in permissions.values())
    assert scopes == sorted(["api/GET/products", "api/GET/products/*", "api/PUT/products/*", "api/DELETE/products/*",
                             "api/GET/products/*/images", "api/GET/health"])
    alarms = resources(name, "AWS::CloudWatch::Alarm")
    for lid in functions:
        assert sum(1 for a in alarms.values() if any(d.get("Value") == {"Ref": lid} for d in a["Properties"].get("Dimensions", []))) == 4


def _micro_spec(routes: int) -> dict:
    """A realistic large micro service: collections with the five usual routes each."""
    data = blueprint_data("micro-api")
    shapes = [("GET", "", "list_all", "read"), ("POST", "", "create", "write"), ("GET", "/{id}", "get", "read"),
              ("PUT", "/{id}", "put", "write"), ("DELETE", "/{id}", "delete", "write")]
    data["api"]["routes"] = [
        {"method": method, "path": f"/things{i // 5}{suffix}", "handler": f"things{i // 5}.{fn}", "uses": [f"products:{use}"]}
        for i, (method, suffix, fn, use) in ((i, shapes[i % 5]) for i in range(routes))
    ]
    return data


def test_forty_micro_routes_fit_cloudformations_quotas():
    template = build_template(ServiceSpec.model_validate(_micro_spec(40)))
    assert len(template["Resources"]) <= MAX_RESOURCES
    assert len(synthesize(ServiceSpec.model_validate(_micro_spec(40))).encode()) < 1_000_000


def test_too_many_routes_fail_with_the_quota_named():
    data = _micro_spec(60)
    with pytest.raises(SynthError) as err:
        build_template(ServiceSpec.model_validate(data))
    message = str(err.value)
    assert "allows 500 per stack" in message and "quota 'Resources per template'" in message and "60 routes" in message
    count = int(message.split("the template has ")[1].split()[0])
    assert count > 500


def test_the_serverless_pattern_has_one_function_for_all_routes():
    data = copy.deepcopy(blueprint_data("micro-api"))
    data["pattern"] = "serverless"
    template = build_template(ServiceSpec.model_validate(data))
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert len(functions) == 1


def test_a_large_service_splits_its_health_rule_within_the_length_limit():
    import re

    from generator.synth.observability.alarms import MAX_RULE_CHARS

    template = build_template(ServiceSpec.model_validate(_micro_spec(40)))
    res = template["Resources"]
    composites = {k: v for k, v in res.items() if v["Type"] == "AWS::CloudWatch::CompositeAlarm"}
    parts = sorted(k for k in composites if k.startswith("ServiceHealthPart"))
    assert len(parts) >= 2

    def members(lid):
        rule = composites[lid]["Properties"]["AlarmRule"]
        text = rule["Fn::If"][1]["Fn::Sub"] if "Fn::If" in rule else rule["Fn::Sub"]
        return re.findall(r"\$\{(\w+)\.Arn\}", text)

    assert set(parts) <= set(members("ServiceHealthAlarm"))
    in_parts = [m for p in parts for m in members(p)]
    assert len(in_parts) == len(set(in_parts))
    health = {k for k, v in res.items() if v["Type"] == "AWS::CloudWatch::Alarm"
              and not v["Properties"]["AlarmName"]["Fn::Sub"].endswith(("-4xx-rate", "-request-rate")) and "Condition" not in v}
    assert set(in_parts) == health
    for lid in parts:
        worst = sum(len('ALARM("")') + 60 + len(res[m]["Properties"]["AlarmName"]["Fn::Sub"]) + 16 + 4 for m in members(lid))
        assert worst <= MAX_RULE_CHARS
