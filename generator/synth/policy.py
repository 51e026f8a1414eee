"""IAM policy documents as plain data. No wildcard actions, ever: tests enforce it."""

from __future__ import annotations

from typing import Any

from troposphere import Sub


def statement(actions: list[str], resources: list[Any] | Any, effect: str = "Allow", sid: str | None = None, **extra: Any) -> dict[str, Any]:
    st: dict[str, Any] = {}
    if sid:
        st["Sid"] = sid
    st["Effect"] = effect
    st.update(extra)
    st["Action"] = sorted(set(actions))
    st["Resource"] = resources if isinstance(resources, list) else [resources]
    return st


def document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def assume_role(service: str) -> dict[str, Any]:
    return document(
        {
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": ["sts:AssumeRole"],
            "Condition": {"StringEquals": {"aws:SourceAccount": Sub("${AWS::AccountId}")}},
        }
    )


def deny_insecure_transport(resources: list[Any], action: str) -> dict[str, Any]:
    """Bucket/queue/topic policy statement refusing any request that is not over TLS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": [action],
        "Resource": resources,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def api_gateway_push_logs() -> dict[str, Any]:
    """The policy of API Gateway's account-wide CloudWatch role (msgen bootstrap; or a service stack that opts in)."""
    return document(statement(
        ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogGroups", "logs:DescribeLogStreams",
         "logs:FilterLogEvents", "logs:GetLogEvents", "logs:PutLogEvents"],
        Sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"), sid="PushLogs",
    ))
