"""Managed building blocks instead of home-made ones: SQS queues (with dead-letter queues), SNS topics, SES e-mail.

build() runs before the application layer (functions need the queue URLs and topic ARNs); wire() runs after
it (event source mappings need the consumer functions); policies() runs last, once every statement is known.
"""

from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, awslambda, events, sns, sqs

from generator import naming, sources
from generator.discovery import FLEET_BUS, bus_name
from generator.plan import consumer_name, handler_name
from generator.spec.models import EventRule, Queue, Topic
from generator.synth.context import Context, source_of
from generator.synth.dead_letters import dead_letter_queue
from generator.synth.lazy import troposphere_module
from generator.synth.policy import deny_insecure_transport, document, statement
from generator.synth.registry import layer

ses = troposphere_module("ses")


@layer(provides={"queues", "topics", "email_identity", "dead_letter_queues", "queue_policies"}, needs={"key"})
def build(ctx: Context) -> None:
    m, reg = ctx.spec.messaging, ctx.reg
    for queue in m.queues:
        with ctx.sourced(sources.named("messaging.queues", queue.name)):
            reg.queues[queue.name] = _queue(ctx, queue)
    for topic in m.topics:
        with ctx.sourced(sources.named("messaging.topics", topic.name)):
            reg.topics[topic.name] = _topic(ctx, topic)
    if m.email:
        reg.email_identity = ctx.add(
            ses.EmailIdentity("EmailIdentity", EmailIdentity=m.email.domain),
            f"SES identity for {m.email.domain}; add the DKIM records SES shows to the domain's DNS to verify it",
            source="messaging.email",
        )


def _queue(ctx: Context, queue: Queue) -> sqs.Queue:
    lid = naming.logical_id(queue.name, "Queue")
    dlq = dead_letter_queue(ctx, naming.logical_id(queue.name, "DeadLetterQueue"),
                            f"Messages of '{queue.name}' that failed {queue.max_receive_count} times, kept 14 days")
    main = ctx.add(
        sqs.Queue(
            lid,
            KmsMasterKeyId=ctx.key_arn(),
            MessageRetentionPeriod=queue.retention_days * 24 * 3600,
            VisibilityTimeout=queue.visibility_timeout_s,
            RedrivePolicy=sqs.RedrivePolicy(deadLetterTargetArn=GetAtt(dlq, "Arn"), maxReceiveCount=queue.max_receive_count),
        ),
        f"Queue '{queue.name}'" + (f", consumed by {queue.consumer.handler}" if queue.consumer else ""),
        retain=True,
    )
    ctx.reg.queue_policies.add(main, deny_insecure_transport([GetAtt(main, "Arn")], "sqs:*"))
    ctx.reg.dead_letter_queues.queues[queue.name] = dlq
    return main


def _topic(ctx: Context, topic: Topic) -> sns.Topic:
    resource = ctx.add(
        sns.Topic(naming.logical_id(topic.name, "Topic"), KmsMasterKeyId=ctx.key_arn(), TracingConfig="Active"),
        f"Topic '{topic.name}'",
    )
    ctx.add(
        sns.TopicPolicy(
            f"{resource.title}Policy", Topics=[Ref(resource)],
            PolicyDocument=document(deny_insecure_transport([Ref(resource)], "sns:Publish")),
        ),
        f"Topic '{topic.name}' only accepts TLS",
    )
    queues = ctx.reg.queues
    for name in topic.subscribers:
        queue = queues[name]
        lid = naming.logical_id(topic.name, "To", name, "Subscription")
        # What SNS cannot deliver to the queue (its policy or key refuse, it was deleted) is kept here instead of being dropped.
        dlq = dead_letter_queue(ctx, f"{lid}DeadLetterQueue",
                                f"Messages of topic '{topic.name}' that SNS could not deliver to queue '{name}', kept 14 days")
        ctx.add(
            sns.SubscriptionResource(
                lid, TopicArn=Ref(resource), Protocol="sqs",
                Endpoint=GetAtt(queue, "Arn"), RawMessageDelivery=True, RedrivePolicy={"deadLetterTargetArn": GetAtt(dlq, "Arn")},
            ),
            f"Every message of '{topic.name}' is delivered to queue '{name}' (raw, so message attributes such as correlation_id survive); "
            "undeliverable ones go to the subscription's dead-letter queue",
        )
        for target in (queue, dlq):
            ctx.reg.queue_policies.add(target, statement(
                ["sqs:SendMessage"], GetAtt(target, "Arn"), sid=naming.logical_id("From", topic.name),
                Principal={"Service": "sns.amazonaws.com"}, Condition={"ArnEquals": {"aws:SourceArn": Ref(resource)}},
            ))
        ctx.reg.dead_letter_queues.subscriptions.setdefault(topic.name, {})[name] = dlq
    return resource


