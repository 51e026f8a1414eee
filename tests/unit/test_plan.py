"""The plan: which functions a spec gives, what each uses, and what each `uses:` target is."""

from __future__ import annotations

import pytest
import yaml

from generator.kinds import KINDS, Use
from generator.plan import ENTRY_POINT, WORKER_ENTRY_POINT, build_plan
from generator.spec import load_spec
from generator.spec.models import ServiceSpec
from tests.conftest import BLUEPRINTS


def spec(**overrides) -> ServiceSpec:
    data = {
        "service": "demo-svc", "team": "t", "pattern": "serverless",
        "persistence": {"tables": [{"name": "orders", "partition_key": "id"}], "buckets": [{"name": "files"}]},
        "messaging": {"queues": [{"name": "jobs", "consumer": {"handler": "jobs.handle", "uses": ["orders:write"]}}],
                      "topics": [{"name": "news", "handler": {"handler": "news.handle"}}],
                      "events": [{"name": "ticks", "schedule": "rate(5 minutes)", "handler": {"handler": "ticks.handle"}}]},
        "api": {"routes": [
            {"method": "GET", "path": "/orders", "handler": "orders.list_all", "uses": ["orders:read"]},
            {"method": "POST", "path": "/orders", "handler": "orders.create", "uses": ["orders:readwrite", "jobs:send", "orders:read"]},
        ]},
    }
    data.update(overrides)
    return ServiceSpec.model_validate(data)


def test_serverless_has_one_api_function_with_the_union_of_the_routes_uses():
    plan = build_plan(spec())
    api = plan.function("api")
    assert api.handler == ENTRY_POINT and len(api.routes) == 2
    assert api.uses == (Use("jobs", "send"), Use("orders", "read"), Use("orders", "readwrite"))
    assert plan.access(api.uses) == {"jobs": {"send"}, "orders": {"read", "write"}}


def test_micro_has_one_function_per_route_with_only_its_uses():
    plan = build_plan(spec(pattern="micro"))
    assert [f.name for f in plan.api_functions] == ["orders-list-all", "orders-create"]
    assert plan.function("orders-list-all").uses == (Use("orders", "read"),)


def test_workers_get_their_trigger_and_asynchronous_ones_a_dead_letter_queue():
    plan = build_plan(spec())
    consumer = plan.function("jobs-consumer")
    assert consumer.handler == WORKER_ENTRY_POINT and consumer.consumes == "jobs" and consumer.source == "sqs:jobs"
    assert Use("jobs", "consume") in consumer.uses and not consumer.asynchronous
    assert plan.function("news-handler").asynchronous and plan.function("ticks-handler").source == "events:ticks"


def test_every_use_target_resolves_to_its_kind():
    plan = build_plan(spec())
    assert {n: k.name for n, k in plan.kinds.items()} == {"orders": "table", "files": "bucket", "jobs": "queue", "news": "topic"}
    assert plan.kind_of("nothing") is None


def test_hybrid_functions_serve_only_function_routes_and_endpoints_follow_the_uses():
    data = yaml.safe_load(BLUEPRINTS["hybrid-api"].read_text())
    plan = build_plan(ServiceSpec.model_validate(data))
    assert all(r.target == "function" for f in plan.api_functions for r in f.routes)
    for endpoint in plan.endpoints_for_uses:
        assert endpoint in {k.endpoint for k in KINDS.values()}


@pytest.mark.parametrize("name", sorted(BLUEPRINTS))
def test_every_blueprint_plans_and_every_use_target_is_known(name):
    s = load_spec(BLUEPRINTS[name])
    plan = build_plan(s)
    for fn in plan.functions:
        for use in fn.uses:
            kind = plan.kind_of(use.target)
            assert kind is not None, f"{name}: {fn.name} uses unknown {use}"
            assert use.verb in kind.verbs or (use.verb == "consume" and kind.name == "queue")
