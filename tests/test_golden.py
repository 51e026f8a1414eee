"""Synthesized templates match the reviewed golden files, compared section by section and resource by resource.

Regenerate with `make golden` (scripts/update_golden.py) and review the diff.
"""

from __future__ import annotations

import pytest
import yaml

from generator.spec import load_spec
from generator.synth.pipeline import synthesize
from tests.conftest import BLUEPRINTS, ROOT

GOLDEN = ROOT / "tests" / "golden"


def test_every_blueprint_has_a_golden_file_and_no_strays():
    assert sorted(p.name for p in GOLDEN.glob("*.template.yaml")) == sorted(f"{n}.template.yaml" for n in BLUEPRINTS)


@pytest.mark.parametrize("name", sorted(BLUEPRINTS))
def test_template_matches_golden(name):
    golden_text = (GOLDEN / f"{name}.template.yaml").read_text()
    actual_text = synthesize(load_spec(BLUEPRINTS[name]))
    golden, actual = yaml.safe_load(golden_text), yaml.safe_load(actual_text)
    assert list(actual) == list(golden), "top-level sections differ"
    for section in golden:
        if section not in ("Resources", "Outputs", "Parameters"):
            assert actual[section] == golden[section], f"{section} differs"
            continue
        missing = sorted(set(golden[section]) - set(actual[section]))
        extra = sorted(set(actual[section]) - set(golden[section]))
        assert not missing and not extra, f"{section}: missing {missing}, unexpected {extra} (run `make golden` if intended)"
        for lid in golden[section]:
            assert actual[section][lid] == golden[section][lid], f"{section}.{lid} differs from tests/golden/{name}.template.yaml"
    assert actual_text == golden_text, "same content but different bytes (ordering or formatting changed)"
