"""Alarm standard: AWS's recommended alarms for every component in the stack, one topic, one health summary.

Each alarm is named ``msgen-<service>-<environment>-<component>-<signal>``; its description says what it
means and where to look first. Thresholds come from ``observability.alarms`` in the spec.
"""

from __future__ import annotations

from typing import Any

from troposphere import AWSObject, Equals, GetAtt, If, Ref, Sub, cloudwatch, sns

from generator.synth.context import Context, source_of
from generator.synth.layers.api import STAGE
from generator.synth.observability.logs import ERROR_METRIC
from generator.synth.policy import deny_insecure_transport, document, statement
from generator.synth.registry import RegisteredAlarm, layer

PERIOD = 60
IN_US_EAST_1 = "InUsEast1"
DYNAMODB_OPERATIONS = ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem")


def dims(**pairs: Any) -> list[cloudwatch.MetricDimension]:
    return [cloudwatch.MetricDimension(Name=k, Value=v) for k, v in pairs.items()]


def stat(qid: str, namespace: str, metric: str, dimensions: list, statistic: str, return_data: bool = False) -> cloudwatch.MetricDataQuery:
    return cloudwatch.MetricDataQuery(
        Id=qid, ReturnData=return_data,
        MetricStat=cloudwatch.MetricStat(Metric=cloudwatch.Metric(Namespace=namespace, MetricName=metric, Dimensions=dimensions),
                                         Period=PERIOD, Stat=statistic),
    )


def api_dimensions(ctx: Context) -> list:
    return dims(ApiName=ctx.physical(), Stage=STAGE)


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
              evals: int, dp: int, missing: str, health: bool = True, condition: str | None = None, **metric: Any) -> cloudwatch.Alarm:
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
            props["Period"] = PERIOD
        alarm = cloudwatch.Alarm(lid, **props)
        if condition:
            alarm.Condition = condition
        self.ctx.add(alarm, f"Alarm: {component} {signal}")
        self.made.append(RegisteredAlarm(alarm, health, condition))
        return alarm


@layer(provides={"alarm_topic", "alarms"}, needs={"key", "rest_api", "functions", "tables", "containers", "database", "queues", "topics",
                                                  "event_rules", "workflows", "dead_letter_queues", "log_groups", "distribution", "collections"},
       source="observability")
def build(ctx: Context) -> None:
    if not ctx.spec.observability.alarms.enabled:
        return
    b, reg = Builder(ctx), ctx.reg
    on = ctx.sourced  # each alarm comes from the spec element whose resource it watches
    if reg.rest_api is not None:
        with on(source_of(reg.rest_api)):
            _api(b)
    for name, fn in reg.functions.items():
        with on(source_of(fn)):
            _function(b, name, fn)
    for name, table in reg.tables.items():
        with on(source_of(table)):
            _table(b, name, table)
    if reg.containers is not None:
        with on("container"):
            _containers(b)
    if reg.database is not None:
        with on("database"):
            _database(b)
    for name, queue in reg.queues.items():
        with on(source_of(queue)):
            _queue(b, name, queue)
    for name, collection in reg.collections.items():
        with on(source_of(collection)):
            _collection(b, name, collection)
    for name, topic in reg.topics.items():
        with on(source_of(topic)):
            _topic(b, name, topic)
    for name, rule in reg.event_rules.items():
        with on(source_of(rule)):
            _rule(b, name, rule)
    for name, machine in reg.workflows.items():
        with on(source_of(machine)):
            _workflow(b, name, machine)
    for name, dlq in reg.dead_letter_queues.functions.items():
        with on(source_of(dlq)):
            _dead_letters(b, dlq, f"fn-{name}", f"Asynchronous invocations of function '{name}' failed after Lambda's retries and reached "
                          "its dead-letter queue. Look first at: the function's ERROR lines for those events; replay them once fixed.")
    if reg.log_groups.app:
        _application_errors(b)
    if reg.distribution is not None:
        with on(source_of(reg.distribution)):
            _cloudfront(b)
    _health(b)
    reg.alarms = b.made


def _rate(b: Builder, lid: str, signal: str, metric: str, threshold: float, periods: int, meaning: str, first: str) -> None:
    d = api_dimensions(b.ctx)
    b.alarm(
        lid, "api", signal,
        f"{meaning} Look first at: {first}",
        threshold=threshold, op="GreaterThanThreshold", evals=periods, dp=periods, missing="notBreaching",
        health=metric == "5XXError",
        Metrics=[
            stat("errors", "AWS/ApiGateway", metric, d, "Sum"),
            stat("requests", "AWS/ApiGateway", "Count", d, "Sum"),
            cloudwatch.MetricDataQuery(Id="rate", Expression="IF(requests > 0, 100 * errors / requests, 0)", Label=f"{metric} %", ReturnData=True),
        ],
    )


