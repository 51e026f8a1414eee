"""How a spec becomes a template: the steps in the order their declarations give, and its deterministic serialisation.

Every step declares which registry fields it provides and needs (generator.synth.registry.layer); ``STEPS`` is
:func:`~generator.synth.registry.order` of the listed steps, computed when this module is imported, so a
declaration that admits no order fails at once. The list's own order breaks ties, and is the order of the
resources in the template: layers first (each adds its part of the spec), then the passes that run over what
the layers registered (logs, correlation, alarms, dashboard, then the resource policies, which need every
statement, and the outputs).
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from troposphere import GetAtt, Output, Ref, Sub

from generator import __version__
from generator.errors import QuotaError, SynthError
from generator.spec.models import ServiceSpec
from generator.synth.context import Context
from generator.synth.layers import (
    api,
    application,
    containers,
    content_delivery,
    database,
    discovery,
    messaging,
    network,
    persistence,
    releases,
    search,
    security,
    workflows,
)
from generator.synth.observability import alarms, correlation, dashboard, logs
from generator.synth.registry import Step, layer, order

MAX_RESOURCES = 500
MAX_TEMPLATE_BYTES_S3 = 1_000_000


def build_template(spec: ServiceSpec, check: bool = True) -> dict[str, Any]:
    """The template as plain data (intrinsics already rendered to dicts); ``check=False`` skips the per-template quotas
    (generator.synth.nesting splits such a template into a parent and nested stacks)."""
    ctx = Context(spec)
    desc = f"msgen {__version__}: {spec.service} ({spec.pattern}) owned by {spec.team}"
    if spec.description:
        desc += f". {spec.description}"
    ctx.template.set_description(_clip_bytes(desc, 1024))
    try:
        for step in STEPS:
            step(ctx)
    except ValueError as exc:  # troposphere refuses values it cannot represent
        raise SynthError(f"{spec.service}: cannot build the template: {exc}") from None
    ctx.template.set_version("2010-09-09")
    data = template_data(ctx.template)
    if check:
        try:
            _check_quotas(spec, data)
        except QuotaError as exc:
            exc.data = data
            raise
    return data


# CloudFormation quotas per template (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html)
QUOTAS = {"Resources": MAX_RESOURCES, "Outputs": 200, "Parameters": 200}


def _check_quotas(spec: ServiceSpec, data: dict[str, Any]) -> None:
    for section, limit in QUOTAS.items():
        count = len(data.get(section, {}))
        if count > limit:
            functions = sum(1 for r in data["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
            raise QuotaError(
                f"{spec.service}: the template has {count} {section.lower()}; CloudFormation allows {limit} per stack "
                f"(quota '{section} per template'). {len(spec.api.routes)} routes on {functions} function(s) need that many; "
                "msgen synth -o DIR splits such a service into a parent and nested stacks (docs/nested-stacks.md)"
            )


@layer(needs={"key", "rest_api", "distribution", "site_bucket", "functions", "tables", "buckets"}, name="pipeline.outputs")
def outputs(ctx: Context) -> None:
    t, reg = ctx.template, ctx.reg
    t.add_output(Output("ApiUrl", Description="Invoke URL of the API stage",
                        Value=Sub(f"https://${{{reg.rest_api.title}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{api.STAGE}")))
    if reg.distribution is not None:
        t.add_output(Output("DistributionUrl", Description="Public HTTPS URL of the service",
                            Value=Sub(f"https://${{{reg.distribution.title}.DomainName}}")))
        t.add_output(Output("DistributionId", Description="CloudFront distribution id (for invalidations)", Value=Ref(reg.distribution)))
    if reg.site_bucket is not None:
        t.add_output(Output("SiteBucketName", Description="Upload the static site here", Value=Ref(reg.site_bucket)))
    for name, fn in reg.functions.items():
        t.add_output(Output(f"{fn.title}Name", Description=f"Name of function '{name}'", Value=Ref(fn)))
    for name, table in reg.tables.items():
        t.add_output(Output(f"{table.title}Name", Description=f"Name of table '{name}'", Value=Ref(table)))
    for name, bucket in reg.buckets.items():
        t.add_output(Output(f"{bucket.title}Name", Description=f"Name of bucket '{name}'", Value=Ref(bucket)))
    t.add_output(Output("ServiceKeyArn", Description="KMS key that encrypts the service's data", Value=GetAtt(reg.key, "Arn")))


LAYERS: tuple[Step, ...] = (
    security.build, persistence.build, messaging.build, network.build, database.build, application.build, releases.build, workflows.build,
    containers.build, search.build, messaging.wire, api.build, content_delivery.build,
)
PASSES: tuple[Step, ...] = (
    logs.build, discovery.build, correlation.build, alarms.build, dashboard.build, persistence.bucket_policies, messaging.policies, outputs,
)
STEPS = order((*LAYERS, *PASSES))


TOP_LEVEL_ORDER = ("AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules", "Mappings", "Conditions", "Transform", "Resources", "Outputs")
RESOURCE_KEY_ORDER = ("Type", "Condition", "DependsOn", "DeletionPolicy", "UpdateReplacePolicy", "UpdatePolicy", "Metadata", "Properties")


def _ordered(resource: dict[str, Any]) -> dict[str, Any]:
    """Type first, Properties last: the order a reviewer reads a resource in."""
    return {k: resource[k] for k in sorted(resource, key=lambda k: RESOURCE_KEY_ORDER.index(k) if k in RESOURCE_KEY_ORDER else 99)}


def template_data(template: Any) -> dict[str, Any]:
    """A troposphere Template as plain data in the order msgen writes every template (service, bootstrap and fleet stacks):
    the top-level sections in CloudFormation's documented order, each resource's keys as _ordered puts them."""
    raw = template.to_dict()
    data = {k: raw[k] for k in TOP_LEVEL_ORDER if k in raw}
    data["Resources"] = {lid: _ordered(res) for lid, res in data["Resources"].items()}
    return data


def _clip_bytes(text: str, limit: int) -> str:
    raw = text.encode("utf-8")
    return text if len(raw) <= limit else raw[: limit - 3].decode("utf-8", "ignore") + "..."


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    def represent(self, data: Any) -> None:
        """SafeRepresenter's nodes (with _str_presenter's), made in one walk: a template holds dicts, lists, strings,
        integers, floats, booleans and null, each dict and list once, and PyYAML's representer dispatches on every value
        and tracks each dict and list for anchors (~20% of the YAML time of a template). Anything else, or a dict or list
        met twice (PyYAML would write an anchor), or other dump options, go PyYAML's way. tests/test_golden.py holds the bytes."""
        if self.default_flow_style is not False or self.default_style is not None or self.sort_keys:
            return super().represent(data)
        try:
            node = _node(data, set(), self)
        except _Unusual:
            return super().represent(data)
        self.serialize(node)


