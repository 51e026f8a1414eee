from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import main
from generator.resources import blueprints

ROOT = Path(__file__).resolve().parent.parent
BLUEPRINTS = {bp.name: bp.path for bp in blueprints()}


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))


@pytest.fixture
def cli():
    runner = CliRunner()

    def invoke(*args: str, cwd: Path | None = None):
        old = Path.cwd()
        if cwd:
            os.chdir(cwd)
        try:
            return runner.invoke(main, list(args), catch_exceptions=True)
        finally:
            os.chdir(old)

    return invoke


def blueprint_text(name: str = "serverless-api") -> str:
    return BLUEPRINTS[name].read_text(encoding="utf-8")


def blueprint_data(name: str = "serverless-api") -> dict:
    return yaml.safe_load(blueprint_text(name))


def micro_spec(routes: int) -> dict:
    """A realistic large micro service: collections with the five usual routes each (the tests' and bench/scale.py's)."""
    data = blueprint_data("micro-api")
    shapes = [("GET", "", "list_all", "read"), ("POST", "", "create", "write"), ("GET", "/{id}", "get", "read"),
              ("PUT", "/{id}", "put", "write"), ("DELETE", "/{id}", "delete", "write")]
    data["api"]["routes"] = [
        {"method": method, "path": f"/things{i // 5}{suffix}", "handler": f"things{i // 5}.{fn}", "uses": [f"products:{use}"]}
        for i, (method, suffix, fn, use) in ((i, shapes[i % 5]) for i in range(routes))
    ]
    return data


def offline_aws(monkeypatch, tmp_path, region: str = "us-east-1") -> None:
    """Fake credentials and a Region for moto, and nothing of the real AWS configuration of the machine running the tests."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)


ARTIFACT_BUCKET = "msgen-artifacts-test"


@pytest.fixture
def nested_moto(monkeypatch, tmp_path):
    """moto for deploying split services: the artifact bucket and the SSM parameter msgen bootstrap publishes for dev and
    prod, the moto shims (tests/moto_shim.py, SSM tags as tests/test_fleet.py needs), polling off, libyaml parsing."""
    import boto3
    from moto import mock_aws

    from generator import deploy as deployer
    from tests.moto_shim import fast_template_parsing, moto_shims
    from tests.test_fleet import fleet_moto_shims  # SSM parameter tags as a map (the services publish their API id)

    offline_aws(monkeypatch, tmp_path, "us-east-1")
    monkeypatch.setattr(deployer, "POLL_SECONDS", 0.0)
    fast_template_parsing(monkeypatch)
    with moto_shims(), fleet_moto_shims(), mock_aws(config={"lambda": {"use_docker": False}}):
        boto3.client("s3").create_bucket(Bucket=ARTIFACT_BUCKET)
        for env in ("dev", "prod"):
            boto3.client("ssm").put_parameter(Name=f"/msgen/{env}/bootstrap/artifact-bucket", Value=ARTIFACT_BUCKET, Type="String")
        yield boto3

