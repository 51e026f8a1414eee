"""pipeline.render's YAML: its one-walk representer gives exactly what PyYAML's SafeRepresenter gives (issue 12 §2)."""

from __future__ import annotations

import math

import pytest
import yaml

from generator.spec import load_spec
from generator.synth import pipeline
from tests.conftest import BLUEPRINTS


class _PyYAMLDumper(pipeline._Dumper):
    """The same dumper with PyYAML's own representer walk."""

    represent = yaml.representer.BaseRepresenter.represent


def _both(data: object) -> tuple[str, str]:
    options = {"sort_keys": False, "default_flow_style": False, "allow_unicode": True, "width": 10_000}
    return pipeline.render(data), yaml.dump(data, Dumper=_PyYAMLDumper, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(BLUEPRINTS))
def test_every_blueprint_template_is_written_as_pyyaml_writes_it(name):
    fast, general = _both(pipeline.build_template(load_spec(BLUEPRINTS[name])))
    assert fast == general


SHARED = {"Ref": "Shared"}


@pytest.mark.parametrize("data", [
    {"a": 1, "b": -2, "c": True, "d": False, "e": None, "f": "", "g": "yes", "h": "012", "i": "1.5", "j": "null", "k": "~"},
    {"floats": [0.5, 1.0, -2.25, 1e20, 1e-7, math.inf, -math.inf, math.nan], "big": 10**30},
    {"text": "line one\nline two\n", "unicode": "Zürich – 東京", "quotes": "it's \"quoted\"", "colon": "a: b", "hash": "#x"},
    {"empty": {}, "none": [], "nested": [[1, [2, []]], {"x": {"y": {}}}]},
    {"one": SHARED, "two": SHARED},  # the same dict twice: PyYAML writes an anchor and an alias
    {"tuple": (1, 2)},  # not a template value: PyYAML's own error
])
def test_unusual_values_are_written_as_pyyaml_writes_them(data):
    try:
        general = _both(data)[1]
    except yaml.YAMLError as exc:
        with pytest.raises(type(exc)):
            pipeline.render(data)
        return
    assert pipeline.render(data) == general
