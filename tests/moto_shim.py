"""Work-arounds for gaps in moto 5.2.5's CloudFormation, for the deploy tests only.

msgen's templates are valid CloudFormation (cfn-lint and checkov clean); moto does not model every part of
them. Each shim below names the moto behaviour it works around and changes moto, never the template msgen
emits. ``moto_shims()`` applies them all for the duration of a ``with`` block.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from unittest import mock

import yaml


def _kms_key_tags():
    """moto's KMS model reads CloudFormation ``Tags`` as ``TagKey``/``TagValue`` pairs (the KMS API's spelling),
    so ``AWS::KMS::Key`` with ``Tags: [{Key, Value}]`` fails with ``KeyError: 'TagKey'``. Rename the keys."""
    from moto.kms.models import Key

    original = Key.create_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json.get("Properties", {})
        if props.get("Tags"):
            props = {**props, "Tags": [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in props["Tags"]]}
            cloudformation_json = {**cloudformation_json, "Properties": props}
        return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    return mock.patch.object(Key, "create_from_cloudformation_json", classmethod(create))


def _stub_model(type_name: str, name_property: str, attributes: dict[str, str]) -> type:
    """A minimal moto CloudFormation model for TYPE_NAME: a physical id (the NAME_PROPERTY given, or moto's generated
    name) and the ``Fn::GetAtt`` ATTRIBUTES, formats of ``{name}``, ``{region}`` and ``{account}``. No moto backend
    is involved: the resource exists only as far as the stack's references need it."""
    from moto.core.common_models import CloudFormationModel

    class Stub(CloudFormationModel):
        __module__ = "moto.cloudformation.shim"  # moto derives a model's service from its module name

        def __init__(self, name: str, account_id: str, region_name: str):
            self.name, self.account_id, self.region_name = name, account_id, region_name

        @property
        def physical_resource_id(self) -> str:
            return self.name

        @staticmethod
        def cloudformation_name_type() -> str:
            return name_property

        @staticmethod
        def cloudformation_type() -> str:
            return type_name

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in attributes

        def get_cfn_attribute(self, attribute_name: str) -> str:
            return attributes[attribute_name].format(name=self.name, region=self.region_name, account=self.account_id)

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            return cls(cloudformation_json.get("Properties", {}).get(name_property) or resource_name, account_id, region_name)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
            return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
            return None

    Stub.__name__ = Stub.__qualname__ = "Shim" + type_name.split("::")[-1]
    return Stub


def _cloudwatch_alarm_model():
    """moto's CloudFormation has no model for ``AWS::CloudWatch::Alarm``: it skips the resource, and any
    ``Fn::GetAtt``/``${X.Arn}`` on an alarm (the composite alarm's rule, the dashboard's alarm widget, a deployment
    group's alarms) fails with "instance of Fn::GetAtt references undefined resource". Register a stub with an Arn."""
    return _register(_stub_model("AWS::CloudWatch::Alarm", "AlarmName", {"Arn": "arn:aws:cloudwatch:{region}:{account}:alarm:{name}"}))


def _search_collection_model():
    """moto's CloudFormation has no model for ``AWS::OpenSearchServerless::Collection`` (search-api): ``GetAtt
    Collection.Arn``/``CollectionEndpoint`` fails with "references undefined resource". Register a stub with the
    collection's attributes (the security and access policies stay skipped: nothing refers to their attributes)."""
    return _register(_stub_model("AWS::OpenSearchServerless::Collection", "Name", {
        "Arn": "arn:aws:aoss:{region}:{account}:collection/{name}",
        "Id": "{name}",
        "CollectionEndpoint": "https://{name}.{region}.aoss.amazonaws.com",
        "DashboardEndpoint": "https://{name}.{region}.aoss.amazonaws.com/_dashboards",
    }))


def _function_name(name_or_arn: str) -> str:
    return name_or_arn.split(":")[6] if name_or_arn.startswith("arn:") else name_or_arn


def _lambda_version_attribute():
    """moto's ``AWS::Lambda::Version`` model publishes a version but answers no ``Fn::GetAtt``: ``GetAtt
    Version.Version`` (what an alias points at) fails with "'LambdaVersion' object has no attribute
    'get_cfn_attribute'". Give the model the ``Version`` attribute it already knows."""
    from moto.awslambda.models import LambdaVersion

    def get(self, attribute_name: str) -> str:
        return str(self.version)

    stack = contextlib.ExitStack()
    stack.enter_context(mock.patch.object(LambdaVersion, "get_cfn_attribute", get, create=True))
    stack.enter_context(mock.patch.object(LambdaVersion, "has_cfn_attr", classmethod(lambda cls, attr: attr == "Version")))
    return stack


