"""The fleet stack: what the services of a fleet share in one environment, and one view of them all.

One stack per fleet and environment (:func:`stack_name`), generated like the service and bootstrap stacks:
troposphere, deterministic output (``generator.synth.pipeline.render``), every resource with
``Metadata.msgen.description/source`` and tags, no checkov skip. It holds:

* the fleet's EventBridge bus ``msgen-<fleet>-<env>``, encrypted with a customer-managed key of its own (rotated),
  with an archive (replay; retention from the fleet file) and a dead-letter queue for the events EventBridge cannot
  encrypt or decrypt (``DeadLetterConfig`` of the bus; the rules on the bus, which live in the services' stacks,
  may use the same queue: its policy admits them). The bus's name and ARN, the queue's ARN and the fleet's name are
  published as SSM parameters under ``/msgen/<env>/fleet/`` (docs/fleet.md). EventBridge's error records for the bus
  go to the log group ``/msgen/<fleet>/<env>/event-bus`` (retention from the fleet file, encrypted);
* the fleet dashboard ``msgen-<fleet>-<env>-fleet``: one row per service (requests against the expected band,
  error rate, p90 latency, its health alarm) and a fleet-wide error-message table;
* a saved Logs Insights query that follows one correlation id across every service's log groups;
* the fleet health composite alarm ``msgen-<fleet>-<env>-fleet-health`` over the services' health alarms, notifying
  an encrypted, TLS-only topic (e-mail subscription from the fleet file).

Log groups are chosen by name prefix (``/msgen/<service>/<env>/``), never listed one by one, so a service that adds
a function, a queue consumer or a workflow needs no change here. No AWS call happens here.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from troposphere import (
    Equals,
    GetAtt,
    Output,
    Parameter,
    Ref,
    Sub,
    cloudwatch,
    events,
    kms,
    logs,
    sns,
    sqs,
    ssm,
)

from generator import __version__
from generator.bootstrap import StackBuilder, alarm_topic
from generator.synth.context import sub_literal, tag_value
from generator.synth.layers.api import STAGE
from generator.synth.layers.security import ROOT_ACTIONS, SERVICE_ACTIONS
from generator.synth.pipeline import template_data
from generator.synth.policy import deny_insecure_transport, document, statement

SOURCE = "fleet"
PARAMETER_PREFIX = "/msgen/{env}/fleet/"
# Logs Insights' SOURCE command takes at most five name prefixes
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Source.html).
MAX_SOURCE_PREFIXES = 5
MAX_RULE_CHARS = 10_240  # AWS::CloudWatch::CompositeAlarm AlarmRule (CloudFormation schema)
MAX_ARCHIVE_NAME = 48  # AWS::Events::Archive ArchiveName
MAX_DELIVERY_NAME = 60  # AWS::Logs::DeliverySource and DeliveryDestination Name
DLQ_RETENTION_S = 14 * 24 * 3600  # SQS's longest retention: time to look at what failed
QUERY_LIMIT = 10_000  # Logs Insights returns at most 10,000 rows
ERROR_TABLE_ROWS = 100
HEALTH_PARAMETER = "ServiceHealthAlarmsExist"


def stack_name(fleet: str, env: str) -> str:
    """The fleet stack's name in the account and Region."""
    return f"msgen-fleet-{fleet}-{env}"


def bus_name(fleet: str, env: str) -> str:
    return f"msgen-{fleet}-{env}"


def parameter_name(env: str, leaf: str) -> str:
    """``/msgen/<env>/fleet/<leaf>``: event-bus-name, event-bus-arn, dead-letter-queue-arn, name."""
    return PARAMETER_PREFIX.format(env=env) + leaf


def health_alarm_name(service: str, env: str) -> str:
    """A service's health composite alarm (generator.synth.observability.alarms, logical id ServiceHealthAlarm)."""
    return f"msgen-{service}-{env}-service-health"


def log_prefix(service: str, env: str) -> str:
    """Every log group of a service in an environment starts with this (generator.synth.context.Context.log_group_name)."""
    return f"/msgen/{service}/{env}/"


