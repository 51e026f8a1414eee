"""msgen deploy and msgen destroy against moto (in-process, tests/moto_shim.py for moto's gaps), and the states and
failures moto cannot produce through botocore's Stubber."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber
from click.testing import CliRunner
from moto import mock_aws

from generator import deploy as deployer
from generator.cli import main
from tests.conftest import offline_aws
from tests.moto_shim import moto_shims

ROOT = Path(__file__).resolve().parents[1]
BLUEPRINTS = ROOT / "blueprints"
DEPLOYABLE = ["serverless-api", "serverless-cognito-api", "micro-api", "event-worker", "search-api", "hybrid-api"]
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/ledger-svc@sha256:" + "0" * 64
REGION = "us-east-1"
BUCKET = "msgen-artifacts-test"


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def creds(monkeypatch, tmp_path):
    offline_aws(monkeypatch, tmp_path, REGION)
    monkeypatch.setattr(deployer, "POLL_SECONDS", 0.0)


@pytest.fixture
def aws(creds):
    """moto with the artifact bucket and the SSM parameters that msgen bootstrap publishes."""
    with moto_shims(), mock_aws(config={"lambda": {"use_docker": False}}):
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        for env in ("dev", "staging", "prod"):
            boto3.client("ssm").put_parameter(Name=f"/msgen/{env}/bootstrap/artifact-bucket", Value=BUCKET, Type="String")
        yield


@pytest.fixture
def artifact(tmp_path) -> Path:
    path = tmp_path / "function.zip"
    path.write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip: msgen never looks inside
    return path


@pytest.fixture
def specs(tmp_path) -> Path:
    """A copy of the blueprints (with their workflow definitions) to change settings in."""
    dest = tmp_path / "specs"
    shutil.copytree(BLUEPRINTS, dest)
    return dest


def edit(path: Path, old: str, new: str) -> Path:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))
    return path


def stack_status(name: str) -> str | None:
    try:
        return boto3.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    except boto3.client("cloudformation").exceptions.ClientError:
        return None


def tables() -> list[str]:
    return boto3.client("dynamodb").list_tables()["TableNames"]


def log_groups() -> list[str]:
    return [g["logGroupName"] for g in boto3.client("logs").describe_log_groups()["logGroups"]]


def deploy(spec: Path | str, artifact: Path, *extra: str):
    return cli("deploy", str(spec), "--env", "dev", "--artifact", str(artifact), "--yes", *extra)


@pytest.mark.slow
@pytest.mark.parametrize("name", DEPLOYABLE)
def test_blueprint_dev_create_update_destroy(aws, specs, artifact, name):
    spec = specs / f"{name}.yaml"
    service = next(line.split(":", 1)[1].strip() for line in spec.read_text().splitlines() if line.startswith("service:"))
    stack = f"{service}-dev"
    image = ("--image", IMAGE) if name == "hybrid-api" else ()

    created = deploy(spec, artifact, *image)
    assert created.exit_code == 0, created.output
    assert f"stack {stack}: CREATE_COMPLETE" in created.output
    assert "CREATE_COMPLETE" in created.output and "(AWS::CloudFormation::Stack)" in created.output  # events as they happen
    assert stack_status(stack) == "CREATE_COMPLETE"
    groups = [g for g in log_groups() if service in g]
    assert groups, "the stack's log groups exist"
    key = next(o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"] if o["Key"].endswith(".zip"))
    assert key == f"{service}/artifacts/{deployer.sha256_file(artifact)[0]}.zip"  # content-addressed

    edit(spec, "log_retention_days: 7}", "log_retention_days: 14}")  # a changed setting of dev
    updated = deploy(spec, artifact, *image)
    assert updated.exit_code == 0, updated.output
    assert "(deployed) with" in updated.output and "Modified in place" in updated.output  # the guard's summary
    assert "update stack" in updated.output and f"stack {stack}: UPDATE_COMPLETE" in updated.output
    assert "~ Modify" in updated.output and "AWS::Logs::LogGroup" in updated.output
    assert stack_status(stack) == "UPDATE_COMPLETE"
    retention = {g["logGroupName"]: g.get("retentionInDays") for g in boto3.client("logs").describe_log_groups()["logGroups"]}
    assert {retention[g] for g in groups} == {14}  # the change reached the log groups

    destroyed = cli("destroy", str(spec), "--env", "dev", "--yes")
    assert destroyed.exit_code == 0, destroyed.output
    assert "DELETE_COMPLETE" in destroyed.output and "nothing left behind" in destroyed.output
    assert stack_status(stack) is None
    assert not [g for g in log_groups() if service in g]  # dev deletes its data: retain_data is false
    assert not [t for t in tables() if service in t]


def test_retained_resources_survive_destroy(aws, specs, artifact):
    spec = edit(specs / "serverless-api.yaml", "lifecycle: {protected: false, retain_data: false}",
                "lifecycle: {protected: false, retain_data: true}")
    assert deploy(spec, artifact).exit_code == 0
    before = {t for t in tables() if "payment-svc" in t}
    assert before
    destroyed = cli("destroy", str(spec), "--env", "dev", "--yes")
    assert destroyed.exit_code == 0, destroyed.output
    assert "left behind on purpose" in destroyed.output
    assert "PaymentsTable (AWS::DynamoDB::Table)" in destroyed.output and "DeletionPolicy Retain" in destroyed.output
    assert stack_status("payment-svc-dev") is None
    assert before <= set(tables())  # the retained table is still there
    assert [g for g in log_groups() if "payment-svc" in g]  # and so are the retained log groups
    again = deploy(spec, artifact)  # which is why a retaining environment cannot be created again under the same names
    assert again.exit_code == 1, again.output


def test_dev_create_destroy_create_again(aws, artifact):
    assert deploy("serverless-api", artifact).exit_code == 0
    assert cli("destroy", "serverless-api", "--env", "dev", "--yes").exit_code == 0
    again = deploy("serverless-api", artifact)
    assert again.exit_code == 0, again.output
    assert "stack payment-svc-dev: CREATE_COMPLETE" in again.output


def test_destroy_empties_the_buckets_it_deletes(aws, artifact):
    assert deploy("serverless-api", artifact).exit_code == 0
    s3 = boto3.client("s3")
    bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if "receiptsbucket" in b["Name"])
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="r/1.pdf", Body=b"one")
    s3.put_object(Bucket=bucket, Key="r/1.pdf", Body=b"two")
    s3.delete_object(Bucket=bucket, Key="r/1.pdf")  # a delete marker
    destroyed = cli("destroy", "serverless-api", "--env", "dev", "--yes")
    assert destroyed.exit_code == 0, destroyed.output
    assert f"emptying bucket {bucket}: 3 object versions and delete markers deleted" in destroyed.output
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert BUCKET in [b["Name"] for b in s3.list_buckets()["Buckets"]]  # the artifact bucket is not the stack's


def test_table_key_change_is_refused_unless_allowed(aws, specs, artifact):
    spec = specs / "serverless-api.yaml"
    assert deploy(spec, artifact).exit_code == 0
    edit(spec, "    - name: payments\n      partition_key: id", "    - name: payments\n      partition_key: payment_id")
    cf = boto3.client("cloudformation")
    before = cf.describe_stacks(StackName="payment-svc-dev")["Stacks"][0]
    sets = cf.list_change_sets(StackName="payment-svc-dev")["Summaries"]
    refused = deploy(spec, artifact, "--allow-data-loss", "ReceiptsBucket")  # allowing another resource is not enough
    assert refused.exit_code == 1, refused.output
    assert "--allow-data-loss ReceiptsBucket: no data loss on ReceiptsBucket" in refused.output
    assert "DATA LOSS" in refused.output and "PaymentsTable" in refused.output
    assert "refused" in refused.output and "--allow-data-loss PaymentsTable" in refused.output
    assert cf.list_change_sets(StackName="payment-svc-dev")["Summaries"] == sets  # no change set: nothing was changed
    assert cf.describe_stacks(StackName="payment-svc-dev")["Stacks"][0].get("LastUpdatedTime") == before.get("LastUpdatedTime")
    allowed = deploy(spec, artifact, "--allow-data-loss", "PaymentsTable")
    assert allowed.exit_code == 0, allowed.output
    assert "(allowed)" in allowed.output and "UPDATE_COMPLETE" in allowed.output


def test_empty_change_set_is_no_changes(aws, artifact, monkeypatch):
    from generator import api

    synth, seen = api.synth, {}  # the same template both times: this tests deploy, not synth's determinism
    monkeypatch.setattr(api, "synth", lambda spec, fmt="yaml", env=None: seen.setdefault((fmt, env), synth(spec, fmt, env)))
    assert deploy("serverless-api", artifact).exit_code == 0
    cf = boto3.client("cloudformation")
    sets = cf.list_change_sets(StackName="payment-svc-dev")["Summaries"]
    again = deploy("serverless-api", artifact)
    assert again.exit_code == 0, again.output
    assert "no changes" in again.output and "DATA LOSS" not in again.output
    assert cf.list_change_sets(StackName="payment-svc-dev")["Summaries"] == sets  # the empty change set was deleted


def test_no_execute_leaves_the_change_set(aws, artifact):
    result = cli("deploy", "serverless-api", "--env", "dev", "--artifact", str(artifact), "--no-execute")
    assert result.exit_code == 0, result.output
    assert "change set left for review" in result.output and "execute-change-set" in result.output
    cf = boto3.client("cloudformation")
    summaries = cf.list_change_sets(StackName="payment-svc-dev")["Summaries"]
    assert len(summaries) == 1 and summaries[0]["ExecutionStatus"] == "AVAILABLE"
    assert stack_status("payment-svc-dev") == "REVIEW_IN_PROGRESS"


def test_deploy_after_a_change_set_left_for_review(aws, artifact):
    assert cli("deploy", "serverless-api", "--env", "dev", "--artifact", str(artifact), "--no-execute").exit_code == 0
    result = deploy("serverless-api", artifact)  # the stack is REVIEW_IN_PROGRESS: still a create
    assert result.exit_code == 0, result.output
    assert "(create stack payment-svc-dev)" in result.output and "stack payment-svc-dev: CREATE_COMPLETE" in result.output
    assert "CREATE_COMPLETE              payment-svc-dev (AWS::CloudFormation::Stack)" in result.output  # its events
    # (moto makes a second stack of the same name for the second CREATE change set; AWS reuses the one in review)


def test_destroy_declined_or_absent(aws, artifact):
    assert deploy("serverless-api", artifact).exit_code == 0
    declined = CliRunner().invoke(main, ["destroy", "serverless-api", "--env", "dev"], input="n\n")
    assert declined.exit_code == 0 and "not deleted" in declined.output
    assert stack_status("payment-svc-dev") == "CREATE_COMPLETE"
    assert cli("destroy", "serverless-api", "--env", "dev", "--yes").exit_code == 0
    absent = cli("destroy", "serverless-api", "--env", "dev", "--yes")
    assert absent.exit_code == 0 and "does not exist; nothing to destroy" in absent.output


def test_declined_confirmation_executes_nothing(aws, artifact):
    result = CliRunner().invoke(main, ["deploy", "serverless-api", "--env", "dev", "--artifact", str(artifact)], input="n\n")
    assert result.exit_code == 0, result.output
    assert "Execute change set" in result.output and "not executed" in result.output
    assert stack_status("payment-svc-dev") == "REVIEW_IN_PROGRESS"


def test_missing_bootstrap_parameter(aws, artifact):
    result = cli("deploy", "serverless-api", "--env", "staging", "--artifact", str(artifact), "--yes")
    assert result.exit_code == 0, result.output  # staging's parameter exists
    boto3.client("ssm").delete_parameter(Name="/msgen/dev/bootstrap/artifact-bucket")
    result = deploy("serverless-api", artifact)
    assert result.exit_code == 2
    assert "/msgen/dev/bootstrap/artifact-bucket" in result.output and "msgen bootstrap --env dev" in result.output
    result = deploy("serverless-api", artifact, "--artifact-bucket", BUCKET)
    assert result.exit_code == 0, result.output


# ------------------------------------------------------------------ refusals before any AWS call


def test_no_credentials_is_a_clear_error(creds, monkeypatch, artifact):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = deploy("serverless-api", artifact)
    assert result.exit_code == 2, result.output
    assert "no AWS credentials found" in result.output and "Traceback" not in result.output
    result = cli("destroy", "serverless-api", "--env", "dev", "--yes")
    assert result.exit_code == 2 and "no AWS credentials found" in result.output


def test_no_region_is_a_clear_error(creds, monkeypatch, artifact):
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    result = deploy("serverless-api", artifact)
    assert result.exit_code == 2 and "no AWS Region" in result.output


def test_destroy_refuses_a_protected_environment(creds):
    result = cli("destroy", "serverless-api", "--env", "prod", "--yes")
    assert result.exit_code == 2
    assert "protected" in result.output and "Traceback" not in result.output


def test_deploy_usage_errors(creds, artifact, tmp_path):
    assert cli("deploy", "serverless-api", "--env", "dev", "--yes").exit_code == 2  # no --artifact
    missing = cli("deploy", "serverless-api", "--env", "dev", "--artifact", str(tmp_path / "nope.zip"), "--yes")
    assert missing.exit_code == 2 and "no such file" in missing.output
    unknown = cli("deploy", "serverless-api", "--env", "qa", "--artifact", str(artifact), "--yes")
    assert unknown.exit_code == 2 and "not an environment" in unknown.output
    image = cli("deploy", "hybrid-api", "--env", "dev", "--artifact", str(artifact), "--yes")
    assert image.exit_code == 2 and "--image" in image.output


def test_code_sha256_parameter_is_lambdas_base64_digest(artifact):
    import base64
    import hashlib

    template = {"Parameters": {"Environment": {}, "ArtifactBucket": {}, "ArtifactKey": {}, "CodeSha256": {}, "Other": {}}}
    _, b64 = deployer.sha256_file(artifact)
    assert b64 == base64.b64encode(hashlib.sha256(artifact.read_bytes()).digest()).decode()
    values = {p["ParameterKey"]: p["ParameterValue"] for p in deployer.parameter_values(template, "dev", "b", "k.zip", b64, None)}
    assert values == {"Environment": "dev", "ArtifactBucket": "b", "ArtifactKey": "k.zip", "CodeSha256": b64}


def test_synth_does_not_import_boto3():
    code = ("import sys; from click.testing import CliRunner; from generator.cli import main; "
            "r = CliRunner().invoke(main, ['synth', 'serverless-api', '--no-cache']); assert r.exit_code == 0, r.output; "
            "print('boto3' in sys.modules, 'botocore' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip() == "False False"


# ------------------------------------------------------------------ states moto cannot produce: botocore's Stubber


class StubSession:
    """Stands in for the boto3 session: stubbed clients, so every call and its order is checked."""

    region_name = REGION

    def __init__(self):
        self.clients = {name: boto3.client(name, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
                        for name in ("cloudformation", "s3", "ssm")}
        self.stubs = {name: Stubber(c) for name, c in self.clients.items()}

    def client(self, name: str):
        return self.clients[name]


@pytest.fixture
def stubbed(creds, monkeypatch):
    s = StubSession()
    monkeypatch.setattr(deployer, "session", lambda region=None: s)
    for stub in s.stubs.values():
        stub.activate()
    yield s
    for stub in s.stubs.values():
        stub.deactivate()


def _stack(status: str, reason: str = "") -> dict:
    stack = {"StackName": "payment-svc-dev", "StackId": "arn:aws:cloudformation:us-east-1:1:stack/payment-svc-dev/1",
             "CreationTime": datetime(2026, 12, 1, tzinfo=UTC), "StackStatus": status}
    return {"Stacks": [{**stack, "StackStatusReason": reason} if reason else stack]}


def _bucket(s: StubSession) -> None:
    s.stubs["ssm"].add_response("get_parameter", {"Parameter": {"Name": "/msgen/dev/bootstrap/artifact-bucket", "Value": BUCKET}},
                                {"Name": "/msgen/dev/bootstrap/artifact-bucket"})


@pytest.mark.parametrize(("status", "advice"), [
    ("ROLLBACK_COMPLETE", "msgen destroy"),
    ("UPDATE_ROLLBACK_FAILED", "continue-update-rollback"),
    ("UPDATE_IN_PROGRESS", "busy"),
])
def test_stuck_stack_states(stubbed, artifact, status, advice):
    _bucket(stubbed)
    stubbed.stubs["cloudformation"].add_response("describe_stacks", _stack(status), {"StackName": "payment-svc-dev"})
    result = deploy("serverless-api", artifact)
    assert result.exit_code == 1, result.output
    assert status in result.output and advice in result.output
    stubbed.stubs["cloudformation"].assert_no_pending_responses()  # no change set was attempted


def _through_change_set(s: StubSession, cs_status: str, reason: str = "") -> None:
    cf, s3 = s.stubs["cloudformation"], s.stubs["s3"]
    _bucket(s)
    cf.add_client_error("describe_stacks", "ValidationError", "Stack with id payment-svc-dev does not exist")
    for _ in range(2):  # the artifact, then the template: not there yet, so put
        s3.add_client_error("head_object", "404", "Not Found", 404)
        s3.add_response("put_object", {}, {"Bucket": BUCKET, "Key": ANY, "Body": ANY})
    cf.add_response("create_change_set", {"Id": "arn:cs/1", "StackId": _stack("x")["Stacks"][0]["StackId"]},
                    {"StackName": "payment-svc-dev", "ChangeSetName": ANY, "ChangeSetType": "CREATE", "TemplateURL": ANY,
                     "Capabilities": ANY, "Parameters": ANY, "Description": ANY})
    body = {"ChangeSetName": "cs", "Status": cs_status, "Changes": [], "StackId": _stack("x")["Stacks"][0]["StackId"]}
    cf.add_response("describe_change_set", {**body, "StatusReason": reason} if reason else body, {"ChangeSetName": "arn:cs/1"})


def test_failed_change_set(stubbed, artifact):
    _through_change_set(stubbed, "FAILED", "Template format error: Unresolved resource dependencies [Nope] in the Resources block")
    result = deploy("serverless-api", artifact)
    assert result.exit_code == 1, result.output
    assert "failed: Template format error: Unresolved resource dependencies" in result.output


def test_empty_change_set_is_deleted(stubbed, artifact):
    _through_change_set(stubbed, "FAILED", "The submitted information didn't contain changes. Submit different information to create a change set.")
    stubbed.stubs["cloudformation"].add_response("delete_change_set", {}, {"ChangeSetName": "arn:cs/1"})
    result = deploy("serverless-api", artifact)
    assert result.exit_code == 0, result.output
    assert "no changes" in result.output
    stubbed.stubs["cloudformation"].assert_no_pending_responses()


def test_failed_create_prints_the_failed_resources(stubbed, artifact):
    _through_change_set(stubbed, "CREATE_COMPLETE")
    cf = stubbed.stubs["cloudformation"]
    stack_id = _stack("x")["Stacks"][0]["StackId"]
    cf.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": stack_id})  # before executing
    cf.add_response("execute_change_set", {}, {"ChangeSetName": "arn:cs/1"})
    t = datetime(2026, 12, 2, tzinfo=UTC)
    events = [
        {"EventId": "3", "StackId": stack_id, "StackName": "payment-svc-dev", "LogicalResourceId": "payment-svc-dev", "Timestamp": t,
         "ResourceType": "AWS::CloudFormation::Stack", "ResourceStatus": "ROLLBACK_COMPLETE"},
        {"EventId": "2", "StackId": stack_id, "StackName": "payment-svc-dev", "LogicalResourceId": "PaymentsTable", "Timestamp": t,
         "ResourceType": "AWS::DynamoDB::Table", "ResourceStatus": "CREATE_FAILED",
         "ResourceStatusReason": "Resource handler returned message: \"Table already exists: payment-svc-dev-payments\""},
        {"EventId": "1", "StackId": stack_id, "StackName": "payment-svc-dev", "LogicalResourceId": "payment-svc-dev", "Timestamp": t,
         "ResourceType": "AWS::CloudFormation::Stack", "ResourceStatus": "CREATE_IN_PROGRESS"},
    ]
    cf.add_response("describe_stack_events", {"StackEvents": events}, {"StackName": stack_id})
    cf.add_response("describe_stacks", _stack("ROLLBACK_COMPLETE", "The following resource(s) failed to create: [PaymentsTable]."),
                    {"StackName": stack_id})
    cf.add_response("describe_stack_events", {"StackEvents": events}, {"StackName": stack_id})
    cf.add_response("describe_stacks", _stack("ROLLBACK_COMPLETE", "The following resource(s) failed to create: [PaymentsTable]."),
                    {"StackName": stack_id})
    result = deploy("serverless-api", artifact)
    assert result.exit_code == 1, result.output
    assert "CREATE_FAILED" in result.output  # the event, as it happened
    assert "failed resources:" in result.output
    assert "PaymentsTable (AWS::DynamoDB::Table): CREATE_FAILED: Resource handler returned message" in result.output
    assert "msgen destroy" in result.output  # what to do about ROLLBACK_COMPLETE
