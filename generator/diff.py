"""What a deploy will do: compare a deployed (or committed) template with a new one, offline.

``compare(old, new)`` takes two CloudFormation templates as dicts (``old`` is what the stack runs now, ``new`` what
would be deployed) and classifies every resource:

* **added** / **removed**: the logical ID exists in only one template. A renamed logical ID is a removal plus an
  addition, because that is what CloudFormation does with it (it deletes the old resource and creates a new one);
  when a removed and an added resource have the same type and properties, the report says it looks like a rename.
* **replaced**: CloudFormation creates a new physical resource and deletes the old one. That happens when
  a property listed in the resource type's ``createOnlyProperties`` changes, or one in its
  ``conditionalCreateOnlyProperties`` (create-only for some changes, e.g. a DynamoDB table's ``KeySchema``:
  offline we cannot tell which, so it counts as a replacement), when a create-only property refers (``Ref``,
  ``Fn::GetAtt``, ``Fn::Sub``) to a resource that is itself replaced (its new physical ID is a new value), and
  when ``Type`` changes (CloudFormation refuses that update outright; rename the logical ID instead). The lists
  come from the resource provider schemas that cfn-lint ships (``PROVIDER_SCHEMA_MANAGER``), never from a list
  of our own. A pointer such as ``/properties/KeySchema``, ``/properties/A/B`` or ``/properties/L/*/Name``
  selects the values compared; ``*`` runs over every item of a list (or every value of a mapping), so adding
  or removing an item changes the selection too. Where an intrinsic function stands in the way, the function
  is compared as written. A type without a schema (unknown to cfn-lint) is reported as modified, with a note.
* **modified**: anything else in ``Properties`` or in the attributes ``Condition``, ``DependsOn`` (as a set),
  ``DeletionPolicy``, ``UpdateReplacePolicy``, ``UpdatePolicy``, ``CreationPolicy`` changed; a property that
  refers to a replaced resource is modified too (its value changes when the replacement gets its new ID).
* **metadata only**: only ``Metadata`` changed, and/or only the order of ``DependsOn``. The physical resource is
  not touched, and this is not counted as a change of the resource.

``Parameters``, ``Outputs``, ``Conditions``, ``Mappings``, ``Rules`` and the template's scalar sections
(``Description``, ``Transform``, ...) are listed separately, key by key.

**Data loss.** What counts is whether the *stack* still has the data after the update, not only whether some
copy survives in the account. A removal or replacement of a resource whose old type is in :data:`DATA_HOLDING`
is judged like this:

* **removed, not retained**: data loss. The policy that applies is the old template's ``DeletionPolicy`` (the new
  template no longer has the resource); without ``Retain`` CloudFormation deletes the resource and its data.
* **removed, retained** (``DeletionPolicy`` ``Retain``, or ``RetainExceptOnCreate``: the resource exists, so its
  create succeeded): "retained, detached from the stack", a warning and not data loss: the spec stopped
  declaring it and its data survives. Except when the same update adds a resource of the same type (a
  logical-ID rename looks exactly like that): the newcomer starts empty while the data stays behind in the
  detached one, so that is data loss, with the old copy noted as retained.
* **replaced**: always data loss. The stack carries on with a new, empty resource, whatever happens to the old
  one. With ``UpdateReplacePolicy`` ``Retain`` the old one is kept with its data, detached, and the report says
  so (the data can be copied back; nothing does it automatically). This is why a guard is needed at all: msgen
  retains every data-holding resource, so "retained" alone would let a changed table key or a renamed log group
  through silently. ``Retain`` counts as retaining only when **both** templates say it: AWS's documentation does
  not say which template's policy governs an update that changes the policy and forces a replacement at once.
* A policy that is not a plain string (an intrinsic function) is not trusted to retain anything.
* ``Snapshot`` (the default of RDS clusters and of instances outside a cluster) is not retention: the live
  database is deleted, and getting the data back means restoring a new one from the snapshot.

Every data loss must be allowed by name (``--allow-data-loss LOGICAL_ID``). A retained resource keeps costing money
and no stack manages it any longer; if it has a fixed name (the schema's primary identifier, e.g. ``TableName``,
``LogGroupName``), a new resource with the same name cannot be created next to it. That case, and a replacement
that keeps a fixed name (CloudFormation cannot replace a custom-named resource: the update fails), are noted.

Nothing here calls AWS; the schemas are files inside cfn-lint.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any

DEFAULT_REGION = "us-east-1"

# Types whose deletion loses what the service stored in them, with why. Checked on the *old* type.
DATA_HOLDING: Mapping[str, str] = MappingProxyType({
    "AWS::DynamoDB::Table": "its items are deleted with the table",
    "AWS::DynamoDB::GlobalTable": "its items are deleted with the table, in every replica Region",
    "AWS::S3::Bucket": "its objects and their versions are deleted with the bucket",
    "AWS::RDS::DBCluster": "the database and its automated backups are deleted with the cluster",
    "AWS::RDS::DBInstance": "the database and its automated backups are deleted with the instance",
    "AWS::KMS::Key": "the key is scheduled for deletion, and everything encrypted with it becomes unreadable",
    "AWS::Logs::LogGroup": "its log events are deleted with the log group",
    "AWS::SQS::Queue": "the messages waiting in it are deleted with the queue",
    "AWS::SNS::Topic": "its subscriptions are deleted, and messages published meanwhile reach no one",
    "AWS::OpenSearchServerless::Collection": "its indexes and documents are deleted with the collection",
    "AWS::SecretsManager::Secret": "the secret's value is deleted (after its recovery window) and cannot be read again",
    "AWS::Cognito::UserPool": "its users and their passwords are deleted with the pool",
    "AWS::EFS::FileSystem": "its files are deleted with the file system",
    "AWS::Kinesis::Stream": "the records in the stream are deleted with it",
})

RETAIN = frozenset({"Retain", "RetainExceptOnCreate"})
# Attributes that change how CloudFormation treats a resource but not the physical resource; still "modified".
ATTRIBUTES = ("Condition", "DependsOn", "DeletionPolicy", "UpdateReplacePolicy", "UpdatePolicy", "CreationPolicy")
SECTIONS = ("Parameters", "Conditions", "Mappings", "Rules", "Outputs")
ACTIONS = ("replaced", "removed", "added", "modified", "metadata")


class _Missing:
    """A value that is not there (a property absent from one template)."""

    def __repr__(self) -> str:
        return "<absent>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Missing)

    def __hash__(self) -> int:
        return 0

    def __copy__(self) -> _Missing:
        return self

    def __deepcopy__(self, memo: dict) -> _Missing:  # dataclasses.asdict deep-copies: keep the one sentinel
        return self


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Change:
    """One value that differs, at ``path`` (``Properties.KeySchema[0].AttributeName``, ``DependsOn``)."""

    path: str
    old: Any = MISSING
    new: Any = MISSING
    note: str = ""


@dataclass(frozen=True)
class Replacement:
    """Why a resource is replaced: ``property`` (``KeySchema``, ``Tags[*].Key``, or ``Type``) and ``reason``."""

    property: str
    reason: str


@dataclass
class ResourceChange:
    logical_id: str
    action: str  # one of ACTIONS
    type: str  # the new type, or the old one when removed
    old_type: str | None = None  # set when the type changed
    changes: list[Change] = field(default_factory=list)  # properties and attributes (empty for added/removed)
    metadata: list[Change] = field(default_factory=list)  # Metadata paths that changed (and DependsOn order)
    replacement: list[Replacement] = field(default_factory=list)
    holds_data: str = ""  # DATA_HOLDING's reason, when the old resource holds data and is removed or replaced
    policy: str = ""  # the policy that decides what happens to the old resource (when holds_data)
    data_loss: bool = False
    retained: bool = False  # kept by its policy, detached from the stack
    notes: list[str] = field(default_factory=list)

    @property
    def destroys(self) -> bool:
        return self.action in ("removed", "replaced")


@dataclass(frozen=True)
class SectionChange:
    section: str  # Parameters, Outputs, Conditions, Mappings, Rules, or a scalar section (Description, Transform)
    name: str  # the key within the section ("" for a scalar section)
    action: str  # added | removed | modified
    changes: tuple[Change, ...] = ()
    note: str = ""


@dataclass
class TemplateDiff:
    resources: list[ResourceChange]
    sections: list[SectionChange]
    region: str = DEFAULT_REGION

    def of(self, action: str) -> list[ResourceChange]:
        return [r for r in self.resources if r.action == action]

    @property
    def data_loss(self) -> list[ResourceChange]:
        return [r for r in self.resources if r.data_loss]

    @property
    def retained(self) -> list[ResourceChange]:
        return [r for r in self.resources if r.retained]

    @property
    def empty(self) -> bool:
        return not self.resources and not self.sections

    def unallowed(self, allowed: Iterable[str] = ()) -> list[ResourceChange]:
        allow = set(allowed)
        return [r for r in self.data_loss if r.logical_id not in allow]

    def counts(self) -> dict[str, int]:
        return {a: len(self.of(a)) for a in ACTIONS}

    def to_dict(self, allowed: Iterable[str] = ()) -> dict[str, Any]:
        allow = sorted(set(allowed))
        return {
            "region": self.region,
            "counts": self.counts(),
            "resources": [_plain(asdict(r)) for r in self.resources],
            "sections": [_plain(asdict(s)) for s in self.sections],
            "data_loss": [r.logical_id for r in self.data_loss],
            "allowed": [a for a in allow if any(r.logical_id == a for r in self.data_loss)],
            "unallowed": [r.logical_id for r in self.unallowed(allow)],
            "retained": [r.logical_id for r in self.retained],
        }


# ---------------------------------------------------------------------------------------------- schemas


class Schemas:
    """Create-only properties and primary identifiers per type, from cfn-lint's provider schemas (cached)."""

    def __init__(self, region: str = DEFAULT_REGION):
        self.region = region
        self._cache: dict[str, dict[str, Any] | None] = {}

    def _schema(self, type_name: str) -> dict[str, Any] | None:
        if type_name not in self._cache:
            from cfnlint.schema import PROVIDER_SCHEMA_MANAGER, ResourceNotFoundError

            try:
                schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(self.region, type_name).schema
            except ResourceNotFoundError:
                schema = None
            self._cache[type_name] = schema
        return self._cache[type_name]

    def known(self, type_name: str) -> bool:
        return isinstance(type_name, str) and self._schema(type_name) is not None

    def create_only(self, type_name: str) -> list[tuple[str, bool]]:
        """(pointer, conditional) for every create-only property of the type, in the schema's order."""
        schema = self._schema(type_name) or {}
        out = [(p, False) for p in schema.get("createOnlyProperties") or []]
        out += [(p, True) for p in schema.get("conditionalCreateOnlyProperties") or [] if (p, False) not in out]
        return [(p, c) for p, c in out if isinstance(p, str) and p.startswith("/properties/")]

    def primary_identifier(self, type_name: str) -> list[str]:
        schema = self._schema(type_name) or {}
        return [p for p in schema.get("primaryIdentifier") or [] if isinstance(p, str) and p.startswith("/properties/")]


