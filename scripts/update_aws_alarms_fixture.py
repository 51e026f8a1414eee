#!/usr/bin/env python3
"""Regenerate tests/fixtures/aws_recommended_alarms.json from AWS's machine-readable recommended-alarms list.

The source is ``metric_metadata.json`` of the CloudWatch MCP server in ``awslabs/mcp``
(src/cloudwatch-mcp-server/awslabs/cloudwatch_mcp_server/cloudwatch_metrics/data/metric_metadata.json), AWS's copy of
the CloudWatch page "Best practice alarm recommendations for AWS services". The fixture keeps the recommendations for
the kinds of resource msgen emits, transcribed field by field, and is reviewed like a golden file: run this, then read
``git diff tests/fixtures`` and compare a few entries with the source before committing.

    python scripts/update_aws_alarms_fixture.py PATH/metric_metadata.json \\
        --commit <40 hex> --commit-date <ISO date> [--path-commit <40 hex> --path-commit-date <ISO date>] [--date YYYY-MM-DD]
    python scripts/update_aws_alarms_fixture.py PATH/metric_metadata.json --check

When the source file is byte-identical to the one the fixture was made from (same sha256), the source metadata and the
transcription date are taken from the existing fixture, so a rerun reproduces it exactly; --check then exits 1 if the
fixture differs from what this script makes. A new source file needs --commit and --commit-date.

Nothing here decides whether msgen should emit an alarm: the fixture only says what AWS recommends. The two filters
below (REST API stage alarms of API Gateway, Aurora PostgreSQL alarms of RDS) are the scope msgen emits, and every
recommendation they leave out is listed under "excluded" with its reason.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generated_file import write_or_check  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "tests" / "fixtures" / "aws_recommended_alarms.json"

REPOSITORY = "awslabs/mcp"
SOURCE_PATH = "src/cloudwatch-mcp-server/awslabs/cloudwatch_mcp_server/cloudwatch_metrics/data/metric_metadata.json"
PAGE_URL = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Best_Practice_Recommended_Alarms_AWS_Services.html"

# Namespaces of the resources msgen emits (the brief's list); those without any recommendation in the source are
# reported in the header, so "no alarm recommended" is visible rather than silently absent.
NAMESPACES = (
    "AWS/ApiGateway", "AWS/Lambda", "AWS/DynamoDB", "AWS/SQS", "AWS/SNS", "AWS/RDS", "AWS/ECS", "ECS/ContainerInsights",
    "AWS/CloudFront", "AWS/States", "AWS/Events", "AWS/ApplicationELB", "AWS/SES", "AWS/AOSS",
)

# API Gateway: msgen emits REST APIs, whose stage metrics carry ApiName and Stage.
REST_STAGE = ("ApiName", "Stage")

# RDS: msgen emits Aurora PostgreSQL (Serverless v2). Every RDS recommendation must be classified here, so a new one in
# the source stops this script until someone decides. Reasons quote the source, or the Aurora User Guide's
# "Instance-level metrics for Amazon Aurora" table (docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/
# Aurora.AuroraMonitoring.Metrics.html) where the source says nothing.
RDS_AURORA_POSTGRESQL = {
    "BufferCacheHitRatio", "CPUUtilization", "DBLoad", "DatabaseConnections", "EngineUptime", "FreeLocalStorage",
    "FreeableMemory", "MaximumUsedTransactionIDs", "ReadLatency", "StorageNetworkThroughput", "WriteLatency",
}
RDS_EXCLUDED = {
    "AuroraBinlogReplicaLag": "Aurora MySQL only (source intent: 'This alarm is recommended only for Aurora MySQL.')",
    "AuroraVolumeBytesLeftTotal": "Aurora MySQL only (source intent: 'This alarm is recommended only for Aurora MySQL.')",
    "RollbackSegmentHistoryListLength": "Aurora MySQL only (source intent: 'This alarm is recommended only for Aurora MySQL.')",
    "EBSByteBalance%": "source intent: 'This alarm is not recommended for Aurora PostgreSQL instances.'",
    "EBSIOBalance%": "source intent: 'This alarm is not recommended for Aurora instances.'",
    "BlockedTransactions": "Aurora User Guide, instance-level metrics: BlockedTransactions applies to Aurora MySQL only",
    "FreeStorageSpace": "not an Aurora metric (absent from the Aurora User Guide's metric tables; Aurora storage is the "
                        "cluster volume, which grows by itself)",
    "ReplicaLag": "RDS read replicas, not Aurora (source metric description: 'Applies to MariaDB, Microsoft SQL Server, "
                  "MySQL, Oracle, and PostgreSQL read replicas'; Aurora publishes AuroraReplicaLag)",
}

# What a dimension set identifies, so a test can match recommendations to the resources a template declares.
RESOURCES = {
    ("AWS/ApiGateway", ("ApiName", "Stage")): "AWS::ApiGateway::Stage",
    ("AWS/Lambda", ("FunctionName",)): "AWS::Lambda::Function",
    ("AWS/Lambda", ()): "account",
    ("AWS/DynamoDB", ()): "account",
    ("AWS/DynamoDB", ("TableName",)): "AWS::DynamoDB::Table",
    ("AWS/DynamoDB", ("GlobalSecondaryIndexName", "TableName")): "AWS::DynamoDB::Table",
    ("AWS/DynamoDB", ("Operation", "TableName")): "AWS::DynamoDB::Table",
    ("AWS/DynamoDB", ("DelegatedOperation", "TableName")): "AWS::DynamoDB::Table",
    ("AWS/DynamoDB", ("ReceivingRegion", "TableName")): "AWS::DynamoDB::Table",
    ("AWS/SQS", ("QueueName",)): "AWS::SQS::Queue",
    ("AWS/SNS", ("TopicName",)): "AWS::SNS::Topic",
    ("AWS/RDS", ("DBInstanceIdentifier",)): "AWS::RDS::DBInstance",
    ("AWS/RDS", ("DBClusterIdentifier", "Role")): "AWS::RDS::DBCluster",
    ("AWS/ECS", ("ClusterName",)): "AWS::ECS::Cluster",
    ("AWS/ECS", ("ClusterName", "ServiceName")): "AWS::ECS::Service",
    ("ECS/ContainerInsights", ("ClusterName",)): "AWS::ECS::Cluster",
    ("ECS/ContainerInsights", ("ClusterName", "ServiceName")): "AWS::ECS::Service",
    ("ECS/ContainerInsights", ("ClusterName", "ContainerInstanceId", "InstanceId")): "ECS container instance (EC2)",
    ("AWS/CloudFront", ("DistributionId", "Region")): "AWS::CloudFront::Distribution",
    ("AWS/CloudFront", ("DistributionId", "FunctionName", "Region")): "AWS::CloudFront::Function",
}

# Sentences in which AWS makes a recommendation optional or conditional, or says when the metric exists at all.
# They are copied verbatim into "conditions"; read them when reviewing, the patterns are deliberately broad.
CONDITION = re.compile(
    r"\boptional\b|\bnot recommended\b|\bdo not recommend\b|\bnot applicable\b|\brecommended only\b|\bonly for\b"
    r"|\bonly available\b|\bonly applies\b|\bapplies only\b|\bcollected only\b|\bgenerated only\b|\bonly if\b"
    r"|\bcreate this alarm (?:if|when)\b|\bapplies to global tables only\b|\bif you do not use\b|\byou must first\b",
    re.IGNORECASE,
)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`\[(0-9])")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(" ".join(text.split())) if s.strip()]


def first_sentence(text: str) -> str:
    found = sentences(text)
    return found[0] if found else ""


def number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def conditions(metric: dict[str, Any], rec: dict[str, Any]) -> list[dict[str, str]]:
    found, seen = [], set()
    for where, text in (("intent", rec["intent"]), ("alarm_description", rec["alarmDescription"]),
                        ("threshold_guidance", rec["threshold"]["justification"]), ("metric_description", metric["description"])):
        for s in sentences(text):
            if CONDITION.search(s) and s not in seen:
                seen.add(s)
                found.append({"from": where, "text": s})
    return found


def scope(namespace: str, metric: str, dimension_names: tuple[str, ...]) -> str | None:
    """None when msgen's scope keeps the recommendation, else the reason it is left out."""
    if namespace == "AWS/ApiGateway" and dimension_names != REST_STAGE:
        if "ApiId" in dimension_names:
            return "HTTP or WebSocket API (ApiId); msgen emits REST APIs (ApiName, Stage)"
        return "per resource and method of a REST API stage (needs detailed CloudWatch metrics); the brief keeps ApiName+Stage"
    if namespace == "AWS/RDS":
        if metric in RDS_EXCLUDED:
            return RDS_EXCLUDED[metric]
        if metric not in RDS_AURORA_POSTGRESQL:
            raise SystemExit(f"AWS/RDS {metric}: new recommendation in the source; classify it in RDS_AURORA_POSTGRESQL or "
                             "RDS_EXCLUDED (scripts/update_aws_alarms_fixture.py)")
    return None


