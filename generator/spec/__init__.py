"""The service spec: model, loader and validation.

Names are exported lazily (PEP 562) so that importing the light loader does not import pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from generator.spec.models import ServiceSpec
    from generator.spec.schema import json_schema
    from generator.spec.validate import attach_workflows, load_spec, parse_spec, validate_located

__all__ = ["ServiceSpec", "load_spec", "parse_spec", "validate_located", "attach_workflows", "json_schema"]


def __getattr__(name: str) -> Any:
    if name == "ServiceSpec":
        from generator.spec.models import ServiceSpec

        return ServiceSpec
    if name == "json_schema":
        from generator.spec.schema import json_schema

        return json_schema
    if name in __all__:
        from generator.spec import validate

        return getattr(validate, name)
    raise AttributeError(f"module 'generator.spec' has no attribute {name!r}")
