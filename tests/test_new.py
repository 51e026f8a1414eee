"""`msgen new`: a repository that passes its own tests and lints clean, created all or nothing."""

from __future__ import annotations

import json
import os
import py_compile
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.cli import main as cli_main
from generator.spec import load_spec
from generator.synth.pipeline import synthesize
from tests.conftest import BLUEPRINTS, ROOT, blueprint_text

TEMPLATE = ROOT / "templates" / "serverless-python"
SERVICE_REQUIREMENTS = TEMPLATE / "{{cookiecutter.service}}"
MSGEN = Path(sys.executable).parent / "msgen"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"


@pytest.fixture(scope="session")
def service_venv(tmp_path_factory):
    """One venv with a generated service's dependencies, built once per run from the wheelhouse (no network)."""
    wheelhouse = Path(os.environ.get("MSGEN_WHEELHOUSE") or ROOT / ".venv" / "wheelhouse")
    assert wheelhouse.is_dir(), f"{wheelhouse} missing: `make test` builds it"
    venv = tmp_path_factory.mktemp("service-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    requirements = tmp_path_factory.mktemp("req") / "requirements.txt"
    lines = (SERVICE_REQUIREMENTS / "requirements.txt").read_text().splitlines()
    lines += (SERVICE_REQUIREMENTS / "requirements-container.txt").read_text().splitlines()
    lines += [ln for ln in (SERVICE_REQUIREMENTS / "requirements-dev.txt").read_text().splitlines()
              if not ln.startswith(("-r", "msgen", "{"))]
    requirements.write_text("\n".join(lines) + "\n")
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(wheelhouse),
                    "-r", str(requirements)], check=True, capture_output=True)
    return venv / "bin"


def make(repo: Path, target: str, bin_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["make", target, f"BIN={bin_dir}", "SKIP_INSTALL=1", f"MSGEN={MSGEN}", f"CFN_LINT={CFN_LINT}"],
                          cwd=repo, capture_output=True, text=True, timeout=600)


def generate(cli, parent: Path, name: str, *args: str):
    return cli("new", name, "-o", str(parent), "--no-input", *args)


@pytest.mark.slow
@pytest.mark.parametrize("blueprint", sorted(BLUEPRINTS))
def test_generated_repository_passes_its_own_tests_synth_and_lint(cli, tmp_path, service_venv, blueprint):
    result = generate(cli, tmp_path, "demo-svc", "--blueprint", blueprint)
    assert result.exit_code == 0, result.output
    repo = tmp_path / "demo-svc"
    assert result.stdout.strip() == str(repo)
    committed = (repo / "infra" / "template.yaml").read_text()

    tests = make(repo, "test", service_venv)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert " passed" in tests.stdout and " failed" not in tests.stdout

    synth = make(repo, "synth", service_venv)
    assert synth.returncode == 0, synth.stderr
    assert (repo / "infra" / "template.yaml").read_text() == committed, "make synth must reproduce the committed template"
    check = make(repo, "check", service_venv)
    assert check.returncode == 0, check.stdout + check.stderr

    lint = make(repo, "lint", service_venv)
    assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.parametrize("blueprint", sorted(BLUEPRINTS))
