"""The account-level stack of ``msgen bootstrap``: what deploys need and what belongs to the account, not a service.

One stack per account, Region and environment (``msgen-bootstrap-<env>``), generated like the service stacks:
troposphere, deterministic YAML (``generator.synth.pipeline.render``), every resource with
``Metadata.msgen.description/source`` and tags, checkov skips only with true reasons. It holds:

* the artifact bucket ``msgen deploy`` uploads code and templates to (versioned, encrypted with a key of its own,
  TLS-only, never public, retained, old artifacts expired) and the bucket receiving its access logs; the bucket's
  name is published as the SSM parameter ``/msgen/<env>/bootstrap/artifact-bucket``;
* API Gateway's account setting (``AWS::ApiGateway::Account``) and the role it writes logs with;
* the account-level alarms the alarm table (``generator.alarm_table``) leaves out of service stacks: Lambda's
  ``ClaimedAccountConcurrency`` and DynamoDB's ``UserErrors``, notifying an encrypted, TLS-only topic;
* with a GitHub repository, the GitHub OIDC provider (or an existing one, by parameter) and a deploy role that
  only that repository's GitHub environment of the same name can assume.

No AWS call happens here: :func:`bootstrap_template` returns the template text; ``msgen deploy`` deploys it.
"""

from __future__ import annotations

import re
from typing import Any

from troposphere import (
    AWSObject,
    Equals,
    GetAtt,
    If,
    Not,
    Output,
    Parameter,
    Ref,
    Sub,
    Tags,
    Template,
    apigateway,
    cloudwatch,
    iam,
    kms,
    s3,
    sns,
    ssm,
)

from generator import __version__
from generator.errors import InputError
from generator.synth.layers.security import ROOT_ACTIONS
from generator.synth.pipeline import render, template_data
from generator.synth.policy import api_gateway_push_logs, assume_role, deny_insecure_transport, document, statement

SOURCE = "bootstrap"
ENV_RE = re.compile(r"^[a-z][a-z0-9]{0,15}$")  # the spec's environment names (generator.spec.models.EnvName)
# GitHub: an owner is 1-39 letters, digits or single hyphens, not starting with one; a repository name 1-100 of [A-Za-z0-9._-].
REPO_RE = re.compile(r"^(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38})/(?P<name>(?!\.\.?$)[A-Za-z0-9._-]{1,100})$")
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
ARTIFACT_BUCKET_PARAMETER = "/msgen/{env}/bootstrap/artifact-bucket"
DEFAULT_CONCURRENCY_QUOTA = 1000
CONCURRENCY_PERCENT = 90

SKIP_REASONS = {
    "CKV_AWS_18": "this bucket receives the artifact bucket's access logs; logging it into itself would loop",
}


def stack_name(env: str) -> str:
    """The bootstrap stack's name in the account and Region."""
    return f"msgen-bootstrap-{env}"


def artifact_bucket_parameter(env: str) -> str:
    """The SSM parameter holding the artifact bucket's name, which ``msgen deploy`` reads."""
    return ARTIFACT_BUCKET_PARAMETER.format(env=env)


def check_inputs(env: str, github_repo: str | None) -> None:
    """InputError for an environment name or repository msgen would not accept, with what it expects."""
    if not ENV_RE.match(env or ""):
        raise InputError(f"--env {env!r}: an environment name is a lowercase letter and up to 15 lowercase letters or digits "
                         "(as in a spec's environments), e.g. dev, staging, prod")
    if github_repo is not None and not REPO_RE.match(github_repo):
        raise InputError(f"--github-repo {github_repo!r}: give OWNER/REPO as on GitHub, e.g. acme/payment-svc "
                         "(owner: letters, digits and single hyphens; repository: letters, digits, '.', '_' and '-')")


def bootstrap_template(env: str, github_repo: str | None = None, fmt: str = "yaml") -> str:
    """The bootstrap stack's template for environment ``env`` (and, with ``github_repo`` OWNER/REPO, its deploy role)."""
    check_inputs(env, github_repo)
    return render(build(env, github_repo), fmt)


