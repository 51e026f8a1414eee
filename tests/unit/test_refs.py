"""A spec's references outside itself (generator.spec.refs) and the checks of the fleet forms of `uses:`."""

from __future__ import annotations

import copy

import pytest

from generator.api import load_spec
from generator.errors import SpecError
from generator.spec import checks
from generator.spec.refs import Call, Listen, service_refs

SPEC = """\
service: checkout-svc
team: shop
emits: [OrderPlaced, OrderCancelled]
api:
  routes:
    - method: POST
      path: /orders
      handler: orders.create
      uses: ["orders:readwrite", "catalog-svc:invoke:GET /products/{sku}", "events:emit:OrderPlaced"]
    - method: GET
      path: /orders/{id}
      handler: orders.get
      uses: ["orders:read", "pricing-svc:invoke"]
persistence:
  tables: [{name: orders, partition_key: id}]
messaging:
  queues:
    - name: settled
      consumer: {handler: settled.handle, uses: ["events:emit", "catalog-svc:invoke:POST /products/{sku}/holds"]}
  events:
    - name: payment-settled
      bus: fleet
      pattern: {source: [payment-svc, refund-svc], detail-type: [PaymentSettled]}
      targets: [settled]
    - name: partner-feed
      pattern: {source: [partner.feed]}
      targets: [settled]
"""


@pytest.fixture
def loaded(tmp_path):
    path = tmp_path / "checkout-svc.yaml"
    path.write_text(SPEC)
    return load_spec(path)


def test_calls_emits_and_listens_are_listed_in_spec_order(loaded):
    refs = service_refs(loaded.spec)
    assert refs.calls == [Call("catalog-svc", "GET", "/products/{sku}", ()), Call("pricing-svc", None, None, ()),
                          Call("catalog-svc", "POST", "/products/{sku}/holds", ())]
    assert [c.where for c in refs.calls] == [("api", "routes", 0, "uses", 1), ("api", "routes", 1, "uses", 1),
                                             ("messaging", "queues", 0, "consumer", "uses", 1)]
    assert [c.whole_api for c in refs.calls] == [False, True, False]
    assert refs.callees == ["catalog-svc", "pricing-svc"]
    assert refs.emits == ["OrderPlaced", "OrderCancelled"]
    # Only the rule on the fleet's bus: one listen per source and detail-type.
    assert refs.listens == [Listen("payment-svc", "PaymentSettled", ()), Listen("refund-svc", "PaymentSettled", ())]
    assert refs.listens[0].where == ("messaging", "events", 0, "pattern", "detail-type", 0)


def test_where_locates_each_reference_in_the_file(loaded):
    refs = service_refs(loaded.spec)
    issue = loaded.located.issue(refs.calls[1].where, "no such service")
    assert (issue.line, issue.column) == (13, 29)
    issue = loaded.located.issue(refs.listens[0].where, "nobody emits it")
    assert issue.line == 23


def test_a_spec_without_fleet_references_has_none(loaded, tmp_path):
    path = tmp_path / "plain.yaml"
    path.write_text("service: plain-svc\nteam: t\napi:\n  routes: [{method: GET, path: /, handler: root.get}]\n")
    refs = service_refs(load_spec(path).spec)
    assert (refs.calls, refs.emits, refs.listens) == ([], [], [])


BASE = {
    "service": "demo-svc", "team": "t", "emits": ["ThingDone"],
    "persistence": {"tables": [{"name": "orders", "partition_key": "id"}]},
    "api": {"routes": [{"method": "GET", "path": "/orders", "handler": "orders.list_all", "uses": ["orders:read"]}]},
    "workflows": [{"name": "flow", "definition": "flow.asl.json"}],
}


def problems(uses: list[str], where: str = "route", **top) -> list[tuple]:
    data = copy.deepcopy(BASE)
    data.update(top)
    if where == "route":
        data["api"]["routes"][0]["uses"] = uses
    else:
        data["workflows"][0]["uses"] = uses
    return checks.check(data)


@pytest.mark.parametrize("uses", [["catalog-svc:invoke"], ["catalog-svc:invoke:GET /items/{id}"], ["events:emit"],
                                  ["events:emit:ThingDone"]])
def test_the_fleet_forms_of_a_use_pass_the_spec_checks(uses):
    assert problems(uses) == []


@pytest.mark.parametrize("uses,top,message", [
    (["demo-svc:invoke"], {}, "a service does not call its own API"),
    (["orders:invoke"], {}, "'orders' is a table: use"),
    (["events:emit"], {"emits": []}, "'events:emit' needs top-level `emits:`"),
    (["events:emit:OtherThing"], {}, "'OtherThing' is not in `emits:` (ThingDone)"),
])
def test_a_fleet_use_that_cannot_work_is_located(uses, top, message):
    (problem,) = problems(uses, **top)
    assert problem[0] == ("api", "routes", 0, "uses", 0)
    assert message in problem[1]


@pytest.mark.parametrize("use", ["catalog-svc:invoke", "events:emit"])
def test_a_workflow_neither_calls_nor_emits(use):
    (problem,) = problems([use], where="workflow")
    assert problem[0] == ("workflows", 0, "uses", 0) and "a workflow does not call other services" in problem[1]


@pytest.mark.parametrize("module,uses,emits", [("calls", ["x-svc:invoke"], []), ("events", [], ["ThingDone"])])
def test_a_handler_module_may_not_take_the_name_of_the_fleet_helpers(module, uses, emits):
    data = copy.deepcopy(BASE)
    data["emits"] = emits
    data["api"]["routes"][0].update(handler=f"{module}.handle", uses=uses)
    assert any(f"module '{module}' would shadow" in message for _, message in checks.check(data))


def test_an_event_listed_twice_is_refused(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text(SPEC.replace("emits: [OrderPlaced, OrderCancelled]", "emits: [OrderPlaced, OrderPlaced]"))
    with pytest.raises(SpecError, match="an event is listed twice"):
        load_spec(path)


def test_a_queue_may_be_called_events_unless_the_spec_emits():
    data = copy.deepcopy(BASE)
    data["messaging"] = {"queues": [{"name": "events"}]}
    data["api"]["routes"][0]["uses"] = ["orders:read", "events:send"]
    data["emits"] = []
    assert checks.check(data) == []
    data["emits"] = ["ThingDone"]
    assert any("'events' is reserved" in message for _, message in checks.check(data))
