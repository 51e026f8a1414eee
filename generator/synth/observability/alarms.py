"""Alarm standard: the rows of the alarm table, turned into CloudWatch alarms for every resource; one topic, one health summary.

What each kind of resource is watched for is data in ``generator.alarm_table`` (referenced from the kinds table):
AWS's recommended alarms with AWS's settings, or with the reason msgen differs recorded next to them. This module
binds each row to the resources the layers registered: it says which resource a row's dimensions name
(:func:`_targets`), derives the thresholds that depend on the spec (``THRESHOLDS``), and builds the alarm. Each
alarm is named ``msgen-<service>-<environment>-<component>-<signal>``; its description says what it means and
where to look first. Thresholds come from ``observability.alarms`` in the spec, or from the spec element itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from troposphere import AWSObject, Equals, GetAtt, If, Ref, Sub, cloudwatch, codedeploy, sns

from generator.alarm_table import SERVICE_NAMESPACE, Alarm
from generator.discovery import FLEET_BUS, bus_name
from generator.kinds import KINDS
from generator.naming import logical_id
from generator.synth.context import Context, source_of
from generator.synth.layers.api import STAGE
from generator.synth.layers.releases import ALIAS, MAX_GROUP_ALARMS
from generator.synth.lazy import troposphere_module
from generator.synth.policy import deny_insecure_transport, document, statement
from generator.synth.registry import RegisteredAlarm, layer

ecs = troposphere_module("ecs")

IN_US_EAST_1 = "InUsEast1"
CONDITIONS = {IN_US_EAST_1: Equals(Ref("AWS::Region"), "us-east-1")}
SQS_IN_FLIGHT_QUOTA = 120_000  # messages in flight per standard queue (SQS quota)
# Aurora PostgreSQL Serverless v2: the default max_connections by maximum ACU (Aurora User Guide, "Maximum connections
# for Aurora Serverless v2"); between the listed values msgen interpolates. With a minimum of 0.5 ACU it is at most 2,000.
AURORA_POSTGRESQL_MAX_CONNECTIONS = ((1, 189), (4, 823), (8, 1669), (16, 3360), (32, 5000))
AURORA_MIN_ACU_CONNECTION_CAP = 2000


def dims(**pairs: Any) -> list[cloudwatch.MetricDimension]:
    return [cloudwatch.MetricDimension(Name=k, Value=v) for k, v in pairs.items()]


def stat(qid: str, namespace: Any, metric: str, dimensions: list, statistic: str, period: int,
         return_data: bool = False) -> cloudwatch.MetricDataQuery:
    return cloudwatch.MetricDataQuery(
        Id=qid, ReturnData=return_data,
        MetricStat=cloudwatch.MetricStat(Metric=cloudwatch.Metric(Namespace=namespace, MetricName=metric, Dimensions=dimensions),
                                         Period=period, Stat=statistic),
    )


def aurora_max_connections(min_acu: float, max_acu: float) -> int:
    """The max_connections Aurora PostgreSQL Serverless v2 sets by default for a capacity range."""
    points = AURORA_POSTGRESQL_MAX_CONNECTIONS
    if max_acu >= points[-1][0]:
        n = float(points[-1][1])
    elif max_acu <= points[0][0]:
        n = points[0][1] * max_acu / points[0][0]
    else:
        (a, na), (b, nb) = next((p, q) for p, q in zip(points, points[1:], strict=False) if p[0] <= max_acu <= q[0])
        n = na + (nb - na) * (max_acu - a) / (b - a)
    if min_acu <= 0.5:
        n = min(n, AURORA_MIN_ACU_CONNECTION_CAP)
    return int(n)


@dataclass
class Target:
    """One resource the alarm table's rows of ``kind`` apply to, with what its rows' dimensions and texts refer to."""

    kind: str
    lid: str  # logical-ID prefix of its alarms
    component: str  # the component part of the alarm names
    name: str  # the element's name, for descriptions
    dims: dict[str, Any]  # dimension name -> value (None: this resource has no such dimension)
    source: str | None = None  # Metadata.msgen.source of its alarms (None: the step's)
    element: Any = None  # the spec element it comes from, for element.<field> thresholds
    values: dict[str, Any] = field(default_factory=dict)  # more words for the descriptions
    each: dict[str, tuple[str, ...]] = field(default_factory=dict)  # dimension -> values, for rows with `each`
    flags: frozenset[str] = frozenset()  # for rows with `when`


class Builder:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.cfg = ctx.spec.observability.alarms
        self.made: list[RegisteredAlarm] = []
        self.topic = self._topic()

    def _topic(self) -> sns.Topic:
        ctx = self.ctx
        topic = ctx.add(
            sns.Topic("AlarmTopic", DisplayName=f"msgen {ctx.service} alarms"[:100], KmsMasterKeyId=ctx.key_arn()),
            "Every alarm of the service notifies this topic (ALARM and OK)",
        )
        ctx.add(
            sns.TopicPolicy(
                "AlarmTopicPolicy", Topics=[Ref(topic)],
                PolicyDocument=document(
                    statement(["sns:Publish"], Ref(topic), sid="CloudWatchAlarmsPublish",
                              Principal={"Service": "cloudwatch.amazonaws.com"},
                              Condition={"ArnLike": {"aws:SourceArn": Sub(
                                  f"arn:${{AWS::Partition}}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:msgen-{ctx.service}-*")}}),
                    deny_insecure_transport([Ref(topic)], "sns:Publish"),
                ),
            ),
            "Only this service's alarms may publish, and only over TLS",
        )
        if self.cfg.email:
            ctx.add(sns.SubscriptionResource("AlarmEmailSubscription", TopicArn=Ref(topic), Protocol="email", Endpoint=self.cfg.email),
                    "E-mail subscription from observability.alarms.email")
        ctx.reg.alarm_topic = topic
        return topic

    def alarm(self, lid: str, component: str, signal: str, description: str, *, threshold: float | None, op: str,
              evals: int, dp: int, missing: str, health: bool = True, condition: str | None = None, period: int = 60,
              **metric: Any) -> cloudwatch.Alarm:
        props: dict[str, Any] = dict(
            AlarmName=self.ctx.alarm_name(component, signal),
            AlarmDescription=description[:1024],
            ActionsEnabled=True,
            AlarmActions=[Ref(self.topic)],
            OKActions=[Ref(self.topic)],
            ComparisonOperator=op,
            EvaluationPeriods=evals,
            DatapointsToAlarm=dp,
            TreatMissingData=missing,
            **metric,
        )
        if threshold is not None:
            props["Threshold"] = threshold
        if "MetricName" in metric:
            props["Period"] = period
        alarm = cloudwatch.Alarm(lid, **props)
        if condition:
            if condition not in self.ctx.template.conditions:
                self.ctx.template.add_condition(condition, CONDITIONS[condition])
            alarm.Condition = condition
        self.ctx.add(alarm, f"Alarm: {component} {signal}")
        self.made.append(RegisteredAlarm(alarm, health, condition))
        return alarm

    # --- the table's rows -----------------------------------------------------------------
    def emit(self, target: Target) -> None:
        """Every row of the target's kind, for the target."""
        with self.ctx.sourced(target.source) if target.source else nullcontext():
            for row in KINDS[target.kind].alarms:
                if row.when and row.when not in target.flags:
                    continue
                for value in (target.each.get(row.each, ()) if row.each else (None,)):
                    self._row(row, target, value)

    def _row(self, row: Alarm, t: Target, each: str | None) -> None:
        bound = dict(t.dims)
        if row.each:
            bound[row.each] = each
        threshold, words = _threshold(self, row.threshold, t)
        evals, dp = _count(row.evaluation_periods, t), _count(row.datapoints, t)
        band = _setting(self, row.band, t) if row.band else None
        text = row.description.format(**{"name": t.name, "threshold": _show(threshold), "minutes": dp * row.period // 60,
                                         "each": each, "band": _show(band), **t.values, **words})
        lid = logical_id(t.lid, each or "", row.id)
        metric = self._metric(row, bound, lid, band)
        alarm = self.alarm(lid, t.component, row.signal.format(each=each), text, threshold=threshold, op=row.operator, evals=evals,
                           dp=dp, missing=row.missing, health=row.health, condition=row.condition, period=row.period, **metric)
        if row.band:
            alarm.DependsOn = [_detector_id(lid)]

    def _namespace(self, namespace: str) -> Any:
        return self.ctx.metric_namespace() if namespace == SERVICE_NAMESPACE else namespace

    def _metric(self, row: Alarm, bound: dict[str, Any], lid: str, band: float | None) -> dict[str, Any]:
        ns = self._namespace(row.namespace)

        def dimensions(names: tuple[str, ...], **extra: Any) -> list[cloudwatch.MetricDimension]:
            values = {**bound, **extra}
            return [cloudwatch.MetricDimension(Name=n, Value=values[n]) for n in names if values[n] is not None]

        if row.band:
            (q,) = row.queries
            self.ctx.add(
                cloudwatch.AnomalyDetector(_detector_id(lid), SingleMetricAnomalyDetector=cloudwatch.SingleMetricAnomalyDetector(
                    Namespace=ns, MetricName=q.metric, Dimensions=dimensions(q.dimensions or row.dimensions), Stat=q.statistic)),
                row.band_text,
            )
            return dict(ThresholdMetricId="band", Metrics=[
                stat(q.id, self._namespace(q.namespace or row.namespace), q.metric, dimensions(q.dimensions or row.dimensions),
                     q.statistic, row.period, return_data=True),
                cloudwatch.MetricDataQuery(Id="band", Expression=f"ANOMALY_DETECTION_BAND({q.id}, {band:g})", Label=row.label,
                                           ReturnData=True),
            ])
        if row.over:
            dim, values = row.over
            ids = [f"op{i}" for i in range(len(values))]
            queries = [stat(qid, ns, row.metric, dimensions(row.dimensions, **{dim: v}), row.statistic, row.period)
                       for qid, v in zip(ids, values, strict=True)]
            expression = row.expression.format(sum=" + ".join(f"FILL({i}, 0)" for i in ids), max=f"MAX([{', '.join(ids)}])")
            return dict(Metrics=[*queries, cloudwatch.MetricDataQuery(Id=row.result, Expression=expression, Label=row.label,
                                                                      ReturnData=True)])
        if row.queries:
            queries = [stat(q.id, self._namespace(q.namespace or row.namespace), q.metric, dimensions(q.dimensions or row.dimensions),
                            q.statistic, row.period) for q in row.queries]
            return dict(Metrics=[*queries, cloudwatch.MetricDataQuery(Id=row.result, Expression=row.expression, Label=row.label,
                                                                      ReturnData=True)])
        props: dict[str, Any] = dict(Namespace=ns, MetricName=row.metric)
        if row.dimensions:
            props["Dimensions"] = dimensions(row.dimensions)
        props["ExtendedStatistic" if _percentile(row.statistic) else "Statistic"] = row.statistic
        if row.unit:
            props["Unit"] = row.unit
        return props


