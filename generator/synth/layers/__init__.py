"""One module per layer of a microservice on AWS; each adds its part of the spec to the template.

Order matters only through Context.refs: security (the KMS key) first, then
persistence, application, API and content delivery, each reading what the
earlier layers registered.
"""
