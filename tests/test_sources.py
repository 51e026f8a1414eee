"""Every resource says which spec element it came from (Metadata.msgen.source), by name, never by position or file."""

from __future__ import annotations

import pytest
import yaml

from generator import sources
from generator.spec import load_spec
from generator.spec.models import ServiceSpec
from generator.synth.pipeline import build_template
from tests.conftest import BLUEPRINTS

NAMES = sorted(BLUEPRINTS)


@pytest.mark.parametrize("name", NAMES)
def test_every_resource_names_a_spec_element_that_exists(name):
    data = yaml.safe_load(BLUEPRINTS[name].read_text(encoding="utf-8"))
    for lid, resource in build_template(load_spec(BLUEPRINTS[name]))["Resources"].items():
        source = resource["Metadata"]["msgen"]["source"]
        top = source.split(".")[0].split("[")[0]
        assert top in ServiceSpec.model_fields, (lid, source)
        if "[" in source:  # a named element: it must be in the spec
            assert sources.to_path(source, data) is not None, (lid, source)
        assert ".yaml" not in source and not any(ch.isdigit() for ch in source.split("[")[0]), (lid, source)


def test_a_source_does_not_change_when_the_spec_is_reordered():
    data = yaml.safe_load(BLUEPRINTS["micro-api"].read_text(encoding="utf-8"))
    first = build_template(ServiceSpec.model_validate(data))["Resources"]
    data["api"]["routes"].reverse()
    data["persistence"]["tables"].reverse()
    second = build_template(ServiceSpec.model_validate(data))["Resources"]
    for lid in first.keys() & second.keys():  # (the API deployment's ID hashes the routes on purpose: see naming)
        assert first[lid]["Metadata"]["msgen"]["source"] == second[lid]["Metadata"]["msgen"]["source"], lid


def test_sources_map_back_to_list_positions():
    data = {"api": {"routes": [{"method": "get", "path": "/a"}, {"method": "POST", "path": "/a"}]},
            "persistence": {"tables": [{"name": "x"}, {"name": "y"}]}, "messaging": {"queues": [{"name": "q", "consumer": {}}]}}
    assert sources.to_path("api.routes[POST /a]", data) == ("api", "routes", 1)
    assert sources.to_path("api.routes[GET /a]", data) == ("api", "routes", 0)
    assert sources.to_path("persistence.tables[y]", data) == ("persistence", "tables", 1)
    assert sources.to_path("messaging.queues[q].consumer", data) == ("messaging", "queues", 0, "consumer")
    assert sources.to_path("persistence.tables[z]", data) is None
    assert sources.to_path("service", data) == ("service",)
