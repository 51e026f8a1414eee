"""The fleet file and `msgen fleet` (issue 13): validation across specs, synth, lint, graph, deploy order, new.

Bad input of every kind is a located error (FILE:LINE:COL), exit 2, nothing written; the shop blueprint (five
services, three patterns, calls and events) validates, synthesizes deterministically and lints clean.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from generator.fleet.commands import load
from generator.fleet.graph import CallCycle, build_graph, deploy_order
from generator.fleet.model import json_schema
from tests.conftest import ROOT

SHOP = ROOT / "blueprints" / "fleets" / "shop"
SERVICES = ["ui-svc", "catalog-svc", "checkout-svc", "payment-svc", "shipping-svc"]
LOCATED = re.compile(r"^(?P<file>[^\s:]+):(?P<line>\d+):(?P<col>\d+): (?P<rest>.*)$", re.M)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A copy of the shop blueprint to break: tmp/shop/fleet.yaml and its five specs."""
    folder = tmp_path / "shop"
    shutil.copytree(SHOP, folder)
    return folder


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def located(output: str) -> list[tuple[str, int, str]]:
    """(file name, line, rest of the message) of every located line."""
    return [(Path(m["file"]).name, int(m["line"]), m["rest"]) for m in LOCATED.finditer(output)]


def line_of(path: Path, text: str) -> int:
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if text in line:
            return i
    raise AssertionError(f"{text!r} not in {path}")


def refused(cli, shop: Path, tmp_path: Path):
    """Run validate and synth on the broken fleet: both exit 2, synth writes nothing; the validate result."""
    result = cli("fleet", "validate", str(shop / "fleet.yaml"))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    out = tmp_path / "out"
    synth = cli("fleet", "synth", str(shop / "fleet.yaml"), "-o", str(out))
    assert synth.exit_code == 2, synth.output
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
    return result


# --- the shop blueprint -----------------------------------------------------------------------------------------


def test_shop_validates(cli):
    result = cli("fleet", "validate", "shop")
    assert result.exit_code == 0, result.output
    assert "OK (fleet shop, 5 services, 3 environments, 4 calls, 2 event subscriptions)" in result.output
    assert "warning" not in result.output


def test_shop_specs_are_valid_alone_and_cover_the_three_patterns(cli):
    patterns = set()
    for name in SERVICES:
        result = cli("validate", str(SHOP / f"{name}.yaml"))
        assert result.exit_code == 0, result.output
        patterns.add(yaml.safe_load((SHOP / f"{name}.yaml").read_text())["pattern"])
    assert patterns == {"serverless", "hybrid", "micro"}


def test_shop_graph_calls_events_and_order(cli):
    result = cli("fleet", "graph", "shop")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("flowchart LR\n")
    assert 's_ui_svc -->|"GET /products, GET /products/{sku}, POST /products/{sku}/purchases"| s_catalog_svc' in out
    assert 's_catalog_svc -->|"POST /orders"| s_checkout_svc' in out
    assert 's_checkout_svc -.->|"OrderPlaced"| s_payment_svc' in out
    assert 's_payment_svc -.->|"PaymentSettled"| s_shipping_svc' in out
    assert "%% deploy order: fleet stack, then checkout-svc, payment-svc, shipping-svc, catalog-svc, ui-svc" in out
    order = cli("fleet", "graph", "shop", "--order")
    assert order.stdout.split() == ["checkout-svc", "payment-svc", "shipping-svc", "catalog-svc", "ui-svc"]


def test_deploy_order_puts_callees_first():
    loaded = load("shop")
    order = deploy_order(build_graph(loaded))
    for caller, refs in loaded.refs.items():
        for call in refs.calls:
            assert order.index(call.service) < order.index(caller), (call.service, caller)


def test_call_cycle_is_reported_with_how_to_bootstrap_it(cli, shop):
    edit(shop / "checkout-svc.yaml", 'handler: orders.get, target: function, uses: ["orders:read"]',
         'handler: orders.get, target: function, uses: ["orders:read", "ui-svc:invoke:GET /products"]')
    assert cli("fleet", "validate", str(shop)).exit_code == 0
    with pytest.raises(CallCycle) as info:
        deploy_order(build_graph(load(str(shop))))
    assert info.value.cycle == ["catalog-svc", "checkout-svc", "ui-svc", "catalog-svc"]
    result = cli("fleet", "graph", str(shop), "--order")
    assert result.exit_code == 2
    assert "cycle (catalog-svc -> checkout-svc -> ui-svc -> catalog-svc)" in result.output
    assert "aws ssm put-parameter" in result.output and "/msgen/<env>/catalog-svc/api-id" in result.output
    graph = cli("fleet", "graph", str(shop))
    assert graph.exit_code == 0 and "deploy order: none" in graph.stdout
    deploy = cli("fleet", "deploy", str(shop), "--env", "dev")
    assert deploy.exit_code == 2 and "/msgen/dev/catalog-svc/api-id" in deploy.output


