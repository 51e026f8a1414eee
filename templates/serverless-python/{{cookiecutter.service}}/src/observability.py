"""The service's Powertools Logger and Metrics, shared by every module, and the trace id on every log line.

Configuration comes from the function's environment (set by the CloudFormation template):
POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, and the log level Lambda passes in.

Tracing needs no SDK in the code: Lambda and API Gateway record traces themselves (active tracing, set by the
template). Every JSON log line carries the trace id as ``xray_trace_id`` next to ``correlation_id``, so a log line
leads to its trace and back: Lambda sets ``_X_AMZN_TRACE_ID`` for each invocation; the container service adopts
the ``X-Amzn-Trace-Id`` header of each request (``adopt_trace_header``).
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

TRACE_HEADER = "X-Amzn-Trace-Id"
TRACE_ENV = "_X_AMZN_TRACE_ID"
# X-Ray's trace id: version 1, the start time (8 hex digits), 96 random bits (24 hex digits).
_TRACE_ID = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")
_request_trace: ContextVar[str] = ContextVar("trace_header", default="")


def trace_root(header: str | None) -> str | None:
    """The trace id of a trace header ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=...;Sampled=1"), if well formed."""
    for part in (header or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == "Root":
            return value if _TRACE_ID.match(value) else None
    return None


def adopt_trace_header(header: str | None) -> str | None:
    """Make the trace of an incoming request (its X-Amzn-Trace-Id header) the current one; returns its trace id."""
    _request_trace.set(header or "")
    return trace_root(header)


def current_trace_header() -> str | None:
    """The trace header of the work being done: the request's adopted header, else the invocation's (Lambda sets
    _X_AMZN_TRACE_ID each time)."""
    return _request_trace.get() or os.environ.get(TRACE_ENV)


def trace_id() -> str | None:
    """The current trace id (the Root of the current trace header)."""
    return trace_root(current_trace_header())


class TraceIdFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON log line, with the current trace id as ``xray_trace_id`` (read when the line is written)."""

    def serialize(self, log: dict[str, Any]) -> str:
        trace = trace_id()
        if trace:
            log["xray_trace_id"] = trace
        else:
            log.pop("xray_trace_id", None)
        return super().serialize(log)


logger = Logger(logger_formatter=TraceIdFormatter())
metrics = Metrics()
