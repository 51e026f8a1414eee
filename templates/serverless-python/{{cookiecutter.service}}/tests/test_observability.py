{%- set entries = (["app"] if cookiecutter._msgen.function_routes else []) + (["worker"] if cookiecutter._msgen.consumers else []) -%}
"""Tracing without an SDK: the trace id on every log line, and a cold start that imports no AWS or tracing SDK."""

from __future__ import annotations
{%- if entries %}

import os
import subprocess
import sys
from pathlib import Path
{%- endif %}

import pytest

import correlation
import observability
from observability import logger

TRACE_ID = "1-5759e988-bd862e3fe1be46a994272793"


@pytest.mark.parametrize(
    "header,expected",
    [
        (f"Root={TRACE_ID};Parent=53995c3f42cd8ad8;Sampled=1", TRACE_ID),
        (f"Self=1-67891234-12456789abcdef012345678;Root={TRACE_ID}", TRACE_ID),
        ("Parent=53995c3f42cd8ad8;Sampled=1", None),
        ("Root=not-a-trace-id", None),
        ("", None),
        (None, None),
    ],
)
def test_the_trace_id_is_the_root_of_the_trace_header(header, expected):
    assert observability.trace_root(header) == expected


def test_every_line_carries_the_trace_id_lambda_sets_for_the_invocation(monkeypatch, log_lines):
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={TRACE_ID};Parent=53995c3f42cd8ad8;Sampled=1")
    logger.set_correlation_id(correlation.adopt("corr-trace-1"))
    logger.info("first")
    other = "1-5759e988-000000000000000000000001"
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={other};Parent=53995c3f42cd8ad8;Sampled=0")
    logger.warning("second")
    lines = log_lines()
    assert [(line["message"], line["correlation_id"], line["xray_trace_id"]) for line in lines] == [
        ("first", "corr-trace-1", TRACE_ID),
        ("second", "corr-trace-1", other),
    ], "each line has the trace id of its own invocation"


def test_calls_to_other_services_carry_the_trace_header(monkeypatch):
    header = f"Root={TRACE_ID};Parent=53995c3f42cd8ad8;Sampled=1"
    monkeypatch.setenv("_X_AMZN_TRACE_ID", header)
    assert correlation.http_headers()["X-Amzn-Trace-Id"] == header
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=not-a-trace-id")
    assert "X-Amzn-Trace-Id" not in correlation.http_headers()


def test_without_a_trace_there_is_no_trace_id(monkeypatch, log_lines):
    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    observability.adopt_trace_header(None)
    logger.info("untraced")
    (line,) = log_lines()
    assert "xray_trace_id" not in line
{%- if entries %}


@pytest.mark.parametrize("entry", {{ entries | tojson }})
def test_the_cold_start_imports_no_aws_or_tracing_sdk(entry):
    """What Lambda does when a new instance starts: import the entry module with the function's environment.

    boto3 and botocore are imported when the code first calls AWS; traces are recorded by Lambda (active tracing)."""
    src = Path(__file__).resolve().parents[1] / "src"
    environment = {**os.environ, "PYTHONPATH": str(src), "AWS_LAMBDA_FUNCTION_NAME": "{{ cookiecutter.service }}-" + entry}
    code = "import importlib, sys; importlib.import_module(sys.argv[1]); print(sorted(set(sys.modules) & set(sys.argv[2:])))"
    # Powertools imports the botocore package itself (a few modules, to tag the SDK's user agent), not its client.
    command = [sys.executable, "-c", code, entry, "boto3", "botocore.session", "botocore.client", "aws_xray_sdk"]
    result = subprocess.run(command, cwd=src, env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"importing {entry} loads {result.stdout.strip()}"
{%- endif %}
