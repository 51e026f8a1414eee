"""The idle-cost price table accounts for every resource type msgen emits (scripts/check_prices.py)."""

from __future__ import annotations

import importlib.util
import json

from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("check_prices", ROOT / "scripts" / "check_prices.py")
check_prices = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_prices)


def _emitted() -> set[str]:
    return check_prices.golden_types() | check_prices.source_types() | check_prices.PLANNED


def test_every_emitted_resource_type_is_priced_by_use_or_free():
    raw = check_prices.PRICES.read_text(encoding="utf-8")
    assert check_prices.check(json.loads(raw), _emitted(), raw) == []


def test_a_type_missing_from_the_table_is_reported():
    table = json.loads(check_prices.PRICES.read_text(encoding="utf-8"))
    table["free"] = [t for t in table["free"] if t != "AWS::IAM::Role"]
    assert any("AWS::IAM::Role" in e for e in check_prices.check(table, _emitted()))
