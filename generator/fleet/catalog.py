"""Backstage catalogue entries (``catalog-info.yaml``) for a generated repository and for a fleet repository.

A service repository gets two entities (https://backstage.io/docs/features/software-catalog/descriptor-format):

* a ``Component`` (``spec.type: service``) named after the service, owned by its team (``group:<team>``), in the
  fleet's ``System`` when it belongs to one, with ``providesApis`` (its own API), ``consumesApis`` (the APIs of the
  services it calls) and ``dependsOn`` (the services it calls, and those whose events it listens for on the fleet bus);
* an ``API`` (``spec.type: openapi``) whose definition is the repository's OpenAPI document, read by Backstage
  through its ``$text`` placeholder (the file path is :data:`OPENAPI_PATH`, relative to catalog-info.yaml).

A fleet repository gets a ``System`` named after the fleet and a ``Location`` listing every service's
catalog-info.yaml (in the service repositories ``msgen fleet new`` writes beside it). Calls and events come from :func:`generator.spec.refs.service_refs`, as fleet validation reads
them. The documents are valid against Backstage's published entity schemas (tests/test_catalog.py checks them with
the schemas committed under tests/fixtures/backstage/).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

import yaml

API_VERSION = "backstage.io/v1alpha1"
OPENAPI_PATH = "api/openapi.yaml"  # the OpenAPI 3 document of the generated repository, relative to catalog-info.yaml (its root)
CATALOG_FILE = "catalog-info.yaml"
MAX_NAME = 63  # Backstage entity names: 1-63 characters, [a-zA-Z0-9] runs separated by one of - _ .


def entity_name(text: str) -> str:
    """A Backstage entity name from free text (a team, a fleet): lower case, runs of other characters become '-'."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:MAX_NAME].rstrip("-")
    return name or "unknown"


def api_name(service: str) -> str:
    return f"{service}-api"


def lifecycle(spec: Any) -> str:
    """``production`` when the service has a prod or production environment, else ``experimental``."""
    return "production" if {"prod", "production"} & set(spec.environment_names) else "experimental"


def _dump(documents: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1_000_000,
                              explicit_start=True)


def service_entities(loaded_spec: Any, fleet_name: str | None) -> list[dict[str, Any]]:
    """The Component and API entities of one service (``loaded_spec``: a LoadedSpec or a ServiceSpec)."""
    from generator.spec.refs import service_refs

    spec = getattr(loaded_spec, "spec", loaded_spec)
    refs = service_refs(spec)
    owner = f"group:{entity_name(spec.team)}"
    stage = lifecycle(spec)
    description = spec.description or f"The {spec.service} microservice"
    callees = sorted({c.service for c in refs.calls})
    sources = sorted({listen.source for listen in refs.listens} - {spec.service})
    system = {"system": entity_name(fleet_name)} if fleet_name else {}
    component_spec: dict[str, Any] = {"type": "service", "lifecycle": stage, "owner": owner, **system,
                                      "providesApis": [api_name(spec.service)]}
    if callees:
        component_spec["consumesApis"] = [api_name(c) for c in callees]
    depends = [f"component:{c}" for c in sorted(set(callees) | set(sources))]
    if depends:
        component_spec["dependsOn"] = depends
    annotations = {"msgen.dev/pattern": spec.pattern}
    if refs.emits:
        annotations["msgen.dev/emits"] = ", ".join(refs.emits)
    if refs.listens:
        annotations["msgen.dev/listens"] = ", ".join(sorted({f"{x.source}/{x.detail_type}" for x in refs.listens}))
    component = {
        "apiVersion": API_VERSION, "kind": "Component",
        "metadata": {"name": spec.service, "description": description, "annotations": annotations, "tags": ["msgen", spec.pattern]},
        "spec": component_spec,
    }
    api = {
        "apiVersion": API_VERSION, "kind": "API",
        "metadata": {"name": api_name(spec.service), "description": f"HTTP API of {spec.service} (OpenAPI 3, generated from service.yaml)",
                     "tags": ["msgen", "openapi"]},
        "spec": {"type": "openapi", "lifecycle": stage, "owner": owner, **system, "definition": {"$text": f"./{OPENAPI_PATH}"}},
    }
    return [component, api]


def catalog_info(loaded_spec: Any, fleet_name: str | None = None) -> str:
    """The generated repository's catalog-info.yaml (YAML, two documents), deterministic for the same spec."""
    return _dump(service_entities(loaded_spec, fleet_name))


def _relative(path: str) -> str:
    """A Location target relative to the fleet's catalog-info.yaml (Backstage resolves it against the Location's own place)."""
    return path if path.startswith(("../", "/")) else f"./{path}"


def fleet_entities(loaded_fleet: Any, repository: Callable[[str], str] | None = None) -> list[dict[str, Any]]:
    """The fleet repository's System and the Location of its services' catalog-info.yaml files.

    ``repository(service)`` is where a service's repository is, relative to the fleet repository: by default
    ``../<service>``, where ``msgen fleet new`` puts it beside the fleet's own repository.
    """
    fleet = loaded_fleet.fleet
    name = entity_name(fleet.name)
    where = repository or (lambda service: f"../{service}")
    targets = [_relative(str(PurePosixPath(where(service)) / CATALOG_FILE)) for service in loaded_fleet.services]
    system = {
        "apiVersion": API_VERSION, "kind": "System",
        "metadata": {"name": name, "description": fleet.description or f"The {fleet.name} fleet of msgen services",
                     "annotations": {"msgen.dev/services": ", ".join(loaded_fleet.services)}, "tags": ["msgen", "fleet"]},
        "spec": {"owner": f"group:{entity_name(fleet.owner)}"},
    }
    location = {
        "apiVersion": API_VERSION, "kind": "Location",
        "metadata": {"name": f"{name}-services", "description": f"The catalog-info.yaml of every service of fleet {fleet.name}"},
        "spec": {"type": "url", "targets": targets},
    }
    return [system, location]


def fleet_catalog(loaded_fleet: Any, repository: Callable[[str], str] | None = None) -> str:
    """The fleet repository's catalog-info.yaml: the fleet's System and a Location of every service's entities
    (each service's repository at ``repository(service)``, by default ``../<service>``)."""
    return _dump(fleet_entities(loaded_fleet, repository))
