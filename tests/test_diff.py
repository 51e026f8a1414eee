"""msgen diff SPEC --against FILE: what deploying SPEC changes in a stack, offline, and the data-loss guard (exit 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from generator import api
from tests.conftest import BLUEPRINTS, ROOT, blueprint_data

GOLDEN = ROOT / "tests" / "golden"


def write_spec(tmp_path: Path, data: dict, name: str = "service.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def deployed(cli, tmp_path: Path, spec: str | Path = "serverless-api", name: str = "deployed.yaml") -> Path:
    """The template a spec gives, as if it were the one deployed."""
    out = tmp_path / name
    result = cli("synth", str(spec), "-o", str(out))
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("name", sorted(BLUEPRINTS))
def test_every_blueprint_against_its_golden_template(cli, name):
    golden = GOLDEN / f"{name}.template.yaml"
    if not golden.exists():
        pytest.skip(f"no golden template for {name} yet (tests/test_golden.py reports it)")
    result = cli("diff", name, "--against", str(golden), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # Work in progress may change a template before its golden is regenerated; it must never lose data.
    assert data["data_loss"] == [] and data["unallowed"] == []
    assert not any(r["holds_data"] for r in data["resources"])
    if api.synth(api.load(name)) == golden.read_text(encoding="utf-8"):  # the golden is current: nothing at all changes
        assert data["resources"] == [] and data["sections"] == []
        text = cli("diff", name, "--against", str(golden))
        assert text.exit_code == 0 and "No changes." in text.stdout and "no changes" in text.stderr


def test_identical_templates_say_no_changes(cli, tmp_path):
    old = deployed(cli, tmp_path)
    result = cli("diff", "serverless-api", "--against", str(old))
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [f"Comparing {old} (deployed) with blueprint:serverless-api (synthesized)", "No changes."]


def test_a_changed_setting_is_modified_in_place(cli, tmp_path):
    old = deployed(cli, tmp_path)
    data = blueprint_data()
    data["application"]["memory_mb"] = 1024
    result = cli("diff", str(write_spec(tmp_path, data)), "--against", str(old))
    assert result.exit_code == 0, result.output
    assert "~ ApiFunction  AWS::Lambda::Function" in result.stdout
    assert "Properties.MemorySize: 512 -> 1024" in result.stdout and "DATA LOSS" not in result.stdout


def test_a_table_key_change_replaces_the_table_and_is_refused_unless_allowed(cli, tmp_path):
    old = deployed(cli, tmp_path)
    data = blueprint_data()
    data["persistence"]["tables"][0]["partition_key"] = "payment_id"
    spec = str(write_spec(tmp_path, data))
    result = cli("diff", spec, "--against", str(old))
    assert result.exit_code == 1, result.output
    assert "! PaymentsTable  AWS::DynamoDB::Table DATA LOSS (the old one is retained, detached)" in result.stdout
    assert "replaced because KeySchema: conditionally create-only" in result.stdout
    assert "--allow-data-loss PaymentsTable" in result.stderr
    allowed = cli("diff", spec, "--against", str(old), "--allow-data-loss", "PaymentsTable")
    assert allowed.exit_code == 0, allowed.output
    assert "allowed by --allow-data-loss" in allowed.stdout
    other = cli("diff", spec, "--against", str(old), "--allow-data-loss", "ReceiptsBucket")  # allowing another one is not enough
    assert other.exit_code == 1 and "no data loss on ReceiptsBucket" in other.stderr


def test_a_table_key_change_without_retain_deletes_the_items(cli, tmp_path):
    old = deployed(cli, tmp_path)
    template = yaml.safe_load(old.read_text())
    for attr in ("DeletionPolicy", "UpdateReplacePolicy"):
        del template["Resources"]["PaymentsTable"][attr]
    old.write_text(yaml.safe_dump(template, sort_keys=False))
    data = blueprint_data()
    data["persistence"]["tables"][0]["partition_key"] = "payment_id"
    result = cli("diff", str(write_spec(tmp_path, data)), "--against", str(old), "--format", "json")
    assert result.exit_code == 1
    (table,) = [r for r in json.loads(result.stdout)["resources"] if r["logical_id"] == "PaymentsTable"]
    assert table["action"] == "replaced" and table["data_loss"] and not table["retained"]
    assert table["policy"] == "UpdateReplacePolicy Delete -> Retain"


def test_renaming_a_table_is_a_delete_plus_create_and_data_loss(cli, tmp_path):
    old = deployed(cli, tmp_path)
    text = json.dumps(blueprint_data()).replace('"payments', '"charges')  # the table and every uses: naming it
    result = cli("diff", str(write_spec(tmp_path, json.loads(text))), "--against", str(old), "--format", "json")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    actions = {r["logical_id"]: r["action"] for r in data["resources"]}
    assert actions["PaymentsTable"] == "removed" and actions["ChargesTable"] == "added"
    assert data["unallowed"] == ["PaymentsTable"] and data["retained"] == ["PaymentsTable"]
    allowed = cli("diff", str(tmp_path / "service.yaml"), "--against", str(old), "--allow-data-loss", "PaymentsTable")
    assert allowed.exit_code == 0 and "- PaymentsTable" in allowed.stdout and "+ ChargesTable" in allowed.stdout


def test_removing_a_retained_bucket_is_a_warning(cli, tmp_path):
    old = deployed(cli, tmp_path)
    data = blueprint_data()
    data["persistence"]["buckets"] = []
    data["api"]["routes"][2]["uses"] = ["payments:readwrite"]
    result = cli("diff", str(write_spec(tmp_path, data)), "--against", str(old))
    assert result.exit_code == 0, result.output
    assert "- ReceiptsBucket  AWS::S3::Bucket retained, detached from the stack" in result.stdout
    assert "ReceiptsBucket (AWS::S3::Bucket): removed, kept by DeletionPolicy Retain" in result.stdout
    assert "DATA LOSS" not in result.stdout


def test_a_new_route_replaces_the_api_deployment_which_is_not_data_loss(cli, tmp_path):
    old = deployed(cli, tmp_path)
    data = blueprint_data()
    data["api"]["routes"].append({"method": "GET", "path": "/payments", "handler": "payments.list", "uses": ["payments:read"]})
    result = cli("diff", str(write_spec(tmp_path, data)), "--against", str(old), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    removed = [r for r in data["resources"] if r["action"] == "removed"]
    assert [r["type"] for r in removed] == ["AWS::ApiGateway::Deployment"]  # a new deployment under a new logical ID
    assert data["data_loss"] == []


def test_metadata_only(cli, tmp_path):
    old = deployed(cli, tmp_path)
    text = old.read_text()
    assert "source: persistence.tables[payments]" in text
    old.write_text(text.replace("source: persistence.tables[payments]", "source: persistence.tables[old-name]", 1))
    result = cli("diff", "serverless-api", "--against", str(old))
    assert result.exit_code == 0, result.output
    assert "0 modified, 1 metadata only" in result.stdout and "= PaymentsTable" in result.stdout
    assert "Metadata.msgen.source: persistence.tables[old-name] -> persistence.tables[payments]" in result.stdout


def test_reads_json_and_yaml_with_short_form_tags(cli, tmp_path):
    golden = yaml.safe_load(deployed(cli, tmp_path).read_text())
    as_json = tmp_path / "deployed.json"
    as_json.write_text(json.dumps(golden, indent=1))
    result = cli("diff", "serverless-api", "--against", str(as_json))
    assert result.exit_code == 0 and "No changes." in result.stdout
    short = tmp_path / "short.yaml"
    short.write_text(
        "AWSTemplateFormatVersion: '2010-09-09'\n"
        "Resources:\n"
        "  PaymentsTable:\n"
        "    Type: AWS::DynamoDB::Table\n"
        "    Properties:\n"
        "      TableName: !Sub '${AWS::StackName}-payments'\n"
        "      KeySchema: [{AttributeName: id, KeyType: HASH}]\n"
        "      SSESpecification: {SSEEnabled: true, KMSMasterKeyId: !GetAtt ServiceKey.Arn}\n"
        "  ServiceKey:\n"
        "    Type: AWS::KMS::Key\n"
        "    DeletionPolicy: Retain\n"
        "    Properties: {Description: !Ref AWS::StackName}\n"
    )
    result = cli("diff", "serverless-api", "--against", str(short), "--format", "json")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    table = next(r for r in data["resources"] if r["logical_id"] == "PaymentsTable")
    assert table["action"] == "replaced" and {"property": "TableName", "reason": "create-only"} in table["replacement"]
    key = next(r for r in data["resources"] if r["logical_id"] == "ServiceKey")
    assert key["action"] == "modified" and not key["data_loss"]


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such file"),
    ("Resources:\n  A: [\n", "bad.yaml:3:1: cannot read as YAML or JSON"),
    ("- a\n- b\n", "not a CloudFormation template"),
    ("", "not a CloudFormation template"),
    ("Resources:\n  A:\n    Properties: {}\n", "bad.yaml:2:3: Resources.A: has no Type"),
    ("Resources:\n  A: 3\n", "Resources.A: a resource is a mapping"),
    (b"\xff\xfe\x00\x01", "not UTF-8 text"),
    ("service: payment-svc\nteam: x\n", "is a msgen spec, not a template"),
], ids=["missing", "yaml-error", "list", "empty", "no-type", "not-a-mapping", "binary", "a-spec"])
def test_bad_template_files_are_exit_2_with_a_clear_message(cli, tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    result = cli("diff", "serverless-api", "--against", str(path))
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output


def test_bad_usage_is_exit_2(cli, tmp_path):
    golden = str(GOLDEN / "serverless-api.template.yaml")
    assert cli("diff", "serverless-api").exit_code == 2  # --against is required
    directory = cli("diff", "serverless-api", "--against", str(tmp_path))
    assert directory.exit_code == 2 and "is a directory" in directory.stderr
    invalid = write_spec(tmp_path, {**blueprint_data(), "pattern": "monolith"})
    assert cli("diff", str(invalid), "--against", golden).exit_code == 2
    env = cli("diff", "serverless-api", "--against", golden, "--env", "qa")
    assert env.exit_code == 2 and "dev, staging, prod" in env.stderr
    assert cli("diff", "serverless-api", "--against", golden, "--env", "prod").exit_code == 0
    assert cli("diff", "serverless-api", "--against", golden, "--format", "xml").exit_code == 2


def test_help_has_examples_and_exit_codes(cli):
    result = cli("diff", "--help")
    assert result.exit_code == 0
    for text in ("--against", "--allow-data-loss", "Examples:", "msgen diff service.yaml --env prod --against infra/prod/template.yaml",
                 "1  data loss", "2  bad input"):
        assert text in result.stdout
    assert "msgen diff" in cli("--help").stdout
