"""Fleet discovery through SSM Parameter Store, in one place: the parameter names services and the fleet stack publish.

CloudFormation exports would lock the stacks together (an export in use can change in neither stack), so every
service stack publishes ``/msgen/<env>/<service>/api-id`` and ``/api-url`` as ``AWS::SSM::Parameter`` (String), the
fleet stack ``/msgen/<env>/fleet/event-bus-name``, ``/event-bus-arn`` and ``/name``; a stack that needs them reads
them when it is deployed, with CloudFormation dynamic references ``{{resolve:ssm:<name>}}`` (inside ``Fn::Sub``, so
``${Environment}`` is the stack's own environment). Hence callees, and the fleet stack, are deployed before callers.
docs/standards.md ("Fleet") documents the names. Nothing here imports troposphere.
"""

from __future__ import annotations

ENVIRONMENT = "${Environment}"  # the stack's parameter, inside Fn::Sub
SERVICE_PARAMETERS = ("api-id", "api-url")  # what every service stack publishes
FLEET_PARAMETERS = ("event-bus-name", "event-bus-arn", "name")  # what the fleet stack publishes
FLEET_BUS = "fleet"  # messaging.events[].bus that means the fleet's bus


def service_parameter(service: str, name: str, env: str = ENVIRONMENT) -> str:
    """``/msgen/<env>/<service>/<name>``, e.g. /msgen/dev/catalog-svc/api-url."""
    return f"/msgen/{env}/{service}/{name}"


def fleet_parameter(name: str, env: str = ENVIRONMENT) -> str:
    """``/msgen/<env>/fleet/<name>``, e.g. /msgen/dev/fleet/event-bus-arn."""
    return f"/msgen/{env}/fleet/{name}"


def resolve(parameter: str) -> str:
    """A CloudFormation dynamic reference to a String parameter (put it in Fn::Sub when it holds ${Environment})."""
    return "{{resolve:ssm:" + parameter + "}}"


def bus_name(bus: str) -> str:
    """What a rule's EventBusName is: the fleet bus's name read from SSM, or the bus the spec names."""
    return resolve(fleet_parameter("event-bus-name")) if bus == FLEET_BUS else bus
