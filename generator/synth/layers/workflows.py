"""Workflows: Step Functions state machines defined in the repository, logging to the standard log group, traced.

A definition refers to the service's resources through DefinitionSubstitutions: ${function_<name>},
${table_<name>}, ${bucket_<name>}, ${queue_<name>} (URL) and ${topic_<name>} (ARN), names with '-' written '_'.
"""

from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, iam, logs, stepfunctions

from generator import naming, sources
from generator.plan import parse_uses
from generator.spec.models import Workflow
from generator.synth.context import Context
from generator.synth.grants import grants
from generator.synth.policy import assume_role, document, statement
from generator.synth.registry import layer

# Log delivery and X-Ray have no resource-level permissions: "*" is the only resource these actions accept.
LOG_DELIVERY = ["logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:DescribeLogGroups", "logs:DescribeResourcePolicies",
                "logs:GetLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:UpdateLogDelivery"]
TRACING = ["xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords", "xray:PutTraceSegments"]


def state_machine_id(name: str) -> str:
    return naming.logical_id(name, "StateMachine")


@layer(provides={"workflows", "log_groups"}, needs={"key", "functions", "releases", "tables", "buckets", "queues", "topics"})
def build(ctx: Context) -> None:
    for workflow in ctx.spec.workflows:
        with ctx.sourced(sources.named("workflows", workflow.name)):
            ctx.reg.workflows[workflow.name] = _workflow(ctx, workflow)


def _key(prefix: str, name: str) -> str:
    return f"{prefix}_{name.replace('-', '_')}"


def _workflow(ctx: Context, wf: Workflow) -> stepfunctions.StateMachine:
    lid = state_machine_id(wf.name)
    group = ctx.add(
        logs.LogGroup(f"{lid}LogGroup", LogGroupName=ctx.log_group_name(f"workflow/{wf.name}"),
                      RetentionInDays=ctx.spec.observability.log_retention_days, KmsKeyId=ctx.key_arn()),
        f"Execution history of workflow '{wf.name}' (errors)", retain=True,
    )
    reg = ctx.reg
    reg.log_groups.add(group)
    functions, releases = reg.functions, reg.releases
    uses = parse_uses(wf.uses)
    statements, _ = grants(ctx.plan, ctx.key_arn(), uses)
    if wf.invokes:
        arns = [GetAtt(functions[n], "Arn") for n in wf.invokes] + [Sub(f"${{{functions[n].title}.Arn}}:*") for n in wf.invokes]
        statements.insert(0, statement(["lambda:InvokeFunction"], arns, sid="InvokeFunctions"))
    statements += [statement(LOG_DELIVERY, "*", sid="LogDelivery"), statement(TRACING, "*", sid="Tracing")]
    role = ctx.add(iam.Role(f"{lid}Role", AssumeRolePolicyDocument=assume_role("states.amazonaws.com"),
                            Policies=[iam.Policy(PolicyName="least-privilege", PolicyDocument=document(*statements))]),
                   f"What workflow '{wf.name}' may do: invoke {', '.join(wf.invokes) or 'no function'}, and its uses")
    # A workflow invokes the function's alias (Ref: its qualified ARN, allowed by "<function ARN>:*"), as every other caller does.
    substitutions: dict[str, object] = {_key("function", n): Ref(releases[n].alias) for n in wf.invokes}
    # What a definition may refer to, by the kinds table's substitution: ${table_<name>}, ${queue_<name>}, ...
    resources = {"table": reg.tables, "bucket": reg.buckets, "queue": reg.queues, "topic": reg.topics}
    for use in uses:
        kind = ctx.plan.kind_of(use.target)
        if kind is not None and kind.substitution:
            substitutions[kind.substitution_name(use.target)] = Ref(resources[kind.name][use.target])
    props: dict[str, object] = dict(
        StateMachineType=wf.type, RoleArn=GetAtt(role, "Arn"), Definition=wf.definition_data,
        LoggingConfiguration=stepfunctions.LoggingConfiguration(
            Level="ERROR", IncludeExecutionData=False,
            Destinations=[stepfunctions.LogDestination(CloudWatchLogsLogGroup=stepfunctions.CloudWatchLogsLogGroup(LogGroupArn=GetAtt(group, "Arn")))]),
        TracingConfiguration=stepfunctions.TracingConfiguration(Enabled=True),
    )
    if substitutions:
        props["DefinitionSubstitutions"] = dict(sorted(substitutions.items()))
    return ctx.add(stepfunctions.StateMachine(lid, **props), f"Workflow '{wf.name}' ({wf.type}) from {wf.definition}")
