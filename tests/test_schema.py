from __future__ import annotations

import json

from generator.spec import json_schema
from tests.conftest import ROOT

COMMITTED = ROOT / "generator" / "spec" / "service.schema.json"


def test_committed_schema_is_up_to_date():
    assert COMMITTED.read_text() == json_schema(), "run: msgen schema > generator/spec/service.schema.json"


def test_schema_forbids_unknown_keys_and_describes_the_spec():
    schema = json.loads(json_schema())
    assert schema["additionalProperties"] is False
    assert {"service", "team", "api"} <= set(schema["required"])
    assert all(d.get("additionalProperties") is False for d in schema["$defs"].values() if d.get("type") == "object")


def test_schema_command_prints_it(cli):
    result = cli("schema")
    assert result.exit_code == 0 and result.stdout == json_schema()
