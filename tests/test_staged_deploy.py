"""msgen deploy of a split service past CloudFormation's 'Nested stacks' quota (2,500 resources of nested stacks created,
updated or deleted in one operation): the release goes in stages, a change set each (generator/staging.py).

moto does not enforce the quota, so the tests lower it (staging.NESTED_OPERATION_QUOTA) until the 60-route micro spec
(a parent and NestedStack1..3 of 273, 274 and 57 resources) needs three stages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator import api, stacklock, staging
from generator import deploy as deployer
from generator.cli import main
from generator.synth import nesting
from tests.conftest import ARTIFACT_BUCKET as BUCKET
from tests.conftest import micro_spec
from tests.moto_shim import FastLoader

ROUTES = 60
QUOTA = 300  # NestedStack1 (273) and NestedStack2 (274) do not fit together: three stages
STACK = "catalog-svc-dev"


def write_service(folder: Path, routes: int = ROUTES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / "service.yaml"
    spec.write_text(yaml.safe_dump(micro_spec(routes), sort_keys=False))
    synth(spec)
    return spec


def synth(spec: Path) -> None:
    """msgen synth of the dev environment: writes infra/dev/template*.yaml and the lock."""
    out = spec.parent / "infra" / "dev" / "template.yaml"
    result = CliRunner().invoke(main, ["synth", str(spec), "--env", "dev", "-o", str(out)])
    assert result.exit_code == 0, result.output
    return spec


def final_templates(folder: Path) -> dict[str, dict]:
    """The release as a one-shot deploy would deploy it: {"": parent, "NestedStackN": nested template}."""
    out = {}
    for path in sorted((folder / "infra" / "dev").glob("template*.yaml")):
        name = path.name.removeprefix("template").removesuffix(".yaml").lstrip(".")
        out[name] = yaml.load(path.read_text(), Loader=FastLoader)
    return out


def nested_state(cf) -> dict[str, dict]:
    """Each nested stack of the deployed parent: its TemplateURL (as the deployed parent writes it), its parameter values
    and its resources, read from CloudFormation (independently of msgen's plan)."""
    parent = deployed_parent(cf)
    out = {}
    for r in cf.list_stack_resources(StackName=STACK)["StackResourceSummaries"]:
        if r["ResourceType"] != "AWS::CloudFormation::Stack":
            continue
        child = cf.describe_stacks(StackName=r["PhysicalResourceId"])["Stacks"][0]
        out[r["LogicalResourceId"]] = {
            "url": json.dumps(parent["Resources"][r["LogicalResourceId"]]["Properties"]["TemplateURL"]),
            "parameters": {p["ParameterKey"]: p["ParameterValue"] for p in child.get("Parameters", [])},
            "resources": {x["LogicalResourceId"]: x["ResourceType"]  # moto lists a resource it skipped with an empty id
                          for x in cf.list_stack_resources(StackName=r["PhysicalResourceId"])["StackResourceSummaries"]
                          if x["LogicalResourceId"]},
        }
    return out


def deployed_parent(cf) -> dict:
    body = cf.get_template(StackName=STACK)["TemplateBody"]
    return yaml.load(body, Loader=FastLoader) if isinstance(body, str) else body  # msgen writes no short tags


def inventory(cf) -> dict[str, dict[str, str]]:
    """Every resource of the parent and its nested stacks: {stack: {logical id: type}}."""
    out = {"": {x["LogicalResourceId"]: x["ResourceType"] for x in cf.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
                if x["LogicalResourceId"]}}
    for name, state in nested_state(cf).items():
        out[name] = state["resources"]
    return out


def record_stages(monkeypatch, cf) -> list[dict]:
    """Wrap deploy's per-stage step: each stage's plan, parent template text and the nested stacks after it."""
    seen: list[dict] = []
    real = deployer._apply

    def spy(*args, **kwargs):
        stage = args[-1]
        before = nested_state(cf) if _exists(cf) else {}
        outcome = real(*args, **kwargs)
        seen.append({"stage": stage, "text": args[7], "before": before, "after": nested_state(cf)})
        return outcome

    monkeypatch.setattr(deployer, "_apply", spy)
    return seen


def _exists(cf) -> bool:
    return any(s["StackName"] == STACK for s in cf.describe_stacks()["Stacks"])


def touched(before: dict[str, dict], after: dict[str, dict]) -> tuple[list[str], int]:
    """The nested stacks a stage created, deleted, or whose template or parameters it changed, and their resources (as
    moto has them: it skips types it does not model, such as metric filters and deployment groups)."""
    names, n = [], 0
    for name in sorted(set(before) | set(after)):
        b, a = before.get(name), after.get(name)
        if b is None or a is None or (b["url"], b["parameters"]) != (a["url"], a["parameters"]):
            names.append(name)
            n += len(set((b or {}).get("resources", {})) | set((a or {}).get("resources", {})))
    return names, n


def deploy(spec: Path, artifact: Path, *extra: str):
    return CliRunner().invoke(main, ["deploy", str(spec), "--env", "dev", "--artifact", str(artifact), "--yes", *extra])


def data_resources(template: dict) -> dict[str, dict]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] in nesting.DATA_TYPES}


