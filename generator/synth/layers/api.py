"""API: a regional REST API with one resource per path segment and one method per route."""

from __future__ import annotations

import hashlib
import json

from troposphere import GetAtt, Ref, Sub, apigateway, awslambda, iam, logs

from generator import naming, sources
from generator.spec.models import Route
from generator.synth.context import Context
from generator.synth.lazy import troposphere_module
from generator.synth.policy import api_gateway_push_logs, assume_role
from generator.synth.registry import layer

wafv2 = troposphere_module("wafv2")

STAGE = "api"  # the stage name is also the path prefix CloudFront forwards (/api/*)



def access_log_format(service: str) -> str:
    """One JSON line per request, in the field names of the log standard (docs/standards.md).

    API Gateway's access log cannot read request headers, so ``correlation_id`` is the gateway's
    request id: the correlation id itself when the caller sent none, or when the caller forwarded
    its id as X-Amzn-RequestId too (as msgen services do); the function's lines carry both ids.
    """
    fields = {
        "timestamp": "$context.requestTime",
        "service": service,
        "correlation_id": "$context.requestId",
        "request_id": "$context.requestId",
        "extended_request_id": "$context.extendedRequestId",
        "xray_trace_id": "$context.xrayTraceId",
        "ip": "$context.identity.sourceIp",
        "method": "$context.httpMethod",
        "path": "$context.path",
        "resource_path": "$context.resourcePath",
        "status": "$context.status",
        "latency_ms": "$context.responseLatency",
        "integration_status": "$context.integration.status",
        "integration_latency_ms": "$context.integration.latency",
        "integration_request_id": "$context.integration.requestId",
        "error": "$context.error.message",
    }
    return json.dumps(fields, separators=(",", ":"))


AUTH_TYPES = {"iam": "AWS_IAM", "cognito": "COGNITO_USER_POOLS", "none": "NONE"}