def _aurora_cluster_model():
    """moto's CloudFormation has no model for ``AWS::RDS::DBCluster`` (hybrid-api's Aurora cluster): ``GetAtt
    DatabaseCluster.Endpoint.Address`` and ``${DatabaseCluster.DBClusterResourceId}`` (the IAM auth policy) fail
    with "references undefined resource". Register a stub with those attributes."""
    return _register(_stub_model("AWS::RDS::DBCluster", "DBClusterIdentifier", {
        "Endpoint.Address": "{name}.cluster-abcdefghijkl.{region}.rds.amazonaws.com",
        "Endpoint.Port": "5432",
        "ReadEndpoint.Address": "{name}.cluster-ro-abcdefghijkl.{region}.rds.amazonaws.com",
        "DBClusterResourceId": "cluster-ABCDEFGHIJKLMNOPQRSTUVWXY",
        "DBClusterArn": "arn:aws:rds:{region}:{account}:cluster:{name}",
    }))


def _lambda_alias_model():
    """moto's CloudFormation has no model for ``AWS::Lambda::Alias``: it skips it, so a ``Ref`` to the alias (API
    integrations, ``AWS::Lambda::Permission.FunctionName``, event source mappings) resolves to nothing and moto's
    Permission model fails with ``KeyError: 'FunctionName'``. Register a model that creates the alias through
    moto's Lambda backend; its Ref is the alias ARN, as in CloudFormation. moto ignores the alias's
    ``UpdatePolicy`` (CodeDeploy traffic shifting is not modelled; the static template tests cover it).
    moto's ``put_alias`` looks a version up by function *name* only, so the function's ARN is cut to it."""
    from moto.awslambda.utils import get_backend
    from moto.core.common_models import CloudFormationModel

    class ShimAlias(CloudFormationModel):
        __module__ = "moto.awslambda.shim"

        def __init__(self, arn: str):
            self.arn = arn

        @property
        def physical_resource_id(self) -> str:
            return self.arn

        @staticmethod
        def cloudformation_name_type() -> str:
            return "Name"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Lambda::Alias"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr == "AliasArn"

        def get_cfn_attribute(self, attribute_name: str) -> str:
            return self.arn

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            p = cloudformation_json["Properties"]
            backend = get_backend(account_id, region_name)  # the simple backend when use_docker is False
            alias = backend.create_alias(p["Name"], _function_name(p["FunctionName"]), str(p.get("FunctionVersion", "$LATEST")),
                                         p.get("Description", ""), None)
            return cls(alias.arn)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
            p = cloudformation_json["Properties"]
            backend = get_backend(account_id, region_name)
            alias = backend.update_alias(p["Name"], _function_name(p["FunctionName"]), str(p.get("FunctionVersion", "$LATEST")),
                                         p.get("Description", ""), None)
            return cls(alias.arn)

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
            return None

    return _register(ShimAlias)


def _log_group_update():
    """moto's ``AWS::Logs::LogGroup`` model has no update handler: a modified log group (a new RetentionInDays) is
    dropped from moto's record of the stack, so deleting the stack later leaves the log group behind. Update it in
    place, as CloudFormation does, and keep the resource."""
    from moto.logs.models import LogGroup, logs_backends

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        days = cloudformation_json.get("Properties", {}).get("RetentionInDays")
        backend = logs_backends[account_id][region_name]
        if days:
            backend.put_retention_policy(original_resource.name, days)
        else:
            backend.delete_retention_policy(original_resource.name)
        return original_resource

    return mock.patch.object(LogGroup, "update_from_cloudformation_json", classmethod(update))


def _s3_bucket_update():
    """moto's ``AWS::S3::Bucket`` update tags the bucket by ``Properties["BucketName"]``, so updating a bucket whose
    name CloudFormation generated (msgen names none) fails with ``KeyError: 'BucketName'``. Pass the bucket's
    current name, which is what moto means (and which does not trigger its replacement logic)."""
    from moto.s3.models import FakeBucket

    original = FakeBucket.update_from_cloudformation_json.__func__

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        props = cloudformation_json.get("Properties", {})
        if "BucketName" not in props:
            cloudformation_json = {**cloudformation_json, "Properties": {**props, "BucketName": original_resource.name}}
        return original(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)

    return mock.patch.object(FakeBucket, "update_from_cloudformation_json", classmethod(update))


