"""The fleet as a graph: who calls whom, who listens to whose events, and the order to deploy them in.

A caller resolves its callee's API id and URL from SSM (/msgen/<env>/<callee>/api-id, api-url) when its stack is
deployed, so a callee is deployed before its callers. Events need no order: every service's rules and grants
point at the fleet bus, which the fleet stack creates first. Calls that form a cycle cannot be ordered; the
cycle is reported with how to bootstrap it (:func:`cycle_help`).
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.errors import MsgenError


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str


@dataclass(frozen=True)
class FleetGraph:
    services: list[str]  # in the fleet file's order
    patterns: dict[str, str]
    calls: list[Edge]  # caller -> callee, label: the routes called ("all routes" for the whole API)
    events: list[Edge]  # emitter -> listener, label: the detail-type

    def callees(self, name: str) -> list[str]:
        return sorted({e.target for e in self.calls if e.source == name})


class CallCycle(MsgenError):
    """Services call each other in a cycle: no order deploys every callee before its callers."""

    def __init__(self, cycle: list[str], env: str | None = None):
        self.cycle = cycle
        super().__init__(cycle_help(cycle, env))


def build_graph(loaded_fleet) -> FleetGraph:
    services = list(loaded_fleet.services)
    calls: dict[tuple[str, str], list[str]] = {}
    for caller in services:
        for call in loaded_fleet.refs[caller].calls:
            routes = calls.setdefault((caller, call.service), [])
            what = f"{call.method or 'ANY'} {call.path}" if call.path else (call.method or "all routes")
            if what not in routes:
                routes.append(what)
    emitters: dict[str, list[str]] = {}
    for name in services:
        for detail_type in loaded_fleet.refs[name].emits:
            emitters.setdefault(str(detail_type), []).append(name)
    events: list[Edge] = []
    for listener in services:
        for listen in loaded_fleet.refs[listener].listens:
            edge = Edge(listen.source, listener, listen.detail_type)
            if edge not in events:
                events.append(edge)
    patterns = {name: loaded.spec.pattern for name, loaded in loaded_fleet.services.items()}
    call_edges = [Edge(a, b, ", ".join(sorted(r))) for (a, b), r in sorted(calls.items(), key=lambda kv: (services.index(kv[0][0]), kv[0][1]))]
    return FleetGraph(services, patterns, call_edges, sorted(events, key=lambda e: (services.index(e.source), e.label, e.target)))


def deploy_order(graph: FleetGraph) -> list[str]:
    """Callees before their callers; among services free to go, the fleet file's order. Raises CallCycle."""
    remaining = {name: set(graph.callees(name)) - {name} for name in graph.services}
    order: list[str] = []
    while remaining:
        ready = [name for name in graph.services if name in remaining and not remaining[name]]
        if not ready:
            raise CallCycle(find_cycle(remaining))
        for name in ready:
            order.append(name)
            del remaining[name]
        for deps in remaining.values():
            deps.difference_update(ready)
    return order


def find_cycle(deps: dict[str, set[str]]) -> list[str]:
    """One cycle among DEPS (name -> names it calls), as [a, b, ..., a]; deterministic."""
    for start in sorted(deps):
        path, seen = [start], {start}
        node = start
        while True:
            nxt = sorted(d for d in deps.get(node, ()) if d in deps)
            if not nxt:
                break
            node = nxt[0]
            if node in seen:
                return path[path.index(node):] + [node]
            path.append(node)
            seen.add(node)
    return sorted(deps)  # pragma: no cover - a set left without a ready member always holds a cycle


def cycle_help(cycle: list[str], env: str | None = None) -> str:
    """What to do about a call cycle: the SSM parameters each caller resolves must exist before its stack deploys."""
    e = env or "<env>"
    chain = " -> ".join(cycle)
    first = cycle[0]
    caller_of_first = cycle[-2]
    return (f"services call each other in a cycle ({chain}): no order deploys every callee before its callers, and each caller's "
            f"stack resolves its callee's /msgen/{e}/<callee>/api-id and api-url from SSM when it deploys. To bootstrap it, deploy "
            f"one service of the cycle first without its call (e.g. {caller_of_first} without `uses: [\"{first}:invoke\"]`), or "
            f"create its callee's parameters by hand first (aws ssm put-parameter --type String --name /msgen/{e}/{first}/api-id "
            f"--value PLACEHOLDER, and /msgen/{e}/{first}/api-url), then deploy the cycle and deploy {caller_of_first} again once "
            f"{first} has published the real values. Better: break the cycle with an event instead of a call.")


def mermaid(graph: FleetGraph, fleet_name: str, order: list[str] | None) -> str:
    """The fleet as a Mermaid flowchart: services (with their pattern), calls (solid), events (dotted, with the
    detail-type), and the deploy order as a comment and a numbered label on each service."""
    ids = {name: "s_" + name.replace("-", "_") for name in graph.services}
    step = {name: i + 1 for i, name in enumerate(order or [])}
    lines = ["flowchart LR", f"  %% fleet {fleet_name}: solid arrows are calls (caller --> callee), dotted arrows events (emitter -.-> listener)"]
    if order:
        lines.append(f"  %% deploy order: fleet stack, then {', '.join(order)}")
    else:
        lines.append("  %% deploy order: none (the services call each other in a cycle)")
    for name in graph.services:
        prefix = f"{step[name]}. " if name in step else ""
        lines.append(f'  {ids[name]}["{prefix}{name}<br/>{graph.patterns[name]}"]')
    for e in graph.calls:
        lines.append(f'  {ids[e.source]} -->|"{_text(e.label)}"| {ids[e.target]}')
    for e in graph.events:
        if e.source in ids:
            lines.append(f'  {ids[e.source]} -.->|"{_text(e.label)}"| {ids[e.target]}')
    return "\n".join(lines) + "\n"


def _text(label: str) -> str:
    return label.replace('"', "#quot;")