def test_generated_files_compile_parse_and_pass_ruff(cli, tmp_path, blueprint):
    assert generate(cli, tmp_path, "demo-svc", "--blueprint", blueprint).exit_code == 0
    repo = tmp_path / "demo-svc"
    assert_repository_is_well_formed(repo)
    expected = {"service.yaml", "infra/template.yaml", "src/correlation.py", "src/storage.py", "tests/conftest.py", "pyproject.toml", "Makefile", ".github/workflows/ci.yml", ".pre-commit-config.yaml",
                ".gitignore", "README.md", ".msgen/answers.yml", ".msgen/service.schema.json", "requirements.txt", "requirements-dev.txt"}
    present = {str(p.relative_to(repo)) for p in repo.rglob("*") if p.is_file()}
    assert expected <= present
    assert not any(p.startswith(("_templates", ".msgen/context.json")) for p in present), "template scaffolding leaked"
    spec = load_spec(repo / "service.yaml")
    for route in spec.api.routes:
        module = route.handler.rsplit(".", 1)[0]
        assert f"src/{module}.py" in present and f"tests/test_{module}.py" in present
    containers = spec.pattern == "hybrid" and any((r.target or "container") == "container" for r in spec.api.routes)
    functions = any(spec.pattern != "hybrid" or r.target == "function" for r in spec.api.routes)
    assert ({"src/web.py", "tests/test_web.py", "Dockerfile"} <= present) == containers
    assert ({"src/app.py", "tests/test_correlation.py"} <= present) == functions
    assert ("src/worker.py" in present) == any(q.consumer for q in spec.messaging.queues)
    readme = (repo / "README.md").read_text()
    assert "```mermaid" in readme and "flowchart LR" in readme
    for table in spec.persistence.tables:
        assert f"DynamoDB: {table.name}" in readme
    ci = yaml.safe_load((repo / ".github" / "workflows" / "ci.yml").read_text())
    steps = " ".join(s.get("run", "") for s in ci["jobs"]["test"]["steps"])
    for needle in ("pytest", "msgen synth service.yaml -o infra/template.yaml --check", "cfn-lint infra/template.yaml", "checkov"):
        assert needle in steps
    precommit = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text())
    assert any(h["id"] == "cfn-lint" for r in precommit["repos"] for h in r["hooks"])
    answers = yaml.safe_load((repo / ".msgen" / "answers.yml").read_text())
    assert answers["template"] == "serverless-python" and answers["source"] == f"blueprint:{blueprint}"
    assert (repo / "service.yaml").read_text().startswith("# yaml-language-server: $schema=.msgen/service.schema.json\n")


def assert_repository_is_well_formed(repo: Path) -> None:
    for path in repo.rglob("*.py"):
        py_compile.compile(str(path), doraise=True, cfile=str(path) + "c")
        Path(str(path) + "c").unlink()
    for path in [*repo.rglob("*.yaml"), *repo.rglob("*.yml")]:
        yaml.safe_load(path.read_text(encoding="utf-8"))
    for path in repo.rglob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))
    tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "src", "tests"], cwd=repo, capture_output=True, text=True)
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr


