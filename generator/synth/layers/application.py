"""Application: Lambda functions, each with its own log group and a role granting only what it uses."""

from __future__ import annotations

from dataclasses import dataclass, field

from troposphere import GetAtt, Parameter, Ref, Sub, awslambda, iam, logs

from generator import naming
from generator.spec.models import Route, ServiceSpec
from generator.synth.context import Context
from generator.synth.policy import assume_role, document, statement

TABLE_ACTIONS = {
    "read": ["dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"],
    "write": ["dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:DescribeTable", "dynamodb:PutItem", "dynamodb:UpdateItem"],
}
BUCKET_ACTIONS = {"read": ["s3:GetObject", "s3:GetObjectVersion"], "write": ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject"]}
QUEUE_ACTIONS = {"send": ["sqs:GetQueueAttributes", "sqs:SendMessage"],
                 "consume": ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]}
KMS_ACTIONS = {"read": ["kms:Decrypt", "kms:DescribeKey"], "write": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]}
# What each `uses:` verb needs from the service key.
KMS_LEVEL = {"read": "read", "write": "write", "send": "write", "publish": "write", "consume": "read", "connect": "read", "start": "read"}
ENTRY_POINT = "app.lambda_handler"  # the generated code's API router: every function behind the API uses it
WORKER_ENTRY_POINT = "worker.lambda_handler"  # the generated code's entry for queue consumers, topic and events handlers


@dataclass
class FunctionPlan:
    """One Lambda function: its name in the stack, entry point, the routes it serves and what it uses."""

    name: str
    handler: str
    description: str
    uses: list[str] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    consumes: str | None = None  # the queue this function consumes, for queue consumers
    source: str | None = None  # what invokes a worker function: sqs:<queue>, sns:<topic> or events:<rule>

    @property
    def asynchronous(self) -> bool:
        """Invoked asynchronously (by SNS or EventBridge): failed invocations go to the function's own dead-letter queue."""
        return bool(self.source) and not self.source.startswith("sqs:")


def function_name(route: Route) -> str:
    """micro pattern: a route's function is named after its handler (``payments.create`` -> ``payments-create``)."""
    return route.handler.replace(".", "-").replace("_", "-")


def consumer_name(queue: str) -> str:
    return f"{queue.replace('_', '-')}-consumer"


def handler_name(source: str) -> str:
    """The function a topic or an events rule invokes."""
    return f"{source.replace('_', '-')}-handler"


def plan(spec: ServiceSpec) -> list[FunctionPlan]:
    """Which functions the stack has.

    serverless: one function serves every route; its rights are the union of the routes' uses.
    hybrid: the same, for the routes with `target: function` (the others run in the container service).
    micro: one function per route, with only that route's uses.
    Then one function per queue consumer, topic handler and events handler, each with only its own uses.
    """
    routes = list(spec.api.routes)
    if spec.pattern == "hybrid":
        routes = [r for r in routes if r.target == "function"]
    if spec.pattern == "micro":
        functions = [FunctionPlan(function_name(r), ENTRY_POINT, f"{spec.service}: {r.method} {r.path} ({r.handler})", sorted(set(r.uses)), [r])
                     for r in routes]
    elif routes:
        what = "serves every API route" if spec.pattern == "serverless" else "serves the API's function routes"
        functions = [FunctionPlan("api", ENTRY_POINT, f"{spec.service}: {what}", sorted({u for r in routes for u in r.uses}), routes)]
    else:
        functions = []
    for queue in spec.messaging.queues:
        if queue.consumer:
            functions.append(FunctionPlan(
                consumer_name(queue.name), WORKER_ENTRY_POINT, f"{spec.service}: consumes queue {queue.name} ({queue.consumer.handler})",
                sorted({*queue.consumer.uses, f"{queue.name}:consume"}), consumes=queue.name, source=f"sqs:{queue.name}",
            ))
    for kind, items in (("sns", spec.messaging.topics), ("events", spec.messaging.events)):
        for item in items:
            if item.handler:
                functions.append(FunctionPlan(
                    handler_name(item.name), WORKER_ENTRY_POINT,
                    f"{spec.service}: handles {'topic' if kind == 'sns' else 'events rule'} {item.name} ({item.handler.handler})",
                    sorted(set(item.handler.uses)), source=f"{kind}:{item.name}",
                ))
    return functions


def build(ctx: Context) -> None:
    t = ctx.template
    ctx.refs["artifact_bucket"] = t.add_parameter(Parameter(
        "ArtifactBucket", Type="String", MinLength=3, MaxLength=63, AllowedPattern="^[a-z0-9][a-z0-9.-]*[a-z0-9]$",
        Description="S3 bucket holding the function code zip (make package; see README)",
    ))
    ctx.refs["artifact_key"] = t.add_parameter(Parameter(
        "ArtifactKey", Type="String", MinLength=1, MaxLength=1024, Description="S3 key of the function code zip, e.g. payment-svc/1.4.2.zip",
    ))
    for fn in plan(ctx.spec):
        ctx.refs.setdefault("functions", {})[fn.name] = _function(ctx, fn)
        for route in fn.routes:
            ctx.refs.setdefault("route_functions", {})[(route.method, route.path)] = fn


