"""Backstage catalogue entries (generator.fleet.catalog), checked with Backstage's own entity schemas (offline)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest
import yaml
from referencing import Registry
from referencing.jsonschema import DRAFT7

from generator.api import load_spec
from generator.fleet.catalog import OPENAPI_PATH, catalog_info, entity_name, fleet_catalog
from generator.fleet.model import Fleet
from tests.conftest import BLUEPRINTS, ROOT

SCHEMAS = ROOT / "tests" / "fixtures" / "backstage"
KIND_SCHEMA = {"Component": "ComponentV1alpha1", "API": "ApiV1alpha1", "System": "SystemV1alpha1", "Location": "LocationV1alpha1"}
# Backstage's entity name rule (catalog-model's KubernetesValidatorFunctions.isValidObjectName): 1-63 characters,
# [a-zA-Z0-9] runs separated by single '-', '_' or '.'; tags: lower-case words joined by '-' (isValidTag).
NAME_RE = r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$"
TAG_RE = r"^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$"

CHECKOUT = """\
service: checkout-svc
team: Checkout & Payments
description: Takes orders
environments: [dev, prod]
emits: [OrderPlaced]
api:
  auth: iam
  routes:
    - method: POST
      path: /orders
      handler: orders.create
      uses: ["catalog-svc:invoke", "orders:write"]
    - method: GET
      path: /orders/{id}
      handler: orders.get
      uses: ["orders:read", "payment-svc:invoke:GET /payments/{id}"]
persistence:
  tables:
    - name: orders
      partition_key: id
messaging:
  queues:
    - name: settled
      consumer:
        handler: settle.handle
        uses: ["orders:write"]
  events:
    - name: payment-settled
      bus: fleet
      pattern:
        source: [payment-svc]
        detail-type: [PaymentSettled]
      targets: [settled]
"""


@cache
def schemas() -> dict[str, dict]:
    found = {}
    for path in sorted(SCHEMAS.rglob("*.schema.json")):
        schema = json.loads(path.read_text())
        found[schema["$id"]] = schema
    return found


@cache
def registry() -> Registry:
    """Backstage's schemas refer to each other by bare $id (Entity, EntityMeta, common#relation): resolved among the fixtures only."""
    return Registry().with_resources([(sid, DRAFT7.create_resource(s)) for sid, s in schemas().items()])


def with_placeholders_resolved(entity: dict, directory: Path | None = None) -> dict:
    """Backstage replaces ``{$text: path}`` by the file's text before it validates an entity (its placeholder processor)."""
    entity = json.loads(json.dumps(entity))
    definition = entity.get("spec", {}).get("definition")
    if isinstance(definition, dict):
        assert list(definition) == ["$text"], definition
        path = (directory / definition["$text"]) if directory else None
        entity["spec"]["definition"] = path.read_text() if path and path.exists() else "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n"
    return entity


