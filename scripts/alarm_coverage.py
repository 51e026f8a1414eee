#!/usr/bin/env python3
"""Compare the alarms of CloudFormation templates with AWS's recommended alarms, resource by resource.

The recommendations are tests/fixtures/aws_recommended_alarms.json (AWS's list, transcribed with its date, kept apart
from msgen's alarm table). For every resource a template declares and every recommendation that applies to it, the
template has an alarm with AWS's settings (``same``), one that differs (``differs``, with the fields), or none
(``missing``). What a resource is and which recommendations apply to it is decided here, from the template alone,
not from the alarm table: a recommendation the table forgets still shows up.

:func:`judge` then holds the findings against the alarm table (generator.alarm_table): a difference must be a
deviation the table records with its reason, an absence must be a recommendation the table leaves out with its
reason (or an alarm it emits only when the spec asks), and the table must not record deviations that are not there.
tests/test_recommended_alarms.py runs it on every blueprint; run it yourself to measure coverage:

    python scripts/alarm_coverage.py [TEMPLATE.yaml ...]        (default: every blueprint, synthesized now)
    python scripts/alarm_coverage.py --json ...
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator import alarm_table  # noqa: E402
from generator.alarm_table import Alarm, NotEmitted, aws_kind  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "aws_recommended_alarms.json"
ANY = object()  # a dimension whose value may be anything (DynamoDB's Operation)

# What each resource type is, for the recommendations (queues and topics are refined below).
KIND_OF_TYPE = {
    "AWS::ApiGateway::Stage": "api",
    "AWS::Lambda::Function": "function",
    "AWS::DynamoDB::Table": "table",
    "AWS::SQS::Queue": "queue",
    "AWS::SNS::Topic": "topic",
    "AWS::RDS::DBCluster": "database",
    "AWS::RDS::DBInstance": "database",
    "AWS::ECS::Service": "container_service",
    "AWS::ECS::Cluster": "container_service",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "load_balancer",
    "AWS::CloudFront::Distribution": "distribution",
    "AWS::StepFunctions::StateMachine": "workflow",
    "AWS::Events::Rule": "events_rule",
    "AWS::OpenSearchServerless::Collection": "collection",
}
# Account-level recommendations apply to a template that has a resource of their namespace.
ACCOUNT_KIND = {"AWS/Lambda": ("AWS::Lambda::Function", "function"), "AWS/DynamoDB": ("AWS::DynamoDB::Table", "table")}
FIELDS = ("statistic", "period", "evaluation_periods", "datapoints_to_alarm", "comparison_operator", "treat_missing_data")


@cache
def fixture() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def key(rec: dict[str, Any]) -> tuple[str, str, tuple[str, ...]]:
    return rec["namespace"], rec["metric"], tuple(sorted(rec["dimensions"]))


def describe(rec: dict[str, Any]) -> str:
    return f"{rec['namespace']} {rec['metric']} ({', '.join(rec['dimensions']) or 'account'})"


@dataclass
class Finding:
    lid: str  # the resource ('' for an account-level recommendation)
    kind: str
    rec: dict[str, Any]
    status: str  # same, differs, missing
    diffs: set[str] = field(default_factory=set)
    alarms: list[str] = field(default_factory=list)


# --- the template's resources -------------------------------------------------------------------------------------
def _ref(value: Any) -> str | None:
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            att = value["Fn::GetAtt"]
            return att[0] if isinstance(att, list) else att.split(".")[0]
    return None


def classify(resources: dict[str, Any]) -> dict[str, str]:
    """Logical ID -> kind, for the resources recommendations can apply to."""
    dead_letter_targets: set[str] = set()
    alarm_topics: set[str] = set()
    for res in resources.values():
        props = res.get("Properties", {})
        for policy in (props.get("RedrivePolicy"),):
            if isinstance(policy, dict) and _ref(policy.get("deadLetterTargetArn")):
                dead_letter_targets.add(_ref(policy["deadLetterTargetArn"]))
        if _ref((props.get("DeadLetterConfig") or {}).get("TargetArn")):
            dead_letter_targets.add(_ref(props["DeadLetterConfig"]["TargetArn"]))
        for target in props.get("Targets") or []:
            if isinstance(target, dict) and _ref((target.get("DeadLetterConfig") or {}).get("Arn")):
                dead_letter_targets.add(_ref(target["DeadLetterConfig"]["Arn"]))
        if res["Type"] == "AWS::CloudWatch::Alarm":
            alarm_topics.update(filter(None, (_ref(a) for a in props.get("AlarmActions") or [])))
    kinds = {}
    for lid, res in resources.items():
        kind = KIND_OF_TYPE.get(res["Type"])
        if kind == "queue" and lid in dead_letter_targets:
            kind = "dead_letter_queue"
        elif kind == "topic" and lid in alarm_topics:
            kind = "alarm_topic"
        if kind:
            kinds[lid] = kind
    return kinds


def _identity(name: str, lid: str, res: dict[str, Any], resources: dict[str, Any]) -> Any:
    """The value a metric's dimension has when it is about this resource."""
    props, rtype = res.get("Properties", {}), res["Type"]
    if name in ("FunctionName", "TableName", "DBInstanceIdentifier", "DBClusterIdentifier", "DistributionId"):
        return {"Ref": lid}
    if name in ("QueueName", "TopicName"):
        return {"Fn::GetAtt": [lid, name]}
    if name == "ClusterName":
        return {"Ref": lid} if rtype == "AWS::ECS::Cluster" else props.get("Cluster")
    if name == "ServiceName":
        return {"Fn::GetAtt": [lid, "Name"]}
    if name == "Role":
        return "WRITER"
    if name == "Region":
        return "Global"
    if name == "ApiName":
        return resources.get(_ref(props.get("RestApiId")) or "", {}).get("Properties", {}).get("Name")
    if name == "Stage":
        return props.get("StageName")
    if name == "Operation":
        return ANY
    raise KeyError(f"{name}: no rule for this dimension of {rtype}; add one to scripts/alarm_coverage.py")


