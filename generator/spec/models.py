"""The service spec: what a service is. msgen decides how to build it.

Every model forbids unknown keys, so a typo is an error rather than a silently
ignored setting. Cross-field rules (duplicate routes, path parameters, ``uses``
references) live in :mod:`generator.spec.checks` so that they run even when some
fields are invalid, and every problem is reported in one run.
"""

from collections.abc import Callable
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints, field_validator, model_validator
from pydantic.json_schema import JsonDict

from generator.kinds import ALL_VERBS, DETAILS, uses_help

SERVICE_NAME_RE = r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$"
RESOURCE_NAME_RE = r"^[a-z][a-z0-9_-]{0,46}[a-z0-9]$|^[a-z]$"
HANDLER_RE = r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)+$"
ROUTE_PATH_RE = r"^/([^/]+(/[^/]+)*)?$"
# `uses:` entries: <name>:<verb>, with the verbs of the kinds table (generator/kinds.py).
USES_RE = r"^[a-z][a-z0-9_-]*:(" + "|".join(ALL_VERBS) + r")$" + "".join(
    rf"|^[a-z][a-z0-9_-]*:{verb}:{detail}$" for verb, detail in sorted(DETAILS.items()))  # `<name>:<verb>:<detail>` (fleet)
DETAIL_TYPE_RE = r"^[A-Za-z][A-Za-z0-9._-]{0,127}$"
ENV_VAR_RE = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
TAG_KEY_RE = r"^[A-Za-z0-9_.:/=+@ -]+$"
RESERVED_TAG_KEYS = ("service", "team", "environment", "managed-by")
TAG_VALUE_RE = r"^[A-Za-z0-9_.:/=+@ -]*$"
ARN_RE = r"^arn:aws[a-zA-Z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]*:.+$"
KEY_NAME_RE = r"^[A-Za-z_][A-Za-z0-9_.-]{0,254}$"

ServiceName = Annotated[str, StringConstraints(pattern=SERVICE_NAME_RE)]
EnvName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]{0,15}$")]
ResourceName = Annotated[str, StringConstraints(pattern=RESOURCE_NAME_RE)]
Arn = Annotated[str, StringConstraints(pattern=ARN_RE, max_length=2048)]
FreeText = Annotated[str, StringConstraints(min_length=1, max_length=256)]

SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "PRIVATE_KEY", "API_KEY", "ACCESS_KEY")

# CloudFormation's allowed AWS::Logs::LogGroup RetentionInDays values.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


