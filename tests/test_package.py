"""A generated repository's `make package`: the function's zip carries its code and Powertools, never boto3 or botocore.

The Lambda runtime provides boto3 and botocore; a bundled copy is most of the zip (21 MB of 21 when the X-Ray SDK
pulled botocore in) and shadows the runtime's. Offline: pip reads the wheelhouse `make test` builds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import BLUEPRINTS, ROOT, blueprint_text

RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")


def wheelhouse() -> Path:
    # `make test` passes a relative path; links made from another folder need the absolute one.
    folder = Path(os.environ.get("MSGEN_WHEELHOUSE") or ROOT / ".venv" / "wheelhouse").resolve()
    assert folder.is_dir(), f"{folder} missing: `make test` builds it"
    return folder


def generate(cli, parent: Path, blueprint: str, **observability: str) -> Path:
    if observability:
        data = yaml.safe_load(blueprint_text(blueprint))
        data.setdefault("observability", {}).update(observability)
        (parent / "service.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
        result = cli("new", "demo-svc", "-o", str(parent), "--no-input", "--spec", str(parent / "service.yaml"))
    else:
        result = cli("new", "demo-svc", "-o", str(parent), "--no-input", "--blueprint", blueprint)
    assert result.exit_code == 0, result.output
    return parent / "demo-svc"


def package(repo: Path) -> subprocess.CompletedProcess:
    """`make package` with this interpreter's pip, offline (the platform and Python version are the Makefile's)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL") and not k.startswith("PIP_")}
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse()), PIP_DISABLE_PIP_VERSION_CHECK="1")
    return subprocess.run(["make", "package", f"BIN={Path(sys.executable).parent}", "SKIP_INSTALL=1"], cwd=repo,
                          capture_output=True, text=True, env=env, timeout=600)


def top_level(archive: Path) -> set[str]:
    with zipfile.ZipFile(archive) as z:
        return {name.split("/")[0] for name in z.namelist()}


@pytest.mark.slow
@pytest.mark.parametrize("blueprint", sorted(BLUEPRINTS))
def test_the_zip_has_the_code_and_powertools_and_no_aws_sdk(cli, tmp_path, blueprint):
    repo = generate(cli, tmp_path, blueprint)
    result = package(repo)
    assert result.returncode == 0, result.stdout + result.stderr
    archive = repo / "dist" / "demo-svc.zip"
    names = top_level(archive)
    assert "aws_lambda_powertools" in names and "observability.py" in names
    assert {"app.py", "worker.py"} & names, "an entry module"
    assert not [n for n in names if n.split("-")[0] in (*RUNTIME_PROVIDED, "aws_xray_sdk")], sorted(names)
    assert archive.stat().st_size < 3_000_000, f"{archive.stat().st_size} bytes"


@pytest.mark.slow
def test_a_requirement_that_brings_in_boto3_is_refused(cli, tmp_path):
    repo = generate(cli, tmp_path, "serverless-api")
    with (repo / "requirements.txt").open("a") as requirements:
        requirements.write("boto3==1.44.8\n")
    result = package(repo)
    assert result.returncode != 0
    assert "make package: requirements.txt brings in boto3 botocore s3transfer" in result.stderr, result.stderr
    assert not (repo / "dist" / "demo-svc.zip").exists()


@pytest.mark.slow
def test_with_opentelemetry_the_zip_also_has_the_sdk(cli, tmp_path):
    if not list(wheelhouse().glob("opentelemetry_sdk-*.whl")):
        pytest.fail("the wheelhouse has no opentelemetry-sdk: `make test` rebuilds it from requirements-opentelemetry.txt")
    repo = generate(cli, tmp_path, "serverless-api", tracing="opentelemetry")
    result = package(repo)
    assert result.returncode == 0, result.stdout + result.stderr
    names = top_level(repo / "dist" / "demo-svc.zip")
    assert {"opentelemetry", "tracing.py", "app.py"} <= names
    assert not [n for n in names if n.split("-")[0] in RUNTIME_PROVIDED], sorted(names)
