"""Staged deploys: a split service whose release touches more resources of nested stacks than CloudFormation allows in
one operation (2,500, quota 'Nested stacks') is deployed as several change sets on its parent stack, each under the
quota (docs/nested-stacks.md, "Deploying past 2,500 resources").

A *stage* is a parent template in which every nested stack is one of

* **final**: its body (``TemplateURL``, ``Parameters``) exactly as in the release's parent template; a nested stack
  reaches this once, in one stage, and is never touched again by the release;
* **kept**: a nested stack that exists already and that the release would change, held as deployed: its deployed
  ``TemplateURL`` and the parameter values it was deployed with (read back with describe_stacks), so CloudFormation
  leaves it alone (a release with a new code artifact changes every nested stack through ``ArtifactKey``);
* **left out**: a nested stack that does not exist yet and whose turn has not come. Leaving it out changes the shape of
  the parent's service-wide resources (dashboard, composite alarms, release role, API deployment, query definition),
  so the stage's parent is synthesized from the spec restricted to the routes whose resources are deployed by then
  (the stack lock keeps every logical ID and stack assignment), and only its nested stack resources are replaced by
  final or kept bodies.

Stages are filled greedily, changed nested stacks before new ones, each in lock order, with the resources of the nested
stacks they create, update or delete (every resource a changed nested stack has before or after the release counts).
Every stage is built and checked before anything is deployed: its references resolve (an output read from a kept
stack is one that stack has), every nested stack that exists stays, and no data resource is lost between stages
(the data-loss guard of msgen diff, stage by stage). The last stage is the release's parent template itself.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from generator.api import NESTED_OPERATION_QUOTA as _QUOTA
from generator.errors import EXIT_FINDINGS, MsgenError
from generator.synth.nesting import nested_stacks

NESTED_OPERATION_QUOTA = _QUOTA  # CloudFormation: resources of nested stacks created, updated or deleted in one operation


class CannotStage(MsgenError):
    """The release passes the nested-stack quota and msgen cannot split it into stages under it (exit 1)."""

    exit_code = EXIT_FINDINGS


@dataclass
class DeployedStack:
    """A nested stack as deployed: its body in the deployed parent, its parameter values, outputs and resources."""

    name: str
    body: dict[str, Any]
    parameters: dict[str, str]
    outputs: set[str]
    resources: set[str]


@dataclass
class Deployed:
    """The deployed parent (its template and parameter values) and its nested stacks."""

    template: dict[str, Any]
    values: dict[str, str]
    stacks: dict[str, DeployedStack] = field(default_factory=dict)


@dataclass
class Stage:
    number: int
    total: int
    text: str  # the parent template of this stage
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    resources: int = 0  # resources of nested stacks this stage creates, updates or deletes

    def describe(self) -> str:
        parts = [f"{verb} {names_text(names)}" for verb, names in
                 (("updating", self.updated), ("creating", self.created), ("deleting", self.deleted)) if names]
        return f"stage {self.number} of {self.total}: {', '.join(parts)} ({self.resources:,} resources)"


def _number(name: str) -> int:
    return int(name.removeprefix("NestedStack")) if name.removeprefix("NestedStack").isdigit() else 10**9


def names_text(names: list[str]) -> str:
    """NestedStack5..NestedStack8 for a consecutive run, else the names separated by commas (runs compressed)."""
    ordered = sorted(names, key=_number)
    runs: list[list[str]] = []
    for n in ordered:
        if runs and _number(n) == _number(runs[-1][-1]) + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(r[0] if len(r) == 1 else f"{r[0]}..{r[-1]}" for r in runs)


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _parameter_refs(body: dict[str, Any], parameters: dict[str, Any]) -> set[str]:
    from generator.synth.nesting import references

    return {n for n, a in references(body.get("Properties", {}), set()) if not a and n in parameters}


def changed(final_body: dict[str, Any], deployed_body: dict[str, Any] | None, final_params: dict[str, Any],
            values: dict[str, str], deployed_values: dict[str, str]) -> bool:
    """Whether a nested stack's body in the release differs from the deployed one: its TemplateURL or parameters as
    written, or the value of a parent parameter it passes on (a new ArtifactKey changes every function)."""
    if deployed_body is None:
        return True
    if final_body.get("Properties") != deployed_body.get("Properties"):
        return True
    for p in _parameter_refs(final_body, final_params):
        default = final_params[p].get("Default") if isinstance(final_params[p], dict) else None
        new = values.get(p, None if default is None else str(default))
        if new != deployed_values.get(p, None if default is None else str(default)):
            return True
    return False


def kept_body(final_body: dict[str, Any], deployed: DeployedStack, values: dict[str, str], new: dict[str, str]) -> dict[str, Any]:
    """A nested stack held as deployed: its deployed TemplateURL (a parent parameter it names whose value changes, such
    as another artifact bucket, written out as deployed: VALUES), and the parameter values the stack was deployed with."""
    body = {k: v for k, v in final_body.items() if k != "Properties"}
    props = dict(deployed.body.get("Properties") or {})
    url = props.get("TemplateURL")
    if isinstance(url, dict) and isinstance(url.get("Fn::Sub"), str):
        text = url["Fn::Sub"]
        for name, value in values.items():
            if new.get(name, value) != value:
                text = text.replace("${" + name + "}", value)
        props["TemplateURL"] = {"Fn::Sub": text} if "${" in text else text
    props["Parameters"] = {k: deployed.parameters[k] for k in sorted(deployed.parameters)}
    body["Properties"] = props
    return body


@dataclass
class Release:
    """What planning needs to know about the release: its parent template (text and data), its nested templates, the
    parameter values msgen passes, and a function that synthesizes the parent restricted to the resources available."""

    text: str
    template: dict[str, Any]
    children: dict[str, dict[str, Any]]  # NestedStackN -> its template (data)
    values: dict[str, str]
    restricted: Callable[[Callable[[str], bool]], dict[str, Any] | None]  # available(logical id) -> parent data (None: all)
    location: Callable[[str], str | None]  # logical id -> "parent" or its nested stack (the lock)
    render: Callable[[dict[str, Any]], str]


def plan(release: Release, deployed: Deployed | None, quota: int, allowed: tuple[str, ...] = ()) -> list[Stage]:
    """The stages of RELEASE over DEPLOYED (None: a first deploy), each touching at most QUOTA resources of nested
    stacks; one stage (the release itself) when it fits. Raises CannotStage when no such plan exists."""
    final = release.template
    fstacks = nested_stacks(final)
    fparams = final.get("Parameters") or {}
    dstacks = deployed.stacks if deployed is not None else {}
    dvalues = deployed.values if deployed is not None else {}
    # a changed stack counts with every resource it has before or after (an update may also delete some)
    size = {n: len(set(release.children[n].get("Resources") or {}) | (dstacks[n].resources if n in dstacks else set())) for n in fstacks}
    todo_update = [n for n in sorted(fstacks, key=_number) if n in dstacks
                   and changed(fstacks[n], dstacks[n].body, fparams, release.values, dvalues)]
    todo_create = [n for n in sorted(fstacks, key=_number) if n not in dstacks]
    gone = [n for n in sorted(dstacks, key=_number) if n not in fstacks]
    gone_size = sum(len(dstacks[n].resources) for n in gone)
    total = sum(size[n] for n in todo_update + todo_create) + gone_size
    if total <= quota:
        return [Stage(1, 1, release.text, todo_create, todo_update, gone, total)]

    # fill stages greedily: updates first, then creations, in lock order
    groups: list[list[str]] = []
    cost = 0
    for n in todo_update + todo_create:
        if size[n] > quota:
            raise CannotStage(f"nested stack {n} alone has {size[n]:,} resources, more than the {quota:,} CloudFormation "
                              "creates or updates in one operation (quota 'Nested stacks')")
        if not groups or cost + size[n] > quota:
            groups.append([])
            cost = 0
        groups[-1].append(n)
        cost += size[n]
    if gone:
        if gone_size > quota:
            raise CannotStage(f"the release deletes nested stacks {names_text(gone)} ({gone_size:,} resources), more than the "
                              f"{quota:,} CloudFormation deletes in one operation (quota 'Nested stacks'); remove fewer routes "
                              "in one release")
        if not groups or cost + gone_size > quota:
            groups.append([])

    stages: list[Stage] = []
    previous = deployed.template if deployed is not None else None
    staged: set[str] = {n for n in fstacks if n in dstacks and n not in todo_update}  # unchanged: final already
    for i, group in enumerate(groups):
        staged |= set(group)
        last = i == len(groups) - 1
        if last:
            text, template = release.text, final
        else:
            template = _stage_template(release, dstacks, dvalues, staged)
            text = release.render(template)
        _check(template, release, dstacks, staged, last)
        if previous is not None:
            _guard(previous, template, allowed, i + 1, len(groups))
        previous = template
        stage = Stage(i + 1, len(groups), text, [n for n in group if n not in dstacks], [n for n in group if n in dstacks],
                      gone if last else [], sum(size[n] for n in group) + (gone_size if last else 0))
        stages.append(stage)
    return stages


def _stage_template(release: Release, dstacks: dict[str, DeployedStack], dvalues: dict[str, str], staged: set[str]) -> dict[str, Any]:
    """The parent of a stage: the restricted parent, its nested stacks final (STAGED) or kept as deployed."""
    final = release.template
    fstacks = nested_stacks(final)

    def available(lid: str) -> bool:
        where = release.location(lid)
        if where is None:
            return False
        if where == "parent" or where in staged:
            return True
        return where in dstacks and lid in dstacks[where].resources

    base = release.restricted(available)
    template = copy.deepcopy(final) if base is None else _plain(base)
    resources: dict[str, Any] = template["Resources"]
    for name in list(nested_stacks(template)):
        if name not in staged and name not in dstacks:
            raise CannotStage(f"the stage would need nested stack {name} before its turn (a resource of another stack "
                              "uses it); report this with the spec (a bug in msgen's staging)")
    for name in sorted(fstacks, key=_number):  # every nested stack that exists stays, kept or final
        if name in staged:
            resources[name] = copy.deepcopy(fstacks[name])
        elif name in dstacks:
            resources[name] = kept_body(fstacks[name], dstacks[name], dvalues, release.values)
    for name in sorted(set(dstacks) - set(fstacks), key=_number):  # the release deletes it: its last stage does
        resources[name] = kept_body(dstacks[name].body, dstacks[name], dvalues, release.values)
    for name in nested_stacks(template):
        deps = resources[name].get("DependsOn")
        if deps is not None:
            deps = [d for d in ([deps] if isinstance(deps, str) else deps) if d in resources]
            body = {k: v for k, v in resources[name].items() if k != "DependsOn"}
            resources[name] = {"Type": body.pop("Type"), **({"DependsOn": deps} if deps else {}), **body}
    return template


def _check(template: dict[str, Any], release: Release, dstacks: dict[str, DeployedStack], staged: set[str], last: bool) -> None:
    """A stage's parent refers only to what it has, and reads from each nested stack only outputs that stack has."""
    from generator.synth.nesting import references

    resources = template.get("Resources") or {}
    params = template.get("Parameters") or {}
    stacks = nested_stacks(template)
    for name in dstacks:
        if (name in nested_stacks(release.template) or not last) and name not in stacks:
            raise CannotStage(f"a stage would delete nested stack {name}; report this with the spec (a bug in msgen's staging)")

    def outputs(stack: str) -> set[str]:
        if stack in staged or last:
            return set(release.children[stack].get("Outputs") or {})
        return dstacks[stack].outputs

    def walk(value: Any, where: str) -> None:
        for name, attr in references(value, set()):
            if name in params or name in resources:
                if name in stacks and attr.startswith("Outputs."):
                    if attr.removeprefix("Outputs.") not in outputs(name):
                        raise CannotStage(f"a stage's {where} reads {name}.{attr}, which {name} as deployed in that stage does not "
                                          "have; report this with the spec (a bug in msgen's staging)")
                continue
            raise CannotStage(f"a stage's {where} refers to {name}, which that stage does not have; report this with the spec "
                              "(a bug in msgen's staging)")

    for lid, r in resources.items():
        walk({k: v for k, v in r.items() if k != "DependsOn"}, lid)
        deps = r.get("DependsOn")
        for d in [deps] if isinstance(deps, str) else deps or []:
            if d not in resources:
                raise CannotStage(f"a stage's {lid} depends on {d}, which that stage does not have; report this with the spec "
                                  "(a bug in msgen's staging)")
    for name, body in (template.get("Outputs") or {}).items():
        walk(body, f"output {name}")


