"""`msgen update` and `msgen check-handlers` on real git repositories made in temporary folders.

Template version A is the checkout's template; version B is a copy with scripted changes (build_template_b), which
msgen renders when MSGEN_TEMPLATE_DIR points at it: it stands in for a later msgen release.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml

from generator import __version__
from generator.update import PRISTINE, append_new_code, read_archive, template_version
from tests.conftest import BLUEPRINTS, ROOT
from tests.test_new import make, service_venv  # noqa: F401 (service_venv is a fixture)

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="msgen update merges with git, and git is not installed here")

TEMPLATE_A = ROOT / "templates" / "serverless-python"
SERVICE = "{{cookiecutter.service}}"
# Template B's changes: (file in the template, text replaced, replacement) and files it adds.
B_EDITS = [
    ("Makefile", "everyday commands.", "everyday commands (template B)."),
    ("README.md", "## Keeping up to date\n", "## Keeping up to date (template B)\n"),
    ("src/rest.py", None, "\n\n# template B: a line msgen added to a file the team never edits\n"),
    ("tests/conftest.py", None, "\n\n# template B: conftest\n"),
]
B_NEW = ("docs/runbook.md", "# Runbook (template B)\n")


def build_template_b(template_a: Path, dest: Path) -> Path:
    shutil.copytree(template_a, dest, ignore=shutil.ignore_patterns("__pycache__"))
    root = dest / SERVICE
    for rel, old, new in B_EDITS:
        text = (root / rel).read_text(encoding="utf-8")
        if old is None:
            text += new
        else:
            assert old in text, f"template B: {old!r} is no longer in {rel}; update B_EDITS"
            text = text.replace(old, new, 1)
        (root / rel).write_text(text, encoding="utf-8")
    (root / B_NEW[0]).parent.mkdir(parents=True, exist_ok=True)
    (root / B_NEW[0]).write_text(B_NEW[1], encoding="utf-8")
    return dest


@pytest.fixture(scope="module")
def template_a(tmp_path_factory) -> Path:
    """A frozen copy of the checkout's template: version A, whatever is edited in the checkout meanwhile."""
    dest = tmp_path_factory.mktemp("template-a") / "serverless-python"
    shutil.copytree(TEMPLATE_A, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


@pytest.fixture(scope="module")
def template_b(tmp_path_factory, template_a) -> Path:
    return build_template_b(template_a, tmp_path_factory.mktemp("template-b") / "serverless-python")


@pytest.fixture(autouse=True)
def _render_template_a(monkeypatch, template_a):
    monkeypatch.setenv("MSGEN_TEMPLATE_DIR", str(template_a))


def git(repo: Path, *args: str, check: bool = True) -> str:
    result = subprocess.run(["git", "-c", "user.name=Team", "-c", "user.email=team@example.com", *args], cwd=repo,
                            capture_output=True, text=True)
    if check:
        assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout


def generate(cli, tmp_path: Path, blueprint: str = "serverless-api", name: str = "demo-svc") -> Path:
    result = cli("new", name, "-o", str(tmp_path), "--no-input", "--blueprint", blueprint)
    assert result.exit_code == 0, result.output
    repo = tmp_path / name
    git(repo, "init", "-q", "-b", "main")  # as the team does after msgen new
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "msgen new")
    return repo


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def first_handler_module(repo: Path) -> Path:
    spec = yaml.safe_load((repo / "service.yaml").read_text())
    handler = spec["api"]["routes"][0]["handler"]
    return repo / "src" / (handler.rsplit(".", 1)[0].replace(".", "_") + ".py")


def team_edits(repo: Path) -> dict[str, str]:
    """Typical edits: a handler body, a README paragraph, a Makefile target, a new file, a deleted file. Committed."""
    module = first_handler_module(repo)
    text = module.read_text()
    first_return = text.index("\n    return ")
    module.write_text(text[:first_return] + "\n    assert True  # team edit: checked by the team" + text[first_return:])
    readme = (repo / "README.md").read_text().splitlines(keepends=True)
    readme.insert(2, "\nTeam paragraph: how we run this service on call.\n")
    (repo / "README.md").write_text("".join(readme))
    with (repo / "Makefile").open("a") as fh:
        fh.write("\n# The team's own target.\nteam-target:\n\t@echo team\n")
    (repo / "docs").mkdir(exist_ok=True)
    (repo / "docs" / "team.md").write_text("# Team notes\n")
    (repo / ".pre-commit-config.yaml").unlink()
    commit(repo, "team edits")
    return {str(module.relative_to(repo)): "# team edit: checked by the team", "README.md": "Team paragraph: how we run this service on call.",
            "Makefile": "team-target:\n\t@echo team", "docs/team.md": "# Team notes"}