def _fn_cidr():
    """moto's intrinsic-function evaluator (``parsing.clean_json``) has no ``Fn::Cidr``: the hybrid VPC's subnets
    (``Fn::Select [i, Fn::Cidr [VpcCidr, count, bits]]``) fail with ``KeyError: 0``. Evaluate it as CloudFormation
    does: the first COUNT blocks of /(32 - BITS) in the given block."""
    import ipaddress

    from moto.cloudformation import parsing

    original = parsing.clean_json

    def clean_json(resource_json, resources_map):
        if isinstance(resource_json, dict) and "Fn::Cidr" in resource_json:
            block, count, bits = (original(v, resources_map) for v in resource_json["Fn::Cidr"])
            subnets = ipaddress.ip_network(block).subnets(new_prefix=32 - int(bits))
            return [str(net) for _, net in zip(range(int(count)), subnets, strict=False)]
        return original(resource_json, resources_map)

    return mock.patch.object(parsing, "clean_json", clean_json)


def _aurora_instance_engine_version():
    """An Aurora ``AWS::RDS::DBInstance`` takes its engine version from its cluster and sets none; moto looks a
    missing EngineVersion up in a table without Aurora engines (``KeyError: 'aurora-postgresql'``). Add them."""
    from moto.rds.models import DBInstance

    return mock.patch.dict(DBInstance.default_engine_versions, {"aurora-postgresql": "16.6", "aurora-mysql": "8.0.mysql_aurora.3.08.0"})


def _target_group_attributes():
    """moto's ``AWS::ElasticLoadBalancingV2::TargetGroup`` answers no ``Fn::GetAtt`` ("'FakeTargetGroup' object has
    no attribute 'get_cfn_attribute'"): the alarms' and the scaling policy's ``TargetGroupFullName`` fail. Give it
    the attributes CloudFormation documents, from the ARN moto made."""
    from moto.elbv2.models import FakeTargetGroup

    def get(self, attribute_name: str) -> str:
        full = self.arn.split(":")[-1]  # targetgroup/<name>/<id>
        return {"TargetGroupFullName": full, "TargetGroupName": self.name, "TargetGroupArn": self.arn}[attribute_name]

    stack = contextlib.ExitStack()
    stack.enter_context(mock.patch.object(FakeTargetGroup, "get_cfn_attribute", get, create=True))
    stack.enter_context(mock.patch.object(FakeTargetGroup, "has_cfn_attr", classmethod(
        lambda cls, attr: attr in ("TargetGroupFullName", "TargetGroupName", "TargetGroupArn")), create=True))
    return stack


def _vpc_endpoint_delete():
    """moto's ``AWS::EC2::VPCEndpoint`` model has no delete handler, so deleting a stack leaves its endpoints and
    then fails on the VPC with ``DependencyViolation``. Delete the endpoint through moto's EC2 backend (which only
    marks it deleted) and forget it, as AWS does."""
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.vpcs import VPCEndPoint

    def delete(self, account_id: str, region_name: str) -> None:
        backend = ec2_backends[account_id][region_name]
        with contextlib.suppress(Exception):  # a gateway endpoint's routes may be gone with their route table already
            backend.delete_vpc_endpoints([self.id])
        backend.vpc_end_points.pop(self.id, None)

    return mock.patch.object(VPCEndPoint, "delete", delete, create=True)


def _route_table_delete():
    """moto's ``AWS::EC2::RouteTable`` model has no delete handler either: deleting the stack leaves the private route
    table, and the VPC's deletion then fails with ``DependencyViolation``. Delete it through moto's EC2 backend."""
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.route_tables import RouteTable

    def delete(self, account_id: str, region_name: str) -> None:
        backend = ec2_backends[account_id][region_name]
        if self.id in backend.route_tables:  # the VPC's deletion may have taken it already
            backend.delete_route_table(self.id)

    return mock.patch.object(RouteTable, "delete", delete, create=True)


