"""Network for the hybrid pattern: a VPC across two availability zones with private subnets only.

No NAT gateway: containers reach AWS through VPC endpoints (ECR, CloudWatch Logs, and S3 for image
layers), so nothing in the VPC can reach the internet. Or, with network.vpc_id, the platform's VPC.
"""

from __future__ import annotations

from troposphere import Cidr, GetAtt, GetAZs, Ref, Select, Sub, iam, logs

from generator.synth.context import Context
from generator.synth.lazy import troposphere_module
from generator.synth.policy import assume_role, document, statement
from generator.synth.registry import Network, layer

ec2 = troposphere_module("ec2")

INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "logs")


@layer(provides={"network", "log_groups"}, needs={"key"}, source="network")
def build(ctx: Context) -> None:
    spec = ctx.spec
    if spec.pattern != "hybrid" and spec.database is None:
        return
    if spec.network.vpc_id:
        ctx.reg.network = Network(spec.network.vpc_id, list(spec.network.subnet_ids))
    else:
        _vpc(ctx)
    network = ctx.reg.network
    if ctx.plan.functions_in_vpc:
        network.function_security_group = ctx.add(ec2.SecurityGroup(
            "FunctionSecurityGroup", GroupDescription="Functions that use the database: HTTPS to AWS endpoints, PostgreSQL to the database",
            VpcId=network.vpc,
            SecurityGroupEgress=[ec2.SecurityGroupRule(IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp="0.0.0.0/0",
                                                       Description="HTTPS to AWS APIs through the VPC endpoints")],
        ), "Network identity of the functions in the VPC")


def _vpc(ctx: Context) -> None:
    spec = ctx.spec
    vpc = ctx.add(
        ec2.VPC("Vpc", CidrBlock=spec.network.cidr, EnableDnsHostnames=True, EnableDnsSupport=True),
        "Private network of the service's containers",
    )
    table = ctx.add(ec2.RouteTable("PrivateRouteTable", VpcId=Ref(vpc)), "Routes of the private subnets (no internet route)")
    subnets = []
    for i in (0, 1):
        subnet = ctx.add(
            ec2.Subnet(f"PrivateSubnet{i + 1}", VpcId=Ref(vpc), AvailabilityZone=Select(i, GetAZs("")),
                       CidrBlock=Select(i, Cidr(GetAtt(vpc, "CidrBlock"), 4, 12)), MapPublicIpOnLaunch=False),
            f"Private subnet in the {'first' if i == 0 else 'second'} availability zone",
        )
        ctx.add(ec2.SubnetRouteTableAssociation(f"PrivateSubnet{i + 1}RouteTable", SubnetId=Ref(subnet), RouteTableId=Ref(table)),
                "Attaches the subnet to the private route table")
        subnets.append(Ref(subnet))
    ctx.reg.network = Network(Ref(vpc), subnets)
    endpoint_sg = ctx.add(
        ec2.SecurityGroup(
            "VpcEndpointSecurityGroup", GroupDescription="HTTPS from inside the VPC to the AWS service endpoints", VpcId=Ref(vpc),
            SecurityGroupIngress=[ec2.SecurityGroupRule(IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp=GetAtt(vpc, "CidrBlock"),
                                                        Description="HTTPS from the VPC")],
            SecurityGroupEgress=[ec2.SecurityGroupRule(IpProtocol="-1", CidrIp="127.0.0.1/32", Description="No outbound traffic")],
        ),
        "Lets the VPC reach the interface endpoints, and nothing else",
    )
    ctx.add(ec2.VPCEndpoint("S3Endpoint", VpcId=Ref(vpc), ServiceName=Sub("com.amazonaws.${AWS::Region}.s3"),
                            VpcEndpointType="Gateway", RouteTableIds=[Ref(table)]),
            "S3 gateway endpoint (container image layers, and the service's buckets)")
    if spec.persistence.tables:
        ctx.add(ec2.VPCEndpoint("DynamoDbEndpoint", VpcId=Ref(vpc), ServiceName=Sub("com.amazonaws.${AWS::Region}.dynamodb"),
                                VpcEndpointType="Gateway", RouteTableIds=[Ref(table)]),
                "DynamoDB gateway endpoint: the containers reach their tables without a NAT gateway")
    for name in (*INTERFACE_ENDPOINTS, *ctx.plan.endpoints_for_uses):
        ctx.add(ec2.VPCEndpoint(
            f"{''.join(p.capitalize() for p in name.split('.'))}Endpoint", VpcId=Ref(vpc), ServiceName=Sub(f"com.amazonaws.${{AWS::Region}}.{name}"),
            VpcEndpointType="Interface", PrivateDnsEnabled=True, SubnetIds=subnets, SecurityGroupIds=[Ref(endpoint_sg)]),
            f"Interface endpoint for {name}")
    _flow_logs(ctx, vpc)


def _flow_logs(ctx: Context, vpc: ec2.VPC) -> None:
    group = ctx.add(
        logs.LogGroup("VpcFlowLogGroup", LogGroupName=ctx.log_group_name("vpc-flow-logs"),
                      RetentionInDays=ctx.spec.observability.log_retention_days, KmsKeyId=ctx.key_arn()),
        "Flow logs of the VPC (rejected and accepted traffic)",
        retain=True,
    )
    ctx.reg.log_groups.add(group)
    role = ctx.add(
        iam.Role("VpcFlowLogRole", AssumeRolePolicyDocument=assume_role("vpc-flow-logs.amazonaws.com"),
                 Policies=[iam.Policy(PolicyName="write-flow-logs", PolicyDocument=document(statement(
                     ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"], GetAtt(group, "Arn"), sid="OwnLogGroup")))]),
        "Lets VPC Flow Logs write to its log group only",
    )
    ctx.add(ec2.FlowLog("VpcFlowLog", ResourceId=Ref(vpc), ResourceType="VPC", TrafficType="ALL", LogDestinationType="cloud-watch-logs",
                        LogGroupName=Ref(group), DeliverLogsPermissionArn=GetAtt(role, "Arn")),
            "Records the VPC's traffic")
