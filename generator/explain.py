"""`msgen explain`: what each element of a spec became, what it may do, what watches it, and what it costs idle.

For every element of the spec (the service, each route, table, queue, workflow, ...) with its ``file:line``:
the resources it produced (logical ID, type, the one-line why of ``Metadata.msgen.description``), the IAM
actions each of its ``uses:`` granted and on what, the alarms watching it, and an idle monthly cost: what the
stack costs with zero traffic, from the price table shipped in the package (``generator/data/prices.json``,
with its region and date). Every resource of the template is accounted for exactly once.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources as importlib_resources
from typing import Any

from generator import sources
from generator.kinds import Use


@cache
def price_table() -> dict[str, Any]:
    return json.loads(importlib_resources.files("generator").joinpath("data/prices.json").read_text(encoding="utf-8"))


def _rate(table: dict[str, Any], rtype: str, name: str) -> float:
    return float(table["resources"][rtype]["prices"][name]["rate"])


def idle_monthly(rtype: str, props: dict[str, Any], resources: dict[str, Any], table: dict[str, Any] | None = None) -> tuple[float, str]:
    """What one resource costs a month with zero traffic, and how it is priced: "fixed", "by use" or "free"."""
    table = table or price_table()
    hours = table["hours_per_month"]
    if rtype in table["free"]:
        return 0.0, "free"
    if rtype in table["by_use"]:
        return 0.0, "by use"
    if rtype not in table["resources"]:
        raise KeyError(f"{rtype} is not in the price table")
    entry = table["resources"][rtype]
    if rtype == "AWS::CloudWatch::Alarm":
        if "ThresholdMetricId" in props:
            metrics = _rate(table, rtype, "anomaly_detection_alarm_metrics")
        elif "Metrics" in props:
            metrics = sum(1 for m in props["Metrics"] if "MetricStat" in m)
        else:
            metrics = 1
        return metrics * _rate(table, rtype, "alarm_metric"), "fixed"
    if rtype == "AWS::ApiGateway::Stage":
        return (_rate(table, rtype, "cache_0_5_gb_hour") * hours if props.get("CacheClusterEnabled") else 0.0), "fixed"
    if rtype in ("AWS::EC2::VPCEndpoint", "AWS::OpenSearchServerless::VpcEndpoint"):
        if props.get("VpcEndpointType", "Interface") != "Interface":
            return 0.0, "free"
        return _rate(table, rtype, "interface_endpoint_az_hour") * hours * len(props.get("SubnetIds") or []), "fixed"
    if rtype == "AWS::ECS::Cluster":
        insights = any(s.get("Name") == "containerInsights" and s.get("Value") in ("enabled", "enhanced")
                       for s in props.get("ClusterSettings") or [])
        return (_rate(table, rtype, "container_insights_metrics") * _rate(table, rtype, "custom_metric") if insights else 0.0), "fixed"
    if rtype == "AWS::ECS::Service":
        task = resources.get(_ref(props.get("TaskDefinition")), {}).get("Properties", {})
        arch = "arm64" if (task.get("RuntimePlatform") or {}).get("CpuArchitecture") == "ARM64" else "x86_64"
        vcpu, gb = float(task.get("Cpu", 256)) / 1024, float(task.get("Memory", 512)) / 1024
        per_task = vcpu * _rate(table, rtype, f"{arch}_vcpu_hour") + gb * _rate(table, rtype, f"{arch}_gb_hour")
        return int(props.get("DesiredCount", 1)) * per_task * hours, "fixed"
    if rtype == "AWS::RDS::DBInstance":
        cluster = resources.get(_ref(props.get("DBClusterIdentifier")), {}).get("Properties", {})
        acu = float((cluster.get("ServerlessV2ScalingConfiguration") or {}).get("MinCapacity", 0.5))
        return acu * _rate(table, rtype, "acu_hour") * hours, "fixed"
    if rtype == "AWS::OpenSearchServerless::Collection":
        ocus = _rate(table, rtype, "min_ocus_standby_enabled" if props.get("StandbyReplicas", "ENABLED") == "ENABLED"
                     else "min_ocus_standby_disabled")
        return ocus * _rate(table, rtype, "ocu_hour") * hours, "fixed"
    if rtype == "AWS::ApplicationAutoScaling::ScalingPolicy" and props.get("PolicyType") != "TargetTrackingScaling":
        return 0.0, "free"
    if entry.get("monthly") is None:
        raise KeyError(f"{rtype}: the price table has no fixed monthly price and explain has no rule for it")
    return float(entry["monthly"]), "fixed"


def _ref(value: Any) -> str:
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    return str(value)


def show(value: Any) -> str:
    """An intrinsic as a reviewer reads it: ``PaymentsTable.Arn``, ``${PaymentsTable.Arn}/index/*``, ``AlarmTopic``."""
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Ref":
            return str(arg)
        if fn == "Fn::GetAtt":
            return ".".join(arg) if isinstance(arg, list) else str(arg)
        if fn == "Fn::Sub":
            return arg if isinstance(arg, str) else str(arg[0])
        if fn == "Fn::If":
            return f"if {arg[0]}: {show(arg[1])} else {show(arg[2])}"
    if isinstance(value, list):
        return ", ".join(show(v) for v in value)
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else str(value)


@dataclass
class Resource:
    logical_id: str
    type: str
    why: str
    idle_monthly: float
    priced: str  # fixed, by use, free


@dataclass
class GrantLine:
    holder: str  # the function, container or workflow that holds the permission
    use: str
    actions: list[str]
    on: list[str]


@dataclass
class Element:
    source: str
    file: str
    line: int
    resources: list[Resource] = field(default_factory=list)
    grants: list[GrantLine] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)

    @property
    def idle_monthly(self) -> float:
        return round(sum(r.idle_monthly for r in self.resources), 2)


@dataclass
class Explanation:
    service: str
    pattern: str
    file: str
    region: str
    currency: str
    prices_checked: str
    elements: list[Element]

    @property
    def idle_monthly(self) -> float:
        return round(sum(e.idle_monthly for e in self.elements), 2)

    @property
    def resource_count(self) -> int:
        return sum(len(e.resources) for e in self.elements)

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service, "pattern": self.pattern, "file": self.file, "region": self.region, "currency": self.currency,
            "prices_checked": self.prices_checked, "resources": self.resource_count, "idle_monthly": self.idle_monthly,
            "elements": [{**asdict(e), "idle_monthly": e.idle_monthly} for e in self.elements],
        }


def _grant_lines(loaded: Any, plan: Any) -> dict[str, list[GrantLine]]:
    """Per spec element: what each `uses:` entry of its functions, container or workflows grants."""
    from troposphere import encode_to_dict

    from generator.plan import parse_uses
    from generator.synth.grants import grants

    key = {"Fn::GetAtt": ["ServiceKey", "Arn"]}
    holders: list[tuple[str, str, tuple[Use, ...]]] = []
    for fn in plan.functions:
        if fn.routes:  # each route declares its own uses; the function serving it holds them
            holders += [(sources.route(r.method, r.path), f"function {fn.name}", parse_uses(r.uses)) for r in fn.routes]
        else:
            holders.append((fn.element, f"function {fn.name}", fn.uses))
    if plan.container_uses:
        holders.append(("container", "container task role", plan.container_uses))
    holders += [(sources.named("workflows", w.name), f"workflow {w.name}", parse_uses(w.uses)) for w in loaded.spec.workflows]
    out: dict[str, list[GrantLine]] = {}
    for element, holder, uses in holders:
        for use in uses:
            if use.target not in plan.kinds:
                continue
            statements, _ = grants(plan, key, (use,))
            for st in encode_to_dict(statements):
                resources = st["Resource"]
                out.setdefault(element, []).append(GrantLine(holder, str(use), st["Action"], [show(r) for r in resources]))
    return out


def explain(loaded: Any) -> Explanation:
    """Explain a loaded spec (generator.api.LoadedSpec)."""
    from generator.plan import build_plan
    from generator.synth.pipeline import build_template

    data = build_template(loaded.spec)
    resources = data["Resources"]
    table = price_table()
    plan = build_plan(loaded.spec)
    elements: dict[str, Element] = {}
    loc = loaded.located

    def element(source: str) -> Element:
        if source not in elements:
            path = sources.to_path(source, loc.data) or (source.split(".")[0].split("[")[0],)
            line, _ = loc.position(path, key=len(path) == 1)
            elements[source] = Element(source, loaded.display, line)
        return elements[source]

    for lid, res in resources.items():
        meta = res.get("Metadata", {}).get("msgen", {})
        props = res.get("Properties", {})
        cost, priced = idle_monthly(res["Type"], props, resources, table)
        el = element(meta["source"])
        el.resources.append(Resource(lid, res["Type"], meta.get("description", ""), round(cost, 4), priced))
        if res["Type"] in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"):
            el.alarms.append(show(props.get("AlarmName", lid)))
    for source, lines in _grant_lines(loaded, plan).items():
        element(source).grants.extend(lines)
    ordered = sorted(elements.values(), key=lambda e: (e.line, e.source))
    return Explanation(loaded.spec.service, loaded.spec.pattern, loaded.display, table["region"], table["currency"], table["checked"], ordered)


def _money(value: float) -> str:
    return f"${value:,.2f}"


def render_text(ex: Explanation) -> str:
    out = [f"{ex.service} ({ex.pattern}) from {ex.file}: {ex.resource_count} resources; idle cost {_money(ex.idle_monthly)} a month "
           f"({ex.region}, {ex.currency}, prices checked {ex.prices_checked}; traffic is billed on top, by use)", ""]
    for e in ex.elements:
        out.append(f"{e.file}:{e.line}: {e.source}  [{len(e.resources)} resources, idle {_money(e.idle_monthly)}/month]")
        for r in e.resources:
            cost = _money(r.idle_monthly) if r.priced == "fixed" else r.priced
            out.append(f"    {r.logical_id:<48} {r.type:<40} {cost:>9}  {r.why}")
        for g in e.grants:
            out.append(f"    grants ({g.holder}) {g.use}: {', '.join(g.actions)} on {', '.join(g.on)}")
        if e.alarms:
            out.append(f"    watched by {len(e.alarms)} alarm(s): {', '.join(e.alarms)}")
        out.append("")
    return "\n".join(out)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(ex: Explanation) -> str:
    out = [f"# {ex.service} ({ex.pattern})", "",
           f"{ex.resource_count} resources from `{ex.file}`. **Idle cost: {_money(ex.idle_monthly)} a month** "
           f"({ex.region}, {ex.currency}, prices checked {ex.prices_checked}); traffic is billed on top, by use.", "",
           "| Element | Where | Resources | Idle / month |", "|---|---|---:|---:|"]
    out += [f"| `{e.source}` | `{e.file}:{e.line}` | {len(e.resources)} | {_money(e.idle_monthly)} |" for e in ex.elements]
    for e in ex.elements:
        out += ["", f"## `{e.source}` ({e.file}:{e.line})", "", "| Logical ID | Type | Idle / month | Why |", "|---|---|---:|---|"]
        out += [f"| `{r.logical_id}` | `{r.type}` | {_money(r.idle_monthly) if r.priced == 'fixed' else r.priced} | {_cell(r.why)} |"
                for r in e.resources]
        if e.grants:
            out += ["", "Permissions its `uses:` granted:", ""]
            out += [f"- {g.holder}, `{g.use}`: {', '.join(f'`{a}`' for a in g.actions)} on {', '.join(f'`{o}`' for o in g.on)}"
                    for g in e.grants]
        if e.alarms:
            out += ["", f"Watched by: {', '.join(f'`{a}`' for a in e.alarms)}"]
    return "\n".join(out) + "\n"


def render(ex: Explanation, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(ex.to_dict(), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return render_markdown(ex)
    return render_text(ex) + "\n"