def state(repo: Path) -> tuple[str, str, str]:
    return git(repo, "status", "--porcelain", "--untracked-files=all"), git(repo, "rev-parse", "HEAD"), git(repo, "count-objects")


@pytest.mark.parametrize("blueprint", sorted(BLUEPRINTS))
def test_update_to_template_b_keeps_every_team_edit_and_applies_every_b_change(cli, tmp_path, monkeypatch, template_a, template_b,
                                                                               blueprint):
    repo = generate(cli, tmp_path, blueprint)
    answers = yaml.safe_load((repo / ".msgen" / "answers.yml").read_text())
    assert answers["template_sha256"] == template_version(template_a)
    pristine = read_archive((repo / PRISTINE).read_bytes())
    assert pristine["Makefile"] == (repo / "Makefile").read_bytes() and not any(p.startswith(("infra/", ".msgen/")) for p in pristine)
    assert answers["msgen_version"] == __version__
    kept = team_edits(repo)

    monkeypatch.setenv("MSGEN_TEMPLATE_DIR", str(template_b))
    behind = cli("update", "--check", str(repo))
    assert behind.exit_code == 1 and "run msgen update" in behind.stdout and len(behind.stdout.splitlines()) == 1, behind.output
    result = cli("update", str(repo))
    assert result.exit_code == 0, result.output

    for rel, needle in kept.items():
        assert needle in (repo / rel).read_text(), f"team edit lost in {rel}"
    assert not (repo / ".pre-commit-config.yaml").exists(), "a file the team deleted stays deleted"
    assert ".pre-commit-config.yaml: deleted in this repository; stays deleted" in result.output
    assert "everyday commands (template B)." in (repo / "Makefile").read_text()
    assert "## Keeping up to date (template B)" in (repo / "README.md").read_text()
    assert (repo / "src" / "rest.py").read_text().endswith("# template B: a line msgen added to a file the team never edits\n")
    assert "# template B: conftest" in (repo / "tests" / "conftest.py").read_text()
    assert (repo / B_NEW[0]).read_text() == B_NEW[1]
    assert "<<<<<<<" not in git(repo, "diff")
    after = yaml.safe_load((repo / ".msgen" / "answers.yml").read_text())
    assert after["template_sha256"] == template_version(template_b) != answers["template_sha256"]
    assert b"everyday commands (template B)." in read_archive((repo / PRISTINE).read_bytes())["Makefile"], "the next base is B"

    commit(repo, "msgen update")
    current = cli("update", "--check", str(repo))
    assert current.exit_code == 0 and current.stdout == "", current.output
    again = cli("update", str(repo))  # a second update has nothing left to do
    assert again.exit_code == 0 and "nothing to change" in again.output, again.output
    assert "(base: .msgen/pristine.tar.gz)" in again.output
    assert git(repo, "status", "--porcelain") == ""
    assert cli("check-handlers", str(repo)).exit_code == 0


