"""observability.tracing: active by default (no tracing SDK in the generated code), opentelemetry as an opt-in.

The setting changes the generated code and its requirements, never the synthesized templates.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from generator.spec import load_spec
from tests.conftest import ROOT, blueprint_text
from tests.test_new import assert_repository_is_well_formed

OPENTELEMETRY_FILES = {"src/tracing.py", "tests/test_tracing.py"}


def generate(cli, parent: Path, tracing: str | None) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load(blueprint_text("serverless-api"))
    if tracing:
        data.setdefault("observability", {})["tracing"] = tracing
    (parent / "service.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    result = cli("new", "demo-svc", "-o", str(parent), "--no-input", "--spec", str(parent / "service.yaml"))
    assert result.exit_code == 0, result.output
    return parent / "demo-svc"


def files(repo: Path) -> dict[str, str]:
    return {str(p.relative_to(repo)): p.read_bytes().decode("utf-8", "replace") for p in repo.rglob("*")
            if p.is_file() and ".git" not in p.parts and "__pycache__" not in p.parts}


def test_the_default_is_active_tracing_with_no_sdk(cli, tmp_path):
    assert load_spec(ROOT / "blueprints" / "serverless-api.yaml").observability.tracing == "active"
    repo = generate(cli, tmp_path / "default", None)
    generated = files(repo)
    assert not OPENTELEMETRY_FILES & set(generated) and "requirements-opentelemetry.txt" not in generated
    code = "\n".join(text for path, text in generated.items() if path.startswith("src/") or path.startswith("requirements"))
    for sdk in ("aws_xray_sdk", "aws-xray-sdk", "[tracer]", "Tracer", "opentelemetry"):
        assert sdk not in code, f"{sdk} in the generated code or requirements"
    assert "tests/test_observability.py" in generated


def test_opentelemetry_adds_the_sdk_and_the_span_helper_and_changes_no_template(cli, tmp_path):
    default = files(generate(cli, tmp_path / "default", None))
    repo = generate(cli, tmp_path / "otel", "opentelemetry")
    opted = files(repo)
    assert set(opted) - set(default) == OPENTELEMETRY_FILES
    assert {p for p in opted if p.startswith("infra/")} == {p for p in default if p.startswith("infra/")}
    for path in (p for p in opted if p.startswith("infra/")):
        assert opted[path] == default[path], f"{path}: the tracing setting must not change the template"
    pins = (ROOT / "templates" / "serverless-python" / "{{cookiecutter.service}}" / "requirements-opentelemetry.txt").read_text()
    requirements = opted["requirements.txt"]
    assert "opentelemetry-api==" in pins and "opentelemetry-sdk==" in pins and requirements.endswith(pins)
    assert "import tracing" in opted["src/app.py"] and "tracing.span(" in opted["src/app.py"]
    assert "import tracing" not in default["src/app.py"] and "tracing.span(" not in default["src/app.py"]
    assert_repository_is_well_formed(repo)


def test_a_handler_module_may_not_be_named_like_the_span_helper(cli, tmp_path):
    data = yaml.safe_load(blueprint_text("serverless-api"))
    data["api"]["routes"][0]["handler"] = "tracing.create"
    (tmp_path / "service.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    result = cli("new", "demo-svc", "-o", str(tmp_path), "--no-input", "--spec", str(tmp_path / "service.yaml"))
    assert result.exit_code == 2 and "module 'tracing' would shadow" in result.output, result.output


@pytest.mark.slow
def test_an_opentelemetry_repository_passes_its_own_tests(cli, tmp_path):
    wheelhouse = Path(os.environ.get("MSGEN_WHEELHOUSE") or ROOT / ".venv" / "wheelhouse").resolve()
    if not list(wheelhouse.glob("opentelemetry_sdk-*.whl")):
        pytest.fail("the wheelhouse has no opentelemetry-sdk: `make test` rebuilds it from requirements-opentelemetry.txt")
    repo = generate(cli, tmp_path / "otel", "opentelemetry")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    dev = [ln for ln in (repo / "requirements-dev.txt").read_text().splitlines() if not ln.startswith(("-r", "msgen"))]
    (tmp_path / "dev.txt").write_text("\n".join(dev) + "\n")
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(wheelhouse),
                    "-r", str(repo / "requirements.txt"), "-r", str(tmp_path / "dev.txt")], check=True, capture_output=True)
    result = subprocess.run([str(venv / "bin" / "python"), "-m", "pytest", "-o", "addopts=", "-rA", "-p", "no:cacheprovider"],
                            cwd=repo, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED tests/test_tracing.py::test_each_request_is_a_span_of_its_route" in result.stdout, result.stdout


def test_tracing_is_not_overridden_per_environment(cli, tmp_path):
    data = yaml.safe_load(blueprint_text("serverless-api"))
    data["environments"] = {"dev": {"observability": {"tracing": "opentelemetry"}}, "prod": None}
    (tmp_path / "service.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    result = cli("validate", str(tmp_path / "service.yaml"))
    assert result.exit_code == 2, result.output
    assert "environments.dev.observability.tracing: cannot be overridden per environment" in result.output, result.output
