"""What the layers give each other while one template is built, typed; and the order that follows from it.

Each step of the pipeline (a layer's ``build``, or a pass such as the bucket policies) is declared with
:func:`layer`: the :class:`Registry` fields it ``provides`` (creates, fills or amends) and the ones it
``needs`` (reads). :func:`order` derives the order of the steps from those declarations: a step runs after
every other step that provides what it needs; ties keep the order the steps are listed in, which is also
the order of the resources in the template. While a step runs it sees the registry through a guard that
refuses any field it did not declare, so the declarations cannot drift from the code.

A layer refers to another layer's resources only through the registry (``reg.functions[name]``,
``reg.rest_api.title``), never by spelling its logical ID.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from troposphere import AWSObject, Parameter


@dataclass
class LogGroups:
    """Every log group of the stack, in creation order; and those holding a component's application logs."""

    all: list[AWSObject] = field(default_factory=list)
    app: dict[str, AWSObject] = field(default_factory=dict)  # function name, or "container" -> its log group

    def add(self, group: AWSObject, app: str | None = None) -> AWSObject:
        """Register a log group; ``app`` names the component whose JSON application logs it holds (metric filter, alarm, widget)."""
        self.all.append(group)
        if app is not None:
            self.app[app] = group
        return group


@dataclass
class DeadLetterQueues:
    """Where failures are kept, by what failed."""

    queues: dict[str, AWSObject] = field(default_factory=dict)  # queue name -> its redrive queue
    functions: dict[str, AWSObject] = field(default_factory=dict)  # asynchronous function name -> its dead-letter queue
    rules: dict[str, AWSObject] = field(default_factory=dict)  # events rule name -> its dead-letter queue
    subscriptions: dict[str, dict[str, AWSObject]] = field(default_factory=dict)  # topic -> subscribed queue -> dead-letter queue


class ResourcePolicies:
    """Statements of one kind of resource policy (queue or bucket), gathered from every layer, emitted by one late pass."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[AWSObject, list[dict]]] = {}

    def add(self, resource: AWSObject, *statements: dict) -> None:
        self._entries.setdefault(resource.title, (resource, []))[1].extend(statements)

    def __iter__(self) -> Iterator[tuple[AWSObject, list[dict]]]:
        return iter(self._entries.values())


@dataclass(frozen=True)
class Artifact:
    """The template parameters naming the function code zip."""

    bucket: Parameter
    key: Parameter


@dataclass
class Network:
    """The VPC the stack's containers, database and database-using functions run in (its own, or network.vpc_id's)."""

    vpc: Any  # Ref of the stack's VPC, or the spec's vpc id
    subnets: list[Any]
    function_security_group: AWSObject | None = None  # functions that use the database


@dataclass(frozen=True)
class Database:
    cluster: AWSObject
    security_group: AWSObject
    writer: AWSObject  # the writer instance (AWS's instance-level metrics name it)


@dataclass(frozen=True)
class Containers:
    """The hybrid pattern's container service and the private path API Gateway takes to it."""

    service: AWSObject
    cluster: AWSObject
    load_balancer: AWSObject
    target_group: AWSObject
    vpc_link: AWSObject
    listener_scheme: str  # "http" or "https"


@dataclass(frozen=True)
class Principal:
    """The role a function or the container service acts with, and whether that code runs in the stack's VPC."""

    role: AWSObject
    in_vpc: bool


@dataclass
class Release:
    """How one function is released: the version published from the artifact, the alias callers invoke, its deployment group."""

    version: AWSObject
    alias: AWSObject
    group: AWSObject  # CodeDeploy deployment group shifting the alias's traffic (the alarm pass adds its rollback alarms)


@dataclass(frozen=True)
class RegisteredAlarm:
    alarm: AWSObject
    health: bool  # part of the composite "health" alarm
    condition: str | None = None


@dataclass
class Registry:
    """Everything a layer makes that another one uses, by kind. A field is ``None`` or empty when the spec has none."""

    key: AWSObject | None = None  # the service's KMS key
    artifact: Artifact | None = None
    access_logs: AWSObject | None = None  # the bucket receiving S3 and CloudFront access logs
    tables: dict[str, AWSObject] = field(default_factory=dict)
    buckets: dict[str, AWSObject] = field(default_factory=dict)
    queues: dict[str, AWSObject] = field(default_factory=dict)
    topics: dict[str, AWSObject] = field(default_factory=dict)
    email_identity: AWSObject | None = None
    workflows: dict[str, AWSObject] = field(default_factory=dict)
    event_rules: dict[str, AWSObject] = field(default_factory=dict)
    functions: dict[str, AWSObject] = field(default_factory=dict)
    principals: dict[str, Principal] = field(default_factory=dict)  # "function:<name>" or "container" -> its role
    releases: dict[str, Release] = field(default_factory=dict)  # function name -> its alias (what every caller invokes)
    collections: dict[str, AWSObject] = field(default_factory=dict)  # OpenSearch Serverless collections by name
    log_groups: LogGroups = field(default_factory=LogGroups)
    dead_letter_queues: DeadLetterQueues = field(default_factory=DeadLetterQueues)
    queue_policies: ResourcePolicies = field(default_factory=ResourcePolicies)
    bucket_policies: ResourcePolicies = field(default_factory=ResourcePolicies)
    network: Network | None = None
    database: Database | None = None
    containers: Containers | None = None
    rest_api: AWSObject | None = None
    api_stage: AWSObject | None = None
    site_bucket: AWSObject | None = None
    distribution: AWSObject | None = None
    alarm_topic: AWSObject | None = None
    alarms: list[RegisteredAlarm] = field(default_factory=list)


