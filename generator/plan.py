"""The plan: a validated spec turned, once, into what the stack will have.

``build_plan(spec)`` gives one immutable :class:`ServicePlan`: the functions (entry point, trigger, the
uses that shape their role and environment, whether they run in the VPC and need a dead-letter queue),
what each name in ``uses:`` is (its :class:`~generator.kinds.Kind`), and what the network must offer.
``validate``, the synth layers, ``scaffold`` and ``explain`` read the plan; nothing re-derives it.

This module imports neither troposphere nor the synth package.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType

from generator import sources
from generator.kinds import EXTERNAL_KINDS, KINDS, NAMED_KINDS, SINGLETONS, Kind, Use
from generator.spec.models import Route, ServiceSpec

ENTRY_POINT = "app.lambda_handler"  # the generated code's API router: every function behind the API uses it
WORKER_ENTRY_POINT = "worker.lambda_handler"  # the generated code's entry for queue consumers, topic and events handlers


def parse_uses(entries: list[str] | tuple[str, ...]) -> tuple[Use, ...]:
    """Sorted, without duplicates: the order of a spec's `uses:` list never changes a template."""
    return tuple(sorted({Use.parse(e) for e in entries}))


@dataclass(frozen=True)
class FunctionPlan:
    """One Lambda function: its name in the stack, entry point, the routes it serves and what it uses."""

    name: str
    handler: str
    description: str
    uses: tuple[Use, ...] = ()
    routes: tuple[Route, ...] = ()
    consumes: str | None = None  # the queue this function consumes, for queue consumers
    source: str | None = None  # what invokes a worker function: sqs:<queue>, sns:<topic> or events:<rule>
    element: str = "api"  # the spec element it serves (generator.sources): Metadata.msgen.source of its resources

    @property
    def asynchronous(self) -> bool:
        """Invoked asynchronously (by SNS or EventBridge): failed invocations go to the function's own dead-letter queue."""
        return bool(self.source) and not self.source.startswith("sqs:")

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(sorted({u.target for u in self.uses}))


def function_name(route: Route) -> str:
    """micro pattern: a route's function is named after its handler (``payments.create`` -> ``payments-create``)."""
    return route.handler.replace(".", "-").replace("_", "-")


def consumer_name(queue: str) -> str:
    return f"{queue.replace('_', '-')}-consumer"


def handler_name(source: str) -> str:
    """The function a topic or an events rule invokes."""
    return f"{source.replace('_', '-')}-handler"


@dataclass(frozen=True)
class ServicePlan:
    spec: ServiceSpec
    functions: tuple[FunctionPlan, ...]
    kinds: Mapping[str, Kind]  # every name a `uses:` may target -> its kind

    # --- functions -------------------------------------------------------------------
    def function(self, name: str) -> FunctionPlan:
        return next(f for f in self.functions if f.name == name)

    @cached_property
    def api_functions(self) -> tuple[FunctionPlan, ...]:
        return tuple(f for f in self.functions if f.routes)

    @cached_property
    def functions_in_vpc(self) -> tuple[FunctionPlan, ...]:
        """Functions the stack places in its own VPC: those that connect to the database."""
        return tuple(f for f in self.functions if "database" in f.targets)

    # --- uses ------------------------------------------------------------------------
    def kind_of(self, target: str) -> Kind | None:
        return self.kinds.get(target)

    def access(self, uses: tuple[Use, ...]) -> dict[str, set[str]]:
        """``(payments:read, payments:readwrite)`` -> ``{"payments": {"read", "write"}}``, by target name."""
        out: dict[str, set[str]] = {}
        for use in uses:
            kind = self.kinds.get(use.target)
            out.setdefault(use.target, set()).update(kind.levels(use.verb) if kind else (use.verb,))
        return out

    @cached_property
    def container_uses(self) -> tuple[Use, ...]:
        return parse_uses(self.spec.container.uses) if self.spec.container else ()

    @cached_property
    def endpoints_for_uses(self) -> tuple[str, ...]:
        """Interface endpoints the containers and in-VPC functions need for what they use (queues, topics, workflows, e-mail)."""
        uses = [*self.container_uses, *(u for f in self.functions_in_vpc for u in f.uses)]
        return tuple(sorted({k.endpoint for u in uses if (k := self.kinds.get(u.target)) and k.endpoint}))