@pytest.mark.slow
def test_a_first_deploy_and_a_release_past_the_quota_go_in_stages_and_end_as_a_one_shot_deploy(nested_moto, tmp_path, monkeypatch):
    from generator import diff as differ
    from generator import lint

    spec = write_service(tmp_path / "svc")
    final = final_templates(tmp_path / "svc")
    sizes = {n: len(t["Resources"]) for n, t in final.items() if n}
    assert sizes == {"NestedStack1": 273, "NestedStack2": 274, "NestedStack3": 57}
    artifact = tmp_path / "function.zip"
    artifact.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    cf = nested_moto.client("cloudformation")
    monkeypatch.setattr(staging, "NESTED_OPERATION_QUOTA", QUOTA)
    stages = record_stages(monkeypatch, cf)

    result = deploy(spec, artifact)
    assert result.exit_code == 0, result.output[-3000:] + result.stderr[-3000:]
    err = result.stderr
    assert ("msgen: this release creates, updates or deletes 604 resources of nested stacks; CloudFormation allows 300 in one "
            "operation (quota 'Nested stacks'): deploying in 3 stages") in err
    wanted = ["stage 1 of 3: creating NestedStack1 (273 resources)", "stage 2 of 3: creating NestedStack2 (274 resources)",
              "stage 3 of 3: creating NestedStack3 (57 resources)"]
    assert all(w in err for w in wanted), [x for x in err.splitlines() if x.startswith(("stage", "msgen"))]
    positions = [err.index(w) for w in wanted]
    assert positions == sorted(positions)
    assert err.count("CREATE_COMPLETE (stage 1 of 3)") == 1 and "UPDATE_COMPLETE (stage 3 of 3)" in err

    # each stage, as CloudFormation saw it: the nested stacks it created under the quota, in order, and nothing touched twice
    assert [sorted(s["after"]) for s in stages] == [["NestedStack1"], ["NestedStack1", "NestedStack2"],
                                                    ["NestedStack1", "NestedStack2", "NestedStack3"]]
    counts = [touched(s["before"], s["after"]) for s in stages]
    assert [c[0] for c in counts] == [["NestedStack1"], ["NestedStack2"], ["NestedStack3"]]
    assert all(0 < c[1] <= QUOTA for c in counts)

    # the intermediate parents are valid templates (stage 1, the furthest from the release, through msgen's lint engine:
    # cfn-lint and msgen's rules), and keep every data resource as the release has it
    parents = [yaml.load(s["text"], Loader=FastLoader) for s in stages]
    assert lint.lint_many([("stage1", stages[0]["text"])], jobs=1) == {"stage1": []}
    for i, parent in enumerate(parents):
        assert data_resources(parent) == data_resources(final[""]), f"stage {i + 1}"
        if i:
            assert differ.compare(parents[i - 1], parent).data_loss == []
    # the leaving out is visible in the parent's service-wide resources: stage 1 has no dashboard row of stack 2's functions
    assert "NestedStack2" not in stages[0]["text"] and "NestedStack3" not in stages[1]["text"]
    ids = [{lid for lid in p["Resources"] if not lid.startswith("ApiDeployment")} for p in parents]  # a new API deployment each
    assert ids[0] < ids[1] < ids[2] == {lid for lid in final[""]["Resources"] if not lid.startswith("ApiDeployment")}
    for parent in parents:  # a resource keeps its logical ID and type through the stages
        assert all(final[""]["Resources"][lid]["Type"] == r["Type"] for lid, r in parent["Resources"].items() if lid in final[""]["Resources"])

    # the end: what a one-shot deploy deploys
    assert deployed_parent(cf) == final[""]
    staged = inventory(cf)
    assert sorted(staged) == sorted(final)
    for name, resources in staged.items():
        if name:
            assert set(resources) <= set(final[name]["Resources"]) and len(resources) > 0.8 * len(final[name]["Resources"])

    # ... and as a one-shot deploy in another account (quota as CloudFormation's) leaves it
    monkeypatch.setattr(staging, "NESTED_OPERATION_QUOTA", 2500)
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "210987654321")
    nested_moto.client("s3").create_bucket(Bucket="msgen-artifacts-one-shot")
    one = deploy(spec, artifact, "--artifact-bucket", "msgen-artifacts-one-shot")
    assert one.exit_code == 0 and "stage 1 of" not in one.stderr, one.stderr[-3000:]
    assert inventory(cf) == staged

    # a release that changes every function (a new code package) updates the nested stacks in stages too; the stacks
    # not staged yet keep the code they run: their deployed parameter values, written out in the stage's parent
    monkeypatch.delenv("MOTO_ACCOUNT_ID")
    monkeypatch.setattr(staging, "NESTED_OPERATION_QUOTA", QUOTA)
    old = nested_state(cf)["NestedStack2"]["parameters"]["ArtifactKey"]
    artifact.write_bytes(b"PK\x05\x06" + b"\1" * 18)
    stages.clear()
    result = deploy(spec, artifact)
    assert result.exit_code == 0, result.stderr[-3000:]
    wanted = ["stage 1 of 3: updating NestedStack1 (273 resources)", "stage 2 of 3: updating NestedStack2 (274 resources)",
              "stage 3 of 3: updating NestedStack3 (57 resources)"]
    assert all(w in result.stderr for w in wanted), [x for x in result.stderr.splitlines() if x.startswith(("stage", "msgen"))]
    positions = [result.stderr.index(w) for w in wanted]
    assert positions == sorted(positions)
    counts = [touched(s["before"], s["after"]) for s in stages]
    assert [c[0] for c in counts] == [["NestedStack1"], ["NestedStack2"], ["NestedStack3"]]
    assert all(0 < c[1] <= QUOTA for c in counts)
    keys = [{n: st["parameters"]["ArtifactKey"] for n, st in s["after"].items()} for s in stages]
    new = keys[-1]["NestedStack1"]
    assert new != old
    assert keys == [{"NestedStack1": new, "NestedStack2": old, "NestedStack3": old},
                    {"NestedStack1": new, "NestedStack2": new, "NestedStack3": old},
                    {"NestedStack1": new, "NestedStack2": new, "NestedStack3": new}]
    stage1 = yaml.load(stages[0]["text"], Loader=FastLoader)["Resources"]
    assert stage1["NestedStack2"]["Properties"]["Parameters"]["ArtifactKey"] == old
    assert stage1["NestedStack1"]["Properties"]["Parameters"]["ArtifactKey"] == {"Ref": "ArtifactKey"}
    assert deployed_parent(cf) == final[""]
    # (moto lists the parent's own Lambda versions it replaced for the new code without their logical IDs)
    assert {n: r for n, r in inventory(cf).items() if n} == {n: r for n, r in staged.items() if n}


