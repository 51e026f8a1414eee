"""Dead-letter queues: where a queue, a subscription, an events rule or an asynchronous function keeps what failed.

Shared by the messaging and application layers; every one is encrypted with the service key, TLS-only and retained.
"""

from __future__ import annotations

from troposphere import GetAtt, sqs

from generator.synth.context import Context
from generator.synth.policy import deny_insecure_transport

DLQ_RETENTION_S = 14 * 24 * 3600


def dead_letter_queue(ctx: Context, lid: str, what: str) -> sqs.Queue:
    """An encrypted, TLS-only queue that keeps what failed for 14 days."""
    dlq = ctx.add(sqs.Queue(lid, KmsMasterKeyId=ctx.key_arn(), MessageRetentionPeriod=DLQ_RETENTION_S), what, retain=True)
    ctx.reg.queue_policies.add(dlq, deny_insecure_transport([GetAtt(dlq, "Arn")], "sqs:*"))
    return dlq