def test_synth_writes_every_template_atomically_and_deterministically(cli, tmp_path):
    out = tmp_path / "build"
    first = cli("fleet", "synth", "shop", "-o", str(out))
    assert first.exit_code == 0, first.output
    files = sorted(str(p.relative_to(out)) for p in out.rglob("template.yaml"))
    expected = sorted([f"fleet/{e}/template.yaml" for e in ("dev", "staging", "prod")]
                      + [f"services/{s}/{e}/template.yaml" for s in SERVICES for e in ("dev", "staging", "prod")])
    assert files == expected
    assert sorted(first.stdout.split()) == sorted(str(out / f) for f in files)
    texts = {f: (out / f).read_bytes() for f in files}
    # the same fleet, afresh (no cache): byte-identical; a folder msgen fleet wrote is replaced without --force
    again = cli("fleet", "synth", "shop", "-o", str(out), "--no-cache")
    assert again.exit_code == 0, again.output
    assert {f: (out / f).read_bytes() for f in files} == texts
    assert [p.name for p in tmp_path.iterdir()] == ["build"]  # no temporary folder left behind
    # a service's template is what msgen synth gives for it
    single = cli("synth", str(SHOP / "payment-svc.yaml"), "--env", "prod")
    assert single.stdout.encode() == texts["services/payment-svc/prod/template.yaml"]


def test_synth_one_environment_json(cli, tmp_path):
    out = tmp_path / "prod"
    result = cli("fleet", "synth", "shop", "--env", "prod", "--format", "json", "-o", str(out))
    assert result.exit_code == 0, result.output
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*.json"))
    assert files == sorted(["fleet/prod/template.json"] + [f"services/{s}/prod/template.json" for s in SERVICES])
    assert "Resources" in json.loads((out / "fleet/prod/template.json").read_text())
    bad = cli("fleet", "synth", "shop", "--env", "qa", "-o", str(tmp_path / "qa"))
    assert bad.exit_code == 2 and "--env qa: not an environment of fleet shop" in bad.output
    assert not (tmp_path / "qa").exists()


