"""State shared by the layers while one template is built: naming, tags, and the registry of what they made."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from troposphere import AWSObject, GetAtt, Parameter, Ref, Sub, Tags, Template

from generator.plan import ServicePlan, build_plan
from generator.sources import SERVICE
from generator.spec.models import ServiceSpec
from generator.synth.registry import Registry

# Checkov skips the generated resources may carry, keyed by check id (with ":variant" where one check
# has two reasons). Each is used only where the spec has not given what the check needs, and each must be
# true of the template it sits in (tests/test_templates.py checks every claim); the README lists them.
SKIP_REASONS = {
    "CKV_AWS_18": "this bucket receives the access logs; logging it into itself would loop",
    "CKV_AWS_68": "no WAF web ACL in the spec; set content_delivery.web_acl_arn to attach one",
    "CKV_AWS_174": "no custom domain in the spec; CloudFront's default certificate cannot pin TLS 1.2 (set content_delivery.domain)",
    "CKV_AWS_59": "route declared public in the spec (auth: none)",
    "CKV_AWS_59:default": "public through the spec's default for every route (api.auth: none); give the route its own auth to protect it",
    "CKV_AWS_120": "stage cache is off by default (responses are per request); set api.cache_enabled to turn it on",
    "CKV_AWS_115": "no reserved concurrency in the spec; set application.reserved_concurrency to cap it",
    "CKV_AWS_116": "invoked synchronously by API Gateway; a dead-letter queue only applies to asynchronous invocations",
    "CKV_AWS_116:hook": "a CodeDeploy lifecycle hook: a failed invocation fails the deployment, which rolls back; there is no event to keep",
    "CKV_AWS_116:queue": "invoked by an SQS event source mapping; failed messages go to the queue's own dead-letter queue",
    "CKV_AWS_2": "internal load balancer reached only through API Gateway's VPC link, where TLS ends; set container.certificate_arn for HTTPS",
    "CKV_AWS_103": "plain HTTP inside the VPC behind API Gateway's VPC link, where TLS ends; set container.certificate_arn for HTTPS (TLS 1.2+)",
    "CKV_AWS_91": "internal load balancer reached only through API Gateway, whose access log records every request",
    "CKV_AWS_150": "deletion protection is off: this environment is deletable (lifecycle.protected: false in the spec)",
    "CKV_AWS_139": "deletion protection is off: this environment is deletable (lifecycle.protected: false in the spec)",
    "CKV_AWS_117": "no VPC in the spec (the function only calls AWS APIs); set application.subnet_ids to attach one",
    "CKV_AWS_117:outside": "the function only calls AWS APIs and does not use the database, so it runs outside the service's VPC; "
                           "only functions that use the database run in it",
}


class _Template(Template):
    """troposphere refuses the 501st resource and the 201st output; msgen counts them all and then names the quota with the real count."""

    def add_resource(self, resource):
        return self._update(self.resources, resource)

    def add_output(self, output):
        return self._update(self.outputs, output)


@dataclass
class Context:
    """The template under construction, with the helpers every layer needs and the registry the layers fill."""

    spec: ServiceSpec
    template: Template = field(default_factory=_Template)
    reg: Registry = field(default_factory=Registry)

    def __post_init__(self) -> None:
        self.source = SERVICE
        self.plan: ServicePlan = build_plan(self.spec)
        self.env = self.template.add_parameter(
            Parameter(
                "Environment",
                Type="String",
                AllowedValues=self.spec.environment_names,
                Default=self.spec.environment_names[0],
                Description="Deployment environment; part of every physical name and tag",
            )
        )

    # --- names -------------------------------------------------------------------------
    @property
    def service(self) -> str:
        return self.spec.service

    def physical(self, suffix: str = "") -> Sub:
        """``payment-svc-${Environment}[-suffix]``: physical names that must be unique per account."""
        return Sub(f"{self.service}-${{Environment}}" + (f"-{suffix}" if suffix else ""))

    def log_group_name(self, component: str) -> Sub:
        """The log-group naming convention: ``/msgen/<service>/<environment>/<component>``."""
        return Sub(f"/msgen/{self.service}/${{Environment}}/{component}")

    def metric_namespace(self) -> Sub:
        """CloudWatch namespace of the service's own metrics: ``msgen/<service>/<environment>``."""
        return Sub(f"msgen/{self.service}/${{Environment}}")

    def alarm_name(self, component: str, signal: str) -> Sub:
        """The alarm naming convention: ``msgen-<service>-<environment>-<component>-<signal>``."""
        return Sub(f"msgen-{self.service}-${{Environment}}-{component}-{signal}")

    # --- resources ---------------------------------------------------------------------
    @contextmanager
    def sourced(self, source: str) -> Iterator[None]:
        """Resources added inside come from spec element ``source`` (generator.sources), unless ``add`` names another."""
        outer, self.source = self.source, source
        try:
            yield
        finally:
            self.source = outer

    def add(self, resource: AWSObject, description: str, skips: tuple[str, ...] = (), retain: bool = False,
            source: str | None = None) -> AWSObject:
        """Add a resource with a human description, the spec element it comes from, tags and, where declared, checkov skips."""
        metadata: dict[str, Any] = {"msgen": {"description": description, "source": source or self.source}}
        if skips:
            metadata["checkov"] = {"skip": [{"id": key.partition(":")[0], "comment": SKIP_REASONS[key]} for key in skips]}
        resource.Metadata = metadata
        if retain:  # it holds data: kept, unless this environment is deletable (lifecycle.retain_data: false)
            policy = "Retain" if self.spec.lifecycle.retain_data else "Delete"
            resource.DeletionPolicy = policy
            resource.UpdateReplacePolicy = policy
        if "Tags" in resource.props and "Tags" not in resource.properties:
            tags = self.tags()
            # A few resource types (API Gateway v2, SSM) take tags as a plain mapping instead of a list.
            resource.Tags = {t["Key"]: t["Value"] for t in tags.to_dict()} if resource.props["Tags"][0] is dict else tags
        return self.template.add_resource(resource)

    def tags(self, **extra: str) -> Tags:
        base: dict[str, Any] = {
            "service": self.service,
            "team": tag_value(self.spec.team),
            "environment": Ref(self.env),
            "managed-by": "msgen",
        }
        base.update(self.spec.tags)
        base.update(extra)
        return Tags(**base) if all(k.isidentifier() for k in base) else Tags(base)

    def key_arn(self) -> GetAtt:
        return GetAtt(self.reg.key, "Arn")


def source_of(resource: AWSObject) -> str:
    """The spec element a resource added with Context.add came from (its Metadata.msgen.source)."""
    return resource.Metadata["msgen"]["source"]


def sub_literal(text: str) -> str:
    """Free text placed inside Fn::Sub: a literal "${" must be written "${!"."""
    return text.replace("${", "${!")


def tag_value(text: str) -> str:
    """Free text (a team name) made safe for an AWS tag value."""
    return re.sub(r"[^\w.:/=+@ -]", "-", text)[:256]
