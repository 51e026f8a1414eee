"""msgen's own cfn-lint rules, appended to cfn-lint's built-in rules (one rule per file)."""