def pointer_parts(pointer: str) -> list[str]:
    """``/properties/A/*/B~1C`` -> ``["A", "*", "B/C"]`` (JSON pointer unescaping, without the ``/properties`` root)."""
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[2:]]


def pointer_label(pointer: str) -> str:
    """``/properties/KeySchema`` -> ``KeySchema``; ``/properties/L/*/Name`` -> ``L[*].Name``."""
    out = ""
    for part in pointer_parts(pointer):
        out += "[*]" if part == "*" else (f"[{part}]" if part.isdigit() else (f".{part}" if out else part))
    return out


def is_intrinsic(value: Any) -> bool:
    """``{"Ref": ...}``, ``{"Fn::...": ...}`` or ``{"Condition": ...}``: a value CloudFormation computes."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = str(next(iter(value)))
    return key in ("Ref", "Condition") or key.startswith("Fn::")


def project(value: Any, parts: list[str]) -> Any:
    """What a create-only pointer selects in ``value`` (a resource's Properties): compare two of these."""
    if not parts or value is MISSING or is_intrinsic(value):
        return value
    head, rest = parts[0], parts[1:]
    if head == "*":
        if isinstance(value, list):
            return [project(v, rest) for v in value]
        if isinstance(value, dict):
            return {k: project(v, rest) for k, v in value.items()}
        return value
    if isinstance(value, dict):
        return project(value.get(head, MISSING), rest)
    if isinstance(value, list) and head.isdigit():
        return project(value[int(head)] if int(head) < len(value) else MISSING, rest)
    return value  # a scalar where the schema expects structure: compare it as it is


# ---------------------------------------------------------------------------------------------- references

_SUB_VAR = re.compile(r"\$\{(?!!)([^}]+)\}")


def references(value: Any) -> set[str]:
    """Logical IDs (and parameters, pseudo parameters) that ``value`` refers to through Ref, GetAtt and Sub."""
    found: set[str] = set()
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, dict):
            if len(v) == 1:
                key, arg = next(iter(v.items()))
                if key == "Ref" and isinstance(arg, str):
                    found.add(arg)
                    continue
                if key == "Fn::GetAtt":
                    if isinstance(arg, list) and arg and isinstance(arg[0], str):
                        found.add(arg[0])
                    elif isinstance(arg, str):
                        found.add(arg.split(".", 1)[0])
                    stack.append(arg)
                    continue
                if key == "Fn::Sub":
                    text, names = (arg[0], arg[1] if len(arg) > 1 else {}) if isinstance(arg, list) and arg else (arg, {})
                    if isinstance(text, str):
                        own = set(names) if isinstance(names, dict) else set()
                        found.update(m.split(".", 1)[0].strip() for m in _SUB_VAR.findall(text) if m.split(".", 1)[0].strip() not in own)
                    stack.append(names)
                    continue
            stack.extend(v.values())
    return found


