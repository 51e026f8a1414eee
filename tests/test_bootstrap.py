"""msgen bootstrap: the account-level stack (artifact bucket, API Gateway account setting, account alarms, GitHub deploy role)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
import yaml

from generator import alarm_table
from generator.bootstrap import SKIP_REASONS, artifact_bucket_parameter, bootstrap_template, build, stack_name
from generator.errors import InputError
from generator.lint import lint_text
from tests.conftest import ROOT, offline_aws
from tests.test_templates import _checkov

REPO = "acme/payment-svc"
VARIANTS = {"plain": ("dev", None), "github": ("prod", REPO)}


@cache
def text(env: str, repo: str | None) -> str:
    return bootstrap_template(env, repo)


@cache
def data(env: str, repo: str | None) -> dict:
    return yaml.safe_load(text(env, repo))


def resources(variant: str, type_: str | None = None) -> dict[str, dict]:
    env, repo = VARIANTS[variant]
    return {k: v for k, v in data(env, repo)["Resources"].items() if type_ is None or v["Type"] == type_}


def statements(resource: dict) -> list[dict]:
    """Every statement of every policy document a resource carries."""
    props = resource.get("Properties", {})
    docs = [props.get(k) for k in ("PolicyDocument", "KeyPolicy", "AssumeRolePolicyDocument") if props.get(k)]
    docs += [p["PolicyDocument"] for p in props.get("Policies", [])]
    return [st for doc in docs for st in doc["Statement"]]


# --- lint and checkov ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_cfn_lint_reports_nothing_at_any_level(variant):
    findings = lint_text(text(*VARIANTS[variant]), f"bootstrap-{variant}.yaml", regions=("us-east-1", "eu-west-1"), info=True)
    assert findings == [], "\n".join(map(str, findings))


def test_lint_can_fail_on_a_wildcard_action():
    broken = text("prod", REPO).replace("- lambda:AddPermission", "- lambda:*", 1)
    assert broken != text("prod", REPO)
    assert "E9101" in {f.rule for f in lint_text(broken, "broken.yaml")}




@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_checkov_has_no_failed_checks(variant, tmp_path):
    path = tmp_path / "bootstrap.yaml"
    path.write_text(text(*VARIANTS[variant]))
    report = _checkov(path)
    failed = [(c["check_id"], c["resource"]) for c in report.get("results", {}).get("failed_checks", [])]
    assert failed == [], failed
    assert report["summary"]["passed"] > 25, report["summary"]


def test_checkov_can_fail(tmp_path):
    """Without the log bucket's one skip, checkov reports it: the skip is needed, and checkov really runs."""
    d = data("prod", REPO)
    broken = json.loads(json.dumps(d))
    del broken["Resources"]["ArtifactLogsBucket"]["Metadata"]["checkov"]
    del broken["Resources"]["ArtifactBucket"]["Properties"]["VersioningConfiguration"]
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    failed = {(c["check_id"], c["resource"]) for c in _checkov(path)["results"]["failed_checks"]}
    assert {("CKV_AWS_18", "AWS::S3::Bucket.ArtifactLogsBucket"), ("CKV_AWS_21", "AWS::S3::Bucket.ArtifactBucket")} <= failed, failed


def test_the_only_skip_is_the_log_bucket_logging_into_itself():
    skips = [(lid, s["id"], s["comment"]) for lid, r in resources("github").items() for s in r["Metadata"].get("checkov", {}).get("skip", [])]
    assert skips == [("ArtifactLogsBucket", "CKV_AWS_18", SKIP_REASONS["CKV_AWS_18"])]
    target = resources("github")["ArtifactBucket"]["Properties"]["LoggingConfiguration"]["DestinationBucketName"]
    assert target == {"Ref": "ArtifactLogsBucket"}  # it really receives the artifact bucket's logs
    assert "LoggingConfiguration" not in resources("github")["ArtifactLogsBucket"]["Properties"]