def _detector_id(alarm_lid: str) -> str:
    return alarm_lid.removesuffix("Alarm") + "AnomalyDetector"


def _percentile(statistic: str) -> bool:
    return statistic[:1] == "p" and statistic[1:].replace(".", "", 1).isdigit()


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _setting(b: Builder, path: str, t: Target) -> Any:
    where, _, name = path.partition(".")
    return getattr(b.cfg if where == "alarms" else t.element, name)


def _count(value: int | str, t: Target) -> int:
    return value if isinstance(value, int) else int(getattr(t.element, value.removeprefix("element.")))


def _threshold(b: Builder, threshold: float | str | None, t: Target) -> tuple[float | None, dict[str, Any]]:
    """The threshold of a row for one resource, and words its description may use."""
    if threshold is None or isinstance(threshold, int | float):
        return threshold, {}
    if threshold.startswith(("alarms.", "element.")):
        return _setting(b, threshold, t), {}
    return THRESHOLDS[threshold](b, t)


def _api_rate(field_name: str) -> Callable[[Builder, Target], tuple[float, dict[str, Any]]]:
    def rate(b: Builder, t: Target) -> tuple[float, dict[str, Any]]:
        percent = getattr(b.cfg, field_name)
        return percent / 100, {"percent": _show(percent)}  # the Average of 5XXError/4XXError is a fraction of requests

    return rate


