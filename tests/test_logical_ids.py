"""Logical IDs are a contract: adding, removing or reordering routes and tables never renames a resource."""

from __future__ import annotations

import copy

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.spec.models import ServiceSpec
from generator.synth.pipeline import build_template
from tests.conftest import blueprint_data

# An API Gateway deployment is an immutable snapshot that must be replaced when routes change; it holds no data.
REPLACED_BY_DESIGN = ("AWS::ApiGateway::Deployment",)


def ids(data: dict) -> dict[str, str]:
    tpl = build_template(ServiceSpec.model_validate(data))
    return {lid: r["Type"] for lid, r in tpl["Resources"].items() if r["Type"] not in REPLACED_BY_DESIGN}


def test_names_not_positions():
    resources = ids(blueprint_data())
    assert {"PaymentsTable", "ReceiptsBucket", "ApiMethodPostPayments", "ApiMethodGetPaymentsParamId",
            "ApiResPaymentsParamIdRefunds", "ApiFunction", "ServiceKey", "Distribution"} <= set(resources)


def test_adding_a_route_and_a_table_in_front_keeps_every_existing_id():
    base = blueprint_data()
    grown = copy.deepcopy(base)
    grown["api"]["routes"].insert(0, {"method": "GET", "path": "/customers/{customer_id}", "handler": "customers.get", "uses": ["customers:read"]})
    grown["persistence"]["tables"].insert(0, {"name": "customers", "partition_key": "customer_id"})
    before, after = ids(base), ids(grown)
    assert {k: after.get(k) for k in before} == before
    assert {"CustomersTable", "ApiMethodGetCustomersParamCustomerId"} <= set(after) - set(before)


def test_the_deployment_is_renamed_when_routes_change():
    base = blueprint_data()
    grown = copy.deepcopy(base)
    grown["api"]["routes"].append({"method": "GET", "path": "/payments", "handler": "payments.list_all"})
    dep = [lid for s in (base, grown) for lid, r in build_template(ServiceSpec.model_validate(s))["Resources"].items()
           if r["Type"] == "AWS::ApiGateway::Deployment"]
    assert len(dep) == 2 and dep[0] != dep[1]


ROUTES = [
    {"method": "GET", "path": "/a", "handler": "a.get"},
    {"method": "POST", "path": "/a", "handler": "a.post"},
    {"method": "GET", "path": "/a/{id}", "handler": "a.one"},
    {"method": "GET", "path": "/b/{id}/c", "handler": "b.c"},
    {"method": "DELETE", "path": "/a/{id}", "handler": "a.delete"},
    {"method": "ANY", "path": "/d/{proxy+}", "handler": "d.any"},
]
TABLES = [{"name": n, "partition_key": "pk"} for n in ("alpha", "beta", "gamma-delta", "epsilon_zeta")]


@settings(max_examples=40, deadline=None, derandomize=True, database=None)  # the same examples in every CI run
@given(
    routes=st.lists(st.sampled_from(range(len(ROUTES))), min_size=1, unique=True),
    tables=st.lists(st.sampled_from(range(len(TABLES))), unique=True),
    extra_route=st.sampled_from(range(len(ROUTES))),
    extra_table=st.sampled_from(range(len(TABLES))),
    data=st.data(),
)
def test_any_addition_in_any_position_keeps_ids(routes, tables, extra_route, extra_table, data):
    spec = {"service": "prop-svc", "team": "t", "api": {"routes": [ROUTES[i] for i in routes]},
            "persistence": {"tables": [TABLES[i] for i in tables]}}
    grown = yaml.safe_load(yaml.safe_dump(spec))
    if extra_route not in routes:
        grown["api"]["routes"].insert(data.draw(st.integers(0, len(routes))), ROUTES[extra_route])
    if extra_table not in tables:
        grown["persistence"]["tables"].insert(data.draw(st.integers(0, len(tables))), TABLES[extra_table])
    before, after = ids(spec), ids(grown)
    assert {k: after.get(k) for k in before} == before
    # Reordering alone changes nothing at all.
    shuffled = yaml.safe_load(yaml.safe_dump(spec))
    shuffled["api"]["routes"].reverse()
    shuffled["persistence"]["tables"].reverse()
    assert set(ids(shuffled)) == set(before)