# ---------------------------------------------------------------------------------------------- comparing


def value_changes(old: Any, new: Any, path: str, limit: int = 50) -> list[Change]:
    """The paths at which two values differ, as deep as mappings and equally long lists go."""
    out: list[Change] = []

    def walk(a: Any, b: Any, p: str) -> None:
        if len(out) >= limit or a == b:
            return
        if isinstance(a, dict) and isinstance(b, dict) and not (is_intrinsic(a) and is_intrinsic(b) and a.keys() != b.keys()):
            for k in list(a) + [k for k in b if k not in a]:
                walk(a.get(k, MISSING), b.get(k, MISSING), f"{p}.{k}" if p else str(k))
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(x, y, f"{p}[{i}]")
        else:
            out.append(Change(p, a, b))

    walk(old, new, path)
    return out


def _as_set(depends: Any) -> Any:
    if isinstance(depends, str):
        return frozenset([depends])
    if isinstance(depends, list) and all(isinstance(d, str) for d in depends):
        return frozenset(depends)
    return depends


def _policy(resource: dict[str, Any], attribute: str, type_name: str) -> Any:
    value = resource.get(attribute, MISSING)
    if value is not MISSING:
        return value
    if attribute == "DeletionPolicy" and (
        type_name == "AWS::RDS::DBCluster"
        or (type_name == "AWS::RDS::DBInstance" and "DBClusterIdentifier" not in (resource.get("Properties") or {}))
    ):
        return "Snapshot"  # CloudFormation's default for these
    return "Delete"


