"""E9101: an IAM Allow statement must not grant a wildcard action."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

POLICY_PATHS = {
    "AWS::IAM::Role": ("Policies",),
    "AWS::IAM::Policy": ("PolicyDocument",),
    "AWS::IAM::ManagedPolicy": ("PolicyDocument",),
}


class NoWildcardActions(CloudFormationLintRule):
    id = "E9101"
    shortdesc = "No wildcard actions in IAM Allow statements"
    description = "Least privilege: Allow statements list the actions they need; '*' or 'service:*' grants everything"
    source_url = "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege"
    tags = ["iam", "msgen"]

    def match(self, cfn):
        matches = []
        for name, resource in cfn.get_resources(list(POLICY_PATHS)).items():
            props = resource.get("Properties") or {}
            docs = []
            if resource["Type"] == "AWS::IAM::Role":
                for i, policy in enumerate(props.get("Policies") or []):
                    if isinstance(policy, dict):
                        docs.append((["Resources", name, "Properties", "Policies", i, "PolicyDocument"], policy.get("PolicyDocument")))
            else:
                docs.append((["Resources", name, "Properties", "PolicyDocument"], props.get("PolicyDocument")))
            for path, doc in docs:
                statements = (doc or {}).get("Statement") if isinstance(doc, dict) else None
                if isinstance(statements, dict):
                    statements = [statements]
                for s, st in enumerate(statements or []):
                    if not isinstance(st, dict) or st.get("Effect") != "Allow":
                        continue
                    actions = st.get("Action", [])
                    for a, action in enumerate(actions if isinstance(actions, list) else [actions]):
                        if isinstance(action, str) and (action == "*" or action.endswith(":*") or "*" in action):
                            matches.append(RuleMatch(path + ["Statement", s, "Action", a],
                                                     f"{name}: Allow statement grants wildcard action '{action}'; list the actions instead"))
        return matches