def _api(b: Builder) -> None:
    cfg, ctx = b.cfg, b.ctx
    _rate(b, "ApiServerErrorRateAlarm", "5xx-rate", "5XXError", cfg.api_5xx_rate_percent, 3,
          f"More than {cfg.api_5xx_rate_percent}% of API requests failed with 5XX for 3 minutes: the service is failing its callers.",
          "the function's Errors and logs (dashboard 'Recent errors'), then integration latency for timeouts.")
    _rate(b, "ApiClientErrorRateAlarm", "4xx-rate", "4XXError", cfg.api_4xx_rate_percent, 5,
          f"More than {cfg.api_4xx_rate_percent}% of API requests were rejected with 4XX for 5 minutes: callers send bad or unauthorised requests.",
          "the access log's status and error fields by path; a recent client or auth change.")
    b.alarm(
        "ApiLatencyAlarm", "api", "latency-p90",
        f"p90 API latency was at or above {cfg.api_latency_p90_ms} ms for 5 minutes: callers wait too long. "
        "Look first at: integration latency (function duration) against total latency; table latency; cold starts.",
        threshold=cfg.api_latency_p90_ms, op="GreaterThanOrEqualToThreshold", evals=5, dp=5, missing="missing",
        Namespace="AWS/ApiGateway", MetricName="Latency", Dimensions=api_dimensions(ctx), ExtendedStatistic="p90", Unit="Milliseconds",
    )
    detector = ctx.add(
        cloudwatch.AnomalyDetector(
            "ApiRequestRateAnomalyDetector",
            SingleMetricAnomalyDetector=cloudwatch.SingleMetricAnomalyDetector(
                Namespace="AWS/ApiGateway", MetricName="Count", Dimensions=api_dimensions(ctx), Stat="Sum"),
        ),
        "Learns the usual request rate by time of day and week",
    )
    alarm = b.alarm(
        "ApiRequestRateAlarm", "api", "request-rate",
        f"Requests per minute left the expected band ({cfg.request_rate_band_width} standard deviations) for 5 minutes: "
        "a drop means callers cannot reach the service or stopped calling; a spike means unusual load or a retry storm. "
        "Look first at: CloudFront and API 4XX/5XX, the callers' deployments, throttles. Minutes without any request count as normal.",
        threshold=None, op="LessThanLowerOrGreaterThanUpperThreshold", evals=5, dp=5, missing="notBreaching", health=False,
        ThresholdMetricId="band",
        Metrics=[
            stat("requests", "AWS/ApiGateway", "Count", api_dimensions(ctx), "Sum", return_data=True),
            cloudwatch.MetricDataQuery(Id="band", Expression=f"ANOMALY_DETECTION_BAND(requests, {cfg.request_rate_band_width:g})",
                                       Label="Expected requests", ReturnData=True),
        ],
    )
    alarm.DependsOn = [detector.title]