@pytest.mark.slow
def test_a_stage_that_cannot_fit_is_refused_before_anything_changes(nested_moto, tmp_path, monkeypatch):
    spec = write_service(tmp_path / "svc")
    artifact = tmp_path / "function.zip"
    artifact.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    monkeypatch.setattr(staging, "NESTED_OPERATION_QUOTA", 250)
    result = deploy(spec, artifact)
    assert result.exit_code == 1
    assert ("refused: nested stack NestedStack1 alone has 273 resources, more than the 250 CloudFormation creates or updates in "
            "one operation (quota 'Nested stacks')") in result.stderr
    assert "The service has 604 resources in nested stacks" in result.stderr and "nothing was changed" in result.stderr
    assert not _exists(nested_moto.client("cloudformation"))


def test_growth_creates_the_new_nested_stacks_in_stages_after_updating_the_last_one(tmp_path):
    """Planning only (no AWS): a 40-route service (a parent and NestedStack1) as deployed, grown to 90 routes; its lock
    puts the new units in new stacks (NestedStack1 has no room left for their outputs)."""
    folder = tmp_path / "svc"
    spec = write_service(folder, 40)
    before = final_templates(folder)
    assert sorted(before) == ["", "NestedStack1"]
    spec.write_text(yaml.safe_dump(micro_spec(90), sort_keys=False))
    synth(spec)
    after = final_templates(folder)
    assert sorted(after) == ["", "NestedStack1", "NestedStack2", "NestedStack3", "NestedStack4"]
    values = {"Environment": "dev", "ArtifactBucket": BUCKET, "ArtifactKey": "k", "CodeSha256": "c"}
    deployed = staging.Deployed(before[""], values)
    for n, t in before.items():
        if n:
            deployed.stacks[n] = staging.DeployedStack(
                n, json.loads(json.dumps(before[""]["Resources"][n])), {p: "x" for p in t["Parameters"]}, set(t.get("Outputs", {})),
                set(t["Resources"]))
    loaded = api.load_spec(str(spec))
    lock = stacklock.read(stacklock.path_for(spec), "catalog-svc")
    text = (folder / "infra" / "dev" / "template.yaml").read_text()
    release = staging.Release(text, json.loads(json.dumps(after[""])), {n: t for n, t in after.items() if n}, values,
                              staging.restricted_parents(loaded, "dev", lock), lock.resources.get,
                              lambda data: __import__("generator.synth.pipeline", fromlist=["render"]).render(data, "yaml"))
    sizes = {n: len(t["Resources"]) for n, t in after.items() if n}
    assert sizes == {"NestedStack1": 273, "NestedStack2": 288, "NestedStack3": 303, "NestedStack4": 129}
    stages = staging.plan(release, deployed, 310)
    assert [(s.updated, s.created, s.resources) for s in stages] == [
        ([], ["NestedStack2"], 288), ([], ["NestedStack3"], 303), ([], ["NestedStack4"], 129)]
    assert stages[-1].text == text
    first = yaml.load(stages[0].text, Loader=FastLoader)
    # stage 1: NestedStack1 as deployed, NestedStack2 as the release has it, the stacks not created yet left out together
    # with the routes they hold (the dashboard, alarms, release role and API deployment of the routes deployed by then)
    assert first["Resources"]["NestedStack1"] == after[""]["Resources"]["NestedStack1"] == before[""]["Resources"]["NestedStack1"]
    assert first["Resources"]["NestedStack2"] == after[""]["Resources"]["NestedStack2"]
    assert not re.search(r"NestedStack[34]\b", stages[0].text) and not re.search(r"NestedStack4\b", stages[1].text)
    placed = {lid for lid, where in lock.resources.items() if where in ("parent", "NestedStack1", "NestedStack2")}
    assert {lid for lid in first["Resources"] if not lid.startswith(("NestedStack", "ApiDeployment"))} <= placed
    assert data_resources(first) == data_resources(after[""])

    # stopped after stage 1 (--no-execute on stage 2, or a failure): the next msgen deploy plans the rest from what is deployed
    nested2 = after["NestedStack2"]
    deployed = staging.Deployed(first, values, {**deployed.stacks, "NestedStack2": staging.DeployedStack(
        "NestedStack2", first["Resources"]["NestedStack2"], {p: "x" for p in nested2["Parameters"]}, set(nested2.get("Outputs", {})),
        set(nested2["Resources"]))})
    rest = staging.plan(release, deployed, 310)
    assert [(s.updated, s.created) for s in rest] == [([], ["NestedStack3"]), ([], ["NestedStack4"])]
    assert rest[0].text == stages[1].text and rest[-1].text == text


