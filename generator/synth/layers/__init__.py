"""One module per layer of a microservice on AWS; each adds its part of the spec to the template.

A layer's steps are functions of the :class:`~generator.synth.context.Context` declared with
``@layer(provides=..., needs=...)`` (generator.synth.registry): what they register in ``ctx.reg`` (functions,
tables, log groups, policy statements, ...) and what they read from it. A layer refers to another layer's
resources only through the registry, never by writing its logical ID. ``generator.synth.pipeline`` lists
the steps (security, persistence, messaging, network, database, application, workflows, containers,
messaging.wire, api, content_delivery, then the observability passes, the resource policies and the
outputs) and derives the order from the declarations: a step runs after every step that provides what it
needs, ties keep the listed order. Some modules have more than one step: ``messaging.wire`` runs once the
functions exist, and the queue and bucket policies (``messaging.policies``, ``persistence.bucket_policies``)
need every statement, so they run after every step that adds one. While a step runs, the registry refuses
any field the step did not declare.
"""
