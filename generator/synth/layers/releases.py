"""Releases: every function is invoked through its alias ``live``, whose traffic CodeDeploy shifts to each new version.

Per function: an ``AWS::Lambda::Version``, an ``AWS::Lambda::Alias`` with ``UpdatePolicy.CodeDeployLambdaAliasUpdate``
and a CodeDeploy deployment group (all at once, canary or linear: ``application.release``, per environment), which
rolls back on failure, on a stop request and on the release alarms the alarm pass adds (they watch the alias's new
version only, through the ``ExecutedVersion`` dimension). One CodeDeploy application and one service role serve
the stack; optional pre- and post-traffic hook functions may only report their verdict to CodeDeploy.

How a new version is published while logical IDs stay stable: an ``AWS::Lambda::Version``'s properties cannot be
updated, so any change to them makes CloudFormation replace it, which publishes a new version (same logical ID, a
new physical one). Its ``Description`` holds the code's SHA-256 from the ``CodeSha256`` parameter (``msgen deploy``
fills it from the artifact, so the template itself never depends on a build: ``msgen synth --check`` stays offline)
and a digest of the function's configuration, so new code or new settings publish a version and nothing else does.
When the parameter is set, the version's ``CodeSha256`` property also makes Lambda refuse to publish code other than
the artifact's. Without it (a hand-run deploy), the artifact key stands in for the hash.
"""

from __future__ import annotations

import hashlib
import json

from troposphere import Equals, GetAtt, If, Parameter, Ref, Sub, awslambda, codedeploy, iam, logs

from generator import naming
from generator.synth.context import Context, source_of
from generator.synth.layers.application import artifact
from generator.synth.policy import assume_role, document, statement
from generator.synth.registry import Release, layer

ALIAS = "live"
CODE_SHA256 = "CodeSha256"
NO_CODE_SHA256 = "NoCodeSha256"
ROLLBACK_EVENTS = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"]  # the alarm pass adds DEPLOYMENT_STOP_ON_ALARM
MAX_GROUP_ALARMS = 10  # CodeDeploy: at most 10 alarms per deployment group
HOOK_EVENTS = {"pre_traffic": "BeforeAllowTrafficHook", "post_traffic": "AfterAllowTrafficHook"}


