"""Standards every stack is born with: log conventions, correlation IDs, alarms and a dashboard.

These are pipeline steps like the layers (see generator.synth.layers), declared to need what the layers
register in the typed registry (``ctx.reg``: functions, tables, queues, log groups, ...), so they run after
them. A log group registered with ``reg.log_groups.add(group, app=...)`` gets its error metric, alarm and
'Recent errors' source without a change here; alarms and the dashboard walk the registry kind by kind, so a
new kind of component adds a branch to each. ``logs`` amends the API stage (its DependsOn gains the
execution log group), so it both needs and provides ``api_stage``; ``dashboard`` needs the ``alarms`` that
``alarms`` registers.
"""
