"""Search: OpenSearch Serverless collections, the managed search engine a service uses instead of running its own.

Per collection: an encryption policy with the service's KMS key (it must exist before the collection), a
network policy, a data access policy and the collection itself, retained and deletion-protected like every
store of data. Who may do what is decided by `uses:` alone: IAM grants ``aoss:APIAccessAll`` on the
collection (the kinds table), and the data access policy here lets exactly those roles read documents
(``read``) or also write them and manage indexes (``write``).

Network: when every function and container that uses a collection runs in the service's VPC, the
collection is reachable only through an OpenSearch Serverless VPC endpoint in that VPC. When any of them
runs outside a VPC (a Lambda function that does not use the database), the collection's endpoint is
public but still answers only requests signed (SigV4) by a principal of the data access policy; no
anonymous access is possible, and OpenSearch Dashboards stay closed either way.
"""

from __future__ import annotations

import hashlib
import json

from troposphere import Ref, Sub

from generator import naming, sources
from generator.spec.models import Collection
from generator.synth.context import Context
from generator.synth.lazy import troposphere_module
from generator.synth.registry import layer

opensearchserverless = troposphere_module("opensearchserverless")

READ = ["aoss:DescribeIndex", "aoss:ReadDocument"]
WRITE = ["aoss:CreateIndex", "aoss:DescribeIndex", "aoss:ReadDocument", "aoss:UpdateIndex", "aoss:WriteDocument"]
TYPES = {"search": "SEARCH", "timeseries": "TIMESERIES", "vectorsearch": "VECTORSEARCH"}


def short_name(service: str, name: str) -> str:
    """Policy and endpoint names are at most 32 characters and unique per account and Region:
    ``<name, at most 8>-<hash of service and name>-${Environment}`` (the environment is at most 16)."""
    digest = hashlib.sha256(f"{service}/{name}".encode()).hexdigest()[:6]
    return f"{name[:8].replace('_', '-').rstrip('-')}-{digest}-${{Environment}}"


def collection_name(service: str, name: str) -> str:
    """Collection names are at most 64 characters: ``<name, at most 20>-<hash>-${Environment}``."""
    digest = hashlib.sha256(f"{service}/{name}".encode()).hexdigest()[:6]
    return f"{name[:20].replace('_', '-').rstrip('-')}-{digest}-${{Environment}}"


def _policy(document: list[dict]) -> Sub:
    return Sub(json.dumps(document, sort_keys=True, separators=(",", ":")))


@layer(provides={"collections"}, needs={"key", "network", "principals"}, source="search")
def build(ctx: Context) -> None:
    collections = ctx.spec.search.collections
    if not collections:
        return
    reg = ctx.reg
    holders: dict[str, dict[str, set[str]]] = {c.name: {} for c in collections}  # collection -> principal -> levels
    for fn in ctx.plan.functions:
        for name, levels in ctx.plan.access(fn.uses).items():
            if name in holders:
                holders[name][f"function:{fn.name}"] = levels
    for name, levels in ctx.plan.access(ctx.plan.container_uses).items():
        if name in holders:
            holders[name]["container"] = levels
    endpoint = None
    in_vpc = [p for uses in holders.values() for p in uses if reg.principals[p].in_vpc]
    if reg.network is not None and in_vpc:
        endpoint = ctx.add(
            opensearchserverless.VpcEndpoint(
                "SearchVpcEndpoint", Name=Sub(short_name(ctx.service, "vpce")), VpcId=reg.network.vpc, SubnetIds=reg.network.subnets,
                **({"SecurityGroupIds": [Ref(reg.network.function_security_group)]} if reg.network.function_security_group else {}),
            ),
            "Private path from the service's VPC to its search collections",
        )
    for collection in collections:
        with ctx.sourced(sources.named("search.collections", collection.name)):
            reg.collections[collection.name] = _collection(ctx, collection, holders[collection.name], endpoint)


def _collection(ctx: Context, c: Collection, holders: dict[str, set[str]], endpoint) -> opensearchserverless.Collection:
    reg = ctx.reg
    lid = naming.logical_id(c.name, "Collection")
    name = collection_name(ctx.service, c.name)
    resource = [f"collection/{name}"]
    encryption = ctx.add(
        opensearchserverless.SecurityPolicy(
            f"{lid}EncryptionPolicy", Name=Sub(short_name(ctx.service, c.name)), Type="encryption",
            Description=f"{ctx.service}: collection {c.name} is encrypted with the service's key",
            Policy=_policy({"Rules": [{"ResourceType": "collection", "Resource": resource}], "AWSOwnedKey": False,
                            "KmsARN": f"${{{reg.key.title}.Arn}}"}),  # type: ignore[arg-type]
        ),
        f"Encrypts collection '{c.name}' with the service's KMS key",
    )
    outside = any(not reg.principals[p].in_vpc for p in holders)
    rule = {"Rules": [{"ResourceType": "collection", "Resource": resource}]}
    if endpoint is not None and not outside:
        network = {**rule, "AllowFromPublic": False, "SourceVPCEs": [f"${{{endpoint.title}}}"]}
        how = "only through the service's VPC endpoint"
    else:
        network = {**rule, "AllowFromPublic": True}
        how = "on its public endpoint, for requests signed by the roles of its data access policy only (a user of it runs outside a VPC)"
    ctx.add(
        opensearchserverless.SecurityPolicy(f"{lid}NetworkPolicy", Name=Sub(short_name(ctx.service, c.name)), Type="network",
                                            Description=f"{ctx.service}: how collection {c.name} is reached", Policy=_policy([network])),
        f"Collection '{c.name}' is reachable {how}; OpenSearch Dashboards stay closed",
    )
    statements = []
    for level, permissions in (("read", READ), ("write", WRITE)):
        principals = sorted(p for p, levels in holders.items() if level in levels and (level == "write" or "write" not in levels))
        if principals:
            statements.append({
                "Description": f"{level} documents" + (" and manage indexes" if level == "write" else ""),
                "Rules": [{"ResourceType": "index", "Resource": [f"index/{name}/*"], "Permission": permissions},
                          {"ResourceType": "collection", "Resource": resource, "Permission": ["aoss:DescribeCollectionItems"]}],
                "Principal": [f"${{{reg.principals[p].role.title}.Arn}}" for p in principals],
            })
    if statements:
        ctx.add(
            opensearchserverless.AccessPolicy(f"{lid}AccessPolicy", Name=Sub(short_name(ctx.service, c.name)), Type="data",
                                              Description=f"{ctx.service}: who may read and write collection {c.name}", Policy=_policy(statements)),
            f"Exactly the roles whose uses name '{c.name}' may read (or write) its documents",
        )
    collection = opensearchserverless.Collection(
        lid, Name=Sub(name), Type=TYPES[c.type], StandbyReplicas="ENABLED" if c.standby_replicas else "DISABLED",
        Description=f"{ctx.service}: search collection {c.name}", DeletionProtection="ENABLED" if ctx.spec.lifecycle.protected else "DISABLED", DependsOn=[encryption.title],
    )
    return ctx.add(collection, f"Search collection '{c.name}' ({c.type}); billed in OCUs even when idle (see README)", retain=True)
