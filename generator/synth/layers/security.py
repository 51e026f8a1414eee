"""The service's customer-managed KMS key, used by every resource that can take one."""

from __future__ import annotations

from troposphere import Sub, kms

from generator.synth.context import Context
from generator.synth.policy import document, statement
from generator.synth.registry import layer

# Every KMS action the account root may delegate through IAM, spelled out (no kms:*).
ROOT_ACTIONS = [
    "kms:CancelKeyDeletion", "kms:ConnectCustomKeyStore", "kms:CreateAlias", "kms:CreateGrant", "kms:Decrypt",
    "kms:DeleteAlias", "kms:DescribeKey", "kms:DisableKey", "kms:DisableKeyRotation", "kms:EnableKey",
    "kms:EnableKeyRotation", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext", "kms:GenerateDataKeyWithoutPlaintext", "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus", "kms:GetPublicKey", "kms:ListAliases", "kms:ListGrants", "kms:ListKeyPolicies",
    "kms:ListKeyRotations", "kms:ListResourceTags", "kms:ListRetirableGrants", "kms:PutKeyPolicy",
    "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:RetireGrant", "kms:RevokeGrant", "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
]
SERVICE_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"]


def log_group_prefixes(spec) -> list[str]:
    """Every log group the service's key may encrypt: its own convention, and the names AWS services fix."""
    prefixes = [f"/msgen/{spec.service}/*"]
    if spec.api.routes:
        prefixes.append("API-Gateway-Execution-Logs_*")  # API Gateway names it after the API's id
    if spec.database:
        prefixes.append(f"/aws/rds/cluster/{spec.service}-*")  # RDS names it after the cluster
    return prefixes


@layer(provides={"key"})
def build(ctx: Context) -> None:
    spec = ctx.spec
    statements = [
        statement(ROOT_ACTIONS, "*", sid="AccountAdministers", Principal={"AWS": Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")}),
        statement(
            SERVICE_ACTIONS, "*", sid="CloudWatchLogsEncrypts",
            Principal={"Service": Sub("logs.${AWS::Region}.amazonaws.com")},
            Condition={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": [
                Sub(f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{prefix}") for prefix in log_group_prefixes(spec)]}},
        ),
    ]
    if spec.content_delivery.enabled and spec.content_delivery.static_site:
        statements.append(statement(
            ["kms:Decrypt"], "*", sid="CloudFrontReadsSite",
            Principal={"Service": "cloudfront.amazonaws.com"},
            Condition={"StringLike": {"AWS:SourceArn": Sub("arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/*")}},
        ))
    if spec.messaging.events:
        statements.append(statement(
            ["kms:Decrypt", "kms:GenerateDataKey"], "*", sid="EventsDeliverToEncryptedQueues",
            Principal={"Service": "events.amazonaws.com"},
            Condition={"StringEquals": {"aws:SourceAccount": Sub("${AWS::AccountId}")}},
        ))
    if any(t.subscribers for t in spec.messaging.topics):
        statements.append(statement(
            ["kms:Decrypt", "kms:GenerateDataKey"], "*", sid="TopicsDeliverToEncryptedQueues",
            Principal={"Service": "sns.amazonaws.com"},
            Condition={"StringEquals": {"aws:SourceAccount": Sub("${AWS::AccountId}")}},
        ))
    if spec.observability.alarms.enabled:
        statements.append(statement(
            ["kms:Decrypt", "kms:GenerateDataKey"], "*", sid="CloudWatchAlarmsPublishEncrypted",
            Principal={"Service": "cloudwatch.amazonaws.com"},
        ))
    key = ctx.add(
        kms.Key(
            "ServiceKey",
            Description=Sub(f"msgen {spec.service} (${{Environment}}): encrypts tables, buckets, logs and environment variables"),
            EnableKeyRotation=True,
            PendingWindowInDays=30,
            KeyPolicy=document(*statements),
        ),
        "Customer-managed key of the service, rotated yearly",
        retain=True,
    )
    ctx.reg.key = key
    ctx.add(
        kms.Alias("ServiceKeyAlias", AliasName=Sub(f"alias/msgen/{spec.service}-${{Environment}}"), TargetKeyId=key.ref()),
        "Readable alias of the service key",
    )
