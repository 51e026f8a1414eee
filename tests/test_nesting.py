"""Services past CloudFormation's per-template quotas: a parent stack and nested stacks (generator.synth.nesting), placed
by an append-only stack lock (generator.stacklock), through synth, --check, lint and deploy."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from cfnlint.decode import decode_str
from click.testing import CliRunner

from generator import api, naming, stacklock
from generator.cli import main
from generator.errors import InputError, SynthError
from generator.spec.models import ServiceSpec
from generator.synth import nesting
from generator.synth.pipeline import QuotaError, build_template
from tests.conftest import micro_spec
from tests.test_patterns import MAX_MICRO_ROUTES

ROUTES = 60  # splits: about 15 resources a route


def write_spec(folder: Path, routes: int, data: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "service.yaml"
    path.write_text(yaml.safe_dump(data or micro_spec(routes), sort_keys=False))
    return path


def parsed(texts: dict[str, str]) -> dict[str, dict]:
    return {k: decode_str(t)[0] for k, t in texts.items()}


@pytest.fixture(scope="module")
def split60(tmp_path_factory):
    """The 60-route service's prod templates, split, and the lock its first synth wrote."""
    folder = tmp_path_factory.mktemp("split60")
    spec = write_spec(folder, ROUTES)
    result = api.synth_templates(str(spec), use_cache=False, envs=["prod"])
    assert result.nested and result.lock_changed
    stacklock.write(result.lock_path, result.lock_text)
    return spec, result, parsed(result.templates["prod"])


def test_a_service_past_500_resources_is_split_and_each_template_keeps_every_quota(split60):
    _, result, templates = split60
    nested = sorted(k[1:] for k in templates if k)
    assert "" in templates and nested == [f"NestedStack{i + 1}" for i in range(len(nested))] and len(nested) >= 2
    for name, t in templates.items():
        assert len(t["Resources"]) <= 500 and len(t.get("Outputs", {})) <= 200 and len(t.get("Parameters", {})) <= 200, name
        assert len(result.templates["prod"][name].encode()) < 1_000_000, name
        assert t["Description"].startswith("msgen "), name
    parent = templates[""]["Resources"]
    stacks = {k: v for k, v in parent.items() if v["Type"] == "AWS::CloudFormation::Stack"}
    assert sorted(stacks) == nested
    for name, body in stacks.items():
        digest = __import__("hashlib").sha256(result.templates["prod"]["." + name].encode()).hexdigest()
        url = body["Properties"]["TemplateURL"]["Fn::Sub"]
        assert url.endswith(f"/catalog-svc/templates/{digest}.yaml") and url.startswith("https://${ArtifactBucket}.s3.")
        # every parameter of a nested template is passed, and nothing else
        assert set(body["Properties"]["Parameters"]) == set(templates["." + name]["Parameters"])


def test_logical_ids_and_resources_are_those_of_the_single_template(split60):
    _, _, templates = split60
    single = build_template(ServiceSpec.model_validate(micro_spec(ROUTES)).for_environment("prod"), check=False)["Resources"]
    placed: dict[str, str] = {}
    for name, t in templates.items():
        for lid, r in t["Resources"].items():
            if r["Type"] == "AWS::CloudFormation::Stack":
                continue
            assert lid not in placed, f"{lid} in two templates"
            placed[lid] = name
            assert r["Type"] == single[lid]["Type"]
    assert set(placed) == set(single)


def test_data_stays_in_the_parent_and_a_unit_stays_together(split60):
    _, _, templates = split60
    home = {lid: name for name, t in templates.items() for lid in t["Resources"]}
    kinds = {lid: r["Type"] for t in templates.values() for lid, r in t["Resources"].items()}
    for lid, kind in kinds.items():
        if kind in nesting.DATA_TYPES:
            assert home[lid] == "", lid
    assert {home[lid] for lid, k in kinds.items() if k == "AWS::Lambda::Function"} == set(templates)
    for fn in (lid for lid, k in kinds.items() if k == "AWS::Lambda::Function"):
        family = [lid for lid in kinds if lid.startswith(fn) and kinds[lid] not in nesting.DATA_TYPES]
        assert {f"{fn}LogGroup", f"{fn}Role", f"{fn}Alias", f"{fn}Version", f"{fn}DeploymentGroup", f"{fn}ErrorsAlarm"} <= set(family)
        assert {home[lid] for lid in family} == {home[fn]}, fn
    # each route's method lives with its function
    for lid, kind in kinds.items():
        if kind == "AWS::ApiGateway::Method":
            target = templates[home[lid]]["Resources"][lid]["Properties"]["Integration"]["Uri"]["Fn::Sub"]
            alias = re.search(r"\$\{(\w+)Alias\}", target).group(1)
            assert home[alias] == home[lid], lid


