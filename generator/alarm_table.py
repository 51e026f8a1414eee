"""The alarms of every kind msgen emits, as data, and how each compares with AWS's recommended alarms.

Each row (:class:`Alarm`) is one CloudWatch alarm that ``generator/synth/observability/alarms.py`` creates for every
resource of a kind (the kinds table, ``generator.kinds``, lists a kind's rows as ``Kind.alarms``). A row says:

* what it reads: ``namespace``, ``metric``, ``dimensions`` (names; each kind binds them to its resource) and
  ``statistic``; or a metric-math ``expression`` over ``queries`` (or over the metric repeated ``over`` the values
  of one dimension); or an anomaly-detection ``band``;
* when it fires: ``operator``, ``threshold``, ``evaluation_periods`` of ``period`` seconds, ``datapoints`` and the
  ``missing``-data treatment;
* what it means and where to look first (``description``, a ``str.format`` template);
* whether it joins the service's health composite (``health``: "the service is unhealthy"; signals about callers,
  traffic or capacity trends stay out);
* which of AWS's recommended alarms it implements (``aws``) and, field by field, why msgen deliberately differs
  from AWS (``deviation``: the field names are those of the fixture below).

:data:`NOT_EMITTED` lists the recommendations for these kinds that msgen deliberately does not emit, each with its
reason (account-level alarms, metrics that need a feature msgen does not turn on, ...).

AWS's list is "Best practice alarm recommendations for AWS services" (:data:`AWS_LIST`), transcribed with its date
in ``tests/fixtures/aws_recommended_alarms.json``, kept apart from this table: ``tests/test_recommended_alarms.py``
checks every resource every blueprint emits against it, so a recommendation this table forgets fails there.

Thresholds are a number; ``alarms.<field>`` (``observability.alarms`` in the spec); ``element.<field>`` (the spec
element the resource comes from, e.g. a queue's ``max_age_s``); or the name of a derivation in ``alarms.py``
(``THRESHOLDS``). ``threshold_text`` says it in words for docs/standards.md, whose alarm section
``scripts/update_standards_doc.py`` generates from this module. Like ``generator.kinds``, this module is plain
data: it imports neither troposphere nor pydantic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

AWS_LIST = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Best_Practice_Recommended_Alarms_AWS_Services.html"
PERIOD = 60
SERVICE_NAMESPACE = "msgen/<service>/<environment>"  # the service's own metrics (metric filters)

# The fields a deviation may name (the fixture's field names).
DEVIATION_FIELDS = ("metric", "dimensions", "statistic", "period", "evaluation_periods", "datapoints_to_alarm",
                    "comparison_operator", "threshold", "treat_missing_data")
OPERATORS = {
    "GreaterThanThreshold": ">", "GreaterThanOrEqualToThreshold": ">=", "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=", "LessThanLowerOrGreaterThanUpperThreshold": "outside the band",
    "GreaterThanUpperThreshold": "above the band",
}
MISSING = ("breaching", "notBreaching", "ignore", "missing")

# Data-plane operations whose SystemErrors a table alarm sums: every item operation msgen's grants allow
# (generator.kinds, table). An alarm reads at most 10 metrics, each billed.
DYNAMODB_OPERATIONS = ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem")
# The singleton operations AWS quotes at single-digit milliseconds on average.
DYNAMODB_SINGLETON_OPERATIONS = ("GetItem", "PutItem", "UpdateItem", "DeleteItem")


@dataclass(frozen=True)
class Aws:
    """One recommendation in AWS's list: its namespace, metric and dimension names.

    ``kind`` names the kind whose resource the recommendation is about when that is not the row's own kind (the load
    balancer's alarms stand in for the ECS service's Service Connect metrics).
    """

    namespace: str
    metric: str
    dimensions: tuple[str, ...]
    kind: str | None = None

    @property
    def key(self) -> tuple[str, str, tuple[str, ...]]:
        return self.namespace, self.metric, tuple(sorted(self.dimensions))

    def __str__(self) -> str:
        return f"{self.namespace} {self.metric} ({', '.join(self.dimensions) or 'account'})"


@dataclass(frozen=True)
class Query:
    """One metric a metric-math alarm reads; namespace and dimensions default to the row's."""

    id: str
    metric: str
    statistic: str
    namespace: str | None = None
    dimensions: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Alarm:
    id: str  # logical ID = the resource's logical ID (or the kind's fixed prefix) + id
    signal: str  # alarm name = msgen-<service>-<environment>-<component>-<signal>
    namespace: str
    metric: str  # the metric the alarm is about (for metric math: the one AWS's recommendation names)
    dimensions: tuple[str, ...]
    statistic: str
    operator: str
    threshold: float | str | None  # see the module's docstring; None for an anomaly band
    evaluation_periods: int | str  # a number, or element.<field>
    datapoints: int | str
    missing: str
    description: str  # must say what it means and "Look first at:"
    health: bool
    threshold_text: str = ""  # the threshold in words (docs)
    period: int = PERIOD
    unit: str | None = None
    aws: tuple[Aws, ...] = ()  # the recommendations this alarm implements; () = msgen's own
    deviation: Mapping[str, str] = field(default_factory=dict)  # fixture field -> why msgen differs from AWS
    queries: tuple[Query, ...] = ()  # metric math: the metrics the expression reads
    over: tuple[str, tuple[str, ...]] | None = None  # metric math: the metric once per value of this dimension (ids op0, op1, ...)
    expression: str | None = None  # metric math; {sum} and {max} stand for the `over` series
    result: str = "result"  # the expression's query id
    label: str | None = None  # the expression's label
    band: str | None = None  # anomaly detection: the setting holding the band's width in standard deviations
    band_text: str = ""  # what the anomaly detector learns (its resource's description)
    each: str | None = None  # one alarm per value of this dimension (a table's global secondary indexes)
    when: str | None = None  # a flag of the resource: without it, no alarm
    when_text: str = ""  # when the flag is set, and why the alarm depends on it
    condition: str | None = None  # CloudFormation condition the alarm carries (and the docs explain)


@dataclass(frozen=True)
class NotEmitted:
    """A recommendation of AWS's list that applies to a kind msgen emits, deliberately not emitted."""

    aws: Aws
    reason: str


def _aws(namespace: str, metric: str, dimensions: tuple[str, ...]) -> Aws:
    return Aws(namespace, metric, tuple(dimensions))


API_DIMS = ("ApiName", "Stage")
FN = ("FunctionName",)
RELEASE = ("FunctionName", "Resource", "ExecutedVersion")  # Lambda's per-alias, per-version metrics (invocations through the alias)
TABLE = ("TableName",)
QUEUE = ("QueueName",)
TOPIC = ("TopicName",)
INSTANCE = ("DBInstanceIdentifier",)
WRITER = ("DBClusterIdentifier", "Role")
ECS_SERVICE = ("ClusterName", "ServiceName")
TARGET_GROUP = ("LoadBalancer", "TargetGroup")

