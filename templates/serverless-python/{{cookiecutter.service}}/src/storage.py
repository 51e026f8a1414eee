"""The tables, buckets, queues and topics this service uses, by their names in service.yaml.

The template passes each resource's physical name in an environment variable (TABLE_<NAME>, BUCKET_<NAME>,
QUEUE_<NAME> holds the URL, TOPIC_<NAME> the ARN, EMAIL_SENDER the From address{% if cookiecutter._msgen.collections %}, SEARCH_<NAME> the
endpoint of a search collection{% endif %}); clients are created once per container, on first use, and reused across
invocations. boto3 itself is imported on first use too: it is not part of the function's cold start (about 150 ms),
and a request that does not call AWS never pays for it.
"""

from __future__ import annotations

import json
import os
from functools import cache
{%- if cookiecutter._msgen.collections %}

import search
{%- endif %}


def _env(prefix: str, name: str) -> str:
    return os.environ[f"{prefix}_{name.upper().replace('-', '_')}"]


def _boto3():
    """The boto3 module, imported the first time the code calls AWS (Lambda's runtime provides it)."""
    import boto3

    return boto3


@cache
def table(name: str):
    """boto3 Table resource of table ``name`` (as named in service.yaml)."""
    return _boto3().resource("dynamodb").Table(_env("TABLE", name))


@cache
def bucket(name: str):
    """boto3 Bucket resource of bucket ``name`` (as named in service.yaml).

    Presigned URLs are signed with Signature Version 4 (objects encrypted with KMS need it) for the regional endpoint.
    """
    from botocore.config import Config

    config = Config(signature_version="s3v4", s3={"addressing_style": "virtual"})
    return _boto3().resource("s3", config=config).Bucket(_env("BUCKET", name))


@cache
def queue(name: str):
    """boto3 Queue resource of queue ``name``; send with correlation.message_attributes()."""
    return _boto3().resource("sqs").Queue(_env("QUEUE", name))


@cache
def topic(name: str):
    """boto3 Topic resource of topic ``name``; publish with correlation.message_attributes()."""
    return _boto3().resource("sns").Topic(_env("TOPIC", name))


{% if cookiecutter._msgen.collections -%}
@cache
def collection(name: str) -> search.Collection:
    """OpenSearch Serverless collection ``name``: SigV4-signed requests that carry the correlation id (see search.py)."""
    return search.Collection(_env("SEARCH", name))


{% endif -%}
@cache
def _ses():
    return _boto3().client("ses")


def send_email(to: str, subject: str, text: str) -> str:
    """Send a plain-text e-mail from the service's sender address (SES); returns the message id."""
    response = _ses().send_email(
        Source=os.environ["EMAIL_SENDER"],
        Destination={"ToAddresses": [to]},
        Message={
            "Subject": {"Data": subject, "Charset": "UTF-8"},
            "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
        },
    )
    return response["MessageId"]


{% if cookiecutter._msgen.database -%}
def database_settings() -> dict[str, object]:
    """Connection settings for the service's PostgreSQL database (pass them to psycopg.connect).

    The password is an IAM authentication token, valid for 15 minutes: make one per connection. The
    database user needs `GRANT rds_iam TO {{ cookiecutter._msgen.database.app_user }};` once, run as the master user
    (its credentials are in Secrets Manager, managed by RDS).
    """
    host, port, user = os.environ["DB_HOST"], int(os.environ["DB_PORT"]), os.environ["DB_USER"]
    token = _boto3().client("rds").generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user)
    return {
        "host": host,
        "port": port,
        "user": user,
        "password": token,
        "dbname": os.environ["DB_NAME"],
        "sslmode": "require",
    }
{%- if cookiecutter._msgen.hybrid %}


def database(**options: object):
    """A new psycopg connection to the database with database_settings(): TLS required, a fresh IAM token as password.

    Use it as a context manager (`with storage.database() as connection:`); psycopg is in requirements-container.txt.
    """
    import psycopg  # imported here: the functions' package does not include it

    return psycopg.connect(**database_settings(), connect_timeout=5, **options)
{%- endif %}


{% endif -%}
@cache
def stepfunctions():
    return _boto3().client("stepfunctions")


def start_workflow(name: str, payload: dict) -> str:
    """Start workflow ``name`` (as named in service.yaml) with a JSON payload; returns the execution ARN."""
    arn, text = _env("WORKFLOW", name), json.dumps(payload, default=str)
    return stepfunctions().start_execution(stateMachineArn=arn, input=text)["executionArn"]


def clear_caches() -> None:
    """Forget cached clients (tests create fresh in-memory AWS for each test)."""
    for cached in (table, bucket, queue, topic, _ses, stepfunctions{% if cookiecutter._msgen.collections %}, collection{% endif %}):
        cached.cache_clear()
