"""Search collections (OpenSearch Serverless): encryption with the service key, reach by IAM only, access exactly by uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from generator.lint import lint_text
from generator.spec.models import ServiceSpec
from generator.synth.pipeline import build_template, render
from tests.conftest import BLUEPRINTS


def spec(**extra) -> ServiceSpec:
    data = {
        "service": "catalog-svc", "team": "catalog", "pattern": "micro", "content_delivery": {"enabled": False},
        "api": {"routes": [
            {"method": "GET", "path": "/search", "handler": "search_api.find", "uses": ["catalog:read"]},
            {"method": "POST", "path": "/products", "handler": "products.create", "uses": ["catalog:write"]},
        ]},
        "search": {"collections": [{"name": "catalog", "standby_replicas": False}]},
    }
    data.update(extra)
    return ServiceSpec.model_validate(data)


def policy(resources: dict, lid: str) -> object:
    return json.loads(resources[lid]["Properties"]["Policy"]["Fn::Sub"])


def test_readers_and_writers_get_exactly_their_permissions_and_iam_names_only_the_collection():
    res = build_template(spec())["Resources"]
    access = policy(res, "CatalogCollectionAccessPolicy")
    by_principal = {tuple(s["Principal"]): s["Rules"][0]["Permission"] for s in access}
    assert by_principal[("${SearchApiFindFunctionRole.Arn}",)] == ["aoss:DescribeIndex", "aoss:ReadDocument"]
    assert "aoss:WriteDocument" in by_principal[("${ProductsCreateFunctionRole.Arn}",)]
    for role in ("SearchApiFindFunctionRole", "ProductsCreateFunctionRole"):
        statements = res[role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        aoss = [s for s in statements if any(a.startswith("aoss:") for a in s["Action"])]
        assert aoss == [{"Sid": "CatalogCollection", "Effect": "Allow", "Action": ["aoss:APIAccessAll"],
                         "Resource": [{"Fn::GetAtt": ["CatalogCollection", "Arn"]}]}]
    env = res["SearchApiFindFunction"]["Properties"]["Environment"]["Variables"]
    assert env["SEARCH_CATALOG"] == {"Fn::GetAtt": ["CatalogCollection", "CollectionEndpoint"]}


def test_the_collection_is_encrypted_with_the_service_key_before_it_exists_and_is_kept():
    res = build_template(spec())["Resources"]
    enc = policy(res, "CatalogCollectionEncryptionPolicy")
    assert enc["AWSOwnedKey"] is False and enc["KmsARN"] == "${ServiceKey.Arn}"
    coll = res["CatalogCollection"]
    assert coll["DependsOn"] == ["CatalogCollectionEncryptionPolicy"]
    assert coll["DeletionPolicy"] == coll["UpdateReplacePolicy"] == "Retain"
    assert coll["Properties"]["DeletionProtection"] == "ENABLED" and coll["Properties"]["StandbyReplicas"] == "DISABLED"
    longest_env = "e" * 16  # the spec allows environment names of up to 16 characters
    for r in res.values():
        if r["Type"].startswith("AWS::OpenSearchServerless::"):
            limit = 64 if r["Type"].endswith("::Collection") else 32
            assert len(r["Properties"]["Name"]["Fn::Sub"].replace("${Environment}", longest_env)) <= limit, r


def test_outside_a_vpc_the_endpoint_is_public_but_iam_only():
    res = build_template(spec())["Resources"]
    (net,) = policy(res, "CatalogCollectionNetworkPolicy")
    assert net["AllowFromPublic"] is True and "SourceVPCEs" not in net and "SearchVpcEndpoint" not in res
    assert net["Rules"] == [{"ResourceType": "collection", "Resource": [f"collection/{res['CatalogCollection']['Properties']['Name']['Fn::Sub']}"]}]


def test_inside_the_vpc_the_collection_is_private_to_the_vpc_endpoint():
    data = yaml.safe_load(BLUEPRINTS["hybrid-api"].read_text(encoding="utf-8"))
    data["container"]["uses"] = [*data["container"].get("uses", []), "catalog:read"]
    data["search"] = {"collections": [{"name": "catalog"}]}
    s = ServiceSpec.model_validate(data)
    res = build_template(s)["Resources"]
    assert res["SearchVpcEndpoint"]["Type"] == "AWS::OpenSearchServerless::VpcEndpoint"
    net = policy(res, "CatalogCollectionNetworkPolicy")
    assert net[0]["AllowFromPublic"] is False and net[0]["SourceVPCEs"] == ["${SearchVpcEndpoint}"]
    assert [f for f in lint_text(render(build_template(s)), "hybrid-search", ("us-east-1",), info=True)] == []


@pytest.mark.parametrize("standby", [True, False])
def test_lint_clean(standby):
    s = spec(search={"collections": [{"name": "catalog", "standby_replicas": standby}]})
    assert [f for f in lint_text(render(build_template(s)), "search", ("us-east-1", "eu-west-1"), info=True)] == []


def test_uses_of_a_collection_are_checked_like_any_kind(tmp_path: Path, cli):
    bad = tmp_path / "s.yaml"
    data = {"service": "catalog-svc", "team": "t", "api": {"routes": [
        {"method": "GET", "path": "/s", "handler": "s.find", "uses": ["catalog:send"]}]},
        "search": {"collections": [{"name": "catalog"}]}}
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = cli("validate", str(bad))
    assert result.exit_code == 2 and "'catalog' is a collection: use catalog:read or catalog:readwrite or catalog:write" in result.output
