"""`msgen update`: bring a generated repository to the current template and spec, never losing an edit.

A three-way merge per file, done by ``git merge-file``:

* base   -- what msgen rendered last time (the *pristine* rendering: old template, old spec, same answers);
* ours   -- the repository as the team has it (committed: the work tree must be clean);
* theirs -- what msgen renders now (installed template, or ``--to VERSION``; current service.yaml).

Where the base comes from, in order (see README, "Keeping a repository current"):

1. ``--base-from DIR``: a directory holding the old rendering, made by hand;
2. .msgen/pristine.tar.gz: what msgen rendered (infra/ and .msgen/ left out), written by ``msgen new`` and by every
   ``msgen update``, committed with the repository (so every clone has it; deterministic, about 20 KB);
3. a re-rendering of the recorded spec (service.yaml as msgen last rendered it, found in git history by its
   ``spec_sha256``) with the recorded msgen: the installed one when its version and template hash match, else
   ``msgen-cli==<version>`` fetched by pip into a temporary directory (pip's own index settings apply).

Ownership: infra/ and .msgen/ are derived from the spec and regenerated, never merged; service.yaml and the
workflow definitions are the team's and never touched; handler and test modules (src/<module>.py,
tests/test_<module>.py) are the team's code: update only appends the functions of handlers the spec gained
(and the imports they need); every other file is merged.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from generator import __version__
from generator.errors import EXIT_FINDINGS, EXIT_OK, MsgenError
from generator.pristine import (  # noqa: F401  (re-exported: update's own API)
    ANSWERS,
    DERIVED,
    PRISTINE,
    pristine_archive,
    read_archive,
    read_dir,
    stamp_answers,
    template_version,
)


class UpdateError(MsgenError):
    """msgen update cannot run here (not a generated repository, a dirty work tree, no base to merge from)."""


# -- git ------------------------------------------------------------------------------------------------------


def have_git() -> bool:
    return shutil.which("git") is not None


def git(cwd: Path, *args: str, input: bytes | None = None, env: dict[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess:
    full = {**os.environ, **(env or {})}
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):  # a parent git (a hook) must not redirect ours
        if not env or name not in env:
            full.pop(name, None)
    result = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, env=full)
    if check and result.returncode != 0:
        raise UpdateError(f"git {' '.join(args[:2])} failed in {cwd}: {result.stderr.decode(errors='replace').strip()}")
    return result


def in_work_tree(path: Path) -> bool:
    return git(path, "rev-parse", "--is-inside-work-tree", check=False).stdout.strip() == b"true"


# -- the recorded state -------------------------------------------------------------------------------------


def spec_digest(text: str) -> str:
    """What answers.yml's spec_sha256 is of: the spec without its yaml-language-server line, trailing newlines cut."""
    body = "".join(ln for ln in text.splitlines(keepends=True) if "yaml-language-server:" not in ln).rstrip("\n")
    return hashlib.sha256(body.encode()).hexdigest()


def read_answers(repo: Path) -> dict:
    path = repo / ANSWERS
    if not path.is_file():
        raise UpdateError(f"{repo}: no {ANSWERS}; msgen update works in a repository made by `msgen new`")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UpdateError(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, dict) or not data.get("msgen_version") or not data.get("template"):
        raise UpdateError(f"{path}: not msgen's answers file (msgen_version and template missing)")
    return data


def _version_key(v: str) -> tuple:
    """Release order of PEP 440-style versions: numbers numerically, a pre-release (1.0.0rc1) before its release."""
    parts = []
    for piece in str(v).replace("-", ".").split("."):
        digits = len(piece) - len(piece.lstrip("0123456789"))
        number, suffix = int(piece[:digits] or 0), piece[digits:]
        parts.append((number, 0 if suffix else 1, suffix))
    return tuple(parts)


MARKER = "<<<<<<< your repository"


