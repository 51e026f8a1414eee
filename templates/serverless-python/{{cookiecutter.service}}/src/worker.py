"""Entry point of the queue-consumer functions: one message at a time, failures reported per message.

Each consumer function of the stack has CONSUMER_QUEUE set to the queue it reads; failed messages are
returned to SQS (partial batch response) and, after the queue's receive limit, go to its dead-letter queue.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

{% for name in (["correlation"] + (cookiecutter._msgen.consumers | map(attribute="module") | unique | list)) | sort %}import {{ name }}
{% endfor %}from observability import logger, metrics, tracer

CONSUMERS = {
{%- for c in cookiecutter._msgen.consumers %}
    "{{ c.queue.name }}": {{ c.module }}.{{ c.function }},
{%- endfor %}
}
processor = BatchProcessor(event_type=EventType.SQS)


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    cid = correlation.adopt(correlation.from_message(record.raw_event) or record.message_id)
    logger.set_correlation_id(cid)
    CONSUMERS[os.environ["CONSUMER_QUEUE"]](record)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
