"""Correlation-ID contract: the header in and out of the API, and a saved query that follows one id."""

from __future__ import annotations

from troposphere import Ref, Sub, apigateway, logs

from generator.synth.context import Context
from generator.synth.registry import layer

QUERY = """fields @timestamp, @log, service, level, correlation_id, apigw_request_id, status, message
| filter correlation_id = '{{correlation_id}}' or apigw_request_id = '{{correlation_id}}'
| sort @timestamp asc
| limit 1000"""


@layer(needs={"rest_api", "log_groups"}, source="observability")
def build(ctx: Context) -> None:
    if ctx.reg.rest_api is not None:
        _gateway_responses(ctx)
    groups = ctx.reg.log_groups.all
    if groups:
        ctx.add(
            logs.QueryDefinition(
                "FollowCorrelationIdQuery",
                Name=Sub(f"msgen/{ctx.service}/${{Environment}}/follow-correlation-id"),
                QueryLanguage="CWLI",
                QueryString=QUERY,
                LogGroupNames=[Ref(g) for g in groups],
                Parameters=[logs.QueryParameter(Name="correlation_id", Description="The correlation id to follow")],
            ),
            "Logs Insights: every line of one request across this service's log groups",
        )


def _gateway_responses(ctx: Context) -> None:
    """Errors API Gateway answers itself (auth, throttling, bad requests) still echo the caller's correlation id."""
    header = ctx.spec.observability.correlation_header
    for kind, lid in (("DEFAULT_4XX", "ApiGatewayResponseDefault4xx"), ("DEFAULT_5XX", "ApiGatewayResponseDefault5xx")):
        ctx.add(
            apigateway.GatewayResponse(
                lid,
                RestApiId=Ref(ctx.reg.rest_api),
                ResponseType=kind,
                ResponseParameters={f"gatewayresponse.header.{header}": f"method.request.header.{header}"},
            ),
            f"{kind} responses echo {header} back to the caller",
        )
