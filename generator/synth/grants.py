"""What `uses:` entries grant: policy statements and environment variables, rendered from the kinds table."""

from __future__ import annotations

from typing import Any

from troposphere import GetAtt, Ref, Sub

from generator.kinds import KMS_ACTIONS, Kind, Use
from generator.plan import ServicePlan
from generator.synth.policy import statement


def _fields(plan: ServicePlan, kind: Kind, name: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"id": kind.logical_id(name), "name": name, "service": plan.spec.service}
    if kind.singleton:  # e-mail and the database take their settings from their own section of the spec
        section: Any = plan.spec
        for key in kind.section or ():
            section = getattr(section, key)
        if hasattr(section, "model_dump"):
            fields.update(section.model_dump())
    return fields


def _details(uses: tuple[Use, ...], name: str) -> list[str] | None:
    """The details the uses of ``name`` narrow it to (routes, detail-types), sorted; None when one use takes all of it."""
    details = {u.detail for u in uses if u.target == name}
    return None if "" in details else sorted(details)


def value(pattern: str, fields: dict[str, Any]) -> Any:
    """A value pattern of the kinds table as CloudFormation: Arn, Ref, GetAtt:<attribute>, an Fn::Sub pattern, or text."""
    lid = fields["id"]
    if pattern == "Arn":
        return GetAtt(lid, "Arn")
    if pattern == "Ref":
        return Ref(lid)
    if pattern.startswith("GetAtt:"):
        return GetAtt(lid, pattern.partition(":")[2])
    text = pattern.format(**fields)
    return Sub(text) if "${" in text else text


def grants(plan: ServicePlan, key_arn: Any, uses: tuple[Use, ...]) -> tuple[list[dict], dict[str, Any]]:
    """Policy statements and environment variables that ``uses`` entries imply, plus the service key's share."""
    statements: list[dict] = []
    env: dict[str, Any] = {}
    kms_levels: set[str] = {"read"}  # environment variables are encrypted with the key
    for name, levels in sorted(plan.access(uses).items()):
        kind = plan.kinds[name]
        kms_levels |= {kind.kms[level] for level in levels}
        fields = _fields(plan, kind, name)
        details = _details(uses, name) if kind.detail else None
        for grant in kind.grants:
            actions = [a for level in sorted(levels) for a in grant.actions.get(level, ())]
            if not actions:
                continue
            parts = [kind.detail_part(d) if kind.detail_part else d for d in details] if details else [grant.whole]
            resources = [value(r, {**fields, "detail": part}) for r in grant.resources for part in (parts if "{detail}" in r else [None])]
            condition = {op: {k: value(v, fields) for k, v in cond.items()} for op, cond in (grant.condition or {}).items()}
            if grant.detail_condition and details:
                condition.setdefault("StringEquals", {})[grant.detail_condition] = details
            extra = {"Condition": condition} if condition else {}
            statements.append(statement(actions, resources if len(resources) > 1 else resources[0], sid=grant.sid.format(**fields), **extra))
        if kind.env:
            env[kind.env_name(name)] = value(kind.env_value, fields)
        env.update({var: value(pattern, fields) for var, pattern in kind.env_vars.items()})
    actions = sorted({a for level in kms_levels for a in KMS_ACTIONS[level]})
    statements.append(statement(actions, key_arn, sid="ServiceKey"))
    return statements, env