def leftover_conflicts(repo: Path) -> list[str]:
    """Files below REPO that still hold a conflict marker of an earlier update (tracked or not; git grep)."""
    if not have_git() or not in_work_tree(repo):
        return []
    found = git(repo, "grep", "-l", "-I", "--untracked", "-F", "-e", MARKER, "--", ".", check=False)
    return sorted(found.stdout.decode().split("\n")) if found.returncode == 0 else []


def check(repo: Path) -> list[str]:
    """`msgen update --check`: one line per reason the repository is behind the installed msgen or its spec."""
    from generator import scaffold

    repo = repo.resolve()
    answers = read_answers(repo)
    reasons = []
    old = str(answers["msgen_version"])
    if old != __version__:
        newer = _version_key(old) > _version_key(__version__)
        reasons.append(f"{ANSWERS}: generated by msgen {old}, {'newer than' if newer else 'behind'} the installed msgen {__version__}: "
                       + ("upgrade msgen" if newer else "run msgen update"))
    else:
        current = template_version(scaffold.template_root())
        recorded = answers.get("template_sha256")
        if not recorded:
            reasons.append(f"{ANSWERS}: no template_sha256 (generated before msgen recorded its template): run msgen update")
        elif str(recorded) != current:
            reasons.append(f"{ANSWERS}: template {recorded} is not the installed msgen's template {current}: run msgen update")
    spec = repo / str(answers.get("spec") or "service.yaml")
    try:
        digest = spec_digest(spec.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UpdateError(f"{spec}: cannot read: {exc.strerror or exc}") from None
    if digest != answers.get("spec_sha256"):
        reasons.append(f"{spec.name}: changed since msgen last rendered this repository (new handlers have no code yet): run msgen update")
    reasons += [f"{path}: conflict markers of msgen update are left in it: resolve them" for path in leftover_conflicts(repo) if path]
    return reasons


def fleet_status(loaded) -> list[tuple[str, str | None, list[str]]]:
    """`msgen fleet status`: (service, the msgen that last rendered its repository, why it is behind) for every service
    of a loaded fleet; a service's repository is its spec's folder."""
    rows = []
    for name, spec in loaded.services.items():
        repo = spec.path.resolve().parent
        if not (repo / ANSWERS).is_file():
            rows.append((name, None, [f"{repo}: no {ANSWERS} (not a repository made by msgen new or msgen fleet new)"]))
            continue
        try:
            rows.append((name, str(read_answers(repo)["msgen_version"]), check(repo)))
        except UpdateError as exc:
            rows.append((name, None, [str(exc)]))
    return rows


# -- rendering ----------------------------------------------------------------------------------------------


def render_current(spec_path: Path, source: str) -> dict[str, bytes]:
    """What the installed msgen renders for SPEC_PATH (theirs): every file, answers.yml stamped."""
    from generator import api, scaffold

    loaded = api.load_spec(spec_path)
    with tempfile.TemporaryDirectory(prefix="msgen-render-") as tmp:
        out = scaffold.render(loaded.spec, loaded.text, source, Path(tmp) / loaded.spec.service)
        return read_dir(out)


RENDER_SCRIPT = """
import sys
from pathlib import Path
from generator import api, scaffold
loaded = api.load_spec(Path(sys.argv[1]))
scaffold.render(loaded.spec, loaded.text, sys.argv[2], Path(sys.argv[3]))
"""


def render_with_version(version: str, spec_path: Path, source: str, work: Path) -> dict[str, bytes]:
    """What msgen VERSION renders for SPEC_PATH: ``msgen-cli==VERSION`` is fetched by pip (without its dependencies,
    which the installed msgen's environment provides) into WORK and run there, with this interpreter."""
    site = work / f"msgen-{version}"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", "--target", str(site),
           f"msgen-cli=={version}"]
    fetched = subprocess.run(pip, capture_output=True, text=True)
    if fetched.returncode != 0:
        raise UpdateError(f"cannot fetch msgen-cli=={version} with pip (its index: PIP_INDEX_URL, PIP_FIND_LINKS or pip.conf): "
                          f"{fetched.stderr.strip().splitlines()[-1] if fetched.stderr.strip() else 'pip failed'}")
    env = {k: v for k, v in os.environ.items() if k not in ("MSGEN_TEMPLATE_DIR", "PYTHONPATH")}
    env["PYTHONPATH"] = str(site)
    spec = loaded_service_name(spec_path)
    out = work / f"render-{version}" / spec
    out.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-c", RENDER_SCRIPT, str(spec_path), source, str(out)], capture_output=True,
                          text=True, env=env, cwd=work)
    if done.returncode != 0 or not out.is_dir():
        raise UpdateError(f"msgen {version} could not render {spec_path.name}: "
                          f"{(done.stderr.strip().splitlines() or ['no output'])[-1]}")
    return read_dir(out)