def log_source(services: list[str], env: str) -> str:
    """The Logs Insights ``SOURCE`` command selecting every log group of these services by name prefix.

    One prefix per service while they fit SOURCE's limit of five; past it, the prefix ``/msgen/`` (every msgen
    log group of the account and Region) narrowed by a filter on ``@log`` to these services and this environment.
    """
    if len(services) <= MAX_SOURCE_PREFIXES:
        prefixes = ", ".join(f"'{log_prefix(s, env)}'" for s in services)
        return f"SOURCE logGroups(namePrefix: [{prefixes}])"
    names = "|".join(services)  # service names are [a-z0-9-]: nothing to escape in a regex
    return f"SOURCE logGroups(namePrefix: ['/msgen/']) | filter @log like /:\\/msgen\\/({names})\\/{env}\\//"


# Which service wrote a line: the standard JSON field `service`, else the log group's name (/msgen/<service>/...).
_SERVICE_FIELD = "parse @log /:\\/msgen\\/(?<log_service>[^\\/]+)\\// | fields coalesce(service, log_service) as svc"


def follow_query(services: list[str], env: str) -> str:
    """The saved query: every line carrying one correlation id, in every service, oldest first (the talk's view)."""
    return (f"{log_source(services, env)}\n"
            f"| {_SERVICE_FIELD}\n"
            "| filter correlation_id = '{{correlation_id}}' or apigw_request_id = '{{correlation_id}}'\n"
            "| sort @timestamp asc\n"
            f"| limit {QUERY_LIMIT}\n"
            "| display @timestamp, svc, level, correlation_id, message")


def error_table_query(services: list[str], env: str) -> str:
    """The dashboard's error-message table: time, service, message, count, newest first."""
    return (f"{log_source(services, env)}\n"
            f"| {_SERVICE_FIELD}\n"
            "| filter level = 'ERROR'\n"
            "| stats count(*) as count, latest(@timestamp) as time by svc, message\n"
            "| sort time desc\n"
            f"| limit {ERROR_TABLE_ROWS}\n"
            "| display time, svc, message, count")


# --- the input ------------------------------------------------------------------------------------------------------

def _fleet_parts(loaded_fleet: Any) -> tuple[Any, dict[str, Any]]:
    """(fleet model, {service name: ServiceSpec}) from a LoadedFleet (generator.fleet.loader), or anything shaped like it:
    ``.fleet`` (name, owner, environments, settings) and ``.services`` ({name: LoadedSpec or ServiceSpec})."""
    fleet = loaded_fleet.fleet
    services = {name: getattr(s, "spec", s) for name, s in loaded_fleet.services.items()}
    return fleet, services


def build_fleet_template(loaded_fleet: Any, env: str) -> dict[str, Any]:
    """The fleet stack's template for environment ``env`` as plain data, deterministic for the same fleet."""
    fleet, services = _fleet_parts(loaded_fleet)
    if env not in fleet.environments:
        from generator.errors import InputError

        raise InputError(f"--env {env!r}: fleet {fleet.name} has environments {', '.join(fleet.environments)}")
    b = _Builder(fleet, services, env)
    b.build()
    return template_data(b.t)


def fleet_template(loaded_fleet: Any, env: str, fmt: str = "yaml") -> str:
    """The fleet stack's template text (YAML or JSON), as ``msgen fleet synth`` writes it."""
    from generator.synth.pipeline import render

    return render(build_fleet_template(loaded_fleet, env), fmt)