_ZERO_COUNTS = ("0: a new service has no baseline to tune from, so every occurrence, sustained over the evaluation "
                "periods, is worth a look; raise the setting once the usual rate is known")
_SMS = "no SMS subscriptions: msgen subscribes only its own queues, its functions and the alarm e-mail"
_FILTERS = ("msgen's subscriptions carry no filter policy, and these metrics count only messages a filter policy "
            "rejects for invalid attributes or bodies")
_ENHANCED = ("a Container Insights metric with enhanced observability only (CloudWatch's Container Insights metrics "
             "for ECS); msgen turns on standard Container Insights (containerInsights=enabled), which bills less and does "
             "not publish it. The service's CPUUtilization and MemoryUtilization (AWS/ECS), averaged over its tasks, "
             "and the ephemeral-storage alarm watch the same saturation")
_ENHANCED_CLUSTER = _ENHANCED + "; a cluster holds exactly one service, so the cluster-level alarm would repeat the service's"
_ACCOUNT = ("account level, not a resource of the service's stack: `msgen bootstrap` creates it in each environment's "
            "account-level stack")
_ACCOUNT_PROVISIONED = ("account level, not a resource of the service's stack, and left out of the account-level stack of "
                        "`msgen bootstrap` too: msgen's tables are on-demand and use no provisioned capacity")