def test_the_api_deployment_waits_for_the_stacks_that_hold_methods(split60):
    _, _, templates = split60
    parent = templates[""]["Resources"]
    (deployment,) = [r for r in parent.values() if r["Type"] == "AWS::ApiGateway::Deployment"]
    holders = {name[1:] for name, t in templates.items() if name and any(r["Type"] == "AWS::ApiGateway::Method" for r in t["Resources"].values())}
    assert holders and holders <= set(deployment["DependsOn"])


def test_no_wildcard_actions_in_any_template(split60):
    _, _, templates = split60
    for name, t in templates.items():
        for lid, r in t["Resources"].items():
            docs = [p["PolicyDocument"] for p in r.get("Properties", {}).get("Policies", [])]
            if r["Type"] == "AWS::IAM::Policy":
                docs.append(r["Properties"]["PolicyDocument"])
            for doc in docs:
                for st in doc["Statement"]:
                    actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                    assert not [a for a in actions if "*" in a], (name, lid)


def test_synth_is_deterministic(split60):
    spec, result, _ = split60
    again = api.synth_templates(str(spec), use_cache=False, envs=["prod"])
    assert again.templates == result.templates
    assert not again.lock_changed and again.lock_text == result.lock_text
    lock = json.loads(result.lock_text)
    assert list(lock) == sorted(lock) and list(lock["resources"]) == sorted(lock["resources"])


def test_the_first_split_keeps_the_first_units_in_the_parent_and_the_lock_records_every_resource(split60):
    _, result, templates = split60
    lock = stacklock.parse(result.lock_text, "lock", "catalog-svc")
    functions = [lid for lid, r in build_template(ServiceSpec.model_validate(micro_spec(ROUTES)), check=False)["Resources"].items()
                 if r["Type"] == "AWS::Lambda::Function"]
    homes = [lock.units[f] for f in functions]
    assert homes == sorted(homes, key=lambda h: -1 if h == "parent" else int(h.removeprefix("NestedStack")))  # in template order
    assert lock.stacks == sorted((k[1:] for k in templates if k), key=lambda n: int(n.removeprefix("NestedStack"))) and len(lock.stacks) >= 2
    assert homes[0] == "parent" and homes[-1] == lock.stacks[-1]
    assert len(templates[""]["Resources"]) <= nesting.FIRST_SPLIT_PARENT
    assert {lid for t in templates.values() for lid, r in t["Resources"].items() if r["Type"] != "AWS::CloudFormation::Stack"} \
        == set(lock.resources)


def _assignment(result) -> dict[str, str]:
    return {lid: name or "parent" for name, text in result.templates["prod"].items() for lid in decode_str(text)[0]["Resources"]}