@layer(provides={"releases", "log_groups"}, needs={"key", "functions", "artifact", "network"}, source="application.release")
def build(ctx: Context) -> None:
    reg, t = ctx.reg, ctx.template
    if not reg.functions:
        return
    release = ctx.spec.application.release
    code = t.add_parameter(Parameter(
        CODE_SHA256, Type="String", Default="", AllowedPattern="^([A-Za-z0-9+/]{43}=)?$",
        Description="Base64 SHA-256 of the function code zip (Lambda's CodeSha256); msgen deploy fills it from the artifact. "
                    "A new value publishes new versions that CodeDeploy shifts the aliases to",
    ))
    t.add_condition(NO_CODE_SHA256, Equals(Ref(code), ""))
    application = ctx.add(codedeploy.Application("ReleaseApplication", ComputePlatform="Lambda"),
                          "CodeDeploy application shifting the functions' aliases to new versions")
    made = {event: _hook(ctx, event, handler) for event, handler in (("pre_traffic", release.hooks.pre_traffic),
                                                                       ("post_traffic", release.hooks.post_traffic)) if handler}
    hooks = {event: fn for event, (fn, _) in made.items()}
    role = ctx.add(iam.Role(
        "ReleaseRole",
        Description=Sub(f"{ctx.service} (${{Environment}}): CodeDeploy shifts the functions' aliases"),
        AssumeRolePolicyDocument=assume_role("codedeploy.amazonaws.com"),
    ), "Service role of CodeDeploy (its permissions: ReleaseRolePolicy)")
    # What the AWS managed policy AWSCodeDeployRoleForLambda grants on "*", limited to this stack's functions, alarms and hooks.
    # A policy of its own, not inline: it names every function, and a function may depend on what invokes another one's
    # alias (a workflow), whose deployment group needs the role; nothing depends on this policy, so that is no cycle.
    # CodeDeploy uses it only when a later deploy updates an alias: creating a stack creates aliases without a deployment.
    ctx.add(iam.PolicyType(
        "ReleaseRolePolicy", PolicyName="least-privilege", Roles=[Ref(role)], PolicyDocument=document(
            statement(["lambda:GetAlias", "lambda:GetProvisionedConcurrencyConfig", "lambda:UpdateAlias"],
                      [Sub(f"${{{fn.title}.Arn}}*") for fn in reg.functions.values()], sid="ShiftAliases"),
            statement(["cloudwatch:DescribeAlarms"],
                      Sub(f"arn:${{AWS::Partition}}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:msgen-{ctx.service}-${{Environment}}-*"),
                      sid="ReadRollbackAlarms"),
            *([statement(["lambda:InvokeFunction"], [GetAtt(h, "Arn") for h in hooks.values()], sid="RunHooks")] if hooks else []),
        ),
    ), "What CodeDeploy may do: move this stack's aliases, read this service's alarms, run its hooks")
    for name, fn in reg.functions.items():
        with ctx.sourced(source_of(fn)):
            reg.releases[name] = _release(ctx, fn, code, application, role, hooks, release.deployment_config)
    for _, hook_role in made.values():  # a hook reports its verdict to this stack's deployment groups, and no other
        hook_role.Policies[0].PolicyDocument["Statement"].append(statement(
            ["codedeploy:PutLifecycleEventHookExecutionStatus"],
            [Sub(f"arn:${{AWS::Partition}}:codedeploy:${{AWS::Region}}:${{AWS::AccountId}}:deploymentgroup:${{{application.title}}}/${{{r.group.title}}}")
             for r in reg.releases.values()], sid="ReportVerdict"))


def config_digest(fn: awslambda.Function) -> str:
    """Digest of the function's settings except its code: a change publishes a version, as SAM's AutoPublishAlias does."""
    props = {k: v for k, v in fn.to_dict()["Properties"].items() if k != "Code"}  # plain data: intrinsics rendered
    return hashlib.sha256(json.dumps(props, sort_keys=True).encode()).hexdigest()[:12]


def _release(ctx: Context, fn, code, application, role, hooks: dict, config: str) -> Release:
    digest = config_digest(fn)
    code_zip = artifact(ctx)
    version = awslambda.Version(
        f"{fn.title}Version", FunctionName=Ref(fn),
        CodeSha256=If(NO_CODE_SHA256, Ref("AWS::NoValue"), Ref(code)),
        Description=If(NO_CODE_SHA256, Sub(f"artifact ${{{code_zip.key.title}}}, settings {digest}"),
                       Sub(f"code ${{{code.title}}}, settings {digest}")),
    )
    # Published versions are immutable and cost nothing; the replaced one is deleted once the alias has moved off it.
    ctx.add(version, f"Version of {fn.title} published from the code hash and settings (replaced, same logical ID, when either changes)")
    group = ctx.add(codedeploy.DeploymentGroup(
        f"{fn.title}DeploymentGroup", ApplicationName=Ref(application), ServiceRoleArn=GetAtt(role, "Arn"),
        DeploymentConfigName=config,
        DeploymentStyle=codedeploy.DeploymentStyle(DeploymentType="BLUE_GREEN", DeploymentOption="WITH_TRAFFIC_CONTROL"),
        AutoRollbackConfiguration=codedeploy.AutoRollbackConfiguration(Enabled=True, Events=list(ROLLBACK_EVENTS)),
    ), f"Shifts alias '{ALIAS}' of {fn.title} to a new version ({config}); rolls back on failure, stop or a release alarm")
    alias = awslambda.Alias(f"{fn.title}Alias", Name=ALIAS, FunctionName=Ref(fn), FunctionVersion=GetAtt(version, "Version"),
                            Description="What every caller invokes; CodeDeploy moves it to new versions")
    policy = {"ApplicationName": Ref(application), "DeploymentGroupName": Ref(group)}
    for event, hook in hooks.items():
        policy[HOOK_EVENTS[event]] = Ref(hook)
    # troposphere has no class for this UpdatePolicy: it is written as data.
    alias.resource["UpdatePolicy"] = {"CodeDeployLambdaAliasUpdate": policy}
    ctx.add(alias, f"Alias '{ALIAS}' of {fn.title}: API routes, queues, topics and rules invoke it, never the function itself")
    return Release(version, alias, group)