def transcribe(metadata: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    alarms: list[dict[str, Any]] = []
    excluded: list[dict[str, Any]] = []
    for metric in metadata:
        namespace, name = metric["metricId"]["namespace"], metric["metricId"]["metricName"]
        if namespace not in NAMESPACES:
            continue
        for rec in metric.get("alarmRecommendations") or []:
            dimension_names = [d["name"] for d in rec["dimensions"]]
            reason = scope(namespace, name, tuple(dimension_names))
            if reason:
                excluded.append({"namespace": namespace, "metric": name, "dimensions": dimension_names, "reason": reason})
                continue
            key = (namespace, tuple(sorted(dimension_names)))
            if key not in RESOURCES:
                raise SystemExit(f"{namespace} {name} {dimension_names}: unknown dimension set; add it to RESOURCES")
            entry: dict[str, Any] = {
                "namespace": namespace,
                "metric": name,
                "dimensions": dimension_names,
            }
            values = {d["name"]: d["value"] for d in rec["dimensions"] if "value" in d}
            if values:
                entry["dimension_values"] = values
            static = rec["threshold"].get("staticValue")
            found = conditions(metric, rec)
            entry.update({
                "resource": RESOURCES[key],
                "statistic": rec["statistic"],
                "period": rec["period"],
                "evaluation_periods": rec["evaluationPeriods"],
                "datapoints_to_alarm": rec["datapointsToAlarm"],
                "comparison_operator": rec["comparisonOperator"],
                "threshold": None if static is None else number(static),
                "threshold_guidance": " ".join(rec["threshold"]["justification"].split()),
                "treat_missing_data": rec["treatMissingData"],
                "description": first_sentence(rec["alarmDescription"]),
                "intent": first_sentence(rec["intent"]),
                "optional_or_gated": bool(found),
                "conditions": found,
            })
            alarms.append(entry)

    def order(e: dict[str, Any]) -> tuple:
        return (e["namespace"], e["metric"], tuple(e["dimensions"]), e.get("statistic", ""), e.get("comparison_operator", ""))

    alarms.sort(key=order)
    excluded.sort(key=order)
    keys = [order(e) for e in alarms]
    if len(keys) != len(set(keys)):
        raise SystemExit("two recommendations share namespace, metric, dimensions, statistic and operator")
    return alarms, excluded


def render(source: Path, meta: dict[str, str], date: str) -> str:
    raw = source.read_bytes()
    metadata = json.loads(raw)
    alarms, excluded = transcribe(metadata)
    present = {e["namespace"] for e in alarms} | {e["namespace"] for e in excluded}
    counts: dict[str, int] = {}
    for e in alarms:
        counts[e["namespace"]] = counts.get(e["namespace"], 0) + 1
    header = {
        "source": {
            "repository": REPOSITORY,
            "path": SOURCE_PATH,
            "commit": meta["commit"],
            "commit_date": meta["commit_date"],
            "path_last_changed_commit": meta.get("path_commit"),
            "path_last_changed_date": meta.get("path_commit_date"),
            "sha256": hashlib.sha256(raw).hexdigest(),
        },
        "page": PAGE_URL,
        "transcribed": date,
        "generated_by": "scripts/update_aws_alarms_fixture.py",
        "scope": {
            "namespaces": list(NAMESPACES),
            "namespaces_without_recommendations": [n for n in NAMESPACES if n not in present],
            "AWS/ApiGateway": "REST API stage alarms only (dimensions ApiName, Stage)",
            "AWS/RDS": "Aurora PostgreSQL only",
        },
        "notes": [
            "Every recommendation of the source for the listed namespaces is either in 'alarms' or in 'excluded' with its reason.",
            "threshold is AWS's number, or null where AWS gives only guidance (threshold_guidance, verbatim).",
            "description and intent are the first sentence of the page's text; conditions are the page's sentences that make "
            "the alarm optional or conditional, or say when the metric exists (verbatim; 'from' names the field).",
            "resource is the CloudFormation type the dimensions identify ('account' = account-level, no dimensions).",
        ],
        "counts": {"alarms": len(alarms), "excluded": len(excluded), "by_namespace": dict(sorted(counts.items()))},
    }
    return json.dumps({"header": header, "alarms": alarms, "excluded": excluded}, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="path to metric_metadata.json")
    parser.add_argument("--commit", help="awslabs/mcp commit the file was read at (40 hex)")
    parser.add_argument("--commit-date", help="that commit's date (ISO 8601)")
    parser.add_argument("--path-commit", help="last commit that changed the file (optional)")
    parser.add_argument("--path-commit-date", help="that commit's date (optional)")
    parser.add_argument("--date", help="transcription date, YYYY-MM-DD (default: kept for the same source file, else today)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="exit 1 if the fixture differs from what would be written")
    args = parser.parse_args(argv)

    if not args.source.is_file():
        parser.error(f"{args.source}: no such file")
    try:
        json.loads(args.source.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        parser.error(f"{args.source}: not JSON ({exc})")
    sha = hashlib.sha256(args.source.read_bytes()).hexdigest()
    old_text = args.output.read_text(encoding="utf-8") if args.output.is_file() else None
    old_header: dict[str, Any] = {}
    if old_text:
        try:
            old_header = json.loads(old_text).get("header", {})
        except json.JSONDecodeError:
            old_header = {}
    same_source = old_header.get("source", {}).get("sha256") == sha
    meta = {}
    if same_source:
        src = old_header["source"]
        meta = {"commit": src["commit"], "commit_date": src["commit_date"],
                "path_commit": src.get("path_last_changed_commit"), "path_commit_date": src.get("path_last_changed_date")}
    for flag in ("commit", "commit_date", "path_commit", "path_commit_date"):
        if getattr(args, flag) is not None:
            meta[flag] = getattr(args, flag)
    if not meta.get("commit") or not meta.get("commit_date"):
        parser.error("a new source file needs --commit and --commit-date")
    if meta["commit"] and not re.fullmatch(r"[0-9a-f]{40}", meta["commit"]):
        parser.error("--commit must be 40 lower-case hex digits")
    date = args.date or (old_header.get("transcribed") if same_source else None) or dt.date.today().isoformat()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        parser.error("--date must be YYYY-MM-DD")

    return write_or_check(args.output, render(args.source, meta, date), old_text, args.check,
                          f"stale: {args.output} differs from what {Path(__file__).name} makes from {args.source}")


if __name__ == "__main__":
    sys.exit(main())