ALARMS: Mapping[str, tuple[Alarm, ...]] = MappingProxyType({
    "api": (
        Alarm("ServerErrorRateAlarm", "5xx-rate", "AWS/ApiGateway", "5XXError", API_DIMS, "Average", "GreaterThanThreshold",
              "api_5xx_rate", 3, 3, "missing",
              "More than {percent}% of API requests failed with 5XX for {minutes} minutes: the service is failing its callers. "
              "Look first at: the function's Errors and logs (dashboard 'Recent errors'), then integration latency for timeouts.",
              health=True, threshold_text="`api_5xx_rate_percent` (5) % of requests: the Average of 5XXError is the share of requests",
              aws=(_aws("AWS/ApiGateway", "5XXError", API_DIMS),)),
        Alarm("ClientErrorRateAlarm", "4xx-rate", "AWS/ApiGateway", "4XXError", API_DIMS, "Average", "GreaterThanThreshold",
              "api_4xx_rate", 5, 5, "missing",
              "More than {percent}% of API requests were rejected with 4XX for {minutes} minutes: callers send bad or unauthorised "
              "requests. Look first at: the access log's status and error fields by path; a recent client or auth change.",
              health=False, threshold_text="`api_4xx_rate_percent` (5) % of requests",
              aws=(_aws("AWS/ApiGateway", "4XXError", API_DIMS),)),
        Alarm("LatencyAlarm", "latency-p90", "AWS/ApiGateway", "Latency", API_DIMS, "p90", "GreaterThanOrEqualToThreshold",
              "alarms.api_latency_p90_ms", 5, 5, "missing",
              "p90 API latency was at or above {threshold} ms for {minutes} minutes: callers wait too long. "
              "Look first at: integration latency (function duration) against total latency; table latency; cold starts.",
              health=True, unit="Milliseconds", threshold_text="`api_latency_p90_ms` (2500) ms",
              aws=(_aws("AWS/ApiGateway", "Latency", API_DIMS),)),
        Alarm("RequestRateAlarm", "request-rate", "AWS/ApiGateway", "Count", API_DIMS, "Sum",
              "LessThanLowerOrGreaterThanUpperThreshold", None, 10, 10, "notBreaching",
              "Requests per minute left the expected band ({band} standard deviations) for {minutes} minutes: "
              "a drop means callers cannot reach the service or stopped calling; a spike means unusual load or a retry storm. "
              "Look first at: CloudFront and API 4XX/5XX, the callers' deployments, throttles. Minutes without any request count as normal.",
              health=False, threshold_text="an anomaly band `request_rate_band_width` (2) standard deviations wide",
              queries=(Query("requests", "Count", "Sum"),), label="Expected requests", band="alarms.request_rate_band_width",
              band_text="Learns the usual request rate by time of day and week",
              aws=(_aws("AWS/ApiGateway", "Count", API_DIMS),),
              deviation={
                  "statistic": "Sum: every request is one datapoint of 1 in Count, so Sum and SampleCount are the same number; "
                               "Sum is the statistic API Gateway documents for Count",
                  "threshold": "an anomaly-detection band learned from the API's own history (by hour of day and week) instead of "
                               "a fixed baseline: AWS's threshold is 'the expected baseline from historical data', which the band computes",
                  "comparison_operator": "both sides of the band: a drop (callers cannot reach the service) and a spike (a retry "
                                         "storm, unusual load) are both worth a look",
                  "treat_missing_data": "notBreaching: AWS recommends this alarm only for APIs with steady traffic, where no datapoint "
                                        "means no request; msgen watches every API, so a minute without requests is normal (a "
                                        "complete stop shows on the callers' side and in CloudFront)",
              }),
    ),
    "function": (
        Alarm("ErrorsAlarm", "errors", "AWS/Lambda", "Errors", FN, "Sum", "GreaterThanThreshold", "alarms.lambda_errors", 3, 3,
              "missing",
              "Function '{name}' raised more than {threshold} errors a minute for {minutes} minutes. "
              "Look first at: the dashboard's 'Recent errors' table and the function's log group for stack traces.",
              health=True, threshold_text="`lambda_errors` (0) a minute", aws=(_aws("AWS/Lambda", "Errors", FN),),
              deviation={"threshold": _ZERO_COUNTS + " (AWS: 'a number greater than zero'; 'for some applications, any error "
                                                     "might be unacceptable')"}),
        Alarm("ThrottlesAlarm", "throttles", "AWS/Lambda", "Throttles", FN, "Sum", "GreaterThanThreshold", "alarms.lambda_throttles",
              5, 5, "missing",
              "Function '{name}' was throttled (more than {threshold} a minute) for {minutes} minutes: requests are being refused. "
              "Look first at: concurrency against its reserved or account limit, and the request rate.",
              health=True, threshold_text="`lambda_throttles` (0) a minute", aws=(_aws("AWS/Lambda", "Throttles", FN),),
              deviation={"comparison_operator": "'more than lambda_throttles' (default: more than 0), which for a whole count is "
                                                "AWS's '>= N' with N = lambda_throttles + 1; every msgen count threshold says 'more than'"}),
        Alarm("DurationAlarm", "duration-p90", "AWS/Lambda", "Duration", FN, "p90", "GreaterThanThreshold", "lambda_duration", 15, 15,
              "missing",
              "p90 duration of '{name}' exceeded {threshold} ms ({percent}% of its {timeout} s timeout) for {minutes} minutes: "
              "it is close to timing out. Look first at: X-Ray traces for slow downstream calls, table latency, memory size.",
              health=True, unit="Milliseconds",
              threshold_text="`lambda_duration_p90_percent_of_timeout` (80) % of `application.timeout_s`",
              aws=(_aws("AWS/Lambda", "Duration", FN),)),
        Alarm("ConcurrencyAlarm", "concurrency", "AWS/Lambda", "ConcurrentExecutions", FN, "Maximum", "GreaterThanThreshold",
              "lambda_concurrency", 10, 10, "missing",
              "'{name}' ran more than {threshold} concurrent executions ({percent}% of {pool_text} limit of {pool}) for {minutes} "
              "minutes: throttling is near. Look first at: request rate, duration (slower calls hold concurrency longer), the limit itself.",
              health=True,
              threshold_text="`lambda_concurrency_percent` (90) % of the function's concurrency quota: "
                             "`application.reserved_concurrency`, else the account's `account_concurrency_limit` (1000)",
              aws=(_aws("AWS/Lambda", "ConcurrentExecutions", FN),)),
    ),
    # The rollback alarms of a function's CodeDeploy deployment group: they watch only the version being released (the alias's
    # ExecutedVersion), so errors of the old version never stop a fix (SAM issue #716). Not part of health: the function's
    # own alarms already cover every version. Errors only: a new version that times out counts its timeouts as Errors, and
    # every alarm here is one more resource per function (a micro service's stack holds at most 500).
    "release": (
        Alarm("ReleaseErrorsAlarm", "release-errors", "AWS/Lambda", "Errors", RELEASE, "Sum", "GreaterThanThreshold", "alarms.lambda_errors",
              1, 1, "notBreaching",
              "The new version of '{name}' raised more than {threshold} errors in a minute while it was being released: CodeDeploy "
              "stops the release and moves alias 'live' back to the previous version. Look first at: the function's log group "
              "(lines of the new version) and the deployment in the CodeDeploy console.",
              health=False, threshold_text="`lambda_errors` (0) in one minute, new version only"),
    ),
    "table": (
        Alarm("ThrottlesAlarm", "throttles", "AWS/DynamoDB", "ReadThrottleEvents", TABLE, "Sum", "GreaterThanThreshold",
              "alarms.dynamodb_throttles", 5, 5, "notBreaching",
              "Table '{name}' throttled more than {threshold} reads and writes a minute for {minutes} minutes. "
              "Look first at: hot partition keys (CloudWatch Contributor Insights), sudden load, on-demand scaling limits.",
              health=True, threshold_text="`dynamodb_throttles` (0) reads plus writes a minute",
              queries=(Query("reads", "ReadThrottleEvents", "Sum"), Query("writes", "WriteThrottleEvents", "Sum")),
              expression="FILL(reads, 0) + FILL(writes, 0)", result="throttles", label="Throttle events",
              aws=(_aws("AWS/DynamoDB", "ReadThrottleEvents", TABLE), _aws("AWS/DynamoDB", "WriteThrottleEvents", TABLE)),
              deviation={
                  "metric": "reads and writes in one alarm (FILL(reads, 0) + FILL(writes, 0)): the same metrics, statistic and "
                            "periods as AWS's two alarms, at the same price (two metrics)",
                  "threshold": "0: msgen's tables are on-demand, so sustained throttling is never expected load but a hot "
                               "partition key or the table's on-demand limits; raise dynamodb_throttles if some is acceptable",
              }),
        Alarm("ThrottlesAlarm", "index-{each}-throttles", "AWS/DynamoDB", "ReadThrottleEvents", (*TABLE, "GlobalSecondaryIndexName"),
              "Sum", "GreaterThanThreshold", "alarms.dynamodb_throttles", 5, 5, "notBreaching",
              "Index '{each}' of table '{name}' throttled more than {threshold} reads and writes a minute for {minutes} minutes "
              "(an index's throttles are published per index, apart from the table's). Look first at: a hot value of the index's "
              "partition key, sudden load, on-demand scaling limits.",
              health=True, each="GlobalSecondaryIndexName", threshold_text="`dynamodb_throttles` (0) reads plus writes a minute",
              queries=(Query("reads", "ReadThrottleEvents", "Sum"), Query("writes", "WriteThrottleEvents", "Sum")),
              expression="FILL(reads, 0) + FILL(writes, 0)", result="throttles", label="Index throttle events",
              aws=(_aws("AWS/DynamoDB", "ReadThrottleEvents", (*TABLE, "GlobalSecondaryIndexName")),
                   _aws("AWS/DynamoDB", "WriteThrottleEvents", (*TABLE, "GlobalSecondaryIndexName"))),
              deviation={
                  "metric": "reads and writes of the index in one alarm, as for the table: the same metrics, statistic and "
                            "periods at the same price",
                  "threshold": "0, as for the table: an on-demand table's index should not throttle under expected load",
              }),
        Alarm("SystemErrorsAlarm", "system-errors", "AWS/DynamoDB", "SystemErrors", (*TABLE, "Operation"), "Sum", "GreaterThanThreshold",
              "alarms.dynamodb_system_errors", 15, 15, "notBreaching",
              "DynamoDB returned more than {threshold} server errors a minute on '{name}' for {minutes} minutes: an AWS-side problem. "
              "Look first at: the AWS Health Dashboard; make sure the code retries with backoff.",
              health=True, threshold_text="`dynamodb_system_errors` (0) a minute, summed over the data-plane operations",
              over=("Operation", DYNAMODB_OPERATIONS), expression="{sum}", result="errors", label="System errors",
              aws=(_aws("AWS/DynamoDB", "SystemErrors", TABLE),),
              deviation={
                  "metric": "the sum of the per-operation series (FILL(op, 0) + ...), one alarm for the table",
                  "dimensions": "DynamoDB publishes SystemErrors only per (TableName, Operation), so an alarm on TableName alone "
                                "sees no data: the alarm sums the eight data-plane operations msgen's grants allow (GetItem, "
                                "PutItem, UpdateItem, DeleteItem, Query, Scan, BatchGetItem, BatchWriteItem; an alarm reads at "
                                "most 10 metrics, each billed)",
                  "threshold": "0 for 15 minutes running: errors on AWS's side in every minute of a quarter hour are an outage, "
                               "however well the code retries",
              }),
        Alarm("LatencyAlarm", "latency", "AWS/DynamoDB", "SuccessfulRequestLatency", (*TABLE, "Operation"), "Average",
              "GreaterThanThreshold", "alarms.dynamodb_latency_ms", 10, 10, "missing",
              "The average latency of GetItem, PutItem, UpdateItem or DeleteItem on table '{name}' was above {threshold} ms for "
              "{minutes} minutes (DynamoDB serves them in single-digit milliseconds). Look first at: the AWS Health Dashboard, item "
              "sizes, hot partition keys, then the calling functions' duration.",
              health=True, threshold_text="`dynamodb_latency_ms` (25) ms, the slowest of the singleton operations",
              over=("Operation", DYNAMODB_SINGLETON_OPERATIONS), expression="{max}", result="slowest", label="Slowest operation (ms)",
              aws=(_aws("AWS/DynamoDB", "SuccessfulRequestLatency", (*TABLE, "Operation")),),
              deviation={"metric": "one alarm on the slowest of GetItem, PutItem, UpdateItem and DeleteItem (MAX of their "
                                   "averages) instead of one per operation: the singleton operations AWS quotes at single-digit "
                                   "milliseconds; Query, Scan and batch latency grows with the size of the result, which no default "
                                   "threshold fits"}),
    ),
    "queue": (
        Alarm("AgeAlarm", "oldest-message-age", "AWS/SQS", "ApproximateAgeOfOldestMessage", QUEUE, "Maximum",
              "GreaterThanOrEqualToThreshold", "element.max_age_s", 15, 15, "missing",
              "The oldest message in '{name}' has waited {threshold} s or more for {minutes} minutes: {reader} is failing or too "
              "slow. Look first at: {first}.",
              health=True, threshold_text="`messaging.queues[].max_age_s` (300) s",
              aws=(_aws("AWS/SQS", "ApproximateAgeOfOldestMessage", QUEUE),)),
        Alarm("BacklogAlarm", "backlog", "AWS/SQS", "ApproximateNumberOfMessagesVisible", QUEUE, "Average",
              "GreaterThanOrEqualToThreshold", "queue_backlog", 15, 15, "missing",
              "On average {threshold} or more messages waited in '{name}' for {minutes} minutes: {reader} does not keep up. "
              "Look first at: {first}.",
              health=True,
              threshold_text="`messaging.queues[].max_backlog`, else `queue_backlog_messages` (1000) messages",
              aws=(_aws("AWS/SQS", "ApproximateNumberOfMessagesVisible", QUEUE),)),
        Alarm("InFlightAlarm", "in-flight", "AWS/SQS", "ApproximateNumberOfMessagesNotVisible", QUEUE, "Average",
              "GreaterThanOrEqualToThreshold", "queue_in_flight", 15, 15, "missing",
              "On average {threshold} or more messages of '{name}' were in flight (received, not yet deleted) for {minutes} minutes: "
              "{reader} receives messages without deleting them, or holds them too long. Look first at: {first}, and the queue's "
              "visibility timeout.",
              health=True,
              threshold_text="1.5 x the most a consumer can hold (`consumer.batch_size` x `application.reserved_concurrency`, else "
                             "`account_concurrency_limit`), at most 90% of SQS's 120,000 in-flight quota (the quota for a queue "
                             "without a consumer)",
              aws=(_aws("AWS/SQS", "ApproximateNumberOfMessagesNotVisible", QUEUE),)),
        Alarm("ProducersStoppedAlarm", "producers-stopped", "AWS/SQS", "NumberOfMessagesSent", QUEUE, "Sum",
              "LessThanOrEqualToThreshold", 0, "element.max_quiet_minutes", "element.max_quiet_minutes", "missing",
              "No message was sent to '{name}' for {minutes} minutes (messaging.queues[].max_quiet_minutes): its producers stopped. "
              "Look first at: the routes, rules and services that send to it (their errors and deployments).",
              health=False, threshold_text="0 messages a minute",
              when="max_quiet_minutes",
              when_text="only for queues whose spec sets `max_quiet_minutes` (AWS uses 15): AWS's alarm assumes steady traffic, and "
                        "on a queue that may be quiet it would fire every quiet quarter hour",
              aws=(_aws("AWS/SQS", "NumberOfMessagesSent", QUEUE),)),
    ),
    "dead_letter_queue": (
        Alarm("MessagesAlarm", "dead-letters", "AWS/SQS", "ApproximateNumberOfMessagesVisible", QUEUE, "Maximum", "GreaterThanThreshold",
              0, 1, 1, "notBreaching", "{what} Look first at: {first}", health=True, threshold_text="0 messages",
              aws=(_aws("AWS/SQS", "ApproximateNumberOfMessagesVisible", QUEUE),),
              deviation={
                  "statistic": "Maximum: one message in the minute is enough",
                  "comparison_operator": "'more than 0', that is at least one message (AWS: '>=' a tuned backlog)",
                  "threshold": "0: every dead letter is a failure someone must handle; AWS's backlog threshold is for work queues",
                  "evaluation_periods": "1: at once, not after a quarter hour",
                  "datapoints_to_alarm": "1 of 1, for the same reason as evaluation_periods",
                  "treat_missing_data": "notBreaching: a dead-letter queue without datapoints is an empty one",
              }),
    ),
    "topic": (
        Alarm("FailedAlarm", "failed-notifications", "AWS/SNS", "NumberOfNotificationsFailed", TOPIC, "Sum", "GreaterThanThreshold", 0,
              5, 5, "notBreaching",
              "Topic '{name}' failed to deliver notifications for {minutes} minutes. "
              "Look first at: the subscribed queues' policies and the service key's policy for SNS.",
              health=True, threshold_text="0 (AWS: 0 for topics with only SQS, Lambda or Firehose subscribers, as msgen's are)",
              aws=(_aws("AWS/SNS", "NumberOfNotificationsFailed", TOPIC),)),
        Alarm("RedriveFailedAlarm", "redrive-failed", "AWS/SNS", "NumberOfNotificationsFailedToRedriveToDlq", TOPIC, "Sum",
              "GreaterThanThreshold", 0, 1, 1, "notBreaching",
              "Topic '{name}' could not move undeliverable messages to a subscription's dead-letter queue: they are lost. "
              "Look first at: the dead-letter queues' policies and the service key's policy for SNS.",
              health=True, threshold_text="0", when="subscription_dead_letters",
              when_text="only topics with queue subscribers: each queue subscription has a dead-letter queue; without one the "
                        "metric stays empty",
              aws=(_aws("AWS/SNS", "NumberOfNotificationsFailedToRedriveToDlq", TOPIC),),
              deviation={"evaluation_periods": "1: a message SNS could not move to the dead-letter queue is lost, and AWS's 5 of 5 "
                                               "would miss a burst shorter than five minutes",
                         "datapoints_to_alarm": "1 of 1, for the same reason as evaluation_periods"}),
        Alarm("PublishedAlarm", "published-none", "AWS/SNS", "NumberOfMessagesPublished", TOPIC, "Sum", "LessThanThreshold", 1,
              "element.max_quiet_minutes", "element.max_quiet_minutes", "breaching",
              "Nothing was published to topic '{name}' for {minutes} minutes (messaging.topics[].max_quiet_minutes): its publishers "
              "stopped. Look first at: the routes and functions that publish to it (their errors and deployments).",
              health=False, threshold_text="1 message a minute",
              when="max_quiet_minutes",
              when_text="only for topics whose spec sets `max_quiet_minutes` (AWS uses 5): AWS recommends it 'if you expect your "
                        "system to have a minimum traffic', which msgen cannot know",
              aws=(_aws("AWS/SNS", "NumberOfMessagesPublished", TOPIC),)),
        Alarm("DeliveredAlarm", "delivered-none", "AWS/SNS", "NumberOfNotificationsDelivered", TOPIC, "Sum", "LessThanThreshold", 1,
              "element.max_quiet_minutes", "element.max_quiet_minutes", "breaching",
              "Topic '{name}' delivered nothing for {minutes} minutes: its publishers stopped or every delivery failed. "
              "Look first at: the topic's failed-notifications alarm, then the publishers.",
              health=False, threshold_text="1 delivery a minute",
              when="max_quiet_minutes", when_text="as for published-none",
              aws=(_aws("AWS/SNS", "NumberOfNotificationsDelivered", TOPIC),)),
    ),
    "alarm_topic": (
        Alarm("FailedAlarm", "notifications-failed", "AWS/SNS", "NumberOfNotificationsFailed", TOPIC, "Sum", "GreaterThanThreshold", 0,
              1, 1, "notBreaching",
              "Notifications of this service's alarms could not be delivered: the people on call may not hear of the next alarm. "
              "Look first at: the topic's subscriptions (is the e-mail address confirmed, does the endpoint accept?), then the "
              "service key's policy for SNS.",
              health=False, threshold_text="0",
              aws=(_aws("AWS/SNS", "NumberOfNotificationsFailed", TOPIC),),
              deviation={"evaluation_periods": "1: the alarm topic carries a few notifications an hour at most, so failures never "
                                               "fill five consecutive minutes; one failed notification may be a missed page",
                         "datapoints_to_alarm": "1 of 1, for the same reason as evaluation_periods"}),
    ),
    "database": (
        Alarm("CpuAlarm", "cpu", "AWS/RDS", "CPUUtilization", INSTANCE, "Average", "GreaterThanThreshold", 90, 5, 5, "breaching",
              "Aurora CPU (the writer) averaged above {threshold}% for {minutes} minutes. "
              "Look first at: Performance Insights' top SQL, then max_capacity.",
              health=True, threshold_text="90%", aws=(_aws("AWS/RDS", "CPUUtilization", INSTANCE),)),
        Alarm("ConnectionsAlarm", "connections", "AWS/RDS", "DatabaseConnections", INSTANCE, "Average", "GreaterThanThreshold",
              "database_connections", 5, 5, "breaching",
              "More than {threshold} database connections for {minutes} minutes ({basis}): new connections will soon be refused. "
              "Look first at: pool sizes in the tasks and functions (a pool per request, a leak); consider RDS Proxy for many functions.",
              health=True,
              threshold_text="`database.max_connections_alarm`, else `database_connections_percent` (90) % of the max_connections "
                             "Aurora PostgreSQL derives from `database.max_capacity`",
              aws=(_aws("AWS/RDS", "DatabaseConnections", INSTANCE),)),
        Alarm("MemoryAlarm", "freeable-memory", "AWS/RDS", "FreeableMemory", INSTANCE, "Average", "LessThanThreshold",
              "database_memory", 15, 15, "breaching",
              "Freeable memory stayed below {mib} MiB (5% of {max_capacity} ACU) for {minutes} minutes. "
              "Look first at: connections and work_mem, then max_capacity.",
              health=True, threshold_text="5% of the memory of `database.max_capacity` ACU (AWS: 'close to 5%' on Aurora)",
              aws=(_aws("AWS/RDS", "FreeableMemory", INSTANCE),)),
        Alarm("CapacityAlarm", "capacity-at-max", "AWS/RDS", "ServerlessDatabaseCapacity", ("DBClusterIdentifier",), "Maximum",
              "GreaterThanOrEqualToThreshold", "element.max_capacity", 15, 15, "notBreaching",
              "Aurora ran at its maximum of {threshold} ACU for {minutes} minutes: it cannot scale further. "
              "Look first at: Performance Insights, then raise database.max_capacity.",
              health=True, threshold_text="`database.max_capacity` ACU"),
        Alarm("TransactionIdsAlarm", "transaction-ids", "AWS/RDS", "MaximumUsedTransactionIDs", INSTANCE, "Average",
              "GreaterThanThreshold", 1_000_000_000, 1, 1, "missing",
              "The oldest unfrozen transaction ID is more than 1 billion transactions old (autovacuum aims at 200 million): at about "
              "2 billion PostgreSQL stops accepting writes to prevent wraparound. Look first at: long-running and idle-in-transaction "
              "sessions, then autovacuum's progress (pg_stat_progress_vacuum).",
              health=True, threshold_text="1,000,000,000", aws=(_aws("AWS/RDS", "MaximumUsedTransactionIDs", INSTANCE),)),
        Alarm("ReadLatencyAlarm", "read-latency-p90", "AWS/RDS", "ReadLatency", INSTANCE, "p90", "GreaterThanThreshold",
              "database_latency", 5, 5, "missing",
              "p90 read latency of the writer's storage was above {ms} ms for {minutes} minutes. Look first at: Performance "
              "Insights' top SQL (missing indexes, large scans), the buffer cache hit ratio, then max_capacity.",
              health=True, threshold_text="`database_latency_p90_ms` (20) ms (the metric is in seconds: 0.02)",
              aws=(_aws("AWS/RDS", "ReadLatency", INSTANCE),)),
        Alarm("WriteLatencyAlarm", "write-latency-p90", "AWS/RDS", "WriteLatency", INSTANCE, "p90", "GreaterThanThreshold",
              "database_latency", 5, 5, "missing",
              "p90 write latency of the writer's storage was above {ms} ms for {minutes} minutes. Look first at: Performance "
              "Insights' top SQL (large transactions, many indexes on hot tables), then max_capacity.",
              health=True, threshold_text="`database_latency_p90_ms` (20) ms",
              aws=(_aws("AWS/RDS", "WriteLatency", INSTANCE),)),
        Alarm("BufferCacheAlarm", "buffer-cache-hit-ratio", "AWS/RDS", "BufferCacheHitRatio", INSTANCE, "Average", "LessThanThreshold",
              "alarms.database_buffer_cache_hit_percent", 10, 10, "missing",
              "Less than {threshold}% of reads were served from the buffer cache for {minutes} minutes: queries go to storage and "
              "slow down. Look first at: database.min_capacity (a small instance has a small cache), then queries that scan large tables.",
              health=False, threshold_text="`database_buffer_cache_hit_percent` (80) %",
              aws=(_aws("AWS/RDS", "BufferCacheHitRatio", INSTANCE),)),
        Alarm("WriterUptimeAlarm", "writer-down", "AWS/RDS", "EngineUptime", WRITER, "Average", "LessThanOrEqualToThreshold", 0, 2, 2,
              "breaching",
              "The Aurora writer reported no uptime for {minutes} minutes: it is down, restarting or failing over, and writes fail. "
              "Look first at: the cluster's events in the RDS console (failover, reboot, maintenance), then the PostgreSQL log.",
              health=True, threshold_text="0 s", aws=(_aws("AWS/RDS", "EngineUptime", WRITER),)),
        Alarm("StorageThroughputAlarm", "storage-throughput", "AWS/RDS", "StorageNetworkThroughput", WRITER, "Average",
              "GreaterThanUpperThreshold", None, 5, 5, "missing",
              "The writer's storage network throughput stayed above its expected band ({band} standard deviations) for {minutes} "
              "minutes: far more I/O than usual. Look first at: Performance Insights' top SQL by I/O, bulk loads or backfills, "
              "then max_capacity.",
              health=False, threshold_text="the upper side of an anomaly band `database_throughput_band_width` (2) standard deviations wide",
              queries=(Query("throughput", "StorageNetworkThroughput", "Average"),), label="Expected throughput",
              band="alarms.database_throughput_band_width", band_text="Learns the writer's usual storage network throughput",
              aws=(_aws("AWS/RDS", "StorageNetworkThroughput", WRITER),),
              deviation={
                  "threshold": "AWS: 80-90% of the instance type's network bandwidth, which db.serverless does not publish (it "
                               "grows with capacity); the upper side of an anomaly band learned from the writer's own throughput "
                               "flags the same thing, traffic far above normal",
                  "comparison_operator": "GreaterThanUpperThreshold: the anomaly band's form of 'greater than'",
              }),
    ),
    "container_service": (
        Alarm("CpuAlarm", "cpu", "AWS/ECS", "CPUUtilization", ECS_SERVICE, "Average", "GreaterThanThreshold",
              "alarms.container_cpu_percent", 5, 5, "notBreaching",
              "The container service averaged more than {threshold}% CPU for {minutes} minutes: tasks are saturated. "
              "Look first at: request rate and autoscaling activity (is it at max_tasks?), then the task size.",
              health=True, threshold_text="`container_cpu_percent` (80) %", aws=(_aws("AWS/ECS", "CPUUtilization", ECS_SERVICE),),
              deviation={"treat_missing_data": "notBreaching: with no task running there is no datapoint, and AWS's 'breaching' "
                                               "would page 'saturated' for a service that is down; running-tasks is the alarm for "
                                               "that case"}),
        Alarm("MemoryAlarm", "memory", "AWS/ECS", "MemoryUtilization", ECS_SERVICE, "Average", "GreaterThanThreshold",
              "alarms.container_memory_percent", 5, 5, "notBreaching",
              "The container service averaged more than {threshold}% memory for {minutes} minutes: tasks are saturated. "
              "Look first at: request rate and autoscaling activity (is it at max_tasks?), then the task size.",
              health=True, threshold_text="`container_memory_percent` (80) %",
              aws=(_aws("AWS/ECS", "MemoryUtilization", ECS_SERVICE),),
              deviation={"treat_missing_data": "notBreaching, as for CPU: no task is the running-tasks alarm's case"}),
        Alarm("RunningTasksAlarm", "running-tasks", "ECS/ContainerInsights", "RunningTaskCount", ECS_SERVICE, "Average",
              "LessThanOrEqualToThreshold", 0, 5, 5, "breaching",
              "No container task has been running for {minutes} minutes: the service is down. Look first at: the ECS service's "
              "events (failed deployments roll back), task stop reasons, image pulls through the VPC endpoints.",
              health=True, threshold_text="0 tasks", aws=(_aws("ECS/ContainerInsights", "RunningTaskCount", ECS_SERVICE),),
              deviation={"treat_missing_data": "breaching: this is the one alarm for 'no task is running' (CPU and memory ignore "
                                               "missing data), so it must not stay quiet when Container Insights reports nothing "
                                               "for the service"}),
        Alarm("EphemeralStorageAlarm", "ephemeral-storage", "ECS/ContainerInsights", "EphemeralStorageUtilized", ECS_SERVICE,
              "Average", "GreaterThanThreshold", "alarms.container_ephemeral_storage_percent", 5, 5, "notBreaching",
              "The tasks used more than {threshold}% of their ephemeral storage for {minutes} minutes: writes will soon fail. "
              "Look first at: files the application writes to its volumes, the image's size (it counts), then the task's storage size.",
              health=True, threshold_text="`container_ephemeral_storage_percent` (90) % of EphemeralStorageReserved",
              queries=(Query("used", "EphemeralStorageUtilized", "Average"), Query("reserved", "EphemeralStorageReserved", "Average")),
              expression="IF(reserved > 0, 100 * used / reserved, 0)", result="percent", label="Ephemeral storage used %",
              aws=(_aws("ECS/ContainerInsights", "EphemeralStorageUtilized", ECS_SERVICE),),
              deviation={"metric": "read as a percentage of EphemeralStorageReserved: the metric is in gigabytes, and AWS's 90 is "
                                   "'about 90% of the ephemeral storage size' (its guidance)"}),
    ),
    "load_balancer": (
        Alarm("TargetServerErrorsAlarm", "5xx-rate", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", TARGET_GROUP, "Sum",
              "GreaterThanThreshold", "alarms.target_5xx_rate_percent", 5, 5, "notBreaching",
              "More than {threshold}% of the requests to the containers were answered 5XX for {minutes} minutes. "
              "Look first at: the container log group's ERROR lines ('Recent errors'), then recent deployments.",
              health=True, threshold_text="`target_5xx_rate_percent` (5) % of the target group's RequestCount",
              queries=(Query("errors", "HTTPCode_Target_5XX_Count", "Sum"), Query("requests", "RequestCount", "Sum")),
              expression="IF(requests > 0, 100 * errors / requests, 0)", result="rate", label="Target 5XX %",
              aws=(Aws("AWS/ECS", "HTTPCode_Target_5XX_Count", ECS_SERVICE, kind="container_service"),),
              deviation={"metric": "AWS/ECS HTTPCode_Target_5XX_Count exists only with ECS Service Connect, which msgen does not "
                                   "use: the load balancer's HTTPCode_Target_5XX_Count for the service's target group is the same "
                                   "count, divided by its RequestCount as AWS's guidance says ('about 5% of your average traffic')"}),
        Alarm("TargetResponseTimeAlarm", "response-time-p90", "AWS/ApplicationELB", "TargetResponseTime", TARGET_GROUP, "p90",
              "GreaterThanThreshold", "target_response_time", 5, 5, "missing",
              "p90 response time of the containers exceeded {ms} ms for {minutes} minutes. "
              "Look first at: CPU and memory of the tasks, table latency, slow downstream calls.",
              health=True, threshold_text="`target_response_time_p90_ms` (2000) ms (the metric is in seconds)",
              aws=(Aws("AWS/ECS", "TargetResponseTime", ECS_SERVICE, kind="container_service"),),
              deviation={
                  "metric": "AWS/ECS TargetResponseTime exists only with ECS Service Connect: the load balancer's "
                            "TargetResponseTime for the service's target group measures the same",
                  "statistic": "p90: the slowest tenth of requests, as for API Gateway's Latency; an average hides a slow tail "
                               "behind many fast requests",
              }),
        Alarm("UnhealthyTargetsAlarm", "unhealthy-targets", "AWS/ApplicationELB", "UnHealthyHostCount", TARGET_GROUP, "Maximum",
              "GreaterThanThreshold", 0, 5, 5, "notBreaching",
              "A container task failed its health checks for {minutes} minutes. Look first at: the health check path's response in "
              "the task logs, and whether the tasks start within the 60 s grace period.",
              health=True, threshold_text="0 targets"),
    ),
    "distribution": (
        Alarm("ErrorRateAlarm", "5xx-rate", "AWS/CloudFront", "5xxErrorRate", ("DistributionId", "Region"), "Average",
              "GreaterThanThreshold", "alarms.cloudfront_5xx_rate_percent", 5, 5, "missing",
              "More than {threshold}% of CloudFront responses were 5xx for {minutes} minutes: viewers see errors. "
              "Look first at: the API's 5XX rate (origin errors), then the site bucket and origin access control. "
              "Exists only in us-east-1 stacks, where CloudFront metrics live.",
              health=True, threshold_text="`cloudfront_5xx_rate_percent` (5) %", condition="InUsEast1",
              aws=(_aws("AWS/CloudFront", "5xxErrorRate", ("DistributionId", "Region")),)),
    ),
    "workflow": (
        Alarm("FailedAlarm", "failed", "AWS/States", "ExecutionsFailed", ("StateMachineArn",), "Sum", "GreaterThanThreshold", 0, 1, 1,
              "notBreaching",
              "Executions of workflow '{name}' failed. Look first at: the execution's event history in the Step Functions "
              "console, then the workflow's log group and X-Ray trace.",
              health=True, threshold_text="0 executions"),
        Alarm("TimedOutAlarm", "timed-out", "AWS/States", "ExecutionsTimedOut", ("StateMachineArn",), "Sum", "GreaterThanThreshold", 0,
              1, 1, "notBreaching",
              "Executions of workflow '{name}' timed out. Look first at: the execution's event history in the Step Functions "
              "console, then the workflow's log group and X-Ray trace.",
              health=True, threshold_text="0 executions"),
    ),
    "events_rule": (
        Alarm("FailedAlarm", "failed-invocations", "AWS/Events", "FailedInvocations", ("EventBusName", "RuleName"), "Sum",
              "GreaterThanThreshold", 0, 5, 5, "notBreaching",
              "Events rule '{name}' failed to deliver to its targets for {minutes} minutes (they are retried for a day, then kept in "
              "its dead-letter queue). Look first at: the target queues' policies and the service key's policy for EventBridge.",
              health=True, threshold_text="0 (EventBusName only for a bus other than the default one)"),
    ),
    "collection": (
        Alarm("ErrorsAlarm", "errors", "AWS/AOSS", "SearchRequestErrors", ("ClientId", "CollectionId", "CollectionName"), "Sum",
              "GreaterThanThreshold", "alarms.search_errors", 5, 5, "notBreaching",
              "Collection '{name}' failed more than {threshold} search or ingestion requests a minute for {minutes} minutes. "
              "Look first at: the calling function's ERROR lines (4xx: a mapping or query error; 5xx or throttling: OCU limits).",
              health=True, threshold_text="`search_errors` (0) search plus ingestion errors a minute",
              queries=(Query("search", "SearchRequestErrors", "Sum"), Query("ingest", "IngestionRequestErrors", "Sum")),
              expression="FILL(search, 0) + FILL(ingest, 0)", result="errors", label="Failed requests"),
        Alarm("LatencyAlarm", "latency-p90", "AWS/AOSS", "SearchRequestLatency", ("ClientId", "CollectionId", "CollectionName"), "p90",
              "GreaterThanThreshold", "alarms.search_latency_p90_ms", 5, 5, "notBreaching",
              "p90 search latency of collection '{name}' was above {threshold} ms for {minutes} minutes. "
              "Look first at: expensive queries in the calling function's logs, and the collection's OCU usage (the account's OCU limit).",
              health=True, threshold_text="`search_latency_p90_ms` (1000) ms"),
    ),
    "application_logs": (
        Alarm("ErrorsAlarm", "errors", SERVICE_NAMESPACE, "ApplicationErrors", (), "Sum", "GreaterThanThreshold",
              "alarms.application_errors", 3, 3, "notBreaching",
              "The service logged more than {threshold} ERROR lines a minute for {minutes} minutes (metric ApplicationErrors). "
              "Look first at: the dashboard's 'Recent errors' table, then follow one correlation_id with the saved query.",
              health=True, threshold_text="`application_errors` (0) ERROR lines a minute"),
    ),
})

