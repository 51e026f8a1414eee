"""The service side of a fleet: what one spec's stack grants, publishes and listens to, and what its repository gets.

Calls: execute-api:Invoke on exactly the callee's API id (an SSM dynamic reference, never a wildcard) and stage;
events: PutEvents on the fleet's bus pinned to the service's own source; every stack publishes its API id and URL.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from generator import openapi
from generator.api import load_spec
from generator.lint import lint_text
from generator.spec.models import ServiceSpec
from generator.synth.pipeline import build_template, render, synthesize
from tests.conftest import ROOT
from tests.test_deploy import artifact, aws, creds, specs  # noqa: F401  (moto with the bootstrap parameters)
from tests.test_new import service_venv  # noqa: F401  (the generated services' dependencies, from the wheelhouse)

SHOP = ROOT / "blueprints" / "fleets" / "shop"

CALLER = {
    "service": "caller-svc", "team": "t", "pattern": "micro",
    "content_delivery": {"enabled": False},
    "emits": ["ThingDone", "ThingUndone"],
    "api": {"routes": [
        {"method": "GET", "path": "/things/{id}", "handler": "things.get", "uses": ["catalog-svc:invoke:GET /products/{sku}"]},
        {"method": "POST", "path": "/things", "handler": "things.create",
         "uses": ["catalog-svc:invoke:POST /products/{sku}/holds", "catalog-svc:invoke:ANY /products", "events:emit:ThingDone"]},
        {"method": "DELETE", "path": "/things/{id}", "handler": "things.remove", "uses": ["pricing-svc:invoke", "events:emit"]},
        {"method": "GET", "path": "/things", "handler": "things.list_all"},
    ]},
    "messaging": {"queues": [{"name": "inbox", "consumer": {"handler": "inbox.handle", "uses": ["events:emit"]}}],
                  "events": [{"name": "paid", "bus": "fleet", "pattern": {"source": ["payment-svc"], "detail-type": ["PaymentSettled"]},
                              "targets": ["inbox"]}]},
}
API_ID = "{{resolve:ssm:/msgen/${Environment}/%s/api-id}}"
INVOKE_ARN = re.compile(r"^arn:\$\{AWS::Partition\}:execute-api:\$\{AWS::Region\}:\$\{AWS::AccountId\}:"
                        r"\{\{resolve:ssm:/msgen/\$\{Environment\}/[a-z0-9-]+/api-id\}\}/api/(\*/\*|[A-Z*]+/[A-Za-z0-9._~*/-]*)$")


@pytest.fixture(scope="module")
def template() -> dict:
    return build_template(ServiceSpec.model_validate(CALLER))


def statements(template: dict, role: str) -> list[dict]:
    policies = template["Resources"][role]["Properties"].get("Policies", [])
    return [s for p in policies for s in p["PolicyDocument"]["Statement"]]


def by_action(template: dict, role: str, action: str) -> list[dict]:
    return [s for s in statements(template, role) if action in s["Action"]]


def subs(values: list) -> list[str]:
    return [v["Fn::Sub"] for v in values]


def test_a_route_may_invoke_exactly_the_callees_route_on_its_api_and_stage(template):
    (st,) = by_action(template, "ThingsGetFunctionRole", "execute-api:Invoke")
    assert st["Action"] == ["execute-api:Invoke"] and st["Sid"] == "InvokeCatalogSvcApi"
    assert subs(st["Resource"]) == ["arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
                                    + API_ID % "catalog-svc" + "/api/GET/products/*"]
    (st,) = by_action(template, "ThingsCreateFunctionRole", "execute-api:Invoke")
    assert [r.rsplit("/api/", 1)[1] for r in subs(st["Resource"])] == ["*/products", "POST/products/*/holds"]


def test_the_whole_api_form_is_the_only_one_with_a_method_and_path_wildcard(template):
    (st,) = by_action(template, "ThingsRemoveFunctionRole", "execute-api:Invoke")
    assert subs(st["Resource"]) == ["arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
                                    + API_ID % "pricing-svc" + "/api/*/*"]


def test_no_invoke_grant_anywhere_has_a_wildcard_api_id(template):
    found = 0
    for lid, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for st in by_action(template, lid, "execute-api:Invoke"):
            for arn in subs(st["Resource"]):
                found += 1
                assert INVOKE_ARN.match(arn), arn
                api_id = arn.split("${AWS::AccountId}:", 1)[1].split("}}/", 1)[0] + "}}"
                assert "*" not in api_id and api_id.startswith("{{resolve:ssm:"), arn
    assert found == 4
    assert not by_action(template, "ThingsListAllFunctionRole", "execute-api:Invoke")  # no use, no grant


def test_put_events_is_pinned_to_the_services_own_source_and_the_named_detail_types(template):
    (st,) = by_action(template, "ThingsCreateFunctionRole", "events:PutEvents")
    assert st["Action"] == ["events:PutEvents"]
    assert subs(st["Resource"]) == ["{{resolve:ssm:/msgen/${Environment}/fleet/event-bus-arn}}"]
    assert st["Condition"] == {"StringEquals": {"events:source": "caller-svc", "events:detail-type": ["ThingDone"]}}
    for role in ("ThingsRemoveFunctionRole", "InboxConsumerFunctionRole"):  # events:emit: every detail-type it emits
        (st,) = by_action(template, role, "events:PutEvents")
        assert st["Condition"] == {"StringEquals": {"events:source": "caller-svc"}}
    assert not by_action(template, "ThingsGetFunctionRole", "events:PutEvents")


def test_the_code_is_told_where_the_callees_and_the_bus_are(template):
    variables = template["Resources"]["ThingsCreateFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["SERVICE_URL_CATALOG_SVC"] == {"Fn::Sub": "{{resolve:ssm:/msgen/${Environment}/catalog-svc/api-url}}"}
    assert variables["EVENT_BUS_NAME"] == {"Fn::Sub": "{{resolve:ssm:/msgen/${Environment}/fleet/event-bus-name}}"}
    assert variables["EVENT_BUS_SOURCE"] == "caller-svc"
    assert "SERVICE_URL_CATALOG_SVC" not in template["Resources"]["ThingsRemoveFunction"]["Properties"]["Environment"]["Variables"]
    consumer = template["Resources"]["InboxConsumerFunction"]["Properties"]["Environment"]["Variables"]
    # The worker's trigger (EVENT_SOURCE) and the source its events go out as (EVENT_BUS_SOURCE) are two variables.
    assert (consumer["EVENT_SOURCE"], consumer["EVENT_BUS_SOURCE"]) == ("sqs:inbox", "caller-svc")


def test_a_rule_on_the_fleet_bus_reads_the_bus_name_from_ssm(template):
    rule = template["Resources"]["PaidRule"]["Properties"]
    assert rule["EventBusName"] == {"Fn::Sub": "{{resolve:ssm:/msgen/${Environment}/fleet/event-bus-name}}"}
    assert rule["EventPattern"] == {"source": ["payment-svc"], "detail-type": ["PaymentSettled"]}
    alarm = template["Resources"]["PaidRuleFailedAlarm"]["Properties"]
    dims = {d["Name"]: d["Value"] for d in alarm.get("Dimensions") or alarm["Metrics"][0]["MetricStat"]["Metric"]["Dimensions"]}
    assert dims["EventBusName"] == rule["EventBusName"]


def test_every_stack_publishes_its_api_id_and_url_in_ssm(template):
    resources = template["Resources"]
    api_id, api_url = resources["ApiIdParameter"], resources["ApiUrlParameter"]
    assert api_id["Type"] == api_url["Type"] == "AWS::SSM::Parameter"
    assert api_id["Properties"]["Name"] == {"Fn::Sub": "/msgen/${Environment}/caller-svc/api-id"}
    assert api_id["Properties"]["Value"] == {"Ref": "RestApi"} and api_id["Properties"]["Type"] == "String"
    assert api_url["Properties"]["Name"] == {"Fn::Sub": "/msgen/${Environment}/caller-svc/api-url"}
    assert api_url["Properties"]["Value"] == {"Fn::Sub": "https://${RestApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api"}
    assert api_id["DependsOn"] == api_url["DependsOn"] == ["ApiStage"]  # published once the stage exists


def test_a_container_task_role_gets_the_same_grants_and_variables():
    data = yaml.safe_load((SHOP / "checkout-svc.yaml").read_text())
    data["container"]["uses"] = [*data["container"]["uses"], "catalog-svc:invoke:GET /products/{sku}"]
    template = build_template(ServiceSpec.model_validate(data).for_environment("dev"))
    (st,) = by_action(template, "TaskRole", "execute-api:Invoke")
    assert subs(st["Resource"])[0].endswith(API_ID % "catalog-svc" + "/api/GET/products/*")
    (st,) = by_action(template, "TaskRole", "events:PutEvents")
    assert st["Condition"]["StringEquals"]["events:source"] == "checkout-svc"
    (container,) = template["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    names = {pair["Name"] for pair in container["Environment"]}
    assert {"SERVICE_URL_CATALOG_SVC", "EVENT_BUS_NAME", "EVENT_BUS_SOURCE"} <= names
    endpoints = {r["Properties"]["ServiceName"]["Fn::Sub"].rsplit(".", 1)[1] for r in template["Resources"].values()
                 if r["Type"] == "AWS::EC2::VPCEndpoint" and r["Properties"].get("VpcEndpointType") == "Interface"}
    assert "events" in endpoints and "execute-api" not in endpoints  # an execute-api endpoint would serve private APIs only


def test_a_spec_with_calls_emits_and_a_fleet_rule_is_lint_clean(template):
    assert lint_text(render(template), "caller-svc.yaml") == []


@pytest.mark.parametrize("name", ["ui-svc", "catalog-svc", "checkout-svc", "payment-svc", "shipping-svc"])
def test_the_shops_services_are_lint_clean(name):
    spec = load_spec(SHOP / f"{name}.yaml").spec
    assert lint_text(synthesize(spec.for_environment("prod")), f"{name}.yaml") == []


# --- the OpenAPI document ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ui-svc", "catalog-svc", "checkout-svc", "payment-svc", "shipping-svc"])
def test_the_openapi_document_is_valid_deterministic_and_lists_every_route(name):
    import openapi_spec_validator as validator
    spec = load_spec(SHOP / f"{name}.yaml").spec
    text = openapi.render(spec)
    document = yaml.safe_load(text)
    validator.validate(document)
    assert text == openapi.render(load_spec(SHOP / f"{name}.yaml").spec) and "&id" not in text
    operations = {(m.upper(), p) for p, item in document["paths"].items() for m in item if m != "parameters"}
    assert operations == {(r.method, r.path) for r in spec.api.routes}
    for route in spec.api.routes:
        op = document["paths"][route.path][route.method.lower()]
        assert op["security"] == [{"sigv4": []}]  # the shop's routes use IAM: callers sign with SigV4
        assert op["parameters"] == [{"$ref": "#/components/parameters/CorrelationId"}]
    assert document["components"]["parameters"]["CorrelationId"]["name"] == spec.observability.correlation_header


def test_openapi_covers_any_greedy_paths_cognito_and_open_routes():
    import openapi_spec_validator as validator
    data = {"service": "mixed-svc", "team": "t", "api": {
        "auth": "cognito", "cognito_user_pool_arn": "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_abc",
        "routes": [{"method": "ANY", "path": "/files/{proxy+}", "handler": "files.any"},
                   {"method": "GET", "path": "/", "handler": "root.get", "auth": "none"},
                   {"method": "POST", "path": "/admin", "handler": "admin.post", "auth": "iam"}]}}
    document = openapi.document(ServiceSpec.model_validate(data))
    validator.validate(json.loads(json.dumps(document)))
    assert document["paths"]["/files/{proxy+}"]["x-amazon-apigateway-any-method"]["security"] == [{"cognito": []}]
    assert document["paths"]["/files/{proxy+}"]["parameters"][0]["name"] == "proxy+"
    assert document["paths"]["/"]["get"]["security"] == []
    assert set(document["components"]["securitySchemes"]) == {"cognito", "sigv4"}


# --- the generated repository ------------------------------------------------------------------------------------------


def generate(cli, parent: Path, name: str) -> Path:
    result = cli("new", name, "--spec", str(SHOP / f"{name}.yaml"), "-o", str(parent), "--no-input")
    assert result.exit_code == 0, result.output
    return parent / name


@pytest.mark.parametrize("name,calls,events", [("ui-svc", True, False), ("checkout-svc", False, True),
                                               ("payment-svc", False, True), ("shipping-svc", False, False)])
def test_the_fleet_helpers_are_rendered_only_where_the_spec_uses_them(cli, tmp_path, name, calls, events):
    from tests.test_new import assert_repository_is_well_formed

    repo = generate(cli, tmp_path, name)
    assert (repo / "src" / "calls.py").exists() == (repo / "tests" / "test_calls.py").exists() == calls
    assert (repo / "src" / "sigv4.py").exists() == calls  # the shop's specs have no search collections
    assert (repo / "src" / "events.py").exists() == (repo / "tests" / "test_events.py").exists() == events
    assert (repo / openapi.PATH).read_text() == openapi.render(load_spec(repo / "service.yaml").spec)
    catalog = list(yaml.safe_load_all((repo / "catalog-info.yaml").read_text()))
    assert any(e["kind"] == "API" and e["spec"]["definition"] == {"$text": f"./{openapi.PATH}"} for e in catalog)
    assert_repository_is_well_formed(repo)


def test_handlers_call_the_routes_their_uses_name_and_publish_what_they_emit(cli, tmp_path):
    ui = (generate(cli, tmp_path, "ui-svc") / "src" / "purchase.py").read_text()
    assert 'calls.call("catalog-svc", "POST", f"/products/{message.get(\'sku\', \'\')}/purchases", message)' in ui
    checkout = (generate(cli, tmp_path, "checkout-svc") / "src" / "orders.py").read_text()
    assert 'events.publish("OrderPlaced", item)' in checkout
    payment = (generate(cli, tmp_path, "payment-svc") / "src" / "charge.py").read_text()
    assert 'events.publish("PaymentSettled", message)' in payment


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ui-svc", "payment-svc"])
def test_a_calling_and_an_emitting_repository_pass_their_own_tests(cli, tmp_path, service_venv, name):  # noqa: F811
    from tests.test_new import make

    repo = generate(cli, tmp_path, name)
    tests = make(repo, "test", service_venv)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert " passed" in tests.stdout and " failed" not in tests.stdout


def test_only_routes_that_change_something_publish_the_containers_events():
    from generator import scaffold

    data = yaml.safe_load((SHOP / "checkout-svc.yaml").read_text())
    data["api"]["routes"].append({"method": "GET", "path": "/orders", "handler": "orders.list_all"})  # on the container
    spec = ServiceSpec.model_validate(data)
    routes = {(r["method"], r["path"]): r for r in scaffold.context(spec, yaml.safe_dump(data), "test")["routes"]}
    assert routes[("POST", "/orders")]["also_events"] == ["OrderPlaced"]
    assert routes[("GET", "/orders")]["also_events"] == [] and routes[("GET", "/orders")]["target"] == "container"


def test_a_deployed_stack_publishes_where_its_api_is_in_ssm(aws, specs, artifact):  # noqa: F811 (fixtures of test_deploy)
    """Deployed (moto): the parameters other services resolve hold the stack's RestApi id and the stage's invoke URL."""
    import boto3

    from tests.test_deploy import deploy

    assert deploy(specs / "serverless-api.yaml", artifact).exit_code == 0
    (api,) = [a for a in boto3.client("apigateway").get_rest_apis()["items"] if a["name"] == "payment-svc-dev"]
    ssm = boto3.client("ssm")
    assert ssm.get_parameter(Name="/msgen/dev/payment-svc/api-id")["Parameter"]["Value"] == api["id"]
    url = ssm.get_parameter(Name="/msgen/dev/payment-svc/api-url")["Parameter"]["Value"]
    assert url.startswith(f"https://{api['id']}.execute-api.us-east-1.") and url.endswith("/api")
