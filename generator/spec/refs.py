"""What a service spec refers to outside itself: the fleet's view of one service.

``service_refs(spec)`` lists the other services it calls (``uses: ["<service>:invoke"]`` or one route,
``"<service>:invoke:GET /orders/{id}"``), the events it emits (top-level ``emits:``) and the events it listens
for on the fleet's bus (``messaging.events[]`` with ``bus: fleet``: one :class:`Listen` per source and
detail-type of the rule's pattern). Every reference carries ``where``, its path in the spec data, which
:class:`generator.spec.loader.Located` turns into ``file:line:col``.

A spec stays valid on its own: whether the callee exists, has the route and serves it with IAM auth, and
whether someone emits what a rule listens for, is checked at fleet level (generator.fleet).

This module imports neither troposphere nor the synth package.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from generator.kinds import EXTERNAL_KINDS, Use
from generator.plan import _targets, uses_lists
from generator.spec.models import ServiceSpec

FLEET_BUS = "fleet"  # messaging.events[].bus that means the fleet's bus


@dataclass(frozen=True)
class Call:
    """A call to another service's API: every route (``method`` and ``path`` None) or one route."""

    service: str
    method: str | None
    path: str | None
    where: tuple = field(compare=False)

    @property
    def whole_api(self) -> bool:
        return self.method is None


@dataclass(frozen=True)
class Listen:
    """An event a rule on the fleet's bus listens for: its ``source`` (the emitting service) and ``detail_type``."""

    source: str
    detail_type: str
    where: tuple = field(compare=False)


@dataclass(frozen=True)
class ServiceRefs:
    calls: list[Call]
    emits: list[str]
    listens: list[Listen]

    @property
    def callees(self) -> list[str]:
        """The services this one calls, sorted, each once."""
        return sorted({c.service for c in self.calls})


def _local_names(spec: ServiceSpec) -> set[str]:
    return {name for name, kind in _targets(spec).items() if not kind.external}


def _calls(spec: ServiceSpec) -> list[Call]:
    local = _local_names(spec)
    calls = []
    for path, uses in uses_lists(spec):
        for u, text in enumerate(uses):
            use = Use.parse(text)
            if use.verb not in EXTERNAL_KINDS or use.target in local:
                continue
            method, _, route = use.detail.partition(" ")
            calls.append(Call(use.target, method or None, route or None, (*path, u)))
    return calls


def _strings(value: object) -> list[tuple[int | None, str]]:
    """A pattern's value: a list of strings (with their index) or one string."""
    if isinstance(value, str):
        return [(None, value)]
    if isinstance(value, list):
        return [(i, v) for i, v in enumerate(value) if isinstance(v, str)]
    return []


def _listens(spec: ServiceSpec) -> list[Listen]:
    listens = []
    for e, rule in enumerate(spec.messaging.events):
        if rule.bus != FLEET_BUS or not rule.pattern:
            continue
        where = ("messaging", "events", e, "pattern")
        sources = _strings(rule.pattern.get("source"))
        types = _strings(rule.pattern.get("detail-type"))
        for s, source in sources:
            for t, detail_type in types:
                # located at the detail-type (what fleet validation reports: an event nobody emits)
                at = (*where, "detail-type") + ((t,) if t is not None else ())
                listens.append(Listen(source, detail_type, at if s is not None or t is not None else where))
    return listens


def service_refs(spec: ServiceSpec) -> ServiceRefs:
    """The calls, emitted events and fleet-bus listens of one validated spec, in spec order."""
    return ServiceRefs(calls=_calls(spec), emits=list(spec.emits), listens=_listens(spec))


__all__ = ["Call", "Listen", "ServiceRefs", "service_refs", "uses_lists", "FLEET_BUS"]