def applies(rec: dict[str, Any], res: dict[str, Any]) -> bool:
    """Whether a recommendation is about this resource, and the metric exists for it."""
    if rec["resource"] != res["Type"]:
        return False
    props, dims = res.get("Properties", {}), set(rec["dimensions"])
    if "GlobalSecondaryIndexName" in dims:
        return bool(props.get("GlobalSecondaryIndexes"))
    if "DelegatedOperation" in dims:  # Kinesis Data Streams destinations
        return bool(props.get("KinesisStreamSpecification"))
    if "ReceivingRegion" in dims:  # global tables
        return bool(props.get("Replicas"))
    return True


def expectations(rec: dict[str, Any], lid: str, res: dict[str, Any], resources: dict[str, Any]) -> list[dict[str, Any]]:
    """The dimension values identifying the resource, once per index for index metrics."""
    names = [d for d in rec["dimensions"] if d != "GlobalSecondaryIndexName"]
    base = {d: _identity(d, lid, res, resources) for d in names}
    if "GlobalSecondaryIndexName" in rec["dimensions"]:
        return [{**base, "GlobalSecondaryIndexName": i["IndexName"]} for i in res["Properties"]["GlobalSecondaryIndexes"]]
    return [base]


# --- the template's alarms ----------------------------------------------------------------------------------------
@dataclass
class Read:
    namespace: Any
    metric: str
    dims: dict[str, Any]
    statistic: str | None
    period: int | None


def reads(alarm: dict[str, Any]) -> list[Read]:
    props = alarm["Properties"]
    if "MetricName" in props:
        return [Read(props.get("Namespace"), props["MetricName"], {d["Name"]: d["Value"] for d in props.get("Dimensions", [])},
                     props.get("Statistic") or props.get("ExtendedStatistic"), props.get("Period"))]
    out = []
    for q in props.get("Metrics", []):
        if "MetricStat" in q:
            m = q["MetricStat"]["Metric"]
            out.append(Read(m.get("Namespace"), m["MetricName"], {d["Name"]: d["Value"] for d in m.get("Dimensions", [])},
                            q["MetricStat"].get("Stat"), q["MetricStat"].get("Period")))
    return out


def _is_expression(alarm: dict[str, Any]) -> bool:
    """The alarm compares a metric-math result, not the metric itself (an anomaly band compares the metric)."""
    props = alarm["Properties"]
    band = props.get("ThresholdMetricId")
    return any(q.get("ReturnData") and "Expression" in q and q["Id"] != band for q in props.get("Metrics", []))


