"""The first split of a service deployed as one template (docs/nested-stacks.md): when it was synthesized without the
deployed single template at the output path, the stack lock may place deployed units in a nested stack. Deploying that
would delete them from the parent and create them again in the nested stack (fixed names clash, retained log groups
are orphaned): msgen deploy refuses before changing anything, naming them, and says how to fix the lock."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator import deploy as deployer
from generator.cli import main
from tests.conftest import ARTIFACT_BUCKET as BUCKET
from tests.conftest import micro_spec
from tests.moto_shim import FastLoader
from tests.test_patterns import MAX_MICRO_ROUTES


def write_spec(spec: Path, routes: int) -> None:
    spec.write_text(yaml.safe_dump(micro_spec(routes), sort_keys=False))


def deploy(spec: Path, env: str, artifact: Path, *extra: str):
    return CliRunner().invoke(main, ["deploy", str(spec), "--env", env, "--artifact", str(artifact), "--yes", *extra])


def deployed_template(cf, stack: str) -> dict:
    body = cf.get_template(StackName=stack)["TemplateBody"]
    return yaml.load(body, Loader=FastLoader) if isinstance(body, str) else body


def lock_homes(folder: Path) -> dict[str, str]:
    return yaml.safe_load((folder / "service.lock.json").read_text())["resources"]


def test_a_split_without_the_deployed_template_is_refused_before_anything_changes_and_the_fix_deploys(nested_moto, tmp_path):
    runner = CliRunner()
    cf, s3 = nested_moto.client("cloudformation"), nested_moto.client("s3")
    spec, artifact = tmp_path / "service.yaml", tmp_path / "function.zip"
    artifact.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    write_spec(spec, MAX_MICRO_ROUTES)  # one template, deployed (prod: log groups DeletionPolicy Retain)
    first = deploy(spec, "prod", artifact)
    assert first.exit_code == 0, first.output[-2000:]
    single = deployed_template(cf, "catalog-svc-prod")
    assert "NestedStack1" not in single["Resources"]

    # the service grows past the quota and is split, synthesized somewhere else: the lock places units by the rule
    write_spec(spec, MAX_MICRO_ROUTES + 4)
    assert runner.invoke(main, ["synth", str(spec), "--env", "prod", "-o", str(tmp_path / "elsewhere" / "template.yaml")]).exit_code == 0
    moving = {lid for lid, home in lock_homes(tmp_path).items() if home != "parent" and lid in single["Resources"]}
    assert "Things6ListAllFunctionLogGroup" in moving and "Things6ListAllFunctionErrorsAlarm" in moving  # what today's rule does
    objects = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
    change_sets = cf.list_change_sets(StackName="catalog-svc-prod")["Summaries"]

    refused = deploy(spec, "prod", artifact)
    assert refused.exit_code == 1, refused.output[-3000:]
    assert "Traceback" not in refused.output
    assert f"refused: this release moves {len(moving)} resources that stack catalog-svc-prod holds into nested stacks" in refused.output
    for lid in moving:
        assert f"  {lid} (" in refused.output and f") -> {lock_homes(tmp_path)[lid]}" in refused.output, lid
    assert "nothing was changed" in refused.output and "infra/prod/template.yaml" in refused.output
    assert "service.lock.json" in refused.output and "aws cloudformation get-template --stack-name catalog-svc-prod" in refused.output
    # nothing uploaded, no change set, the stack as it was
    assert {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])} == objects
    assert cf.list_change_sets(StackName="catalog-svc-prod")["Summaries"] == change_sets
    assert [s["StackName"] for s in cf.describe_stacks()["Stacks"]] == ["catalog-svc-prod"]
    assert deployed_template(cf, "catalog-svc-prod") == single

    # the fix the message gives: the deployed single template at the output path, a new lock, synth again
    infra = tmp_path / "infra"
    (infra / "prod").mkdir(parents=True)
    body = cf.get_template(StackName="catalog-svc-prod")["TemplateBody"]
    (infra / "prod" / "template.yaml").write_text(body if isinstance(body, str) else yaml.safe_dump(body))
    (tmp_path / "service.lock.json").unlink()
    fixed = runner.invoke(main, ["synth", str(spec), "--env", "prod", "-o", str(infra / "prod" / "template.yaml")])
    assert fixed.exit_code == 0, fixed.output
    assert not {lid for lid, home in lock_homes(tmp_path).items() if home != "parent" and lid in single["Resources"]
                and not lid.startswith("ApiDeployment")}
    released = deploy(spec, "prod", artifact)
    assert released.exit_code == 0, released.output[-3000:]
    assert "stack catalog-svc-prod: UPDATE_COMPLETE" in released.output and "moves" not in released.output
    parent = deployed_template(cf, "catalog-svc-prod")["Resources"]
    assert {lid for lid in single["Resources"] if not lid.startswith("ApiDeployment")} <= set(parent)
    assert "NestedStack1" in parent


def test_allowing_the_data_loss_of_the_moved_log_groups_does_not_let_the_move_through(nested_moto, tmp_path):
    """dev deletes its log groups (DeletionPolicy Delete): the data-loss guard alone would ask for --allow-data-loss, and
    following that advice would still fail on every fixed name. The move is refused first, whatever is allowed."""
    cf = nested_moto.client("cloudformation")
    spec, artifact = tmp_path / "service.yaml", tmp_path / "function.zip"
    artifact.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    write_spec(spec, MAX_MICRO_ROUTES)
    assert deploy(spec, "dev", artifact).exit_code == 0
    single = deployed_template(cf, "catalog-svc-dev")
    write_spec(spec, MAX_MICRO_ROUTES + 4)
    assert CliRunner().invoke(main, ["synth", str(spec), "--env", "dev", "-o", str(tmp_path / "t.yaml")]).exit_code == 0
    logs = sorted(lid for lid, home in lock_homes(tmp_path).items()
                  if home != "parent" and single["Resources"].get(lid, {}).get("Type") == "AWS::Logs::LogGroup")
    assert logs and all(single["Resources"][lid].get("DeletionPolicy", "Delete") == "Delete" for lid in logs)
    refused = deploy(spec, "dev", artifact, *(a for lid in logs for a in ("--allow-data-loss", lid)))
    assert refused.exit_code == 1 and "refused: this release moves" in refused.output, refused.output[-3000:]
    assert "loses data in" not in refused.output and "Traceback" not in refused.output
    assert deployed_template(cf, "catalog-svc-dev") == single and cf.describe_stacks()["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_moves_are_the_deployed_parents_resources_that_a_nested_stack_of_the_release_holds():
    deployed = {"Resources": {"Table": {"Type": "AWS::DynamoDB::Table"}, "AFunction": {"Type": "AWS::Lambda::Function"},
                              "BFunction": {"Type": "AWS::Lambda::Function"}, "Gone": {"Type": "AWS::SNS::Topic"},
                              "NestedStack1": {"Type": "AWS::CloudFormation::Stack"}, "Odd": "not a resource"}}
    parent = {"Resources": {"Table": {"Type": "AWS::DynamoDB::Table"}, "NestedStack2": {"Type": "AWS::CloudFormation::Stack"}}}
    children = {"NestedStack2": {"Resources": {"BFunction": {"Type": "AWS::Lambda::Function"}, "AFunction": {}}},
                "NestedStack1": {"Resources": {"NewFunction": {}}}}
    moves = deployer.moved_to_nested(deployed, parent, children)
    assert moves == {"NestedStack2": {"AFunction": "AWS::Lambda::Function", "BFunction": "AWS::Lambda::Function"}}
    assert list(moves["NestedStack2"]) == ["AFunction", "BFunction"]  # the deployed template's order
    assert deployer.moved_to_nested(deployed, deployed, children) == {}
    assert deployer.moved_to_nested({"Resources": []}, parent, children) == {}


def test_a_lock_that_is_not_the_deployed_one_is_named_when_the_parent_was_split_already(tmp_path):
    from types import SimpleNamespace

    loaded = SimpleNamespace(display="svc/service.yaml", path=tmp_path / "service.yaml")
    moves = {"NestedStack3": {f"R{i}": "AWS::CloudWatch::Alarm" for i in range(10)}}
    lines: list[str] = []
    split = {"Resources": {"NestedStack1": {"Type": "AWS::CloudFormation::Stack"}}}
    with pytest.raises(deployer.DeployFailed) as err:
        deployer._refuse_moves(moves, split, loaded, "prod", "svc-prod", lines.append)
    message = str(err.value)
    assert "moves 10 resources" in message and "NestedStack3: R0, R1, R2, R3, R4, R5, R6, R7 and 2 more" in message
    assert f"{tmp_path / 'service.lock.json'} is not the one this stack was deployed with" in message and "delete" not in message
    assert lines[1:] == [f"  R{i} (AWS::CloudWatch::Alarm) -> NestedStack3" for i in range(10)]
    with pytest.raises(deployer.DeployFailed, match="first split was synthesized without the single template deployed before"):
        deployer._refuse_moves(moves, {"Resources": {}}, loaded, "prod", "svc-prod", lines.append)
    deployer._refuse_moves({}, split, loaded, "prod", "svc-prod", lines.append)  # nothing moves: nothing to refuse


def test_msgen_diff_against_the_single_template_notes_each_resource_that_moves_to_a_nested_stack(tmp_path):
    runner = CliRunner()
    spec, single = tmp_path / "service.yaml", tmp_path / "deployed" / "template.yaml"
    write_spec(spec, MAX_MICRO_ROUTES)
    assert runner.invoke(main, ["synth", str(spec), "--env", "prod", "-o", str(single)]).exit_code == 0
    write_spec(spec, MAX_MICRO_ROUTES + 4)
    assert runner.invoke(main, ["synth", str(spec), "--env", "prod", "-o", str(tmp_path / "elsewhere" / "template.yaml")]).exit_code == 0
    moving = {lid: home for lid, home in lock_homes(tmp_path).items()
              if home != "parent" and f"\n  {lid}:\n" in single.read_text()}
    assert "Things6ListAllFunctionLogGroup" in moving
    result = runner.invoke(main, ["diff", str(spec), "--env", "prod", "--against", str(single), "--format", "json"])
    assert "Traceback" not in result.output
    report = __import__("json").loads(result.stdout)
    notes = {r["logical_id"]: " ".join(r["notes"]) for r in report["resources"] if r["action"] == "removed"}
    assert {lid for lid, text in notes.items() if "moves to nested stack" in text} == set(moving)
    assert f"moves to nested stack {moving['Things6ListAllFunctionLogGroup']}" in notes["Things6ListAllFunctionLogGroup"]
    # a move is a finding even when every data loss is allowed: --allow-data-loss cannot make it work
    lost = report["data_loss"]
    allowing = [arg for lid in lost for arg in ("--allow-data-loss", lid)]
    allowed = runner.invoke(main, ["diff", str(spec), "--env", "prod", "--against", str(single), *allowing])
    assert allowed.exit_code == 1, allowed.output[-2000:]
    assert f"{len(moving)} resources of {single} move into nested stacks" in allowed.stderr
    assert "no unallowed data loss" not in allowed.stderr