def _lambda_duration(b: Builder, t: Target) -> tuple[float, dict[str, Any]]:
    app, pct = b.ctx.spec.application, b.cfg.lambda_duration_p90_percent_of_timeout
    return app.timeout_s * 1000 * pct // 100, {"percent": pct, "timeout": app.timeout_s}


def _lambda_concurrency(b: Builder, t: Target) -> tuple[float, dict[str, Any]]:
    app, pct = b.ctx.spec.application, b.cfg.lambda_concurrency_percent
    pool = app.reserved_concurrency or b.cfg.account_concurrency_limit
    words = {"percent": pct, "pool": pool, "pool_text": "its reserved" if app.reserved_concurrency else "the account"}
    return max(1, pool * pct // 100), words


def _queue_backlog(b: Builder, t: Target) -> tuple[float, dict[str, Any]]:
    return t.element.max_backlog or b.cfg.queue_backlog_messages, {}


def _queue_in_flight(b: Builder, t: Target) -> tuple[float, dict[str, Any]]:
    """1.5 x the most the queue's consumer can hold at once (AWS: 50% over the expected maximum), within SQS's quota."""
    cap = SQS_IN_FLIGHT_QUOTA * 9 // 10
    consumer = t.element.consumer
    if consumer is None:
        return cap, {}
    pool = b.ctx.spec.application.reserved_concurrency or b.cfg.account_concurrency_limit
    return min(cap, math.ceil(1.5 * consumer.batch_size * pool)), {}


def _database_connections(b: Builder, t: Target) -> tuple[float, dict[str, Any]]:
    db = t.element
    if db.max_connections_alarm:
        return db.max_connections_alarm, {"basis": "database.max_connections_alarm"}
    limit = aurora_max_connections(db.min_capacity, db.max_capacity)
    pct = b.cfg.database_connections_percent
    return limit * pct // 100, {"basis": f"{pct}% of the {limit} Aurora allows at {_show(db.max_capacity)} ACU"}


def _database_memory(b: Builder, t: Target) -> tuple[float, dict[str, Any]]:
    low = int(t.element.max_capacity * 2 * 1024**3 * 0.05)  # 1 ACU is about 2 GiB; AWS: "close to 5%" on Aurora
    return low, {"mib": low // 1024**2, "max_capacity": _show(t.element.max_capacity)}


def _database_latency(b: Builder, t: Target) -> tuple[float, dict[str, Any]]:
    ms = b.cfg.database_latency_p90_ms
    return ms / 1000, {"ms": ms}  # ReadLatency and WriteLatency are in seconds


def _target_response_time(b: Builder, t: Target) -> tuple[float, dict[str, Any]]:
    ms = b.cfg.target_response_time_p90_ms
    return ms / 1000, {"ms": ms}  # TargetResponseTime is in seconds


THRESHOLDS: dict[str, Callable[[Builder, Target], tuple[float, dict[str, Any]]]] = {
    "api_5xx_rate": _api_rate("api_5xx_rate_percent"),
    "api_4xx_rate": _api_rate("api_4xx_rate_percent"),
    "lambda_duration": _lambda_duration,
    "lambda_concurrency": _lambda_concurrency,
    "queue_backlog": _queue_backlog,
    "queue_in_flight": _queue_in_flight,
    "database_connections": _database_connections,
    "database_memory": _database_memory,
    "database_latency": _database_latency,
    "target_response_time": _target_response_time,
}


def _targets(ctx: Context) -> list[Target]:
    """Every resource the alarm table applies to, in the order their alarms appear in the template."""
    reg, spec = ctx.reg, ctx.spec
    out: list[Target] = []
    if reg.rest_api is not None:
        out.append(Target("api", "Api", "api", spec.service, {"ApiName": ctx.physical(), "Stage": STAGE}, source_of(reg.rest_api)))
    for name, fn in reg.functions.items():
        out.append(Target("function", fn.title, f"fn-{name}", name, {"FunctionName": Ref(fn)}, source_of(fn)))
        if (release := reg.releases.get(name)) is not None:  # the version being released, invoked through the alias
            out.append(Target("release", fn.title, f"fn-{name}", name,
                              {"FunctionName": Ref(fn), "Resource": Sub(f"${{{fn.title}}}:{ALIAS}"),
                               "ExecutedVersion": GetAtt(release.version, "Version")}, source_of(fn)))
    tables = {t.name: t for t in spec.persistence.tables}
    for name, table in reg.tables.items():
        indexes = tuple(i.name for i in tables[name].indexes)
        out.append(Target("table", table.title, f"table-{name}", name, {"TableName": Ref(table), "Operation": None},
                          source_of(table), tables[name], each={"GlobalSecondaryIndexName": indexes}))
    if (c := reg.containers) is not None:
        out.append(Target("container_service", c.service.title, "containers", "containers",
                          {"ClusterName": Ref(c.cluster), "ServiceName": GetAtt(c.service, "Name")}, "container", spec.container))
        out.append(Target("load_balancer", "", "containers", "containers",
                          {"LoadBalancer": GetAtt(c.load_balancer, "LoadBalancerFullName"),
                           "TargetGroup": GetAtt(c.target_group, "TargetGroupFullName")}, "container", spec.container))
    if (db := reg.database) is not None:
        out.append(Target("database", "Database", "database", spec.database.name,
                          {"DBInstanceIdentifier": Ref(db.writer), "DBClusterIdentifier": Ref(db.cluster), "Role": "WRITER"},
                          "database", spec.database))
    queues = {q.name: q for q in spec.messaging.queues}
    for name, queue in reg.queues.items():
        q = queues[name]
        reader = ({"reader": "its consumer", "first": "the consumer function's errors, duration and throttles"} if q.consumer else
                  {"reader": "whoever reads it (no consumer in this stack)", "first": "whoever should read this queue"})
        out.append(Target("queue", queue.title, f"queue-{name}", name, {"QueueName": GetAtt(queue, "QueueName")}, source_of(queue), q,
                          values=reader, flags=frozenset({"max_quiet_minutes"} if q.max_quiet_minutes else ())))
        out.append(_dead_letters(reg.dead_letter_queues.queues[name], f"queue-{name}", source_of(queue),
                                 f"Messages of '{name}' failed {q.max_receive_count} times and reached its dead-letter queue.",
                                 "the consumer's logs for those messages' correlation_id; redrive them from the console once fixed."))
    for name, collection in reg.collections.items():
        out.append(Target("collection", collection.title, f"search-{name}", name,
                          {"ClientId": Ref("AWS::AccountId"), "CollectionId": Ref(collection),
                           "CollectionName": collection.Name},  # its physical name, a Sub
                          source_of(collection)))
    topics = {t.name: t for t in spec.messaging.topics}
    for name, topic in reg.topics.items():
        subscriptions = reg.dead_letter_queues.subscriptions.get(name, {})
        flags = {"subscription_dead_letters"} if subscriptions else set()
        if topics[name].max_quiet_minutes:
            flags.add("max_quiet_minutes")
        out.append(Target("topic", topic.title, f"topic-{name}", name, {"TopicName": GetAtt(topic, "TopicName")}, source_of(topic),
                          topics[name], flags=frozenset(flags)))
        for queue, dlq in subscriptions.items():
            out.append(_dead_letters(
                dlq, f"topic-{name}-to-{queue}", source_of(topic),
                f"SNS could not deliver messages of topic '{name}' to queue '{queue}' and kept them in the subscription's dead-letter queue.",
                "the queue's policy and the service key's policy for SNS; send the messages to the queue again once fixed."))
    rules = {r.name: r for r in spec.messaging.events}
    for name, rule in reg.event_rules.items():
        bus = rules[name].bus
        out.append(Target("events_rule", rule.title, f"events-{name}", name,
                          {"EventBusName": None if bus == "default" else Sub(bus_name(bus)) if bus == FLEET_BUS else bus,
                           "RuleName": ctx.physical(name)}, source_of(rule)))
        out.append(_dead_letters(reg.dead_letter_queues.rules[name], f"events-{name}", source_of(rule),
                                 f"Events of rule '{name}' could not be delivered and reached its dead-letter queue.",
                                 "the messages' error attributes; send them again once the target accepts them."))
    for name, machine in reg.workflows.items():
        out.append(Target("workflow", machine.title, f"workflow-{name}", name, {"StateMachineArn": Ref(machine)}, source_of(machine)))
    for name, dlq in reg.dead_letter_queues.functions.items():
        out.append(_dead_letters(dlq, f"fn-{name}", source_of(dlq),
                                 f"Asynchronous invocations of function '{name}' failed after Lambda's retries and reached its "
                                 "dead-letter queue.", "the function's ERROR lines for those events; replay them once fixed."))
    if reg.log_groups.app:
        out.append(Target("application_logs", "Application", "app", spec.service, {}))
    if reg.distribution is not None:
        out.append(Target("distribution", "Distribution", "cdn", spec.service,
                          {"DistributionId": Ref(reg.distribution), "Region": "Global"}, source_of(reg.distribution)))
    out.append(Target("alarm_topic", "AlarmTopic", "alarms", spec.service, {"TopicName": GetAtt(reg.alarm_topic, "TopicName")}))
    return out


def _dead_letters(dlq: AWSObject, component: str, source: str, what: str, first: str) -> Target:
    """Any message in a dead-letter queue is worth a look: one alarm shape for every kind of dead letter."""
    return Target("dead_letter_queue", dlq.title, component, dlq.title, {"QueueName": GetAtt(dlq, "QueueName")}, source,
                  values={"what": what, "first": first})


# It reads `releases` and completes their deployment groups (rollback alarms) and aliases (DependsOn) in place: the
# registry field itself is unchanged, and the steps that invoke aliases (api, messaging.wire, workflows) only need the
# aliases' logical IDs, so they may run before this pass.
@layer(provides={"alarm_topic", "alarms"}, needs={"key", "rest_api", "functions", "releases", "tables", "containers", "database", "queues", "topics",
                                                  "event_rules", "workflows", "dead_letter_queues", "log_groups", "distribution", "collections"},
       source="observability")
def build(ctx: Context) -> None:
    if not ctx.spec.observability.alarms.enabled:
        return
    b = Builder(ctx)
    for target in _targets(ctx):
        before = len(b.made)
        b.emit(target)
        if target.kind == "release":
            _roll_back_on(ctx, target.name, [m.alarm for m in b.made[before:]])
        elif target.kind == "load_balancer":
            _service_rolls_back_on(ctx, [m.alarm for m in b.made[before:] if m.alarm.title in SERVICE_ROLLBACK_ALARMS])
    _health(b)
    ctx.reg.alarms = b.made


# The load balancer's alarms about the service's answers: a deployment that makes them fire is rolled back by ECS.
SERVICE_ROLLBACK_ALARMS = ("TargetServerErrorsAlarm", "TargetResponseTimeAlarm")


def _service_rolls_back_on(ctx: Context, alarms: list[AWSObject]) -> None:
    """ECS rolls a deployment back when the target group's 5xx-rate or p90 response-time alarm fires, besides the circuit breaker.

    The target group's alarms, not the service's own: those name the service (GetAtt Name), which would make a cycle.
    """
    if alarms:
        ctx.reg.containers.service.DeploymentConfiguration.Alarms = ecs.DeploymentAlarms(
            AlarmNames=[Ref(a) for a in alarms], Enable=True, Rollback=True)


def _roll_back_on(ctx: Context, name: str, alarms: list[AWSObject]) -> None:
    """The function's deployment group stops and rolls back when a release alarm fires; the alias waits for the alarms.

    The alias depends on its release alarms so that, when a new version is published, the alarms are updated to watch
    it (their ExecutedVersion) before CodeDeploy starts shifting traffic.
    """
    release = ctx.reg.releases[name]
    if not alarms:
        return
    if len(alarms) > MAX_GROUP_ALARMS:
        raise ValueError(f"function '{name}' has {len(alarms)} release alarms; CodeDeploy allows {MAX_GROUP_ALARMS} per deployment group")
    release.group.AlarmConfiguration = codedeploy.AlarmConfiguration(Enabled=True, Alarms=[codedeploy.Alarm(Name=Ref(a)) for a in alarms])
    rollback = release.group.AutoRollbackConfiguration
    rollback.Events = sorted({*rollback.Events, "DEPLOYMENT_STOP_ON_ALARM"})
    release.alias.DependsOn = [a.title for a in alarms]


# An AlarmRule may hold at most 10,240 characters once CloudFormation has substituted the ARNs.
MAX_RULE_CHARS = 10_240
MAX_PART_MEMBERS = 50
# Longest ARN prefix (partition and Region) and environment name the rule must still fit with.
_ARN_PREFIX = len("arn:aws-us-gov:cloudwatch:ap-southeast-4:123456789012:alarm:")
_HEALTH_DESCRIPTION = ("is unhealthy: at least one error, latency, throttle or capacity alarm is in ALARM "
                       "(4XX and request-rate alarms are signals, not health). Look first at: which member alarm fired, then the dashboard.")


def _term(alarm: AWSObject) -> str:
    return f'ALARM("${{{alarm.title}.Arn}}")'


def _resolved_len(alarm: AWSObject) -> int:
    """Worst-case length of this alarm's term once its ARN is substituted."""
    name = alarm.AlarmName.data["Fn::Sub"].replace("${Environment}", "e" * 16)
    return len('ALARM("")') + _ARN_PREFIX + len(name) + len(" OR ")


def _parts(alarms: list[AWSObject]) -> list[list[AWSObject]]:
    """Split alarms into groups whose rules stay within CloudFormation's limit."""
    parts: list[list[AWSObject]] = [[]]
    size = 0
    for alarm in alarms:
        n = _resolved_len(alarm)
        if parts[-1] and (size + n > MAX_RULE_CHARS - 200 or len(parts[-1]) >= MAX_PART_MEMBERS):
            parts.append([])
            size = 0
        parts[-1].append(alarm)
        size += n
    return parts


def _composite(b: Builder, lid: str, signal: str, rule: Any, description: str) -> AWSObject:
    return b.ctx.add(
        cloudwatch.CompositeAlarm(
            lid, AlarmName=b.ctx.alarm_name("service", signal), AlarmDescription=description, AlarmRule=rule,
            ActionsEnabled=True, AlarmActions=[Ref(b.topic)], OKActions=[Ref(b.topic)],
        ),
        "Summary of the service's health alarms",
    )


def _health(b: Builder) -> None:
    """One composite for the service; large services (many micro functions) get it in parts, as one rule would be too long."""
    members = [m for m in b.made if m.health]
    always = [m.alarm for m in members if not m.condition]
    conditional = [m.alarm for m in members if m.condition]
    parts = _parts(always)
    if len(parts) > 1:
        always = [
            _composite(b, f"ServiceHealthPart{i}Alarm", f"health-part{i}", Sub(" OR ".join(_term(a) for a in part)),
                       f"Part {i} of {len(parts)} of {b.ctx.service}'s health, split because one rule would pass CloudFormation's "
                       f"{MAX_RULE_CHARS} characters: at least one of its {len(part)} member alarms is in ALARM. "
                       "Look first at: which member alarm fired, then the dashboard.")
            for i, part in enumerate(parts, 1)
        ]
    rule: Any = Sub(" OR ".join(_term(a) for a in always))
    if conditional:
        rule = If(IN_US_EAST_1, Sub(" OR ".join(_term(a) for a in always + conditional)), rule)
    _composite(b, "ServiceHealthAlarm", "health", rule, f"{b.ctx.service} {_HEALTH_DESCRIPTION}")