def _access(level: str) -> list[str]:
    return ["read", "write"] if level == "readwrite" else [level]


def access_by_target(uses: list[str]) -> dict[str, set[str]]:
    """``["payments:read", "payments:readwrite"]`` -> ``{"payments": {"read", "write"}}``."""
    out: dict[str, set[str]] = {}
    for use in uses:
        name, level = use.split(":")
        out.setdefault(name, set()).update(_access(level))
    return out


def _env_name(prefix: str, name: str) -> str:
    return f"{prefix}_{name.upper().replace('-', '_')}"


def grants(ctx: Context, uses: list[str]) -> tuple[list[dict], dict[str, object]]:
    """Policy statements and environment variables that ``uses`` entries imply."""
    statements: list[dict] = []
    env: dict[str, object] = {}
    kms_levels: set[str] = {"read"}  # environment variables are encrypted with the key
    refs = ctx.refs
    tables, buckets, queues, topics = (refs.get(k, {}) for k in ("tables", "buckets", "queues", "topics"))
    for name, levels in sorted(access_by_target(uses).items()):
        kms_levels |= {KMS_LEVEL[lvl] for lvl in levels}
        if name in tables:
            table = tables[name]
            actions = [a for lvl in levels for a in TABLE_ACTIONS[lvl]]
            statements.append(statement(actions, [GetAtt(table, "Arn"), Sub(f"${{{table.title}.Arn}}/index/*")], sid=table.title))
            env[_env_name("TABLE", name)] = Ref(table)
        elif name in buckets:
            bucket = buckets[name]
            actions = [a for lvl in levels for a in BUCKET_ACTIONS[lvl]]
            statements.append(statement(actions, Sub(f"${{{bucket.title}.Arn}}/*"), sid=f"{bucket.title}Objects"))
            if "read" in levels:
                statements.append(statement(["s3:ListBucket"], GetAtt(bucket, "Arn"), sid=f"{bucket.title}List"))
            env[_env_name("BUCKET", name)] = Ref(bucket)
        elif name in queues:
            queue = queues[name]
            statements.append(statement([a for lvl in levels for a in QUEUE_ACTIONS[lvl]], GetAtt(queue, "Arn"), sid=queue.title))
            env[_env_name("QUEUE", name)] = Ref(queue)
        elif name in topics:
            statements.append(statement(["sns:Publish"], Ref(topics[name]), sid=topics[name].title))
            env[_env_name("TOPIC", name)] = Ref(topics[name])
        elif name in {w.name for w in ctx.spec.workflows}:
            from generator.synth.layers.workflows import state_machine_id

            lid = state_machine_id(name)
            statements.append(statement(["states:StartExecution"], Ref(lid), sid=lid))
            env[_env_name("WORKFLOW", name)] = Ref(lid)
        elif name == "database":
            from generator.synth.layers import database

            statements.append(database.connect_statement(ctx))
            env.update(database.environment(ctx))
        elif name == "email":
            email = ctx.spec.messaging.email
            sender = f"{email.sender}@{email.domain}"
            statements.append(statement(
                ["ses:SendEmail", "ses:SendRawEmail"], Sub(f"arn:${{AWS::Partition}}:ses:${{AWS::Region}}:${{AWS::AccountId}}:identity/{email.domain}"),
                sid="SendEmail", Condition={"StringEquals": {"ses:FromAddress": sender}},
            ))
            env["EMAIL_SENDER"] = sender
    actions = sorted({a for lvl in kms_levels for a in KMS_ACTIONS[lvl]})
    statements.append(statement(actions, ctx.key_arn(), sid="ServiceKey"))
    return statements, env


def _vpc_statements(ctx: Context, subnets: list, groups: list) -> list[dict]:
    """Lambda's ENI management, scoped to the function's subnets and security groups where EC2 allows it."""
    arn = "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}"
    enis = Sub(f"{arn}:network-interface/*")

    def arns(kind: str, ids: list) -> list:
        return [Sub(f"{arn}:{kind}/{i}") if isinstance(i, str) else Sub(f"{arn}:{kind}/${{{i.data['Ref']}}}") for i in ids]

    return [
        statement(["ec2:CreateNetworkInterface"], [enis, *arns("subnet", subnets), *arns("security-group", groups)], sid="VpcCreateEni"),
        statement(["ec2:AssignPrivateIpAddresses", "ec2:DeleteNetworkInterface", "ec2:UnassignPrivateIpAddresses"], enis, sid="VpcManageEni"),
        # Describe calls have no resource-level permissions: "*" is the only valid resource.
        statement(["ec2:DescribeNetworkInterfaces"], "*", sid="VpcDescribeEni"),
    ]


