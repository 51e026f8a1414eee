"""Read a fleet file and every service spec it lists; check the fleet as a whole.

Every problem is located where it is written (``FILE:LINE:COL: path: message``) and all of them are reported
in one run, as one :class:`~generator.errors.SpecError`: the fleet file's own (YAML, model), each spec's own
(in the spec's file), and the rules across files:

- a spec listed twice, two specs naming the same service, a spec that is missing or cannot be read;
- an environment of the fleet that a service lacks;
- a call to a service that is not in the fleet, to a route the callee does not have, or to routes whose auth
  is not ``iam`` (callers sign with SigV4);
- an event a service listens for on the fleet bus that its source does not emit, or whose source is not a
  service of the fleet.

A service emits only under its own name (its PutEvents grant pins ``events:source`` to it), so the one way for a
service to emit as another's source is two specs naming the same service, which is an error here.

An event that a service emits and nobody listens for is a warning (:attr:`LoadedFleet.warnings`), not an error.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator.errors import InputError, Issue, SpecError

if TYPE_CHECKING:
    from generator.api import LoadedSpec
    from generator.fleet.model import Fleet
    from generator.spec.loader import Located

# parse_located speaks of "a spec"; in a fleet file's messages it is a fleet file.
_WORDING = (
    ("a spec needs at least 'service', 'team' and 'api'", "a fleet file needs at least 'name', 'owner', 'environments' and 'services'"),
    ("the top level of a spec must be", "the top level of a fleet file must be"),
    ("a spec is exactly one", "a fleet file is exactly one"),
    ("a spec may be at most", "a fleet file may be at most"),
    ("not supported in a spec", "not supported in a fleet file"),
)


@dataclass(frozen=True)
class LoadedFleet:
    """A fleet file and its services, all validated: what every ``msgen fleet`` command works on."""

    fleet: Fleet
    path: Path
    display: str  # how messages name the fleet file
    located: Located
    services: dict[str, LoadedSpec]  # by service name, in the order the fleet file lists them
    refs: dict[str, Any]  # by service name: generator.spec.refs.ServiceRefs (calls, emits, listens)
    warnings: list[Issue] = field(default_factory=list)

    @property
    def directory(self) -> Path:
        return self.path.parent


def _fleet_wording(issue: Issue) -> Issue:
    message = issue.message
    for old, new in _WORDING:
        message = message.replace(old, new)
    return Issue(issue.file, issue.line, issue.column, issue.path, message)


def load_fleet(path: str | os.PathLike[str]) -> LoadedFleet:
    """Read, validate and cross-check FLEET and its services. Raises SpecError (every problem, located) or InputError."""
    from generator.fleet.model import Fleet
    from generator.spec.loader import decode_spec, parse_located, read_spec_bytes

    fleet_path = Path(path)
    display = str(path)
    try:
        located = parse_located(decode_spec(read_spec_bytes(fleet_path, display), display), display)
    except SpecError as exc:
        raise SpecError([_fleet_wording(i) for i in exc.issues]) from None
    issues: list[Issue] = []
    model: Fleet | None = None
    data = located.data
    try:
        model = Fleet.model_validate(data)
    except Exception as exc:  # pydantic.ValidationError (pydantic is imported lazily)
        from pydantic import ValidationError

        if not isinstance(exc, ValidationError):
            raise
        issues += _model_issues(located, exc)

    services, spec_issues = _load_services(located, fleet_path)
    issues += spec_issues
    # a listed spec that could not be loaded: a reference to a service the fleet does not know may be to that one,
    # so it is not reported again (its cause is)
    complete = not spec_issues
    environments = _strings(data.get("environments"))
    issues += _environment_issues(located, environments, services)
    refs: dict[str, Any] = {}
    warnings: list[Issue] = []
    if services:
        from generator.spec.refs import service_refs

        refs = {name: service_refs(loaded.spec) for name, loaded in services.items()}
        found, warnings = check_references(services, refs, str(data.get("name", "")) if isinstance(data.get("name"), str) else "",
                                           complete=complete, environments=[e for _, e in environments])
        issues += found
    if issues:
        raise SpecError(issues)
    assert model is not None
    return LoadedFleet(model, fleet_path, display, located, services, refs, sorted(set(warnings)))


def _strings(value: Any) -> list[tuple[int, str]]:
    return [(i, v) for i, v in enumerate(value) if isinstance(v, str)] if isinstance(value, list) else []


def _model_issues(located: Located, exc: Any) -> list[Issue]:
    from generator.fleet.model import EMAIL_RE, SPEC_PATH_RE
    from generator.spec.loader import dotted
    from generator.spec.validate import _message

    help_for = {SPEC_PATH_RE: "a service is the path of its spec file, relative to the fleet file, ending in .yaml or .yml",
                EMAIL_RE: "expected an e-mail address (name@example.com)"}
    out = []
    for err in exc.errors(include_url=False):
        path = tuple(err["loc"])
        pattern = (err.get("ctx") or {}).get("pattern") if err["type"] == "string_pattern_mismatch" else None
        if pattern in help_for:
            out.append(located.issue(path, f"{err['input']!r} is not valid: {help_for[pattern]}"))
        elif err["type"] == "missing":
            line, col = located.position(path[:-1])
            out.append(Issue(located.file, line, col, dotted(path), "required key is missing"))
        else:
            out.append(located.issue(path, _message(err), key=err["type"] == "extra_forbidden"))
    return out


def _load_services(located: Located, fleet_path: Path) -> tuple[dict[str, LoadedSpec], list[Issue]]:
    """Every listed spec that can be loaded, by service name; problems located in the fleet file or in the spec."""
    from generator import api

    issues: list[Issue] = []
    services: dict[str, LoadedSpec] = {}
    where_of: dict[str, int] = {}  # service name -> index in services:
    seen: dict[Path, int] = {}
    base = fleet_path.parent
    from generator.fleet.model import SPEC_PATH_RE

    for i, entry in _strings(located.data.get("services")):
        at = ("services", i)
        if not re.match(SPEC_PATH_RE, entry):
            continue  # the model says what is wrong with it
        if os.path.isabs(entry):
            issues.append(located.issue(at, f"'{entry}' is an absolute path; list specs relative to the fleet file"))
            continue
        spec_path = Path(os.path.normpath(base / entry))
        try:
            key = spec_path.resolve()
        except (OSError, RuntimeError):
            key = spec_path
        if key in seen:
            issues.append(located.issue(at, f"'{entry}' is listed twice (also services[{seen[key]}]); list each service once"))
            continue
        seen[key] = i
        if not spec_path.exists():
            issues.append(located.issue(at, f"no such file: {spec_path}"))
            continue
        if not spec_path.is_file():
            issues.append(located.issue(at, f"{spec_path} is not a spec file (a directory?)"))
            continue
        try:
            loaded = api.load_spec(spec_path)
        except SpecError as exc:
            issues += exc.issues
            continue
        except InputError as exc:
            issues.append(located.issue(at, f"cannot read the spec: {exc}"))
            continue
        name = loaded.spec.service
        if name in services:
            other = services[name]
            issues.append(located.issue(at, f"{loaded.display} names service '{name}', as {other.display} (services[{where_of[name]}]) "
                                            "does; each service of a fleet needs its own name (it is the source of its events and the path of its SSM parameters)"))
            continue
        services[name] = loaded
        where_of[name] = i
    return services, issues


def _environment_issues(located: Located, environments: list[tuple[int, str]], services: dict[str, LoadedSpec]) -> list[Issue]:
    issues = []
    for k, env in environments:
        lacking = [name for name, loaded in services.items() if env not in loaded.spec.environment_names]
        for name in lacking:
            have = ", ".join(services[name].spec.environment_names)
            issues.append(located.issue(("environments", k), f"'{env}' is not an environment of {name} ({services[name].display}; "
                                                              f"its environments: {have}); every fleet environment must be one of every service's"))
    return issues


def _route_auth(spec: Any, route: Any) -> str:
    return route.auth or spec.api.auth


def _route_name(route: Any) -> str:
    return f"{route.method} {route.path}"


def _overrides_api(loaded: LoadedSpec, env: str) -> bool:
    """Whether ENV's overrides of this spec change its API (its routes or their auth may differ there)."""
    overrides = loaded.located.data.get("environments") if isinstance(loaded.located.data, dict) else None
    return isinstance(overrides, dict) and isinstance(overrides.get(env), dict) and "api" in overrides[env]


