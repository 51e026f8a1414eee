"""Standards every stack is born with: log conventions, correlation IDs, alarms and a dashboard.

These passes run after the layers, over the resources the layers registered in Context.refs, so a
new component gets its logs, alarms and widgets by registering itself, not by editing these files.
"""