def test_synth_refuses_a_folder_it_did_not_write(cli, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    result = cli("fleet", "synth", "shop", "--env", "dev", "-o", str(out))
    assert result.exit_code == 2 and "use --force" in result.output
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    forced = cli("fleet", "synth", "shop", "--env", "dev", "-o", str(out), "--force")
    assert forced.exit_code == 0, forced.output
    assert not (out / "notes.txt").exists() and (out / "fleet/dev/template.yaml").is_file()


def test_schema_is_committed_and_accepts_the_shop():
    committed = ROOT / "generator" / "fleet" / "fleet.schema.json"
    assert committed.read_text(encoding="utf-8") == json_schema(), "run: python -c 'from generator.fleet.model import json_schema; " \
                                                                  "open(\"generator/fleet/fleet.schema.json\", \"w\").write(json_schema())'"
    validator = Draft202012Validator(json.loads(committed.read_text(encoding="utf-8")))
    assert validator.is_valid(yaml.safe_load((SHOP / "fleet.yaml").read_text()))
    assert not validator.is_valid({"name": "shop", "owner": "x", "environments": ["dev"], "services": ["a.yaml"], "colour": "red"})
    assert not validator.is_valid({"name": "shop", "owner": "x", "environments": ["dev", "dev"], "services": ["a.yaml"]})


def test_blueprints_list_ignores_the_fleet_folder(cli):
    result = cli("blueprints", "--json")
    names = [b["name"] for b in json.loads(result.stdout)]
    assert not set(names) & {"shop", "fleet", *SERVICES}
    text = cli("blueprints")
    assert "shop" not in text.stdout and "fleet blueprints (msgen fleet validate NAME): shop" in text.stderr


# --- bad input: located, exit 2, nothing written -----------------------------------------------------------------


def test_service_listed_twice(cli, shop, tmp_path):
    edit(shop / "fleet.yaml", "  - shipping-svc.yaml\n", "  - shipping-svc.yaml\n  - ./ui-svc.yaml\n")
    result = refused(cli, shop, tmp_path)
    assert ("fleet.yaml", line_of(shop / "fleet.yaml", "./ui-svc.yaml"),
            "services[5]: './ui-svc.yaml' is listed twice (also services[0]); list each service once") in located(result.output)


def test_two_specs_with_the_same_service_name(cli, shop, tmp_path):
    shutil.copy(shop / "payment-svc.yaml", shop / "payment-copy.yaml")
    edit(shop / "fleet.yaml", "  - shipping-svc.yaml\n", "  - shipping-svc.yaml\n  - payment-copy.yaml\n")
    result = refused(cli, shop, tmp_path)
    [(name, line, rest)] = located(result.output)
    assert (name, line) == ("fleet.yaml", line_of(shop / "fleet.yaml", "payment-copy.yaml"))
    assert "payment-copy.yaml names service 'payment-svc', as" in rest and "needs its own name" in rest


def test_missing_and_unreadable_specs(cli, shop, tmp_path):
    (shop / "catalog-svc.yaml").unlink()
    (shop / "folder.yaml").mkdir()
    edit(shop / "fleet.yaml", "  - shipping-svc.yaml\n", "  - shipping-svc.yaml\n  - folder.yaml\n")
    result = refused(cli, shop, tmp_path)
    found = located(result.output)
    assert ("fleet.yaml", line_of(shop / "fleet.yaml", "catalog-svc.yaml"), f"services[1]: no such file: {shop / 'catalog-svc.yaml'}") in found
    assert any(f == "fleet.yaml" and "services[5]" in r and "not a spec file" in r for f, _, r in found)
    # the callers of the missing service are not also blamed for calling it: one problem per cause
    assert len(found) == 2, result.output


def test_a_spec_that_is_not_text(cli, shop, tmp_path):
    (shop / "ui-svc.yaml").write_bytes(b"service: ui-svc\n\x00\x01binary")
    result = refused(cli, shop, tmp_path)
    assert ("ui-svc.yaml", 2, "file is binary (contains a NUL byte), not YAML text") in located(result.output)


def test_unreadable_spec(cli, shop, tmp_path, monkeypatch):
    read_bytes = Path.read_bytes

    def unreadable(self):  # as chmod 000 would make it, for a user other than root
        if self.name == "ui-svc.yaml":
            raise PermissionError(13, "Permission denied", str(self))
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", unreadable)
    result = refused(cli, shop, tmp_path)
    assert ("fleet.yaml", line_of(shop / "fleet.yaml", "ui-svc.yaml"),
            f"services[0]: cannot read the spec: {shop / 'ui-svc.yaml'}: cannot read: Permission denied") in located(result.output)


def test_a_specs_own_errors_are_located_in_the_spec(cli, shop, tmp_path):
    edit(shop / "shipping-svc.yaml", "  memory_mb: 256", "  memory_mb: lots")
    edit(shop / "ui-svc.yaml", "team: storefront", "team: storefront\ncolour: red")
    result = refused(cli, shop, tmp_path)
    found = located(result.output)
    assert ("shipping-svc.yaml", line_of(shop / "shipping-svc.yaml", "memory_mb: lots")) in [(f, ln) for f, ln, _ in found]
    assert ("ui-svc.yaml", line_of(shop / "ui-svc.yaml", "colour: red"), "colour: unknown key (check the spelling; "
            "`msgen schema` lists every key)") in found


def test_call_to_a_service_not_in_the_fleet(cli, shop, tmp_path):
    edit(shop / "fleet.yaml", "  - checkout-svc.yaml\n", "")
    result = refused(cli, shop, tmp_path)
    found = located(result.output)
    line = line_of(shop / "catalog-svc.yaml", "checkout-svc:invoke")
    assert any(f == "catalog-svc.yaml" and ln == line and "api.routes[2].uses[1]: calls 'checkout-svc', which is not a service of "
               "fleet 'shop'" in r for f, ln, r in found), result.output
    # payment-svc listens for checkout-svc's OrderPlaced: checkout-svc is not in the fleet either
    assert any(f == "payment-svc.yaml" and "from 'checkout-svc', which is not a service of fleet 'shop'" in r for f, _, r in found)


def test_call_to_a_route_that_does_not_exist(cli, shop, tmp_path):
    edit(shop / "ui-svc.yaml", "catalog-svc:invoke:GET /products\"", "catalog-svc:invoke:GET /items\"")
    result = refused(cli, shop, tmp_path)
    [(name, line, rest)] = located(result.output)
    assert (name, line) == ("ui-svc.yaml", line_of(shop / "ui-svc.yaml", "GET /items"))
    assert rest.startswith("api.routes[0].uses[0]: catalog-svc has no route GET /items (its routes: GET /products, GET /products/{sku}, ")


def test_call_to_routes_whose_auth_is_not_iam(cli, shop, tmp_path):
    edit(shop / "checkout-svc.yaml", "{method: POST, path: /orders, handler: orders.create}",
         "{method: POST, path: /orders, handler: orders.create, auth: none}")
    result = refused(cli, shop, tmp_path)
    [(name, line, rest)] = located(result.output)
    assert (name, line) == ("catalog-svc.yaml", line_of(shop / "catalog-svc.yaml", "checkout-svc:invoke"))
    assert "calls checkout-svc routes whose auth is not iam: POST /orders (auth none)" in rest
    assert "set auth: iam on those routes" in rest


def test_call_checked_in_each_environment_that_changes_the_callees_api(cli, shop, tmp_path):
    edit(shop / "checkout-svc.yaml", "    container: {min_tasks: 2}", "    container: {min_tasks: 2}\n    api: {auth: none}")
    assert cli("validate", str(shop / "checkout-svc.yaml")).exit_code == 0
    result = refused(cli, shop, tmp_path)
    [(name, _, rest)] = located(result.output)
    assert name == "catalog-svc.yaml"
    assert "api.routes[2].uses[1]: in environment prod, calls checkout-svc routes whose auth is not iam: POST /orders (auth none)" in rest


def test_whole_api_call_names_the_routes_that_are_not_iam(cli, shop, tmp_path):
    edit(shop / "ui-svc.yaml", '"catalog-svc:invoke:GET /products"', '"catalog-svc:invoke"')
    edit(shop / "catalog-svc.yaml", "handler: products.list_products,", "handler: products.list_products, auth: none,")
    result = refused(cli, shop, tmp_path)
    [(name, _, rest)] = located(result.output)
    assert name == "ui-svc.yaml"
    assert "GET /products (auth none)" in rest and "name the routes you call" in rest


def test_event_nobody_emits_is_an_error_at_the_consumer(cli, shop, tmp_path):
    edit(shop / "shipping-svc.yaml", "detail-type: [PaymentSettled]", "detail-type: [PaymentRefunded]")
    result = refused(cli, shop, tmp_path)
    found = located(result.output)
    line = line_of(shop / "shipping-svc.yaml", "PaymentRefunded")
    assert ("shipping-svc.yaml", line, "messaging.events[0].pattern.detail-type[0]: listens for PaymentRefunded from payment-svc, "
            "which does not emit it (it emits: PaymentSettled)") in found
    assert len(found) == 1, result.output  # payment-svc's PaymentSettled has no listener now: a warning, shown once the errors are fixed


def test_event_from_the_wrong_source_names_who_emits_it(cli, shop, tmp_path):
    edit(shop / "shipping-svc.yaml", "source: [payment-svc]", "source: [checkout-svc]")
    result = refused(cli, shop, tmp_path)
    assert "listens for PaymentSettled from checkout-svc, which does not emit it (it emits: OrderPlaced); payment-svc emits it" \
        in result.output


def test_event_nobody_listens_for_is_a_warning(cli, shop):
    edit(shop / "payment-svc.yaml", "emits: [PaymentSettled]", "emits: [PaymentSettled, PaymentFailed]")
    result = cli("fleet", "validate", str(shop / "fleet.yaml"))
    assert result.exit_code == 0, result.output
    line = line_of(shop / "payment-svc.yaml", "PaymentFailed")
    assert f"payment-svc.yaml:{line}:" in result.output
    assert "emits[1]: warning: no service of fleet 'shop' listens for PaymentFailed from payment-svc" in result.output
    assert result.stdout == ""


@pytest.mark.parametrize("text, message", [
    ("- shop\n", "the top level of a fleet file must be a mapping of keys, got a list"),
    ("shop\n", "the top level of a fleet file must be a mapping of keys, got a string"),
    ("# nothing\n", "file is empty; a fleet file needs at least 'name', 'owner', 'environments' and 'services'"),
    ("name: shop\nname: shop\n", "duplicate key"),
], ids=["list", "string", "empty", "duplicate-key"])
def test_fleet_file_that_is_not_a_mapping(cli, tmp_path, text, message):
    (tmp_path / "fleet.yaml").write_text(text)
    result = cli("fleet", "validate", str(tmp_path / "fleet.yaml"))
    assert result.exit_code == 2
    assert located(result.output) and message in result.output


def test_fleet_file_model_errors_all_in_one_run(cli, shop, tmp_path):
    edit(shop / "fleet.yaml", "owner: shop-platform\n", "colour: red\n")
    edit(shop / "fleet.yaml", "log_retention_days: 90", "log_retention_days: 10")
    edit(shop / "shipping-svc.yaml", "  memory_mb: 256", "  memory_mb: lots")  # a spec's problem too, in the same run
    result = refused(cli, shop, tmp_path)
    found = {(f, r.split(":")[0]) for f, _, r in located(result.output)}
    assert {("fleet.yaml", "owner"), ("fleet.yaml", "colour"), ("fleet.yaml", "settings.log_retention_days"),
            ("shipping-svc.yaml", "application.memory_mb")} <= found, result.output
    assert "4 problems found; nothing was written" in result.output


def test_environment_a_service_lacks(cli, shop, tmp_path):
    edit(shop / "fleet.yaml", "environments: [dev, staging, prod]", "environments: [dev, staging, prod, qa]")
    result = refused(cli, shop, tmp_path)
    found = [r for f, ln, r in located(result.output) if f == "fleet.yaml"]
    assert len(found) == 5, result.output
    assert "environments[3]: 'qa' is not an environment of ui-svc" in found[0] + "".join(found)


def test_missing_fleet_file(cli, tmp_path):
    result = cli("fleet", "validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2 and "no such file" in result.output
    unknown = cli("fleet", "validate", "no-such-fleet")
    assert unknown.exit_code == 2 and "fleet blueprints: shop" in unknown.output


# --- new and lint (slow: every repository, cfn-lint over 18 templates) -------------------------------------------


@pytest.mark.slow
def test_new_makes_every_repository_and_the_fleet_repository(cli, tmp_path):
    result = cli("fleet", "new", "shop", "-o", str(tmp_path / "src"))
    assert result.exit_code == 0, result.output
    src = tmp_path / "src"
    assert sorted(p.name for p in src.iterdir()) == sorted([*SERVICES, "shop-fleet"])
    fleet_repo = src / "shop-fleet"
    for name in ("fleet.yaml", "graph.mmd", "README.md", "catalog-info.yaml", ".msgen/fleet.schema.json", "infra/dev/template.yaml",
                 "infra/prod/template.yaml"):
        assert (fleet_repo / name).is_file(), name
    for name in SERVICES:
        assert (src / name / "service.yaml").is_file()
    # the fleet repository's fleet.yaml points at the repositories beside it, and validates there
    text = (fleet_repo / "fleet.yaml").read_text()
    assert "  - ../ui-svc/service.yaml\n" in text and text.startswith("# yaml-language-server: $schema=.msgen/fleet.schema.json\n")
    assert (src / "ui-svc" / "catalog-info.yaml").is_file()
    assert (fleet_repo / "graph.mmd").read_text() == cli("fleet", "graph", "shop").stdout
    assert "shipping. Owner: shop-platform.\n" in (fleet_repo / "README.md").read_text()  # the description is a sentence of its own
    assert cli("fleet", "validate", str(fleet_repo)).exit_code == 0
    again = cli("fleet", "new", "shop", "-o", str(src))
    assert again.exit_code == 2 and "use --force" in again.output


@pytest.mark.slow
def test_every_template_of_the_shop_lints_clean(cli):
    result = cli("fleet", "lint", "shop", "--no-cache")
    assert result.exit_code == 0, result.output
    assert "msgen: fleet shop: 18 templates: no findings" in result.output


@pytest.mark.slow
def test_new_writes_nothing_when_a_repository_fails(tmp_path, monkeypatch):
    from generator import api
    from generator.errors import InputError
    from generator.fleet import commands

    real = api.new_repo
    made = []

    def new_repo(name, parent, *args, **kwargs):
        if len(made) == 2:
            raise InputError("the third repository fails")
        made.append(name)
        return real(name, parent, *args, **kwargs)

    monkeypatch.setattr(api, "new_repo", new_repo)
    with pytest.raises(InputError):
        commands.new(load("shop"), tmp_path / "src")
    assert made == SERVICES[:2]
    assert not (tmp_path / "src").exists()


# --- deploy: the order of the stacks, inputs checked first (the deploys themselves are generator.deploy's) ---------


@pytest.fixture
def recorded(monkeypatch):
    """generator.deploy.deploy and the fleet stack's deploy, recorded instead of run."""
    from generator import deploy as deployer
    from generator.fleet import commands

    calls: list[tuple] = []

    def service(loaded, env, **kwargs):
        calls.append(("service", loaded.spec.service, env, kwargs.get("artifact"), kwargs.get("image")))
        return deployer.Outcome(f"{loaded.spec.service}-{env}", "created")

    def fleet_stack(loaded, env, *, watch_services=False, **kwargs):
        calls.append(("fleet", commands.fleet_stack_name(loaded, env), env, watch_services))
        return deployer.Outcome(commands.fleet_stack_name(loaded, env), "created")

    monkeypatch.setattr(deployer, "deploy", service)
    monkeypatch.setattr(commands, "deploy_fleet_stack", fleet_stack)
    monkeypatch.setattr(commands, "_all_service_stacks_exist", lambda loaded, env, region: False)
    return calls


SHOP_INPUTS = ["--artifact", "ui-svc=ui.zip", "--artifact", "catalog-svc=catalog.zip", "--artifact", "checkout-svc=checkout.zip",
               "--artifact", "payment-svc=payment.zip", "--artifact", "shipping-svc=shipping.zip", "--image", "checkout-svc=repo/checkout:1"]


def test_deploy_fleet_stack_first_then_callees_then_the_health_alarm(cli, recorded):
    result = cli("fleet", "deploy", "shop", "--env", "staging", "--yes", *SHOP_INPUTS)
    assert result.exit_code == 0, result.output
    assert recorded == [
        ("fleet", "msgen-fleet-shop-staging", "staging", False),
        ("service", "checkout-svc", "staging", Path("checkout.zip"), "repo/checkout:1"),
        ("service", "payment-svc", "staging", Path("payment.zip"), None),
        ("service", "shipping-svc", "staging", Path("shipping.zip"), None),
        ("service", "catalog-svc", "staging", Path("catalog.zip"), None),
        ("service", "ui-svc", "staging", Path("ui.zip"), None),
        ("fleet", "msgen-fleet-shop-staging", "staging", True),
    ]
    assert "deploy order: checkout-svc, payment-svc, shipping-svc, catalog-svc, ui-svc" in result.output


def test_deploy_checks_every_input_before_deploying_anything(cli, recorded):
    result = cli("fleet", "deploy", "shop", "--env", "dev", "--artifact", "ui-svc=ui.zip")
    assert result.exit_code == 2
    assert recorded == []
    for missing in ("--artifact catalog-svc=ZIP", "--artifact checkout-svc=ZIP", "--image checkout-svc=URI", "--artifact shipping-svc=ZIP"):
        assert missing in result.output
    unknown = cli("fleet", "deploy", "shop", "--env", "dev", "--artifact", "cart-svc=cart.zip")
    assert unknown.exit_code == 2 and "cart-svc=...: not a service of fleet shop" in unknown.output
    malformed = cli("fleet", "deploy", "shop", "--env", "dev", "--artifact", "ui.zip")
    assert malformed.exit_code == 2 and "write it as SERVICE=VALUE" in malformed.output
    wrong_env = cli("fleet", "deploy", "shop", "--env", "qa", *SHOP_INPUTS)
    assert wrong_env.exit_code == 2 and "--env qa: not an environment of fleet shop" in wrong_env.output
    assert recorded == []


def test_deploy_stops_at_the_first_failure_and_names_the_rest(cli, recorded, monkeypatch):
    from generator import deploy as deployer

    recording = deployer.deploy

    def failing(loaded, env, **kwargs):
        recording(loaded, env, **kwargs)
        if loaded.spec.service == "shipping-svc":
            raise deployer.DeployFailed("stack shipping-svc-dev ended in ROLLBACK_COMPLETE")
        return deployer.Outcome("x", "created")

    monkeypatch.setattr(deployer, "deploy", failing)
    result = cli("fleet", "deploy", "shop", "--env", "dev", "--yes", *SHOP_INPUTS)
    assert result.exit_code == 1
    assert [c[1] for c in recorded] == ["msgen-fleet-shop-dev", "checkout-svc", "payment-svc", "shipping-svc"]
    assert "shipping-svc failed; not deployed: catalog-svc, ui-svc" in result.output


@contextlib.contextmanager
def fleet_moto_shims():
    """Two gaps of moto 5.2.5 that the fleet's stacks meet (on top of tests/moto_shim.py), changing moto, never the templates:

    - ``AWS::SSM::Parameter`` ``Tags`` is a JSON map in CloudFormation; moto's model expects the SSM API's list of
      ``{Key, Value}`` (TypeError: string indices must be integers);
    - moto does not resolve dynamic references: ``{{resolve:ssm:NAME}}`` reaches the resources as text (an events
      rule on the bus named ``{{resolve:ssm:...event-bus-name}}``). Resolve them from moto's SSM, as CloudFormation does
      when it creates the change set; a parameter that does not exist is left as text.
    """
    from unittest import mock

    from moto.cloudformation import parsing
    from moto.ssm import models as ssm_models

    create = ssm_models.Parameter.create_from_cloudformation_json.__func__

    def parameter(cls, name, cfn, account_id, region_name, **kwargs):
        tags = cfn.get("Properties", {}).get("Tags")
        if isinstance(tags, dict):
            cfn = {**cfn, "Properties": {**cfn["Properties"], "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}}
        return create(cls, name, cfn, account_id, region_name, **kwargs)

    clean = parsing.clean_json

    def resolving(resource_json, resources_map):
        out = clean(resource_json, resources_map)
        if isinstance(out, str) and "{{resolve:ssm:" in out:
            backend = ssm_models.ssm_backends[resources_map._account_id][resources_map._region_name]

            def value(m: re.Match) -> str:
                found = backend.get_parameter(m.group(1))
                if found is None:
                    return m.group(0)
                v = found.value  # moto may keep the referenced resource itself
                return v if isinstance(v, str) else str(getattr(v, "physical_resource_id", None) or getattr(v, "name", v))

            out = re.sub(r"\{\{resolve:ssm:([^}:]+)(?::\d+)?\}\}", value, out)
        return out

    with mock.patch.object(ssm_models.Parameter, "create_from_cloudformation_json", classmethod(parameter)), \
            mock.patch.object(parsing, "clean_json", resolving):
        yield


@pytest.mark.slow
def test_the_shop_deploys_in_moto(tmp_path, monkeypatch):
    """msgen fleet deploy --env dev of the whole shop in moto: the fleet stack, five services in order, each caller's
    grant on its callee's real API id (resolved from the SSM parameter the callee published), the rules on the fleet bus."""
    import boto3
    from moto import mock_aws

    from generator import deploy as deployer
    from generator.fleet import commands
    from tests.conftest import offline_aws
    from tests.moto_shim import moto_shims

    offline_aws(monkeypatch, tmp_path)
    monkeypatch.setattr(deployer, "POLL_SECONDS", 0.0)
    artifact = tmp_path / "function.zip"
    artifact.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/checkout-svc@sha256:" + "0" * 64
    with moto_shims(), fleet_moto_shims(), mock_aws(config={"lambda": {"use_docker": False}}):
        boto3.client("s3").create_bucket(Bucket="msgen-artifacts-test")
        boto3.client("ssm").put_parameter(Name="/msgen/dev/bootstrap/artifact-bucket", Value="msgen-artifacts-test", Type="String")
        loaded = load("shop")
        lines: list[str] = []
        outcomes = commands.deploy(loaded, "dev", artifacts=dict.fromkeys(loaded.services, artifact), images={"checkout-svc": image},
                                   echo=lines.append)
        assert [o.stack for o in outcomes] == ["msgen-fleet-shop-dev", "checkout-svc-dev", "payment-svc-dev", "shipping-svc-dev",
                                               "catalog-svc-dev", "ui-svc-dev", "msgen-fleet-shop-dev"]
        cf = boto3.client("cloudformation")
        assert {s["StackName"]: s["StackStatus"] for s in cf.describe_stacks()["Stacks"]} == {
            "msgen-fleet-shop-dev": "UPDATE_COMPLETE", **{f"{s}-dev": "CREATE_COMPLETE" for s in SERVICES}}
        ssm = boto3.client("ssm")
        published = {p["Name"] for p in ssm.describe_parameters(MaxResults=50)["Parameters"]}
        assert {"/msgen/dev/fleet/event-bus-name", "/msgen/dev/fleet/event-bus-arn", "/msgen/dev/checkout-svc/api-id",
                "/msgen/dev/checkout-svc/api-url"} <= published
        bus = "msgen-shop-dev"  # (moto keeps a Ref'd resource itself as the parameter's value, so read names from the services)
        checkout_api = next(a["id"] for a in boto3.client("apigateway").get_rest_apis()["items"] if "checkout-svc" in a["name"])
        # catalog-svc may invoke checkout-svc's POST /orders, on that API's id
        iam = boto3.client("iam")
        policies = json.dumps([iam.get_role_policy(RoleName=r["RoleName"], PolicyName=p)["PolicyDocument"]
                               for r in iam.list_roles()["Roles"] if "catalog" in r["RoleName"].lower()
                               for p in iam.list_role_policies(RoleName=r["RoleName"])["PolicyNames"]])
        assert f":{checkout_api}/api/POST/orders" in policies
        # payment-svc's rule sits on the fleet bus
        rules = boto3.client("events").list_rules(EventBusName=bus)["Rules"]
        patterns = [json.loads(r["EventPattern"]) for r in rules if r.get("EventPattern")]
        assert any(p.get("source") == ["checkout-svc"] and p.get("detail-type") == ["OrderPlaced"] for p in patterns), patterns


@pytest.mark.parametrize("command", ["validate", "synth", "lint", "graph", "deploy", "new"])
def test_fleet_help_has_examples_and_exit_codes(cli, command):
    result = cli("fleet", command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout and "Exit codes" in result.stdout and "msgen fleet " + command in result.stdout


def test_synth_reuses_each_services_synth_cache(cli, tmp_path, monkeypatch):
    from generator import api

    assert cli("fleet", "synth", "shop", "--env", "dev", "-o", str(tmp_path / "one")).exit_code == 0

    def no_synthesis(*args, **kwargs):
        raise AssertionError("a service was synthesized again")

    monkeypatch.setattr(api, "synth", no_synthesis)
    again = cli("fleet", "synth", "shop", "--env", "dev", "-o", str(tmp_path / "two"))
    assert again.exit_code == 0, again.output
    assert (tmp_path / "two/services/ui-svc/dev/template.yaml").read_bytes() == (tmp_path / "one/services/ui-svc/dev/template.yaml").read_bytes()
    fresh = cli("fleet", "synth", "shop", "--env", "dev", "-o", str(tmp_path / "three"), "--no-cache")
    assert fresh.exit_code == 3 and "a service was synthesized again" in fresh.output
    assert not (tmp_path / "three").exists()  # a failure while synthesizing writes nothing


@pytest.mark.slow
def test_synth_of_a_fleet_with_a_service_split_into_nested_stacks(cli, shop, tmp_path):
    from tests.conftest import micro_spec

    data = micro_spec(40)
    data["service"] = "bulk-svc"
    (shop / "bulk").mkdir()
    (shop / "bulk" / "service.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    edit(shop / "fleet.yaml", "  - shipping-svc.yaml\n", "  - shipping-svc.yaml\n  - bulk/service.yaml\n")
    out = tmp_path / "out"
    first = cli("fleet", "synth", str(shop), "--env", "dev", "-o", str(out))
    assert first.exit_code == 2 and "bulk-svc needs nested stacks and its stack lock" in first.output and "does not exist yet" in first.output
    assert not out.exists()
    assert cli("synth", str(shop / "bulk" / "service.yaml"), "-o", f"{tmp_path / 'bulk-infra'}/").exit_code == 0  # writes the lock
    result = cli("fleet", "synth", str(shop), "--env", "dev", "-o", str(out))
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (out / "services" / "bulk-svc" / "dev").iterdir())
    assert written[0] == "template.NestedStack1.yaml" and written[-1] == "template.yaml" and len(written) >= 2
    assert (out / "services/bulk-svc/dev/template.yaml").read_bytes() == (tmp_path / "bulk-infra/dev/template.yaml").read_bytes()