def test_under_the_quota_a_release_is_one_stage_and_stage_names_are_compressed():
    names = ["NestedStack7", "NestedStack5", "NestedStack6", "NestedStack9"]
    assert staging.names_text(names) == "NestedStack5..NestedStack7, NestedStack9"
    stage = staging.Stage(2, 4, "", created=["NestedStack5", "NestedStack6", "NestedStack7", "NestedStack8"], resources=2310)
    assert stage.describe() == "stage 2 of 4: creating NestedStack5..NestedStack8 (2,310 resources)"


def test_a_stack_the_release_empties_is_kept_until_the_last_stage_deletes_it(tmp_path):
    """Planning only: a 90-route service (NestedStack1..4, written by a first split) loses its last 30 routes and gets new
    code; NestedStack4 is left empty (the lock drops it from the templates). Every stage but the last keeps it as deployed;
    an update counts the resources it deletes too."""
    folder = tmp_path / "svc"
    data = micro_spec(90)
    spec = write_service(folder, 90)
    before = final_templates(folder)
    data["api"]["routes"] = data["api"]["routes"][:60]
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    synth(spec)
    after = final_templates(folder)
    assert "NestedStack4" in before and "NestedStack4" not in after
    values = {"Environment": "dev", "ArtifactBucket": BUCKET, "ArtifactKey": "old", "CodeSha256": "c"}
    deployed = staging.Deployed(before[""], values)
    for n, t in before.items():
        if n:
            deployed.stacks[n] = staging.DeployedStack(n, before[""]["Resources"][n], {p: "x" for p in t["Parameters"]},
                                                       set(t.get("Outputs", {})), set(t["Resources"]))
    loaded = api.load_spec(str(spec))
    lock = stacklock.read(stacklock.path_for(spec), "catalog-svc")
    text = (folder / "infra" / "dev" / "template.yaml").read_text()
    from generator.synth.pipeline import render

    release = staging.Release(text, after[""], {n: t for n, t in after.items() if n}, {**values, "ArtifactKey": "new"},
                              staging.restricted_parents(loaded, "dev", lock), lock.resources.get, lambda d: render(d, "yaml"))
    stages = staging.plan(release, deployed, 320)
    shrunk = len(set(before["NestedStack3"]["Resources"]) | set(after["NestedStack3"]["Resources"]))
    assert len(after["NestedStack3"]["Resources"]) < shrunk <= 320
    assert [(s.updated, s.deleted, s.resources) for s in stages] == [
        (["NestedStack1"], [], len(after["NestedStack1"]["Resources"])), (["NestedStack2"], [], len(after["NestedStack2"]["Resources"])),
        (["NestedStack3"], [], shrunk), ([], ["NestedStack4"], len(before["NestedStack4"]["Resources"]))]
    for s in stages[:-1]:
        kept = yaml.load(s.text, Loader=FastLoader)["Resources"]["NestedStack4"]
        assert kept["Properties"] == {**before[""]["Resources"]["NestedStack4"]["Properties"],
                                      "Parameters": {p: "x" for p in sorted(before["NestedStack4"]["Parameters"])}}
    assert stages[-1].text == text and "NestedStack4" not in text