@pytest.mark.slow
def test_the_updated_repository_and_a_new_route_pass_their_own_tests(cli, tmp_path, monkeypatch, template_b, service_venv):  # noqa: F811
    repo = generate(cli, tmp_path, "serverless-api")
    team_edits(repo)
    monkeypatch.setenv("MSGEN_TEMPLATE_DIR", str(template_b))
    spec = (repo / "service.yaml").read_text()
    (repo / "service.yaml").write_text(spec.replace(
        '    - {method: GET, path: "/payments/{id}", handler: payments.get, uses: ["payments:read"]}\n',
        '    - {method: GET, path: "/payments/{id}", handler: payments.get, uses: ["payments:read"]}\n'
        '    - {method: GET, path: /payments, handler: payments.list_all, uses: ["payments:read"]}\n', 1))
    commit(repo, "a new route")
    result = cli("update", str(repo))
    assert result.exit_code == 0, result.output
    tests = make(repo, "test", service_venv)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "test_list_all_get_payments" in (repo / "tests" / "test_payments.py").read_text()
    check = make(repo, "check", service_venv)
    assert check.returncode == 0, check.stdout + check.stderr
    lint = make(repo, "lint", service_venv)  # the appended code and its imports are laid out as ruff wants
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_a_conflicting_edit_gets_markers_exit_1_and_the_rest_is_applied(cli, tmp_path, monkeypatch, template_b):
    repo = generate(cli, tmp_path)
    makefile = repo / "Makefile"
    makefile.write_text(makefile.read_text().replace("everyday commands.", "everyday commands (our wording)."))
    commit(repo, "our wording")
    monkeypatch.setenv("MSGEN_TEMPLATE_DIR", str(template_b))
    preview = cli("update", "--dry-run", str(repo))
    assert preview.exit_code == 1 and "1 file would have conflict markers" in preview.output, preview.output
    assert "+<<<<<<< your repository" in preview.stdout and "<<<<<<<" not in makefile.read_text()
    result = cli("update", str(repo))
    assert result.exit_code == 1, result.output
    text = makefile.read_text()
    assert re.search(r"^<<<<<<< your repository\n.*our wording.*\n=======\n.*template B.*\n>>>>>>> msgen ", text, re.M), text
    assert "1 file has conflict markers" in result.output and "\n  Makefile\n" in result.output + "\n"
    assert "## Keeping up to date (template B)" in (repo / "README.md").read_text(), "the rest is applied"
    assert (repo / B_NEW[0]).is_file()

    commit(repo, "committed with the markers left in")  # a mistake msgen catches
    check = cli("update", "--check", str(repo))
    assert check.exit_code == 1 and "Makefile: conflict markers of msgen update are left in it: resolve them" in check.stdout
    refused = cli("update", str(repo))
    assert refused.exit_code == 2 and "conflict markers of an earlier update are left in Makefile" in refused.output
    makefile.write_text(re.sub(r"<<<<<<< your repository\n(.*\n)=======\n.*\n>>>>>>> .*\n", r"\1", text))
    commit(repo, "resolved")
    assert cli("update", "--check", str(repo)).exit_code == 0


def test_a_new_route_gets_stub_wiring_and_test_and_drift_is_caught_without_update(cli, tmp_path):
    repo = generate(cli, tmp_path)
    module = repo / "src" / "payments.py"
    module.write_text(module.read_text().replace("\n    return ", "\n    assert True  # ours\n    return ", 1))
    spec = (repo / "service.yaml").read_text()
    line = '    - {method: GET, path: /payments, handler: payments.list_all, uses: ["payments:read"]}\n'
    anchor = '    - {method: GET, path: "/payments/{id}", handler: payments.get, uses: ["payments:read"]}\n'
    (repo / "service.yaml").write_text(spec.replace(anchor, anchor + line, 1))
    commit(repo, "GET /payments")
    where = (repo / "service.yaml").read_text().splitlines().index(line.rstrip("\n")) + 1

    drift = cli("check-handlers", str(repo))
    assert drift.exit_code == 1, drift.output
    assert f"service.yaml:{where}:" in drift.stdout and "payments.list_all: src/payments.py has no function list_all" in drift.stdout
    assert "does not wire route GET /payments" in drift.stdout
    assert cli("update", "--check", str(repo)).exit_code == 1

    before = module.read_text()
    result = cli("update", str(repo))
    assert result.exit_code == 0, result.output
    after = module.read_text()
    assert after.startswith(before.rstrip("\n")), "the module's existing code is untouched"
    assert "\n\n\ndef list_all(event: APIGatewayProxyEvent) -> Response:" in after
    assert '@app.route("/payments", method=["GET"])\ndef payments_list_all() -> Response:' in (repo / "src" / "app.py").read_text()
    assert "def test_list_all_get_payments(call):" in (repo / "tests" / "test_payments.py").read_text()
    assert "appended    src/payments.py  (list_all)" in result.output
    assert cli("check-handlers", str(repo)).exit_code == 0
    assert "regenerated infra/dev/template.yaml" in result.output, "the template is re-synthesized"

    # A route wired by hand that the spec does not name is drift too, located in the entry point.
    app = repo / "src" / "app.py"
    app.write_text(app.read_text() + '\n\n@app.route("/legacy", method=["GET"])\ndef legacy() -> Response:\n    return payments.list_all(app.current_event)\n')
    drift = cli("check-handlers", str(repo))
    assert drift.exit_code == 1 and re.search(r"^src/app\.py:\d+:\d+: routes GET /legacy to payments\.list_all", drift.stdout, re.M), drift.output