def _retains(policy: Any) -> bool:
    return isinstance(policy, str) and policy in RETAIN


def _policy_text(policy: Any) -> str:
    return policy if isinstance(policy, str) else json.dumps(_plain(policy), sort_keys=True)


def _properties(resource: dict[str, Any]) -> dict[str, Any]:
    props = resource.get("Properties")
    return props if isinstance(props, dict) else {}


def _compare_resource(lid: str, old: dict[str, Any], new: dict[str, Any], schemas: Schemas) -> ResourceChange | None:
    old_type, new_type = old.get("Type"), new.get("Type")
    rc = ResourceChange(lid, "modified", new_type, old_type if old_type != new_type else None)
    if old_type != new_type:
        rc.replacement.append(Replacement("Type", f"the type changed from {old_type} to {new_type} "
                                          "(CloudFormation refuses this update; rename the logical ID to replace it)"))
    old_props, new_props = old.get("Properties", MISSING), new.get("Properties", MISSING)
    rc.changes += value_changes(old_props, new_props, "Properties")
    for attr in ATTRIBUTES:
        a, b = old.get(attr, MISSING), new.get(attr, MISSING)
        if a == b:
            continue
        if attr == "DependsOn" and _as_set(a) == _as_set(b):
            rc.metadata.append(Change("DependsOn", a, b, "order only"))
        else:
            rc.changes.append(Change(attr, a, b))
    for key in sorted(set(old) | set(new)):  # anything else at the top of a resource (e.g. a future attribute)
        if key not in ("Type", "Properties", "Metadata", *ATTRIBUTES) and old.get(key, MISSING) != new.get(key, MISSING):
            rc.changes.append(Change(key, old.get(key, MISSING), new.get(key, MISSING)))
    rc.metadata[:0] = value_changes(old.get("Metadata", MISSING), new.get("Metadata", MISSING), "Metadata")
    if old_type == new_type and isinstance(new_type, str):
        if not schemas.known(new_type):
            if rc.changes:
                rc.notes.append(f"cfn-lint has no schema for {new_type} in {schemas.region}: cannot tell whether this replaces it")
        else:
            for pointer, conditional in schemas.create_only(new_type):
                parts = pointer_parts(pointer)
                if project(_properties(old), parts) != project(_properties(new), parts):
                    why = "conditionally create-only: some changes to it replace the resource" if conditional else "create-only"
                    rc.replacement.append(Replacement(pointer_label(pointer), why))
    if rc.replacement:
        rc.action = "replaced"
    elif rc.changes:
        rc.action = "modified"
    elif rc.metadata:
        rc.action = "metadata"
    else:
        return None
    return rc


