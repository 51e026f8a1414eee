"""The JSON Schema of the spec (`msgen schema`, generator/spec/service.schema.json, a generated repository's .msgen/).

It is pydantic's validation-mode schema of :class:`~generator.spec.models.ServiceSpec`, so it describes what msgen
reads: the shorthand forms its before-validators accept (``partition_key: id``, ``method: get``) and the values its
after-validators refuse are declared next to those validators in models.py. Rules across fields (``uses:`` naming a
resource of the service, duplicate routes, ...) are not in the schema; they live in :mod:`generator.spec.checks`.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "https://msgen.dev/schemas/service.schema.json"


class SpecJsonSchema(GenerateJsonSchema):
    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        # pydantic writes a key pattern as patternProperties, which lets keys that do not match it through
        # unchecked; the model refuses them, so the pattern belongs in propertyNames.
        out = super().dict_schema(schema)
        patterns = out.pop("patternProperties", None)
        if patterns:
            ((pattern, values),) = patterns.items()
            out["propertyNames"] = {"pattern": pattern, **out.get("propertyNames", {})}
            out["additionalProperties"] = values
        return out


def committed_schema() -> str:
    """generator/spec/service.schema.json: :func:`json_schema` as committed (tests/test_schema.py keeps the two equal) and
    shipped in the wheel. `msgen new` copies it into the repository rather than have pydantic generate it once more."""
    return Path(__file__).with_name("service.schema.json").read_text(encoding="utf-8")


def json_schema() -> str:
    """The JSON Schema of the spec, as committed in generator/spec/service.schema.json (sorted keys, so stable)."""
    from generator.spec.models import ServiceSpec

    schema = ServiceSpec.model_json_schema(mode="validation", schema_generator=SpecJsonSchema)
    schema["$schema"] = SCHEMA_DIALECT
    schema["$id"] = SCHEMA_ID
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