def test_a_handler_removed_from_the_spec_keeps_its_code_and_is_reported(cli, tmp_path):
    repo = generate(cli, tmp_path)
    spec = (repo / "service.yaml").read_text()
    (repo / "service.yaml").write_text(re.sub(r"^.*handler: payments\.get.*\n", "", spec, count=1, flags=re.M))
    commit(repo, "drop GET /payments/{id}")
    result = cli("update", str(repo))
    assert result.exit_code == 0, result.output
    assert "payments.get: no longer in service.yaml; its code in src/payments.py is kept" in result.output
    assert "\ndef get(" in (repo / "src" / "payments.py").read_text()
    assert "payments_get" not in (repo / "src" / "app.py").read_text(), "the entry point no longer routes it"


def test_dry_run_prints_the_diff_and_changes_nothing(cli, tmp_path, monkeypatch, template_b):
    repo = generate(cli, tmp_path)
    team_edits(repo)
    before = state(repo)
    monkeypatch.setenv("MSGEN_TEMPLATE_DIR", str(template_b))
    result = cli("update", "--dry-run", str(repo))
    assert result.exit_code == 0, result.output
    assert "+# {{" not in result.stdout
    assert "+# demo-svc: everyday commands (template B)." in result.stdout and "--- a/Makefile\n+++ b/Makefile" in result.stdout
    assert "--- /dev/null\n+++ b/docs/runbook.md\n" in result.stdout
    assert "Binary files a/.msgen/pristine.tar.gz and b/.msgen/pristine.tar.gz differ\n" in result.stdout
    assert "dry run; nothing was changed" in result.output
    assert state(repo) == before
    # what the dry run showed is what the update does
    applied = cli("update", str(repo))
    assert applied.exit_code == 0
    assert git(repo, "diff").count("(template B)") >= 2


def test_a_dirty_tree_is_refused_and_check_still_reports(cli, tmp_path, monkeypatch, template_b):
    repo = generate(cli, tmp_path)
    (repo / "README.md").write_text((repo / "README.md").read_text() + "uncommitted\n")
    for args in (("update",), ("update", "--dry-run")):
        result = cli(*args, str(repo))
        assert result.exit_code == 2, result.output
        assert "uncommitted changes; commit or stash them first" in result.output and "README.md" in result.output
    (repo / "README.md").write_text((repo / "README.md").read_text().replace("uncommitted\n", ""))
    (repo / "new-file.txt").write_text("untracked\n")
    assert cli("update", str(repo)).exit_code == 2, "untracked files count as dirty too"
    (repo / "new-file.txt").unlink()
    assert cli("update", "--check", str(repo)).exit_code == 0
    monkeypatch.setenv("MSGEN_TEMPLATE_DIR", str(template_b))
    behind = cli("update", "--check", str(repo))
    assert behind.exit_code == 1 and behind.stdout.startswith(".msgen/answers.yml: template "), behind.output


def test_check_names_each_reason_on_one_line(cli, tmp_path):
    repo = generate(cli, tmp_path)
    answers = repo / ".msgen" / "answers.yml"
    answers.write_text(answers.read_text().replace(f'msgen_version: "{__version__}"', 'msgen_version: "0.0.1"'))
    (repo / "service.yaml").write_text((repo / "service.yaml").read_text().replace("memory_mb: 512", "memory_mb: 1024"))
    result = cli("update", "--check", str(repo))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines == [f".msgen/answers.yml: generated by msgen 0.0.1, behind the installed msgen {__version__}: run msgen update",
                     "service.yaml: changed since msgen last rendered this repository (new handlers have no code yet): run msgen update"]
    answers.write_text(answers.read_text().replace('msgen_version: "0.0.1"', 'msgen_version: "99.0"'))
    assert "newer than the installed msgen" in cli("update", "--check", str(repo)).stdout
    commit(repo, "from a newer msgen")
    downgrade = cli("update", str(repo))
    assert downgrade.exit_code == 2 and "newer than the installed msgen" in downgrade.output and "--to" in downgrade.output


