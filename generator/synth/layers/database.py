"""Relational database: Aurora Serverless v2 PostgreSQL in the service's private subnets.

Encrypted with the service key, IAM database authentication for the service, master credentials kept
by RDS in Secrets Manager (encrypted with the service key, rotated by RDS), deletion protection, a
final snapshot when the stack deletes or replaces it, PostgreSQL logs in the standard log group.
"""

from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, iam, logs

from generator.synth.context import Context
from generator.synth.lazy import troposphere_module
from generator.synth.policy import assume_role, document, statement
from generator.synth.registry import Database, layer

ec2 = troposphere_module("ec2")
rds = troposphere_module("rds")

PORT = 5432


@layer(provides={"database", "log_groups"}, needs={"key", "network"}, source="database")
def build(ctx: Context) -> None:
    db = ctx.spec.database
    if db is None:
        return
    network = ctx.reg.network
    vpc, subnets = network.vpc, network.subnets
    sg = ctx.add(ec2.SecurityGroup(
        "DatabaseSecurityGroup", GroupDescription="Aurora: PostgreSQL from the functions and tasks of the service only", VpcId=vpc,
        SecurityGroupEgress=[ec2.SecurityGroupRule(IpProtocol="-1", CidrIp="127.0.0.1/32", Description="No outbound traffic")],
    ), "Network identity of the database")
    if network.function_security_group is not None:
        allow_from(ctx, "Functions", network.function_security_group, sg)
    subnet_group = ctx.add(rds.DBSubnetGroup("DatabaseSubnetGroup", DBSubnetGroupDescription=f"{ctx.service}: private subnets",
                                             SubnetIds=subnets), "The private subnets the database may use")
    identifier = Sub(f"{ctx.service}-${{Environment}}")
    log_group = ctx.add(
        logs.LogGroup("DatabaseLogGroup", LogGroupName=Sub(f"/aws/rds/cluster/{ctx.service}-${{Environment}}/postgresql"),
                      RetentionInDays=ctx.spec.observability.log_retention_days, KmsKeyId=ctx.key_arn()),
        "PostgreSQL logs (RDS fixes the name)", retain=True,
    )
    ctx.reg.log_groups.add(log_group)
    cluster = rds.DBCluster(
        "DatabaseCluster", DBClusterIdentifier=identifier, Engine="aurora-postgresql", EngineVersion=db.engine_version,
        DatabaseName=db.name, Port=PORT, MasterUsername="msgen_admin", ManageMasterUserPassword=True,
        MasterUserSecret=rds.MasterUserSecret(KmsKeyId=ctx.key_arn()),
        ServerlessV2ScalingConfiguration=rds.ServerlessV2ScalingConfiguration(MinCapacity=db.min_capacity, MaxCapacity=db.max_capacity),
        StorageEncrypted=True, KmsKeyId=ctx.key_arn(), EnableIAMDatabaseAuthentication=True,
        DeletionProtection=ctx.spec.lifecycle.protected,
        BackupRetentionPeriod=db.backup_retention_days, CopyTagsToSnapshot=True, EnableCloudwatchLogsExports=["postgresql"],
        DBSubnetGroupName=Ref(subnet_group), VpcSecurityGroupIds=[Ref(sg)],
    )
    cluster.DependsOn = [log_group.title]
    cluster.DeletionPolicy = cluster.UpdateReplacePolicy = "Snapshot" if ctx.spec.lifecycle.retain_data else "Delete"
    ctx.add(cluster, f"Aurora Serverless v2 PostgreSQL {db.engine_version}, {db.min_capacity}-{db.max_capacity} ACU",
            skips=() if ctx.spec.lifecycle.protected else ("CKV_AWS_139",))
    monitoring = ctx.add(iam.Role(
        "DatabaseMonitoringRole", AssumeRolePolicyDocument=assume_role("monitoring.rds.amazonaws.com"),
        Policies=[iam.Policy(PolicyName="enhanced-monitoring", PolicyDocument=document(statement(
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:GetLogEvents", "logs:PutLogEvents",
             "logs:PutRetentionPolicy"],
            [Sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:RDSOSMetrics"),
             Sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:RDSOSMetrics:*")], sid="RdsOsMetrics")))],
    ), "Lets RDS publish enhanced monitoring (OS metrics)")
    instance = rds.DBInstance(
        "DatabaseWriter", DBClusterIdentifier=Ref(cluster), DBInstanceClass="db.serverless", Engine="aurora-postgresql",
        PubliclyAccessible=False, AutoMinorVersionUpgrade=True, MonitoringInterval=60, MonitoringRoleArn=GetAtt(monitoring, "Arn"),
        EnablePerformanceInsights=True, PerformanceInsightsKMSKeyId=ctx.key_arn(), PerformanceInsightsRetentionPeriod=7,
    )
    instance.DeletionPolicy = "Delete"  # the cluster holds the data (and takes the snapshot)
    instance.UpdateReplacePolicy = "Delete"
    ctx.add(instance, "The writer instance (serverless); add readers for more availability")
    ctx.reg.database = Database(cluster, sg, instance)


def allow_from(ctx: Context, name: str, source_sg, db_sg) -> None:
    """Let one security group reach PostgreSQL, with both sides of the rule declared."""
    ctx.add(ec2.SecurityGroupIngress(f"DatabaseFrom{name}", GroupId=Ref(db_sg), IpProtocol="tcp", FromPort=PORT, ToPort=PORT,
                                     SourceSecurityGroupId=Ref(source_sg), Description=f"PostgreSQL from the {name.lower()}"),
            f"The database accepts the {name.lower()}")
    ctx.add(ec2.SecurityGroupEgress(f"{name}ToDatabase", GroupId=Ref(source_sg), IpProtocol="tcp", FromPort=PORT, ToPort=PORT,
                                    DestinationSecurityGroupId=Ref(db_sg), Description="PostgreSQL to the database"),
            f"The {name.lower()} may reach the database")

