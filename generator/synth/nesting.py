"""Nested stacks: a service past CloudFormation's per-template quotas becomes a parent stack and nested stacks.

When a service's single template would pass a quota (500 resources, 200 outputs, 200 parameters, or 1 MB of body
from S3), msgen splits it by one deterministic rule (docs/nested-stacks.md):

* A *unit* is everything of one function: the resources whose logical ID starts with the function's (its role and
  policies, its log group and metric filter, its alarms, version, alias, CodeDeploy deployment group, permissions,
  event source mappings), the API Gateway methods that integrate it, and the API Gateway resources (path parts)
  that its methods are the first in the template to hang under. A function's log group lives with its function.
* Everything that holds data (tables, buckets, the database, the KMS key, queues, topics, collections, secrets) and
  everything shared (the REST API, its stage and deployment, the release application and role, the dashboard, the
  alarm topic, composite alarms, query definitions) stays in the parent, whatever its name.
* Units keep their logical IDs; a unit goes whole into one stack. On the first split (no lock yet) the parent keeps,
  in template order, the units that fit while it stays at or under 450 resources and about 600 kB (or, when msgen is given the
  single template committed before, exactly the units that template held, so a deployed service moves nothing);
  the others fill nested stacks ``NestedStack1``, ``NestedStack2``... in template order, each up to 80% of every
  quota (400 resources, 160 outputs, 160 parameters, 800 kB), so units can grow in later msgen versions.
* Later, a new unit goes into the last nested stack while it stays within those 80%, else into a new stack; units
  and resources already placed stay where the lock (generator.stacklock) says, whatever the rule would say now.
  msgen refuses, saying why, when that cannot hold: a data resource the lock places in a nested stack, a stack past
  a quota, or stacks that would depend on each other in a cycle.

The parent wires the stacks itself: a nested stack gets a parameter for each parent parameter or resource attribute
it uses (``ProductsTable``, ``ServiceKeyArn``, ``RestApi``...), and an output for each of its own values that the
parent or another nested stack uses (passed on as ``!GetAtt NestedStackN.Outputs.X``). A template output that names
only one nested stack's resources (a function's name) moves to that stack's outputs. A ``DependsOn`` across stacks
becomes a dependency of the nested stack resource (the API deployment depends on the stacks holding methods). Each
nested stack's ``TemplateURL`` is content-addressed in the artifact bucket (``<service>/templates/<sha256>.<ext>``),
where ``msgen deploy`` uploads it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from generator import __version__
from generator.errors import SynthError
from generator.stacklock import PARENT, StackLock

NESTED_TYPE = "AWS::CloudFormation::Stack"
HARD = {"Resources": 500, "Outputs": 200, "Parameters": 200}
MAX_BYTES = 1_000_000
FILL = {"Resources": 400, "Outputs": 160, "Parameters": 160}
FILL_BYTES = 800_000
FIRST_SPLIT_PARENT = 450
FIRST_SPLIT_PARENT_BYTES = 600_000
QUOTA_NAMES = {"Resources": "Resources per template", "Outputs": "Outputs per template", "Parameters": "Parameters per template"}
# Resources that hold data: always in the parent, whatever their name.
DATA_TYPES = frozenset({
    "AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable", "AWS::S3::Bucket", "AWS::RDS::DBCluster", "AWS::RDS::DBInstance",
    "AWS::KMS::Key", "AWS::KMS::Alias", "AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::OpenSearchServerless::Collection",
    "AWS::SecretsManager::Secret", "AWS::EFS::FileSystem", "AWS::ECR::Repository", "AWS::Cognito::UserPool",
})
ARTIFACT_BUCKET = "ArtifactBucket"
ARTIFACT_BUCKET_PARAMETER = {
    "Type": "String", "MinLength": 3, "MaxLength": 63, "AllowedPattern": "^[a-z0-9][a-z0-9.-]*[a-z0-9]$",
    "Description": "S3 bucket holding the nested stacks' templates (msgen deploy uploads them; msgen bootstrap creates it)",
}
_TOKEN = re.compile(r"\$\{([^}]*)\}")
_FUNCTION = "Function"


# --- references ------------------------------------------------------------------------------------------------------

def _resources(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """TEMPLATE's resources that are mappings, by logical id (none when its Resources is not a mapping)."""
    res = template.get("Resources")
    return {str(k): v for k, v in res.items() if isinstance(v, dict)} if isinstance(res, dict) else {}