def _targets(spec: ServiceSpec) -> dict[str, Kind]:
    names: dict[str, Kind] = {}
    for kind in NAMED_KINDS:
        items: object = spec
        for key in kind.section or ():
            items = getattr(items, key)
        for item in items:  # type: ignore[attr-defined]
            names[item.name] = kind
    declared = {"email": spec.messaging.email is not None, "database": spec.database is not None, "events": bool(spec.emits)}
    names.update({name: kind for name, kind in SINGLETONS.items() if declared[name]})
    # Other services of the fleet: a name this spec does not declare, used with an external kind's verb (`catalog-svc:invoke`).
    for _, uses in uses_lists(spec):
        for use in parse_uses(uses):
            if use.verb in EXTERNAL_KINDS and use.target not in names:
                names[use.target] = EXTERNAL_KINDS[use.verb]
    return names


def uses_lists(spec: ServiceSpec) -> Iterator[tuple[tuple, list[str]]]:
    """Every `uses:` list of a validated spec with its path in the spec data (as generator.spec.checks walks the raw data)."""
    for i, route in enumerate(spec.api.routes):
        yield ("api", "routes", i, "uses"), route.uses
    for q, queue in enumerate(spec.messaging.queues):
        if queue.consumer:
            yield ("messaging", "queues", q, "consumer", "uses"), queue.consumer.uses
    if spec.container:
        yield ("container", "uses"), spec.container.uses
    for w, workflow in enumerate(spec.workflows):
        yield ("workflows", w, "uses"), workflow.uses
    for section, items in (("topics", spec.messaging.topics), ("events", spec.messaging.events)):
        for i, item in enumerate(items):
            if item.handler:
                yield ("messaging", section, i, "handler", "uses"), item.handler.uses


def build_plan(spec: ServiceSpec) -> ServicePlan:
    """Which functions the stack has, and what every `uses:` target is.

    serverless: one function serves every route; its rights are the union of the routes' uses.
    hybrid: the same, for the routes with `target: function` (the others run in the container service).
    micro: one function per route, with only that route's uses.
    Then one function per queue consumer, topic handler and events handler, each with only its own uses.
    """
    routes = list(spec.api.routes)
    if spec.pattern == "hybrid":
        routes = [r for r in routes if r.target == "function"]
    functions: list[FunctionPlan] = []
    if spec.pattern == "micro":
        functions = [FunctionPlan(function_name(r), ENTRY_POINT, f"{spec.service}: {r.method} {r.path} ({r.handler})",
                                  parse_uses(r.uses), (r,), element=sources.route(r.method, r.path)) for r in routes]
    elif routes:
        what = "serves every API route" if spec.pattern == "serverless" else "serves the API's function routes"
        functions = [FunctionPlan("api", ENTRY_POINT, f"{spec.service}: {what}", parse_uses([u for r in routes for u in r.uses]),
                                  tuple(routes))]
    for queue in spec.messaging.queues:
        if queue.consumer:
            functions.append(FunctionPlan(
                consumer_name(queue.name), WORKER_ENTRY_POINT, f"{spec.service}: consumes queue {queue.name} ({queue.consumer.handler})",
                parse_uses([*queue.consumer.uses, f"{queue.name}:consume"]), consumes=queue.name, source=f"sqs:{queue.name}",
                element=sources.named("messaging.queues", queue.name) + ".consumer",
            ))
    for kind, items, section in (("sns", spec.messaging.topics, "messaging.topics"), ("events", spec.messaging.events, "messaging.events")):
        for item in items:
            if item.handler:
                functions.append(FunctionPlan(
                    handler_name(item.name), WORKER_ENTRY_POINT,
                    f"{spec.service}: handles {'topic' if kind == 'sns' else 'events rule'} {item.name} ({item.handler.handler})",
                    parse_uses(item.handler.uses), source=f"{kind}:{item.name}", element=sources.named(section, item.name) + ".handler",
                ))
    return ServicePlan(spec, tuple(functions), MappingProxyType(_targets(spec)))


__all__ = ["KINDS", "ENTRY_POINT", "WORKER_ENTRY_POINT", "FunctionPlan", "ServicePlan", "build_plan", "parse_uses",
           "function_name", "consumer_name", "handler_name"]