def _function(ctx: Context, fn: FunctionPlan) -> awslambda.Function:
    app = ctx.spec.application
    fid = naming.function_id(fn.name)
    log_group = ctx.add(
        logs.LogGroup(
            f"{fid}LogGroup",
            LogGroupName=ctx.log_group_name(f"function/{fn.name}"),
            RetentionInDays=ctx.spec.observability.log_retention_days,
            KmsKeyId=ctx.key_arn(),
        ),
        f"JSON logs of function '{fn.name}'",
        retain=True,
    )
    grants_, env = grants(ctx, fn.uses)
    dead_letters = None
    if fn.asynchronous:
        from generator.synth.layers.messaging import dead_letter_queue

        dead_letters = dead_letter_queue(ctx, f"{fid}DeadLetterQueue", f"Failed asynchronous invocations of function '{fn.name}', kept 14 days")
        ctx.refs.setdefault("function_dead_letter_queues", {})[fn.name] = dead_letters
        grants_.insert(0, statement(["sqs:SendMessage"], GetAtt(dead_letters, "Arn"), sid="OwnDeadLetterQueue"))
        # The dead-letter queue is encrypted with the service key: sending needs a data key.
        grants_.insert(1, statement(["kms:GenerateDataKey"], ctx.key_arn(), sid="OwnDeadLetterQueueKey"))
    vpc = None
    if app.subnet_ids:
        vpc = (list(app.subnet_ids), list(app.security_group_ids))
    elif any(u.split(":")[0] == "database" for u in fn.uses):
        vpc = (ctx.refs["subnets"], [Ref(ctx.refs["function_sg"])])
    role = ctx.add(
        iam.Role(
            f"{fid}Role",
            Description=Sub(f"{ctx.service} (${{Environment}}): function {fn.name}"),
            AssumeRolePolicyDocument=assume_role("lambda.amazonaws.com"),
            Policies=[iam.Policy(PolicyName="least-privilege", PolicyDocument=document(
                statement(["logs:CreateLogStream", "logs:PutLogEvents"], GetAtt(log_group, "Arn"), sid="OwnLogGroup"),
                # X-Ray has no resource-level permissions: "*" is the only valid resource for these two actions.
                statement(["xray:PutTelemetryRecords", "xray:PutTraceSegments"], "*", sid="Tracing"),
                *grants_,
                *(_vpc_statements(ctx, *vpc) if vpc else []),
            ))],
        ),
        f"Execution role of function '{fn.name}': its log group, tracing and what it uses",
    )
    variables: dict[str, object] = {
        "POWERTOOLS_SERVICE_NAME": ctx.service,
        "POWERTOOLS_METRICS_NAMESPACE": ctx.metric_namespace(),
        "CORRELATION_HEADER": ctx.spec.observability.correlation_header,
        **({"EVENT_SOURCE": fn.source} if fn.source else {}),
        "ENVIRONMENT": Ref(ctx.env),
        **env,
        **app.environment,
    }
    skips = []
    props: dict[str, object] = dict(
        Description=fn.description[:256],
        Code=awslambda.Code(S3Bucket=Ref(ctx.refs["artifact_bucket"]), S3Key=Ref(ctx.refs["artifact_key"])),
        Handler=fn.handler,
        Runtime=app.runtime,
        Architectures=[app.architecture],
        MemorySize=app.memory_mb,
        Timeout=app.timeout_s,
        Role=GetAtt(role, "Arn"),
        TracingConfig=awslambda.TracingConfig(Mode="Active"),
        KmsKeyArn=ctx.key_arn(),
        Environment=awslambda.Environment(Variables=dict(sorted(variables.items()))),
    )
    if app.reserved_concurrency:
        props["ReservedConcurrentExecutions"] = app.reserved_concurrency
    else:
        skips.append("CKV_AWS_115")
    if fn.asynchronous:
        props["DeadLetterConfig"] = awslambda.DeadLetterConfig(TargetArn=GetAtt(dead_letters, "Arn"))
    else:
        skips.append("CKV_AWS_116" if fn.routes else "CKV_AWS_116:queue")
    if vpc:
        props["VpcConfig"] = awslambda.VPCConfig(SubnetIds=vpc[0], SecurityGroupIds=vpc[1])
    else:
        # Only functions that use the database join a VPC; where the service has one, say why this one is outside it.
        skips.append("CKV_AWS_117:outside" if "vpc" in ctx.refs or ctx.spec.network.vpc_id else "CKV_AWS_117")
    function = awslambda.Function(fid, **props)
    # troposphere's LoggingConfig class belongs to another resource type; set the property as data.
    function.properties["LoggingConfig"] = {
        "LogFormat": "JSON",
        "ApplicationLogLevel": app.log_level,
        "SystemLogLevel": app.system_log_level,
        "LogGroup": Ref(log_group),
    }
    ctx.refs.setdefault("log_groups", []).append(log_group)
    ctx.refs.setdefault("app_log_groups", {})[fn.name] = log_group
    return ctx.add(function, f"Function '{fn.name}' ({fn.handler})", skips=tuple(skips))
