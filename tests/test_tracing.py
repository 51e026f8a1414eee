"""observability.tracing: active by default (no tracing SDK in the generated code), opentelemetry as an opt-in.

The setting changes the generated code and its requirements, never the synthesized templates.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from generator.spec import load_spec
from tests.conftest import ROOT, blueprint_text
from tests.test_new import SERVICE_REQUIREMENTS, assert_repository_is_well_formed, wheelhouse_dir

OPENTELEMETRY_FILES = {"src/tracing.py", "tests/test_tracing.py"}


def generate(cli, parent: Path, tracing: str | None, blueprint: str = "serverless-api") -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load(blueprint_text(blueprint))
    if tracing:
        data.setdefault("observability", {})["tracing"] = tracing
    if data.get("workflows"):  # the blueprints' state machine definitions, relative to the spec
        shutil.copytree(ROOT / "blueprints" / "workflows", parent / "workflows", dirs_exist_ok=True)
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


@pytest.fixture(scope="module")
def otel_venv(tmp_path_factory) -> Path:
    """One venv with every generated service's dependencies and the OpenTelemetry SDK, from the wheelhouse (no network),
    shared by this module's tests; its bin directory."""
    wheelhouse = wheelhouse_dir()
    if not list(wheelhouse.glob("opentelemetry_sdk-*.whl")):
        pytest.fail("the wheelhouse has no opentelemetry-sdk: `make test` rebuilds it from requirements-opentelemetry.txt")
    venv = tmp_path_factory.mktemp("otel-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    lines = []
    for name in ("requirements.txt", "requirements-container.txt", "requirements-opentelemetry.txt", "requirements-dev.txt"):
        lines += [ln for ln in (SERVICE_REQUIREMENTS / name).read_text().splitlines() if not ln.startswith(("-r", "msgen", "{"))]
    requirements = tmp_path_factory.mktemp("otel-req") / "requirements.txt"
    requirements.write_text("\n".join(lines) + "\n")
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(wheelhouse),
                    "-r", str(requirements)], check=True, capture_output=True)
    return venv / "bin"


# What each blueprint's OpenTelemetry repository must prove by its own tests: one span per request, message or event,
# in the trace being recorded, the producer's trace linked, failures as ERROR spans, the correlation id on each.
SPAN_TESTS = {
    "serverless-api": ["tests/test_tracing.py::test_each_request_is_a_span_of_its_route",
                       "tests/test_tracing.py::test_a_request_answered_with_a_5xx_is_an_error_span",
                       "tests/test_tracing.py::test_an_exception_leaving_a_span_makes_it_an_error_and_is_recorded",
                       "tests/test_tracing.py::test_the_trace_header_propagator_reads_and_writes_x_amzn_trace_id"],
    "event-worker": ["tests/test_worker.py::test_each_message_is_a_span_in_the_functions_trace_linked_to_its_producer[sqs:notifications]",
                     "tests/test_worker.py::test_an_event_is_a_span_in_the_functions_trace_and_a_failure_an_error[events:daily-digest]",
                     "tests/test_tracing.py::test_an_sqs_message_links_to_the_trace_its_producer_sent"],
    "hybrid-api": ["tests/test_web.py::test_each_request_is_one_server_span_in_the_trace_of_its_header",
                   "tests/test_web.py::test_a_request_without_a_trace_header_or_a_route_is_a_span_of_its_own",
                   "tests/test_web.py::test_the_span_of_a_route_names_its_template_and_its_status",
                   "tests/test_web.py::test_a_handler_that_fails_makes_an_error_span"],
}


@pytest.mark.slow
@pytest.mark.parametrize("blueprint", sorted(SPAN_TESTS))
def test_an_opentelemetry_repository_passes_its_own_tests(cli, tmp_path, otel_venv, blueprint):
    repo = generate(cli, tmp_path / "otel", "opentelemetry", blueprint)
    assert_repository_is_well_formed(repo)  # compiles; ruff check and ruff format --check as generated
    result = subprocess.run([str(otel_venv / "python"), "-m", "pytest", "-o", "addopts=", "-rA", "-p", "no:cacheprovider"],
                            cwd=repo, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    passed = {line.split()[1] for line in result.stdout.splitlines() if line.startswith("PASSED ")}
    missing = [test for test in SPAN_TESTS[blueprint] if not any(p == test or p.startswith(test + "[") for p in passed)]
    assert not missing, f"not run or not passed: {missing}\n{result.stdout}"


ENTRY_MODULES = {"serverless-api": ["app"], "event-worker": ["app", "worker"], "hybrid-api": ["app"]}


@pytest.mark.slow
@pytest.mark.parametrize("tracing", ["active", "opentelemetry"])
def test_a_lambda_cold_start_imports_opentelemetry_only_when_the_spec_asks(cli, tmp_path, otel_venv, tracing):
    """What Lambda does when a new instance starts (import the entry module with the function's environment), in a venv
    that has the OpenTelemetry SDK: with active tracing, the default, nothing imports it."""
    for blueprint, entries in ENTRY_MODULES.items():
        src = generate(cli, tmp_path / blueprint, None if tracing == "active" else tracing, blueprint) / "src"
        for entry in entries:
            env = {**os.environ, "PYTHONPATH": str(src), "AWS_LAMBDA_FUNCTION_NAME": f"demo-svc-{entry}", "AWS_DEFAULT_REGION": "eu-west-1"}
            code = "import importlib, sys; importlib.import_module(sys.argv[1]); print(sorted({m.split('.')[0] for m in sys.modules} & {'opentelemetry', 'boto3'}))"
            result = subprocess.run([str(otel_venv / "python"), "-c", code, entry], cwd=src, env=env, capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, result.stderr
            expected = "[]" if tracing == "active" else "['opentelemetry']"
            assert result.stdout.strip() == expected, f"{blueprint}: importing {entry} loads {result.stdout.strip()}"


def test_tracing_is_not_overridden_per_environment(cli, tmp_path):
    data = yaml.safe_load(blueprint_text("serverless-api"))
    data["environments"] = {"dev": {"observability": {"tracing": "opentelemetry"}}, "prod": None}
    (tmp_path / "service.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    result = cli("validate", str(tmp_path / "service.yaml"))
    assert result.exit_code == 2, result.output
    assert "environments.dev.observability.tracing: cannot be overridden per environment" in result.output, result.output