NOT_EMITTED: Mapping[str, tuple[NotEmitted, ...]] = MappingProxyType({
    "function": (
        NotEmitted(_aws("AWS/Lambda", "ClaimedAccountConcurrency", ()), _ACCOUNT),
    ),
    "table": (
        NotEmitted(_aws("AWS/DynamoDB", "UserErrors", ()), _ACCOUNT + " (UserErrors has no table dimension)"),
        NotEmitted(_aws("AWS/DynamoDB", "AccountProvisionedReadCapacityUtilization", ()), _ACCOUNT_PROVISIONED),
        NotEmitted(_aws("AWS/DynamoDB", "AccountProvisionedWriteCapacityUtilization", ()), _ACCOUNT_PROVISIONED),
        NotEmitted(_aws("AWS/DynamoDB", "ReplicationLatency", ("TableName", "ReceivingRegion")),
                   "global tables only; msgen's tables have no replicas"),
        NotEmitted(_aws("AWS/DynamoDB", "AgeOfOldestUnreplicatedRecord", ("TableName", "DelegatedOperation")),
                   "Kinesis Data Streams destinations only; msgen's tables stream nowhere"),
        NotEmitted(_aws("AWS/DynamoDB", "FailedToReplicateRecordCount", ("TableName", "DelegatedOperation")),
                   "Kinesis Data Streams destinations only; msgen's tables stream nowhere"),
        NotEmitted(_aws("AWS/DynamoDB", "ThrottledPutRecordCount", ("TableName", "DelegatedOperation")),
                   "Kinesis Data Streams destinations only; msgen's tables stream nowhere"),
    ),
    "dead_letter_queue": (
        NotEmitted(_aws("AWS/SQS", "ApproximateAgeOfOldestMessage", QUEUE),
                   "the dead-letters alarm is in ALARM from the first message until the queue is empty, and a dead-letter queue "
                   "keeps messages 14 days; an age alarm would repeat it"),
        NotEmitted(_aws("AWS/SQS", "ApproximateNumberOfMessagesNotVisible", QUEUE),
                   "nothing consumes a dead-letter queue: its messages are in flight only while someone inspects or redrives them"),
        NotEmitted(_aws("AWS/SQS", "NumberOfMessagesSent", QUEUE),
                   "a dead-letter queue that receives nothing is healthy; a message arriving is what the dead-letters alarm reports"),
    ),
    "topic": (
        NotEmitted(_aws("AWS/SNS", "NumberOfNotificationsRedrivenToDlq", TOPIC),
                   "every queue subscription's dead-letter queue has its own alarm on any message (dead-letters), which fires at "
                   "the first redriven message and stays in ALARM until it is handled; counting redrives on the topic too would "
                   "page twice"),
        NotEmitted(_aws("AWS/SNS", "NumberOfNotificationsFilteredOut-InvalidAttributes", TOPIC), _FILTERS),
        NotEmitted(_aws("AWS/SNS", "NumberOfNotificationsFilteredOut-InvalidMessageBody", TOPIC), _FILTERS),
        NotEmitted(_aws("AWS/SNS", "SMSMonthToDateSpentUSD", TOPIC), _SMS),
        NotEmitted(_aws("AWS/SNS", "SMSSuccessRate", TOPIC), _SMS),
    ),
    "alarm_topic": (
        NotEmitted(_aws("AWS/SNS", "NumberOfMessagesPublished", TOPIC),
                   "the alarm topic is quiet when all is well: few messages is the good case"),
        NotEmitted(_aws("AWS/SNS", "NumberOfNotificationsDelivered", TOPIC),
                   "the alarm topic is quiet when all is well; failed deliveries have their own alarm"),
        NotEmitted(_aws("AWS/SNS", "NumberOfNotificationsRedrivenToDlq", TOPIC),
                   "the alarm topic's only subscription is the optional e-mail address (observability.alarms.email), without a "
                   "dead-letter queue: nothing is redriven"),
        NotEmitted(_aws("AWS/SNS", "NumberOfNotificationsFailedToRedriveToDlq", TOPIC),
                   "no subscription of the alarm topic has a dead-letter queue: the metric stays empty; notifications-failed "
                   "reports failed deliveries"),
        NotEmitted(_aws("AWS/SNS", "NumberOfNotificationsFilteredOut-InvalidAttributes", TOPIC), _FILTERS),
        NotEmitted(_aws("AWS/SNS", "NumberOfNotificationsFilteredOut-InvalidMessageBody", TOPIC), _FILTERS),
        NotEmitted(_aws("AWS/SNS", "SMSMonthToDateSpentUSD", TOPIC), _SMS),
        NotEmitted(_aws("AWS/SNS", "SMSSuccessRate", TOPIC), _SMS),
    ),
    "database": (
        NotEmitted(_aws("AWS/RDS", "DBLoad", INSTANCE),
                   "AWS: 'not applicable to serverless DB instances' (db.serverless has no fixed vCPU count to compare with); "
                   "capacity-at-max reports a writer that cannot grow"),
        NotEmitted(_aws("AWS/RDS", "FreeLocalStorage", INSTANCE),
                   "AWS: for instances 'if you do not use Aurora Serverless v2' (the metric applies to instance classes with "
                   "NVMe instance storage); msgen's writer is db.serverless"),
    ),
    "container_service": (
        NotEmitted(_aws("ECS/ContainerInsights", "TaskCpuUtilization", ECS_SERVICE), _ENHANCED),
        NotEmitted(_aws("ECS/ContainerInsights", "TaskMemoryUtilization", ECS_SERVICE), _ENHANCED),
        NotEmitted(_aws("ECS/ContainerInsights", "TaskEphemeralStorageUtilization", ECS_SERVICE), _ENHANCED),
        NotEmitted(_aws("ECS/ContainerInsights", "ContainerCpuUtilization", ECS_SERVICE), _ENHANCED),
        NotEmitted(_aws("ECS/ContainerInsights", "ContainerMemoryUtilization", ECS_SERVICE), _ENHANCED),
        NotEmitted(_aws("ECS/ContainerInsights", "TaskCpuUtilization", ("ClusterName",)), _ENHANCED_CLUSTER),
        NotEmitted(_aws("ECS/ContainerInsights", "TaskMemoryUtilization", ("ClusterName",)), _ENHANCED_CLUSTER),
        NotEmitted(_aws("ECS/ContainerInsights", "TaskEphemeralStorageUtilization", ("ClusterName",)), _ENHANCED_CLUSTER),
        NotEmitted(_aws("ECS/ContainerInsights", "ContainerCpuUtilization", ("ClusterName",)), _ENHANCED_CLUSTER),
        NotEmitted(_aws("ECS/ContainerInsights", "ContainerMemoryUtilization", ("ClusterName",)), _ENHANCED_CLUSTER),
        NotEmitted(_aws("AWS/ECS", "CPUReservation", ("ClusterName",)),
                   "AWS: not recommended when Fargate is associated with capacity providers; msgen's tasks run on Fargate, "
                   "with no registered EC2 capacity to reserve"),
        NotEmitted(_aws("AWS/ECS", "MemoryReservation", ("ClusterName",)),
                   "AWS: not recommended when Fargate is associated with capacity providers; msgen's tasks run on Fargate, "
                   "with no registered EC2 capacity to reserve"),
        NotEmitted(_aws("AWS/ECS", "EBSFilesystemUtilization", ECS_SERVICE),
                   "no Amazon EBS volume is attached to msgen's tasks; ephemeral-storage watches the storage they have"),
    ),
    "distribution": (
        NotEmitted(_aws("AWS/CloudFront", "OriginLatency", ("DistributionId", "Region")),
                   "needs CloudFront's additional metrics (an AWS::CloudFront::MonitoringSubscription), billed per distribution as "
                   "extra metrics; the API's own latency-p90 alarm already watches the origin that matters (/api/*), and the site "
                   "bucket is S3"),
    ),
})


def rows() -> list[tuple[str, Alarm]]:
    """Every (kind, row), in the table's order."""
    return [(kind, row) for kind, alarms in ALARMS.items() for row in alarms]


def aws_kind(kind: str, ref: Aws) -> str:
    """The kind whose resource a recommendation is about."""
    return ref.kind or kind