def build(env: str, github_repo: str | None = None) -> dict[str, Any]:
    """The template as plain data (intrinsics rendered to dicts), deterministic for the same arguments."""
    check_inputs(env, github_repo)
    b = _Builder(env, github_repo)
    b.build()
    return template_data(b.t)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def alarm_topic(b: StackBuilder, lid: str, display_name: str, description: str, alarm_prefix: str) -> sns.Topic:
    """An alarm topic encrypted with the stack's key (``b.key``) that only this stack's alarms (named ALARM_PREFIX...) may
    publish to, over TLS."""
    topic = b.add(sns.Topic(lid, DisplayName=display_name, KmsMasterKeyId=GetAtt(b.key, "Arn")), description)
    b.add(sns.TopicPolicy(f"{lid}Policy", Topics=[Ref(topic)], PolicyDocument=document(
        statement(["sns:Publish"], Ref(topic), sid="CloudWatchAlarmsPublish", Principal={"Service": "cloudwatch.amazonaws.com"},
                  Condition={"ArnLike": {"aws:SourceArn": b.arn("cloudwatch", f"alarm:{alarm_prefix}*")}}),
        deny_insecure_transport([Ref(topic)], "sns:Publish"))),
        "Only this stack's alarms may publish, and only over TLS")
    return topic


class StackBuilder:
    """A stack outside any service (this account stack, generator.fleet.stack's fleet stack): every resource gets msgen's
    source metadata and the stack's tags, and what holds data can be retained."""

    def __init__(self, source: str, tags: dict[str, str], description: str):
        self.source, self.tags = source, tags
        self.t = Template()
        self.t.set_version("2010-09-09")
        self.t.set_description(description)

    def add(self, resource: AWSObject, description: str, skips: dict[str, str] | None = None, retain: bool = False) -> AWSObject:
        """Add RESOURCE; SKIPS maps checkov check ids to why they do not apply to it."""
        metadata: dict[str, Any] = {"msgen": {"description": description, "source": self.source}}
        if skips:
            metadata["checkov"] = {"skip": [{"id": k, "comment": reason} for k, reason in skips.items()]}
        resource.Metadata = metadata
        if retain:
            resource.DeletionPolicy = "Retain"
            resource.UpdateReplacePolicy = "Retain"
        if "Tags" in resource.props and "Tags" not in resource.properties:
            resource.Tags = dict(self.tags) if resource.props["Tags"][0] is dict else Tags(self.tags)
        return self.t.add_resource(resource)

    def arn(self, service: str, rest: str, region: bool = True, account: bool = True) -> Sub:
        r = "${AWS::Region}" if region else ""
        a = "${AWS::AccountId}" if account else ""
        return Sub(f"arn:${{AWS::Partition}}:{service}:{r}:{a}:{rest}")