def _cascade(old_res: dict[str, Any], new_res: dict[str, Any], changes: dict[str, ResourceChange], schemas: Schemas) -> None:
    """A resource whose create-only property refers to a replaced resource is replaced too (its new physical ID is a
    new value), and one whose other properties refer to it is modified; repeated until nothing more changes."""
    replaced = {lid for lid, rc in changes.items() if rc.action == "replaced"}
    done = False
    while not done:
        done = True
        for lid in new_res:
            if lid not in old_res or not isinstance(new_res[lid], dict) or old_res[lid].get("Type") != new_res[lid].get("Type"):
                continue
            rc = changes.get(lid)
            if rc and rc.action == "replaced":
                continue
            props = _properties(new_res[lid])
            type_name = new_res[lid].get("Type")
            forced: list[Replacement] = []
            create_only_tops: set[str] = set()
            for pointer, _ in schemas.create_only(type_name) if schemas.known(type_name) else []:
                parts = pointer_parts(pointer)
                if len(parts) == 1:  # the whole property is create-only: reported as forcing the replacement, not as modified
                    create_only_tops.add(parts[0])
                hit = sorted(references(project(props, parts)) & replaced)
                if hit:
                    forced.append(Replacement(pointer_label(pointer), f"refers to {', '.join(hit)}, which is replaced"))
            dynamic = [Change(f"Properties.{k}", note=f"refers to {', '.join(sorted(references(v) & replaced))}, which is replaced")
                       for k, v in props.items() if k not in create_only_tops and references(v) & replaced]
            if not forced and not dynamic:
                continue
            if rc is None:
                rc = changes[lid] = ResourceChange(lid, "modified", type_name)
            known = {c.path for c in rc.changes}
            rc.changes += [c for c in dynamic if c.path not in known]
            if forced:
                rc.replacement += forced
                rc.action = "replaced"
                replaced.add(lid)
                done = False
            elif rc.action == "metadata":
                rc.action = "modified"


_SUCCESSOR = ": if it takes this one's place, it starts empty while the data stays behind in the retained one"