@layer(provides={"rest_api", "api_stage", "log_groups"}, needs={"key", "functions", "releases", "containers"}, source="api")
def build(ctx: Context) -> None:
    spec = ctx.spec
    api = ctx.add(
        apigateway.RestApi(
            "RestApi",
            Name=ctx.physical(),
            Description=f"{spec.service}: {spec.description}"[:1024] if spec.description else spec.service,
            EndpointConfiguration=apigateway.EndpointConfiguration(Types=["REGIONAL"]),
        ),
        "REST API of the service",
    )
    ctx.reg.rest_api = api
    functions = ctx.reg.functions
    aliases = {name: release.alias for name, release in ctx.reg.releases.items()}  # routes invoke the alias, never the function
    route_functions = {(r.method, r.path): fn for fn in ctx.plan.api_functions for r in fn.routes}
    validator = ctx.add(
        apigateway.RequestValidator("ApiRequestValidator", RestApiId=Ref(api), ValidateRequestParameters=True, ValidateRequestBody=False),
        "Rejects requests missing declared path parameters before they reach a function",
    )
    authorizer = None
    if any((r.auth or spec.api.auth) == "cognito" for r in spec.api.routes):
        authorizer = ctx.add(
            apigateway.Authorizer(
                "ApiCognitoAuthorizer", RestApiId=Ref(api), Name="cognito", Type="COGNITO_USER_POOLS",
                IdentitySource="method.request.header.Authorization", ProviderARNs=[spec.api.cognito_user_pool_arn],
            ),
            "Validates Cognito user pool tokens",
        )
    resources = _resources(ctx, api)
    def function_of(route: Route):
        fn = route_functions.get((route.method, route.path))
        return aliases[fn.name] if fn else None  # None: a container route (hybrid pattern)

    methods = [_method(ctx, api, resources, route, function_of(route), validator, authorizer) for route in spec.api.routes]

    # A deployment is an immutable snapshot: its logical ID carries a hash of the routes so that
    # changing them creates a new snapshot the stage moves to. It holds no data.
    digest = hashlib.sha256(json.dumps([[r.method, r.path, r.auth or spec.api.auth] for r in spec.api.routes]).encode()).hexdigest()[:8]
    deployment = apigateway.Deployment(f"ApiDeployment{digest.upper()}", RestApiId=Ref(api), Description=f"routes {digest}")
    deployment.DependsOn = [m.title for m in methods]
    ctx.add(deployment, "Snapshot of the routes, replaced whenever they change")

    access_logs = ctx.add(
        logs.LogGroup(
            "ApiAccessLogGroup",
            LogGroupName=ctx.log_group_name("api-access"),
            RetentionInDays=spec.observability.log_retention_days,
            KmsKeyId=ctx.key_arn(),
        ),
        "API Gateway access logs, one JSON line per request",
        retain=True,
    )
    ctx.reg.log_groups.add(access_logs)
    stage_depends = []
    if spec.api.account_logging_role:
        stage_depends.append(_account_logging_role(ctx).title)
    setting = apigateway.MethodSetting(
        ResourcePath="/*", HttpMethod="*", LoggingLevel="ERROR", MetricsEnabled=True, DataTraceEnabled=False,
        ThrottlingRateLimit=spec.api.throttling.rate_limit, ThrottlingBurstLimit=spec.api.throttling.burst_limit,
    )
    stage_props: dict[str, object] = dict(
        RestApiId=Ref(api), StageName=STAGE, DeploymentId=Ref(deployment), TracingEnabled=True,
        AccessLogSetting=apigateway.AccessLogSetting(DestinationArn=GetAtt(access_logs, "Arn"), Format=access_log_format(spec.service)),
        MethodSettings=[setting],
    )
    skips: tuple[str, ...] = ()
    if spec.api.cache_enabled:
        stage_props.update(CacheClusterEnabled=True, CacheClusterSize="0.5")
        setting.CachingEnabled = True
        setting.CacheDataEncrypted = True
    else:
        skips = ("CKV_AWS_120",)
    stage = apigateway.Stage("ApiStage", **stage_props)
    if stage_depends:
        stage.DependsOn = stage_depends
    ctx.add(stage, f"Stage '{STAGE}': tracing, access logs and throttling", skips=skips)
    ctx.reg.api_stage = stage
    if spec.api.web_acl_arn:
        ctx.add(
            wafv2.WebACLAssociation("ApiWebAclAssociation", ResourceArn=Sub(
                f"arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}::/restapis/${{{api.title}}}/stages/{STAGE}"), WebACLArn=spec.api.web_acl_arn,
                DependsOn=[stage.title]),
            "Puts the stage behind the WAF web ACL from the spec",
        )
    for fn in ctx.plan.api_functions:
        function, alias = functions[fn.name], aliases[fn.name]
        ctx.add(
            awslambda.Permission(
                f"{function.title}ApiPermission", Action="lambda:InvokeFunction", FunctionName=Ref(alias),
                Principal="apigateway.amazonaws.com", SourceAccount=Sub("${AWS::AccountId}"),
                SourceArn=Sub(f"arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{{api.title}}}/{_execute_scope(spec, fn)}"),
            ),
            f"Lets stage '{STAGE}' of this API invoke function '{fn.name}', for its own routes only",
            source=fn.element,
        )


def _execute_scope(spec, fn) -> str:
    """``api/*`` for the serverless pattern; ``api/GET/payments/*`` (path parameters as ``*``) for one micro route."""
    if spec.pattern != "micro":
        return f"{STAGE}/*"
    (route,) = fn.routes
    method = "*" if route.method == "ANY" else route.method
    path = "/".join("*" if s.startswith("{") else s for s in naming.path_segments(route.path))
    return f"{STAGE}/{method}/{path}"