def compare(rec: dict[str, Any], alarm: dict[str, Any], read: Read, same_dims: bool) -> set[str]:
    props = alarm["Properties"]
    actual = {"statistic": read.statistic, "period": read.period, "evaluation_periods": props.get("EvaluationPeriods"),
              "datapoints_to_alarm": props.get("DatapointsToAlarm", props.get("EvaluationPeriods")),
              "comparison_operator": props.get("ComparisonOperator"), "treat_missing_data": props.get("TreatMissingData", "missing")}
    diffs = {f for f in FIELDS if actual[f] != rec[f]}
    if rec["threshold"] is not None and ("Threshold" not in props or float(props["Threshold"]) != float(rec["threshold"])):
        diffs.add("threshold")
    if "Threshold" not in props and rec["threshold"] is None:
        diffs.add("threshold")  # an anomaly band where AWS means a number
    if not same_dims:
        diffs.add("dimensions")
    if _is_expression(alarm):
        diffs.add("metric")
    return diffs


def _matches(read: Read, namespace: str, metric: str, expected: dict[str, Any]) -> tuple[bool, bool]:
    """(is about this resource, with exactly the recommendation's dimensions)."""
    if read.namespace != namespace or read.metric != metric:
        return False, False
    # about: every dimension of the recommendation, with this resource's value (more dimensions: a finer series of it)
    about = all(n in read.dims and (v is ANY or read.dims[n] == v) for n, v in expected.items())
    return about, about and set(read.dims) == set(expected)


def substitutes(kind: str, rec: dict[str, Any]) -> set[tuple[str, str]]:
    """Metrics the alarm table reads in place of a recommendation's own (its 'metric' deviations)."""
    out = set()
    for _, row in _rows_for(kind, rec):
        reads_it = {(q.namespace or row.namespace, q.metric) for q in row.queries} | {(row.namespace, row.metric)}
        if "metric" in row.deviation and (rec["namespace"], rec["metric"]) not in reads_it:
            out.add((row.namespace, row.metric))
    return out