def test_adding_routes_moves_nothing(split60, tmp_path):
    spec, result, _ = split60
    before_lock = json.loads(result.lock_text)
    before = _assignment(result)
    data = micro_spec(ROUTES)
    extra = [{"method": "GET", "path": f"/added{i}", "handler": f"added.h{i}", "uses": ["products:read"]} for i in range(3)]
    data["api"]["routes"][5:5] = extra[:1]  # in the middle of the spec
    data["api"]["routes"] += extra[1:]
    new_spec = write_spec(tmp_path, 0, data)
    (tmp_path / "service.lock.json").write_text(result.lock_text)
    after_result = api.synth_templates(str(new_spec), use_cache=False, envs=["prod"])
    after_lock = json.loads(after_result.lock_text)
    after = _assignment(after_result)
    for key in ("units", "resources"):
        assert {k: after_lock[key][k] for k in before_lock[key]} == before_lock[key]
    moved = {lid for lid in before if lid in after and after[lid] != before[lid] and not lid.startswith("ApiDeployment")}
    assert moved == set()
    added = [naming.function_id(f"added.h{i}".replace(".", "_")) for i in range(3)]
    new_units = {k: v for k, v in after_lock["units"].items() if k not in before_lock["units"]}
    last = before_lock["stacks"][-1]
    assert len(new_units) == 3 and set(new_units.values()) <= {last, f"NestedStack{len(before_lock['stacks']) + 1}"}, (new_units, added)
    assert after_lock["stacks"][: len(before_lock["stacks"])] == before_lock["stacks"]


def test_a_move_the_lock_forbids_is_refused_with_the_reason(split60, tmp_path):
    spec, result, _ = split60
    lock = json.loads(result.lock_text)
    lock["resources"]["ProductsTable"] = "NestedStack1"
    folder = tmp_path / "data"
    write_spec(folder, ROUTES)
    (folder / "service.lock.json").write_text(json.dumps(lock))
    with pytest.raises(SynthError, match="ProductsTable .* holds data and belongs in the parent stack.*NestedStack1"):
        api.synth_templates(str(folder / "service.yaml"), use_cache=False, envs=["prod"])

    # a stack that its locked units would overflow cannot shed any of them
    lock = json.loads(result.lock_text)
    crowded = {unit: "NestedStack1" for unit, home in lock["units"].items() if home != "parent"}
    for lid, home in list(lock["resources"].items()):
        if home not in ("parent", "NestedStack1"):
            lock["resources"][lid] = "NestedStack1"
    lock["units"].update(crowded)
    folder = tmp_path / "full"
    write_spec(folder, ROUTES)
    (folder / "service.lock.json").write_text(json.dumps(lock))
    with pytest.raises(SynthError) as err:
        api.synth_templates(str(folder / "service.yaml"), use_cache=False, envs=["prod"])
    message = str(err.value)
    assert "NestedStack1 would have" in message and "quota '" in message and "cannot move to another stack" in message


def test_a_broken_or_foreign_lock_is_an_input_error(tmp_path):
    spec = write_spec(tmp_path, ROUTES)
    lock = tmp_path / "service.lock.json"
    for text, expected in [("{", "not JSON"), ('{"format": 9}', "format 9"),
                           ('{"format": 1, "service": "other-svc"}', "lock of service 'other-svc'"),
                           ('{"format": 1, "service": "catalog-svc", "stacks": ["NestedStack2"], "units": {}, "resources": {}}', "in order"),
                           ('{"format": 1, "service": "catalog-svc", "stacks": [], "units": {"A": "NestedStack1"}, "resources": {}}',
                            "names stacks")]:
        lock.write_text(text)
        with pytest.raises(InputError, match=re.escape(expected)):
            api.synth_templates(str(spec), use_cache=False, envs=["prod"])
    lock.unlink()
    lock.mkdir()
    with pytest.raises(InputError, match="cannot read the stack lock"):
        api.synth_templates(str(spec), use_cache=False, envs=["prod"])
    result = CliRunner().invoke(main, ["synth", str(spec), "--env", "prod", "-o", str(tmp_path / "t.yaml")])
    assert result.exit_code == 2 and "Traceback" not in result.output and "stack lock" in result.output


def test_below_the_quota_a_service_keeps_one_template_and_no_lock(tmp_path):
    spec = write_spec(tmp_path, MAX_MICRO_ROUTES)
    result = api.synth_templates(str(spec), use_cache=False, envs=["prod"])
    assert not result.nested and list(result.templates["prod"]) == [""]
    assert not (tmp_path / "service.lock.json").exists()
    with pytest.raises(QuotaError):  # one more route passes 500 in one template: that is what makes msgen split it
        build_template(ServiceSpec.model_validate(micro_spec(MAX_MICRO_ROUTES + 1)))
    assert api.synth_templates(str(write_spec(tmp_path / "more", MAX_MICRO_ROUTES + 1)), use_cache=False, envs=["prod"]).nested


