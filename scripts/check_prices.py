"""Check the idle-cost price table (generator/data/prices.json) against what msgen emits.

Every CloudFormation resource type msgen can emit must be in exactly one of the table's `resources` (priced when idle),
`by_use` (zero when idle) or `free` lists. The emitted types are the union of
  - the types in the golden templates (tests/golden/*.yaml),
  - the troposphere resource classes that generator/ instantiates (found by reading its source, so types that no
    blueprint exercises count too),
  - PLANNED: types being added (OpenSearch Serverless) before any layer emits them.
A type listed in the table that msgen does not emit is stale and also an error. The script also checks the header, that
every price has a rate and https sources listed in the header, that `unverified` names exactly the prices marked so, and
that the file is written canonically (sorted keys, 2-space indent) so that diffs stay small.

Usage: python scripts/check_prices.py   (exit 0 when the table is complete; prints the unverified prices)
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRICES = ROOT / "generator" / "data" / "prices.json"
GOLDEN = ROOT / "tests" / "golden"
SOURCE = ROOT / "generator"
PLANNED = frozenset({
    "AWS::OpenSearchServerless::AccessPolicy",
    "AWS::OpenSearchServerless::Collection",
    "AWS::OpenSearchServerless::SecurityPolicy",
    "AWS::OpenSearchServerless::VpcEndpoint",
})
HEADER = {"region": "us-east-1", "currency": "USD", "hours_per_month": 730}
TYPE_LINE = re.compile(r"^\s+Type: (AWS::[A-Za-z0-9]+::[A-Za-z0-9]+)\s*$", re.MULTILINE)


def golden_types(folder: Path = GOLDEN) -> set[str]:
    return {m for path in sorted(folder.glob("*.yaml")) for m in TYPE_LINE.findall(path.read_text(encoding="utf-8"))}


def source_types(folder: Path = SOURCE) -> set[str]:
    """Resource types of the troposphere classes called in generator/ (`module.Class(...)` after `from troposphere import module`)."""
    import importlib

    from troposphere import AWSObject

    found: set[str] = set()
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        modules: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "troposphere":
                for alias in node.names:
                    modules[alias.asname or alias.name] = alias.name
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("troposphere."):
                for alias in node.names:  # from troposphere.x import Class
                    modules[alias.asname or alias.name] = f"{node.module[len('troposphere.'):]}:{alias.name}"
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in modules:
                module, name = modules[func.value.id], func.attr
            elif isinstance(func, ast.Name) and ":" in modules.get(func.id, ""):
                module, name = modules[func.id].split(":")
            else:
                continue
            try:
                cls = getattr(importlib.import_module(f"troposphere.{module}"), name, None)
            except ImportError:
                continue
            if isinstance(cls, type) and issubclass(cls, AWSObject) and getattr(cls, "resource_type", None):
                found.add(cls.resource_type)
    return found


def _walk_prices(table: dict):
    """Yield (path, price) for every price object: resources.<type>.prices.<name> and storage.<type>.prices.<name>."""
    for section in ("resources", "storage"):
        for rtype, entry in sorted(table.get(section, {}).items()):
            for name, price in sorted(entry.get("prices", {}).items()):
                yield f"{section}.{rtype}.prices.{name}", price


def check(table: dict, emitted: set[str], raw: str | None = None) -> list[str]:
    errors: list[str] = []
    for key, value in HEADER.items():
        if table.get(key) != value:
            errors.append(f"header {key!r} is {table.get(key)!r}, expected {value!r}")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(table.get("checked", ""))):
        errors.append("header 'checked' must be a YYYY-MM-DD date")
    resources, by_use, free = table.get("resources", {}), table.get("by_use", []), table.get("free", [])
    for name, listed in (("by_use", by_use), ("free", free)):
        if listed != sorted(set(listed)):
            errors.append(f"{name} must be sorted and without duplicates")
    places: dict[str, list[str]] = {}
    for name, listed in (("resources", list(resources)), ("by_use", by_use), ("free", free)):
        for rtype in listed:
            places.setdefault(rtype, []).append(name)
    for rtype in sorted(emitted):
        if rtype not in places:
            errors.append(f"{rtype} is emitted but neither priced (resources) nor listed in by_use or free")
    for rtype, where in sorted(places.items()):
        if len(where) > 1:
            errors.append(f"{rtype} is in more than one of resources/by_use/free: {', '.join(where)}")
        if rtype not in emitted:
            errors.append(f"{rtype} is in {where[0]} but msgen does not emit it (stale entry)")
    for rtype in sorted(set(table.get("storage", {})) - set(places)):
        errors.append(f"storage.{rtype} is not a type in resources/by_use/free")
    for rtype, entry in sorted(resources.items()):
        for field in ("unit", "how", "prices"):
            if not entry.get(field):
                errors.append(f"resources.{rtype} has no {field!r}")
        monthly = entry.get("monthly", "missing")
        if monthly is not None and (isinstance(monthly, bool) or not isinstance(monthly, int | float) or monthly < 0):
            errors.append(f"resources.{rtype}.monthly must be a non-negative number or null")
    sources = set(table.get("sources", []))
    if any(not url.startswith("https://") for url in sources):
        errors.append("every header source must be an https URL")
    marked: list[str] = []
    for path, price in _walk_prices(table):
        rate = price.get("rate")
        if isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 0:
            errors.append(f"{path}: rate must be a non-negative number")
        if not price.get("per"):
            errors.append(f"{path}: 'per' (the unit of the rate) is missing")
        cited = price.get("sources") or []
        if not cited:
            errors.append(f"{path}: no source URL")
        for url in cited:
            if url not in sources:
                errors.append(f"{path}: source {url} is not in the header's sources")
        if price.get("unverified") is True:
            marked.append(path)
    if sorted(marked) != table.get("unverified"):
        errors.append("the header list 'unverified' must name exactly the prices marked unverified: true")
    if raw is not None and raw != json.dumps(table, indent=2, sort_keys=True, ensure_ascii=False) + "\n":
        errors.append(f"{PRICES.relative_to(ROOT)} is not canonical: write it with json.dumps(indent=2, sort_keys=True) and a final newline")
    return errors


def main() -> int:
    raw = PRICES.read_text(encoding="utf-8")
    table = json.loads(raw)
    from_golden, from_source = golden_types(), source_types()
    if not from_golden or not from_source:
        print("check_prices: found no resource types (golden templates or generator source missing?)", file=sys.stderr)
        return 1
    emitted = from_golden | from_source | PLANNED
    errors = check(table, emitted, raw)
    for error in errors:
        print(f"check_prices: {error}", file=sys.stderr)
    if errors:
        return 1
    print(f"check_prices: {len(emitted)} resource types, all accounted for ({len(table['resources'])} priced, {len(table['by_use'])} by use, "
          f"{len(table['free'])} free); {table['region']}, {table['currency']}, checked {table['checked']}")
    only_source = sorted(from_source - from_golden)
    if only_source:
        print(f"check_prices: emitted by generator/ but in no golden template: {', '.join(only_source)}")
    for path in table["unverified"]:
        print(f"check_prices: unverified: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