class _Builder(StackBuilder):
    def __init__(self, env: str, github_repo: str | None):
        self.env, self.repo = env, github_repo
        what = f"; deploy role for GitHub repository {github_repo}, environment {env}" if github_repo else ""
        super().__init__(SOURCE, {"environment": env, "managed-by": "msgen", "msgen-stack": "bootstrap"},
                         f"msgen {__version__}: account-level stack for environment {env} (msgen bootstrap): artifact bucket, "
                         f"API Gateway logging role, account alarms{what}")

    # --- the stack -----------------------------------------------------------------------------------------------
    def build(self) -> None:
        self.parameters()
        self.key = self.artifact_key()
        self.bucket = self.artifact_bucket()
        self.api_gateway_account()
        self.topic = self.alarm_topic()
        self.alarms()
        self.role = self.deploy_role() if self.repo else None
        self.outputs()

    def parameters(self) -> None:
        t = self.t
        self.email = t.add_parameter(Parameter(
            "AlarmEmail", Type="String", Default="", AllowedPattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$",
            Description="E-mail address subscribed to the account-level alarms (empty: no subscription)"))
        self.quota = t.add_parameter(Parameter(
            "AccountConcurrencyQuota", Type="Number", Default=DEFAULT_CONCURRENCY_QUOTA, MinValue=10,
            Description=f"Lambda concurrent executions quota of this account and Region (Service Quotas); the alarm fires at "
                        f"{CONCURRENCY_PERCENT}% of it"))
        self.user_errors = t.add_parameter(Parameter(
            "DynamoDbUserErrorsThreshold", Type="Number", Default=0, MinValue=0,
            Description="DynamoDB UserErrors per minute (whole account and Region) above which, for 10 minutes, the alarm fires"))
        t.add_condition("HasAlarmEmail", Not(Equals(Ref(self.email), "")))
        if self.repo:
            self.provider_arn = t.add_parameter(Parameter(
                "ExistingGitHubOidcProviderArn", Type="String", Default="",
                AllowedPattern=rf"^$|^arn:aws[a-z-]*:iam::[0-9]{{12}}:oidc-provider/{re.escape(GITHUB_OIDC_HOST)}$",
                Description="ARN of this account's GitHub OIDC provider if it exists already (an account has at most one per URL); "
                            "empty: this stack creates it"))
            self.stack_pattern = t.add_parameter(Parameter(
                "ServiceStackNamePattern", Type="String", Default=f"*-{self.env}", AllowedPattern=r"^[A-Za-z0-9*?-]{1,128}$",
                Description="Names of the service stacks the deploy role may change (IAM wildcards * and ?); msgen's service "
                            "stacks are named <service>-<env>. The roles CloudFormation creates in them are named after the "
                            "stack, so the deploy role may create and pass roles matching <pattern>-*"))
            t.add_condition("CreateGitHubOidcProvider", Equals(Ref(self.provider_arn), ""))

    def artifact_key(self) -> kms.Key:
        statements = [
            statement(ROOT_ACTIONS, "*", sid="AccountAdministers", Principal={"AWS": Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")}),
            statement(["kms:Decrypt", "kms:GenerateDataKey"], "*", sid="SnsAndCloudWatchUseForAlarms",
                      Principal={"Service": ["cloudwatch.amazonaws.com", "sns.amazonaws.com"]},
                      Condition={"StringEquals": {"aws:SourceAccount": Sub("${AWS::AccountId}")}}),
        ]
        key = self.add(
            kms.Key("ArtifactKey", Description=f"msgen bootstrap ({self.env}): encrypts deploy artifacts and the alarm topic",
                    EnableKeyRotation=True, PendingWindowInDays=30, KeyPolicy=document(*statements)),
            "Customer-managed key of the bootstrap stack, rotated yearly", retain=True)
        self.add(kms.Alias("ArtifactKeyAlias", AliasName=f"alias/msgen/bootstrap-{self.env}", TargetKeyId=Ref(key)),
                 "Readable alias of the bootstrap key")
        return key

    def artifact_bucket(self) -> s3.Bucket:
        private = s3.PublicAccessBlockConfiguration(BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True,
                                                    RestrictPublicBuckets=True)
        logs = self.add(
            s3.Bucket(
                "ArtifactLogsBucket",
                BucketEncryption=s3.BucketEncryption(ServerSideEncryptionConfiguration=[
                    s3.ServerSideEncryptionRule(ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(SSEAlgorithm="AES256"))]),
                OwnershipControls=s3.OwnershipControls(Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]),
                VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
                PublicAccessBlockConfiguration=private,
                LifecycleConfiguration=s3.LifecycleConfiguration(Rules=[s3.LifecycleRule(
                    Id="ExpireLogs", Status="Enabled", ExpirationInDays=365,
                    NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=30),
                    AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(DaysAfterInitiation=7))]),
            ),
            "Access logs of the artifact bucket (SSE-S3: S3 server access logging cannot write SSE-KMS), kept a year",
            skips={"CKV_AWS_18": SKIP_REASONS["CKV_AWS_18"]}, retain=True)
        bucket = self.add(
            s3.Bucket(
                "ArtifactBucket",
                BucketEncryption=s3.BucketEncryption(ServerSideEncryptionConfiguration=[s3.ServerSideEncryptionRule(
                    BucketKeyEnabled=True,
                    ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(SSEAlgorithm="aws:kms", KMSMasterKeyID=GetAtt(self.key, "Arn")))]),
                OwnershipControls=s3.OwnershipControls(Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]),
                VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
                PublicAccessBlockConfiguration=private,
                LoggingConfiguration=s3.LoggingConfiguration(DestinationBucketName=Ref(logs), LogFilePrefix="s3/ArtifactBucket/"),
                LifecycleConfiguration=s3.LifecycleConfiguration(Rules=[s3.LifecycleRule(
                    Id="ExpireOldArtifacts", Status="Enabled", ExpirationInDays=365,
                    NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=30),
                    AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(DaysAfterInitiation=7))]),
            ),
            "Code artifacts and templates msgen deploy uploads (content-addressed keys); artifacts older than a year and "
            "replaced versions after 30 days expire", retain=True)
        for lid, target, extra in (
            ("ArtifactLogsBucketPolicy", logs, [statement(
                ["s3:PutObject"], Sub("${ArtifactLogsBucket.Arn}/s3/*"), sid="S3ServerAccessLogs",
                Principal={"Service": "logging.s3.amazonaws.com"},
                Condition={"StringEquals": {"aws:SourceAccount": Sub("${AWS::AccountId}")},
                           "ArnLike": {"aws:SourceArn": GetAtt(bucket, "Arn")}})]),
            ("ArtifactBucketPolicy", bucket, []),
        ):
            title = target.title
            self.add(s3.BucketPolicy(lid, Bucket=Ref(target), PolicyDocument=document(
                deny_insecure_transport([GetAtt(target, "Arn"), Sub(f"${{{title}.Arn}}/*")], "s3:*"), *extra)),
                f"Policy of {title}: TLS only" + (" and S3 server access logging writes" if extra else ""))
        self.add(ssm.Parameter("ArtifactBucketParameter", Name=artifact_bucket_parameter(self.env), Type="String", Value=Ref(bucket),
                               Description=f"Artifact bucket of environment {self.env} (msgen bootstrap); msgen deploy reads it"),
                 "Publishes the artifact bucket's name for msgen deploy")
        return bucket

    def api_gateway_account(self) -> None:
        role = self.add(
            iam.Role(
                "ApiGatewayCloudWatchRole",
                Description="Lets API Gateway write access and execution logs in this account and Region",
                AssumeRolePolicyDocument=assume_role("apigateway.amazonaws.com"),
                Policies=[iam.Policy(PolicyName="push-logs", PolicyDocument=api_gateway_push_logs())],
            ),
            "Role API Gateway writes logs with (the account-wide setting below)")
        self.add(apigateway.Account("ApiGatewayAccount", CloudWatchRoleArn=GetAtt(role, "Arn")),
                 "Sets the account's API Gateway logging role (one per account and Region), so service stacks need not")

    def alarm_topic(self) -> sns.Topic:
        topic = alarm_topic(self, "AccountAlarmTopic", f"msgen account alarms ({self.env})",
                            "Every account-level alarm notifies this topic (ALARM and OK)", f"msgen-account-{self.env}-")
        sub = sns.SubscriptionResource("AccountAlarmEmailSubscription", Condition="HasAlarmEmail", TopicArn=Ref(topic),
                                       Protocol="email", Endpoint=Ref(self.email))
        self.add(sub, "E-mail subscription to the account alarms (parameter AlarmEmail)")
        return topic

    def alarms(self) -> None:
        common = dict(ActionsEnabled=True, AlarmActions=[Ref(self.topic)], OKActions=[Ref(self.topic)],
                      ComparisonOperator="GreaterThanThreshold", EvaluationPeriods=10, DatapointsToAlarm=10)
        self.add(cloudwatch.Alarm(
            "ClaimedAccountConcurrencyAlarm",
            AlarmName=f"msgen-account-{self.env}-lambda-claimed-concurrency",
            AlarmDescription=(f"Lambda functions in this account and Region claimed more than {CONCURRENCY_PERCENT}% of the "
                              "concurrency quota (parameter AccountConcurrencyQuota) for 10 minutes: new invocations will soon be "
                              "throttled in every service. Look first at: ClaimedAccountConcurrency by function (reserved "
                              "concurrency counts in full), a traffic surge or slow downstream; then request a quota increase."),
            Metrics=[
                cloudwatch.MetricDataQuery(Id="claimed", ReturnData=False, MetricStat=cloudwatch.MetricStat(
                    Metric=cloudwatch.Metric(Namespace="AWS/Lambda", MetricName="ClaimedAccountConcurrency"), Period=60, Stat="Maximum")),
                cloudwatch.MetricDataQuery(Id="percent", ReturnData=True, Label="Claimed concurrency, % of the account quota",
                                           Expression=Sub("100 * claimed / ${AccountConcurrencyQuota}")),
            ],
            Threshold=CONCURRENCY_PERCENT, TreatMissingData="notBreaching", **common),
            "AWS recommended alarm: Lambda ClaimedAccountConcurrency (account level) at 90% of the quota")
        self.add(cloudwatch.Alarm(
            "DynamoDbUserErrorsAlarm",
            AlarmName=f"msgen-account-{self.env}-dynamodb-user-errors",
            AlarmDescription=("DynamoDB rejected requests as client errors (HTTP 400: validation, access denied, missing table) "
                              "in this account and Region every minute for 10 minutes, above parameter DynamoDbUserErrorsThreshold. "
                              "Look first at: CloudTrail's DynamoDB errorCode by caller; a recent deploy that changed a "
                              "request, a key or a grant."),
            Namespace="AWS/DynamoDB", MetricName="UserErrors", Statistic="Sum", Period=60, Threshold=Ref(self.user_errors),
            TreatMissingData="missing", **common),
            "AWS recommended alarm: DynamoDB UserErrors (account level; the metric has no table dimension)")

    # --- GitHub OIDC and the deploy role -------------------------------------------------------------------------
    def deploy_role(self) -> iam.Role:
        provider = self.add(
            iam.OIDCProvider("GitHubOidcProvider", Condition="CreateGitHubOidcProvider", Url=f"https://{GITHUB_OIDC_HOST}",
                             ClientIdList=["sts.amazonaws.com"]),
            "GitHub Actions' OIDC identity provider (one per account; reuse an existing one with ExistingGitHubOidcProviderArn)")
        trust = document({
            "Effect": "Allow",
            "Principal": {"Federated": If("CreateGitHubOidcProvider", Ref(provider), Ref(self.provider_arn))},
            "Action": ["sts:AssumeRoleWithWebIdentity"],
            "Condition": {"StringEquals": {
                f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com",
                f"{GITHUB_OIDC_HOST}:sub": f"repo:{self.repo}:environment:{self.env}",
            }},
        })
        role = self.add(
            iam.Role(
                "DeployRole",
                Description=_clip(f"msgen deploy from GitHub {self.repo} (GitHub environment {self.env}) only: change sets on the service "
                             "stacks, artifacts, the resources those stacks hold. Not covered: deleting stacks (msgen destroy), "
                             "this bootstrap stack and its roles, other Regions (us-east-1 only for CloudFront), pushing container images, "
                             "resource types msgen does not emit, IAM managed policies. "
                             "A change set may give the stacks' roles any inline policy: protect the GitHub environment with "
                             "required reviewers", 1000),
                AssumeRolePolicyDocument=trust, MaxSessionDuration=3600,
                Policies=[iam.Policy(PolicyName="deploy", PolicyDocument=document(*self.deploy_statements()))],
            ),
            f"Deploy role GitHub Actions assumes through OIDC, trusted only by repo:{self.repo}:environment:{self.env}")
        for i, (lid, what, statements) in enumerate(self.service_policies()):
            self.add(iam.ManagedPolicy(lid, Description=f"msgen deploy ({self.env}): what CloudFormation needs to {what}",
                                       Roles=[Ref(role)], PolicyDocument=document(*statements)),
                     f"Service actions of the deploy role ({what}), part {i + 1}: on any resource of this Region, as "
                     "CloudFormation creates the stacks' resources with the role's credentials and their names are not known "
                     "before")
        return role

    def named(self, service: str, rest: str, region: bool = True) -> Sub:
        """An ARN of a resource named after a service stack (ServiceStackNamePattern then anything)."""
        return self.arn(service, rest.replace("NAME", "${ServiceStackNamePattern}"), region=region)

    def deploy_statements(self) -> list[dict[str, Any]]:
        bucket = "ArtifactBucket"
        return [
            statement(["cloudformation:CreateChangeSet", "cloudformation:DeleteChangeSet", "cloudformation:DescribeChangeSet",
                       "cloudformation:DescribeStackEvents", "cloudformation:DescribeStackResource", "cloudformation:DescribeStackResources",
                       "cloudformation:DescribeStacks", "cloudformation:ExecuteChangeSet", "cloudformation:GetTemplate",
                       "cloudformation:GetTemplateSummary", "cloudformation:ListChangeSets", "cloudformation:ListStackResources",
                       "cloudformation:ContinueUpdateRollback"],
                      # msgen deploy names its change sets msgen-<time>; change-set actions may be authorized on either ARN
                      [self.named("cloudformation", "stack/NAME/*"), self.arn("cloudformation", "changeSet/msgen-*/*")],
                      sid="ServiceStackChangeSets"),
            statement(["cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents"],
                      [self.arn("cloudformation", f"stack/{stack_name(self.env)}/*")], sid="ReadBootstrapStack"),
            statement(["s3:GetObject", "s3:PutObject"], [Sub(f"${{{bucket}.Arn}}/*")], sid="Artifacts"),
            statement(["s3:GetBucketLocation", "s3:ListBucket"], [GetAtt(bucket, "Arn")], sid="ArtifactBucket"),
            statement(["kms:Decrypt", "kms:GenerateDataKey"], [GetAtt("ArtifactKey", "Arn")], sid="ArtifactKey"),
            statement(["ssm:GetParameter", "ssm:GetParameters"], [self.arn("ssm", f"parameter/msgen/{self.env}/*")], sid="MsgenParameters"),
            # the stacks publish what other stacks discover (/msgen/<env>/<service>/api-id, /msgen/<env>/fleet/...)
            statement(["ssm:AddTagsToResource", "ssm:DeleteParameter", "ssm:ListTagsForResource", "ssm:PutParameter",
                       "ssm:RemoveTagsFromResource"], [self.arn("ssm", f"parameter/msgen/{self.env}/*")], sid="PublishMsgenParameters"),
            statement(["iam:CreateRole", "iam:DeleteRole", "iam:DeleteRolePolicy", "iam:DetachRolePolicy",
                       "iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies", "iam:PutRolePolicy",
                       "iam:TagRole", "iam:UntagRole", "iam:UpdateAssumeRolePolicy", "iam:UpdateRole", "iam:UpdateRoleDescription"],
                      [self.named("iam", "role/NAME-*", region=False)], sid="ServiceStackRoles"),
            statement(["iam:PassRole"], [self.named("iam", "role/NAME-*", region=False)], sid="PassServiceStackRoles",
                      Condition={"StringEquals": {"iam:PassedToService": [
                          "apigateway.amazonaws.com", "codedeploy.amazonaws.com", "ecs-tasks.amazonaws.com", "events.amazonaws.com",
                          "lambda.amazonaws.com", "monitoring.rds.amazonaws.com", "rds.amazonaws.com", "states.amazonaws.com",
                          "vpc-flow-logs.amazonaws.com", "application-autoscaling.amazonaws.com", "ecs.amazonaws.com"]}}),
            # The default pattern (*-<env>) also matches this stack and its roles (msgen-bootstrap-<env>-...): never those.
            statement(["cloudformation:ContinueUpdateRollback", "cloudformation:CreateChangeSet", "cloudformation:DeleteChangeSet",
                       "cloudformation:ExecuteChangeSet"], [self.arn("cloudformation", f"stack/{stack_name(self.env)}/*")],
                      effect="Deny", sid="NeverTheBootstrapStack"),
            statement(["iam:CreateRole", "iam:DeleteRole", "iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:PassRole",
                       "iam:PutRolePolicy", "iam:TagRole", "iam:UntagRole", "iam:UpdateAssumeRolePolicy", "iam:UpdateRole",
                       "iam:UpdateRoleDescription"],
                      [self.arn("iam", f"role/{stack_name(self.env)}-*", region=False)], effect="Deny", sid="NeverTheBootstrapRoles"),
            statement(["ssm:AddTagsToResource", "ssm:DeleteParameter", "ssm:PutParameter", "ssm:RemoveTagsFromResource"],
                      [self.arn("ssm", f"parameter/msgen/{self.env}/bootstrap/*")], effect="Deny", sid="NeverTheBootstrapParameters"),
            statement(["iam:CreateServiceLinkedRole"], [self.arn("iam", "role/aws-service-role/*", region=False)], sid="ServiceLinkedRoles",
                      Condition={"StringEquals": {"iam:AWSServiceName": [
                          "ecs.amazonaws.com", "elasticloadbalancing.amazonaws.com", "rds.amazonaws.com",
                          "ecs.application-autoscaling.amazonaws.com", "observability.aoss.amazonaws.com"]}}),
        ]

    def service_policies(self) -> list[tuple[str, str, list[dict[str, Any]]]]:
        """The service actions, grouped in managed policies below IAM's 6,144-character limit each."""
        t = lambda service, actions: [f"{service}:{a}" for a in actions.split()]  # noqa: E731
        compute = [
            t("lambda", "AddPermission CreateAlias CreateEventSourceMapping CreateFunction DeleteAlias DeleteEventSourceMapping "
                        "DeleteFunction DeleteFunctionConcurrency GetAlias GetEventSourceMapping GetFunction GetFunctionConfiguration "
                        "GetFunctionCodeSigningConfig GetFunctionConcurrency GetFunctionRecursionConfig GetPolicy GetProvisionedConcurrencyConfig "
                        "GetRuntimeManagementConfig ListAliases ListEventSourceMappings ListTags ListVersionsByFunction PublishVersion "
                        "PutFunctionConcurrency RemovePermission TagResource UntagResource UpdateAlias UpdateEventSourceMapping "
                        "UpdateFunctionCode UpdateFunctionConfiguration"),
            t("states", "CreateStateMachine DeleteStateMachine DescribeStateMachine ListTagsForResource TagResource UntagResource "
                        "UpdateStateMachine"),
            t("events", "CreateArchive CreateEventBus DeleteArchive DeleteEventBus DeleteRule DescribeArchive DescribeEventBus DescribeRule "
                        "DisableRule EnableRule ListTagsForResource ListTargetsByRule PutPermission PutRule PutTargets RemovePermission "
                        "RemoveTargets TagResource UntagResource UpdateArchive UpdateEventBus"),
            t("ecs", "CreateCluster CreateService DeleteCluster DeleteService DeregisterTaskDefinition DescribeClusters DescribeServices "
                     "DescribeServiceDeployments DescribeServiceRevisions DescribeTaskDefinition ListServiceDeployments ListTagsForResource "
                     "PutClusterCapacityProviders RegisterTaskDefinition TagResource "
                     "UntagResource UpdateCluster UpdateClusterSettings UpdateService"),
            t("application-autoscaling", "DeleteScalingPolicy DeregisterScalableTarget DescribeScalableTargets DescribeScalingPolicies "
                                         "ListTagsForResource PutScalingPolicy RegisterScalableTarget TagResource UntagResource"),
            # CloudFormation starts, follows and stops the CodeDeploy deployment of an alias update (UpdatePolicy) itself
            t("codedeploy", "CreateApplication CreateDeployment CreateDeploymentGroup DeleteApplication DeleteDeploymentGroup "
                            "GetApplication GetApplicationRevision GetDeployment GetDeploymentConfig GetDeploymentGroup ListTagsForResource "
                            "RegisterApplicationRevision StopDeployment TagResource UntagResource UpdateDeploymentGroup"),
            t("elasticloadbalancing", "AddTags CreateListener CreateLoadBalancer CreateTargetGroup DeleteListener DeleteLoadBalancer "
                                      "DeleteTargetGroup DescribeListeners DescribeLoadBalancerAttributes DescribeLoadBalancers "
                                      "DescribeTags DescribeTargetGroupAttributes DescribeTargetGroups ModifyListener "
                                      "ModifyLoadBalancerAttributes ModifyTargetGroup ModifyTargetGroupAttributes RemoveTags "
                                      "SetSecurityGroups SetSubnets"),
        ]
        network = [
            t("ec2", "AssociateRouteTable AuthorizeSecurityGroupEgress AuthorizeSecurityGroupIngress CreateFlowLogs CreateRouteTable "
                     "CreateSecurityGroup CreateSubnet CreateTags CreateVpc CreateVpcEndpoint DeleteFlowLogs DeleteRouteTable "
                     "DeleteSecurityGroup DeleteSubnet DeleteTags DeleteVpc DeleteVpcEndpoints DescribeAvailabilityZones "
                     "DescribeFlowLogs DescribeNetworkInterfaces DescribePrefixLists DescribeRouteTables DescribeSecurityGroupRules "
                     "DescribeSecurityGroups DescribeSubnets DescribeTags DescribeVpcAttribute DescribeVpcEndpoints DescribeVpcs "
                     "DisassociateRouteTable ModifySubnetAttribute ModifyVpcAttribute ModifyVpcEndpoint RevokeSecurityGroupEgress "
                     "RevokeSecurityGroupIngress"),
            t("apigateway", "DELETE GET PATCH POST PUT"),
            t("cloudfront", "CreateDistribution CreateOriginAccessControl CreateResponseHeadersPolicy DeleteDistribution "
                            "DeleteOriginAccessControl DeleteResponseHeadersPolicy GetDistribution GetDistributionConfig "
                            "GetOriginAccessControl GetResponseHeadersPolicy ListTagsForResource TagResource UntagResource "
                            "UpdateDistribution UpdateOriginAccessControl UpdateResponseHeadersPolicy"),
            t("wafv2", "AssociateWebACL DisassociateWebACL GetWebACL GetWebACLForResource"),
            t("ses", "CreateEmailIdentity DeleteEmailIdentity GetEmailIdentity TagResource UntagResource"),
            # the *LogDelivery and resource-policy actions: Step Functions checks them on whoever creates a logging state machine
            t("logs", "AssociateKmsKey CreateLogDelivery CreateLogGroup DeleteLogDelivery DeleteLogGroup DeleteMetricFilter "
                      "DeleteQueryDefinition DeleteRetentionPolicy DescribeLogGroups DescribeMetricFilters DescribeQueryDefinitions "
                      "DescribeResourcePolicies DisassociateKmsKey GetLogDelivery ListLogDeliveries ListTagsForResource PutMetricFilter "
                      "PutQueryDefinition PutResourcePolicy PutRetentionPolicy TagResource UntagResource UpdateLogDelivery"),
            # vended logs (the fleet bus's error log): delivery source, destination and the delivery between them
            t("logs", "CreateDelivery DeleteDelivery DeleteDeliveryDestination DeleteDeliverySource "
                      "DescribeDeliveries GetDelivery GetDeliveryDestination GetDeliverySource PutDeliveryDestination PutDeliverySource "
                      "UpdateDeliveryConfiguration"),
            t("cloudwatch", "DeleteAlarms DeleteAnomalyDetector DeleteDashboards DescribeAlarms DescribeAnomalyDetectors GetDashboard "
                            "ListTagsForResource PutAnomalyDetector PutCompositeAlarm PutDashboard PutMetricAlarm TagResource "
                            "UntagResource"),
        ]
        data = [
            t("dynamodb", "CreateTable DeleteTable DescribeContinuousBackups DescribeContributorInsights DescribeKinesisStreamingDestination "
                          "DescribeTable DescribeTimeToLive ListTagsOfResource TagResource UntagResource UpdateContinuousBackups "
                          "UpdateContributorInsights UpdateTable UpdateTimeToLive"),
            t("s3", "CreateBucket DeleteBucket DeleteBucketPolicy GetBucketCORS GetBucketLocation GetBucketLogging GetBucketNotification "
                    "GetBucketOwnershipControls GetBucketPolicy GetBucketPublicAccessBlock GetBucketTagging GetBucketVersioning "
                    "GetEncryptionConfiguration GetLifecycleConfiguration PutBucketCORS PutBucketLogging PutBucketNotification "
                    "PutBucketOwnershipControls PutBucketPolicy PutBucketPublicAccessBlock PutBucketTagging PutBucketVersioning "
                    "PutEncryptionConfiguration PutLifecycleConfiguration"),
            t("sqs", "CreateQueue DeleteQueue GetQueueAttributes GetQueueUrl ListQueueTags SetQueueAttributes TagQueue UntagQueue"),
            t("sns", "CreateTopic DeleteTopic GetSubscriptionAttributes GetTopicAttributes ListSubscriptionsByTopic ListTagsForResource "
                     "SetSubscriptionAttributes SetTopicAttributes Subscribe TagResource Unsubscribe UntagResource"),
            t("rds", "AddTagsToResource CreateDBCluster CreateDBClusterSnapshot CreateDBInstance CreateDBSubnetGroup DeleteDBCluster "
                     "DeleteDBInstance DeleteDBSubnetGroup DescribeDBClusterSnapshots DescribeDBClusters DescribeDBEngineVersions "
                     "DescribeDBInstances DescribeDBSubnetGroups ListTagsForResource ModifyDBCluster ModifyDBInstance "
                     "ModifyDBSubnetGroup RemoveTagsFromResource"),
            t("secretsmanager", "CreateSecret DeleteSecret DescribeSecret GetRandomPassword TagResource UntagResource UpdateSecret"),
            t("aoss", "BatchGetCollection CreateAccessPolicy CreateCollection CreateSecurityPolicy DeleteAccessPolicy DeleteCollection "
                      "DeleteSecurityPolicy GetAccessPolicy GetSecurityPolicy ListCollections ListTagsForResource TagResource "
                      "UntagResource UpdateAccessPolicy UpdateCollection UpdateSecurityPolicy"),
            t("kms", "CreateAlias CreateGrant CreateKey Decrypt DeleteAlias DescribeKey EnableKeyRotation Encrypt GenerateDataKey "
                     "GenerateDataKeyWithoutPlaintext ReEncryptFrom ReEncryptTo GetKeyPolicy GetKeyRotationStatus ListAliases ListResourceTags PutKeyPolicy ScheduleKeyDeletion TagResource "
                     "UntagResource UpdateAlias UpdateKeyDescription"),
        ]
        region = Sub("${AWS::Region}")
        only_here = {"StringEquals": {"aws:RequestedRegion": region}}
        return [
            ("DeployComputePolicy", "run code: functions, workflows, rules, containers, load balancers, releases",
             [statement(sum(compute, []), "*", sid="Compute", Condition=only_here)]),
            ("DeployNetworkPolicy", "expose and watch: network, API, CDN, logs, alarms",
             # CloudFront and its web ACLs are global services, called in us-east-1 whatever the stack's Region
             [statement(sum(network, []), "*", sid="EdgeAndObservability",
                        Condition={"StringEquals": {"aws:RequestedRegion": [region, "us-east-1"]}})]),
            ("DeployDataPolicy", "hold data: tables, buckets, queues, topics, databases, secrets, collections, keys",
             [statement(sum(data, []), "*", sid="Data", Condition=only_here)]),
        ]

    def outputs(self) -> None:
        t = self.t
        t.add_output(Output("ArtifactBucketName", Description="Bucket msgen deploy uploads artifacts and templates to",
                            Value=Ref(self.bucket)))
        t.add_output(Output("ArtifactBucketParameterName", Description="SSM parameter holding the artifact bucket's name",
                            Value=artifact_bucket_parameter(self.env)))
        t.add_output(Output("ArtifactKeyArn", Description="KMS key encrypting the artifacts", Value=GetAtt(self.key, "Arn")))
        t.add_output(Output("AlarmTopicArn", Description="Topic the account-level alarms notify", Value=Ref(self.topic)))
        if self.role is not None:
            t.add_output(Output("DeployRoleArn", Description=f"role-to-assume for aws-actions/configure-aws-credentials in "
                                                             f"{self.repo}'s GitHub environment {self.env}",
                                Value=GetAtt(self.role, "Arn")))