def _data_loss(rc: ResourceChange, old: dict[str, Any], new: dict[str, Any] | None, successors: list[str]) -> None:
    """Decide data loss for one removed or replaced resource (the rule is in the module docstring).
    ``successors``: resources of the same type that this update adds (one of them may be taking its place)."""
    old_type = old.get("Type")
    reason = DATA_HOLDING.get(old_type) if isinstance(old_type, str) else None
    if not reason or not rc.destroys:
        return
    rc.holds_data = reason
    if rc.action == "removed":
        policy = _policy(old, "DeletionPolicy", old_type)
        rc.policy = f"DeletionPolicy {_policy_text(policy)}"
        rc.retained = _retains(policy)
        rc.data_loss = not rc.retained or bool(successors)
        if rc.retained and successors:
            rc.notes.append(f"{', '.join(successors)} of the same type is added{_SUCCESSOR}")
    else:
        assert new is not None
        before, after = _policy(old, "UpdateReplacePolicy", old_type), _policy(new, "UpdateReplacePolicy", new.get("Type"))
        rc.policy = f"UpdateReplacePolicy {_policy_text(before)}" + (f" -> {_policy_text(after)}" if after != before else "")
        rc.retained = _retains(before) and _retains(after)
        rc.data_loss = True
        if _retains(before) != _retains(after):
            rc.notes.append("UpdateReplacePolicy changes in the same update: the old resource is kept only when both templates retain it")
        if rc.retained:
            rc.notes.append("the old resource is kept with its data, detached from the stack; the stack continues with a new, empty one")
    if rc.data_loss and not rc.retained and "Snapshot" in rc.policy:
        rc.notes.append("a final snapshot is taken, but the live resource is deleted: restoring means a new resource")


def _named(resource: dict[str, Any], schemas: Schemas) -> dict[str, Any]:
    """The resource's fixed name: every part of the schema's primary identifier, when each is a create-only
    property set in the template (``TableName``, ``LogGroupName``); empty when the service names it."""
    type_name = resource.get("Type")
    if not isinstance(type_name, str) or not schemas.known(type_name):
        return {}
    create_only = {p for p, _ in schemas.create_only(type_name)}
    props = _properties(resource)
    out = {}
    for pointer in schemas.primary_identifier(type_name):
        value = project(props, pointer_parts(pointer))
        if pointer not in create_only or value is MISSING:
            return {}
        out[pointer_label(pointer)] = value
    return out


def compare(old: Mapping[str, Any], new: Mapping[str, Any], region: str = DEFAULT_REGION) -> TemplateDiff:
    """Compare the deployed template ``old`` with ``new``; both are decoded templates (dicts)."""
    schemas = Schemas(region)
    old_res = _resources(old)
    new_res = _resources(new)
    changes: dict[str, ResourceChange] = {}
    for lid in old_res:
        if lid not in new_res:
            changes[lid] = ResourceChange(lid, "removed", old_res[lid].get("Type"))
    for lid in new_res:
        if lid not in old_res:
            changes[lid] = ResourceChange(lid, "added", new_res[lid].get("Type"))
        else:
            rc = _compare_resource(lid, old_res[lid], new_res[lid], schemas)
            if rc:
                changes[lid] = rc
    _cascade(old_res, new_res, changes, schemas)
    added = [rc for rc in changes.values() if rc.action == "added"]
    for lid, rc in changes.items():
        if lid in old_res:
            successors = [a.logical_id for a in added if a.type == old_res[lid].get("Type")] if rc.action == "removed" else []
            _data_loss(rc, old_res[lid], new_res.get(lid), successors)
    _notes(changes, old_res, new_res, schemas)
    order = {a: i for i, a in enumerate(ACTIONS)}
    resources = sorted(changes.values(), key=lambda r: (order[r.action], r.logical_id))
    return TemplateDiff(resources, list(_sections(old, new)), region)


