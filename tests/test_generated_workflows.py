"""The generated repository's delivery: CI and CD workflows valid for GitHub, actions pinned by SHA, Dependabot,
build once and promote the same artifact through the environments with OIDC, `msgen diff` on pull requests, and
`make deploy` / `make diff`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from generator.spec import load_spec
from tests.conftest import BLUEPRINTS
from tests.test_new import clean_env, generate, make_dry_run

BIN = Path(sys.executable).parent
CHECK_JSONSCHEMA = BIN / "check-jsonschema"
WORKFLOWS = (".github/workflows/ci.yml", ".github/workflows/cd.yml")
# `uses: owner/repo[/path]@<40 hex> # v1.2.3`: a full commit SHA, its version in a comment.
PINNED = re.compile(r"^\s*(?:- )?uses: (?P<action>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_./-]+)?)@(?P<sha>[0-9a-f]{40}) # (?P<version>v\d+(?:\.\d+){0,2})$")


def new_repo(cli, tmp_path: Path, blueprint: str = "serverless-api", name: str = "demo-svc") -> Path:
    result = generate(cli, tmp_path, name, "--blueprint", blueprint)
    assert result.exit_code == 0, result.output
    return tmp_path / name


def load_workflow(repo: Path, path: str) -> dict:
    data = yaml.safe_load((repo / path).read_text())
    # YAML 1.1 reads the key `on` as True.
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps_using(job: dict, action: str) -> list[dict]:
    return [s for s in job["steps"] if s.get("uses", "").split("@")[0] == action]


def runs(job: dict) -> str:
    return "\n".join(s.get("run", "") for s in job["steps"])


@pytest.mark.parametrize("blueprint", sorted(BLUEPRINTS))
def test_generated_workflows_and_dependabot_are_valid_for_github(cli, tmp_path, blueprint):
    assert CHECK_JSONSCHEMA.exists(), "check-jsonschema is missing: pip install check-jsonschema (msgen's test extras)"
    repo = new_repo(cli, tmp_path, blueprint)
    # The schemas are vendored in check-jsonschema (no network); --disable-cache keeps it from fetching anything.
    for schema, files in (("vendor.github-workflows", WORKFLOWS), ("vendor.dependabot", (".github/dependabot.yml",))):
        result = subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", schema, *files], cwd=repo, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_can_fail(cli, tmp_path):
    """The check above rejects what GitHub rejects: a job without runs-on, a Dependabot update without a schedule."""
    repo = new_repo(cli, tmp_path)
    cd = repo / ".github" / "workflows" / "cd.yml"
    cd.write_text(cd.read_text().replace("    runs-on: ubuntu-latest\n", "    runs-after: ubuntu-latest\n"))
    bad = subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(cd)], capture_output=True, text=True)
    assert bad.returncode != 0
    dependabot = repo / ".github" / "dependabot.yml"
    dependabot.write_text(dependabot.read_text().replace("interval: weekly", "interval: hourly"))
    bad = subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.dependabot", str(dependabot)], capture_output=True, text=True)
    assert bad.returncode != 0


@pytest.mark.parametrize("blueprint", ["serverless-api", "hybrid-api"])
def test_every_action_is_pinned_to_a_full_commit_sha_with_its_version(cli, tmp_path, blueprint):
    repo = new_repo(cli, tmp_path, blueprint)
    pins: dict[str, set[tuple[str, str]]] = {}
    for path in WORKFLOWS:
        text = (repo / path).read_text()
        lines = [ln for ln in text.splitlines() if re.match(r"^\s*(- )?uses:", ln)]
        data = load_workflow(repo, path)
        parsed = [s["uses"] for job in data["jobs"].values() for s in job.get("steps", []) if "uses" in s]
        assert len(lines) == len(parsed) > 0, f"{path}: every `uses:` is a step's own line"
        for line in lines:
            match = PINNED.match(line)
            assert match, f"{path}: {line.strip()!r} is not pinned to a full commit SHA with its version in a comment"
            pins.setdefault(match["action"], set()).add((match["sha"], match["version"]))
        assert "${{ secrets." not in text, f"{path}: no stored secrets (OIDC for AWS)"
    assert {"actions/checkout", "actions/setup-python", "actions/upload-artifact", "actions/download-artifact",
            "aws-actions/configure-aws-credentials"} <= set(pins)
    assert all(len(versions) == 1 for versions in pins.values()), f"one version of each action in both workflows: {pins}"


def test_the_pin_check_rejects_tags_and_short_shas():
    for line in ("- uses: actions/checkout@v7", "- uses: actions/checkout@3d3c42e # v7.0.1",
                 "- uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1",
                 "- uses: actions/checkout@main # v7.0.1"):
        assert not PINNED.match(line), line
    assert PINNED.match("      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1")


@pytest.mark.parametrize("blueprint", ["serverless-api", "hybrid-api"])
def test_cd_builds_once_and_promotes_the_same_artifact_through_the_environments_with_oidc(cli, tmp_path, blueprint):
    repo = new_repo(cli, tmp_path, blueprint)
    envs = load_spec(repo / "service.yaml").environment_names
    assert len(envs) > 1, "the blueprints have several environments"
    cd = load_workflow(repo, ".github/workflows/cd.yml")
    assert cd["on"] == {"push": {"branches": ["main"]}, "pull_request": None}
    assert cd["permissions"] == {"contents": "read"}, "only the deploy jobs get an OIDC token"
    jobs = cd["jobs"]
    assert list(jobs) == ["diff", "build", *(f"deploy-{env}" for env in envs)], "deployed in the spec's order"

    build = jobs["build"]
    assert build["if"] == "github.event_name == 'push'"
    assert "make package" in runs(build) and "permissions" not in build
    (upload,) = steps_using(build, "actions/upload-artifact")
    assert upload["with"]["path"] == "dist/demo-svc.zip" and upload["with"]["if-no-files-found"] == "error"
    everywhere = "\n".join(runs(job) for job in jobs.values())
    assert everywhere.count("make package") == 1 and "make deploy" not in everywhere, "built once, never rebuilt"

    previous = "build"
    for env in envs:
        job = jobs[f"deploy-{env}"]
        assert job["environment"] == env and job["needs"] == previous, "each environment after the previous one, in its GitHub environment"
        assert job["permissions"] == {"contents": "read", "id-token": "write"}
        (download,) = steps_using(job, "actions/download-artifact")
        assert download["with"] == {"name": upload["with"]["name"], "path": "dist"}
        (aws,) = steps_using(job, "aws-actions/configure-aws-credentials")
        assert aws["with"] == {"role-to-assume": "${{ vars.AWS_DEPLOY_ROLE_ARN }}", "aws-region": "${{ vars.AWS_REGION }}"}, "no stored keys"
        names = [s.get("uses", "").split("@")[0] or s.get("run", "") for s in job["steps"]]
        deploy = job["steps"][-1]["run"]
        assert names.index("aws-actions/configure-aws-credentials") == len(names) - 2, "credentials only for the deploy step"
        expected = f".venv/bin/msgen deploy service.yaml --env {env} --artifact dist/demo-svc.zip"
        expected += ' --image "$IMAGE" --yes' if blueprint == "hybrid-api" else " --yes"
        assert deploy == expected
        if blueprint == "hybrid-api":
            assert job["steps"][-1]["env"] == {"IMAGE": "${{ vars.CONTAINER_IMAGE }}"}
        assert "make package" not in runs(job)
        previous = f"deploy-{env}"

    diff = jobs["diff"]
    assert diff["if"] == "github.event_name == 'pull_request'" and "environment" not in diff and "permissions" not in diff
    assert 'msgen diff service.yaml --env "$env" --against' in runs(diff)


def cd_diff_script(repo: Path) -> str:
    job = load_workflow(repo, ".github/workflows/cd.yml")["jobs"]["diff"]
    (step,) = [s for s in job["steps"] if "msgen diff" in s.get("run", "")]
    assert step["env"] == {"BASE_REF": "${{ github.base_ref }}"}
    return step["run"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo,
                          capture_output=True, text=True, check=True).stdout


def test_the_pull_request_diff_runs_for_every_environment_and_fails_on_data_loss(cli, tmp_path):
    """The diff job's own script, run in a clone whose origin has the main branch: a harmless change passes,
    one that replaces the table fails with an error annotation."""
    upstream = new_repo(cli, tmp_path)
    git(upstream, "init", "-q", "-b", "main")
    git(upstream, "add", "-A")
    git(upstream, "commit", "-q", "-m", "generated")
    repo = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(upstream), str(repo))
    (repo / ".venv" / "bin").mkdir(parents=True)
    (repo / ".venv" / "bin" / "msgen").symlink_to(BIN / "msgen")
    script = cd_diff_script(repo)
    env = clean_env(BASE_REF="main", RUNNER_TEMP=str(tmp_path), MSGEN_NO_CACHE="1")
    envs = load_spec(repo / "service.yaml").environment_names

    same = subprocess.run(["bash", "-e", "-c", script], cwd=repo, capture_output=True, text=True, env=env, timeout=600)
    assert same.returncode == 0, same.stdout + same.stderr
    for name in envs:
        assert f"::group::{name}: service.yaml against infra/{name}/template.yaml on main" in same.stdout
        assert (tmp_path / f"base-{name}.yaml").read_text() == (upstream / "infra" / name / "template.yaml").read_text()

    spec = repo / "service.yaml"
    spec.write_text(spec.read_text().replace("partition_key: id", "partition_key: payment_id", 1))
    lost = subprocess.run(["bash", "-e", "-c", script], cwd=repo, capture_output=True, text=True, env=env, timeout=600)
    assert lost.returncode == 1, lost.stdout + lost.stderr
    for name in envs:
        assert f"::error title=msgen diff ({name})::" in lost.stdout

    shutil.rmtree(repo / "infra" / envs[-1])  # an environment main does not have yet is said, not failed
    git(upstream, "rm", "-q", "-r", f"infra/{envs[-1]}")
    git(upstream, "commit", "-q", "-m", "no last environment")
    spec.write_text(spec.read_text().replace("partition_key: payment_id", "partition_key: id", 1))
    (repo / "infra" / envs[-1]).mkdir()
    shutil.copy(upstream / "infra" / envs[0] / "template.yaml", repo / "infra" / envs[-1] / "template.yaml")
    new = subprocess.run(["bash", "-e", "-c", script], cwd=repo, capture_output=True, text=True, env=env, timeout=600)
    assert new.returncode == 0, new.stdout + new.stderr
    assert f"{envs[-1]}: main has no infra/{envs[-1]}/template.yaml yet (a new environment): nothing to compare" in new.stdout


@pytest.mark.parametrize("blueprint", ["serverless-api", "hybrid-api"])
def test_dependabot_bumps_actions_and_pip_weekly_and_the_readme_says_to_regenerate(cli, tmp_path, blueprint):
    repo = new_repo(cli, tmp_path, blueprint)
    config = yaml.safe_load((repo / ".github" / "dependabot.yml").read_text())
    assert config["version"] == 2
    updates = {u["package-ecosystem"]: u for u in config["updates"]}
    # With a container, the Dockerfile's base image (pinned by digest) too.
    assert set(updates) == {"github-actions", "pip", *(["docker"] if blueprint == "hybrid-api" else [])}
    assert all(u["directory"] == "/" and u["schedule"]["interval"] == "weekly" for u in updates.values())
    readme = (repo / "README.md").read_text()
    section = readme.split("## Keeping up to date", 1)[1].split("\n## ", 1)[0]
    assert "when msgen is bumped" in section and "msgen update" in section and "msgen-cli" in section


@pytest.mark.parametrize("blueprint", ["serverless-api", "hybrid-api"])
def test_make_deploy_packages_once_then_deploys_the_zip_and_make_diff_compares_offline(cli, tmp_path, blueprint):
    repo = new_repo(cli, tmp_path, blueprint)
    envs = load_spec(repo / "service.yaml").environment_names
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/demo-svc:1.0.0"
    deploy = make_dry_run(repo, "deploy", f"ENV={envs[-1]}", f"IMAGE={image}").splitlines()
    command = f".venv/bin/msgen deploy service.yaml --env {envs[-1]} --artifact dist/demo-svc.zip"
    command += f" --image {image}" if blueprint == "hybrid-api" else ""
    assert deploy[-1] == command
    assert sum("shutil.make_archive('dist/demo-svc'" in ln for ln in deploy) == 1, "make package runs first, once"
    default = make_dry_run(repo, "deploy").splitlines()
    assert default[-1].startswith(f".venv/bin/msgen deploy service.yaml --env {envs[0]} "), "ENV defaults to the first environment"

    assert make_dry_run(repo, "diff", "ENV=prod").strip() == ".venv/bin/msgen diff service.yaml --env prod --against infra/prod/template.yaml"
    other = make_dry_run(repo, "diff", "ENV=prod", "AGAINST=/tmp/main.yaml").strip()
    assert other == ".venv/bin/msgen diff service.yaml --env prod --against /tmp/main.yaml"

    readme = (repo / "README.md").read_text()
    section = readme.split("## Deploy\n", 1)[1].split("\n## ", 1)[0]
    for env in envs:
        assert f"msgen bootstrap --env {env} --github-repo <owner>/demo-svc" in section
    for needle in ("AWS_DEPLOY_ROLE_ARN", "AWS_REGION", f"Require reviewers on `{envs[-1]}`", "built **once**", "canary",
                   f"make deploy ENV={envs[0]}", "msgen diff"):
        assert needle in section, needle


def test_make_deploy_of_a_container_refuses_a_local_image_tag_before_building(cli, tmp_path):
    repo = new_repo(cli, tmp_path, "hybrid-api")
    result = subprocess.run(["make", "deploy", "SKIP_INSTALL=1"], cwd=repo, capture_output=True, text=True, env=clean_env(), timeout=60)
    assert result.returncode == 2
    assert "make deploy: IMAGE=demo-svc:dev is a local tag" in result.stderr
    assert not (repo / "dist").exists() and not (repo / "build").exists()


def test_ci_lints_and_scans_every_environment(cli, tmp_path):
    repo = new_repo(cli, tmp_path)
    ci = load_workflow(repo, ".github/workflows/ci.yml")
    assert "checkov -d infra --framework cloudformation" in runs(ci["jobs"]["test"])
    lint = make_dry_run(repo, "lint")
    assert "cfn-lint infra/*/*.yaml" in lint  # nested stacks' templates too
