"""The registry and the step order: declarations give the order, and the code cannot touch what it did not declare."""

from __future__ import annotations

import contextlib
import shutil

import pytest
import yaml
from troposphere import Output

from generator.errors import SynthError
from generator.resources import blueprints
from generator.spec import load_spec
from generator.spec.models import ServiceSpec
from generator.synth import registry
from generator.synth.context import Context
from generator.synth.pipeline import LAYERS, PASSES, STEPS, build_template
from generator.synth.registry import FIELDS, LayerOrderError, Registry, ResourcePolicies, UndeclaredAccess, layer, order


def _noop(ctx) -> None:
    pass


def step(name: str, provides=(), needs=()):
    return layer(provides=provides, needs=needs, name=name)(_noop)


def test_a_list_that_satisfies_every_need_keeps_its_order():
    a, b, c = step("a", provides={"key"}), step("b", needs={"key"}), step("c", provides={"tables"})
    assert order([a, b, c]) == (a, b, c)
    assert order([a, c, b]) == (a, c, b)


def test_a_step_listed_before_what_it_needs_moves_after_it_and_ties_keep_the_listed_order():
    reader, other, writer = step("reader", needs={"functions"}), step("other"), step("writer", provides={"functions"})
    assert order([reader, other, writer]) == (other, writer, reader)


def test_a_reader_runs_after_every_provider_of_what_it_needs():
    late, first, second = step("late", needs={"log_groups"}), step("first", provides={"log_groups"}), step("second", provides={"log_groups"})
    assert order([late, first, second]) == (first, second, late)


def test_a_step_that_amends_what_it_needs_runs_after_the_other_providers_only():
    api, amend, other = step("api", provides={"api_stage"}), step("amend", provides={"api_stage"}, needs={"api_stage"}), step("other")
    assert order([amend, other, api]) == (other, api, amend)


def test_a_need_nothing_provides_fails_loudly():
    with pytest.raises(LayerOrderError, match="needs database, which no step provides"):
        order([step("a", needs={"database"})])
    with pytest.raises(LayerOrderError, match="no step provides"):  # providing it oneself does not count
        order([step("a", provides={"database"}, needs={"database"})])


def test_a_cycle_fails_loudly():
    with pytest.raises(LayerOrderError, match="need each other's results"):
        order([step("a", provides={"tables"}, needs={"buckets"}), step("b", provides={"buckets"}, needs={"tables"})])


def test_a_step_declares_only_fields_the_registry_has():
    with pytest.raises(LayerOrderError, match="unknown registry fields: refs"):
        step("a", needs={"refs"})


def test_the_pipeline_order_is_the_listed_order_and_satisfies_every_declaration():
    assert STEPS == (*LAYERS, *PASSES), "the listed order already satisfies every need; a change to it must be deliberate"
    for i, s in enumerate(STEPS):
        for need in s.needs:
            providers = [p for p in STEPS if need in p.provides and p is not s]
            assert providers and all(STEPS.index(p) < i for p in providers), (s.name, need)
    by_name = {s.name: s for s in STEPS}
    assert list(by_name).index("logs.build") > list(by_name).index("api.build")
    assert list(by_name)[-3:] == ["persistence.bucket_policies", "messaging.policies", "pipeline.outputs"]


class _Ctx:
    def __init__(self) -> None:
        self.reg = Registry()

    def sourced(self, source: str) -> contextlib.nullcontext:
        return contextlib.nullcontext()


def test_a_step_cannot_read_or_set_a_field_it_did_not_declare():
    def reads_functions(ctx) -> None:
        ctx.reg.functions["x"] = object()

    def sets_key(ctx) -> None:
        ctx.reg.key = object()

    ctx = _Ctx()
    with pytest.raises(UndeclaredAccess, match="reads registry field 'functions'"):
        layer(provides={"tables"})(reads_functions)(ctx)
    with pytest.raises(UndeclaredAccess, match="sets registry field 'key'"):
        layer(needs={"key"})(sets_key)(ctx)  # needing it is not providing it
    assert isinstance(ctx.reg, Registry), "the full registry is back after a step, even a failed one"
    layer(provides={"functions"})(reads_functions)(ctx)
    layer(provides={"key"})(sets_key)(ctx)
    assert "x" in ctx.reg.functions and ctx.reg.key is not None


def test_resource_policies_gather_statements_per_resource_in_first_registration_order():
    class R:
        def __init__(self, title):
            self.title = title

    a, b = R("A"), R("B")
    policies = ResourcePolicies()
    policies.add(b, {"Sid": "1"})
    policies.add(a, {"Sid": "2"}, {"Sid": "3"})
    policies.add(b, {"Sid": "4"})
    assert [(r.title, [s["Sid"] for s in sts]) for r, sts in policies] == [("B", ["1", "4"]), ("A", ["2", "3"])]


def _specs(tmp_path):
    """Every blueprint, and one with what no blueprint has: a topic with a handler, a release hook."""
    specs = [load_spec(bp.path) for bp in blueprints()]
    worker = next(bp.path for bp in blueprints() if bp.name == "event-worker")
    shutil.copytree(worker.parent / "workflows", tmp_path / "workflows")
    data = yaml.safe_load(worker.read_text(encoding="utf-8"))
    data["messaging"]["topics"][0]["handler"] = {"handler": "receipts.audit"}
    data["application"] = {**data.get("application", {}), "release": {"hooks": {"pre_traffic": "release.check"}}}
    (tmp_path / "service.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return [*specs, load_spec(tmp_path / "service.yaml")]


def test_every_step_touches_exactly_the_fields_it_declares(monkeypatch, tmp_path):
    """Over every blueprint, what each step reads or sets in the registry is what it declares, no more and no less."""
    touched: dict[str, set[str]] = {s.name: set() for s in STEPS}
    get, set_ = registry._Guard.__getattr__, registry._Guard.__setattr__

    def record_get(self, name):
        if name in FIELDS:
            touched[self._step.name].add(name)
        return get(self, name)

    def record_set(self, name, value):
        touched[self._step.name].add(name)
        set_(self, name, value)

    monkeypatch.setattr(registry._Guard, "__getattr__", record_get)
    monkeypatch.setattr(registry._Guard, "__setattr__", record_set)
    for spec in _specs(tmp_path):
        build_template(spec)
    assert {s.name: set(s.provides | s.needs) for s in STEPS} == touched


def test_outputs_past_the_quota_are_named_with_their_count_not_refused_by_troposphere():
    """205 micro routes give 205 function outputs: the quota message, not troposphere's ValueError (an internal error)."""
    spec = ServiceSpec.model_validate({
        "service": "big-svc", "team": "t", "pattern": "micro", "content_delivery": {"enabled": False},
        "api": {"routes": [{"method": "GET", "path": f"/r{i}", "handler": f"r.h{i}"} for i in range(205)]},
    })
    with pytest.raises(SynthError, match="quota 'Resources per template'"):
        build_template(spec)
    ctx = Context(spec)
    for i in range(201):
        ctx.template.add_output(Output(f"O{i}", Value="x"))
    assert len(ctx.template.outputs) == 201
