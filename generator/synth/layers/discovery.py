"""Discovery: the service publishes where its API is, for the other services of its fleet (generator.discovery).

The pipeline runs this step after the log pass (``logs.build`` amends the stage it reads), so the parameters follow the
API's log resources in the template.
"""

from __future__ import annotations

from troposphere import Ref, Sub, ssm

from generator import discovery
from generator.synth.context import Context
from generator.synth.layers.api import STAGE
from generator.synth.registry import layer


@layer(needs={"rest_api", "api_stage"}, source="api")
def build(ctx: Context) -> None:
    api, stage = ctx.reg.rest_api, ctx.reg.api_stage
    values = {
        "api-id": (Ref(api), "ApiIdParameter", "REST API id: callers' execute-api:Invoke resources name it"),
        "api-url": (Sub(f"https://${{{api.title}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{STAGE}"), "ApiUrlParameter",
                    f"Invoke URL of stage '{STAGE}' (no trailing /): callers' base URL"),
    }
    for name in discovery.SERVICE_PARAMETERS:
        value, lid, what = values[name]
        parameter = ssm.Parameter(lid, Name=Sub(discovery.service_parameter(ctx.service, name)), Type="String", Value=value,
                                  Description=f"{ctx.service}: {what}", DependsOn=[stage.title])
        ctx.add(parameter, f"Publishes the API's {name} in SSM for the services that call it (no CloudFormation export)")