def test_not_a_generated_git_repository_is_refused_clearly(cli, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    result = cli("update", str(plain))
    assert result.exit_code == 2 and "not in a git work tree" in result.output
    git(plain, "init", "-q")
    result = cli("update", str(plain))
    assert result.exit_code == 2 and "no .msgen/answers.yml" in result.output
    assert "Traceback" not in result.output


def _strip_pristine(repo: Path, **replace: str) -> None:
    """As a repository generated before msgen kept .msgen/pristine.tar.gz (or by another msgen: REPLACE)."""
    (repo / PRISTINE).unlink()
    answers = repo / ".msgen" / "answers.yml"
    text = answers.read_text()
    for old, new in replace.items():
        text = text.replace(old, new)
    answers.write_text(text)
    commit(repo, "as a repository generated by another msgen")


def test_without_the_pristine_tree_the_base_is_re_rendered_from_the_spec_found_in_history(cli, tmp_path):
    """Without .msgen/pristine.tar.gz: the base is service.yaml as last rendered (found in git history by its
    spec_sha256), rendered again with the installed msgen (same version and template hash)."""
    repo = generate(cli, tmp_path)
    _strip_pristine(repo)
    kept = team_edits(repo)
    spec = (repo / "service.yaml").read_text()
    anchor = '    - {method: GET, path: "/payments/{id}", handler: payments.get, uses: ["payments:read"]}\n'
    (repo / "service.yaml").write_text(spec.replace(anchor, anchor + '    - {method: DELETE, path: "/payments/{id}", handler: payments.remove, '
                                                    'uses: ["payments:write"]}\n', 1))
    commit(repo, "DELETE /payments/{id}")
    result = cli("update", str(repo))
    assert result.exit_code == 0, result.output
    assert "base: re-rendered with the installed msgen" in result.output
    for rel, needle in kept.items():
        assert needle in (repo / rel).read_text()
    assert "\ndef remove(event: APIGatewayProxyEvent, id: str) -> Response:" in (repo / "src" / "payments.py").read_text()
    assert "return payments.remove(app.current_event, id)" in (repo / "src" / "app.py").read_text()
    assert cli("check-handlers", str(repo)).exit_code == 0


def _fake_release_wheel(folder: Path, version: str, template: Path) -> Path:
    """A wheel of msgen-cli VERSION made from this checkout's code and blueprints and TEMPLATE, as a package index would serve it."""
    wheel = folder / f"msgen_cli-{version}-py3-none-any.whl"
    dist = f"msgen_cli-{version}.dist-info"
    with zipfile.ZipFile(wheel, "w") as zf:
        for p in sorted((ROOT / "generator").rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and p.relative_to(ROOT).as_posix() != "generator/__init__.py":
                zf.write(p, p.relative_to(ROOT).as_posix())
        init = (ROOT / "generator" / "__init__.py").read_text()
        zf.writestr("generator/__init__.py", re.sub(r'__version__ = ".*"', f'__version__ = "{version}"', init))
        for folder, name in ((template.parent, "templates"), (ROOT / "blueprints", "blueprints")):
            for p in sorted(folder.rglob("*")):
                if p.is_file() and "__pycache__" not in p.parts:
                    zf.write(p, f"generator/_data/{name}/{p.relative_to(folder).as_posix()}")
        zf.writestr(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: msgen-cli\nVersion: {version}\n")
        zf.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{dist}/RECORD", "")
    return wheel


def test_an_older_msgen_is_fetched_with_pip_to_render_the_base(cli, tmp_path, monkeypatch, template_a, template_b):
    """A repository generated by msgen 0.0.1 before the pristine tree existed: the base comes from msgen-cli==0.0.1,
    fetched by pip from the index the environment names (here a folder, offline)."""
    repo = generate(cli, tmp_path)
    _strip_pristine(repo, **{f'msgen_version: "{__version__}"': 'msgen_version: "0.0.1"'})
    answers = repo / ".msgen" / "answers.yml"
    answers.write_text(re.sub(r"^template_sha256: .*\n", "", answers.read_text(), flags=re.M))
    commit(repo, "generated by 0.0.1")
    kept = team_edits(repo)
    index = tmp_path / "index"
    index.mkdir()
    _fake_release_wheel(index, "0.0.1", template_a)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    monkeypatch.setenv("MSGEN_TEMPLATE_DIR", str(template_b))
    result = cli("update", str(repo))
    assert result.exit_code == 0, result.output
    assert "base: re-rendered with msgen-cli==0.0.1 (fetched by pip)" in result.output
    for rel, needle in kept.items():
        assert needle in (repo / rel).read_text()
    assert "everyday commands (template B)." in (repo / "Makefile").read_text()
    assert yaml.safe_load(answers.read_text())["msgen_version"] == __version__

    # A version the index does not have: a clear error naming --base-from, nothing changed.
    repo2 = generate(cli, tmp_path / "two")
    _strip_pristine(repo2, **{f'msgen_version: "{__version__}"': 'msgen_version: "0.0.2"'})
    before = state(repo2)
    missing = cli("update", str(repo2))
    assert missing.exit_code == 2 and "cannot fetch msgen-cli==0.0.2 with pip" in missing.output, missing.output
    assert state(repo2) == before


def test_generated_ci_runs_the_update_check_as_a_warning_and_make_check_runs_the_drift_check(cli, tmp_path):
    repo = generate(cli, tmp_path)
    ci = yaml.safe_load((repo / ".github" / "workflows" / "ci.yml").read_text())
    step = next(s for s in ci["jobs"]["test"]["steps"] if "msgen update --check" in s.get("run", ""))
    assert step["continue-on-error"] is True and "::warning" in step["run"] and "GITHUB_STEP_SUMMARY" in step["run"]
    recipe = subprocess.run(["make", "-n", "SKIP_INSTALL=1", "check"], cwd=repo, capture_output=True, text=True,
                            env={k: v for k, v in os.environ.items() if not k.startswith("MAKE")}).stdout
    assert "msgen check-handlers ." in recipe
    assert "msgen update" in (repo / ".github" / "dependabot.yml").read_text()


def test_a_service_in_a_subdirectory_of_a_work_tree_is_updated_alone(cli, tmp_path, monkeypatch, template_b):
    mono = tmp_path / "mono"
    mono.mkdir()
    git(mono, "init", "-q", "-b", "main")
    (mono / "README.md").write_text("# the monorepo\n")
    result = cli("new", "demo-svc", "-o", str(mono / "services"), "--no-input")
    assert result.exit_code == 0, result.output
    repo = mono / "services" / "demo-svc"
    commit(mono, "a service in the monorepo")
    kept = team_edits(repo)
    (mono / "other.txt").write_text("uncommitted, outside the service\n")
    monkeypatch.setenv("MSGEN_TEMPLATE_DIR", str(template_b))
    updated = cli("update", str(repo))
    assert updated.exit_code == 0, updated.output
    for rel, needle in kept.items():
        assert needle in (repo / rel).read_text()
    assert (repo / B_NEW[0]).is_file() and not (mono / B_NEW[0]).exists()
    assert (mono / "README.md").read_text() == "# the monorepo\n"


def test_to_version_renders_theirs_with_that_release(cli, tmp_path, monkeypatch, template_a, template_b):
    """--to VERSION: theirs is what msgen-cli==VERSION renders (here a release made of template B)."""
    repo = generate(cli, tmp_path)
    kept = team_edits(repo)
    index = tmp_path / "index"
    index.mkdir()
    _fake_release_wheel(index, "0.2.0", template_b)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    result = cli("update", "--to", "0.2.0", str(repo))
    assert result.exit_code == 0, result.output
    assert f"msgen update: {__version__} -> 0.2.0 (base: .msgen/pristine.tar.gz)" in result.output
    for rel, needle in kept.items():
        assert needle in (repo / rel).read_text()
    assert "everyday commands (template B)." in (repo / "Makefile").read_text()
    answers = yaml.safe_load((repo / ".msgen" / "answers.yml").read_text())
    assert answers["msgen_version"] == "0.2.0" and answers["template_sha256"] == template_version(template_b)
    commit(repo, "msgen 0.2.0")
    assert "newer than the installed msgen" in cli("update", "--check", str(repo)).stdout


def test_append_new_code_adds_only_new_functions_and_the_imports_they_use():
    base = '"""Handlers."""\n\nfrom rest import json_response\n\n\ndef get(event):\n    return json_response(200, {})\n\n\ndef old(event):\n    return None\n'
    ours = base.replace("return json_response(200, {})", "return json_response(200, {'mine': True})").replace(
        "\n\ndef old(event):\n    return None\n", "")  # the team edited get and deleted old
    theirs = ('"""Handlers."""\n\nfrom aws_lambda_powertools.event_handler.exceptions import NotFoundError\n\nimport storage\n'
              'from rest import json_body, json_response\n\n\ndef get(event):\n    return json_response(200, {})\n\n\n'
              'def old(event):\n    return None\n\n\n# lists them\ndef list_all(event):\n    if not storage:\n'
              '        raise NotFoundError("none")\n    return json_response(200, json_body(event))\n')
    text, added = append_new_code(ours, base, theirs)
    assert added == ["list_all"], "old was deleted by the team: it stays deleted"
    assert "from rest import json_body, json_response\n" in text
    assert "import storage\n" in text and "from aws_lambda_powertools.event_handler.exceptions import NotFoundError\n" in text
    assert "{'mine': True}" in text and "def old" not in text
    assert text.endswith("\n\n\n# lists them\ndef list_all(event):\n    if not storage:\n        raise NotFoundError(\"none\")\n"
                         "    return json_response(200, json_body(event))\n")
    assert append_new_code(text, base, theirs) == (text, []), "a second run adds nothing"


def test_a_file_msgen_no_longer_generates_is_removed_only_if_unchanged(cli, tmp_path, monkeypatch, template_a):
    template_c = tmp_path / "template-c" / "serverless-python"
    shutil.copytree(template_a, template_c)
    for rel in (".github/dependabot.yml", ".gitignore"):
        (template_c / SERVICE / rel).unlink()
    repo = generate(cli, tmp_path)
    with (repo / ".gitignore").open("a") as fh:
        fh.write("local-notes/\n")
    commit(repo, "ignore our notes")
    monkeypatch.setenv("MSGEN_TEMPLATE_DIR", str(template_c))
    result = cli("update", str(repo))
    assert result.exit_code == 0, result.output
    assert not (repo / ".github" / "dependabot.yml").exists() and "removed     .github/dependabot.yml" in result.output
    assert (repo / ".gitignore").read_text().endswith("local-notes/\n")
    assert ".gitignore: no longer generated by msgen; kept because you changed it" in result.output


def test_check_handlers_covers_consumers_event_handlers_and_release_hooks(cli, tmp_path):
    repo = generate(cli, tmp_path, "event-worker")
    assert cli("check-handlers", str(repo)).exit_code == 0
    spec_lines = (repo / "service.yaml").read_text().splitlines()
    sender = repo / "src" / "sender.py"
    sender.write_text(sender.read_text().replace("def deliver(", "def deliver_all("))
    worker = repo / "src" / "worker.py"
    worker.write_text(worker.read_text().replace('    "events:daily-digest": digest.send,\n', '    "events:nightly": digest.send,\n'))
    result = cli("check-handlers", str(repo))
    assert result.exit_code == 1, result.output
    where = next(i for i, ln in enumerate(spec_lines, 1) if "handler: sender.deliver" in ln)
    assert re.search(rf"^service\.yaml:{where}:\d+: messaging\.queues\[0\]\.consumer\.handler: sender\.deliver: src/sender\.py has no "
                     "function deliver", result.stdout, re.M), result.stdout
    assert re.search(r"^service\.yaml:\d+:\d+: messaging\.events\[1\]\.handler\.handler: digest\.send: src/worker\.py does not wire "
                     "event source events:daily-digest", result.stdout, re.M), result.stdout
    assert re.search(r"^src/worker\.py:\d+:\d+: routes events:nightly to digest\.send", result.stdout, re.M), result.stdout

    other = generate(cli, tmp_path / "hooks", "serverless-api")
    spec = other / "service.yaml"
    spec.write_text(spec.read_text().replace("  memory_mb: 512\n", "  memory_mb: 512\n  release:\n    hooks: {pre_traffic: hooks.smoke}\n", 1))
    missing = cli("check-handlers", str(other))
    assert missing.exit_code == 1 and "application.release.hooks.pre_traffic: hooks.smoke: src/hooks.py has no function smoke" in missing.stdout
    (other / "src" / "hooks.py").write_text("def smoke(event, context):\n    return None\n")
    assert cli("check-handlers", str(other)).exit_code == 0


def test_an_invalid_spec_is_reported_located_and_nothing_changes(cli, tmp_path):
    repo = generate(cli, tmp_path)
    spec = repo / "service.yaml"
    spec.write_text(spec.read_text().replace("memory_mb: 512", "memory_mb: 5"))
    commit(repo, "a bad memory size")
    before = state(repo)
    for args in (("update",), ("check-handlers",)):
        result = cli(*args, str(repo))
        assert result.exit_code == 2, result.output
        assert re.search(r"service\.yaml:\d+:\d+: application\.memory_mb", result.output) and "Traceback" not in result.output
    assert state(repo) == before


def test_fleet_status_lists_each_service_version_and_whether_it_is_behind(cli, tmp_path, monkeypatch, template_b):
    made = cli("fleet", "new", "shop", "-o", str(tmp_path))
    assert made.exit_code == 0, made.output
    fleet = tmp_path / "shop-fleet" / "fleet.yaml"
    current = cli("fleet", "status", str(fleet))
    assert current.exit_code == 0, current.output
    rows = current.stdout.splitlines()
    assert len(rows) == 5 and all(re.fullmatch(rf"[a-z-]+ +msgen {re.escape(__version__)} +current", r) for r in rows), rows
    spec = tmp_path / "catalog-svc" / "service.yaml"
    spec.write_text(spec.read_text() + "\n# edited\n")
    monkeypatch.setenv("MSGEN_TEMPLATE_DIR", str(template_b))
    behind = cli("fleet", "status", str(fleet))
    assert behind.exit_code == 1
    catalog = next(r for r in behind.stdout.splitlines() if r.startswith("catalog-svc "))
    assert "behind: .msgen/answers.yml: template " in catalog and "service.yaml: changed since msgen last rendered" in catalog
    assert "0 of 5 repositories current" in behind.stderr


def test_a_work_tree_with_crlf_line_ends_merges_line_by_line(cli, tmp_path, monkeypatch, template_b):
    repo = generate(cli, tmp_path)
    for rel in ("Makefile", "README.md"):
        (repo / rel).write_bytes((repo / rel).read_bytes().replace(b"\n", b"\r\n"))
    readme = repo / "README.md"
    readme.write_bytes(readme.read_bytes().replace(b"\r\n", b"\r\nOur CRLF paragraph.\r\n", 1))
    commit(repo, "as checked out on Windows")
    monkeypatch.setenv("MSGEN_TEMPLATE_DIR", str(template_b))
    result = cli("update", str(repo))
    assert result.exit_code == 0, result.output
    text = readme.read_bytes()
    assert b"Our CRLF paragraph.\r\n" in text and b"## Keeping up to date (template B)\r\n" in text and b"\n" not in text.replace(b"\r\n", b"")
    assert b"everyday commands (template B). `make install` once, then `make test`.\r\n" in (repo / "Makefile").read_bytes()


def test_a_handler_in_a_new_module_gets_the_module_its_test_and_the_wiring(cli, tmp_path):
    repo = generate(cli, tmp_path)
    spec = repo / "service.yaml"
    anchor = '    - {method: GET, path: "/payments/{id}", handler: payments.get, uses: ["payments:read"]}\n'
    spec.write_text(spec.read_text().replace(anchor, anchor + '    - {method: GET, path: /orders, handler: orders.list_all, uses: ["payments:read"]}\n', 1))
    commit(repo, "GET /orders")
    result = cli("update", str(repo))
    assert result.exit_code == 0, result.output
    assert "added       src/orders.py" in result.output and "added       tests/test_orders.py" in result.output
    assert "def list_all(event: APIGatewayProxyEvent) -> Response:" in (repo / "src" / "orders.py").read_text()
    assert "import orders\n" in (repo / "src" / "app.py").read_text()
    assert '"orders"' in (repo / "pyproject.toml").read_text(), "isort knows the new first-party module"
    assert cli("check-handlers", str(repo)).exit_code == 0