# --- the artifact bucket -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lid", ["ArtifactBucket", "ArtifactLogsBucket", "ArtifactKey"])
def test_what_holds_artifacts_is_retained(lid):
    r = resources("plain")[lid]
    assert (r["DeletionPolicy"], r["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_artifact_bucket_is_versioned_encrypted_with_its_own_key_private_tls_only_and_expires_old_artifacts():
    res = resources("plain")
    props = res["ArtifactBucket"]["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": ["ArtifactKey", "Arn"]}}
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True} and len(props["PublicAccessBlockConfiguration"]) == 4
    (life,) = props["LifecycleConfiguration"]["Rules"]
    assert life["Status"] == "Enabled" and life["NoncurrentVersionExpiration"]["NoncurrentDays"] > 0 and life["ExpirationInDays"] > 0
    key = res["ArtifactKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    for st in key["KeyPolicy"]["Statement"]:
        assert st["Principal"] != "*" and st["Principal"].get("AWS") != "*", st
    (deny,) = [st for st in statements(res["ArtifactBucketPolicy"]) if st["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert res["ArtifactBucketPolicy"]["Properties"]["Bucket"] == {"Ref": "ArtifactBucket"}


def test_artifact_bucket_name_is_published_in_ssm_and_output():
    res = resources("plain")
    ssm = res["ArtifactBucketParameter"]["Properties"]
    assert ssm["Name"] == "/msgen/dev/bootstrap/artifact-bucket" == artifact_bucket_parameter("dev")
    assert ssm["Value"] == {"Ref": "ArtifactBucket"}
    outputs = data("dev", None)["Outputs"]
    assert outputs["ArtifactBucketName"]["Value"] == {"Ref": "ArtifactBucket"}
    assert outputs["AlarmTopicArn"]["Value"] == {"Ref": "AccountAlarmTopic"}
    assert "DeployRoleArn" not in outputs
    assert data("prod", REPO)["Outputs"]["DeployRoleArn"]["Value"] == {"Fn::GetAtt": ["DeployRole", "Arn"]}


def test_api_gateway_account_setting_lives_here():
    res = resources("plain")
    assert res["ApiGatewayAccount"]["Properties"] == {"CloudWatchRoleArn": {"Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]}}
    (trust,) = statements({"Properties": {"AssumeRolePolicyDocument": res["ApiGatewayCloudWatchRole"]["Properties"]["AssumeRolePolicyDocument"]}})
    assert trust["Principal"] == {"Service": "apigateway.amazonaws.com"}


# --- account-level alarms ------------------------------------------------------------------------------------------

def test_claimed_account_concurrency_alarm_watches_90_percent_of_the_quota_parameter():
    d = data("dev", None)
    assert d["Parameters"]["AccountConcurrencyQuota"]["Default"] == 1000
    props = resources("plain")["ClaimedAccountConcurrencyAlarm"]["Properties"]
    claimed, percent = props["Metrics"]
    metric = claimed["MetricStat"]["Metric"]
    assert metric == {"Namespace": "AWS/Lambda", "MetricName": "ClaimedAccountConcurrency"}  # no dimensions: the account
    assert claimed["MetricStat"]["Stat"] == "Maximum" and claimed["ReturnData"] is False
    assert percent["Expression"] == {"Fn::Sub": "100 * claimed / ${AccountConcurrencyQuota}"} and percent["ReturnData"] is True
    assert props["Threshold"] == 90 and props["ComparisonOperator"] == "GreaterThanThreshold"
    assert props["AlarmActions"] == props["OKActions"] == [{"Ref": "AccountAlarmTopic"}]


def test_dynamodb_user_errors_alarm_is_account_level():
    props = resources("plain")["DynamoDbUserErrorsAlarm"]["Properties"]
    assert (props["Namespace"], props["MetricName"], props["Statistic"]) == ("AWS/DynamoDB", "UserErrors", "Sum")
    assert "Dimensions" not in props
    assert props["Threshold"] == {"Ref": "DynamoDbUserErrorsThreshold"}
    assert props["AlarmActions"] == [{"Ref": "AccountAlarmTopic"}]


def test_alarm_topic_is_encrypted_tls_only_with_an_optional_email():
    res = resources("plain")
    assert res["AccountAlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": ["ArtifactKey", "Arn"]}
    denies = [st for st in statements(res["AccountAlarmTopicPolicy"]) if st["Effect"] == "Deny"]
    assert denies and denies[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    sub = res["AccountAlarmEmailSubscription"]
    assert sub["Condition"] == "HasAlarmEmail" and sub["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}


def test_the_alarm_table_names_bootstrap_for_exactly_the_account_alarms_it_creates():
    made = set()
    for r in resources("plain", "AWS::CloudWatch::Alarm").values():
        p = r["Properties"]
        for q in p.get("Metrics", []):
            if "MetricStat" in q:
                made.add((q["MetricStat"]["Metric"]["Namespace"], q["MetricStat"]["Metric"]["MetricName"]))
        if "MetricName" in p:
            made.add((p["Namespace"], p["MetricName"]))
    claimed = {(s.aws.namespace, s.aws.metric) for skips in alarm_table.NOT_EMITTED.values() for s in skips
               if "`msgen bootstrap` creates it" in s.reason}
    assert claimed == made == {("AWS/Lambda", "ClaimedAccountConcurrency"), ("AWS/DynamoDB", "UserErrors")}


# --- GitHub OIDC and the deploy role -------------------------------------------------------------------------------

def test_without_a_repository_there_is_no_deploy_role_or_oidc_provider():
    types = {r["Type"] for r in resources("plain").values()}
    assert "AWS::IAM::OIDCProvider" not in types and "DeployRole" not in resources("plain")
    assert "AWS::IAM::ManagedPolicy" not in types


def test_deploy_role_trusts_only_the_repository_and_environment():
    res = resources("github")
    (trust,) = res["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == ["sts:AssumeRoleWithWebIdentity"]
    assert trust["Principal"] == {"Federated": {"Fn::If": ["CreateGitHubOidcProvider", {"Ref": "GitHubOidcProvider"},
                                                           {"Ref": "ExistingGitHubOidcProviderArn"}]}}
    assert trust["Condition"] == {"StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": "repo:acme/payment-svc:environment:prod",
    }}
    provider = res["GitHubOidcProvider"]
    assert provider["Condition"] == "CreateGitHubOidcProvider"
    assert provider["Properties"]["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["Properties"]["ClientIdList"] == ["sts.amazonaws.com"]


def test_no_wildcard_actions_and_no_wildcard_principals():
    for variant in VARIANTS:
        for lid, r in resources(variant).items():
            for st in statements(r):
                if st["Effect"] == "Allow":
                    for action in st["Action"]:
                        assert "*" not in action, (variant, lid, action)
                    assert st.get("Principal") != "*" and st.get("Principal", {}).get("AWS") != "*", (lid, st)


def test_deploy_role_is_scoped_to_service_stacks_artifacts_and_never_the_bootstrap_stack():
    res = resources("github")
    inline = statements({"Properties": {"Policies": res["DeployRole"]["Properties"]["Policies"]}})
    by_sid = {st["Sid"]: st for st in inline}
    stacks = by_sid["ServiceStackChangeSets"]
    assert "cloudformation:CreateChangeSet" in stacks["Action"] and "cloudformation:DeleteStack" not in stacks["Action"]
    assert stacks["Resource"] == [{"Fn::Sub": "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/${ServiceStackNamePattern}/*"},
                                  {"Fn::Sub": "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:changeSet/msgen-*/*"}]
    assert by_sid["Artifacts"]["Action"] == ["s3:GetObject", "s3:PutObject"]
    assert by_sid["Artifacts"]["Resource"] == [{"Fn::Sub": "${ArtifactBucket.Arn}/*"}]
    pass_role = by_sid["PassServiceStackRoles"]
    assert pass_role["Action"] == ["iam:PassRole"]
    assert pass_role["Resource"] == [{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ServiceStackNamePattern}-*"}]
    assert "lambda.amazonaws.com" in pass_role["Condition"]["StringEquals"]["iam:PassedToService"]
    assert not any("iam:PassRole" in st["Action"] for st in inline if st["Effect"] == "Allow" and st is not pass_role)
    never = by_sid["NeverTheBootstrapStack"]
    assert never["Effect"] == "Deny" and "cloudformation:ExecuteChangeSet" in never["Action"]
    assert never["Resource"] == [{"Fn::Sub": f"arn:${{AWS::Partition}}:cloudformation:${{AWS::Region}}:${{AWS::AccountId}}:stack/{stack_name('prod')}/*"}]
    assert by_sid["NeverTheBootstrapRoles"]["Effect"] == "Deny" and "iam:PassRole" in by_sid["NeverTheBootstrapRoles"]["Action"]
    assert data("prod", REPO)["Parameters"]["ServiceStackNamePattern"]["Default"] == "*-prod"
    description = res["DeployRole"]["Properties"]["Description"]
    assert "Not covered" in description and len(description) <= 1000


def test_deploy_policies_fit_iam_size_limits_and_stay_in_the_region():
    res = resources("github")
    inline = json.dumps(res["DeployRole"]["Properties"]["Policies"][0]["PolicyDocument"], separators=(",", ":"))
    assert len(inline) < 10_240
    managed = resources("github", "AWS::IAM::ManagedPolicy")
    assert len(managed) == 3
    for lid, r in managed.items():
        doc = r["Properties"]["PolicyDocument"]
        assert len(json.dumps(doc, separators=(",", ":"))) < 6_144, lid
        assert r["Properties"]["Roles"] == [{"Ref": "DeployRole"}]
        for st in doc["Statement"]:
            assert "aws:RequestedRegion" in st["Condition"]["StringEquals"], lid


# --- determinism and the library API -------------------------------------------------------------------------------

def test_output_is_deterministic_and_depends_only_on_the_arguments():
    assert bootstrap_template("prod", REPO) == bootstrap_template("prod", REPO) == text("prod", REPO)
    assert bootstrap_template("prod", "acme/other") != text("prod", REPO)
    assert json.loads(bootstrap_template("dev", fmt="json")) == build("dev")
    assert text("dev", None).startswith("AWSTemplateFormatVersion: '2010-09-09'\nDescription: 'msgen ")


@pytest.mark.parametrize("env, repo", [("Dev", None), ("", None), ("dev-1", None), ("dev", "acme"), ("dev", "acme/a/b"),
                                        ("dev", "-acme/x"), ("dev", "acme/.."), ("dev", "ac me/x"), ("dev", "acme/x y")])
def test_bad_input_is_refused(env, repo):
    with pytest.raises(InputError):
        bootstrap_template(env, repo)


# --- the command ---------------------------------------------------------------------------------------------------

def test_cli_prints_the_template(cli):
    result = cli("bootstrap", "--env", "prod", "--github-repo", REPO)
    assert result.exit_code == 0, result.output
    assert result.stdout == text("prod", REPO)
    assert "aws cloudformation deploy --stack-name msgen-bootstrap-prod" in result.stderr


def test_cli_writes_a_file_and_replaces_only_its_own(cli, tmp_path):
    out = tmp_path / "infra" / "bootstrap-dev.yaml"
    result = cli("bootstrap", "--env", "dev", "--region", "eu-west-1", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text() == text("dev", None) and result.stdout == ""
    assert "--region eu-west-1" in result.stderr
    assert cli("bootstrap", "--env", "dev", "-o", str(out)).exit_code == 0  # msgen wrote it: replaced
    other = tmp_path / "mine.yaml"
    other.write_text("hand-written\n")
    result = cli("bootstrap", "--env", "dev", "-o", str(other))
    assert result.exit_code == 2 and "--force" in result.stderr and other.read_text() == "hand-written\n"


@pytest.mark.parametrize("args, message", [
    (["--env", "dev", "--github-repo", "not-a-repo"], "--github-repo 'not-a-repo'"),
    (["--env", "dev", "--github-repo", "acme/x/y"], "OWNER/REPO"),
    (["--env", "Prod"], "--env 'Prod'"),
    (["--env", "dev", "--region", "eu-wst-1"], "unknown Region 'eu-wst-1'"),
    (["--github-repo", REPO], "Missing option '--env'"),
])
def test_cli_bad_input_exits_2_without_a_traceback(cli, args, message):
    result = cli("bootstrap", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert result.stdout == ""


def test_cli_help_has_examples_and_exit_codes(cli):
    result = cli("bootstrap", "--help")
    assert result.exit_code == 0 and "Examples:" in result.stdout and "Exit codes" in result.stdout
    assert "msgen bootstrap" in cli("--help").stdout


# --- created in moto: msgen deploy finds the artifact bucket -------------------------------------------------------

@pytest.fixture
def moto_aws(monkeypatch, tmp_path):
    """moto, with tests/moto_shim.py's shims and one of its own: moto 5.2.5 reads ``AWS::SSM::Parameter``'s ``Tags`` as a
    list of ``{Key, Value}`` and fails on the mapping CloudFormation specifies for that type ("string indices must be
    integers"); the shim turns the mapping into that list inside moto. The template is left as it is."""
    boto3 = pytest.importorskip("boto3")
    from moto import mock_aws
    from moto.ssm.models import Parameter

    from tests.moto_shim import moto_shims

    offline_aws(monkeypatch, tmp_path)
    original = Parameter.create_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json.get("Properties", {})
        if isinstance(props.get("Tags"), dict):
            tags = [{"Key": k, "Value": v} for k, v in props["Tags"].items()]
            cloudformation_json = {**cloudformation_json, "Properties": {**props, "Tags": tags}}
        return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    monkeypatch.setattr(Parameter, "create_from_cloudformation_json", classmethod(create))
    with moto_shims(), mock_aws():
        yield boto3


@pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")
def test_created_in_moto_msgen_deploy_finds_the_artifact_bucket(moto_aws):
    from generator import deploy

    boto3 = moto_aws
    cf = boto3.client("cloudformation")
    name = stack_name("prod")
    cf.create_stack(StackName=name, TemplateBody=text("prod", REPO), Capabilities=["CAPABILITY_IAM"],
                    Parameters=[{"ParameterKey": "AlarmEmail", "ParameterValue": "oncall@example.com"}])
    stack = cf.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    bucket = deploy.find_artifact_bucket(boto3.session.Session(), "prod", None)
    assert bucket == outputs["ArtifactBucketName"]
    boto3.client("s3").head_bucket(Bucket=bucket)
    role = boto3.client("iam").get_role(RoleName=outputs["DeployRoleArn"].rsplit("/", 1)[1])["Role"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == "repo:acme/payment-svc:environment:prod"
    created = {r["LogicalResourceId"]: r["ResourceStatus"] for r in cf.list_stack_resources(StackName=name)["StackResourceSummaries"]}
    # moto_shim stands in for alarms (moto cannot model Fn::GetAtt on them), so the stack, not CloudWatch, lists them
    assert created["ClaimedAccountConcurrencyAlarm"] == created["DynamoDbUserErrorsAlarm"] == "CREATE_COMPLETE"


@pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")
def test_deleting_the_stack_in_moto_keeps_the_artifacts_and_their_key(moto_aws):
    """Without a deploy role: moto 5.2.5 deletes an IAM role before the managed policies attached to it (DeleteConflict),
    where CloudFormation follows the policies' reference to the role."""
    boto3 = moto_aws
    cf = boto3.client("cloudformation")
    cf.create_stack(StackName=stack_name("dev"), TemplateBody=text("dev", None), Capabilities=["CAPABILITY_IAM"])
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cf.describe_stacks(StackName=stack_name("dev"))["Stacks"][0]["Outputs"]}
    boto3.client("s3").put_object(Bucket=outputs["ArtifactBucketName"], Key="svc/artifacts/abc.zip", Body=b"zip")
    cf.delete_stack(StackName=stack_name("dev"))
    assert not [s for s in cf.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]
    # retained: the artifacts of deployed versions outlive the stack, and so does the key that decrypts them
    assert boto3.client("s3").get_object(Bucket=outputs["ArtifactBucketName"], Key="svc/artifacts/abc.zip")["Body"].read() == b"zip"
    # (moto's DescribeKey fails on a key CloudFormation created: it re-reads the key policy as a JSON string; ListKeys does not)
    assert outputs["ArtifactKeyArn"] in {k["KeyArn"] for k in boto3.client("kms").list_keys()["Keys"]}


# --- the deploy role can create, update and delete what msgen emits ------------------------------------------------

def _emitted_types() -> set[str]:
    """Every resource type of every blueprint (every environment), the shop fleet's services and its fleet stack."""
    from generator import api
    from generator.fleet.loader import load_fleet
    from generator.fleet.stack import build_fleet_template
    from tests.conftest import BLUEPRINTS

    specs = [api.load_spec(path).spec for path in BLUEPRINTS.values()]
    fleet = load_fleet(ROOT / "blueprints" / "fleets" / "shop" / "fleet.yaml")
    specs += [loaded.spec for loaded in fleet.services.values()]
    types: set[str] = set()
    for spec in specs:
        for env in spec.environment_names:
            types |= {r["Type"] for r in json.loads(api.synth(spec.for_environment(env), "json"))["Resources"].values()}
    for env in fleet.fleet.environments:
        types |= {r["Type"] for r in build_fleet_template(fleet, env)["Resources"].values()}
    return types


# CloudFormation's service names whose IAM prefix is not the name in lower case
IAM_PREFIX = {"ApiGatewayV2": "apigateway", "ElasticLoadBalancingV2": "elasticloadbalancing", "StepFunctions": "states",
              "OpenSearchServerless": "aoss", "ApplicationAutoScaling": "application-autoscaling"}


def _own_verbs(type_: str) -> set[str]:
    """The actions named <Verb><Type> (CreateEventBus, PutParameter, DeleteBucket) in the type's CloudFormation handlers.

    The handler lists (from the resource schemas cfn-lint ships) hold every action any property might need; the ones
    named after the type itself are what creating, changing and deleting it cannot do without."""
    import cfnlint

    base = Path(cfnlint.__file__).parent / "data" / "schemas"
    schema_id = json.loads((base / "providers" / "us-east-1.json").read_text())[type_]
    schema = json.loads((base / "resources" / f"{schema_id}.json").read_text())
    service, name = type_.split("::")[1:3]
    prefix = {IAM_PREFIX.get(service, service.lower())}
    return {p for kind in ("create", "update", "delete") for p in schema.get("handlers", {}).get(kind, {}).get("permissions", [])
            if any(p.lower() == f"{s}:{verb}{name}".lower() for s in prefix for verb in ("Create", "Put", "Update", "Delete"))}


def test_the_deploy_role_can_create_update_and_delete_every_resource_type_msgen_emits():
    import fnmatch

    allowed = [a.lower() for r in resources("github").values() if r["Type"] in ("AWS::IAM::Role", "AWS::IAM::ManagedPolicy")
               for st in statements(r) if st["Effect"] == "Allow" and "Federated" not in str(st.get("Principal", ""))
               for a in st["Action"]]
    missing = {t: sorted(a for a in _own_verbs(t) if not any(fnmatch.fnmatchcase(a.lower(), p) for p in allowed))
               for t in sorted(_emitted_types())}
    assert _own_verbs("AWS::SSM::Parameter") == {"ssm:PutParameter", "ssm:DeleteParameter"}  # the check can see what it checks
    assert {t: m for t, m in missing.items() if m} == {}