def loaded_service_name(spec_path: Path) -> str:
    data = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    return str(data.get("service")) if isinstance(data, dict) else "service"


# -- the base -----------------------------------------------------------------------------------------------


def spec_from_history(repo: Path, spec_rel: str, digest: str) -> bytes | None:
    """The committed version of the spec whose digest answers.yml recorded (newest first), or None."""
    current = (repo / spec_rel).read_bytes()
    if spec_digest(current.decode("utf-8", "replace")) == digest:
        return current
    commits = git(repo, "log", "--format=%H", "--", spec_rel, check=False).stdout.decode().split()
    prefix = git(repo, "rev-parse", "--show-prefix").stdout.decode().strip()
    for commit in commits:
        shown = git(repo, "show", f"{commit}:{prefix}{spec_rel}", check=False)
        if shown.returncode == 0 and spec_digest(shown.stdout.decode("utf-8", "replace")) == digest:
            return shown.stdout
    return None


@dataclass
class Base:
    files: dict[str, bytes]
    origin: str  # how it was obtained, for the report


def find_base(repo: Path, answers: dict, base_from: Path | None, work: Path, notes: list[str]) -> Base:
    from generator import scaffold

    if base_from is not None:
        if not base_from.is_dir():
            raise UpdateError(f"--base-from {base_from}: not a directory")
        return Base(read_dir(base_from), f"--base-from {base_from}")
    archive = repo / PRISTINE
    if archive.is_file():
        try:
            return Base(read_archive(archive.read_bytes()), PRISTINE)
        except (tarfile.TarError, OSError, EOFError) as exc:
            notes.append(f"{PRISTINE}: cannot be read ({exc}); re-rendering the base instead")
    spec_rel = str(answers.get("spec") or "service.yaml")
    old_spec = spec_from_history(repo, spec_rel, str(answers.get("spec_sha256") or ""))
    if old_spec is None:
        raise UpdateError(f"cannot reproduce the base: no committed {spec_rel} has the spec_sha256 {ANSWERS} records; "
                          "render the old version yourself and pass it with --base-from DIR")
    spec_dir = work / "base-spec"
    shutil.copytree(repo, spec_dir, ignore=shutil.ignore_patterns(".git", ".venv", "node_modules"), symlinks=True)
    (spec_dir / spec_rel).write_bytes(old_spec)
    version = str(answers["msgen_version"])
    recorded = answers.get("template_sha256")
    if version == __version__ and (not recorded or str(recorded) == template_version(scaffold.template_root())):
        files = render_current(spec_dir / spec_rel, str(answers.get("source") or ""))
        if not recorded:
            notes.append(f"{ANSWERS} records no template_sha256 (generated before msgen recorded it): the base was rendered with the "
                         f"installed template, so template changes made since msgen {version} was installed are not applied")
        return Base(files, f"re-rendered with the installed msgen {version}")
    if version == __version__:
        raise UpdateError(f"cannot reproduce the base: {ANSWERS} records template {recorded}, the installed msgen {version} has "
                          f"template {template_version(scaffold.template_root())} (a development build); pass the old rendering "
                          "with --base-from DIR")
    files = render_with_version(version, spec_dir / spec_rel, str(answers.get("source") or ""), work)
    return Base(files, f"re-rendered with msgen-cli=={version} (fetched by pip)")