def alias_arn(ctx: Context, name: str) -> Ref:
    """The qualified ARN (``...:function:<name>:live``) callers use: Ref of an alias is its ARN."""
    return Ref(ctx.reg.releases[name].alias)


def _hook(ctx: Context, event: str, handler: str) -> tuple[awslambda.Function, iam.Role]:
    """A lifecycle hook: it tests the new version and reports the verdict; that report is the only AWS call it may make."""
    app = ctx.spec.application
    fid = naming.logical_id("Release", event.replace("_", "-"), "Hook")
    group = ctx.add(logs.LogGroup(f"{fid}LogGroup", LogGroupName=ctx.log_group_name(f"release/{event.replace('_', '-')}-hook"),
                                  RetentionInDays=ctx.spec.observability.log_retention_days, KmsKeyId=ctx.key_arn()),
                    f"JSON logs of the {event.replace('_', '-')} hook", retain=True)
    role = ctx.add(iam.Role(
        f"{fid}Role", Description=Sub(f"{ctx.service} (${{Environment}}): {event.replace('_', '-')} hook"),
        AssumeRolePolicyDocument=assume_role("lambda.amazonaws.com"),
        Policies=[iam.Policy(PolicyName="least-privilege", PolicyDocument=document(
            statement(["logs:CreateLogStream", "logs:PutLogEvents"], GetAtt(group, "Arn"), sid="OwnLogGroup"),
            # X-Ray has no resource-level permissions: "*" is the only valid resource for these two actions.
            statement(["xray:PutTelemetryRecords", "xray:PutTraceSegments"], "*", sid="Tracing"),
        ))],
    ), f"Execution role of the {event.replace('_', '-')} hook: its log group and its verdict to CodeDeploy")
    ctx.reg.log_groups.add(group)
    function = awslambda.Function(
        fid, Description=f"CodeDeploy {event.replace('_', '-')} hook ({handler})"[:256],
        Code=awslambda.Code(S3Bucket=Ref(artifact(ctx).bucket), S3Key=Ref(artifact(ctx).key)),
        Handler=handler, Runtime=app.runtime, Architectures=[app.architecture], MemorySize=app.memory_mb, Timeout=app.timeout_s,
        Role=GetAtt(role, "Arn"), TracingConfig=awslambda.TracingConfig(Mode="Active"), KmsKeyArn=ctx.key_arn(),
        ReservedConcurrentExecutions=1,
        Environment=awslambda.Environment(Variables={"ENVIRONMENT": Ref(ctx.env), "POWERTOOLS_SERVICE_NAME": ctx.service}),
    )
    function.properties["LoggingConfig"] = {"LogFormat": "JSON", "ApplicationLogLevel": app.log_level,
                                            "SystemLogLevel": app.system_log_level, "LogGroup": Ref(group)}
    outside = ctx.reg.network is not None or ctx.spec.network.vpc_id
    return ctx.add(function, f"CodeDeploy {event.replace('_', '-')} hook ({handler}): reports whether the new version may get traffic",
                   skips=("CKV_AWS_116:hook", "CKV_AWS_117:outside" if outside else "CKV_AWS_117")), role
