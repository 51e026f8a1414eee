"""Entry point of the functions that are not behind the API: queue consumers, topic and events handlers.

EVENT_SOURCE (set by the template) says what invokes the function: sqs:<queue> (a batch; failed messages are
returned to SQS and, after the queue's receive limit, go to its dead-letter queue), sns:<topic> or
events:<rule> (asynchronous: after Lambda's retries, failures go to the function's own dead-letter queue).
Each message or event adopts the correlation id it carries{% if cookiecutter._msgen.tracing == "opentelemetry" %} and is a span of its own (tracing.py){% endif %}.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

{% for name in (["correlation"] + (["tracing"] if cookiecutter._msgen.tracing == "opentelemetry" else []) + (cookiecutter._msgen.consumers | map(attribute="module") | unique | list)) | sort %}import {{ name }}
{% endfor %}from observability import logger, metrics

HANDLERS = {
{%- for c in cookiecutter._msgen.consumers %}
    "{{ c.source }}": {{ c.module }}.{{ c.function }},
{%- endfor %}
}
processor = BatchProcessor(event_type=EventType.SQS)


def _adopt(cid: str | None, fallback: str) -> None:
    logger.set_correlation_id(correlation.adopt(cid if cid and correlation.is_valid(cid) else fallback))


def record_handler(record: SQSRecord) -> None:
    _adopt(correlation.from_message(record.raw_event), record.message_id)
{%- if cookiecutter._msgen.tracing == "opentelemetry" %}
    source = os.environ["EVENT_SOURCE"]
    with tracing.message_span(source, record.message_id, record.raw_event):
        HANDLERS[source](record)
{%- else %}
    HANDLERS[os.environ["EVENT_SOURCE"]](record)
{%- endif %}


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    source = os.environ["EVENT_SOURCE"]
    if source.startswith("sqs:"):
        return process_partial_response(event, record_handler, processor, context)
    if source.startswith("sns:"):
        for record in event["Records"]:
            _adopt(correlation.from_message(record), record["Sns"]["MessageId"])
{%- if cookiecutter._msgen.tracing == "opentelemetry" %}
            with tracing.message_span(source, record["Sns"]["MessageId"], record):
                HANDLERS[source](record)
{%- else %}
            HANDLERS[source](record)
{%- endif %}
        return None
    _adopt((event.get("detail") or {}).get("correlation_id"), event["id"])
{%- if cookiecutter._msgen.tracing == "opentelemetry" %}
    with tracing.message_span(source, event["id"], event):
        HANDLERS[source](event)
{%- else %}
    HANDLERS[source](event)
{%- endif %}
    return None
