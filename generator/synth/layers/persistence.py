"""Persistence: DynamoDB tables and S3 buckets, encrypted with the service key and retained on delete."""

from __future__ import annotations

from troposphere import GetAtt, Sub, dynamodb, s3

from generator import naming, sources
from generator.spec.models import KeyAttribute, Table
from generator.synth.context import Context, source_of
from generator.synth.policy import deny_insecure_transport, document, statement
from generator.synth.registry import layer


@layer(provides={"tables", "buckets", "access_logs", "bucket_policies"}, needs={"key"})
def build(ctx: Context) -> None:
    reg = ctx.reg
    for table in ctx.spec.persistence.tables:
        with ctx.sourced(sources.named("persistence.tables", table.name)):
            reg.tables[table.name] = _table(ctx, table)
    if ctx.spec.persistence.buckets or ctx.spec.content_delivery.enabled:
        reg.access_logs = _access_log_bucket(ctx)
    for bucket in ctx.spec.persistence.buckets:
        with ctx.sourced(sources.named("persistence.buckets", bucket.name)):
            reg.buckets[bucket.name] = private_bucket(
                ctx, naming.bucket_id(bucket.name), f"Bucket '{bucket.name}'", bucket.noncurrent_version_expiration_days
            )


def _key_schema(pk: KeyAttribute, sk: KeyAttribute | None) -> list[dynamodb.KeySchema]:
    schema = [dynamodb.KeySchema(AttributeName=pk.name, KeyType="HASH")]
    if sk:
        schema.append(dynamodb.KeySchema(AttributeName=sk.name, KeyType="RANGE"))
    return schema


def _table(ctx: Context, table: Table) -> dynamodb.Table:
    attributes: dict[str, str] = {}
    for attr in [table.partition_key, table.sort_key, *[k for i in table.indexes for k in (i.partition_key, i.sort_key)]]:
        if attr is not None:
            attributes.setdefault(attr.name, attr.type)
    props = dict(
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[dynamodb.AttributeDefinition(AttributeName=n, AttributeType=t) for n, t in attributes.items()],
        KeySchema=_key_schema(table.partition_key, table.sort_key),
        PointInTimeRecoverySpecification=dynamodb.PointInTimeRecoverySpecification(PointInTimeRecoveryEnabled=True),
        SSESpecification=dynamodb.SSESpecification(SSEEnabled=True, SSEType="KMS", KMSMasterKeyId=ctx.key_arn()),
        DeletionProtectionEnabled=ctx.spec.lifecycle.protected,
    )
    if table.indexes:
        props["GlobalSecondaryIndexes"] = [
            dynamodb.GlobalSecondaryIndex(
                IndexName=i.name, KeySchema=_key_schema(i.partition_key, i.sort_key), Projection=dynamodb.Projection(ProjectionType=i.projection)
            )
            for i in table.indexes
        ]
    if table.ttl_attribute:
        props["TimeToLiveSpecification"] = dynamodb.TimeToLiveSpecification(AttributeName=table.ttl_attribute, Enabled=True)
    return ctx.add(dynamodb.Table(naming.table_id(table.name), **props), f"Table '{table.name}'", retain=True)


def _bucket_basics(expire_noncurrent_days: int) -> dict:
    return dict(
        VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
        PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
            BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True, RestrictPublicBuckets=True
        ),
        LifecycleConfiguration=s3.LifecycleConfiguration(Rules=[
            s3.LifecycleRule(
                Id="ExpireOldVersions", Status="Enabled",
                NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=expire_noncurrent_days),
                AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(DaysAfterInitiation=7),
            )
        ]),
    )


def private_bucket(ctx: Context, lid: str, what: str, expire_noncurrent_days: int = 90) -> s3.Bucket:
    """A bucket no one outside the account can read, KMS-encrypted, TLS-only, logged, retained."""
    bucket = ctx.add(
        s3.Bucket(
            lid,
            BucketEncryption=s3.BucketEncryption(ServerSideEncryptionConfiguration=[
                s3.ServerSideEncryptionRule(
                    BucketKeyEnabled=True,
                    ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(SSEAlgorithm="aws:kms", KMSMasterKeyID=ctx.key_arn()),
                )
            ]),
            OwnershipControls=s3.OwnershipControls(Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]),
            LoggingConfiguration=s3.LoggingConfiguration(DestinationBucketName=ctx.reg.access_logs.ref(), LogFilePrefix=f"s3/{lid}/"),
            **_bucket_basics(expire_noncurrent_days),
        ),
        what,
        retain=True,
    )
    ctx.reg.bucket_policies.add(bucket, deny_insecure_transport([GetAtt(bucket, "Arn"), Sub(f"${{{lid}.Arn}}/*")], "s3:*"))
    return bucket


def _access_log_bucket(ctx: Context) -> s3.Bucket:
    """Receives S3 server access logs and CloudFront standard logs (SSE-S3: those services cannot write SSE-KMS)."""
    lid = "AccessLogsBucket"
    days = ctx.spec.observability.log_retention_days
    basics = _bucket_basics(30)
    basics["LifecycleConfiguration"].Rules.append(s3.LifecycleRule(Id="ExpireLogs", Status="Enabled", ExpirationInDays=days))
    bucket = ctx.add(
        s3.Bucket(
            lid,
            BucketEncryption=s3.BucketEncryption(ServerSideEncryptionConfiguration=[
                s3.ServerSideEncryptionRule(ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(SSEAlgorithm="AES256"))
            ]),
            # CloudFront standard logging writes with ACLs, so ACLs stay possible (but never public).
            OwnershipControls=s3.OwnershipControls(Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerPreferred")]),
            **basics,
        ),
        f"Access logs of the service's buckets and CloudFront, kept {days} days",
        skips=("CKV_AWS_18",),
        retain=True,
    )
    ctx.reg.bucket_policies.add(
        bucket,
        deny_insecure_transport([GetAtt(bucket, "Arn"), Sub(f"${{{lid}.Arn}}/*")], "s3:*"),
        statement(
            ["s3:PutObject"], Sub(f"${{{lid}.Arn}}/s3/*"), sid="S3ServerAccessLogs",
            Principal={"Service": "logging.s3.amazonaws.com"},
            Condition={"StringEquals": {"aws:SourceAccount": Sub("${AWS::AccountId}")}},
        ),
    )
    return bucket


@layer(needs={"bucket_policies"})
def bucket_policies(ctx: Context) -> None:
    """Emit one BucketPolicy per bucket, once every step that adds statements (``provides={"bucket_policies"}``) has run."""
    for bucket, statements in ctx.reg.bucket_policies:
        lid = bucket.title
        ctx.add(
            s3.BucketPolicy(f"{lid}Policy", Bucket=bucket.ref(), PolicyDocument=document(*statements)),
            f"Policy of {lid}: TLS only" + (" and the services that write to it" if len(statements) > 1 else ""),
            source=source_of(bucket),
        )