def nested_stacks(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """TEMPLATE's nested stack resources by logical id."""
    return {lid: r for lid, r in _resources(template).items() if r.get("Type") == NESTED_TYPE}


def moved_to_nested(deployed: dict, template: dict, children: dict[str, dict]) -> dict[str, dict[str, str]]:
    """Resources of the DEPLOYED parent that the release's parent TEMPLATE no longer holds and one of its nested
    stacks (CHILDREN, by name) does: {nested stack: {logical id: type}}, in the deployed template's order."""
    new = _resources(template)
    home = {lid: name for name, child in children.items() for lid in _resources(child)}
    out: dict[str, dict[str, str]] = {}
    for lid, body in _resources(deployed).items():
        if lid in new or lid not in home or body.get("Type") == NESTED_TYPE:
            continue
        out.setdefault(home[lid], {})[lid] = str(body.get("Type"))
    return out


def _resources(template: dict) -> dict[str, dict]:
    res = template.get("Resources")
    return {str(k): v for k, v in res.items() if isinstance(v, dict)} if isinstance(res, dict) else {}


def _sub_names(text: str, local: set[str] | frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    out = []
    for token in _TOKEN.findall(text):
        if token.startswith("!") or "::" in token:
            continue
        name, _, attr = token.partition(".")
        if name not in local:
            out.append((name, attr))
    return out


def references(value: Any, out: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """(logical ID, attribute or "") of every Ref, GetAtt and ${X}/${X.Attr} in VALUE (pseudo parameters left out)."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((k, v),) = value.items()
            if k == "Ref" and isinstance(v, str):
                if "::" not in v:
                    out.add((v, ""))
                return out
            if k == "Fn::GetAtt":
                name, attr = _getatt(v)
                if name is not None:
                    out.add((name, attr))
                    return out
            if k == "Fn::Sub":
                if isinstance(v, str):
                    out.update(_sub_names(v))
                    return out
                if isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], dict):
                    out.update(_sub_names(v[0], set(v[1])))
                    return references(v[1], out)
        for x in value.values():
            references(x, out)
    elif isinstance(value, list):
        for x in value:
            references(x, out)
    return out


def _getatt(v: Any) -> tuple[str | None, str]:
    if isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], str):
        return v[0], v[1]
    if isinstance(v, str) and "." in v:
        name, _, attr = v.partition(".")
        return name, attr
    return None, ""


Resolve = Callable[[str, str], "str | None"]  # (name, attr) -> the name to use instead (None: unchanged)


def _rewrite(value: Any, ref: Callable[[str, str], Any], sub: Resolve) -> Any:
    """VALUE with each reference replaced: ``ref`` gives a new intrinsic for Ref/GetAtt (None: unchanged), ``sub`` a
    new ${...} body for a Sub token (None: unchanged)."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((k, v),) = value.items()
            if k == "Ref" and isinstance(v, str):
                new = None if "::" in v else ref(v, "")
                return value if new is None else new
            if k == "Fn::GetAtt":
                name, attr = _getatt(v)
                if name is not None:
                    new = ref(name, attr)
                    return value if new is None else new
            if k == "Fn::Sub":
                if isinstance(v, str):
                    return {k: _sub_text(v, frozenset(), sub)}
                if isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], dict):
                    return {k: [_sub_text(v[0], frozenset(v[1]), sub), _rewrite(v[1], ref, sub)]}
        return {k: _rewrite(x, ref, sub) for k, x in value.items()}
    if isinstance(value, list):
        return [_rewrite(x, ref, sub) for x in value]
    return value


def _sub_text(text: str, local: frozenset[str], sub: Resolve) -> str:
    def one(m: re.Match) -> str:
        token = m.group(1)
        if token.startswith("!") or "::" in token:
            return m.group(0)
        name, _, attr = token.partition(".")
        if name in local:
            return m.group(0)
        new = sub(name, attr)
        return m.group(0) if new is None else "${" + new + "}"

    return _TOKEN.sub(one, text)


def _conditions_used(value: Any, out: set[str]) -> set[str]:
    if isinstance(value, dict):
        if "Fn::If" in value and isinstance(value["Fn::If"], list) and value["Fn::If"] and isinstance(value["Fn::If"][0], str):
            out.add(value["Fn::If"][0])
        if set(value) == {"Condition"} and isinstance(value["Condition"], str):
            out.add(value["Condition"])
        for x in value.values():
            _conditions_used(x, out)
    elif isinstance(value, list):
        for x in value:
            _conditions_used(x, out)
    return out


def value_name(name: str, attr: str) -> str:
    """The parameter (in the stack that uses it) and output (in the stack that holds it) carrying NAME's value:
    ``X`` for Ref X, ``XArn`` for GetAtt X.Arn."""
    return name + re.sub(r"[^A-Za-z0-9]", "", attr)


# --- units -----------------------------------------------------------------------------------------------------------

@dataclass
class Unit:
    function: str  # its key: the function's logical ID (or, for a function with many routes, a method's)
    members: list[str] = field(default_factory=list)  # logical IDs, in template order
    size: int = 0  # bytes, about
    uses: set[tuple[str, str]] = field(default_factory=set)  # values from outside the unit
    used: set[tuple[str, str]] = field(default_factory=set)  # its values used outside it


def _units(data: dict[str, Any], lock: StackLock) -> tuple[dict[str, Unit], dict[str, str]]:
    """The units of a template in the order of their functions, and the unit of every member resource."""
    resources: dict[str, dict] = data["Resources"]
    functions = [lid for lid, r in resources.items() if r.get("Type") == "AWS::Lambda::Function"]
    fset = set(functions)
    member: dict[str, str] = {}
    for lid, r in resources.items():
        if r.get("Type") in DATA_TYPES:
            continue
        i = lid.rfind(_FUNCTION)
        while i > 0:  # the longest function ID that starts LID
            if lid[: i + len(_FUNCTION)] in fset:
                member[lid] = lid[: i + len(_FUNCTION)]
                break
            i = lid.rfind(_FUNCTION, 0, i)
    refs = {lid: references(r, set()) for lid, r in resources.items()}
    parents: dict[str, str] = {}  # API Gateway resource -> its parent path part
    for lid, r in resources.items():
        if r.get("Type") == "AWS::ApiGateway::Resource":
            p = r.get("Properties", {}).get("ParentId")
            if isinstance(p, dict) and isinstance(p.get("Ref"), str):
                parents[lid] = p["Ref"]
    owner_of: dict[str, str] = {}  # API Gateway method -> the unit of the function it integrates
    for lid, r in resources.items():
        if r.get("Type") == "AWS::ApiGateway::Method" and lid not in member:
            owners = {member[n] for n, _ in refs[lid] if n in member}
            if len(owners) == 1:
                owner_of[lid] = owners.pop()
    per_owner: dict[str, int] = {}
    for owner in owner_of.values():
        per_owner[owner] = per_owner.get(owner, 0) + 1
    first_user: dict[str, str] = {}
    for lid, owner in owner_of.items():
        # a function with one route takes its method along; a function with many routes (the serverless pattern)
        # would not fit one stack with all of them, so each of its methods is a unit of its own
        key = owner if per_owner[owner] == 1 else lid
        member[lid] = key
        rid = resources[lid].get("Properties", {}).get("ResourceId")
        part = rid.get("Ref") if isinstance(rid, dict) else None
        seen: set[str] = set()
        while isinstance(part, str) and part in resources and part not in seen:
            seen.add(part)
            first_user.setdefault(part, key)
            part = parents.get(part)
    for part, key in first_user.items():
        if part not in member and (part not in lock.resources or lock.resources[part] == lock.units.get(key)):
            member[part] = key
    units: dict[str, Unit] = {}
    for lid, r in resources.items():
        key = member.get(lid)
        if key is not None:
            unit = units.setdefault(key, Unit(key))
            unit.members.append(lid)
            unit.size += _size(r)
    for lid in resources:
        mine = member.get(lid)
        for n, a in refs[lid]:
            other = member.get(n)
            if other != mine:
                if mine is not None:
                    units[mine].uses.add((n, a))
                if other is not None:
                    units[other].used.add((n, a))
    for name, body in (data.get("Outputs") or {}).items():  # an output naming one unit only moves with it
        owners = {member.get(n) for n, _ in references(body, set())}
        if len(owners) == 1 and None not in owners:
            units[owners.pop()].used.add(("output", name))  # type: ignore[index]
    return units, member


def _size(resource: dict[str, Any]) -> int:
    """About the bytes RESOURCE takes in a YAML template (its compact JSON, plus indentation and references rewritten)."""
    return int(len(json.dumps(resource, separators=(",", ":"))) * 1.3)


# --- placement -------------------------------------------------------------------------------------------------------

@dataclass
class _Fill:
    resources: int = 0
    size: int = 0
    uses: set[tuple[str, str]] = field(default_factory=set)
    used: set[tuple[str, str]] = field(default_factory=set)
    members: set[str] = field(default_factory=set)

    def add(self, unit: Unit) -> None:
        self.resources += len(unit.members)
        self.size += unit.size
        self.uses |= unit.uses
        self.used |= unit.used
        self.members |= set(unit.members)

    def fits(self, unit: Unit) -> bool:
        if not self.members:
            return True
        members = self.members | set(unit.members)
        params = {v for v in self.uses | unit.uses if v[0] not in members}
        outputs = {v for v in self.used | unit.used if v[0] in members or v[0] == "output"}
        return (self.resources + len(unit.members) <= FILL["Resources"] and self.size + unit.size <= FILL_BYTES
                and len(params) <= FILL["Parameters"] and len(outputs) <= FILL["Outputs"])


def place(data: dict[str, Any], lock: StackLock, previous: set[str] | None = None) -> dict[str, str]:
    """Where each resource of DATA goes (logical ID -> PARENT or a nested stack), updating LOCK with what it had not
    seen (append-only). PREVIOUS: the logical IDs of the single template deployed before the first split."""
    resources = data["Resources"]
    units, member = _units(data, lock)
    new = [u for u in units.values() if u.function not in lock.units]
    if new:
        first = not lock.stacks and not lock.units
        if first:
            if previous is not None:
                keep = [u for u in new if u.function in previous]
            else:
                fixed = sum(1 for lid in resources if lid not in member)
                size = sum(_size(r) for lid, r in resources.items() if lid not in member)
                keep = []
                rest = sum(len(u.members) for u in new)
                for u in new:
                    rest -= len(u.members)
                    stacks = -(-rest // FILL["Resources"])
                    if fixed + len(u.members) + stacks > FIRST_SPLIT_PARENT or size + u.size > FIRST_SPLIT_PARENT_BYTES:
                        break
                    fixed += len(u.members)
                    size += u.size
                    keep.append(u)
            for u in keep:
                lock.units[u.function] = PARENT
        fill = _Fill()
        if lock.stacks:
            last = lock.stacks[-1]
            for u in units.values():
                if lock.units.get(u.function) == last:
                    fill.add(u)
        for u in new:
            if u.function in lock.units:
                continue
            if not lock.stacks or not fill.fits(u):
                lock.new_stack()
                fill = _Fill()
            lock.units[u.function] = lock.stacks[-1]
            fill.add(u)
    where: dict[str, str] = {}
    for lid, r in resources.items():
        if lid in lock.resources:
            loc = lock.resources[lid]
        elif lid in member:
            loc = lock.units[member[lid]]
        else:
            loc = PARENT
        if loc != PARENT and r.get("Type") in DATA_TYPES:
            raise SynthError(
                f"{lock.service}: {lid} ({r['Type']}) holds data and belongs in the parent stack, but the stack lock places it in {loc}. "
                "Moving it would delete it and create a new, empty one; msgen will not. Restore the lock from version control")
        if loc != PARENT and r.get("Type") == NESTED_TYPE:
            raise SynthError(f"{lock.service}: {lid} is a nested stack of its own; msgen nests one level only")
        lock.resources.setdefault(lid, loc)
        where[lid] = loc
    return where


# --- building the templates --------------------------------------------------------------------------------------------

@dataclass
class _Child:
    name: str
    resources: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    passed: dict[str, Any] = field(default_factory=dict)  # parameter -> value the parent passes
    outputs: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, tuple[str, str]] = field(default_factory=dict)  # parameter/output name -> (name, attr)
    depends: set[str] = field(default_factory=set)
    functions: int = 0


@dataclass
class Split:
    """A split service: the parent template and its nested templates (rendered), by nested stack logical ID."""

    parent: str
    children: dict[str, str]

    def files(self, stem: str, suffix: str) -> dict[str, str]:
        """File name -> text: the parent as STEM+SUFFIX, each nested stack as STEM.<NestedStackN>+SUFFIX."""
        return {f"{stem}{suffix}": self.parent, **{f"{stem}.{n}{suffix}": t for n, t in self.children.items()}}


def _claim(names: dict[str, tuple[str, str]], key: str, value: tuple[str, str], service: str, where: str) -> None:
    if names.setdefault(key, value) != value:
        raise SynthError(f"{service}: {where}: the name {key} would carry both {'.'.join(filter(None, names[key]))} and "
                         f"{'.'.join(filter(None, value))}; rename one of them")


def split(data: dict[str, Any], where: dict[str, str], service: str, render: Callable[[dict[str, Any], str], str],
          fmt: str = "yaml") -> Split:
    """Build the parent and nested templates of DATA with the placement WHERE, rendered with RENDER."""
    resources = data["Resources"]
    params = data.get("Parameters") or {}
    conditions = data.get("Conditions") or {}
    order = [n for n in dict.fromkeys(where.values()) if n != PARENT]
    order.sort(key=lambda n: int(n.removeprefix("NestedStack")))
    children = {n: _Child(n) for n in order}
    for lid, r in resources.items():
        if where[lid] != PARENT:
            child = children[where[lid]]
            child.resources[lid] = r
            child.functions += r.get("Type") == "AWS::Lambda::Function"

    def loc(name: str) -> str | None:
        """Where NAME lives: PARENT for parameters, conditions and parent resources, the stack otherwise, None if unknown."""
        if name in resources:
            return where[name]
        return PARENT if name in params else None

    def export(child: _Child, name: str, attr: str) -> str:
        """CHILD's output carrying NAME.ATTR (created on first use)."""
        out = value_name(name, attr)
        _claim(child.sources, "out:" + out, (name, attr), service, f"{child.name}'s outputs")
        if out not in child.outputs:
            value = {"Ref": name} if not attr else {"Fn::GetAtt": [name, attr]}
            body: dict[str, Any] = {"Description": f"{name}{'.' + attr if attr else ''} for the parent stack", "Value": value}
            cond = resources[name].get("Condition")
            if cond:
                body = {"Condition": cond, **body}
            child.outputs[out] = body
        return out

    # nested stacks: their parameters come from the parent (or another nested stack, through the parent)
    for child in children.values():
        def ref(name: str, attr: str, child: _Child = child) -> Any:
            p = _import(child, name, attr)
            return None if p is None else {"Ref": p}

        def sub(name: str, attr: str, child: _Child = child) -> str | None:
            return _import(child, name, attr)

        def _import(child: _Child, name: str, attr: str) -> str | None:
            home = loc(name)
            if home is None or home == child.name:
                return None
            p = value_name(name, attr)
            _claim(child.sources, "in:" + p, (name, attr), service, f"{child.name}'s parameters")
            if p in child.resources:
                raise SynthError(f"{service}: {child.name}: the parameter {p} would have the name of one of its resources")
            if p not in child.parameters:
                if name in params and not attr:
                    child.parameters[p] = params[name]
                    child.passed[p] = {"Ref": name}
                else:
                    what = f"{name}{'.' + attr if attr else ''}"
                    child.parameters[p] = {"Type": "String", "Description": f"{what} ({'the parent stack' if home == PARENT else home})"}
                    if home == PARENT:
                        child.passed[p] = {"Ref": name} if not attr else {"Fn::GetAtt": [name, attr]}
                    else:
                        child.passed[p] = {"Fn::GetAtt": [home, f"Outputs.{export(children[home], name, attr)}"]}
            return p

        for lid, r in list(child.resources.items()):
            new = {k: v for k, v in r.items() if k != "DependsOn"}
            new = _rewrite(new, ref, sub)
            deps = r.get("DependsOn")
            if deps is not None:
                deps = [deps] if isinstance(deps, str) else deps
                inside = [d for d in deps if where.get(d) == child.name]
                for d in deps:
                    if where.get(d) != child.name:
                        child.depends.add(d if where.get(d) == PARENT else where[d])
                if inside:
                    new = _with_depends(new, inside)
            child.resources[lid] = new

    # template outputs that name only one nested stack's resources move there
    parent_outputs: dict[str, Any] = {}
    for name, body in (data.get("Outputs") or {}).items():
        homes = {loc(n) for n, _ in references(body, set())} - {PARENT}
        named = {loc(n) for n, _ in references(body, set())}
        if len(homes) == 1 and PARENT not in named and None not in homes:
            child = children[homes.pop()]  # type: ignore[index]
            _claim(child.sources, "out:" + name, ("output", name), service, f"{child.name}'s outputs")
            child.outputs[name] = body
        else:
            parent_outputs[name] = body

    # the parent: references to nested stacks' resources become their outputs
    def pref(name: str, attr: str) -> Any:
        home = loc(name)
        if home in (None, PARENT):
            return None
        return {"Fn::GetAtt": [home, f"Outputs.{export(children[home], name, attr)}"]}  # type: ignore[index]

    def psub(name: str, attr: str) -> str | None:
        home = loc(name)
        if home in (None, PARENT):
            return None
        return f"{home}.Outputs.{export(children[home], name, attr)}"  # type: ignore[index]

    parent_resources: dict[str, Any] = {}
    for lid, r in resources.items():
        if where[lid] != PARENT:
            continue
        new = _rewrite({k: v for k, v in r.items() if k != "DependsOn"}, pref, psub)
        deps = r.get("DependsOn")
        if deps is not None:
            deps = [deps] if isinstance(deps, str) else deps
            mapped = list(dict.fromkeys(d if where.get(d) == PARENT else where[d] for d in deps))
            used = {n for n, _ in references(new, set())}
            mapped = [d for d in mapped if d not in used]
            if mapped:
                new = _with_depends(new, mapped)
        parent_resources[lid] = new
    parent_outputs = {k: _rewrite(v, pref, psub) for k, v in parent_outputs.items()}

    # the nested templates, then the parent's stack resources pointing at them
    parent_params = dict(params)
    if ARTIFACT_BUCKET not in parent_params:
        parent_params[ARTIFACT_BUCKET] = ARTIFACT_BUCKET_PARAMETER
    ext = "json" if fmt == "json" else "yaml"
    texts: dict[str, str] = {}
    for child in children.values():
        used_conds: set[str] = set()
        for r in child.resources.values():
            if isinstance(r.get("Condition"), str):
                used_conds.add(r["Condition"])
            _conditions_used(r, used_conds)
        for o in child.outputs.values():
            if isinstance(o.get("Condition"), str):
                used_conds.add(o["Condition"])
            _conditions_used(o, used_conds)
        todo = list(used_conds)
        while todo:
            c = todo.pop()
            for d in _conditions_used(conditions.get(c), set()) - used_conds:
                used_conds.add(d)
                todo.append(d)
        child_conditions = {c: conditions[c] for c in conditions if c in used_conds}
        for body in child_conditions.values():
            for n, _ in references(body, set()):
                if n in params and n not in child.parameters:
                    child.parameters[n] = params[n]
                    child.passed[n] = {"Ref": n}
        desc = (f"msgen {__version__}: {service}, nested stack {child.name} of its parent stack "
                f"({child.functions} function(s), {len(child.resources)} resources)")
        t: dict[str, Any] = {"AWSTemplateFormatVersion": "2010-09-09", "Description": desc,
                             "Parameters": {k: child.parameters[k] for k in sorted(child.parameters)}}
        if child_conditions:
            t["Conditions"] = child_conditions
        t["Resources"] = child.resources
        if child.outputs:
            t["Outputs"] = {k: child.outputs[k] for k in sorted(child.outputs)}
        _check(t, service, child.name)
        texts[child.name] = render(t, fmt)
    for child in children.values():
        digest = hashlib.sha256(texts[child.name].encode("utf-8")).hexdigest()
        url = f"https://${{{ARTIFACT_BUCKET}}}.s3.${{AWS::Region}}.${{AWS::URLSuffix}}/{service}/templates/{digest}.{ext}"
        body = {"Type": NESTED_TYPE}
        used = {n for v in child.passed.values() for n, _ in references(v, set())}
        deps = sorted(d for d in child.depends if d not in used)
        if deps:
            body["DependsOn"] = deps
        body["Metadata"] = {"msgen": {"description": f"Nested stack: {child.functions} function(s) and what belongs to them "
                                                     "(generator/synth/nesting.py; the stack lock records its resources)",
                                      "source": "nesting"}}
        body["Properties"] = {"Parameters": {k: child.passed[k] for k in sorted(child.passed)}, "TemplateURL": {"Fn::Sub": url}}
        parent_resources[child.name] = body
    parent = {k: v for k, v in data.items() if k not in ("Parameters", "Resources", "Outputs")}
    out: dict[str, Any] = {}
    for k in ("AWSTemplateFormatVersion", "Description", "Metadata"):
        if k in parent:
            out[k] = parent.pop(k)
    out["Parameters"] = parent_params
    out.update(parent)
    out["Resources"] = parent_resources
    if parent_outputs:
        out["Outputs"] = parent_outputs
    _check(out, service, "the parent stack")
    _check_cycles(out, children, service)
    text = render(out, fmt)
    _check_size(text, service, "the parent stack")
    for name, t in texts.items():
        _check_size(t, service, name)
    return Split(text, texts)


def _with_depends(resource: dict[str, Any], deps: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in resource.items():
        if k in ("Metadata", "Properties", "DeletionPolicy", "UpdateReplacePolicy", "UpdatePolicy") and "DependsOn" not in out:
            out["DependsOn"] = deps if len(deps) > 1 else deps[0]
        out[k] = v
    out.setdefault("DependsOn", deps if len(deps) > 1 else deps[0])
    return out


def _check(template: dict[str, Any], service: str, what: str) -> None:
    for section, limit in HARD.items():
        count = len(template.get(section) or {})
        if count > limit:
            raise SynthError(
                f"{service}: {what} would have {count} {section.lower()}; CloudFormation allows {limit} per stack (quota "
                f"'{QUOTA_NAMES[section]}'). Its resources cannot move to another stack: a move deletes and recreates them "
                "(and fails for fixed physical names), and the stack lock records where each one is. Remove routes from it, "
                "or split the service")


def _check_size(text: str, service: str, what: str) -> None:
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        raise SynthError(f"{service}: {what} would be {size} bytes; CloudFormation accepts at most {MAX_BYTES} bytes from S3 "
                         "(quota 'Template body size in an Amazon S3 object'). Its resources cannot move to another stack "
                         "(a move deletes and recreates them); remove routes, or split the service")


def _check_cycles(parent: dict[str, Any], children: dict[str, _Child], service: str) -> None:
    """CloudFormation refuses a template whose resources depend on each other in a loop; name the loop."""
    res = parent["Resources"]
    graph: dict[str, set[str]] = {}
    for lid, r in res.items():
        deps = {n for n, _ in references(r, set()) if n in res}
        d = r.get("DependsOn")
        deps |= {d} if isinstance(d, str) else set(d or [])
        graph[lid] = deps
    state: dict[str, int] = {}
    for start in graph:
        if state.get(start):
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                path.pop()
                continue
            if state.get(nxt) == 1:
                loop = path[path.index(nxt):] + [nxt]
                raise SynthError(f"{service}: the nested stacks would depend on each other in a loop ({' -> '.join(loop)}); "
                                 "CloudFormation refuses such a template. The stack lock keeps these resources where they are; "
                                 "report this with the spec (a bug in msgen's placement)")
            if not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, iter(sorted(graph.get(nxt, ())))))
                path.append(nxt)