def test_the_first_split_keeps_what_the_committed_single_template_held(tmp_path):
    """A deployed single template's units stay in the parent when the service grows past the quota."""
    runner = CliRunner()
    spec = write_spec(tmp_path, MAX_MICRO_ROUTES - 1)
    out = tmp_path / "infra" / "prod" / "template.yaml"
    assert runner.invoke(main, ["synth", str(spec), "--env", "prod", "-o", str(out)]).exit_code == 0
    single = set(decode_str(out.read_text())[0]["Resources"])
    write_spec(tmp_path, MAX_MICRO_ROUTES + 4)
    result = runner.invoke(main, ["synth", str(spec), "--env", "prod", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "infra" / "prod" / "template.NestedStack1.yaml").exists()
    lock = json.loads((tmp_path / "service.lock.json").read_text())
    assert {lid for lid in single if lid in lock["resources"] and lock["resources"][lid] != "parent"} <= {
        lid for lid in single if lid.startswith("ApiDeployment")}
    assert sorted(set(lock["units"].values())) == ["NestedStack1", "parent"]


def test_synth_to_a_directory_check_and_lint_through_the_cli(tmp_path):
    runner = CliRunner()
    spec = write_spec(tmp_path, ROUTES)
    infra = tmp_path / "infra"
    assert runner.invoke(main, ["synth", str(spec)]).exit_code == 2  # stdout cannot hold several templates
    result = runner.invoke(main, ["synth", str(spec), "-o", f"{infra}/"])
    assert result.exit_code == 0, result.output
    assert "service.lock.json" in result.output
    stacks = json.loads((tmp_path / "service.lock.json").read_text())["stacks"]
    for env in ("dev", "staging", "prod"):
        assert sorted(p.name for p in (infra / env).iterdir()) == sorted(["template.yaml", *(f"template.{s}.yaml" for s in stacks)])
    first = {p: p.read_bytes() for p in sorted(infra.rglob("*.yaml"))}
    lock = (tmp_path / "service.lock.json").read_bytes()
    assert runner.invoke(main, ["synth", str(spec), "-o", f"{infra}/"]).exit_code == 0
    assert {p: p.read_bytes() for p in sorted(infra.rglob("*.yaml"))} == first and (tmp_path / "service.lock.json").read_bytes() == lock
    check = runner.invoke(main, ["synth", str(spec), "-o", f"{infra}/", "--check"])
    assert check.exit_code == 0, check.output
    # a new route: the lock and the templates are stale until synth runs
    data = micro_spec(ROUTES + 1)
    write_spec(tmp_path, 0, data)
    check = runner.invoke(main, ["synth", str(spec), "-o", f"{infra}/", "--check"])
    assert check.exit_code == 1 and "stack lock) is out of date" in check.output and "is stale" in check.output
    (tmp_path / "service.lock.json").unlink()
    write_spec(tmp_path, ROUTES)
    check = runner.invoke(main, ["synth", str(spec), "-o", f"{infra}/", "--check"])
    assert check.exit_code == 1 and "(the stack lock) does not exist" in check.output
    (tmp_path / "service.lock.json").write_bytes(lock)
    lint = runner.invoke(main, ["lint", str(infra / "prod")])
    assert lint.exit_code == 0, lint.output
    assert f"{len(stacks) + 1} templates: no findings" in lint.output


def test_lint_of_a_split_spec_names_each_template(tmp_path, monkeypatch):
    from generator import lint

    spec = write_spec(tmp_path, ROUTES)
    names = [name for name, _ in lint.read_targets([str(spec)], use_cache=False)]
    assert names[0] == f"{spec}#template" and names[1:] == [f"{spec}#NestedStack{i + 1}" for i in range(len(names) - 1)]
    assert len(names) >= 3


def test_past_300_api_resources_synth_warns_naming_the_quota(tmp_path):
    data = micro_spec(2)
    data["pattern"] = "serverless"
    data["api"]["routes"] = [{"method": "GET", "path": f"/r{i}", "handler": f"h.h{i}", "uses": ["products:read"]} for i in range(301)]
    spec = write_spec(tmp_path, 0, data)
    result = CliRunner().invoke(main, ["synth", str(spec), "--env", "prod", "-o", str(tmp_path / "t.yaml")])
    assert result.exit_code == 0, result.output
    assert "301 resources" in result.output and "quota 'Resources per API'" in result.output
    data["api"]["routes"] = data["api"]["routes"][:300]
    spec = write_spec(tmp_path, 0, data)
    result = CliRunner().invoke(main, ["synth", str(spec), "--env", "prod", "-o", str(tmp_path / "t.yaml")])
    assert result.exit_code == 0 and "Resources per API" not in result.output


def test_the_generated_makefile_lints_every_template_of_every_environment():
    makefile = (Path(__file__).resolve().parents[1] / "templates" / "serverless-python" / "{{cookiecutter.service}}" / "Makefile").read_text()
    assert "$(CFN_LINT) infra/*/*.yaml" in makefile


@pytest.mark.slow
def test_deploy_uploads_the_nested_templates_where_the_parent_points(nested_moto, tmp_path):
    from generator import deploy as deployer

    runner = CliRunner()
    spec = write_spec(tmp_path / "svc", MAX_MICRO_ROUTES + 8)
    artifact = tmp_path / "function.zip"
    artifact.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    refused = runner.invoke(main, ["deploy", str(spec), "--env", "dev", "--artifact", str(artifact), "--yes"])
    assert refused.exit_code == 2 and "service.lock.json" in refused.output and "msgen synth" in refused.output  # no lock yet
    assert runner.invoke(main, ["synth", str(spec), "-o", str(tmp_path / "svc" / "infra") + "/"]).exit_code == 0
    nested = {p.name.split(".")[1]: p.read_bytes() for p in (tmp_path / "svc" / "infra" / "dev").glob("template.*.yaml")}
    assert nested
    result = runner.invoke(main, ["deploy", str(spec), "--env", "dev", "--artifact", str(artifact), "--yes"])
    assert result.exit_code == 0, result.output[-3000:]
    keys = {o["Key"] for o in nested_moto.client("s3").list_objects_v2(Bucket="msgen-artifacts-test")["Contents"]}
    for name, body in nested.items():
        key = deployer.nested_template_key("catalog-svc", body)
        assert key in keys and f"nested stack {name}: s3://msgen-artifacts-test/{key}" in result.output
    assert "stack catalog-svc-dev: CREATE_COMPLETE" in result.output
    stacks = {s["StackName"]: s["StackStatus"] for s in nested_moto.client("cloudformation").describe_stacks()["Stacks"]}
    assert stacks["catalog-svc-dev"] == "CREATE_COMPLETE"


@pytest.mark.slow
def test_checkov_passes_the_parent_and_every_nested_template(split60, tmp_path):
    import os
    import subprocess

    _, result, _ = split60
    for suffix, text in result.templates["prod"].items():
        (tmp_path / f"template{suffix}.yaml").write_text(text)
    root = Path(__file__).resolve().parents[1]
    exe = os.environ.get("MSGEN_CHECKOV") or str(root / ".venv-checkov" / "bin" / "checkov")
    assert Path(exe).exists(), f"checkov not found at {exe}; run `make test`, which installs it in its own venv"
    proc = subprocess.run([exe, "-d", str(tmp_path), "--framework", "cloudformation", "--quiet", "--compact", "--skip-download", "-o", "json"],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"})
    report = json.loads(proc.stdout)
    report = report[0] if isinstance(report, list) else report
    failed = [(c["check_id"], c["resource"], c["file_path"]) for c in report["results"]["failed_checks"]]
    assert failed == [] and report["summary"]["parsing_errors"] == 0
    assert report["summary"]["resource_count"] > 800 and report["summary"]["passed"] > 500


def test_a_nested_template_whose_stack_is_gone_is_stale_and_removed(tmp_path):
    runner = CliRunner()
    spec = write_spec(tmp_path, MAX_MICRO_ROUTES + 4)
    out = tmp_path / "infra" / "prod" / "template.yaml"
    assert runner.invoke(main, ["synth", str(spec), "--env", "prod", "-o", str(out)]).exit_code == 0
    leftover = out.with_name("template.NestedStack9.yaml")
    leftover.write_text(out.with_name("template.NestedStack1.yaml").read_text())  # as msgen wrote it for a stack since emptied
    mine = out.with_name("template.NestedStack8.yaml")
    mine.write_text("# someone's own file\n")
    check = runner.invoke(main, ["synth", str(spec), "--env", "prod", "-o", str(out), "--check"])
    assert check.exit_code == 1 and f"{leftover} is no longer a nested stack" in check.output and str(mine) not in check.output
    result = runner.invoke(main, ["synth", str(spec), "--env", "prod", "-o", str(out)])
    assert result.exit_code == 0 and f"removed {leftover}" in result.output
    assert not leftover.exists() and mine.exists()
    assert runner.invoke(main, ["synth", str(spec), "--env", "prod", "-o", str(out), "--check"]).exit_code == 0


def test_diff_of_a_split_service_compares_its_parent(tmp_path):
    """msgen diff (the data-loss guard of a pull request) compares parents: every data resource is in the parent."""
    runner = CliRunner()
    spec = write_spec(tmp_path, MAX_MICRO_ROUTES + 4)
    out = tmp_path / "infra" / "prod" / "template.yaml"
    assert runner.invoke(main, ["synth", str(spec), "--env", "prod", "-o", str(out)]).exit_code == 0
    same = runner.invoke(main, ["diff", str(spec), "--env", "prod", "--against", str(out)])
    assert same.exit_code == 0, same.output
    text = out.read_text()
    out.write_text(text.replace("  ProductsTable:\n", "  OldProductsTable:\n", 1))  # deployed under another logical ID
    lost = runner.invoke(main, ["diff", str(spec), "--env", "prod", "--against", str(out)])
    assert lost.exit_code == 1 and "OldProductsTable" in lost.output


def test_resources_a_newer_msgen_adds_per_function_join_their_functions_stack(split60, tmp_path):
    """As if the lock were written by an msgen without releases: the versions, aliases, deployment groups and rollback
    alarms it did not know go to their function's stack, and nothing that was placed moves."""
    _, result, _ = split60
    lock = json.loads(result.lock_text)
    newer = re.compile(r"Function(Version|Alias|DeploymentGroup|ReleaseErrorsAlarm)$")
    older = {k: v for k, v in lock["resources"].items() if not newer.search(k)}
    assert len(older) < len(lock["resources"])
    write_spec(tmp_path, ROUTES)
    (tmp_path / "service.lock.json").write_text(json.dumps({**lock, "resources": older}))
    again = api.synth_templates(str(tmp_path / "service.yaml"), use_cache=False, envs=["prod"])
    assert again.lock_changed
    after = json.loads(again.lock_text)
    assert {k: after["resources"][k] for k in older} == older and after["units"] == lock["units"]
    for lid, home in after["resources"].items():
        if newer.search(lid):
            assert home == after["units"][newer.sub("Function", lid)], lid
    assert again.templates == result.templates  # the same placement the lock gave them before


def test_past_2500_resources_in_its_stacks_synth_warns_naming_the_quota():
    def template(n: int, stacks: int = 0) -> str:
        return "Resources:\n" + "".join(f"  R{i}:\n    Type: AWS::SNS::Topic\n" for i in range(n)) + "".join(
            f"  NestedStack{i + 1}:\n    Type: AWS::CloudFormation::Stack\n" for i in range(stacks))

    def synthesized(second: int) -> api.Synthesized:
        texts = {"": template(1, 2), ".NestedStack1": template(1300), ".NestedStack2": template(second)}
        return api.Synthesized({"prod": texts}, Path("x.lock.json"))

    (warning,) = synthesized(1200).warnings()  # 2,501 resources: the nested stack resources themselves are not counted
    assert "the service has 2501 resources in its stacks" in warning and "at most 2500 resources of nested stacks" in warning
    assert "quota 'Nested stacks'" in warning
    assert synthesized(1199).warnings() == []