def _notes(changes: dict[str, ResourceChange], old_res: dict[str, Any], new_res: dict[str, Any], schemas: Schemas) -> None:
    removed = [rc for rc in changes.values() if rc.action == "removed"]
    added = [rc for rc in changes.values() if rc.action == "added"]
    for rc in removed:
        old = old_res[rc.logical_id]
        twins = [a.logical_id for a in added if new_res[a.logical_id].get("Type") == old.get("Type")
                 and new_res[a.logical_id].get("Properties") == old.get("Properties")]
        if twins:
            rc.notes = [n for n in rc.notes if not n.endswith(_SUCCESSOR)]  # said more precisely here
            kept = f", while the data stays in {rc.logical_id}, retained and detached" if rc.retained else ""
            rc.notes.append(f"looks like a rename to {', '.join(twins)}: CloudFormation does not move data; "
                            f"{'they start' if len(twins) > 1 else twins[0] + ' starts'} empty{kept}")
        if rc.retained:
            name = _named(old, schemas)
            for a in added:
                clash = name if name and _named(new_res[a.logical_id], schemas) == name else {}
                if clash and new_res[a.logical_id].get("Type") == old.get("Type"):
                    rc.notes.append(f"{a.logical_id} takes the same {', '.join(clash)} while {rc.logical_id} is retained: "
                                    "creating it fails because the name is taken")
    for rc in changes.values():
        if rc.action == "replaced" and rc.old_type is None:
            before, after = _named(old_res[rc.logical_id], schemas), _named(new_res[rc.logical_id], schemas)
            same = list(after) if after and after == before else []
            if same:
                rc.notes.append(f"it keeps a fixed {', '.join(same)}: CloudFormation cannot replace a custom-named resource, "
                                "so the update fails unless the name changes too")


def _resources(template: Mapping[str, Any]) -> dict[str, Any]:
    res = template.get("Resources")
    if not isinstance(res, dict):
        return {}
    return {str(k): v for k, v in res.items() if isinstance(v, dict)}