def problems(entity: dict, directory: Path | None = None, resolve: bool = True) -> list[str]:
    entity = with_placeholders_resolved(entity, directory) if resolve else entity
    found = []
    for sid in ("EntityEnvelope", KIND_SCHEMA[entity["kind"]]):
        validator = jsonschema.Draft7Validator(schemas()[sid], registry=registry())
        found += [f"{sid}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(entity)]
    meta = entity["metadata"]
    if not (len(meta["name"]) <= 63 and re.match(NAME_RE, meta["name"])):
        found.append(f"name {meta['name']!r} is not a Backstage entity name")
    found += [f"tag {t!r}" for t in meta.get("tags", []) if not (len(t) <= 63 and re.match(TAG_RE, t))]
    return found


def docs(text: str) -> list[dict]:
    return list(yaml.safe_load_all(text))


@pytest.fixture
def checkout(tmp_path):
    path = tmp_path / "service.yaml"
    path.write_text(CHECKOUT)
    return load_spec(path)


# --- the schemas themselves ----------------------------------------------------------------------------------------

def test_the_schemas_reject_what_backstage_rejects():
    component = {"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "x"},
                 "spec": {"type": "service", "owner": "group:a"}}
    assert any("'lifecycle' is a required property" in p for p in problems(component))
    api = {"apiVersion": "backstage.io/v1alpha1", "kind": "API", "metadata": {"name": "x-api"},
           "spec": {"type": "openapi", "lifecycle": "production", "owner": "group:a", "definition": {"$text": "./openapi.yaml"}}}
    # the published schema wants the definition's text: Backstage substitutes $text before validating, and so do these tests
    assert any("definition" in p and "not of type 'string'" in p for p in problems(api, resolve=False))
    assert problems(api) == []
    bad_relation = {**component, "spec": {**component["spec"], "lifecycle": "production"},
                    "relations": [{"type": "owned-by", "target": {"kind": "group"}}]}
    found = problems(bad_relation)  # resolved through Entity -> common#relation -> #reference
    assert any("relations" in p for p in found), found


# --- a service repository ------------------------------------------------------------------------------------------

def test_service_catalog_is_a_valid_component_and_api(checkout):
    component, api = docs(catalog_info(checkout, "shop"))
    assert problems(component) == [] and problems(api) == []
    assert (component["kind"], api["kind"]) == ("Component", "API")


def test_component_names_owner_system_lifecycle_and_apis_from_calls_and_events(checkout):
    component, api = docs(catalog_info(checkout, "shop"))
    spec = component["spec"]
    assert component["metadata"]["name"] == "checkout-svc"
    assert spec["type"] == "service" and spec["lifecycle"] == "production"
    assert spec["owner"] == "group:checkout-payments" and spec["system"] == "shop"
    assert spec["providesApis"] == ["checkout-svc-api"]
    assert spec["consumesApis"] == ["catalog-svc-api", "payment-svc-api"]  # a whole-API call and a one-route call
    assert spec["dependsOn"] == ["component:catalog-svc", "component:payment-svc"]  # callees, and the source it listens to
    annotations = component["metadata"]["annotations"]
    assert annotations["msgen.dev/emits"] == "OrderPlaced"
    assert annotations["msgen.dev/listens"] == "payment-svc/PaymentSettled"
    assert api["metadata"]["name"] == "checkout-svc-api"
    assert api["spec"]["type"] == "openapi" and api["spec"]["definition"] == {"$text": f"./{OPENAPI_PATH}"}
    assert api["spec"]["owner"] == spec["owner"] and api["spec"]["system"] == "shop"


def test_a_service_alone_has_no_system_and_no_consumed_apis():
    component, api = docs(catalog_info(load_spec(BLUEPRINTS["serverless-api"]), None))
    assert "system" not in component["spec"] and "system" not in api["spec"]
    assert "consumesApis" not in component["spec"] and "dependsOn" not in component["spec"]
    assert problems(component) == [] and problems(api) == []


@pytest.mark.parametrize("name", sorted(BLUEPRINTS))
def test_every_blueprint_gives_valid_entities(name):
    text = catalog_info(load_spec(BLUEPRINTS[name]), "shop")
    assert text == catalog_info(load_spec(BLUEPRINTS[name]), "shop")  # deterministic
    for entity in docs(text):
        assert problems(entity) == [], (name, entity["kind"])


def test_a_service_without_prod_is_experimental(tmp_path):
    path = tmp_path / "service.yaml"
    path.write_text(CHECKOUT.replace("environments: [dev, prod]", "environments: [dev, staging]"))
    component, _ = docs(catalog_info(load_spec(path), "shop"))
    assert component["spec"]["lifecycle"] == "experimental"


def test_entity_names_from_free_text():
    assert entity_name("Checkout & Payments") == "checkout-payments"
    assert entity_name("--") == "unknown"
    assert len(entity_name("x" * 100)) == 63


# --- the fleet repository ------------------------------------------------------------------------------------------

def test_fleet_catalog_is_a_valid_system_and_location_of_every_service(checkout):
    fleet = Fleet(name="shop", owner="Shop Platform", description="The seed's shop", environments=["dev", "prod"],
                  services=["checkout-svc.yaml", "payment-svc.yaml"])
    loaded = SimpleNamespace(fleet=fleet, services={"checkout-svc": checkout, "payment-svc": None})
    system, location = docs(fleet_catalog(loaded))
    assert problems(system) == [] and problems(location) == []
    assert system["metadata"]["name"] == "shop" and system["spec"]["owner"] == "group:shop-platform"
    # msgen fleet new puts every service's repository beside the fleet's own
    assert location["spec"]["targets"] == ["../checkout-svc/catalog-info.yaml", "../payment-svc/catalog-info.yaml"]
    _, here = docs(fleet_catalog(loaded, lambda service: f"services/{service}"))
    assert here["spec"]["targets"] == ["./services/checkout-svc/catalog-info.yaml", "./services/payment-svc/catalog-info.yaml"]


def test_the_shop_fleet_catalogue_and_its_services_are_valid():
    from generator.fleet.loader import load_fleet

    shop = load_fleet(ROOT / "blueprints" / "fleets" / "shop" / "fleet.yaml")
    system, location = docs(fleet_catalog(shop))
    assert problems(system) == [] and problems(location) == []
    assert len(location["spec"]["targets"]) == len(shop.services) == 5
    for name, loaded in shop.services.items():
        component, api = docs(catalog_info(loaded, shop.fleet.name))
        assert problems(component) == [] and problems(api) == [], name
        assert component["spec"]["system"] == "shop"
        for ref in component["spec"].get("dependsOn", []):  # every dependency is a service of the fleet
            assert ref.removeprefix("component:") in shop.services, (name, ref)
        for ref in component["spec"].get("consumesApis", []):
            assert ref.removesuffix("-api") in shop.services, (name, ref)


# --- the generated repository --------------------------------------------------------------------------------------

def test_generated_repository_carries_its_catalog_info(tmp_path):
    from generator.scaffold import context, render

    loaded = load_spec(BLUEPRINTS["serverless-api"])
    ctx = context(loaded.spec, loaded.text, "service.yaml")
    assert ctx["catalog_info"] + "\n" == catalog_info(loaded, None)
    template = ROOT / "templates" / "serverless-python" / "{{cookiecutter.service}}" / "catalog-info.yaml"
    assert template.read_text() == "{{ cookiecutter._msgen.catalog_info }}\n"
    out = render(loaded.spec, loaded.text, "blueprint:serverless-api", tmp_path / "payment-svc")
    text = (out / "catalog-info.yaml").read_text()
    assert text == catalog_info(loaded, None)
    assert all(problems(e, out) == [] for e in docs(text))  # with the repository's own OpenAPI document when it has one