def check(template: dict[str, Any]) -> list[Finding]:
    """For every resource of the template and every recommendation that applies to it: same, differs or missing."""
    resources = template.get("Resources", {})
    kinds = classify(resources)
    alarms = {lid: r for lid, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    findings: list[Finding] = []
    recs = fixture()["alarms"]
    for rec in recs:
        if rec["resource"] == "account":
            rtype, kind = ACCOUNT_KIND.get(rec["namespace"], (None, None))
            if any(r["Type"] == rtype for r in resources.values()):
                hit = [a for a, alarm in alarms.items() if any(rd.namespace == rec["namespace"] and rd.metric == rec["metric"]
                                                                 and not rd.dims for rd in reads(alarm))]
                findings.append(Finding("", kind, rec, "same" if hit else "missing", alarms=hit))
    for lid, kind in kinds.items():
        res = resources[lid]
        for rec in recs:
            if not applies(rec, res):
                continue
            for expected in expectations(rec, lid, res, resources):
                findings.append(_find(rec, lid, kind, res, expected, alarms, resources))
    return findings


def _find(rec, lid, kind, res, expected, alarms, resources) -> Finding:
    best: Finding | None = None
    for alid, alarm in alarms.items():
        for read in reads(alarm):
            about, exact = _matches(read, rec["namespace"], rec["metric"], expected)
            if about:
                diffs = compare(rec, alarm, read, exact)
                f = Finding(lid, kind, rec, "same" if not diffs else "differs", diffs, [alid])
                if best is None or len(f.diffs) < len(best.diffs):
                    best = f
    if best is None:  # an alarm on another metric standing in for this one (the table says which), on a related resource
        for namespace, metric in substitutes(kind, rec):
            for alid, alarm in alarms.items():
                for read in reads(alarm):
                    if read.namespace == namespace and read.metric == metric:
                        diffs = compare(rec, alarm, read, False) | {"metric"}
                        diffs.discard("dimensions")
                        return Finding(lid, kind, rec, "differs", diffs, [alid])
    if best is None and rec["namespace"] == "AWS/RDS":  # the old cluster-level alarms: same metric, the cluster's dimension
        for alid, alarm in alarms.items():
            for read in reads(alarm):
                if read.namespace == "AWS/RDS" and read.metric == rec["metric"]:
                    return Finding(lid, kind, rec, "differs", compare(rec, alarm, read, False), [alid])
    return best or Finding(lid, kind, rec, "missing")


# --- the alarm table's account of them ----------------------------------------------------------------------------
def _rows_for(kind: str, rec: dict[str, Any]) -> list[tuple[str, Alarm]]:
    return [(k, row) for k, rows in alarm_table.ALARMS.items() for row in rows
            if any(a.key == key(rec) and aws_kind(k, a) == kind for a in row.aws)]


def _skips_for(kind: str, rec: dict[str, Any]) -> list[NotEmitted]:
    return [s for s in alarm_table.NOT_EMITTED.get(kind, ()) if s.aws.key == key(rec)]


@dataclass
class Verdict:
    finding: Finding
    outcome: str  # aws (present with AWS's settings), deviation (present, differences recorded), reason (absent, recorded)
    problems: list[str]
    reasons: dict[str, str] = field(default_factory=dict)


def judge(finding: Finding) -> Verdict:
    rec, kind = finding.rec, finding.kind
    rows, skips = _rows_for(kind, rec), _skips_for(kind, rec)
    where = f"{finding.lid or 'account'} ({kind}): {describe(rec)}"
    problems: list[str] = []
    if not rows and not skips:
        return Verdict(finding, "forgotten", [f"{where}: not in the alarm table (generator/alarm_table.py): emit it, or add a "
                                              f"NotEmitted with the reason"])
    if rows and skips:
        problems.append(f"{where}: the alarm table both emits it and leaves it out")
    if finding.status == "missing":
        gated = [row for _, row in rows if row.when]
        if skips:
            return Verdict(finding, "reason", problems, {"not emitted": skips[0].reason})
        if gated:
            return Verdict(finding, "reason", problems, {"not emitted": gated[0].when_text})
        return Verdict(finding, "missing", problems + [f"{where}: the alarm table has a row for it, but the template has no such alarm"])
    if skips:
        problems.append(f"{where}: the alarm table says it is not emitted, but {', '.join(finding.alarms)} watches it")
    recorded = {f: r for _, row in rows for f, r in row.deviation.items()}
    unrecorded = sorted(finding.diffs - set(recorded))
    if unrecorded:
        problems.append(f"{where}: {', '.join(finding.alarms)} differs from AWS in {', '.join(unrecorded)} "
                        "with no reason recorded in the alarm table")
    allowed = finding.diffs | ({"threshold"} if rec["threshold"] is None else set())
    stale = sorted(set(recorded) - allowed)
    if stale:
        problems.append(f"{where}: the alarm table records a deviation in {', '.join(stale)}, but the alarm has AWS's setting there")
    outcome = "deviation" if recorded else "aws"
    return Verdict(finding, outcome, problems, recorded)


# --- command line -------------------------------------------------------------------------------------------------
def summary(findings: list[Finding]) -> dict[str, Any]:
    """Per (kind, recommendation): the worst outcome over the resources of that kind."""
    order = ("forgotten", "missing", "reason", "deviation", "aws")
    by: dict[tuple[str, str], str] = {}
    raw: dict[tuple[str, str], str] = {}
    for f in findings:
        v = judge(f)
        k = (f.kind, describe(f.rec))
        if k not in by or order.index(v.outcome) < order.index(by[k]):
            by[k] = v.outcome
        rank = ("missing", "differs", "same")
        if k not in raw or rank.index(f.status) < rank.index(raw[k]):
            raw[k] = f.status
    return {"by_recommendation": {f"{k[0]}: {k[1]}": v for k, v in sorted(by.items())}, "outcomes": dict(Counter(by.values())),
            "raw": dict(Counter(raw.values())), "raw_by_recommendation": {f"{k[0]}: {k[1]}": v for k, v in sorted(raw.items())}}


def _templates(paths: list[str]) -> dict[str, dict[str, Any]]:
    from cfnlint.decode import decode_str

    if paths:
        return {Path(p).name: decode_str(Path(p).read_text(encoding="utf-8"))[0] for p in paths}
    from generator.resources import blueprints
    from generator.spec import load_spec
    from generator.synth.pipeline import build_template

    return {bp.name: build_template(load_spec(bp.path)) for bp in blueprints()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("templates", nargs="*", help="template files (default: every blueprint, synthesized)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    out = {}
    for name, template in _templates(args.templates).items():
        findings = check(template)
        out[name] = summary(findings) | {"problems": [p for f in findings for p in judge(f).problems]}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    for name, s in out.items():
        print(f"{name}: {sum(s['outcomes'].values())} recommendations apply; table: {s['outcomes']}; template alone: {s['raw']}")
        for p in s["problems"]:
            print(f"  PROBLEM {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