def _fit(name: str, limit: int) -> str:
    """``name``, or its first characters and a short hash of it when it is longer than ``limit``."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9]}-{digest}"


class _Builder(StackBuilder):
    def __init__(self, fleet: Any, services: dict[str, Any], env: str):
        self.fleet, self.env = fleet, env
        self.name = fleet.name
        # Each service as deployed to this environment (its overrides merged in): alarms may be off in one environment.
        self.services = {n: (s.for_environment(env) if env in s.environment_names else s) for n, s in services.items()}
        self.bus = bus_name(self.name, env)
        tags = {"fleet": self.name, "team": tag_value(fleet.owner), "environment": env, "managed-by": "msgen", "msgen-stack": "fleet"}
        super().__init__(SOURCE, tags, _fit(f"msgen {__version__}: fleet stack of {self.name} ({env}), owned by {fleet.owner}: "
                                            f"event bus {self.bus}, dashboard, correlation-id query and health alarm over "
                                            f"{len(services)} service(s)", 1024))

    @property
    def bus_arn(self) -> Sub:
        # Built from the name, not GetAtt: the key policy needs it before the bus (which needs the key) exists.
        return self.arn("events", f"event-bus/{self.bus}")

    @property
    def log_group_name(self) -> str:
        """The bus's error log: the log-group convention /msgen/<name>/<environment>/<component>, the fleet in the name's place."""
        return f"/msgen/{self.name}/{self.env}/event-bus"

    @property
    def log_group_arn(self) -> Sub:
        return self.arn("logs", f"log-group:{self.log_group_name}")

    @property
    def rules_arn(self) -> Sub:
        return self.arn("events", f"rule/{self.bus}/*")

    @property
    def watched(self) -> list[str]:
        """The services whose health alarm exists in this environment (alarms on), in the fleet file's order."""
        return [n for n, s in self.services.items() if s.observability.alarms.enabled]

    # --- the stack -----------------------------------------------------------------------------------------------
    def build(self) -> None:
        self.parameters()
        self.key = self.fleet_key()
        self.dlq = self.dead_letter_queue()
        self.event_bus = self.bus_and_archive()
        self.bus_error_log()
        self.publish()
        self.topic = self.alarm_topic()
        self.health = self.health_alarm()
        self.query()
        self.dashboard()
        self.outputs()

    def parameters(self) -> None:
        self.t.add_parameter(Parameter(
            HEALTH_PARAMETER, Type="String", Default="false", AllowedValues=["false", "true"],
            Description="true once every service of the fleet is deployed in this environment: CloudWatch refuses a composite "
                        "alarm naming alarms that do not exist yet, so msgen fleet deploy creates the fleet health alarm in a "
                        "second update of this stack, after the services"))
        self.t.add_condition("WatchServices", Equals(Ref(HEALTH_PARAMETER), "true"))

    def fleet_key(self) -> kms.Key:
        account = {"aws:SourceAccount": Sub("${AWS::AccountId}")}
        statements = [
            statement(ROOT_ACTIONS, "*", sid="AccountAdministers", Principal={"AWS": Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")}),
            statement(["kms:DescribeKey"], "*", sid="EventBridgeDescribesKey", Principal={"Service": "events.amazonaws.com"},
                      Condition={"StringEquals": account}),
            # The bus and its archive encrypt with the bus ARN as encryption context
            # (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-encryption-key-policy.html, encryption-archives.html).
            statement(["kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"], "*", sid="EventBridgeEncryptsTheBus",
                      Principal={"Service": "events.amazonaws.com"},
                      Condition={"StringEquals": {**account, "kms:EncryptionContext:aws:events:event-bus:arn": self.bus_arn}}),
            # EventBridge sends undeliverable events to the encrypted dead-letter queue: the bus, or a rule on it.
            statement(["kms:Decrypt", "kms:GenerateDataKey"], "*", sid="EventBridgeWritesDeadLetters",
                      Principal={"Service": "events.amazonaws.com"},
                      Condition={"StringEquals": account, "ArnLike": {"aws:SourceArn": [self.bus_arn, self.rules_arn]}}),
            statement(SERVICE_ACTIONS, "*", sid="CloudWatchLogsEncrypts", Principal={"Service": Sub("logs.${AWS::Region}.amazonaws.com")},
                      Condition={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": self.log_group_arn}}),
            statement(["kms:Decrypt", "kms:GenerateDataKey"], "*", sid="CloudWatchAlarmsPublish",
                      Principal={"Service": ["cloudwatch.amazonaws.com", "sns.amazonaws.com"]}, Condition={"StringEquals": account}),
        ]
        key = self.add(
            kms.Key("FleetKey", Description=f"msgen fleet {self.name} ({self.env}): encrypts the event bus, its archive, "
                                            "dead letters and the alarm topic",
                    EnableKeyRotation=True, PendingWindowInDays=30, KeyPolicy=document(*statements)),
            "Customer-managed key of the fleet stack, rotated yearly", retain=True)
        self.add(kms.Alias("FleetKeyAlias", AliasName=f"alias/msgen/fleet-{self.name}-{self.env}", TargetKeyId=Ref(key)),
                 "Readable alias of the fleet key")
        return key

    def dead_letter_queue(self) -> sqs.Queue:
        dlq = self.add(
            sqs.Queue("EventBusDeadLetterQueue", KmsMasterKeyId=GetAtt(self.key, "Arn"), MessageRetentionPeriod=DLQ_RETENTION_S),
            "Dead letters of the fleet bus: events EventBridge could not encrypt or decrypt, and (when a service's rule names "
            "it) events a rule on the bus could not deliver; kept 14 days", retain=True)
        self.add(sqs.QueuePolicy("EventBusDeadLetterQueuePolicy", Queues=[Ref(dlq)], PolicyDocument=document(
            statement(["sqs:SendMessage"], GetAtt(dlq, "Arn"), sid="EventBridgeSendsDeadLetters", Principal={"Service": "events.amazonaws.com"},
                      Condition={"ArnLike": {"aws:SourceArn": [self.bus_arn, self.rules_arn]}}),
            deny_insecure_transport([GetAtt(dlq, "Arn")], "sqs:SendMessage"))),
            "Only the fleet bus and the rules on it may send dead letters, and only over TLS")
        return dlq

    def bus_and_archive(self) -> events.EventBus:
        bus = self.add(
            events.EventBus("EventBus", Name=self.bus, Description=_fit(f"Events between the services of fleet {self.name} ({self.env})", 512),
                            KmsKeyIdentifier=GetAtt(self.key, "Arn"), DeadLetterConfig=events.DeadLetterConfig(Arn=GetAtt(self.dlq, "Arn")),
                            LogConfig=events.LogConfig(Level="ERROR", IncludeDetail="NONE")),
            "The fleet's event bus: services put the events they declare in emits: (source = their own name) and listen with "
            "rules (messaging.events[].bus: fleet)")
        retention = self.fleet.settings.event_bus.archive_retention_days
        kept = f"{retention} days" if retention else "forever"
        self.add(
            events.Archive("EventBusArchive", ArchiveName=_fit(self.bus, MAX_ARCHIVE_NAME), SourceArn=GetAtt(bus, "Arn"),
                           RetentionDays=retention, KmsKeyIdentifier=GetAtt(self.key, "Arn"),
                           Description=f"Every event of the fleet bus, kept {kept} for replay"),
            f"Archive of every event on the bus (replay), kept {kept} (settings.event_bus.archive_retention_days)")
        return bus

    def bus_error_log(self) -> None:
        """EventBridge's error records for the bus (failed deliveries to targets, and why), delivered to a log group of the fleet.

        Bus logging is vended logs: a delivery source (the bus, ERROR_LOGS), a delivery destination (the log group) and a
        delivery pairing them; the log group's own resource policy lets the log delivery service write to it. Records carry
        no event detail (IncludeDetail NONE): payloads stay out of the logs.
        """
        account = Sub("${AWS::AccountId}")
        group = self.add(
            logs.LogGroup(
                "EventBusLogGroup", LogGroupName=self.log_group_name, RetentionInDays=self.fleet.settings.log_retention_days,
                KmsKeyId=GetAtt(self.key, "Arn"),
                ResourcePolicyDocument=document(statement(
                    ["logs:CreateLogStream", "logs:PutLogEvents"], Sub(f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:"
                                                                       f"log-group:{self.log_group_name}:log-stream:*"),
                    sid="LogDeliveryWrites", Principal={"Service": "delivery.logs.amazonaws.com"},
                    Condition={"StringEquals": {"aws:SourceAccount": account},
                               "ArnLike": {"aws:SourceArn": self.arn("logs", "delivery-source:*")}}))),
            f"The fleet bus's error log (settings.log_retention_days: {self.fleet.settings.log_retention_days} days)", retain=True)
        source = self.add(
            logs.DeliverySource("EventBusLogSource", Name=_fit(f"msgen-{self.name}-{self.env}-event-bus-errors", MAX_DELIVERY_NAME),
                                ResourceArn=GetAtt(self.event_bus, "Arn"), LogType="ERROR_LOGS"),
            "The fleet bus as a source of error logs")
        destination = self.add(
            logs.DeliveryDestination("EventBusLogDestination", Name=_fit(f"msgen-{self.name}-{self.env}-event-bus-log", MAX_DELIVERY_NAME),
                                     DestinationResourceArn=self.log_group_arn, DependsOn=[group.title]),
            "The fleet bus's error log group as a log delivery destination")
        self.add(logs.Delivery("EventBusLogDelivery", DeliverySourceName=Ref(source), DeliveryDestinationArn=GetAtt(destination, "Arn")),
                 "Delivers the fleet bus's error records to its log group")

    def publish(self) -> None:
        for lid, leaf, value, what in (
            ("EventBusNameParameter", "event-bus-name", Ref(self.event_bus), "name of the fleet's event bus"),
            ("EventBusArnParameter", "event-bus-arn", GetAtt(self.event_bus, "Arn"), "ARN of the fleet's event bus"),
            ("DeadLetterQueueArnParameter", "dead-letter-queue-arn", GetAtt(self.dlq, "Arn"), "ARN of the fleet bus's dead-letter queue"),
            ("FleetNameParameter", "name", self.name, "name of the fleet this environment's services belong to"),
        ):
            self.add(ssm.Parameter(lid, Name=parameter_name(self.env, leaf), Type="String", Value=value,
                                   Description=f"The {what} (msgen fleet {self.name}, {self.env})"),
                     f"Publishes the {what} for the services' stacks, which read it as SSM parameter {parameter_name(self.env, leaf)} "
                     "(a dynamic reference; spelled out here only in prose, as CloudFormation would resolve it in the template)")

    def alarm_topic(self) -> sns.Topic:
        topic = alarm_topic(self, "FleetAlarmTopic", f"msgen fleet {self.name} alarms ({self.env})",
                            "The fleet health alarm notifies this topic (ALARM and OK)", f"msgen-{self.name}-{self.env}-fleet-")
        email = self.fleet.settings.alarm_email
        if email:
            self.add(sns.SubscriptionResource("FleetAlarmEmailSubscription", TopicArn=Ref(topic), Protocol="email", Endpoint=email),
                     "E-mail subscription to the fleet alarms (settings.alarm_email)")
        return topic

    def health_alarm(self) -> cloudwatch.CompositeAlarm | None:
        watched = self.watched
        if not watched:
            return None
        rule = " OR ".join(f'ALARM("{health_alarm_name(s, self.env)}")' for s in watched)
        if len(rule) > MAX_RULE_CHARS:
            from generator.errors import SynthError

            raise SynthError(f"fleet {self.name}: the health rule over {len(watched)} services has {len(rule)} characters; "
                             f"CloudWatch allows {MAX_RULE_CHARS}")
        unwatched = [n for n in self.services if n not in watched]
        note = f" Not watched (alarms off in {self.env}): {', '.join(unwatched)}." if unwatched else ""
        return self.add(
            cloudwatch.CompositeAlarm(
                "FleetHealthAlarm", Condition="WatchServices", AlarmName=f"msgen-{self.name}-{self.env}-fleet-health",
                AlarmDescription=_fit(f"Fleet {self.name} ({self.env}) is unhealthy: at least one service's health alarm is in ALARM. "
                                      f"Look first at: the fleet dashboard msgen-{self.name}-{self.env}-fleet, which row is red, then "
                                      f"that service's dashboard.{note}", 1024),
                AlarmRule=rule, ActionsEnabled=True, AlarmActions=[Ref(self.topic)], OKActions=[Ref(self.topic)]),
            "Summary of every service's health alarm (msgen-<service>-<env>-service-health); created once they exist "
            f"(parameter {HEALTH_PARAMETER})")

    def query(self) -> None:
        self.add(
            logs.QueryDefinition(
                "FollowCorrelationIdQuery", Name=f"msgen/fleet/{self.name}/{self.env}/follow-correlation-id", QueryLanguage="CWLI",
                QueryString=follow_query(list(self.services), self.env),
                Parameters=[logs.QueryParameter(Name="correlation_id", Description="The correlation id to follow across the fleet")]),
            "Logs Insights: every line of one correlation id in every service, oldest first; log groups chosen by name prefix "
            "in the query (SOURCE), so new log groups of a service are included without a change here")

    def dashboard(self) -> None:
        text = json.dumps(self.dashboard_body(), separators=(",", ":"), ensure_ascii=False)
        self.add(cloudwatch.Dashboard("FleetDashboard", DashboardName=f"msgen-{self.name}-{self.env}-fleet", DashboardBody=Sub(text)),
                 "Fleet dashboard: one row per service (requests against the expected band, error rate, p90 latency, health) "
                 "and the fleet's error messages")

    def dashboard_body(self) -> dict[str, Any]:
        env, region = self.env, "${AWS::Region}"
        widgets: list[dict[str, Any]] = []
        y = 0
        header = (f"# Fleet {self.name} ({env})\nOwner **{sub_literal(self.fleet.owner)}**. Requests are drawn against CloudWatch's expected band "
                  "(anomaly detection, learnt from the metric's own history with its daily and weekly pattern): CloudWatch metric math "
                  "cannot shift a series by a day, so this band is the closest it offers to *the same time yesterday*. "
                  f"Saved query *msgen/fleet/{self.name}/{env}/follow-correlation-id* follows one correlation id across every service.")
        widgets.append({"type": "text", "x": 0, "y": y, "width": 24, "height": 3, "properties": {"markdown": header}})
        y += 3
        for name, spec in self.services.items():
            api = ["ApiName", f"{name}-{env}", "Stage", STAGE]
            band = spec.observability.alarms.request_rate_band_width

            def metric(title: str, metrics: list, x: int, y: int = y) -> dict[str, Any]:
                props = {"title": title, "view": "timeSeries", "region": region, "period": 60, "stacked": False, "metrics": metrics}
                return {"type": "metric", "x": x, "y": y, "width": 6, "height": 5, "properties": props}

            widgets.append(metric(f"{name}: requests/min vs expected", [
                ["AWS/ApiGateway", "Count", *api, {"id": "requests", "stat": "Sum", "label": "Requests"}],
                [{"expression": f"ANOMALY_DETECTION_BAND(requests, {band:g})", "id": "expected", "label": "Expected (history)"}],
            ], 0))
            widgets.append(metric(f"{name}: error rate %", [
                ["AWS/ApiGateway", "5XXError", *api, {"id": "e5", "stat": "Sum", "visible": False}],
                ["AWS/ApiGateway", "Count", *api, {"id": "n", "stat": "Sum", "visible": False}],
                [{"expression": "IF(n > 0, 100 * e5 / n, 0)", "id": "rate", "label": "5XX %"}],
            ], 6))
            widgets.append(metric(f"{name}: p90 latency (ms)", [
                ["AWS/ApiGateway", "Latency", *api, {"stat": "p90", "label": "p90"}]], 12))
            if name in self.watched:
                alarm = f"arn:${{AWS::Partition}}:cloudwatch:{region}:${{AWS::AccountId}}:alarm:{health_alarm_name(name, env)}"
                widgets.append({"type": "alarm", "x": 18, "y": y, "width": 6, "height": 5, "properties": {
                    "title": f"{name}: health", "alarms": [alarm]}})
            else:
                widgets.append({"type": "text", "x": 18, "y": y, "width": 6, "height": 5, "properties": {
                    "markdown": f"**{name}**: no health alarm (observability.alarms.enabled is false in {env})"}})
            y += 5
        widgets.append({"type": "log", "x": 0, "y": y, "width": 24, "height": 8, "properties": {
            "title": "Error messages across the fleet (newest first)", "region": region, "view": "table",
            "query": error_table_query(list(self.services), env)}})
        return {"start": "-PT3H", "periodOverride": "inherit", "widgets": widgets}

    def outputs(self) -> None:
        t = self.t
        t.add_output(Output("EventBusName", Description="The fleet's event bus", Value=Ref(self.event_bus)))
        t.add_output(Output("EventBusArn", Description="ARN of the fleet's event bus", Value=GetAtt(self.event_bus, "Arn")))
        t.add_output(Output("DeadLetterQueueArn", Description="Dead letters of the fleet bus", Value=GetAtt(self.dlq, "Arn")))
        t.add_output(Output("FleetKeyArn", Description="KMS key of the bus, archive, dead letters and alarm topic",
                            Value=GetAtt(self.key, "Arn")))
        t.add_output(Output("AlarmTopicArn", Description="Topic the fleet health alarm notifies", Value=Ref(self.topic)))