# -- merging ------------------------------------------------------------------------------------------------


def merge_file(ours: bytes, base: bytes, theirs: bytes, labels: tuple[str, str, str]) -> tuple[bytes, int]:
    """git merge-file: the merged text and how many conflicts it marks."""
    with tempfile.TemporaryDirectory(prefix="msgen-merge-") as tmp:
        paths = []
        for name, data in (("ours", ours), ("base", base), ("theirs", theirs)):
            p = Path(tmp) / name
            p.write_bytes(data)
            paths.append(str(p))
        result = subprocess.run(["git", "merge-file", "-p", "-L", labels[0], "-L", labels[1], "-L", labels[2], *paths],
                                capture_output=True)
    if result.returncode < 0 or result.returncode > 127:
        raise UpdateError(f"git merge-file failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout, result.returncode


def _header_end(tree: ast.Module) -> int:
    """The last line of the module's leading docstring and imports (0: none)."""
    end = 0
    for i, node in enumerate(tree.body):
        docstring = i == 0 and isinstance(node, ast.Expr) and isinstance(getattr(node, "value", None), ast.Constant)
        if docstring or isinstance(node, ast.Import | ast.ImportFrom):
            end = node.end_lineno or end
        else:
            break
    return end


def _defined(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def _imports(tree: ast.Module) -> dict[str, tuple[str | None, str]]:
    """Names bound by the module's top-level imports: {bound name: (from-module or None, imported name)}."""
    out: dict[str, tuple[str | None, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for a in node.names:
                out[a.asname or a.name.split(".")[0]] = (None, a.name)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            for a in node.names:
                out[a.asname or a.name] = (node.module, a.name)
    return out


def _sort_key(name: str) -> tuple[int, str]:  # ruff's isort order within one `from` line: CONSTANTS, Classes, functions
    return (0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2, name)


def append_new_code(ours: str, base: str | None, theirs: str) -> tuple[str, list[str]]:
    """OURS with the top-level definitions of THEIRS that neither OURS nor BASE has appended (msgen's code for handlers
    the spec gained), plus the imports they use. OURS's own code is left as it is. Raises SyntaxError."""
    o_tree, t_tree = ast.parse(ours), ast.parse(theirs)
    b_names = {n for node in ast.parse(base).body for n in _defined(node)} if base else set()
    o_names = {n for node in o_tree.body for n in _defined(node)}
    t_lines = theirs.splitlines()
    new_nodes = [node for node in t_tree.body if _defined(node) and not set(_defined(node)) & (o_names | b_names)]
    if not new_nodes:
        return ours, []
    segments = []
    used: set[str] = set()
    for node in new_nodes:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        while start > 1 and t_lines[start - 2].lstrip().startswith("#"):  # a comment right above belongs to it
            start -= 1
        segments.append("\n".join(t_lines[start - 1:node.end_lineno]))
        used |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    needed = {name: origin for name, origin in _imports(t_tree).items() if name in used}
    have = _imports(o_tree)
    missing = {name: origin for name, origin in needed.items() if name not in have and name not in o_names}
    lines = ours.splitlines()
    if missing:
        by_module: dict[str | None, list[str]] = {}
        for module, imported in missing.values():
            by_module.setdefault(module, []).append(imported)
        header_end = _header_end(o_tree)
        added = []
        for module, names in sorted(by_module.items(), key=lambda kv: (kv[0] is not None, kv[0] or "")):
            if module is None:
                added += [f"import {n}" for n in sorted(names)]
                continue
            existing = next((node for node in o_tree.body if isinstance(node, ast.ImportFrom) and node.module == module
                             and node.level == 0 and node.lineno == node.end_lineno and all(a.asname is None for a in node.names)), None)
            if existing is not None:  # one line `from module import a, b`: the names join it, in isort's order
                merged = sorted({a.name for a in existing.names} | set(names), key=_sort_key)
                indent = lines[existing.lineno - 1][:existing.col_offset]
                lines[existing.lineno - 1] = f"{indent}from {module} import {', '.join(merged)}"
            else:
                added.append(f"from {module} import {', '.join(sorted(names, key=_sort_key))}")
        if added:
            lines[header_end:header_end] = added
    text = "\n".join(lines).rstrip("\n")
    return text + "\n\n\n" + "\n\n\n".join(segments) + "\n", [n for node in new_nodes for n in _defined(node)]


def handler_names(spec) -> dict[str, tuple[str, str]]:
    """Every handler the spec names that msgen writes starter code for: {module.function: (src file, test file)}."""
    handlers = [r.handler for r in spec.api.routes]
    handlers += [q.consumer.handler for q in spec.messaging.queues if q.consumer]
    handlers += [x.handler.handler for x in (*spec.messaging.topics, *spec.messaging.events) if x.handler]
    out = {}
    for h in handlers:
        module = h.rsplit(".", 1)[0].replace(".", "_")
        out[h] = (f"src/{module}.py", f"tests/test_{module}.py")
    return out


def _spec_of(files: dict[str, bytes], spec_rel: str):
    """The validated spec of a rendering (None when it cannot be read: its handlers are then not compared)."""
    from generator.spec import validate_located
    from generator.spec.loader import decode_spec, parse_located

    data = files.get(spec_rel)
    if data is None:
        return None
    try:
        return validate_located(parse_located(decode_spec(data, spec_rel), spec_rel))
    except MsgenError:
        return None


# -- the update -----------------------------------------------------------------------------------------------


@dataclass
class Change:
    path: str
    action: str  # merged, added, removed, regenerated, appended, conflict
    old: bytes | None
    new: bytes | None
    note: str = ""


@dataclass
class Result:
    changes: list[Change] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what is reported, not changed
    base_origin: str = ""
    old_version: str = ""
    new_version: str = ""

    @property
    def exit_code(self) -> int:
        return EXIT_FINDINGS if self.conflicts else EXIT_OK

    def diff(self) -> str:
        out = []
        for c in self.changes:
            a = f"a/{c.path}" if c.old is not None else "/dev/null"
            b = f"b/{c.path}" if c.new is not None else "/dev/null"
            try:
                old = (c.old or b"").decode("utf-8").splitlines(keepends=True)
                new = (c.new or b"").decode("utf-8").splitlines(keepends=True)
            except UnicodeDecodeError:  # .msgen/pristine.tar.gz
                out.append(f"Binary files {a} and {b} differ\n")
                continue
            text = "".join(difflib.unified_diff(old, new, a, b))
            out.append(text if text.endswith("\n") or not text else text + "\n\\ No newline at end of file\n")
        return "".join(out)

    def summary(self, dry_run: bool) -> str:
        lines = [f"msgen update: {self.old_version} -> {self.new_version} (base: {self.base_origin})"]
        for c in self.changes:
            lines.append(f"  {c.action:<11} {c.path}" + (f"  ({c.note})" if c.note else ""))
        lines += [f"  note        {n}" for n in self.notes]
        if not self.changes:
            lines.append("  nothing to change: the repository is current")
        if self.conflicts:
            n = len(self.conflicts)
            have = "would have" if dry_run else "has" if n == 1 else "have"
            lines.append(f"msgen update: {n} file{'s' if n != 1 else ''} {have} conflict markers (<<<<<<< ======= >>>>>>>); "
                         "resolve them, then commit:")
            lines += [f"  {p}" for p in self.conflicts]
        return "\n".join(lines)


def _dirty(repo: Path) -> list[str]:
    status = git(repo, "status", "--porcelain", "--untracked-files=all", "--", ".").stdout.decode()
    return [ln for ln in status.splitlines() if ln.strip()]


def update(path: Path, to: str | None = None, dry_run: bool = False, base_from: Path | None = None) -> Result:
    """Plan (dry run) or apply an update of the repository at PATH; see the module docstring."""
    if not have_git():
        raise UpdateError("msgen update needs git (it merges with git merge-file); install git")
    repo = path.resolve()
    if not repo.is_dir():
        raise UpdateError(f"{path}: not a directory")
    if not in_work_tree(repo):
        raise UpdateError(f"{path}: not in a git work tree; commit the repository first (git init && git add -A && git commit)")
    answers = read_answers(repo)
    left = [p for p in leftover_conflicts(repo) if p]
    if left:
        raise UpdateError(f"{path}: conflict markers of an earlier update are left in {', '.join(left)}; resolve and commit them first")
    target = to or __version__
    if _version_key(str(answers["msgen_version"])) > _version_key(target) and not to:
        raise UpdateError(f"{ANSWERS}: generated by msgen {answers['msgen_version']}, newer than the installed msgen {__version__}: "
                          f"upgrade msgen (or go back deliberately with --to {__version__})")
    dirty = _dirty(repo)
    if dirty:
        shown = "\n".join(f"  {ln}" for ln in dirty[:10]) + ("\n  ..." if len(dirty) > 10 else "")
        raise UpdateError(f"{path}: the work tree has uncommitted changes; commit or stash them first, so that the update is one "
                          f"reviewable change you can undo:\n{shown}")
    spec_rel = str(answers.get("spec") or "service.yaml")
    source = str(answers.get("source") or "")
    result = Result(old_version=str(answers["msgen_version"]), new_version=to or __version__)
    with tempfile.TemporaryDirectory(prefix="msgen-update-") as tmp:
        work = Path(tmp)
        if to and to != __version__:
            theirs = render_with_version(to, repo / spec_rel, source, work)
        else:
            theirs = render_current(repo / spec_rel, source)
        base = find_base(repo, answers, base_from, work, result.notes)
    result.base_origin = base.origin
    theirs[PRISTINE] = pristine_archive(theirs)  # what this msgen rendered: the next update's base
    ours = {p: (repo / p).read_bytes() for p in set(base.files) | set(theirs) if (repo / p).is_file()}
    _plan(result, repo, spec_rel, base.files, ours, theirs)
    if not dry_run:
        for c in result.changes:
            target = repo / c.path
            if c.new is None:
                target.unlink(missing_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(c.new)
    return result


def _plan(result: Result, repo: Path, spec_rel: str, base: dict[str, bytes], ours: dict[str, bytes],
          theirs: dict[str, bytes]) -> None:
    old_spec, new_spec = _spec_of(base, spec_rel), _spec_of(theirs, spec_rel)
    old_handlers = handler_names(old_spec) if old_spec else {}
    new_handlers = handler_names(new_spec) if new_spec else {}
    code_files = {f for files in (*old_handlers.values(), *new_handlers.values()) for f in files}
    team_files = {spec_rel}
    if new_spec:
        team_files |= {w.definition for w in new_spec.workflows}
    if old_spec:
        team_files |= {w.definition for w in old_spec.workflows}
    for gone in sorted(set(old_handlers) - set(new_handlers)):
        result.notes.append(f"{gone}: no longer in {spec_rel}; its code in {old_handlers[gone][0]} is kept (delete it when unused)")
    labels = (MARKER.removeprefix("<<<<<<< "), f"msgen {result.old_version} (as generated)", f"msgen {result.new_version}")
    for path in sorted(set(base) | set(theirs)):
        b, o, t = base.get(path), ours.get(path), theirs.get(path)
        if path in team_files:
            continue
        if o is not None and b"\r\n" in o and not path.startswith(DERIVED):  # checked out with CRLF (core.autocrlf): merge alike
            b, t = _crlf(b), _crlf(t)
        if path.startswith(DERIVED):
            if t is not None and o != t:
                result.changes.append(Change(path, "regenerated", o, t))
            elif t is None and o is not None:
                if o == b:
                    result.changes.append(Change(path, "removed", o, None, "no longer generated"))
                else:
                    result.notes.append(f"{path}: no longer generated; kept because it differs from what msgen generated")
            continue
        if t is None:  # msgen no longer generates it
            if o is None:
                continue
            if o == b:
                result.changes.append(Change(path, "removed", o, None, "no longer generated, unchanged since"))
            else:
                result.notes.append(f"{path}: no longer generated by msgen; kept because you changed it")
            continue
        if o is None:
            if b is None:
                result.changes.append(Change(path, "added", None, t))
            else:
                result.notes.append(f"{path}: deleted in this repository; stays deleted"
                                    + (" (msgen changed it since: see the new version with --dry-run after restoring it)" if t != b else ""))
            continue
        if o == t:
            continue
        if path in code_files and b is not None and (o != b or not _keeps_definitions(b, t)):
            _append(result, path, o, b, t, repo)  # your code: only new functions are added (a module you never edited takes theirs)
            continue
        if path in code_files and b is None:
            _append(result, path, o, None, t, repo)
            continue
        if b == t:  # msgen changed nothing here: the team's version stands
            continue
        if o == b:
            result.changes.append(Change(path, "updated", o, t))
            continue
        merged, conflicts = merge_file(o, b if b is not None else b"", t, labels)
        if conflicts:
            result.conflicts.append(path)
            result.changes.append(Change(path, "conflict", o, merged, f"{conflicts} conflict{'s' if conflicts != 1 else ''}"))
        elif merged != o:
            result.changes.append(Change(path, "merged", o, merged))


def _crlf(data: bytes | None) -> bytes | None:
    return None if data is None else data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _keeps_definitions(old: bytes, new: bytes) -> bool:
    """NEW still defines every top-level name OLD does (a handler removed from the spec keeps its code)."""
    try:
        names = [{n for node in ast.parse(x.decode("utf-8")).body for n in _defined(node)} for x in (old, new)]
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return False
    return names[0] <= names[1]


def sort_imports(repo: Path, path: str, text: str) -> str:
    """TEXT with its imports in ruff's isort order and the repository's settings (known-first-party), when ruff is at
    hand (the repository's .venv, else PATH); only imports move. Without ruff, TEXT as it is (`make format` sorts)."""
    ruff = repo / ".venv" / "bin" / "ruff"
    ruff = str(ruff) if ruff.is_file() else shutil.which("ruff")
    if not ruff:
        return text
    try:
        done = subprocess.run([ruff, "check", "--select", "I", "--fix-only", "--exit-zero", "--no-cache", "--stdin-filename", path, "-"],
                              input=text, capture_output=True, text=True, cwd=repo, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return text
    return done.stdout if done.returncode == 0 and done.stdout.strip() else text


def _append(result: Result, path: str, o: bytes, b: bytes | None, t: bytes, repo: Path | None = None) -> None:
    try:
        text, added = append_new_code(o.decode("utf-8"), b.decode("utf-8") if b is not None else None, t.decode("utf-8"))
        if added and repo is not None:
            head = len(o.decode("utf-8").rstrip("\n"))
            if text[:head] != o.decode("utf-8")[:head]:  # imports were added: put them where ruff's isort wants them
                text = sort_imports(repo, path, text)
    except (SyntaxError, UnicodeDecodeError, ValueError):
        try:  # only worth saying when msgen has new code for it
            if not append_new_code(b.decode("utf-8") if b is not None else "", b.decode("utf-8") if b is not None else None,
                                   t.decode("utf-8"))[1]:
                return
        except (SyntaxError, UnicodeDecodeError, ValueError):
            pass
        result.notes.append(f"{path}: cannot be parsed as Python; msgen's new code for it is not added (see msgen's version with --dry-run)")
        return
    if added:
        result.changes.append(Change(path, "appended", o, text.encode("utf-8"), ", ".join(added)))