def _allowed_retention(v: int) -> int:
    if v not in LOG_RETENTION_DAYS:
        raise ValueError(f"{v} is not a retention CloudWatch Logs allows; use one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
    return v


# Days a log group keeps its events (the service's and the fleet stack's); each field also states the enum in its schema.
LogRetentionDays = Annotated[int, AfterValidator(_allowed_retention)]

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"]

# Validators that refuse values the field's type allows, or accept other forms of input (shorthands) before
# the type is checked, state that in the JSON Schema as well (`msgen schema`, generator/spec/schema.py):
# `json_schema_input_type=` for the forms a before-validator accepts, `json_schema_extra=` for what an
# after-validator refuses. tests/test_schema.py checks that the schema and the model agree.

# Characters other than ASCII letters that str.upper() turns into ASCII capitals (checked by tests/test_schema.py).
UPPER_TO_ASCII = {"\u00df": "SS", "\u0131": "I", "\u017f": "S", "\ufb00": "FF", "\ufb01": "FI", "\ufb02": "FL", "\ufb03": "FFI",
                  "\ufb04": "FFL", "\ufb05": "ST", "\ufb06": "ST"}


def upper_pattern(words: tuple[str, ...]) -> str:
    """A regular expression (JSON Schema dialect) for the strings whose str.upper() is one of ``words``."""

    def alternatives(word: str) -> str:
        if not word:
            return ""
        head = sorted({word[0], word[0].lower(), *(c for c, up in UPPER_TO_ASCII.items() if up == word[0])})
        options = [f"[{''.join(head)}]{alternatives(word[1:])}"]
        options += [c + alternatives(word[len(up):]) for c, up in sorted(UPPER_TO_ASCII.items()) if len(up) > 1 and word.startswith(up)]
        return options[0] if len(options) == 1 else f"(?:{'|'.join(options)})"

    return f"^(?:{'|'.join(alternatives(w) for w in words)})$"


def ascii_case_insensitive(text: str) -> str:
    """A regular expression for ``text`` in any mix of ASCII upper and lower case (JSON Schema has no flags)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in text)


def _forbidden_keys(*forbidden: JsonDict) -> Callable[[JsonDict], None]:
    """json_schema_extra for a mapping whose validator refuses the keys that match any of ``forbidden``."""

    def extra(schema: JsonDict) -> None:
        names = schema.get("propertyNames")
        schema["propertyNames"] = {**(names if isinstance(names, dict) else {}), "not": {"anyOf": list(forbidden)}}

    return extra


# Sections are built as part of ServiceSpec's schema (defer_build): a section's own validator would be built, field by
# field again, the first time the section is instantiated alone. So a section left out of a spec gets its defaults from
# ``default_factory=Section.model_construct`` (defaults are valid by construction), not ``Section()``, which built nine
# validators per cold synth.
class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Domain(Model):
    """A custom domain for the CloudFront distribution (needs an ACM certificate in us-east-1)."""

    name: Annotated[str, StringConstraints(pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", max_length=253)] = Field(
        description="Fully qualified domain name, e.g. pay.example.com"
    )
    certificate_arn: Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/[A-Za-z0-9-]+$")] = Field(
        description="ACM certificate for the domain; CloudFront requires it to be in us-east-1"
    )


class ContentDelivery(Model):
    """CloudFront in front of a private S3 static site and the API (under /api/*)."""

    enabled: bool = Field(True, description="Create the CloudFront distribution")
    static_site: bool = Field(True, description="Create a private S3 bucket for the static site as the default origin")
    domain: Domain | None = Field(None, description="Custom domain and certificate; without it CloudFront's default certificate is used")
    web_acl_arn: Arn | None = Field(None, description="WAFv2 web ACL (global scope) to attach to the distribution")
    price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"] = "PriceClass_100"


KeyName = Annotated[str, StringConstraints(pattern=KEY_NAME_RE)]


class KeyAttribute(Model):
    name: KeyName
    type: Literal["S", "N", "B"] = "S"


def _key_shorthand(value: object) -> object:
    """`partition_key: id` is short for `partition_key: {name: id}` (type S)."""
    return {"name": value} if isinstance(value, str) else value


_partition_key_shorthand = field_validator("partition_key", mode="before", json_schema_input_type=KeyName | KeyAttribute)
_sort_key_shorthand = field_validator("sort_key", mode="before", json_schema_input_type=KeyName | KeyAttribute | None)


class Index(Model):
    """A global secondary index."""

    name: ResourceName
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    projection: Literal["ALL", "KEYS_ONLY"] = "ALL"

    _partition_key = _partition_key_shorthand(_key_shorthand)
    _sort_key = _sort_key_shorthand(_key_shorthand)


class Table(Model):
    """A DynamoDB table: on-demand, point-in-time recovery, KMS-encrypted, deletion-protected."""

    name: ResourceName
    partition_key: KeyAttribute = Field(description="Attribute name, or {name, type} with type S, N or B")
    sort_key: KeyAttribute | None = None
    indexes: list[Index] = Field(default_factory=list, max_length=20)
    ttl_attribute: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")] | None = None

    _partition_key = _partition_key_shorthand(_key_shorthand)
    _sort_key = _sort_key_shorthand(_key_shorthand)


class Bucket(Model):
    """A private, versioned, KMS-encrypted S3 bucket that only accepts TLS."""

    name: ResourceName
    noncurrent_version_expiration_days: int = Field(90, ge=1, le=3650, description="Delete old object versions after this many days")


class Persistence(Model):
    tables: list[Table] = Field(default_factory=list, max_length=50)
    buckets: list[Bucket] = Field(default_factory=list, max_length=20)


class Route(Model):
    method: HttpMethod
    path: Annotated[str, StringConstraints(pattern=ROUTE_PATH_RE, max_length=512)] = Field(
        description="Resource path, e.g. /payments/{id}; a greedy {proxy+} may end it"
    )
    handler: Annotated[str, StringConstraints(pattern=HANDLER_RE, max_length=128)] = Field(
        description="Python module.function that handles the route, e.g. payments.create"
    )
    uses: list[Annotated[str, StringConstraints(pattern=USES_RE)]] = Field(
        default_factory=list,
        description=uses_help(),
    )
    auth: Literal["iam", "cognito", "none"] | None = Field(None, description="Overrides api.auth for this route")
    target: Literal["function", "container"] | None = Field(
        None, description="hybrid pattern: serve this route from the container service (default) or from a Lambda function"
    )

    @field_validator("method", mode="before", json_schema_input_type=HttpMethod | Annotated[
        str, StringConstraints(pattern=upper_pattern(get_args(HttpMethod)))])
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v


class Consumer(Model):
    """A function that processes the queue's messages (partial batch failures reported to SQS)."""

    handler: Annotated[str, StringConstraints(pattern=HANDLER_RE, max_length=128)] = Field(
        description="Python module.function called once per message, e.g. notifications.handle"
    )
    uses: list[Annotated[str, StringConstraints(pattern=USES_RE)]] = Field(default_factory=list, description="As for routes")
    batch_size: int = Field(10, ge=1, le=10, description="Messages per invocation")


class Queue(Model):
    """An SQS queue with a dead-letter queue, KMS encryption and a TLS-only policy."""

    name: ResourceName
    visibility_timeout_s: int = Field(60, ge=1, le=43200, description="At least the consumer's timeout (AWS advises six times it)")
    retention_days: int = Field(4, ge=1, le=14, description="How long unprocessed messages are kept")
    max_receive_count: int = Field(5, ge=1, le=1000, description="Deliveries before a message moves to the dead-letter queue")
    max_age_s: int = Field(300, ge=60, description="Alarm when the oldest message has waited this long for 15 minutes")
    max_backlog: int | None = Field(None, ge=1, description="Alarm when this many messages wait for 15 minutes "
                                                            "(default: observability.alarms.queue_backlog_messages)")
    max_quiet_minutes: int | None = Field(
        None, ge=1, le=1440, description="Alarm when no message was sent for this many minutes (producers stopped; AWS uses 15). "
                                         "Only for queues with steady traffic; unset, there is no such alarm")
    consumer: Consumer | None = None


class Handler(Model):
    """A function a topic or an events rule invokes asynchronously (failures end in its own dead-letter queue)."""

    handler: Annotated[str, StringConstraints(pattern=HANDLER_RE, max_length=128)] = Field(description="Python module.function")
    uses: list[Annotated[str, StringConstraints(pattern=USES_RE)]] = Field(default_factory=list, description="As for routes")


class Topic(Model):
    """An SNS topic, KMS-encrypted, TLS-only, delivering to this service's own queues and/or a function."""

    name: ResourceName
    subscribers: list[ResourceName] = Field(default_factory=list, description="Names of this service's queues that receive every message")
    handler: Handler | None = Field(None, description="A function of this service that receives every message")
    max_quiet_minutes: int | None = Field(
        None, ge=1, le=1440, description="Alarm when nothing was published (or delivered) for this many minutes (AWS uses 5). "
                                         "Only for topics with steady traffic; unset, there are no such alarms")


class Email(Model):
    """Sending e-mail with SES from a verified domain."""

    domain: Annotated[str, StringConstraints(pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", max_length=253)] = Field(
        description="Domain to send from; SES verifies it through DKIM DNS records"
    )
    sender: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._+-]{0,63}$")] = Field("no-reply", description="Local part of the From address")


class EventRule(Model):
    """An EventBridge rule delivering matching events (or a schedule) to this service's queues."""

    name: ResourceName
    bus: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,256}$")] = Field(
        "default", description="Event bus the rule listens on; `fleet` is the fleet's bus (its name read from SSM "
                               "/msgen/<env>/fleet/event-bus-name when the stack is deployed), where other services' events arrive")
    pattern: dict[str, Any] | None = Field(None, description="EventBridge event pattern, e.g. {source: [payments], detail-type: [PaymentSettled]}")
    schedule: Annotated[str, StringConstraints(pattern=r"^(rate|cron)\(.+\)$")] | None = Field(
        None, description="Instead of a pattern: rate(5 minutes) or cron(...)"
    )
    targets: list[ResourceName] = Field(default_factory=list, max_length=5, description="Names of this service's queues that receive the events")
    handler: Handler | None = Field(None, description="A function of this service that receives the events")


class Messaging(Model):
    queues: list[Queue] = Field(default_factory=list, max_length=20)
    topics: list[Topic] = Field(default_factory=list, max_length=20)
    events: list[EventRule] = Field(default_factory=list, max_length=20)
    email: Email | None = None


class Container(Model):
    """hybrid pattern: the container service on ECS Fargate behind a private load balancer and a VPC link."""

    port: int = Field(8080, ge=1024, le=65535, description="Port the application listens on")
    cpu: Literal[256, 512, 1024, 2048, 4096] = Field(256, description="Fargate CPU units per task")
    memory_mb: int = Field(512, ge=512, le=30720, description="Memory per task; must suit the CPU size (Fargate's combinations)")
    min_tasks: int = Field(2, ge=1, le=100, description="Tasks always running (two spread over the two availability zones)")
    max_tasks: int = Field(6, ge=1, le=1000)
    health_check_path: Annotated[str, StringConstraints(pattern=r"^/[A-Za-z0-9._~/-]*$", max_length=1024)] = "/health"
    target_cpu_percent: int = Field(60, ge=10, le=90, description="Scale out above this average CPU")
    target_requests_per_task: int = Field(500, ge=1, description="Scale out above this many requests per task per minute")
    certificate_arn: Arn | None = Field(None, description="ACM certificate for an HTTPS listener on the load balancer")
    uses: list[Annotated[str, StringConstraints(pattern=USES_RE)]] = Field(default_factory=list, description="As for routes, for the task role")


class Workflow(Model):
    """A Step Functions state machine whose definition (Amazon States Language, JSON) lives in the repository."""

    name: ResourceName
    definition: Annotated[str, StringConstraints(pattern=r"^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*\.json$",
                                                 max_length=256)] = Field(
        description="Path of the ASL definition, relative to the spec file, e.g. workflows/refund.asl.json"
    )
    type: Literal["STANDARD", "EXPRESS"] = "STANDARD"
    invokes: list[ResourceName] = Field(default_factory=list, description="Names of this service's functions the workflow calls")
    uses: list[Annotated[str, StringConstraints(pattern=USES_RE)]] = Field(
        default_factory=list, description="As for routes: what the workflow's service integrations touch")
    _definition: dict[str, Any] | None = PrivateAttr(default=None)

    @property
    def definition_data(self) -> dict[str, Any]:
        if self._definition is None:
            raise ValueError(f"workflow '{self.name}': its definition file was not loaded (load the spec from its file)")
        return self._definition


class Database(Model):
    """Aurora Serverless v2 PostgreSQL in the service's private subnets: encrypted, IAM authentication,
    master credentials in Secrets Manager (rotated by RDS), deletion protection, a snapshot on delete."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")] = Field(description="Name of the database to create")
    engine_version: Annotated[str, StringConstraints(pattern=r"^1[5-8](\.[0-9]{1,2})?$")] = Field(
        "17", description="Aurora PostgreSQL version: a major version (AWS picks its default minor) or major.minor"
    )
    min_capacity: float = Field(0.5, ge=0.5, le=256, description="Aurora capacity units (ACU) when idle")
    max_capacity: float = Field(4, ge=1, le=256, description="ACU at the most (1 ACU is about 2 GiB of memory)")
    backup_retention_days: int = Field(7, ge=1, le=35)
    app_user: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")] = Field(
        "app", description="Database user the service connects as with IAM authentication (create it once: GRANT rds_iam TO app)"
    )
    max_connections_alarm: int | None = Field(
        None, ge=1, description="Alarm above this many connections (default: observability.alarms.database_connections_percent "
                                "of the max_connections Aurora derives from max_capacity)")


class Collection(Model):
    """An OpenSearch Serverless collection: the managed search engine (the seed's CloudSearch, today's successor).

    Encrypted with the service's key; reachable only with IAM (SigV4) by the functions and containers that
    declare `uses: [<name>:read|write|readwrite]`, through the service's VPC when all of them run in it.
    It bills OCUs even when idle: see the README (at least 2 OCU with standby replicas, 1 without).
    """

    name: ResourceName
    type: Literal["search", "timeseries", "vectorsearch"] = Field("search", description="What the collection is tuned for")
    standby_replicas: bool = Field(
        True, description="Replicas in a second availability zone (production); false halves the idle cost (dev and test only)"
    )


class Search(Model):
    collections: list[Collection] = Field(default_factory=list, max_length=10)


class Network(Model):
    """Where containers (and later databases) run: a new VPC, or an existing one."""

    cidr: Annotated[str, StringConstraints(pattern=r"^10\.([0-9]{1,3})\.0\.0/16$")] = Field("10.0.0.0/16", description="CIDR of the VPC msgen creates")
    vpc_id: Annotated[str, StringConstraints(pattern=r"^vpc-[0-9a-f]{8,17}$")] | None = Field(None, description="Use this VPC instead")
    subnet_ids: list[Annotated[str, StringConstraints(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(
        default_factory=list, description="Private subnets of vpc_id, in two or more availability zones"
    )


class Throttling(Model):
    rate_limit: float = Field(100, gt=0, le=10000, description="Steady-state requests per second for the stage")
    burst_limit: int = Field(200, gt=0, le=5000)


class Api(Model):
    """A regional REST API in API Gateway with one resource and method per route."""

    routes: list[Route] = Field(min_length=1)
    auth: Literal["iam", "cognito", "none"] = Field("iam", description="Default authorization for every route")
    cognito_user_pool_arn: Arn | None = Field(None, description="Required when any route uses cognito auth")
    throttling: Throttling = Field(default_factory=Throttling.model_construct)
    cache_enabled: bool = Field(False, description="Turn on the stage cache cluster (costs money; off by default)")
    web_acl_arn: Arn | None = Field(None, description="WAFv2 web ACL (regional) to associate with the stage")
    account_logging_role: bool = Field(
        False, description="Also set the account's API Gateway CloudWatch role in this stack. It is an account-wide setting: "
        "`msgen bootstrap` sets it once per account and Region; turn this on only where there is no bootstrap stack "
        "(services in one account would overwrite each other's setting)",
    )


# The traffic-shifting configurations CodeDeploy predefines for Lambda (CodeDeployDefault.Lambda...): strategy -> percent -> minutes.
RELEASE_CONFIGS: dict[str, dict[int, tuple[int, ...]]] = {
    "canary": {10: (5, 10, 15, 30)},
    "linear": {10: (1, 2, 3, 10)},
}


class ReleaseHooks(Model):
    pre_traffic: Annotated[str, StringConstraints(pattern=HANDLER_RE, max_length=128)] | None = Field(
        None, description="module.function run against the new version before it gets traffic; it reports success or failure to CodeDeploy")
    post_traffic: Annotated[str, StringConstraints(pattern=HANDLER_RE, max_length=128)] | None = Field(
        None, description="module.function run once all traffic is on the new version; it reports success or failure to CodeDeploy")


class Release(Model):
    """How a new version of the functions gets traffic (CodeDeploy through each function's alias)."""

    strategy: Literal["all_at_once", "canary", "linear"] = Field(
        "all_at_once", description="all_at_once; canary: percent of the traffic for interval_minutes, then all; "
                                   "linear: percent more every interval_minutes")
    percent: int = Field(10, ge=1, le=99, description="Canary share, or linear step, in percent (CodeDeploy predefines 10)")
    interval_minutes: int = Field(5, ge=1, le=60, description="Canary bake time, or minutes between linear steps")
    hooks: ReleaseHooks = Field(default_factory=ReleaseHooks.model_construct)

    @model_validator(mode="after")
    def _predefined(self) -> "Release":
        if self.strategy == "all_at_once":
            return self
        allowed = RELEASE_CONFIGS[self.strategy]
        if self.percent not in allowed or self.interval_minutes not in allowed[self.percent]:
            choices = "; ".join(f"percent {p} with interval_minutes {', '.join(map(str, m))}" for p, m in allowed.items())
            raise ValueError(f"release: CodeDeploy predefines no {self.strategy} of {self.percent}% every {self.interval_minutes} minutes "
                             f"for Lambda; choose {choices}")
        return self

    @property
    def deployment_config(self) -> str:
        """The predefined CodeDeploy configuration, e.g. CodeDeployDefault.LambdaCanary10Percent5Minutes."""
        if self.strategy == "canary":
            return f"CodeDeployDefault.LambdaCanary{self.percent}Percent{self.interval_minutes}Minutes"
        if self.strategy == "linear":
            unit = "Minute" if self.interval_minutes == 1 else "Minutes"
            return f"CodeDeployDefault.LambdaLinear{self.percent}PercentEvery{self.interval_minutes}{unit}"
        return "CodeDeployDefault.LambdaAllAtOnce"


class Application(Model):
    runtime: Literal["python3.12", "python3.13"] = "python3.12"
    architecture: Literal["arm64", "x86_64"] = "arm64"
    memory_mb: int = Field(512, ge=128, le=10240)
    timeout_s: int = Field(10, ge=1, le=29, description="API Gateway stops waiting after 29 s, so the limit is 29")
    reserved_concurrency: int | None = Field(
        None, ge=1, le=1000, description="Reserved concurrency per function; null leaves the function on the account pool"
    )
    log_level: Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"] = Field("INFO", description="Application log level (Lambda's ApplicationLogLevel)")
    system_log_level: Literal["DEBUG", "INFO", "WARN"] = Field("INFO", description="Lambda platform log level (SystemLogLevel)")
    environment: dict[Annotated[str, StringConstraints(pattern=ENV_VAR_RE)], Annotated[str, StringConstraints(max_length=1024)]] = Field(
        default_factory=dict, description="Plain configuration; secrets belong in Secrets Manager, not here",
        json_schema_extra=_forbidden_keys({"pattern": "^AWS_"}, *({"pattern": ascii_case_insensitive(w)} for w in SECRET_WORDS)),
    )
    subnet_ids: list[Annotated[str, StringConstraints(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(
        default_factory=list, description="Run functions in these VPC subnets (with security_group_ids)"
    )
    security_group_ids: list[Annotated[str, StringConstraints(pattern=r"^sg-[0-9a-f]{8,17}$")]] = Field(default_factory=list)
    release: Release = Field(default_factory=Release.model_construct, description="How new code gets traffic: through each function's alias, by CodeDeploy")

    @field_validator("environment")
    @classmethod
    def _no_secrets(cls, env: dict[str, str]) -> dict[str, str]:
        for key in env:
            if key.startswith("AWS_"):
                raise ValueError(f"'{key}': names starting with AWS_ are reserved by Lambda")
            if any(word in key.upper() for word in SECRET_WORDS):
                raise ValueError(f"'{key}' looks like a secret; keep secrets in Secrets Manager, not in environment variables")
        return env


class Alarms(Model):
    """Thresholds of the standard alarms. Defaults follow AWS's recommended alarms (docs/standards.md)."""

    enabled: bool = Field(True, description="Create the standard alarms (they always notify the service's SNS topic)")
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)] | None = Field(
        None, description="Subscribe this address to the alarm topic (AWS sends a confirmation e-mail)"
    )
    api_5xx_rate_percent: float = Field(5, gt=0, le=100, description="API 5XX responses as % of requests, 3 minutes running")
    api_4xx_rate_percent: float = Field(5, gt=0, le=100, description="API 4XX responses as % of requests, 5 minutes running")
    api_latency_p90_ms: int = Field(2500, ge=1, le=29000, description="API p90 latency in ms, 5 minutes running")
    request_rate_band_width: float = Field(2, gt=0, le=10, description="Width in standard deviations of the request-rate anomaly band")
    lambda_errors: int = Field(0, ge=0, description="Function errors per minute above which to alarm, 3 minutes running")
    lambda_throttles: int = Field(0, ge=0, description="Function throttles per minute above which to alarm, 5 minutes running")
    lambda_duration_p90_percent_of_timeout: int = Field(80, ge=1, le=100, description="p90 duration as % of the function timeout")
    lambda_concurrency_percent: int = Field(90, ge=1, le=100, description="% of reserved (or account) concurrency")
    account_concurrency_limit: int = Field(1000, ge=10, description="The account's Lambda concurrency quota, for functions without reserved concurrency")
    dynamodb_throttles: int = Field(0, ge=0, description="Read plus write throttle events per minute, 5 minutes running")
    dynamodb_system_errors: int = Field(0, ge=0, description="DynamoDB system errors per minute, 15 minutes running")
    dynamodb_latency_ms: int = Field(25, ge=1, description="Average latency of a table's GetItem, PutItem, UpdateItem or DeleteItem "
                                                           "in ms, 10 minutes running (DynamoDB serves them in single-digit ms)")
    cloudfront_5xx_rate_percent: float = Field(5, gt=0, le=100, description="CloudFront 5xx error rate in %, 5 minutes running")
    application_errors: int = Field(0, ge=0, description="ERROR log lines per minute above which to alarm, 3 minutes running")
    container_cpu_percent: int = Field(80, ge=1, le=100, description="Container service average CPU, 5 minutes running")
    container_memory_percent: int = Field(80, ge=1, le=100, description="Container service average memory, 5 minutes running")
    container_ephemeral_storage_percent: int = Field(90, ge=1, le=100, description="Ephemeral storage used by the tasks, 5 minutes running")
    target_5xx_rate_percent: float = Field(5, gt=0, le=100, description="5XX responses of the containers as % of their requests, "
                                                                         "5 minutes running")
    target_response_time_p90_ms: int = Field(2000, ge=1, description="p90 response time of the containers, 5 minutes running")
    search_errors: int = Field(0, ge=0, description="Failed search or ingestion requests per minute on a collection, 5 minutes running")
    search_latency_p90_ms: int = Field(1000, ge=1, description="p90 search latency of a collection in ms, 5 minutes running")
    queue_backlog_messages: int = Field(1000, ge=1, description="Messages waiting in a queue (average), 15 minutes running; "
                                                                "messaging.queues[].max_backlog overrides it per queue")
    database_connections_percent: int = Field(90, ge=1, le=100, description="Connections as % of the database's max_connections "
                                                                            "(AWS: 90-95), 5 minutes running")
    database_latency_p90_ms: int = Field(20, ge=1, description="p90 read and write latency of the database in ms, 5 minutes running")
    database_buffer_cache_hit_percent: int = Field(80, ge=1, le=100, description="Buffer cache hit ratio below which to alarm, "
                                                                                 "10 minutes running")
    database_throughput_band_width: float = Field(2, gt=0, le=10, description="Width in standard deviations of the database's "
                                                                              "storage-throughput anomaly band")


class Lifecycle(Model):
    """What protects the service's data from deletion. The defaults protect and keep everything; set them per
    environment (environments.<env>.lifecycle) to make dev and preview environments deletable."""

    protected: bool = Field(True, description="Deletion protection on tables, the database, the load balancer and search collections; "
                                              "`msgen destroy` refuses a protected environment")
    retain_data: bool = Field(True, description="Keep tables, buckets, queues, topics' queues, log groups, the key and collections when "
                                                "the stack is deleted or a resource replaced (DeletionPolicy Retain; the database keeps a "
                                                "final snapshot); false deletes them with the stack")


class Observability(Model):
    log_retention_days: LogRetentionDays = Field(30, description="Retention of every log group; one of CloudWatch's allowed values",
                                                 json_schema_extra={"enum": list(LOG_RETENTION_DAYS)})
    correlation_header: Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9-]{0,63}$")] = Field(
        "X-Correlation-Id", description="HTTP header that carries the correlation id between services",
        json_schema_extra={"not": {"pattern": "^" + ascii_case_insensitive("x-amz") + "[Nn]?-"}},
    )
    alarms: Alarms = Field(default_factory=Alarms.model_construct)
    dashboard: bool = Field(True, description="Create the service's CloudWatch dashboard")
    tracing: Literal["active", "opentelemetry"] = Field(
        "active",
        description="active: Lambda's and API Gateway's active tracing record every request with no tracing SDK in the code, "
        "and every log line carries the trace id; opentelemetry: also OpenTelemetry spans inside the code (the generated "
        "repository adds the OpenTelemetry API and SDK and src/tracing.py; costs cold start, see docs/standards.md). "
        "The code is the same in every environment: set it at the top level",
    )

    @field_validator("correlation_header")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if v.lower().startswith(("x-amz-", "x-amzn-")):
            raise ValueError(f"'{v}': headers starting with X-Amz- and X-Amzn- are reserved by AWS")
        return v


class ServiceSpec(Model):
    """A microservice on AWS, described once."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="msgen service spec", defer_build=False)

    service: ServiceName = Field(description="Lower-case DNS-safe name, 3-40 characters, e.g. payment-svc")
    team: FreeText = Field(description="Owning team")
    description: Annotated[str, StringConstraints(max_length=500)] = Field("", description="One or two sentences on what the service does")
    pattern: Literal["serverless", "hybrid", "micro"] = Field(
        "serverless",
        description="API shape: serverless (API Gateway + one Lambda + DynamoDB), hybrid (API Gateway in front of containers "
        "on ECS Fargate, optionally with some routes on Lambda) or micro (one Lambda per route, each with only its route's permissions)",
    )
    environments: Annotated[list[EnvName], Field(min_length=1, max_length=10, json_schema_extra={"uniqueItems": True})] | Annotated[dict[EnvName, dict[str, Any] | None], Field(min_length=1, max_length=10)] = Field(
        default_factory=lambda: ["dev", "staging", "prod"],
        description="The environments the service is deployed to: a list of names, or a mapping from name to overrides of any "
        "setting of this spec for that environment (mappings merge deeply, lists replace; see docs/environments.md)",
    )
    tags: dict[Annotated[str, StringConstraints(pattern=TAG_KEY_RE, max_length=128)], Annotated[str, StringConstraints(pattern=TAG_VALUE_RE, max_length=256)]] = Field(
        default_factory=dict, description="Extra tags for every resource, e.g. cost-centre: cc-1234", max_length=40,
        json_schema_extra=_forbidden_keys({"pattern": "^" + ascii_case_insensitive("aws:")}, {"enum": list(RESERVED_TAG_KEYS)}),
    )
    content_delivery: ContentDelivery = Field(default_factory=ContentDelivery.model_construct)
    api: Api
    application: Application = Field(default_factory=Application.model_construct)
    persistence: Persistence = Field(default_factory=Persistence.model_construct)
    messaging: Messaging = Field(default_factory=Messaging.model_construct)
    container: Container | None = Field(None, description="Required by the hybrid pattern")
    database: Database | None = Field(None, description="A relational database (Aurora Serverless v2 PostgreSQL); `uses: [database:connect]`")
    workflows: list[Workflow] = Field(default_factory=list, max_length=20, description="Step Functions state machines")
    emits: list[Annotated[str, StringConstraints(pattern=DETAIL_TYPE_RE)]] = Field(
        default_factory=list, max_length=100, json_schema_extra={"uniqueItems": True},
        description="EventBridge detail-types this service puts on the fleet's bus (source: the service name), e.g. [PaymentSettled]; "
                    "functions and containers that do need `uses: [events:emit]`",
    )
    search: Search = Field(default_factory=Search.model_construct, description="OpenSearch Serverless collections; `uses: [<collection>:read|write|readwrite]`")
    network: Network = Field(default_factory=Network.model_construct)
    observability: Observability = Field(default_factory=Observability.model_construct)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle.model_construct, description="Deletion protection and data retention (per environment)")

    @field_validator("environments")
    @classmethod
    def _some_environments(cls, v: list[str] | dict[str, Any]) -> list[str] | dict[str, Any]:
        if isinstance(v, list) and len(set(v)) != len(v):
            raise ValueError("an environment is listed twice")
        return v

    @field_validator("emits")
    @classmethod
    def _emits_once(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("an event is listed twice")
        return v

    @property
    def environment_names(self) -> list[str]:
        return list(self.environments)

    def for_environment(self, env: str) -> "ServiceSpec":
        """This spec as deployed to ``env``: its overrides merged in (generator.spec.environments), only that environment."""
        from generator.spec.environments import environment_data

        data = self.model_dump(mode="json", exclude_defaults=False)
        data["environments"] = self.environments if isinstance(self.environments, dict) else {}
        spec = ServiceSpec.model_validate(environment_data(data, env))
        for mine, theirs in zip(self.workflows, spec.workflows, strict=False):
            if mine.name == theirs.name:
                theirs._definition = mine._definition  # definitions are read once, with the spec
        return spec

    @field_validator("tags")
    @classmethod
    def _tag_keys(cls, tags: dict[str, str]) -> dict[str, str]:
        for key in tags:
            if key.lower().startswith("aws:"):
                raise ValueError(f"tag '{key}': the aws: prefix is reserved by AWS")
            if key in RESERVED_TAG_KEYS:
                raise ValueError(f"tag '{key}' is set by msgen from the spec; remove it from tags")
        return tags
