"""Library entry points; the CLI only parses options and calls these."""

from __future__ import annotations

import difflib
import os
import re
import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from generator import cache
from generator.errors import InputError, OutputExistsError, QuotaError
from generator.files import replace_atomically
from generator.resources import blueprint

if TYPE_CHECKING:
    from generator.diff import TemplateDiff
    from generator.spec import ServiceSpec
    from generator.spec.loader import Located

TEMPLATE_MARKER = re.compile(r"^Description: ['\"]?msgen |\"Description\": \"msgen ", re.M)


def resolve_spec_path(spec: str) -> tuple[Path, str]:
    """A spec argument is a file path or, when no such file exists, a blueprint name."""
    path = Path(spec)
    if path.exists() or os.sep in spec or spec.endswith((".yaml", ".yml")):
        return path, spec
    bp = blueprint(spec)
    return bp.path, f"blueprint:{bp.name}"


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec with where it came from: every command reads specs through :func:`load_spec`."""

    spec: ServiceSpec
    located: Located  # the parsed document, with the line and column of every value
    text: str  # the decoded file, comments and layout included
    path: Path
    display: str  # how messages name it: the path given, or blueprint:<name>
    definitions: dict[str, str]  # workflow definition files read: {path: sha256}


def load_spec(spec: str | Path, raw: bytes | None = None) -> LoadedSpec:
    """The one way in: resolve SPEC (a file, or a blueprint's name), read, parse and validate it once, and read
    the workflow definitions it names. Raises SpecError (every problem, located) or InputError."""
    from generator.spec import attach_workflows, validate_located
    from generator.spec.loader import decode_spec, parse_located, read_spec_bytes

    path, display = resolve_spec_path(str(spec))
    raw = read_spec_bytes(path, display) if raw is None else raw
    text = decode_spec(raw, display)
    loc = parse_located(text, display)
    model = validate_located(loc)
    definitions = attach_workflows(model, loc, path.parent) if model.workflows else {}
    return LoadedSpec(model, loc, text, path, display, definitions)


def load(spec: str) -> ServiceSpec:
    return load_spec(spec).spec


def synth(spec: ServiceSpec, fmt: str = "yaml", env: str | None = None) -> str:
    """The template of SPEC; with ENV, that environment's own (its overrides merged in, only that environment)."""
    from generator.synth.pipeline import synthesize

    return synthesize(spec.for_environment(env) if env else spec, fmt)


def check_env(loaded: LoadedSpec, env: str | None) -> None:
    if env is not None and env not in loaded.spec.environment_names:
        raise InputError(f"--env {env}: not an environment of {loaded.display}; its environments are: "
                         f"{', '.join(loaded.spec.environment_names)}")


def synth_file(spec: str, fmt: str = "yaml", use_cache: bool = True, env: str | None = None) -> str:
    """Read SPEC once, and synthesize it (for ENV) unless the cache already holds its template.

    pydantic and troposphere are imported only on a cache miss: they are most of msgen's start-up time.
    """
    return _synth_cached(spec, fmt, use_cache, [env])[env]


def synth_environments(spec: str, fmt: str = "yaml", use_cache: bool = True) -> dict[str, str]:
    """Every environment's template: {env: text}, in the spec's order (msgen synth SPEC -o DIR)."""
    return _synth_cached(spec, fmt, use_cache, None)  # type: ignore[return-value]


def _synth_cached(spec: str, fmt: str, use_cache: bool, envs: list[str | None] | None) -> dict[str | None, str]:
    """The templates of ENVS (None: every environment of SPEC), reading SPEC once and validating it at most once."""
    from generator.spec.loader import read_spec_bytes

    path, display = resolve_spec_path(spec)
    raw = read_spec_bytes(path, display)
    loaded: LoadedSpec | None = None
    if envs is None:
        from generator.spec.environments import names
        from generator.spec.loader import decode_spec, parse_located

        data = parse_located(decode_spec(raw, display), display).data
        envs = names(data.get("environments") or []) if isinstance(data, dict) else []  # type: ignore[assignment]
        if not envs:  # invalid or defaulted: let the loader say what is wrong, or give the defaults
            loaded = load_spec(spec, raw)
            envs = loaded.spec.environment_names  # type: ignore[assignment]
    use_cache = use_cache and cache.enabled()
    out: dict[str | None, str] = {}
    for env in envs:
        k = cache.key(raw, fmt if env is None else f"{fmt}@{env}") if use_cache else ""
        text = cache.get(k) if use_cache else None
        if text is None:
            loaded = loaded or load_spec(spec, raw)
            check_env(loaded, env)
            try:
                text = synth(loaded.spec, fmt, env)
            except QuotaError as exc:  # too big for one template: generator.synth.nesting splits what was built
                exc.env = env
                raise
            if use_cache:
                cache.put(k, text, loaded.definitions)
        out[env] = text
    return out


@dataclass
class Synthesized:
    """What `msgen synth` writes: each environment's templates, and the stack lock when the service is split.

    ``templates[env]`` maps a file name suffix to its text: ``""`` is the (parent) template, ``".NestedStackN"`` a
    nested stack's (written as ``template.NestedStackN.yaml`` next to ``template.yaml``).
    """

    templates: dict[str | None, dict[str, str]]
    lock_path: Path | None = None  # set when the service is split into nested stacks
    lock_text: str | None = None
    lock_changed: bool = False

    @property
    def nested(self) -> bool:
        return self.lock_path is not None

    def warnings(self) -> list[str]:
        """What is allowed but past a default quota: API Gateway's 300 resources (path parts) per REST API."""
        counts = [sum(t.count("AWS::ApiGateway::Resource\n") + t.count('"AWS::ApiGateway::Resource"') for t in texts.values())
                  for texts in self.templates.values()]
        worst = max(counts, default=0)
        out = []
        if worst > API_RESOURCES_QUOTA:
            out.append(f"warning: the REST API has {worst} resources (path parts); API Gateway allows {API_RESOURCES_QUOTA} per API "
                       "by default (quota 'Resources per API', adjustable: request an increase in Service Quotas before deploying)")
        if self.nested:
            total = max((sum(len(re.findall(r'^    Type: AWS::|^    "Type": "AWS::', t, re.M)) for t in texts.values()) - len(texts) + 1
                         for texts in self.templates.values()), default=0)
            if total > NESTED_OPERATION_QUOTA:
                out.append(f"warning: the service has {total} resources in its stacks; CloudFormation creates, updates or deletes at "
                           f"most {NESTED_OPERATION_QUOTA} resources of nested stacks in one operation (quota 'Nested stacks'): its first "
                           "deploy, and a release that updates every function, pass it, so msgen deploy deploys them in stages of at "
                           f"most {NESTED_OPERATION_QUOTA}, a change set each (docs/nested-stacks.md)")
        return out


API_RESOURCES_QUOTA = 300
NESTED_OPERATION_QUOTA = 2500


def synth_templates(spec: str, fmt: str = "yaml", use_cache: bool = True, envs: list[str | None] | None = None,
                    previous: Callable[[list[str | None]], set[str] | None] | None = None) -> Synthesized:
    """The templates of ENVS (None: every environment). A service with a stack lock next to its spec, or whose single
    template passes a CloudFormation quota, is split into a parent and nested stacks (generator.synth.nesting);
    PREVIOUS gives the resources of the single template committed before the first split (they stay in the parent); it
    is called only when the split has no lock yet."""
    from generator import stacklock

    path, _ = resolve_spec_path(spec)
    lock_path = stacklock.path_for(path)
    built: dict[str | None, dict] = {}
    with _cyclic_gc_paused():
        if not lock_path.exists():
            try:
                return Synthesized({env: {"": text} for env, text in _synth_cached(spec, fmt, use_cache, envs).items()})
            except QuotaError as exc:
                if exc.data is not None:
                    built[exc.env] = exc.data
        return _synth_split(load_spec(spec), fmt, envs, lock_path, previous, built)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Building and rendering a template allocates objects that mostly live until it is written; CPython's cyclic
    collector walks all of them again and again as they pile up, which made a 1,000-route service cost twice its
    linear share (bench/scale.py). Reference counting still frees what dies; the collector runs again afterwards."""
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _synth_split(loaded: LoadedSpec, fmt: str, envs: list[str | None] | None, lock_path: Path,
                 previous: Callable[[list[str | None]], set[str] | None] | None, built: dict[str | None, dict] | None = None) -> Synthesized:
    from generator import stacklock
    from generator.synth import nesting
    from generator.synth.pipeline import build_template, render

    names: list[str | None] = list(envs) if envs is not None else list(loaded.spec.environment_names)
    for env in names:
        check_env(loaded, env)
    service = loaded.spec.service
    lock = stacklock.read(lock_path, service)
    work = lock.copy() if lock is not None else stacklock.StackLock(service)
    kept = previous(names) if previous is not None and lock is None else None
    out: dict[str | None, dict[str, str]] = {}
    for env in names:
        data = (built or {}).get(env) or build_template(loaded.spec.for_environment(env) if env else loaded.spec, check=False)
        where = nesting.place(data, work, kept)
        result = nesting.split(data, where, service, render, fmt)
        out[env] = {"": result.parent, **{f".{n}": t for n, t in result.children.items()}}
    return Synthesized(out, lock_path, work.to_text(), lock is None or work != lock)


def synth_stacks(loaded: LoadedSpec, env: str | None, fmt: str = "yaml") -> tuple[str, dict[str, str]]:
    """One environment's template and nested templates ({NestedStackN: text}), for commands that deploy or lint what
    is committed: a split service needs its committed, current stack lock (msgen never places resources here)."""
    from generator import stacklock

    lock_path = stacklock.path_for(loaded.path)
    if not lock_path.exists():
        try:
            return synth(loaded.spec, fmt, env), {}
        except QuotaError as exc:
            raise InputError(f"{exc}. It needs nested stacks, placed by a stack lock ({lock_path}) that does not exist yet: "
                             f"run msgen synth {shlex.quote(loaded.display)} -o DIR and commit the lock with the spec") from None
    result = _synth_split(loaded, fmt, [env], lock_path, None)
    if result.lock_changed:
        raise InputError(f"{lock_path}: out of date (the spec has resources it does not place); run msgen synth "
                         f"{shlex.quote(loaded.display)} -o DIR and commit the lock with the spec")
    texts = result.templates[env]
    return texts[""], {k[1:]: v for k, v in texts.items() if k}


def single_template_resources(paths: list[Path]) -> set[str] | None:
    """The logical IDs in the committed single templates among PATHS (msgen's, without nested stacks); None if none."""
    found: set[str] | None = None
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if not TEMPLATE_MARKER.search(text[:4096]) or "AWS::CloudFormation::Stack" in text:
            continue
        try:
            resources = read_template(path)["Resources"]
        except InputError:
            continue
        found = (found or set()) | set(resources)
    return found


def explain(spec: str, fmt: str = "text") -> str:
    """`msgen explain`: every spec element's resources, grants, alarms and idle monthly cost (generator.explain)."""
    from generator import explain as explainer

    return explainer.render(explainer.explain(load_spec(spec)), fmt)


def new_repo(name: str, parent: Path, blueprint_name: str | None = None, spec_file: str | None = None, force: bool = False,
             use_cache: bool = True) -> tuple[Path, str]:
    """`msgen new`: the repository PARENT/NAME from a blueprint (default serverless-api) or a spec file.

    The spec is validated once, against its own lines; the repository's copy gets NAME as its service (the
    line is rewritten in place, so comments and layout survive). PARENT is created when missing and removed
    again if rendering fails. Returns the repository's path and where its spec came from. USE_CACHE: keep the
    templates' compiled code between runs (scaffold.CompiledTemplates).
    """
    from generator import scaffold
    from generator.resources import DEFAULT_BLUEPRINT

    scaffold.check_name(name)
    if spec_file:
        loaded, source = load_spec(Path(spec_file)), f"spec:{Path(spec_file).name}"
    else:
        bp = blueprint(blueprint_name or DEFAULT_BLUEPRINT)
        loaded, source = load_spec(bp.path), f"blueprint:{bp.name}"
    spec = loaded.spec.model_copy(update={"service": name})  # NAME passed check_name: the spec's own rule
    text = scaffold.with_service_name(loaded.located, loaded.text, name)
    made = make_dirs(parent)  # like synth -o dir/sub/t.yaml; removed again if rendering fails
    try:
        created = scaffold.render(spec, text, source, parent / name, force=force, use_cache=use_cache)
    except BaseException:
        remove_empty_dirs(made)
        raise
    return created, source


def read_template(path: str | Path) -> dict:
    """Read a CloudFormation template (YAML, short-form tags such as ``!Ref`` included, or JSON) with cfn-lint's
    decoder. Raises InputError, located where the decoder can say, for a file that is missing or not a template."""
    from cfnlint.decode import decode_str

    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory; give a template file")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}); a template is YAML or JSON in UTF-8") from None
    try:
        template, matches = decode_str(text)
    except RecursionError:
        raise InputError(f"{path}: nested too deeply to read as a template") from None
    if matches:
        m = matches[0]
        message = " ".join(str(m.message).split("\n")[0].split())
        raise InputError(f"{path}:{m.linenumber}:{m.columnnumber}: cannot read as YAML or JSON: {message}")
    if isinstance(template, dict) and "service" in template and "Resources" not in template:
        raise InputError(f"{path}: is a msgen spec, not a template; give the template it deploys "
                         f"(e.g. msgen synth {shlex.quote(str(path))} -o template.yaml)")
    resources = template.get("Resources") if isinstance(template, dict) else None
    if not isinstance(resources, dict):
        raise InputError(f"{path}: not a CloudFormation template (no Resources mapping at the top)")
    for lid, body in resources.items():
        where = _where(path, lid)
        if not isinstance(body, dict):
            raise InputError(f"{where}: Resources.{lid}: a resource is a mapping with a Type")
        if not isinstance(body.get("Type"), str):
            raise InputError(f"{where}: Resources.{lid}: has no Type (a string such as AWS::S3::Bucket)")
    return template


def _where(path: Path, node: object) -> str:
    mark = getattr(node, "start_mark", None)
    line, column = getattr(mark, "line", None), getattr(mark, "column", None)
    return f"{path}:{line + 1}:{column + 1}" if isinstance(line, int) and isinstance(column, int) else str(path)


@dataclass(frozen=True)
class SpecDiff:
    """`msgen diff`'s result: what deploying SPEC's template over the one in AGAINST would do (generator.diff)."""

    diff: TemplateDiff
    against: str  # the deployed or committed template, as given
    spec: str  # the spec, as messages name it
    moves: dict[str, str] = field(default_factory=dict)  # resources AGAINST holds that move into a nested stack -> the stack

    def render(self, fmt: str = "text", allowed: tuple[str, ...] = ()) -> str:
        from generator import diff as differ

        new_name = f"{self.spec} (synthesized)"
        render = differ.render_json if fmt == "json" else differ.render_text
        try:
            return render(self.diff, self.against, new_name, allowed)
        except RecursionError:
            raise InputError(f"{self.against}: nested too deeply to compare") from None


def diff_template(spec: str, against: str | Path, env: str | None = None) -> SpecDiff:
    """`msgen diff`: compare the template in AGAINST (what is deployed) with the one SPEC gives, offline.

    AGAINST is read first, so a wrong path is reported before anything is synthesized. ENV must be one of the
    spec's environments.
    """
    from cfnlint.decode import decode_str

    from generator import diff as differ

    old = read_template(against)
    loaded = load_spec(spec)
    check_env(loaded, env)
    text, nested = synth_stacks(loaded, env)
    new, _ = decode_str(text)  # a split service: its parent, which holds every data resource
    try:
        result = differ.compare(old, new)
    except RecursionError:
        raise InputError(f"{against}: nested too deeply to compare") from None
    from generator.synth.nesting import moved_to_nested

    moved = {lid: name for name, members in moved_to_nested(old, new, {n: decode_str(t)[0] or {} for n, t in nested.items()}).items()
             for lid in members}
    moves = {}
    for rc in result.of("removed"):
        if rc.logical_id in moved:
            moves[rc.logical_id] = moved[rc.logical_id]
            rc.notes.append(f"moves to nested stack {moved[rc.logical_id]}: a create there before the delete from the parent, which "
                            "fails for a fixed name; msgen deploy refuses it (docs/nested-stacks.md)")
    return SpecDiff(result, str(against), loaded.display, moves)


def looks_like_template(text: str) -> bool:
    return bool(re.search(r"^(AWSTemplateFormatVersion|Resources)\s*:|^\s*\{\s*\"(AWSTemplateFormatVersion|Resources|Description)\"", text, re.M))


def may_write(path: Path, force: bool = False) -> None:
    """Refuse to write PATH when it is a directory, or an existing file msgen did not write (unless ``force``)."""
    if path.is_dir():
        raise InputError(f"{path}: is a directory; give a file name for the template")
    if path.exists() and not force:
        try:
            head = path.read_text(encoding="utf-8", errors="replace")[:4096]
        except OSError as exc:
            raise InputError(f"{path}: cannot read the existing file: {exc.strerror}") from None
        if not TEMPLATE_MARKER.search(head):
            raise OutputExistsError(f"{path}: exists and was not written by msgen; use --force to overwrite it")


def write_atomic(path: Path, text: str, force: bool = False) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file.

    An existing file is replaced only when msgen wrote it (its Description starts
    with "msgen ") or with ``force``; anything else is left untouched.
    """
    may_write(path, force)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_atomically(path, text, durable=True)
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None


def make_dirs(path: Path) -> list[Path]:
    """Create the directory ``path`` and its missing parents; returns the directories created, outermost first."""
    missing = [d for d in (path, *path.parents) if not d.exists() and not d.is_symlink()][::-1]
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InputError(f"{path}: exists and is not a directory") from None
    except OSError as exc:
        remove_empty_dirs([d for d in missing if d.is_dir()])
        raise InputError(f"{path}: cannot create the directory: {exc.strerror or exc}") from None
    return missing


def remove_empty_dirs(dirs: list[Path]) -> None:
    """Remove directories that ``make_dirs`` created, innermost first, as far as they are still empty."""
    for d in reversed(dirs):
        try:
            d.rmdir()
        except OSError:
            return


def write_all(files: dict[Path, str], force: bool = False) -> None:
    """Write several templates: every refusal is found before the first write; each file is written atomically."""
    for path in files:
        may_write(path, force)
    for path, text in files.items():
        write_atomic(path, text, force=force)


def diff(old: str, new: str, old_name: str, new_name: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), old_name, new_name))