def _guard(previous: dict[str, Any], template: dict[str, Any], allowed: tuple[str, ...], number: int, total: int) -> None:
    from generator import diff as differ

    lost = [r.logical_id for r in differ.compare(previous, template).unallowed(allowed)]
    if lost:
        raise CannotStage(f"stage {number} of {total} would lose data in {', '.join(lost)}; nothing was changed. Report this "
                          "with the spec (a bug in msgen's staging)")


def restricted_parents(loaded: Any, env: str | None, lock: Any) -> Callable[[Callable[[str], bool]], dict[str, Any] | None]:
    """A function giving the parent template of LOADED's ENV synthesized from its spec restricted to the routes whose
    API method and what the method refers to (its function's alias, its path parts) are available; None when every
    route is. The lock places every resource, so logical IDs and stacks are those of the full release."""
    from generator import naming
    from generator.synth import nesting
    from generator.synth.pipeline import build_template, render

    spec = loaded.spec.for_environment(env) if env else loaded.spec
    needs: list[tuple[Any, set[str]]] = []

    def routes() -> list[tuple[Any, set[str]]]:
        if not needs and spec.api is not None:
            full = build_template(spec, check=False)["Resources"]
            for route in spec.api.routes:
                mid = naming.method_id(route.method, route.path)
                refs = {n for n, _ in nesting.references(full.get(mid, {}), set()) if n in full}
                needs.append((route, {mid, *refs} if mid in full else set()))
        return needs

    def restricted(available: Callable[[str], bool]) -> dict[str, Any] | None:
        every = routes()
        keep = [route for route, lids in every if all(available(lid) for lid in lids)]
        if len(keep) == len(every):
            return None
        if not keep:
            raise CannotStage("no route of the service is deployed yet outside the nested stacks, so msgen cannot build a first "
                              "stage; report this with the spec")
        sub = spec.model_copy(update={"api": spec.api.model_copy(update={"routes": keep})})
        data = build_template(sub, check=False)
        where = nesting.place(data, lock.copy())
        return json.loads(nesting.split(data, where, spec.service, render, "json").parent)

    return restricted
