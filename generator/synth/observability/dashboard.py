"""A real-time operations dashboard per service, drawn only from resources that exist in the stack."""

from __future__ import annotations

import json
from typing import Any

from troposphere import Sub, cloudwatch

from generator.discovery import bus_name
from generator.synth.context import Context, sub_literal
from generator.synth.layers.api import STAGE
from generator.synth.layers.releases import ALIAS
from generator.synth.registry import layer

REGION = "${AWS::Region}"


def _metric_widget(title: str, metrics: list, x: int, y: int, w: int = 8, h: int = 6, region: str = REGION, **extra: Any) -> dict:
    props = {"title": title, "view": "timeSeries", "region": region, "period": 60, "metrics": metrics, "stacked": False}
    props.update(extra)
    return {"type": "metric", "x": x, "y": y, "width": w, "height": h, "properties": props}


class Layout:
    """Places widgets left to right in rows of 24 units."""

    def __init__(self) -> None:
        self.widgets: list[dict] = []
        self.x = self.y = self.row_h = 0

    def add(self, widget: dict) -> None:
        w, h = widget["width"], widget["height"]
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        widget["x"], widget["y"] = self.x, self.y
        self.x += w
        self.row_h = max(self.row_h, h)
        self.widgets.append(widget)

    def new_row(self) -> None:
        if self.x:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0


# The "current release vs previous" row: Lambda publishes a function's metrics per version executed through its alias
# (dimensions FunctionName, Resource = <function>:<alias>, ExecutedVersion). The version numbers change with every release
# and are not known when the template is written, so each widget is a SEARCH over that dimension set: during a canary it
# draws one line per version (the new one beside the previous one), labelled with the version number.
MAX_FUNCTION_ROWS = 50  # per-function rows of widgets; a large micro service lists the rest as a count
RELEASE_WIDGETS = (("invocations", "Invocations", "Sum"), ("errors", "Errors", "Sum"), ("p90 duration (ms)", "Duration", "p90"))


def release_search(function_id: str, metric: str, statistic: str) -> str:
    """A SEARCH expression for one metric of the function's alias, one series per ExecutedVersion (Fn::Sub text)."""
    return (f"SEARCH('{{AWS/Lambda,FunctionName,Resource,ExecutedVersion}} MetricName=\"{metric}\" "
            f"FunctionName=\"${{{function_id}}}\" Resource=\"${{{function_id}}}:{ALIAS}\"', '{statistic}', 60)")