def _sections(old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[SectionChange]:
    for section in SECTIONS:
        a, b = old.get(section, {}), new.get(section, {})
        a, b = (a if isinstance(a, dict) else {}), (b if isinstance(b, dict) else {})
        for name in list(a) + [k for k in b if k not in a]:
            if name not in b:
                note = "an exported value: stacks that import it block the update" if (
                    section == "Outputs" and isinstance(a[name], dict) and "Export" in a[name]) else ""
                yield SectionChange(section, str(name), "removed", note=note)
            elif name not in a:
                note = "no Default: every deploy must pass a value" if (
                    section == "Parameters" and isinstance(b[name], dict) and "Default" not in b[name]) else ""
                yield SectionChange(section, str(name), "added", note=note)
            elif a[name] != b[name]:
                yield SectionChange(section, str(name), "modified", tuple(value_changes(a[name], b[name], "")))
    for key in list(old) + [k for k in new if k not in old]:
        if key in SECTIONS or key == "Resources":
            continue
        a, b = old.get(key, MISSING), new.get(key, MISSING)
        if a != b:
            action = "added" if a is MISSING else "removed" if b is MISSING else "modified"
            yield SectionChange(str(key), "", action, tuple(value_changes(a, b, "")) if action == "modified" else ())


# ---------------------------------------------------------------------------------------------- rendering


def _plain(value: Any) -> Any:
    """JSON-ready: MISSING -> None (the key is absent from that template), tuples -> lists, dates and other scalars -> str."""
    if isinstance(value, _Missing):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def short(value: Any, width: int = 60) -> str:
    if value is MISSING:
        return "(absent)"
    text = _text(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(_plain(value), sort_keys=True, separators=(",", ":"))


def pair(old: Any, new: Any, width: int = 60) -> str:
    """``old -> new``, each cut to ``width`` around where they first differ, so long values show their difference."""
    if old is MISSING or new is MISSING:
        return f"{short(old, width)} -> {short(new, width)}"
    a, b = _text(old), _text(new)
    if len(a) <= width and len(b) <= width:
        return f"{a} -> {b}"
    same = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    start = max(0, same - width // 3)

    def cut(t: str) -> str:
        part = t[start:start + width]
        return ("..." if start else "") + part + ("..." if start + width < len(t) else "")

    return f"{cut(a)} -> {cut(b)}"


def _change_text(c: Change) -> str:
    if c.note:
        return f"{c.path} ({c.note})"
    return f"{c.path}: {pair(c.old, c.new)}"


def loss_text(rc: ResourceChange) -> str:
    """One line: what the update does to a data-holding resource and where its data ends up."""
    if rc.action == "removed" and not rc.retained:
        return f"the update deletes it ({rc.policy}): {rc.holds_data}"
    if rc.action == "removed":
        return (f"the update removes it ({rc.policy}: kept with its data, detached) and adds a resource of the same type, "
                "which starts empty")
    if not rc.retained:
        return f"the update replaces it with a new, empty one ({rc.policy}): {rc.holds_data}"
    return f"the update replaces it with a new, empty one ({rc.policy}: the old one is kept with its data, detached)"


def render_text(d: TemplateDiff, old_name: str, new_name: str, allowed: Iterable[str] = (), max_changes: int = 8) -> str:
    """A summary a person reads before deploying: every change, what forces each replacement, and the data it risks."""
    allow = set(allowed)
    lines = [f"Comparing {old_name} (deployed) with {new_name}"]
    if d.empty:
        lines.append("No changes.")
        return "\n".join(lines) + "\n"
    counts = d.counts()
    lines.append("Resources: " + ", ".join(f"{counts[a]} {'metadata only' if a == 'metadata' else a}" for a in ACTIONS))
    marks = {"added": "+", "removed": "-", "modified": "~", "replaced": "!", "metadata": "="}
    heads = {"replaced": "Replaced (a new physical resource; the old one is deleted)", "removed": "Removed",
             "added": "Added", "modified": "Modified in place", "metadata": "Metadata only (the resource is not touched)"}
    for action in ACTIONS:
        group = d.of(action)
        if not group:
            continue
        lines += ["", f"{heads[action]}:"]
        for rc in group:
            type_text = f"{rc.old_type} -> {rc.type}" if rc.old_type else rc.type
            flag = (" DATA LOSS" + (" (the old one is retained, detached)" if rc.retained else "")) if rc.data_loss else (
                " retained, detached from the stack" if rc.retained else "")
            if rc.data_loss and rc.logical_id in allow:
                flag += " (allowed)"
            lines.append(f"  {marks[action]} {rc.logical_id}  {type_text}{flag}")
            for r in rc.replacement:
                lines.append(f"      replaced because {r.property}: {r.reason}")
            shown = rc.changes if action != "metadata" else rc.metadata
            for c in shown[:max_changes]:
                lines.append(f"      {_change_text(c)}")
            if len(shown) > max_changes:
                lines.append(f"      ... and {len(shown) - max_changes} more (--format json lists them all)")
            for note in rc.notes:
                lines.append(f"      note: {note}")
    if d.sections:
        lines += ["", "Template sections:"]
        for s in d.sections:
            where = f"{s.section}.{s.name}" if s.name else s.section
            detail = ", ".join(_change_text(c) if c.path else pair(c.old, c.new) for c in s.changes[:max_changes])
            extra = f": {detail}" if detail else ""
            lines.append(f"  {s.action} {where}{extra}" + (f" (note: {s.note})" if s.note else ""))
    if d.data_loss:
        lines += ["", "Data loss:"]
        for rc in d.data_loss:
            allowed_text = "allowed by --allow-data-loss" if rc.logical_id in allow else f"allow it with --allow-data-loss {rc.logical_id}"
            lines.append(f"  {rc.logical_id} ({rc.old_type or rc.type}): {loss_text(rc)}; {allowed_text}")
    if d.retained:
        lines += ["", "Retained, detached from the stack (it stays in the account, costs money, and no stack manages it):"]
        for rc in d.retained:
            lines.append(f"  {rc.logical_id} ({rc.type}): {rc.action}, kept by {rc.policy}")
    return "\n".join(lines) + "\n"


def render_json(d: TemplateDiff, old_name: str, new_name: str, allowed: Iterable[str] = ()) -> str:
    data = {"against": old_name, "new": new_name, **d.to_dict(allowed)}
    return json.dumps(data, indent=2, default=str) + "\n"
