"""Application: Lambda functions, each with its own log group and a role granting only what it uses."""

from __future__ import annotations

from troposphere import GetAtt, Parameter, Ref, Sub, awslambda, iam, logs

from generator import naming
from generator.plan import FunctionPlan
from generator.synth.context import Context
from generator.synth.dead_letters import dead_letter_queue
from generator.synth.grants import grants
from generator.synth.policy import assume_role, document, statement
from generator.synth.registry import Artifact, Principal, layer


@layer(provides={"artifact", "functions", "principals", "log_groups", "dead_letter_queues", "queue_policies"}, needs={"key", "network"})
def build(ctx: Context) -> None:
    for fn in ctx.plan.functions:
        with ctx.sourced(fn.element):
            ctx.reg.functions[fn.name] = _function(ctx, fn)


def artifact(ctx: Context) -> Artifact:
    """The code zip's bucket and key parameters, declared by the first function that needs them (a service of containers only
    has none: a parameter nothing uses is a lint warning, and msgen deploy would ask for a zip)."""
    if ctx.reg.artifact is None:
        t = ctx.template
        ctx.reg.artifact = Artifact(
            t.add_parameter(Parameter(
                "ArtifactBucket", Type="String", MinLength=3, MaxLength=63, AllowedPattern="^[a-z0-9][a-z0-9.-]*[a-z0-9]$",
                Description="S3 bucket holding the function code zip (make package; see README)",
            )),
            t.add_parameter(Parameter(
                "ArtifactKey", Type="String", MinLength=1, MaxLength=1024,
                Description="S3 key of the function code zip, e.g. payment-svc/1.4.2.zip",
            )),
        )
    return ctx.reg.artifact


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
    grants_, env = grants(ctx.plan, ctx.key_arn(), fn.uses)
    dead_letters = None
    if fn.asynchronous:
        dead_letters = dead_letter_queue(ctx, f"{fid}DeadLetterQueue", f"Failed asynchronous invocations of function '{fn.name}', kept 14 days")
        ctx.reg.dead_letter_queues.functions[fn.name] = dead_letters
        grants_.insert(0, statement(["sqs:SendMessage"], GetAtt(dead_letters, "Arn"), sid="OwnDeadLetterQueue"))
        # The dead-letter queue is encrypted with the service key: sending needs a data key.
        grants_.insert(1, statement(["kms:GenerateDataKey"], ctx.key_arn(), sid="OwnDeadLetterQueueKey"))
    vpc = None
    network = ctx.reg.network
    if app.subnet_ids:
        vpc = (list(app.subnet_ids), list(app.security_group_ids))
    elif fn in ctx.plan.functions_in_vpc:
        vpc = (network.subnets, [Ref(network.function_security_group)])
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
    ctx.reg.principals[f"function:{fn.name}"] = Principal(role, in_vpc=vpc is not None)
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
        Code=awslambda.Code(S3Bucket=Ref(artifact(ctx).bucket), S3Key=Ref(artifact(ctx).key)),
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
        skips.append("CKV_AWS_117:outside" if network is not None or ctx.spec.network.vpc_id else "CKV_AWS_117")
    function = awslambda.Function(fid, **props)
    # troposphere's LoggingConfig class belongs to another resource type; set the property as data.
    function.properties["LoggingConfig"] = {
        "LogFormat": "JSON",
        "ApplicationLogLevel": app.log_level,
        "SystemLogLevel": app.system_log_level,
        "LogGroup": Ref(log_group),
    }
    ctx.reg.log_groups.add(log_group, app=fn.name)
    return ctx.add(function, f"Function '{fn.name}' ({fn.handler})", skips=tuple(skips))