def body(ctx: Context) -> dict:
    spec, reg = ctx.spec, ctx.reg
    lay = Layout()
    header = (f"# {spec.service} (${{Environment}})\n"
              f"Team **{sub_literal(spec.team)}**. {sub_literal(spec.description)}\n\n"
              f"Saved query *msgen/{spec.service}/${{Environment}}/follow-correlation-id* follows one request; "
              f"alarms are named *msgen-{spec.service}-${{Environment}}-...*")
    lay.add({"type": "text", "x": 0, "y": 0, "width": 24, "height": 3, "properties": {"markdown": header}})
    lay.new_row()
    if reg.rest_api is not None:
        api = ["ApiName", f"{spec.service}-${{Environment}}", "Stage", STAGE]
        band = spec.observability.alarms.request_rate_band_width
        lay.add(_metric_widget("Requests per minute (with expected band)", [
            ["AWS/ApiGateway", "Count", *api, {"id": "requests", "stat": "Sum", "label": "Requests"}],
            [{"expression": f"ANOMALY_DETECTION_BAND(requests, {band:g})", "id": "band", "label": "Expected"}],
        ], 0, 0))
        lay.add(_metric_widget("Error rate %", [
            ["AWS/ApiGateway", "5XXError", *api, {"id": "e5", "stat": "Sum", "visible": False}],
            ["AWS/ApiGateway", "4XXError", *api, {"id": "e4", "stat": "Sum", "visible": False}],
            ["AWS/ApiGateway", "Count", *api, {"id": "n", "stat": "Sum", "visible": False}],
            [{"expression": "IF(n > 0, 100 * e5 / n, 0)", "id": "r5", "label": "5XX %"}],
            [{"expression": "IF(n > 0, 100 * e4 / n, 0)", "id": "r4", "label": "4XX %"}],
        ], 0, 0))
        lay.add(_metric_widget("Latency (ms)", [
            ["AWS/ApiGateway", "Latency", *api, {"stat": "p90", "label": "p90"}],
            ["AWS/ApiGateway", "Latency", *api, {"stat": "p99", "label": "p99"}],
            ["AWS/ApiGateway", "IntegrationLatency", *api, {"stat": "p90", "label": "integration p90"}],
        ], 0, 0))
    if (c := reg.containers) is not None:
        lay.new_row()
        svc = ["ClusterName", f"${{{c.cluster.title}}}", "ServiceName", f"${{{c.service.title}.Name}}"]
        tg = ["LoadBalancer", f"${{{c.load_balancer.title}.LoadBalancerFullName}}",
              "TargetGroup", f"${{{c.target_group.title}.TargetGroupFullName}}"]
        lay.add(_metric_widget("Containers: CPU and memory %", [
            ["AWS/ECS", "CPUUtilization", *svc, {"stat": "Average"}], ["AWS/ECS", "MemoryUtilization", *svc, {"stat": "Average"}]], 0, 0))
        lay.add(_metric_widget("Containers: running tasks", [["ECS/ContainerInsights", "RunningTaskCount", *svc, {"stat": "Average"}]], 0, 0))
        lay.add(_metric_widget("Containers: requests, 5XX and p90 response time (s)", [
            ["AWS/ApplicationELB", "RequestCount", *tg, {"stat": "Sum"}],
            ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", *tg, {"stat": "Sum"}],
            ["AWS/ApplicationELB", "TargetResponseTime", *tg, {"stat": "p90", "yAxis": "right"}]], 0, 0))
    if reg.database is not None:
        lay.new_row()
        dbd = ["DBClusterIdentifier", f"${{{reg.database.cluster.title}}}"]
        lay.add(_metric_widget("Database: CPU % and capacity (ACU)", [
            ["AWS/RDS", "CPUUtilization", *dbd, {"stat": "Average"}],
            ["AWS/RDS", "ServerlessDatabaseCapacity", *dbd, {"stat": "Maximum", "yAxis": "right"}]], 0, 0))
        lay.add(_metric_widget("Database: connections", [["AWS/RDS", "DatabaseConnections", *dbd, {"stat": "Average"}]], 0, 0))
        lay.add(_metric_widget("Database: freeable memory", [["AWS/RDS", "FreeableMemory", *dbd, {"stat": "Average"}]], 0, 0))
    shown = list(reg.functions.items())[:MAX_FUNCTION_ROWS]
    if len(reg.functions) > len(shown):  # a dashboard holds at most 500 widgets (and a template 1 MB)
        lay.new_row()
        lay.add({"type": "text", "x": 0, "y": 0, "width": 24, "height": 2, "properties": {"markdown": sub_literal(
            f"Functions: the first {len(shown)} of {len(reg.functions)} have rows here; the others are in the Lambda console "
            "and in their alarms")}})
    for name, fn in shown:
        lay.new_row()
        d = ["FunctionName", f"${{{fn.title}}}"]
        lay.add(_metric_widget(f"Function {name}: invocations and errors", [
            ["AWS/Lambda", "Invocations", *d, {"stat": "Sum"}], ["AWS/Lambda", "Errors", *d, {"stat": "Sum"}]], 0, 0))
        lay.add(_metric_widget(f"Function {name}: duration (ms)", [
            ["AWS/Lambda", "Duration", *d, {"stat": "p90", "label": "p90"}], ["AWS/Lambda", "Duration", *d, {"stat": "p99", "label": "p99"}]], 0, 0))
        lay.add(_metric_widget(f"Function {name}: concurrency and throttles", [
            ["AWS/Lambda", "ConcurrentExecutions", *d, {"stat": "Maximum"}], ["AWS/Lambda", "Throttles", *d, {"stat": "Sum"}]], 0, 0))
        if name in reg.releases:
            lay.new_row()
            for title, metric, statistic in RELEASE_WIDGETS:
                lay.add(_metric_widget(f"Function {name}: {title}, current release vs previous (by version)",
                                       [[{"expression": release_search(fn.title, metric, statistic), "id": "versions"}]], 0, 0))
    for name, table in reg.tables.items():
        lay.new_row()
        lay.add(_metric_widget(f"Table {name}: latency (ms)", [
            ["AWS/DynamoDB", "SuccessfulRequestLatency", "TableName", f"${{{table.title}}}", "Operation", op, {"stat": "Average", "label": op}]
            for op in ("GetItem", "PutItem", "UpdateItem", "Query")], 0, 0, w=12))
        lay.add(_metric_widget(f"Table {name}: throttles and system errors", [
            ["AWS/DynamoDB", "ReadThrottleEvents", "TableName", f"${{{table.title}}}", {"stat": "Sum"}],
            ["AWS/DynamoDB", "WriteThrottleEvents", "TableName", f"${{{table.title}}}", {"stat": "Sum"}]], 0, 0, w=12))
    for name, collection in reg.collections.items():
        lay.new_row()
        cd = ["ClientId", "${AWS::AccountId}", "CollectionId", f"${{{collection.title}}}", "CollectionName", collection.Name.data["Fn::Sub"]]
        lay.add(_metric_widget(f"Search {name}: requests", [
            ["AWS/AOSS", "SearchRequestRate", *cd, {"stat": "Sum"}], ["AWS/AOSS", "IngestionRequestSuccess", *cd, {"stat": "Sum"}]], 0, 0))
        lay.add(_metric_widget(f"Search {name}: latency (ms)", [
            ["AWS/AOSS", "SearchRequestLatency", *cd, {"stat": "p90", "label": "p90"}],
            ["AWS/AOSS", "IngestionRequestLatency", *cd, {"stat": "p90", "label": "ingestion p90"}]], 0, 0))
        lay.add(_metric_widget(f"Search {name}: errors", [
            ["AWS/AOSS", "SearchRequestErrors", *cd, {"stat": "Sum"}], ["AWS/AOSS", "IngestionRequestErrors", *cd, {"stat": "Sum"}]], 0, 0))
    for name, queue in reg.queues.items():
        lay.new_row()
        q = ["QueueName", f"${{{queue.title}.QueueName}}"]
        dlq = ["QueueName", f"${{{reg.dead_letter_queues.queues[name].title}.QueueName}}"]
        lay.add(_metric_widget(f"Queue {name}: messages", [
            ["AWS/SQS", "NumberOfMessagesSent", *q, {"stat": "Sum"}], ["AWS/SQS", "NumberOfMessagesDeleted", *q, {"stat": "Sum"}],
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", *q, {"stat": "Maximum"}]], 0, 0))
        lay.add(_metric_widget(f"Queue {name}: oldest message (s)", [
            ["AWS/SQS", "ApproximateAgeOfOldestMessage", *q, {"stat": "Maximum"}]], 0, 0))
        lay.add(_metric_widget(f"Queue {name}: dead letters", [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", *dlq, {"stat": "Maximum"}]], 0, 0))
    for name, topic in reg.topics.items():
        td = ["TopicName", f"${{{topic.title}.TopicName}}"]
        redrive = (("NumberOfNotificationsRedrivenToDlq", "NumberOfNotificationsFailedToRedriveToDlq")
                   if reg.dead_letter_queues.subscriptions.get(name) else ())
        lay.add(_metric_widget(f"Topic {name}", [
            ["AWS/SNS", metric, *td, {"stat": "Sum"}] for metric in ("NumberOfMessagesPublished", "NumberOfNotificationsFailed", *redrive)], 0, 0))
    for name, machine in reg.workflows.items():
        sm = ["StateMachineArn", f"${{{machine.title}}}"]
        lay.add(_metric_widget(f"Workflow {name}", [
            ["AWS/States", m, *sm, {"stat": "Sum"}] for m in ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut")],
            0, 0))
    for rule in spec.messaging.events:
        name = rule.name
        rd = ["RuleName", f"{spec.service}-${{Environment}}-{name}"]
        if rule.bus != "default":
            rd = ["EventBusName", bus_name(rule.bus), *rd]  # the fleet's bus: read from SSM when the stack is deployed
        lay.add(_metric_widget(f"Events rule {name}", [
            ["AWS/Events", "TriggeredRules", *rd, {"stat": "Sum"}], ["AWS/Events", "Invocations", *rd, {"stat": "Sum"}],
            ["AWS/Events", "FailedInvocations", *rd, {"stat": "Sum"}]], 0, 0))
    lay.new_row()
    if reg.distribution is not None:
        cf = ["DistributionId", f"${{{reg.distribution.title}}}", "Region", "Global"]
        lay.add(_metric_widget("CloudFront (us-east-1 metrics)", [
            ["AWS/CloudFront", "Requests", *cf, {"stat": "Sum"}],
            ["AWS/CloudFront", "5xxErrorRate", *cf, {"stat": "Average", "yAxis": "right"}]], 0, 0, w=12, region="us-east-1"))
    alarms = [m.alarm for m in reg.alarms if not m.condition]
    if alarms:
        lay.add({"type": "alarm", "x": 0, "y": 0, "width": 12, "height": 6, "properties": {
            "title": "Alarms", "alarms": [f"${{{a.title}.Arn}}" for a in alarms[:100]], "sortBy": "stateUpdatedTimestamp"}})
    groups = reg.log_groups.app
    if groups:
        lay.new_row()
        sources = " | ".join(f"SOURCE '${{{g.title}}}'" for g in groups.values())
        lay.add({"type": "log", "x": 0, "y": 0, "width": 24, "height": 8, "properties": {
            "title": "Recent errors", "region": REGION, "view": "table",
            "query": f"{sources} | filter level = \"ERROR\" | stats count(*) as count, latest(@timestamp) as time by message "
                     "| sort time desc | limit 50 | display time, message, count",
        }})
    return {"start": "-PT3H", "periodOverride": "inherit", "widgets": lay.widgets}


@layer(needs={"rest_api", "containers", "database", "functions", "releases", "tables", "queues", "dead_letter_queues", "topics", "workflows",
              "distribution", "alarms", "log_groups", "collections"}, source="observability")
def build(ctx: Context) -> None:
    if not ctx.spec.observability.dashboard:
        return
    text = json.dumps(body(ctx), separators=(",", ":"), ensure_ascii=False)
    ctx.add(
        cloudwatch.Dashboard("ServiceDashboard", DashboardName=Sub(f"msgen-{ctx.service}-${{Environment}}"), DashboardBody=Sub(text)),
        "Real-time dashboard: traffic, errors, latency, functions, tables, alarms and recent errors",
    )