def _resources(ctx: Context, api: apigateway.RestApi) -> dict[str, object]:
    """One AWS::ApiGateway::Resource per distinct path prefix, keyed by path."""
    ids: dict[str, object] = {"/": GetAtt(api, "RootResourceId")}
    for route in ctx.spec.api.routes:
        segments = naming.path_segments(route.path)
        for depth in range(1, len(segments) + 1):
            path = "/" + "/".join(segments[:depth])
            if path in ids:
                continue
            parent = "/" + "/".join(segments[: depth - 1])
            res = ctx.add(
                apigateway.Resource(naming.resource_id_for_path(path), RestApiId=Ref(api), ParentId=ids[parent], PathPart=segments[depth - 1]),
                f"Path {path}",
            )
            ids[path] = Ref(res)
    return ids


def _method(ctx: Context, api, resources, route: Route, function, validator, authorizer) -> apigateway.Method:
    auth = route.auth or ctx.spec.api.auth
    params = {f"method.request.path.{s.strip('{}+')}": True for s in naming.path_segments(route.path) if s.startswith("{")}
    # Declared (optional) so the contract is visible in the API and gateway responses can echo it.
    params[f"method.request.header.{ctx.spec.observability.correlation_header}"] = False
    props: dict[str, object] = dict(
        RestApiId=Ref(api),
        ResourceId=resources[route.path],
        HttpMethod=route.method,
        AuthorizationType=AUTH_TYPES[auth],
        Integration=_lambda_integration(function) if function is not None else _container_integration(ctx, route),
    )
    props["RequestParameters"] = dict(sorted(params.items()))
    props["RequestValidatorId"] = Ref(validator)
    if auth == "cognito":
        props["AuthorizerId"] = Ref(authorizer)
    return ctx.add(
        apigateway.Method(naming.method_id(route.method, route.path), **props),
        f"{route.method} {route.path} -> {route.handler if function is not None else 'container service'} (auth: {auth})",
        skips=() if auth != "none" else ("CKV_AWS_59",) if route.auth else ("CKV_AWS_59:default",),
        source=sources.route(route.method, route.path),
    )


def _lambda_integration(alias) -> apigateway.Integration:
    """Invokes the function's alias (``${Alias}`` is its qualified ARN), so CodeDeploy's traffic shifting applies to API calls."""
    return apigateway.Integration(
        Type="AWS_PROXY", IntegrationHttpMethod="POST",
        Uri=Sub(f"arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{{alias.title}}}/invocations"),
    )


def _container_integration(ctx: Context, route: Route) -> apigateway.Integration:
    """HTTP proxy through the VPC link (v2) to the private load balancer, path parameters passed on."""
    params = [s.strip("{}+") for s in naming.path_segments(route.path) if s.startswith("{")]
    path = "/".join("{" + s.strip("{}+") + "}" if s.startswith("{") else s for s in naming.path_segments(route.path))
    containers = ctx.reg.containers
    props: dict[str, object] = dict(
        Type="HTTP_PROXY", IntegrationHttpMethod=route.method, ConnectionType="VPC_LINK",
        ConnectionId=Ref(containers.vpc_link), IntegrationTarget=Ref(containers.load_balancer), TimeoutInMillis=29000,
        Uri=Sub(f"{containers.listener_scheme}://${{{containers.load_balancer.title}.DNSName}}/{path}"),
    )
    if params:
        props["RequestParameters"] = {f"integration.request.path.{p}": f"method.request.path.{p}" for p in params}
    return apigateway.Integration(**props)


def _account_logging_role(ctx: Context) -> apigateway.Account:
    """API Gateway needs one CloudWatch role per account and Region before a stage may log."""
    role = ctx.add(
        iam.Role(
            "ApiGatewayCloudWatchRole",
            Description="Lets API Gateway write access and execution logs in this account and Region",
            AssumeRolePolicyDocument=assume_role("apigateway.amazonaws.com"),
            Policies=[iam.Policy(PolicyName="push-logs", PolicyDocument=api_gateway_push_logs())],
        ),
        "Role API Gateway uses to write logs (account-wide setting; see api.account_logging_role)",
    )
    return ctx.add(
        apigateway.Account("ApiGatewayAccount", CloudWatchRoleArn=GetAtt(role, "Arn")),
        "Sets the account's API Gateway logging role (one per account and Region)",
    )
