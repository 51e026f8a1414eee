"""hybrid pattern: the container service on ECS Fargate, behind a private load balancer that API Gateway
reaches through a VPC link (v2). Circuit-breaker rollbacks, Container Insights, autoscaling on CPU and
requests, and least-privilege task and execution roles.
"""

from __future__ import annotations

from troposphere import Equals, GetAtt, If, Join, Parameter, Ref, Select, Split, Sub, apigatewayv2, iam, logs

from generator.synth.context import Context
from generator.synth.grants import grants
from generator.synth.layers.database import allow_from
from generator.synth.lazy import troposphere_module
from generator.synth.policy import assume_role, document, statement
from generator.synth.registry import Containers, Principal, layer

ec2 = troposphere_module("ec2")
ecs = troposphere_module("ecs")
scaling = troposphere_module("applicationautoscaling")
elb = troposphere_module("elasticloadbalancingv2")

CONTAINER = "app"
IMAGE_IN_OWN_REGISTRY = "ImageInOwnRegistry"
# A container image reference: [registry[:port]/]repository[:tag][@sha256:digest], repository in lower case.
IMAGE_PATTERN = (r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*"
                 r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$")


@layer(provides={"containers", "principals", "log_groups"}, needs={"key", "network", "database"}, source="container")
def build(ctx: Context) -> None:
    spec = ctx.spec
    if spec.pattern != "hybrid" or spec.container is None:
        return
    c = spec.container
    t = ctx.template
    image = t.add_parameter(Parameter(
        "ContainerImage", Type="String", MinLength=1, MaxLength=1024, AllowedPattern=IMAGE_PATTERN,
        ConstraintDescription="an image reference such as 123456789012.dkr.ecr.eu-west-1.amazonaws.com/payment-svc:1.4.2",
        Description="Container image of the service, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/payment-svc:1.4.2. "
                    "An image in this account's ECR in this Region may be pulled from its own repository only; "
                    "any other image is pulled without ECR permissions (public registries)",
    ))
    vpc, subnets = ctx.reg.network.vpc, ctx.reg.network.subnets
    link_sg = ctx.add(ec2.SecurityGroup(
        "VpcLinkSecurityGroup", GroupDescription="API Gateway VPC link: may only reach the load balancer", VpcId=vpc,
        SecurityGroupEgress=[ec2.SecurityGroupRule(IpProtocol="-1", CidrIp="127.0.0.1/32", Description="Replaced by the rule to the load balancer")],
    ), "Network identity of API Gateway's VPC link")
    lb_sg = ctx.add(ec2.SecurityGroup(
        "LoadBalancerSecurityGroup", GroupDescription="Private load balancer: traffic from the VPC link only", VpcId=vpc,
        SecurityGroupEgress=[ec2.SecurityGroupRule(IpProtocol="-1", CidrIp="127.0.0.1/32", Description="Replaced by the rule to the tasks")],
    ), "Network identity of the load balancer")
    task_sg = ctx.add(ec2.SecurityGroup(
        "ServiceSecurityGroup", GroupDescription="Container tasks: traffic from the load balancer; HTTPS to AWS endpoints", VpcId=vpc,
        SecurityGroupEgress=[ec2.SecurityGroupRule(IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp="0.0.0.0/0",
                                                   Description="HTTPS to AWS APIs through the VPC endpoints")],
    ), "Network identity of the container tasks")
    database = ctx.reg.database
    if database is not None and any(u.target == "database" for u in ctx.plan.container_uses):
        allow_from(ctx, "Service", task_sg, database.security_group)
    port = 443 if c.certificate_arn else 80
    ctx.add(ec2.SecurityGroupEgress("VpcLinkToLoadBalancer", GroupId=Ref(link_sg), IpProtocol="tcp", FromPort=port, ToPort=port,
                                    DestinationSecurityGroupId=Ref(lb_sg), Description="VPC link to the listener"), "VPC link may reach the listener")
    ctx.add(ec2.SecurityGroupIngress("LoadBalancerFromVpcLink", GroupId=Ref(lb_sg), IpProtocol="tcp", FromPort=port, ToPort=port,
                                     SourceSecurityGroupId=Ref(link_sg), Description="Listener from the VPC link"), "Listener accepts the VPC link")
    ctx.add(ec2.SecurityGroupEgress("LoadBalancerToService", GroupId=Ref(lb_sg), IpProtocol="tcp", FromPort=c.port, ToPort=c.port,
                                    DestinationSecurityGroupId=Ref(task_sg), Description="Load balancer to the tasks"), "Load balancer may reach the tasks")
    ctx.add(ec2.SecurityGroupIngress("ServiceFromLoadBalancer", GroupId=Ref(task_sg), IpProtocol="tcp", FromPort=c.port, ToPort=c.port,
                                     SourceSecurityGroupId=Ref(lb_sg), Description="Tasks from the load balancer"), "Tasks accept the load balancer")

    lb = ctx.add(elb.LoadBalancer(
        "LoadBalancer", Type="application", Scheme="internal", Subnets=subnets, SecurityGroups=[Ref(lb_sg)],
        LoadBalancerAttributes=[elb.LoadBalancerAttributes(Key="routing.http.drop_invalid_header_fields.enabled", Value="true"),
                                elb.LoadBalancerAttributes(Key="deletion_protection.enabled", Value=str(ctx.spec.lifecycle.protected).lower())],
    ), "Private load balancer in front of the tasks; only the VPC link reaches it",
        skips=("CKV_AWS_91",) if ctx.spec.lifecycle.protected else ("CKV_AWS_91", "CKV_AWS_150"))
    group = ctx.add(elb.TargetGroup(
        "ServiceTargetGroup", VpcId=vpc, Protocol="HTTP", Port=c.port, TargetType="ip",
        HealthCheckPath=c.health_check_path, HealthCheckIntervalSeconds=15, HealthyThresholdCount=2, UnhealthyThresholdCount=3,
        Matcher=elb.Matcher(HttpCode="200-399"),
        TargetGroupAttributes=[elb.TargetGroupAttribute(Key="deregistration_delay.timeout_seconds", Value="30")],
    ), "The tasks, registered by ECS, checked on " + c.health_check_path)
    listener_props = dict(LoadBalancerArn=Ref(lb), Port=port, DefaultActions=[elb.Action(Type="forward", TargetGroupArn=Ref(group))])
    if c.certificate_arn:
        listener_props.update(Protocol="HTTPS", Certificates=[elb.Certificate(CertificateArn=c.certificate_arn)],
                              SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06")
    else:
        listener_props["Protocol"] = "HTTP"
    listener = ctx.add(elb.Listener("LoadBalancerListener", **listener_props), "Forwards to the tasks",
                       skips=() if c.certificate_arn else ("CKV_AWS_2", "CKV_AWS_103"))

    cluster = ctx.add(ecs.Cluster("Cluster", ClusterSettings=[ecs.ClusterSetting(Name="containerInsights", Value="enabled")]),
                      "ECS cluster of the service, with Container Insights")
    log_group = ctx.add(
        logs.LogGroup("ServiceLogGroup", LogGroupName=ctx.log_group_name("container/app"),
                      RetentionInDays=spec.observability.log_retention_days, KmsKeyId=ctx.key_arn()),
        "JSON logs of the container service", retain=True,
    )
    ctx.reg.log_groups.add(log_group, app="container")
    own_image = _own_repository(ctx, image)
    execution = ctx.add(iam.Role(
        "TaskExecutionRole", AssumeRolePolicyDocument=assume_role("ecs-tasks.amazonaws.com"),
        Policies=[iam.Policy(PolicyName="pull-and-log", PolicyDocument=document(
            # GetAuthorizationToken has no resource-level permissions: "*" is its only valid resource.
            If(IMAGE_IN_OWN_REGISTRY, statement(["ecr:GetAuthorizationToken"], "*", sid="RegistryLogin"), Ref("AWS::NoValue")),
            If(IMAGE_IN_OWN_REGISTRY, statement(["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                                                own_image, sid="PullOwnImage"), Ref("AWS::NoValue")),
            statement(["logs:CreateLogStream", "logs:PutLogEvents"], GetAtt(log_group, "Arn"), sid="OwnLogGroup"),
        ))],
    ), "Lets ECS pull the service's image (from its own repository, when it is in this account's ECR) and write the service's logs")
    task_statements, env = grants(ctx.plan, ctx.key_arn(), ctx.plan.container_uses)
    task_role = ctx.add(iam.Role(
        "TaskRole", AssumeRolePolicyDocument=assume_role("ecs-tasks.amazonaws.com"),
        Policies=[iam.Policy(PolicyName="least-privilege", PolicyDocument=document(*task_statements))],
    ), "What the application itself may do: exactly container.uses")
    ctx.reg.principals["container"] = Principal(task_role, in_vpc=True)
    variables = {"POWERTOOLS_SERVICE_NAME": spec.service, "POWERTOOLS_METRICS_NAMESPACE": ctx.metric_namespace(),
                 "ENVIRONMENT": Ref(ctx.env), "CORRELATION_HEADER": spec.observability.correlation_header, "PORT": str(c.port), **env}
    task = ctx.add(ecs.TaskDefinition(
        "TaskDefinition", RequiresCompatibilities=["FARGATE"], NetworkMode="awsvpc", Cpu=str(c.cpu), Memory=str(c.memory_mb),
        ExecutionRoleArn=GetAtt(execution, "Arn"), TaskRoleArn=GetAtt(task_role, "Arn"),
        RuntimePlatform=ecs.RuntimePlatform(CpuArchitecture="ARM64" if spec.application.architecture == "arm64" else "X86_64",
                                            OperatingSystemFamily="LINUX"),
        ContainerDefinitions=[ecs.ContainerDefinition(
            Name=CONTAINER, Image=Ref(image), Essential=True, ReadonlyRootFilesystem=True, Privileged=False, User="1000",
            PortMappings=[ecs.PortMapping(ContainerPort=c.port, Protocol="tcp")],
            Environment=[ecs.Environment(Name=k, Value=v) for k, v in sorted(variables.items())],
            LogConfiguration=ecs.LogConfiguration(LogDriver="awslogs", Options={
                "awslogs-group": Ref(log_group), "awslogs-region": Ref("AWS::Region"), "awslogs-stream-prefix": CONTAINER, "mode": "non-blocking"}),
        )],
    ), "The container: read-only root file system, non-root user, JSON logs to the standard log group")
    service = ctx.add(ecs.Service(
        "Service", Cluster=Ref(cluster), TaskDefinition=Ref(task), LaunchType="FARGATE", DesiredCount=c.min_tasks,
        PropagateTags="SERVICE", EnableECSManagedTags=True, HealthCheckGracePeriodSeconds=60,
        NetworkConfiguration=ecs.NetworkConfiguration(AwsvpcConfiguration=ecs.AwsvpcConfiguration(
            AssignPublicIp="DISABLED", Subnets=subnets, SecurityGroups=[Ref(task_sg)])),
        LoadBalancers=[ecs.LoadBalancer(ContainerName=CONTAINER, ContainerPort=c.port, TargetGroupArn=Ref(group))],
        DeploymentConfiguration=ecs.DeploymentConfiguration(
            MinimumHealthyPercent=100, MaximumPercent=200,
            DeploymentCircuitBreaker=ecs.DeploymentCircuitBreaker(Enable=True, Rollback=True)),
        DependsOn=[listener.title],
    ), "Fargate service: a failed deployment rolls back by itself")
    target = ctx.add(scaling.ScalableTarget(
        "ServiceScalableTarget", ServiceNamespace="ecs", ScalableDimension="ecs:service:DesiredCount",
        ResourceId=Sub(f"service/${{{cluster.title}}}/${{{service.title}.Name}}"), MinCapacity=c.min_tasks, MaxCapacity=c.max_tasks,
    ), f"Between {c.min_tasks} and {c.max_tasks} tasks")
    ctx.add(scaling.ScalingPolicy(
        "ServiceCpuScaling", PolicyName=ctx.physical("cpu"), PolicyType="TargetTrackingScaling", ScalingTargetId=Ref(target),
        TargetTrackingScalingPolicyConfiguration=scaling.TargetTrackingScalingPolicyConfiguration(
            TargetValue=c.target_cpu_percent, PredefinedMetricSpecification=scaling.PredefinedMetricSpecification(
                PredefinedMetricType="ECSServiceAverageCPUUtilization"))),
        f"Keeps average CPU near {c.target_cpu_percent}%")
    ctx.add(scaling.ScalingPolicy(
        "ServiceRequestScaling", PolicyName=ctx.physical("requests"), PolicyType="TargetTrackingScaling", ScalingTargetId=Ref(target),
        TargetTrackingScalingPolicyConfiguration=scaling.TargetTrackingScalingPolicyConfiguration(
            TargetValue=c.target_requests_per_task, PredefinedMetricSpecification=scaling.PredefinedMetricSpecification(
                PredefinedMetricType="ALBRequestCountPerTarget",
                ResourceLabel=Sub(f"${{{lb.title}.LoadBalancerFullName}}/${{{group.title}.TargetGroupFullName}}")))),
        f"Keeps requests per task near {c.target_requests_per_task} a minute")
    link = ctx.add(apigatewayv2.VpcLink("VpcLink", Name=ctx.physical("link"), SubnetIds=subnets, SecurityGroupIds=[Ref(link_sg)]),
                   "API Gateway's private path to the load balancer")
    ctx.reg.containers = Containers(service=service, cluster=cluster, load_balancer=lb, target_group=group, vpc_link=link,
                                    listener_scheme="https" if c.certificate_arn else "http")


def _own_repository(ctx: Context, image: Parameter) -> Sub:
    """The ARN of the ECR repository ``ContainerImage`` names, and the condition that it is in this account's registry.

    ``123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:1.4.2`` -> ``arn:aws:ecr:eu-west-1:123456789012:repository/team/app``.
    CloudFormation has no substring function: the registry host (the part before the first "/") is compared with this
    account's, and the repository is what follows "amazonaws.com/" (China's hosts end in amazonaws.com.cn, normalised
    first), without its tag or digest. The expression never fails: for any other image it gives an unused empty name.
    """
    registry = Sub("${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}")
    ctx.template.add_condition(IMAGE_IN_OWN_REGISTRY, Equals(Select(0, Split("/", Ref(image))), registry))
    normalised = Join("amazonaws.com/", Split("amazonaws.com.cn/", Ref(image)))
    after_host = Select(1, Split("amazonaws.com/", Join("", [normalised, "amazonaws.com/"])))
    repository = Select(0, Split(":", Select(0, Split("@", after_host))))
    return Sub("arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/${Repository}", Repository=repository)