def _register(model: type) -> contextlib.AbstractContextManager:
    """Make moto's CloudFormation parser use MODEL for its type (moto looks models up in an lru-cached map built from
    CloudFormationModel's subclasses; patching the lookup keeps the shim's models out of every other test)."""
    from moto.cloudformation import parsing

    type_name = model.cloudformation_type()
    current = parsing.get_model_map
    return mock.patch.object(parsing, "get_model_map", lambda: {**current(), type_name: model})


def _nested_stack_outputs():
    """moto's ``AWS::CloudFormation::Stack`` claims every attribute but answers none, so the parent of a split service
    (generator.synth.nesting) cannot read ``Fn::GetAtt NestedStackN.Outputs.X`` (nor ``${NestedStackN.Outputs.X}`` in a
    ``Fn::Sub``, which moto splits at every dot). Answer it from the nested stack's outputs."""
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.cloudformation.models import Stack

    def get(self, attribute_name: str):
        if attribute_name.startswith("Outputs."):
            output = self.output_map.get(attribute_name.split(".", 1)[1])
            if output is not None:
                return output.value
        raise UnformattedGetAttTemplateException()

    from moto.cloudformation import parsing

    original = parsing.clean_json

    def clean_json(resource_json, resources_map):  # ${NestedStackN.Outputs.X} in Fn::Sub: moto splits at every dot
        if isinstance(resource_json, dict) and isinstance(resource_json.get("Fn::GetAtt"), list) and len(resource_json["Fn::GetAtt"]) > 2:
            name, *attr = resource_json["Fn::GetAtt"]
            resource_json = {"Fn::GetAtt": [name, ".".join(attr)]}
        return original(resource_json, resources_map)

    stack = contextlib.ExitStack()
    stack.enter_context(mock.patch.object(Stack, "get_cfn_attribute", get, create=True))
    stack.enter_context(mock.patch.object(parsing, "clean_json", clean_json))
    return stack


def _request_validator_model():
    """moto has no CloudFormation model for ``AWS::ApiGateway::RequestValidator`` or ``AWS::CodeDeploy::Application``:
    it skips them and a ``Ref`` to one resolves to nothing, which a nested stack's parameter refuses. Stub them."""
    stack = contextlib.ExitStack()
    stack.enter_context(_register(_stub_model("AWS::ApiGateway::RequestValidator", "Name", {})))
    stack.enter_context(_register(_stub_model("AWS::CodeDeploy::Application", "ApplicationName", {})))
    return stack


def _ssm_parameter_tags():
    """CloudFormation's ``AWS::SSM::Parameter`` takes ``Tags`` as a map (``{key: value}``); moto's SSM model passes them on
    as the SSM API's ``[{Key, Value}]`` list and fails with ``TypeError: string indices must be integers``. Convert."""
    from moto.ssm.models import Parameter

    original = Parameter.create_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json.get("Properties", {})
        if isinstance(props.get("Tags"), dict):
            props = {**props, "Tags": [{"Key": k, "Value": v} for k, v in props["Tags"].items()]}
            cloudformation_json = {**cloudformation_json, "Properties": props}
        return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    return mock.patch.object(Parameter, "create_from_cloudformation_json", classmethod(create))


SHIMS = (_kms_key_tags, _ssm_parameter_tags, _cloudwatch_alarm_model, _lambda_version_attribute, _lambda_alias_model, _search_collection_model,
         _log_group_update, _s3_bucket_update, _fn_cidr,
         _aurora_instance_engine_version, _aurora_cluster_model,
         _target_group_attributes, _vpc_endpoint_delete, _route_table_delete, _nested_stack_outputs, _request_validator_model)


@contextlib.contextmanager
def moto_shims() -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for shim in SHIMS:
            stack.enter_context(shim())
        yield


class FastLoader(yaml.CLoader):
    """libyaml's parser with moto's constructor for CloudFormation's short tags (!Ref, !Sub...): moto parses every
    template with PyYAML's pure-Python yaml.Loader, most of a big deploy test's time; the split services' tests swap this in."""


def fast_template_parsing(monkeypatch) -> None:
    """moto (and the tests' own reads of deployed templates) parse YAML with FastLoader for the rest of the test."""
    from moto.cloudformation.utils import yaml_tag_constructor

    FastLoader.add_multi_constructor("", yaml_tag_constructor)
    monkeypatch.setattr(yaml, "Loader", FastLoader)