class _Unusual(Exception):
    """A value _node leaves to PyYAML's representer."""


_STR, _INT, _BOOL, _NULL = "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"
_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


def _node(data: Any, seen: set[int], dumper: _Dumper) -> yaml.Node:
    kind = type(data)
    if kind is str:
        return yaml.ScalarNode(_STR, data, style="|" if "\n" in data else None)
    if kind is dict or kind is list:
        if id(data) in seen:
            raise _Unusual
        seen.add(id(data))
        if kind is dict:
            return yaml.MappingNode(_MAP, [(_node(k, seen, dumper), _node(v, seen, dumper)) for k, v in data.items()], flow_style=False)
        return yaml.SequenceNode(_SEQ, [_node(v, seen, dumper) for v in data], flow_style=False)
    if kind is bool:
        return yaml.ScalarNode(_BOOL, "true" if data else "false")
    if kind is int:
        return yaml.ScalarNode(_INT, str(data))
    if data is None:
        return yaml.ScalarNode(_NULL, "null")
    if kind is float:
        return dumper.represent_float(data)
    raise _Unusual


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _str_presenter)


def render(data: dict[str, Any], fmt: str = "yaml") -> str:
    """Serialise deterministically: key order is the builder's, which depends only on the spec."""
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=10_000)


def synthesize(spec: ServiceSpec, fmt: str = "yaml") -> str:
    data = build_template(spec)
    text = render(data, fmt)
    if len(text.encode()) > MAX_TEMPLATE_BYTES_S3:
        exc = QuotaError(f"{spec.service}: the template is {len(text.encode())} bytes; CloudFormation accepts at most {MAX_TEMPLATE_BYTES_S3} bytes from S3")
        exc.data = data
        raise exc
    return text