TOKENS = [*"ab Z'\"\\{}%$#:;!?é漢🙂\n\t-", "{{", "}}", "{%", "${", '"""', "{{ cookiecutter.service }}", "${Environment}"]
FREE_TEXT = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=15).map("".join)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(team=FREE_TEXT.filter(lambda s: s.strip() and len(s) <= 256), description=FREE_TEXT)
def test_free_text_cannot_break_the_generated_repository(tmp_path_factory, team, description):
    from click.testing import CliRunner

    parent = tmp_path_factory.mktemp("free")
    data = yaml.safe_load(blueprint_text())
    data["team"], data["description"] = team, description
    spec = parent / "spec.yaml"
    spec.write_text(yaml.safe_dump(data, allow_unicode=True))
    result = CliRunner().invoke(cli_main, ["new", "text-svc", "--spec", str(spec), "-o", str(parent), "--no-input"])
    assert result.exit_code == 0, result.output
    repo = parent / "text-svc"
    assert_repository_is_well_formed(repo)
    answers = yaml.safe_load((repo / ".msgen" / "answers.yml").read_text())["answers"]
    assert (answers["team"], answers["description"]) == (team, description)
    assert description.strip() in (repo / "README.md").read_text()
    template = yaml.safe_load((repo / "infra" / "template.yaml").read_text())
    body = template["Resources"]["ServiceDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    json.loads(body.replace("${!", "$ {"))  # valid JSON once CloudFormation substitutes
    shutil.rmtree(parent)


@pytest.mark.parametrize("name,message", [
    ("Payment-Svc", "not a valid service name"),
    ("pay ment", "not a valid service name"),
    ("../escape", "not a valid service name"),
    ("a/b", "not a valid service name"),
    ("x" * 41, "not a valid service name"),
    ("ab", "not a valid service name"),
])
def test_bad_names_are_refused_before_anything_is_written(cli, tmp_path, name, message):
    result = generate(cli, tmp_path, name)
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_existing_directory_is_left_alone_unless_forced(cli, tmp_path):
    repo = tmp_path / "demo-svc"
    repo.mkdir()
    (repo / "precious.txt").write_text("keep")
    refused = generate(cli, tmp_path, "demo-svc")
    assert refused.exit_code == 2 and "--force" in refused.stderr
    assert [p.name for p in repo.iterdir()] == ["precious.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo-svc"]
    forced = generate(cli, tmp_path, "demo-svc", "--force")
    assert forced.exit_code == 0, forced.output
    assert not (repo / "precious.txt").exists() and (repo / "service.yaml").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo-svc"], "no working directories left behind"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_an_unwritable_parent_gives_a_clean_error(cli, tmp_path):
    parent = tmp_path / "locked"
    parent.mkdir()
    parent.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        result = generate(cli, parent, "demo-svc")
        assert result.exit_code == 2 and "not writable" in result.stderr
        assert list(parent.iterdir()) == []
    finally:
        parent.chmod(stat.S_IRWXU)


def test_an_unwritable_parent_gives_a_clean_error_even_as_root(cli, tmp_path, monkeypatch):
    """As root, permissions do not stop writes; simulate the refusal where msgen asks for it."""
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path else real_access(p, mode))
    result = generate(cli, tmp_path, "demo-svc")
    assert result.exit_code == 2 and "not writable" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_failure_while_rendering_leaves_nothing_behind(cli, tmp_path, monkeypatch):
    """The failure comes after cookiecutter has written the tree: the half-made repository must go."""
    import generator.scaffold as scaffold

    def broken(*args, **kwargs):
        assert any((tmp_path / p.name / "out").exists() for p in tmp_path.iterdir()), "files were rendered before this step"
        raise scaffold.RenderError("simulated failure half way")

    monkeypatch.setattr(scaffold, "_post_gen_module", broken)
    result = generate(cli, tmp_path, "demo-svc")
    assert result.exit_code == 2 and "simulated failure" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_missing_output_directory_and_conflicting_options(cli, tmp_path):
    (tmp_path / "nope").write_text("")  # a missing PARENT is created (tests/test_cli.py); one below a file cannot be
    assert generate(cli, tmp_path / "nope" / "sub", "demo-svc").exit_code == 2
    both = generate(cli, tmp_path, "demo-svc", "--blueprint", "serverless-api", "--spec", "x.yaml")
    assert both.exit_code == 2 and "not both" in both.stderr
    bad_spec = tmp_path / "bad.yaml"
    bad_spec.write_text("service: x\n")
    result = generate(cli, tmp_path, "demo-svc", "--spec", str(bad_spec))
    assert result.exit_code == 2 and f"{bad_spec}:" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "nope"]


def test_name_is_prompted_only_when_missing_and_never_with_no_input(tmp_path):
    from click.testing import CliRunner

    runner = CliRunner()
    no_input = runner.invoke(cli_main, ["new", "-o", str(tmp_path), "--no-input"])
    assert no_input.exit_code == 2 and "NAME is required" in no_input.output
    prompted = runner.invoke(cli_main, ["new", "-o", str(tmp_path)], input="prompted-svc\n")
    assert prompted.exit_code == 0, prompted.output
    assert (tmp_path / "prompted-svc" / "service.yaml").exists()
    assert load_spec(tmp_path / "prompted-svc" / "service.yaml").service == "prompted-svc"


def test_the_name_replaces_the_spec_service_and_the_template_matches(cli, tmp_path):
    assert generate(cli, tmp_path, "renamed-svc").exit_code == 0
    repo = tmp_path / "renamed-svc"
    spec = load_spec(repo / "service.yaml")
    assert spec.service == "renamed-svc"
    assert (repo / "infra" / "template.yaml").read_text() == synthesize(spec)
    assert "# description:" in (repo / "service.yaml").read_text(), "comments of the source spec are kept"


def test_plain_cookiecutter_renders_the_template(tmp_path):
    out = tmp_path / "out"
    subprocess.run([str(Path(sys.executable).parent / "cookiecutter"), str(TEMPLATE), "--no-input", "-o", str(out), "service=plain-svc"],
                   check=True, capture_output=True)
    repo = out / "plain-svc"
    assert_repository_is_well_formed(repo)
    spec = load_spec(repo / "service.yaml")
    assert spec.service == "plain-svc"
    assert (repo / "infra" / "template.yaml").read_text() == synthesize(spec)


def test_cookiecutter_defaults_are_in_sync_with_the_default_blueprint():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import update_template_defaults
    finally:
        sys.path.pop(0)
    assert (TEMPLATE / "cookiecutter.json").read_text() == update_template_defaults.defaults(), \
        "run: python scripts/update_template_defaults.py"


def test_handler_modules_may_not_shadow_python_or_the_service(cli, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(blueprint_text().replace("handler: payments.create", "handler: json.create", 1))
    result = generate(cli, tmp_path, "demo-svc", "--spec", str(spec))
    assert result.exit_code == 2 and "would shadow Python's standard module 'json'" in result.stderr
