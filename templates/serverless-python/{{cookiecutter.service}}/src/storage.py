"""The tables and buckets this service uses, by their names in service.yaml.

The template passes each resource's physical name in an environment variable (TABLE_<NAME>, BUCKET_<NAME>);
clients are created once per container and reused across invocations.
"""

from __future__ import annotations

import os
from functools import cache

import boto3


def _env(prefix: str, name: str) -> str:
    return os.environ[f"{prefix}_{name.upper().replace('-', '_')}"]


@cache
def table(name: str):
    """boto3 Table resource of table ``name`` (as named in service.yaml)."""
    return boto3.resource("dynamodb").Table(_env("TABLE", name))


@cache
def bucket(name: str):
    """boto3 Bucket resource of bucket ``name`` (as named in service.yaml)."""
    return boto3.resource("s3").Bucket(_env("BUCKET", name))
