"""Positions of values and keys, so every message can point into the file."""

from __future__ import annotations

import pytest

from generator.errors import SpecError
from generator.spec import parse_spec
from generator.spec.loader import dotted, parse_located


def test_positions_of_values_and_keys():
    loc = parse_located("a: 1\nb:\n  - {c: x, d: [1, 2]}\n", "f.yaml")
    assert loc.values[("a",)] == (1, 4)
    assert loc.values[("b", 0, "d", 1)] == (3, 19)
    assert loc.keys[("b", 0, "c")] == (3, 6)
    assert loc.position(("b", 0, "missing")) == (3, 5)


def test_dotted():
    assert dotted(("api", "routes", 0, "method")) == "api.routes[0].method"


def test_merge_keys_and_anchors_work():
    loc = parse_located("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n", "f.yaml")
    assert loc.data["other"] == {"x": 1, "y": 2}


def test_missing_key_points_at_its_parent_mapping():
    with pytest.raises(SpecError) as err:
        parse_spec("service: abc-svc\nteam: t\napi:\n  auth: iam\n", "s.yaml")
    assert str(err.value) == "s.yaml:4:3: api.routes: required key is missing"
