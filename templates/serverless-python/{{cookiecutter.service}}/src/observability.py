"""The service's Powertools Logger, Tracer and Metrics, shared by every module.

Configuration comes from the function's environment (set by the CloudFormation template):
POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, and the log level Lambda passes in.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