def _call_problem(call: Any, spec: Any, display: str) -> str | None:
    """What is wrong with CALL to the service SPEC describes: a route it lacks, or routes a signed call cannot reach."""
    routes = spec.api.routes
    if call.path is not None or call.method is not None:
        matched = [r for r in routes if (call.path is None or r.path == call.path) and (call.method is None or r.method in (call.method, "ANY"))]
        if not matched:
            wanted = f"{call.method or '*'} {call.path or '*'}"
            return f"{call.service} has no route {wanted} (its routes: {', '.join(_route_name(r) for r in routes)})"
    else:
        matched = list(routes)
    not_iam = [r for r in matched if _route_auth(spec, r) != "iam"]
    if not not_iam:
        return None
    listed = ", ".join(f"{_route_name(r)} (auth {_route_auth(spec, r)})" for r in not_iam)
    iam = [r for r in matched if _route_auth(spec, r) == "iam"]
    hint = f"name the routes you call (e.g. {call.service}:invoke:{_route_name(iam[0])}) or " if iam else ""
    return (f"calls {call.service} routes whose auth is not iam: {listed}; callers sign their requests (SigV4), so {hint}"
            f"set auth: iam on those routes in {display}")


def check_references(services: dict[str, LoadedSpec], refs: dict[str, Any], fleet_name: str = "",
                     complete: bool = True, environments: list[str] | tuple[str, ...] = ()) -> tuple[list[Issue], list[Issue]]:
    """The calls and events between SERVICES: (errors, warnings), each located in the spec that declares it.

    With ``complete`` false (a listed spec could not be loaded), references to services not in SERVICES are left
    alone, and so are warnings: the missing spec may be the one they refer to."""
    errors: list[Issue] = []
    warnings: list[Issue] = []
    names = ", ".join(services)
    fleet = f"fleet '{fleet_name}'" if fleet_name else "the fleet"
    for caller, loaded in services.items():
        for call in refs[caller].calls:
            where = tuple(call.where)
            callee = services.get(call.service)
            if call.service == caller:
                errors.append(loaded.located.issue(where, f"'{caller}' calls itself through its API; call the code directly"))
                continue
            if callee is None:
                if not complete:
                    continue
                errors.append(loaded.located.issue(where, f"calls '{call.service}', which is not a service of {fleet} (its services: {names})"))
                continue
            variants = [("", callee.spec)] + [(f"in environment {env}, ", callee.spec.for_environment(env))
                                               for env in environments if _overrides_api(callee, env)]
            for prefix, spec in variants:
                problem = _call_problem(call, spec, callee.display)
                if problem:
                    errors.append(loaded.located.issue(where, prefix + problem))
                    break
    emitted: dict[tuple[str, str], bool] = {}  # (source, detail-type) -> listened to
    for name in services:
        for detail_type in refs[name].emits:
            emitted[(name, detail_type)] = False  # source: the service's own name (its grant pins events:source to it)
    for consumer, loaded in services.items():
        for listen in refs[consumer].listens:
            where = tuple(listen.where)
            if listen.source not in services:
                if not complete:
                    continue
                errors.append(loaded.located.issue(where, f"listens for {listen.detail_type} from '{listen.source}', which is not a "
                                                          f"service of {fleet} (its services: {names})"))
                continue
            if (listen.source, listen.detail_type) not in emitted:
                theirs = [d for s, d in emitted if s == listen.source]
                others = [s for s, d in emitted if d == listen.detail_type]
                hint = f"; {', '.join(others)} emit{'s' if len(others) == 1 else ''} it" if others else ""
                errors.append(loaded.located.issue(where, f"listens for {listen.detail_type} from {listen.source}, which does not emit it "
                                                          f"(it emits: {', '.join(theirs) or 'nothing'}){hint}"))
                continue
            emitted[(listen.source, listen.detail_type)] = True
    for (source, detail_type), heard in emitted.items():
        if not heard and complete:
            loaded = services[source]
            listed = loaded.located.data.get("emits") if isinstance(loaded.located.data, dict) else None
            where: tuple = ("emits", listed.index(detail_type)) if isinstance(listed, list) and detail_type in listed else ("emits",)
            warnings.append(loaded.located.issue(where, f"no service of {fleet} listens for {detail_type} from {source}"))
    return errors, warnings
