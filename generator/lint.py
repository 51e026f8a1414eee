"""cfn-lint, in process, over a template text; findings as ``file:line:col: RULE message``."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from generator.errors import InputError

RULES_DIR = str(Path(__file__).resolve().parent / "lint_rules")
DEFAULT_REGIONS = ("us-east-1",)


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    column: int
    rule: str
    message: str

    @property
    def level(self) -> str:
        return {"E": "error", "W": "warning", "I": "info"}.get(self.rule[:1], "error")

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.rule} {self.message}"


def check_regions(regions: tuple[str, ...] | list[str]) -> None:
    """Raise InputError naming every Region cfn-lint does not know, with the nearest known ones."""
    from cfnlint.helpers import REGIONS  # cfn-lint's own list: the Regions it has resource specifications for

    problems = []
    for region in dict.fromkeys(regions):
        if region in REGIONS or region == "ALL_REGIONS":
            continue
        near = difflib.get_close_matches(region.strip().lower(), REGIONS, n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(near)}?" if near else f"known Regions: {', '.join(sorted(REGIONS))}"
        problems.append(f"unknown Region {region!r} ({hint})")
    if problems:
        raise InputError("; ".join(problems))


def lint_text(text: str, filename: str, regions: tuple[str, ...] = DEFAULT_REGIONS, info: bool = False) -> list[Finding]:
    """Lint a template with cfn-lint's rules plus msgen's (``generator/lint_rules``)."""
    from cfnlint.api import ManualArgs, lint  # imported here: cfn-lint takes about a second to import

    check_regions(regions)
    config = ManualArgs(regions=list(regions), append_rules=[RULES_DIR])
    if info:
        config["include_checks"] = ["I"]
    matches = lint(text, config=config)
    findings = {
        Finding(filename, m.linenumber, m.columnnumber, m.rule.id, " ".join(str(m.message).split()))
        for m in matches
    }
    return sorted(findings, key=lambda f: (f.line, f.column, f.rule, f.message))