FIELDS = frozenset(f.name for f in fields(Registry))


class HasRegistry(Protocol):
    """What a step runs on (generator.synth.context.Context, which this module does not import): here only its registry matters."""

    reg: Registry

    def sourced(self, source: str) -> AbstractContextManager[None]: ...


class UndeclaredAccess(RuntimeError):
    """A step touched a registry field it did not declare (a bug in msgen, not in the spec)."""


class LayerOrderError(RuntimeError):
    """The steps' declarations admit no order: a need nothing provides, or a cycle."""


@dataclass(frozen=True, eq=False)
class Step:
    """One step of the pipeline and what it declares; calling it runs it against a guarded view of the registry."""

    name: str
    run: Callable[[Any], None]
    provides: frozenset[str]
    needs: frozenset[str]
    source: str = "service"  # Metadata.msgen.source of what the step adds, unless it says otherwise (generator.sources)

    def __post_init__(self) -> None:
        unknown = (self.provides | self.needs) - FIELDS
        if unknown:
            raise LayerOrderError(f"step {self.name} declares unknown registry fields: {', '.join(sorted(unknown))}")

    def __call__(self, ctx: HasRegistry) -> None:
        full = ctx.reg
        ctx.reg = _Guard(full, self)  # type: ignore[assignment]
        try:
            with ctx.sourced(self.source):
                self.run(ctx)
        finally:
            ctx.reg = full


def layer(provides: Iterable[str] = (), needs: Iterable[str] = (), name: str | None = None,
          source: str = "service") -> Callable[[Callable[[Any], None]], Step]:
    """Declare a pipeline step: ``@layer(provides={"tables"}, needs={"key"})`` over ``def build(ctx)``.

    A step that amends what another one provides (the API stage's DependsOn, for one) both needs and provides it.
    """

    def wrap(run: Callable[[Any], None]) -> Step:
        return Step(name or f"{run.__module__.rpartition('.')[2]}.{run.__name__}", run, frozenset(provides), frozenset(needs), source)

    return wrap


class _Guard:
    """The registry as one step sees it: only the fields it declared."""

    __slots__ = ("_registry", "_step")

    def __init__(self, registry: Registry, step: Step) -> None:
        object.__setattr__(self, "_registry", registry)
        object.__setattr__(self, "_step", step)

    def __getattr__(self, name: str) -> Any:
        step = self._step
        if name in FIELDS and name not in step.provides | step.needs:
            raise UndeclaredAccess(f"step {step.name} reads registry field '{name}' without declaring it in needs or provides")
        return getattr(self._registry, name)

    def __setattr__(self, name: str, value: Any) -> None:
        step = self._step
        if name not in step.provides:
            raise UndeclaredAccess(f"step {step.name} sets registry field '{name}' without declaring it in provides")
        setattr(self._registry, name, value)


def order(steps: Iterable[Step]) -> tuple[Step, ...]:
    """The steps in an order where each runs after every other step providing what it needs.

    Stable: among the steps that may run next, the one listed first runs first, so a list that already
    satisfies every need comes back unchanged. Fails on a need no step provides and on a cycle.
    """
    listed = list(steps)
    providers: dict[str, list[Step]] = {}
    for step in listed:
        for name in step.provides:
            providers.setdefault(name, []).append(step)
    after: dict[Step, set[Step]] = {}
    for step in listed:
        missing = sorted(n for n in step.needs if not any(p is not step for p in providers.get(n, ())))
        if missing:
            raise LayerOrderError(f"step {step.name} needs {', '.join(missing)}, which no step provides")
        after[step] = {p for n in step.needs for p in providers.get(n, ()) if p is not step}
    done: list[Step] = []
    while len(done) < len(listed):
        ready = next((s for s in listed if s not in done and after[s] <= set(done)), None)
        if ready is None:
            stuck = [s.name for s in listed if s not in done]
            raise LayerOrderError(f"the steps {', '.join(stuck)} need each other's results: no order satisfies them")
        done.append(ready)
    return tuple(done)
