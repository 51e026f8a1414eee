"""The API patterns: serverless (one function) and micro (one function per route), and their least privilege."""

from __future__ import annotations

import copy
import json
import re

import pytest

from generator.errors import SynthError
from generator.plan import build_plan
from generator.spec import load_spec
from generator.spec.models import ServiceSpec
from generator.synth.pipeline import MAX_RESOURCES, QuotaError, build_template, synthesize
from tests.conftest import BLUEPRINTS, blueprint_data, micro_spec
from tests.test_templates import branches, resources, template

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

    for fn in build_plan(spec).functions:
        lid = naming.function_id(fn.name)
        role = template_resources[f"{lid}Role"]
        assert template_resources[lid]["Properties"]["Role"] == {"Fn::GetAtt": [f"{lid}Role", "Arn"]}
        used = set(fn.targets)
        explained = {f"{lid}LogGroup", "ServiceKey", f"{lid}DeadLetterQueue"}
        for target in used:
            explained |= {naming.table_id(target), naming.bucket_id(target), naming.logical_id(target, "Queue"), naming.logical_id(target, "Topic"),
                          naming.logical_id(target, "Collection")}
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
                    assert any(u.verb in ("write", "readwrite") and target in (naming.table_id(u.target), naming.bucket_id(u.target))
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
        assert {a for st in execution for b in branches(st) for a in b["Action"]} == {
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
    integrated = {m["Properties"]["Integration"]["Uri"]["Fn::Sub"].split("${")[-1].split("}")[0] for m in methods.values()}
    assert integrated == {f"{lid}Alias" for lid in functions}  # each route invokes its own function's alias
    permissions = resources(name, "AWS::Lambda::Permission")
    scopes = sorted(p["Properties"]["SourceArn"]["Fn::Sub"].split("${RestApi}/")[1] for p in permissions.values())
    assert scopes == sorted(["api/GET/products", "api/GET/products/*", "api/PUT/products/*", "api/DELETE/products/*",
                             "api/GET/products/*/images", "api/GET/health"])
    alarms = resources(name, "AWS::CloudWatch::Alarm")
    for lid in functions:
        about = [a for a in alarms.values() if any(d.get("Value") == {"Ref": lid} for d in a["Properties"].get("Dimensions", []))]
        released = [a for a in about if any(d["Name"] == "ExecutedVersion" for d in a["Properties"]["Dimensions"])]
        assert (len(about) - len(released), len(released)) == (4, 1)  # the function's four, and its release's rollback alarm




# Each micro route costs 15 resources: function, role, log group, metric filter, method, permission, its four alarms, and
# its release (version, alias, CodeDeploy deployment group, rollback alarm). 31 routes give 489 resources, 32 give 503
# (before releases, each route cost 11 and 40 routes gave 456). Past that, msgen synth splits the service into nested
# stacks (tests/test_nesting.py); one template is what the routes up to MAX_MICRO_ROUTES get.
MAX_MICRO_ROUTES = 31


def test_the_most_micro_routes_in_one_template_fit_cloudformations_quotas():
    template = build_template(ServiceSpec.model_validate(micro_spec(MAX_MICRO_ROUTES)))
    assert len(template["Resources"]) <= MAX_RESOURCES
    assert len(synthesize(ServiceSpec.model_validate(micro_spec(MAX_MICRO_ROUTES))).encode()) < 1_000_000
    with pytest.raises(QuotaError, match="quota 'Resources per template'"):
        build_template(ServiceSpec.model_validate(micro_spec(MAX_MICRO_ROUTES + 1)))


def test_one_template_past_the_quota_names_it_and_the_way_out():
    """build_template alone refuses; msgen synth catches this QuotaError and splits the service (tests/test_nesting.py)."""
    data = micro_spec(60)
    with pytest.raises(QuotaError) as err:
        build_template(ServiceSpec.model_validate(data))
    message = str(err.value)
    assert "allows 500 per stack" in message and "quota 'Resources per template'" in message and "60 routes" in message
    assert "nested stacks" in message and isinstance(err.value, SynthError)
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

    template = build_template(ServiceSpec.model_validate(micro_spec(MAX_MICRO_ROUTES)))
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
    from tests.test_observability import SIGNALS

    health = {k for k, v in res.items() if v["Type"] == "AWS::CloudWatch::Alarm"
              and not v["Properties"]["AlarmName"]["Fn::Sub"].endswith(SIGNALS) and "Condition" not in v}
    assert set(in_parts) == health
    for lid in parts:
        worst = sum(len('ALARM("")') + 60 + len(res[m]["Properties"]["AlarmName"]["Fn::Sub"]) + 16 + 4 for m in members(lid))
        assert worst <= MAX_RULE_CHARS


# --- the task execution role pulls only the service's own image --------------------------------------------------

ACCOUNT, REGION = "123456789012", "eu-west-1"
PSEUDO = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
          "AWS::NoValue": None}


def evaluate(value, params: dict):
    """A small CloudFormation evaluator for the functions the execution role uses (GetAtt only as a placeholder)."""
    if isinstance(value, list):
        return [evaluate(v, params) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1 or not next(iter(value)).startswith(("Ref", "Fn::")):
        return {k: evaluate(v, params) for k, v in value.items()}
    (fn, arg), = value.items()
    if fn == "Ref":
        return params[arg]
    if fn == "Fn::GetAtt":
        return f"<{'.'.join(arg)}>"
    if fn == "Fn::Join":
        return arg[0].join(evaluate(arg[1], params))
    if fn == "Fn::Split":
        return evaluate(arg[1], params).split(arg[0])
    if fn == "Fn::Select":
        return evaluate(arg[1], params)[int(arg[0])]
    if fn == "Fn::Equals":
        return evaluate(arg[0], params) == evaluate(arg[1], params)
    if fn == "Fn::If":
        return evaluate(arg[1] if params[arg[0]] else arg[2], params)
    if fn == "Fn::Sub":
        text, names = (arg, {}) if isinstance(arg, str) else (arg[0], {k: evaluate(v, params) for k, v in arg[1].items()})
        return re.sub(r"\$\{([^}!]+)\}", lambda m: names[m.group(1)] if m.group(1) in names else params[m.group(1)], text)
    raise AssertionError(f"the evaluator does not know {fn}")


def _execution_policy(image: str, params: dict | None = None) -> list[dict]:
    """The execution role's statements as CloudFormation would create them for this ContainerImage."""
    data = template("hybrid-api")
    defaults = {name: p["Default"] for name, p in data["Parameters"].items() if "Default" in p}
    values = {**PSEUDO, **defaults, "ContainerImage": image, **(params or {})}
    for name, condition in data["Conditions"].items():
        values[name] = evaluate(condition, values)
    role = data["Resources"]["TaskExecutionRole"]["Properties"]
    statements = evaluate(role["Policies"][0]["PolicyDocument"]["Statement"], values)
    return [st for st in statements if st is not None]


def _pulls(statements: list[dict]) -> dict[str, list]:
    return {a: st["Resource"] for st in statements for a in st["Action"] if a.startswith("ecr:")}


@pytest.mark.parametrize(("image", "repository"), [
    (f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/ledger-svc:1.4.2", "ledger-svc"),
    (f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/finance/ledger-svc:1.4.2", "finance/ledger-svc"),
    (f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/ledger-svc@sha256:{'a' * 64}", "ledger-svc"),
    (f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/ledger-svc:1.4.2@sha256:{'b' * 64}", "ledger-svc"),
    (f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/ledger-svc", "ledger-svc"),
])
def test_an_image_in_this_accounts_registry_is_pulled_from_its_own_repository_only(image, repository):
    pulls = _pulls(_execution_policy(image))
    own = [f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repository}"]
    assert pulls == {"ecr:GetAuthorizationToken": ["*"], "ecr:BatchCheckLayerAvailability": own, "ecr:BatchGetImage": own,
                     "ecr:GetDownloadUrlForLayer": own}


def test_china_registry_hosts_name_the_repository_too():
    china = {"AWS::Partition": "aws-cn", "AWS::Region": "cn-north-1", "AWS::URLSuffix": "amazonaws.com.cn"}
    pulls = _pulls(_execution_policy(f"{ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn/team/app:2", china))
    assert pulls["ecr:BatchGetImage"] == [f"arn:aws-cn:ecr:cn-north-1:{ACCOUNT}:repository/team/app"]


@pytest.mark.parametrize("image", [
    "nginx:1.27", "library/nginx", "public.ecr.aws/nginx/nginx:1.27", "ghcr.io/acme/ledger:2", "localhost:5000/ledger:1",
    f"999999999999.dkr.ecr.{REGION}.amazonaws.com/ledger-svc:1.4.2",  # another account's registry
    f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/ledger-svc:1.4.2",  # another Region's
])
def test_any_other_image_gets_no_ecr_permission(image):
    statements = _execution_policy(image)
    assert _pulls(statements) == {}
    assert [st["Sid"] for st in statements] == ["OwnLogGroup"]


def test_the_execution_role_never_pulls_from_every_repository():
    role = resources("hybrid-api", "AWS::IAM::Role")["TaskExecutionRole"]["Properties"]
    statements = [b for st in role["Policies"][0]["PolicyDocument"]["Statement"] for b in branches(st)]
    for st in statements:
        if {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"} & set(st["Action"]):
            assert "*" not in st["Resource"] and "repository/*" not in json.dumps(st["Resource"]), st
    assert [st["Fn::If"][0] for st in role["Policies"][0]["PolicyDocument"]["Statement"] if "Fn::If" in st] == ["ImageInOwnRegistry"] * 2


@pytest.mark.parametrize(("image", "valid"), [
    (f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/finance/ledger-svc:1.4.2", True), ("nginx", True), ("nginx:1.27-alpine", True),
    (f"ledger@sha256:{'c' * 64}", True), ("localhost:5000/ledger:1", True), ("public.ecr.aws/nginx/nginx:1.27", True),
    ("", False), ("Ledger:1", False), ("ledger:1 ; rm -rf /", False), ("ledger::1", False), ("https://example.com/ledger", False),
])
def test_the_container_image_parameter_accepts_image_references_only(image, valid):
    parameter = template("hybrid-api")["Parameters"]["ContainerImage"]
    assert bool(re.fullmatch(parameter["AllowedPattern"], image)) is valid


def test_a_hybrid_service_of_containers_only_asks_for_no_code_zip_and_lints_clean():
    """No function, no ArtifactBucket/ArtifactKey parameters: nothing would use them (W2001), and deploy would ask for a zip."""
    from generator.lint import lint_text

    data = blueprint_data("hybrid-api")
    data["api"]["routes"] = [r for r in data["api"]["routes"] if r.get("target") != "function"]
    data["environments"] = ["dev"]
    spec = ServiceSpec.model_validate(data)
    built = build_template(spec)
    assert not resources_of(built, "AWS::Lambda::Function")
    assert not {"ArtifactBucket", "ArtifactKey", "CodeSha256"} & set(built.get("Parameters", {}))
    assert lint_text(synthesize(spec), "containers-only.yaml") == []
    with_function = build_template(ServiceSpec.model_validate(blueprint_data("hybrid-api") | {"environments": ["dev"]}))
    assert {"ArtifactBucket", "ArtifactKey"} <= set(with_function["Parameters"])


def resources_of(template: dict, type_: str) -> dict:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}
