"""Logging standard: explicit log groups, and an error metric from every application log group."""

from __future__ import annotations

from troposphere import Sub, logs

from generator.synth.context import Context
from generator.synth.layers.api import STAGE
from generator.synth.registry import layer

ERROR_METRIC = "ApplicationErrors"
ERROR_PATTERN = '{ $.level = "ERROR" }'


# Amends the API stage (its DependsOn gains the execution log group), so it both needs and provides "api_stage";
# it reads the application log groups once every layer has registered them, and adds one of its own.
@layer(provides={"log_groups", "api_stage"}, needs={"key", "rest_api", "api_stage", "log_groups"}, source="observability")
def build(ctx: Context) -> None:
    if ctx.reg.rest_api is not None:
        _execution_log_group(ctx)
    for name, log_group in ctx.reg.log_groups.app.items():
        ctx.add(
            logs.MetricFilter(
                f"{log_group.title}ErrorFilter",
                LogGroupName=log_group.ref(),
                FilterName=Sub(f"msgen-{ctx.service}-${{Environment}}-{name}-errors"),
                FilterPattern=ERROR_PATTERN,
                MetricTransformations=[logs.MetricTransformation(
                    MetricNamespace=ctx.metric_namespace(), MetricName=ERROR_METRIC, MetricValue="1", DefaultValue=0, Unit="Count",
                )],
            ),
            f"Counts ERROR lines of '{name}' into {ERROR_METRIC}",
        )


def _execution_log_group(ctx: Context) -> None:
    """API Gateway writes execution logs to a group with a fixed name; declare it so it has retention and KMS."""
    group = ctx.add(
        logs.LogGroup(
            "ApiExecutionLogGroup",
            LogGroupName=Sub(f"API-Gateway-Execution-Logs_${{{ctx.reg.rest_api.title}}}/{STAGE}"),
            RetentionInDays=ctx.spec.observability.log_retention_days,
            KmsKeyId=ctx.key_arn(),
        ),
        "API Gateway execution logs (ERROR level); the name is fixed by API Gateway",
        retain=True,
    )
    # The stage must not start logging before its execution log group exists (else API Gateway creates it, unencrypted).
    stage = ctx.reg.api_stage
    stage.DependsOn = [*getattr(stage, "DependsOn", []), group.title]
    ctx.reg.log_groups.add(group)
