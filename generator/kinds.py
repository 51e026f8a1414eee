"""The table of kinds: every kind of component msgen emits, described once, as data.

A *kind* is what a spec can declare and what code can act on: a table, a bucket, a queue, a topic, a
workflow, e-mail, the database; and the components every service gets (functions, the API, the
distribution, the container service, the load balancer). For each kind, where it applies, the table says:

* where the spec declares it (``section``) and how its logical ID is formed (``id_suffix``);
* the verbs a ``uses:`` entry may name, and what each verb grants: IAM actions on which resources
  (``grants``), and how much of the service key it needs (``kms``);
* the environment variable that tells the code where it is (``env``), the substitution a workflow
  definition refers to it by (``substitution``), the VPC interface endpoint code inside the VPC needs to
  reach it (``endpoint``), and the helper the generated code gets (``helper``);
* the alarms msgen puts on every resource of the kind (``alarms``: rows of ``generator.alarm_table``, with their
  reference to AWS's recommended alarms and the reasons where msgen differs), the recommendations it deliberately
  leaves out (``not_emitted``), and the component part of their names (``alarm_component``).

Adding a kind is a row here plus its layer module (SAM's connector profiles are the model). Nothing in
this module imports troposphere or pydantic: the spec checks, the plan and the scaffold read it cheaply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from generator import alarm_table

# Verbs that stand for more than one access level.
COMPOUND_VERBS: Mapping[str, tuple[str, ...]] = MappingProxyType({"readwrite": ("read", "write")})
# What the service key must allow, per access level (environment variables are always decrypted: "read").
KMS_ACTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "read": ("kms:Decrypt", "kms:DescribeKey"),
    "write": ("kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"),
})


@dataclass(frozen=True)
class Grant:
    """One policy statement a use produces.

    ``actions`` maps an access level to the IAM actions it needs; a level that is absent means this statement
    is not granted for it. ``resources`` are written as ``"Arn"`` (``Fn::GetAtt`` of the resource's Arn),
    ``"Ref"`` (``Ref`` of the resource) or an ``Fn::Sub`` pattern in which ``{id}`` is the logical ID.
    ``"GetAtt:<attribute>"``, or an ``Fn::Sub`` pattern. Patterns are ``str.format`` templates over ``id`` (the
    logical ID) and, for singletons, the fields of the spec section that declares them. ``sid`` and the values in
    ``condition`` are patterns too.
    """

    sid: str
    actions: Mapping[str, tuple[str, ...]]
    resources: tuple[str, ...]
    condition: Mapping[str, Mapping[str, str]] | None = None
    # Kinds whose uses may name details (one route of another service, one event detail-type): ``{detail}`` in a
    # resource pattern is repeated once per detail (``whole`` when a use names none); ``detail_condition`` is the
    # condition key that lists the details (left out when a use names none).
    whole: str = "*"
    detail_condition: str | None = None


@dataclass(frozen=True)
class Kind:
    name: str
    label: str
    section: tuple[str, ...] | None = None  # where the spec lists these, e.g. ("persistence", "tables")
    id_suffix: str | None = None  # logical ID = pascal(name) + suffix
    verbs: tuple[str, ...] = ()  # what `uses: [<name>:<verb>]` may say
    grants: tuple[Grant, ...] = ()
    kms: Mapping[str, str] = field(default_factory=dict)  # access level -> key level
    env: str | None = None  # environment variable prefix: <ENV>_<NAME>, whose value is env_value
    env_value: str = "Ref"  # a value pattern (as for Grant resources)
    env_vars: Mapping[str, str] = field(default_factory=dict)  # singletons: variable -> value pattern (as for Grant resources)
    fixed_id: str | None = None  # singletons: their one logical ID
    substitution: str | None = None  # workflow definitions refer to it as ${<substitution>_<name>}
    endpoint: str | None = None  # interface VPC endpoint (com.amazonaws.<region>.<endpoint>) code in a VPC needs
    helper: str | None = None  # the generated code's helper for it
    singleton: bool = False  # declared once, referred to by the kind's own name (`email:send`, `database:connect`)
    alarm_component: str | None = None  # alarm names: msgen-<service>-<environment>-<alarm_component>-<signal>
    external: bool = False  # the target is not declared in this spec (another service of the fleet)
    detail: str | None = None  # a regular expression for the optional third part of a use, `<name>:<verb>:<detail>`
    detail_help: str | None = None
    detail_part: Callable[[str], str] | None = None  # a detail as it appears in the resource patterns' {detail}

    @property
    def alarms(self) -> tuple[alarm_table.Alarm, ...]:
        """The alarms every resource of this kind gets (generator.alarm_table)."""
        return alarm_table.ALARMS.get(self.name, ())

    @property
    def not_emitted(self) -> tuple[alarm_table.NotEmitted, ...]:
        """AWS's recommendations for this kind that msgen leaves out, with the reasons."""
        return alarm_table.NOT_EMITTED.get(self.name, ())

    def levels(self, verb: str) -> tuple[str, ...]:
        """The access levels a verb stands for: ``readwrite`` is ``read`` and ``write``."""
        return COMPOUND_VERBS.get(verb, (verb,))

    def env_name(self, name: str) -> str | None:
        return f"{self.env}_{name.upper().replace('-', '_')}" if self.env else None

    def logical_id(self, name: str) -> str:
        """The logical ID of the resource a use of ``name`` refers to (see generator.naming: a contract)."""
        from generator.naming import logical_id

        return self.fixed_id or logical_id(name, self.id_suffix or "")

    def substitution_name(self, name: str) -> str | None:
        return f"{self.substitution}_{name.replace('-', '_')}" if self.substitution else None


def route_arn_part(detail: str) -> str:
    """``GET /orders/{id}`` -> ``GET/orders/*``: a route as execute-api ARNs name it (path parameters and ANY as ``*``)."""
    method, _, path = detail.partition(" ")
    segments = [s for s in path.split("/") if s]
    return ("*" if method == "ANY" else method) + "/" + "/".join("*" if s.startswith("{") else s for s in segments)


_RW = ("read", "write", "readwrite")

KINDS: Mapping[str, Kind] = MappingProxyType({k.name: k for k in (
    Kind(
        "table", "DynamoDB table", section=("persistence", "tables"), id_suffix="Table", verbs=_RW,
        grants=(Grant("{id}", {
            "read": ("dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable", "dynamodb:GetItem",
                     "dynamodb:Query", "dynamodb:Scan"),
            "write": ("dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:DescribeTable",
                      "dynamodb:PutItem", "dynamodb:UpdateItem"),
        }, ("Arn", "${{{id}.Arn}}/index/*")),),
        kms={"read": "read", "write": "write"}, env="TABLE", substitution="table", helper="storage.table",
        alarm_component="table-<name>",
    ),
    Kind(
        "bucket", "S3 bucket", section=("persistence", "buckets"), id_suffix="Bucket", verbs=_RW,
        grants=(
            Grant("{id}Objects", {"read": ("s3:GetObject", "s3:GetObjectVersion"),
                                  "write": ("s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject")}, ("${{{id}.Arn}}/*",)),
            Grant("{id}List", {"read": ("s3:ListBucket",)}, ("Arn",)),
        ),
        kms={"read": "read", "write": "write"}, env="BUCKET", substitution="bucket", helper="storage.bucket",
    ),
    Kind(
        "queue", "SQS queue", section=("messaging", "queues"), id_suffix="Queue", verbs=("send",),
        # "consume" is not a verb a spec writes: the plan gives it to the queue's own consumer function.
        grants=(Grant("{id}", {"send": ("sqs:GetQueueAttributes", "sqs:SendMessage"),
                               "consume": ("sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                                           "sqs:ReceiveMessage")}, ("Arn",)),),
        kms={"send": "write", "consume": "read"}, env="QUEUE", substitution="queue", endpoint="sqs", helper="storage.queue",
        alarm_component="queue-<name>",
    ),
    Kind(
        "topic", "SNS topic", section=("messaging", "topics"), id_suffix="Topic", verbs=("publish",),
        grants=(Grant("{id}", {"publish": ("sns:Publish",)}, ("Ref",)),),
        kms={"publish": "write"}, env="TOPIC", substitution="topic", endpoint="sns", helper="storage.topic",
        alarm_component="topic-<name>",
    ),
    Kind(
        "workflow", "Step Functions state machine", section=("workflows",), id_suffix="StateMachine", verbs=("start",),
        grants=(Grant("{id}", {"start": ("states:StartExecution",)}, ("Ref",)),),
        kms={"start": "read"}, env="WORKFLOW", endpoint="states", helper="storage.start_workflow",
        alarm_component="workflow-<name>",
    ),
    Kind(
        "collection", "OpenSearch Serverless collection", section=("search", "collections"), id_suffix="Collection", verbs=_RW,
        # IAM lets the caller reach the collection's API; what it may do there (read or write documents) is the
        # collection's data access policy, which the search layer writes from the same uses.
        grants=(Grant("{id}", {"read": ("aoss:APIAccessAll",), "write": ("aoss:APIAccessAll",)}, ("Arn",)),),
        kms={"read": "read", "write": "read"}, env="SEARCH", env_value="GetAtt:CollectionEndpoint", helper="storage.collection",
        alarm_component="search-<name>",
    ),
    Kind(
        "email", "SES e-mail identity", section=("messaging", "email"), verbs=("send",), singleton=True, fixed_id="EmailIdentity",
        grants=(Grant("SendEmail", {"send": ("ses:SendEmail", "ses:SendRawEmail")},
                      ("arn:${{AWS::Partition}}:ses:${{AWS::Region}}:${{AWS::AccountId}}:identity/{domain}",),
                      condition={"StringEquals": {"ses:FromAddress": "{sender}@{domain}"}}),),
        env_vars={"EMAIL_SENDER": "{sender}@{domain}"},
        kms={"send": "write"}, endpoint="email", helper="storage.send_email",
    ),
    Kind(
        "database", "Aurora PostgreSQL cluster", section=("database",), verbs=("connect",), singleton=True, fixed_id="DatabaseCluster",
        grants=(Grant("DatabaseConnect", {"connect": ("rds-db:connect",)},
                      ("arn:${{AWS::Partition}}:rds-db:${{AWS::Region}}:${{AWS::AccountId}}:dbuser:${{{id}.DBClusterResourceId}}/{app_user}",)),),
        env_vars={"DB_HOST": "GetAtt:Endpoint.Address", "DB_PORT": "5432", "DB_NAME": "{name}", "DB_USER": "{app_user}"},
        kms={"connect": "read"}, helper="storage.database", alarm_component="database",
    ),
    # The fleet (docs/standards.md "Fleet"): another service's API, found through the SSM parameters it publishes, and the
    # fleet's event bus. Both are resolved when the stack is deployed, so the callee (and the fleet stack) come first.
    Kind(
        "service", "Another service's API (execute-api, IAM auth)", id_suffix="Api", verbs=("invoke",), external=True,
        grants=(Grant("Invoke{id}", {"invoke": ("execute-api:Invoke",)},
                      ("arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:"
                       "{{{{resolve:ssm:/msgen/${{Environment}}/{name}/api-id}}}}/api/{detail}",), whole="*/*"),),
        kms={"invoke": "read"}, env="SERVICE_URL", env_value="{{{{resolve:ssm:/msgen/${{Environment}}/{name}/api-url}}}}",
        # No interface endpoint: execute-api endpoints serve private APIs only, and msgen's APIs are regional (docs/standards.md).
        helper="calls.call",
        detail=r"(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|ANY) /[A-Za-z0-9._~{}+/-]*",
        detail_help="'<service>:invoke:<METHOD> <path>' names one route of it",
        detail_part=route_arn_part,
    ),
    Kind(
        "events", "The fleet's EventBridge bus (PutEvents as this service's source)", section=("emits",), verbs=("emit",),
        singleton=True,
        grants=(Grant("EmitEvents", {"emit": ("events:PutEvents",)},
                      ("{{{{resolve:ssm:/msgen/${{Environment}}/fleet/event-bus-arn}}}}",),
                      condition={"StringEquals": {"events:source": "{service}"}}, detail_condition="events:detail-type"),),
        env_vars={"EVENT_BUS_NAME": "{{{{resolve:ssm:/msgen/${{Environment}}/fleet/event-bus-name}}}}", "EVENT_BUS_SOURCE": "{service}"},
        kms={"emit": "read"}, endpoint="events", helper="events.publish",
        detail=r"[A-Za-z][A-Za-z0-9._-]{0,127}", detail_help="'events:emit:<DetailType>' only one of them",
    ),
    # Components every service (or pattern) gets; no spec names them in `uses:`.
    Kind("function", "Lambda function", id_suffix="Function", alarm_component="fn-<name>"),
    Kind("release", "Lambda function's new version during a release (alias live, its ExecutedVersion)", alarm_component="fn-<name>"),
    Kind("api", "API Gateway REST API (its stage)", alarm_component="api"),
    Kind("distribution", "CloudFront distribution", alarm_component="cdn"),
    Kind("container_service", "ECS Fargate service", alarm_component="containers"),
    Kind("load_balancer", "Application load balancer (the container service's target group)", alarm_component="containers"),
    Kind("dead_letter_queue", "SQS dead-letter queue (of a queue, a topic's queue subscription, an events rule or an asynchronous "
                              "function)", alarm_component="<owner>: queue-<name>, topic-<name>-to-<queue>, events-<name>, fn-<name>"),
    Kind("events_rule", "EventBridge rule", alarm_component="events-<name>"),
    Kind("alarm_topic", "SNS topic of the service's alarms", alarm_component="alarms"),
    Kind("application_logs", "Application log groups (ERROR lines, metric filter)", alarm_component="app"),
)})

# Where a `uses:` target may be declared, in the order names are checked for uniqueness across them.
NAMED_KINDS: tuple[Kind, ...] = tuple(k for k in KINDS.values() if k.verbs and not k.singleton and not k.external)
# Targets that are not declared in the spec: a use of one of their verbs on a name the spec does not declare.
EXTERNAL_KINDS: Mapping[str, Kind] = MappingProxyType({v: k for k in KINDS.values() if k.external for v in k.verbs})
SINGLETONS: Mapping[str, Kind] = MappingProxyType({k.name: k for k in KINDS.values() if k.singleton})
# Every verb a `uses:` entry may name, for the spec's pattern and help texts.
ALL_VERBS: tuple[str, ...] = tuple(sorted({v for k in KINDS.values() for v in k.verbs}))
# `<name>:<verb>:<detail>`: the verbs that take a detail, and the regular expression of the detail.
DETAILS: Mapping[str, str] = MappingProxyType({v: k.detail for k in KINDS.values() if k.detail for v in k.verbs})



@dataclass(frozen=True, order=True)
class Use:
    """One ``uses:`` entry, parsed once: ``payments:readwrite`` is ``Use("payments", "readwrite")``."""

    target: str
    verb: str
    detail: str = ""  # `catalog-svc:invoke:GET /items/{id}` names one route; `events:emit:PaymentSettled` one detail-type

    @classmethod
    def parse(cls, text: str) -> Use:
        target, sep, rest = text.partition(":")
        verb, dsep, detail = rest.partition(":")
        if not sep or not target or not verb or (dsep and (verb not in DETAILS or not detail)):
            raise ValueError(f"'{text}' is not <name>:<verb>")
        return cls(target, verb, detail)

    def __str__(self) -> str:
        return f"{self.target}:{self.verb}" + (f":{self.detail}" if self.detail else "")


def uses_help() -> str:
    """The one description of `uses:` every model field shows (kinds and their verbs, from the table)."""
    parts = []
    for kind in KINDS.values():
        if not kind.verbs:
            continue
        who = kind.name if kind.singleton else f"<{kind.name}>"
        parts.append(f"'{who}:{'|'.join(kind.verbs)}'" + (f" ({kind.detail_help})" if kind.detail_help else ""))
    return "What the code touches: " + ", ".join(parts)