def _rule(ctx: Context, rule: EventRule) -> events.Rule:
    """An EventBridge rule to the service's queues; undeliverable events go to a dead-letter queue of the rule's own."""
    lid = naming.logical_id(rule.name, "Rule")
    dlq = dead_letter_queue(ctx, naming.logical_id(rule.name, "EventsDeadLetterQueue"), f"Events rule '{rule.name}' could not deliver, kept 14 days")
    queues = ctx.reg.queues
    retry = events.RetryPolicy(MaximumRetryAttempts=24, MaximumEventAgeInSeconds=86400)
    handler = ctx.reg.releases[handler_name(rule.name)].alias if rule.handler else None  # the alias, never the function
    props: dict[str, object] = dict(
        Name=ctx.physical(rule.name), Description=f"{ctx.service}: {rule.name}", State="ENABLED",
        Targets=[events.Target(Id=name, Arn=GetAtt(queues[name], "Arn"), DeadLetterConfig=events.DeadLetterConfig(Arn=GetAtt(dlq, "Arn")),
                               RetryPolicy=retry) for name in rule.targets]
        + ([events.Target(Id="handler", Arn=Ref(handler), DeadLetterConfig=events.DeadLetterConfig(Arn=GetAtt(dlq, "Arn")),
                          RetryPolicy=retry)] if handler else []),
    )
    if rule.bus == FLEET_BUS:  # the fleet's bus: its name is read from SSM when the stack is deployed (the fleet stack comes first)
        props["EventBusName"] = Sub(bus_name(rule.bus))
    elif rule.bus != "default":
        props["EventBusName"] = rule.bus
    if rule.pattern:
        props["EventPattern"] = rule.pattern
    else:
        props["ScheduleExpression"] = rule.schedule
    when = "Delivers events matching its pattern" if rule.pattern else f"On {rule.schedule}, delivers an event"
    resource = ctx.add(events.Rule(lid, **props), f"{when} to {', '.join([*rule.targets, *([rule.handler.handler] if handler else [])])}")
    if handler:
        _allow_invoke(ctx, handler, naming.logical_id(rule.name, "RulePermission"), "events.amazonaws.com", GetAtt(resource, "Arn"))
    for q in [*(queues[n] for n in rule.targets), dlq]:
        ctx.reg.queue_policies.add(q, statement(
            ["sqs:SendMessage"], GetAtt(q, "Arn"), sid=naming.logical_id("From", rule.name, "Rule"),
            Principal={"Service": "events.amazonaws.com"}, Condition={"ArnEquals": {"aws:SourceArn": GetAtt(resource, "Arn")}},
        ))
    ctx.reg.dead_letter_queues.rules[rule.name] = dlq
    return resource


def _allow_invoke(ctx: Context, alias, lid: str, principal: str, source_arn) -> None:
    """Permission on the function's alias (Ref of an alias is its ARN): the alias is what the source invokes."""
    ctx.add(awslambda.Permission(lid, Action="lambda:InvokeFunction", FunctionName=Ref(alias), Principal=principal,
                                 SourceArn=source_arn, SourceAccount=Sub("${AWS::AccountId}")),
            f"Lets {principal.split('.')[0]} invoke {alias.title}, from this source only")


@layer(provides={"event_rules", "dead_letter_queues", "queue_policies"}, needs={"key", "functions", "releases", "queues", "topics"})
def wire(ctx: Context) -> None:
    """Connect what invokes functions, always through their alias: queues (event source mappings), topics (subscriptions), events rules."""
    reg = ctx.reg
    for rule in ctx.spec.messaging.events:
        with ctx.sourced(sources.named("messaging.events", rule.name)):
            reg.event_rules[rule.name] = _rule(ctx, rule)
    for topic in ctx.spec.messaging.topics:
        if topic.handler:
            fn, resource = reg.functions[handler_name(topic.name)], reg.topics[topic.name]
            alias = reg.releases[handler_name(topic.name)].alias
            with ctx.sourced(source_of(fn)):
                ctx.add(sns.SubscriptionResource(naming.logical_id(topic.name, "HandlerSubscription"), TopicArn=Ref(resource),
                                                 Protocol="lambda", Endpoint=Ref(alias)),
                        f"Every message of '{topic.name}' invokes {topic.handler.handler}")
                _allow_invoke(ctx, alias, naming.logical_id(topic.name, "TopicPermission"), "sns.amazonaws.com", Ref(resource))
    for queue in ctx.spec.messaging.queues:
        if not queue.consumer:
            continue
        fn = reg.functions[consumer_name(queue.name)]
        ctx.add(
            awslambda.EventSourceMapping(
                naming.logical_id(queue.name, "ConsumerMapping"), FunctionName=Ref(reg.releases[consumer_name(queue.name)].alias), EventSourceArn=GetAtt(reg.queues[queue.name], "Arn"),
                BatchSize=queue.consumer.batch_size, FunctionResponseTypes=["ReportBatchItemFailures"], Enabled=True,
            ),
            f"Delivers '{queue.name}' to {queue.consumer.handler}; failed messages return to the queue, then its dead-letter queue",
            source=source_of(fn),
        )


@layer(needs={"queue_policies"})
def policies(ctx: Context) -> None:
    """Emit one QueuePolicy per queue, once every step that adds statements (``provides={"queue_policies"}``) has run."""
    for queue, statements in ctx.reg.queue_policies:
        lid = queue.title
        ctx.add(
            sqs.QueuePolicy(f"{lid}Policy", Queues=[Ref(queue)], PolicyDocument=document(*statements)),
            f"Policy of {lid}: TLS only" + (" and the topics that deliver to it" if len(statements) > 1 else ""),
            source=source_of(queue),
        )