def _function(b: Builder, name: str, fn: AWSObject) -> None:
    cfg, app = b.cfg, b.ctx.spec.application
    d = dims(FunctionName=Ref(fn))
    lid, comp = fn.title, f"fn-{name}"
    b.alarm(f"{lid}ErrorsAlarm", comp, "errors",
            f"Function '{name}' raised more than {cfg.lambda_errors} errors a minute for 3 minutes. "
            "Look first at: the dashboard's 'Recent errors' table and the function's log group for stack traces.",
            threshold=cfg.lambda_errors, op="GreaterThanThreshold", evals=3, dp=3, missing="notBreaching",
            Namespace="AWS/Lambda", MetricName="Errors", Dimensions=d, Statistic="Sum")
    b.alarm(f"{lid}ThrottlesAlarm", comp, "throttles",
            f"Function '{name}' was throttled (more than {cfg.lambda_throttles} a minute) for 5 minutes: requests are being refused. "
            "Look first at: concurrency against its reserved or account limit, and the request rate.",
            threshold=cfg.lambda_throttles, op="GreaterThanThreshold", evals=5, dp=5, missing="notBreaching",
            Namespace="AWS/Lambda", MetricName="Throttles", Dimensions=d, Statistic="Sum")
    limit_ms = app.timeout_s * 1000 * cfg.lambda_duration_p90_percent_of_timeout // 100
    b.alarm(f"{lid}DurationAlarm", comp, "duration-p90",
            f"p90 duration of '{name}' exceeded {limit_ms} ms ({cfg.lambda_duration_p90_percent_of_timeout}% of its {app.timeout_s} s timeout) "
            "for 15 minutes: it is close to timing out. Look first at: X-Ray traces for slow downstream calls, table latency, memory size.",
            threshold=limit_ms, op="GreaterThanThreshold", evals=15, dp=15, missing="missing",
            Namespace="AWS/Lambda", MetricName="Duration", Dimensions=d, ExtendedStatistic="p90", Unit="Milliseconds")
    pool = app.reserved_concurrency or cfg.account_concurrency_limit
    limit = max(1, pool * cfg.lambda_concurrency_percent // 100)
    b.alarm(f"{lid}ConcurrencyAlarm", comp, "concurrency",
            f"'{name}' ran more than {limit} concurrent executions ({cfg.lambda_concurrency_percent}% of "
            f"{'its reserved' if app.reserved_concurrency else 'the account'} limit of {pool}) for 10 minutes: throttling is near. "
            "Look first at: request rate, duration (slower calls hold concurrency longer), the limit itself.",
            threshold=limit, op="GreaterThanThreshold", evals=10, dp=10, missing="notBreaching",
            Namespace="AWS/Lambda", MetricName="ConcurrentExecutions", Dimensions=d, Statistic="Maximum")


def _table(b: Builder, name: str, table: AWSObject) -> None:
    cfg = b.cfg
    d = dims(TableName=Ref(table))
    comp = f"table-{name}"
    b.alarm(f"{table.title}ThrottlesAlarm", comp, "throttles",
            f"Table '{name}' throttled more than {cfg.dynamodb_throttles} reads and writes a minute for 5 minutes. "
            "Look first at: hot partition keys (CloudWatch Contributor Insights), sudden load, on-demand scaling limits.",
            threshold=cfg.dynamodb_throttles, op="GreaterThanThreshold", evals=5, dp=5, missing="notBreaching",
            Metrics=[stat("reads", "AWS/DynamoDB", "ReadThrottleEvents", d, "Sum"),
                     stat("writes", "AWS/DynamoDB", "WriteThrottleEvents", d, "Sum"),
                     cloudwatch.MetricDataQuery(Id="throttles", Expression="FILL(reads, 0) + FILL(writes, 0)", Label="Throttle events",
                                                ReturnData=True)])
    queries = [stat(f"op{i}", "AWS/DynamoDB", "SystemErrors", dims(TableName=Ref(table), Operation=op), "Sum")
               for i, op in enumerate(DYNAMODB_OPERATIONS)]
    b.alarm(f"{table.title}SystemErrorsAlarm", comp, "system-errors",
            f"DynamoDB returned more than {cfg.dynamodb_system_errors} server errors a minute on '{name}' for 5 minutes: "
            "an AWS-side problem. Look first at: the AWS Health Dashboard; make sure the code retries with backoff.",
            threshold=cfg.dynamodb_system_errors, op="GreaterThanThreshold", evals=5, dp=5, missing="notBreaching",
            Metrics=[*queries, cloudwatch.MetricDataQuery(
                Id="errors", Expression=" + ".join(f"FILL(op{i}, 0)" for i in range(len(queries))), Label="System errors", ReturnData=True)])


def _collection(b: Builder, name: str, collection: AWSObject) -> None:
    """OpenSearch Serverless publishes per collection (AWS lists no recommended alarms for it: these are msgen's)."""
    cfg = b.cfg
    d = dims(ClientId=Ref("AWS::AccountId"), CollectionId=Ref(collection), CollectionName=collection.Name)  # its physical name, a Sub
    comp = f"search-{name}"
    b.alarm(f"{collection.title}ErrorsAlarm", comp, "errors",
            f"Collection '{name}' failed more than {cfg.search_errors} search or ingestion requests a minute for 5 minutes. "
            "Look first at: the calling function's ERROR lines (4xx: a mapping or query error; 5xx or throttling: OCU limits).",
            threshold=cfg.search_errors, op="GreaterThanThreshold", evals=5, dp=5, missing="notBreaching",
            Metrics=[stat("search", "AWS/AOSS", "SearchRequestErrors", d, "Sum"),
                     stat("ingest", "AWS/AOSS", "IngestionRequestErrors", d, "Sum"),
                     cloudwatch.MetricDataQuery(Id="errors", Expression="FILL(search, 0) + FILL(ingest, 0)", Label="Failed requests",
                                                ReturnData=True)])
    b.alarm(f"{collection.title}LatencyAlarm", comp, "latency-p90",
            f"p90 search latency of collection '{name}' was above {cfg.search_latency_p90_ms} ms for 5 minutes. "
            "Look first at: expensive queries in the calling function's logs, and the collection's OCU usage (the account's OCU limit).",
            threshold=cfg.search_latency_p90_ms, op="GreaterThanThreshold", evals=5, dp=5, missing="notBreaching",
            Namespace="AWS/AOSS", MetricName="SearchRequestLatency", Dimensions=d, ExtendedStatistic="p90")


def _containers(b: Builder) -> None:
    cfg, c = b.cfg, b.ctx.reg.containers
    svc = dims(ClusterName=Ref(c.cluster), ServiceName=GetAtt(c.service, "Name"))
    lb = dims(LoadBalancer=GetAtt(c.load_balancer, "LoadBalancerFullName"), TargetGroup=GetAtt(c.target_group, "TargetGroupFullName"))
    for lid, signal, metric, threshold, what in (
        ("ServiceCpuAlarm", "cpu", "CPUUtilization", cfg.container_cpu_percent, "CPU"),
        ("ServiceMemoryAlarm", "memory", "MemoryUtilization", cfg.container_memory_percent, "memory"),
    ):
        b.alarm(lid, "containers", signal,
                f"The container service averaged more than {threshold}% {what} for 5 minutes: tasks are saturated. "
                "Look first at: request rate and autoscaling activity (is it at max_tasks?), then the task size.",
                threshold=threshold, op="GreaterThanThreshold", evals=5, dp=5, missing="breaching",
                Namespace="AWS/ECS", MetricName=metric, Dimensions=svc, Statistic="Average")
    b.alarm("ServiceRunningTasksAlarm", "containers", "running-tasks",
            "No container task has been running for 5 minutes: the service is down. "
            "Look first at: the ECS service's events (failed deployments roll back), task stop reasons, image pulls through the VPC endpoints.",
            threshold=0, op="LessThanOrEqualToThreshold", evals=5, dp=5, missing="breaching",
            Namespace="ECS/ContainerInsights", MetricName="RunningTaskCount", Dimensions=svc, Statistic="Average")
    b.alarm("TargetServerErrorsAlarm", "containers", "5xx",
            f"The containers answered more than {cfg.target_5xx_count} 5XX responses a minute for 5 minutes. "
            "Look first at: the container log group's ERROR lines ('Recent errors'), then recent deployments.",
            threshold=cfg.target_5xx_count, op="GreaterThanThreshold", evals=5, dp=5, missing="notBreaching",
            Namespace="AWS/ApplicationELB", MetricName="HTTPCode_Target_5XX_Count", Dimensions=lb, Statistic="Sum")
    b.alarm("TargetResponseTimeAlarm", "containers", "response-time-p90",
            f"p90 response time of the containers exceeded {cfg.target_response_time_p90_ms} ms for 5 minutes. "
            "Look first at: CPU and memory of the tasks, table latency, slow downstream calls.",
            threshold=cfg.target_response_time_p90_ms / 1000, op="GreaterThanThreshold", evals=5, dp=5, missing="notBreaching",
            Namespace="AWS/ApplicationELB", MetricName="TargetResponseTime", Dimensions=lb, ExtendedStatistic="p90")
    b.alarm("UnhealthyTargetsAlarm", "containers", "unhealthy-targets",
            "A container task failed its health checks for 5 minutes. Look first at: the health check path's response in the task logs, "
            "and whether the tasks start within the 60 s grace period.",
            threshold=0, op="GreaterThanThreshold", evals=5, dp=5, missing="notBreaching",
            Namespace="AWS/ApplicationELB", MetricName="UnHealthyHostCount", Dimensions=lb, Statistic="Maximum")


def _database(b: Builder) -> None:
    db = b.ctx.spec.database
    d = dims(DBClusterIdentifier=Ref(b.ctx.reg.database.cluster))
    b.alarm("DatabaseCpuAlarm", "database", "cpu",
            "Aurora CPU averaged above 90% for 5 minutes. Look first at: Performance Insights' top SQL, then max_capacity.",
            threshold=90, op="GreaterThanThreshold", evals=5, dp=5, missing="breaching",
            Namespace="AWS/RDS", MetricName="CPUUtilization", Dimensions=d, Statistic="Average")
    b.alarm("DatabaseConnectionsAlarm", "database", "connections",
            f"More than {db.max_connections_alarm} database connections for 5 minutes: a connection leak or a pool per request. "
            "Look first at: pool sizes in the tasks and functions; consider RDS Proxy for many functions.",
            threshold=db.max_connections_alarm, op="GreaterThanThreshold", evals=5, dp=5, missing="notBreaching",
            Namespace="AWS/RDS", MetricName="DatabaseConnections", Dimensions=d, Statistic="Average")
    low_memory = int(db.max_capacity * 2 * 1024**3 * 0.05)
    b.alarm("DatabaseMemoryAlarm", "database", "freeable-memory",
            f"Freeable memory stayed below {low_memory // 1024**2} MiB (5% of {db.max_capacity} ACU) for 15 minutes. "
            "Look first at: connections and work_mem, then max_capacity.",
            threshold=low_memory, op="LessThanThreshold", evals=15, dp=15, missing="breaching",
            Namespace="AWS/RDS", MetricName="FreeableMemory", Dimensions=d, Statistic="Average")
    b.alarm("DatabaseCapacityAlarm", "database", "capacity-at-max",
            f"Aurora ran at its maximum of {db.max_capacity} ACU for 15 minutes: it cannot scale further. "
            "Look first at: Performance Insights, then raise database.max_capacity.",
            threshold=db.max_capacity, op="GreaterThanOrEqualToThreshold", evals=15, dp=15, missing="notBreaching",
            Namespace="AWS/RDS", MetricName="ServerlessDatabaseCapacity", Dimensions=d, Statistic="Maximum")


def _queue(b: Builder, name: str, queue: AWSObject) -> None:
    spec = next(q for q in b.ctx.spec.messaging.queues if q.name == name)
    dlq = b.ctx.reg.dead_letter_queues.queues[name]
    comp = f"queue-{name}"
    b.alarm(f"{queue.title}AgeAlarm", comp, "oldest-message-age",
            f"The oldest message in '{name}' has waited more than {spec.max_age_s} s for 5 minutes: "
            + ("its consumer is failing or too slow. Look first at: the consumer function's errors and duration, its throttles."
               if spec.consumer else "nothing is consuming it. Look first at: whoever should read this queue."),
            threshold=spec.max_age_s, op="GreaterThanOrEqualToThreshold", evals=5, dp=5, missing="notBreaching",
            Namespace="AWS/SQS", MetricName="ApproximateAgeOfOldestMessage", Dimensions=dims(QueueName=GetAtt(queue, "QueueName")),
            Statistic="Maximum")
    _dead_letters(b, dlq, comp, f"Messages of '{name}' failed {spec.max_receive_count} times and reached its dead-letter queue. "
                  "Look first at: the consumer's logs for those messages' correlation_id; redrive them from the console once fixed.")


def _dead_letters(b: Builder, dlq: AWSObject, component: str, description: str) -> None:
    """Any message in a dead-letter queue is worth a look: one alarm shape for every kind of dead letter."""
    b.alarm(f"{dlq.title}MessagesAlarm", component, "dead-letters", description,
            threshold=0, op="GreaterThanThreshold", evals=1, dp=1, missing="notBreaching",
            Namespace="AWS/SQS", MetricName="ApproximateNumberOfMessagesVisible", Dimensions=dims(QueueName=GetAtt(dlq, "QueueName")),
            Statistic="Maximum")


def _topic(b: Builder, name: str, topic: AWSObject) -> None:
    b.alarm(f"{topic.title}FailedAlarm", f"topic-{name}", "failed-notifications",
            f"Topic '{name}' failed to deliver notifications for 5 minutes. "
            "Look first at: the subscribed queues' policies and the service key's policy for SNS.",
            threshold=0, op="GreaterThanThreshold", evals=5, dp=5, missing="notBreaching",
            Namespace="AWS/SNS", MetricName="NumberOfNotificationsFailed", Dimensions=dims(TopicName=GetAtt(topic, "TopicName")),
            Statistic="Sum")
    dead_letters = b.ctx.reg.dead_letter_queues.subscriptions.get(name, {})
    for queue, dlq in dead_letters.items():
        _dead_letters(b, dlq, f"topic-{name}-to-{queue}",
                      f"SNS could not deliver messages of topic '{name}' to queue '{queue}' and kept them in the subscription's "
                      "dead-letter queue. Look first at: the queue's policy and the service key's policy for SNS; "
                      "send the messages to the queue again once fixed.")
    if dead_letters:
        b.alarm(f"{topic.title}RedriveFailedAlarm", f"topic-{name}", "redrive-failed",
                f"Topic '{name}' could not move undeliverable messages to a subscription's dead-letter queue: they are lost. "
                "Look first at: the dead-letter queues' policies and the service key's policy for SNS.",
                threshold=0, op="GreaterThanThreshold", evals=1, dp=1, missing="notBreaching",
                Namespace="AWS/SNS", MetricName="NumberOfNotificationsFailedToRedriveToDlq",
                Dimensions=dims(TopicName=GetAtt(topic, "TopicName")), Statistic="Sum")


def _rule(b: Builder, name: str, rule: AWSObject) -> None:
    spec = next(r for r in b.ctx.spec.messaging.events if r.name == name)
    d = dims(RuleName=b.ctx.physical(name)) if spec.bus == "default" else dims(EventBusName=spec.bus, RuleName=b.ctx.physical(name))
    comp = f"events-{name}"
    b.alarm(f"{rule.title}FailedAlarm", comp, "failed-invocations",
            f"Events rule '{name}' failed to deliver to its targets for 5 minutes (they are retried for a day, then kept in its "
            "dead-letter queue). Look first at: the target queues' policies and the service key's policy for EventBridge.",
            threshold=0, op="GreaterThanThreshold", evals=5, dp=5, missing="notBreaching",
            Namespace="AWS/Events", MetricName="FailedInvocations", Dimensions=d, Statistic="Sum")
    _dead_letters(b, b.ctx.reg.dead_letter_queues.rules[name], comp,
                  f"Events of rule '{name}' could not be delivered and reached its dead-letter queue. "
                  "Look first at: the messages' error attributes; send them again once the target accepts them.")


def _workflow(b: Builder, name: str, machine: AWSObject) -> None:
    d = dims(StateMachineArn=Ref(machine))
    for lid, signal, metric, what in (("Failed", "failed", "ExecutionsFailed", "failed"), ("TimedOut", "timed-out", "ExecutionsTimedOut", "timed out")):
        b.alarm(f"{machine.title}{lid}Alarm", f"workflow-{name}", signal,
                f"Executions of workflow '{name}' {what}. Look first at: the execution's event history in the Step Functions "
                "console, then the workflow's log group and X-Ray trace.",
                threshold=0, op="GreaterThanThreshold", evals=1, dp=1, missing="notBreaching",
                Namespace="AWS/States", MetricName=metric, Dimensions=d, Statistic="Sum")


def _application_errors(b: Builder) -> None:
    cfg = b.cfg
    b.alarm("ApplicationErrorsAlarm", "app", "errors",
            f"The service logged more than {cfg.application_errors} ERROR lines a minute for 3 minutes (metric {ERROR_METRIC}). "
            "Look first at: the dashboard's 'Recent errors' table, then follow one correlation_id with the saved query.",
            threshold=cfg.application_errors, op="GreaterThanThreshold", evals=3, dp=3, missing="notBreaching",
            Namespace=b.ctx.metric_namespace(), MetricName=ERROR_METRIC, Statistic="Sum")


def _cloudfront(b: Builder) -> None:
    """CloudFront publishes metrics only in us-east-1, so this alarm exists only when the stack is deployed there."""
    ctx, cfg = b.ctx, b.cfg
    ctx.template.add_condition(IN_US_EAST_1, Equals(Ref("AWS::Region"), "us-east-1"))
    b.alarm("DistributionErrorRateAlarm", "cdn", "5xx-rate",
            f"More than {cfg.cloudfront_5xx_rate_percent}% of CloudFront responses were 5xx for 5 minutes: viewers see errors. "
            "Look first at: the API's 5XX rate (origin errors), then the site bucket and origin access control. "
            "Exists only in us-east-1 stacks, where CloudFront metrics live.",
            threshold=cfg.cloudfront_5xx_rate_percent, op="GreaterThanThreshold", evals=5, dp=5, missing="notBreaching",
            condition=IN_US_EAST_1,
            Namespace="AWS/CloudFront", MetricName="5xxErrorRate", Dimensions=dims(DistributionId=Ref(ctx.reg.distribution), Region="Global"),
            Statistic="Average")


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



