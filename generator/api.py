"""Library entry points; the CLI only parses options and calls these."""

from __future__ import annotations

import difflib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from generator import cache
from generator.errors import InputError, OutputExistsError
from generator.resources import blueprint

if TYPE_CHECKING:
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


def synth(spec: ServiceSpec, fmt: str = "yaml") -> str:
    from generator.synth.pipeline import synthesize

    return synthesize(spec, fmt)


def synth_file(spec: str, fmt: str = "yaml", use_cache: bool = True) -> str:
    """Read SPEC once, and synthesize it unless the cache already holds its template.

    pydantic and troposphere are imported only on a cache miss: they are most of msgen's start-up time.
    """
    from generator.spec.loader import read_spec_bytes

    path, display = resolve_spec_path(spec)
    raw = read_spec_bytes(path, display)
    use_cache = use_cache and cache.enabled()
    k = cache.key(raw, fmt) if use_cache else ""
    text = cache.get(k) if use_cache else None
    if text is None:
        loaded = load_spec(spec, raw)
        text = synth(loaded.spec, fmt)
        if use_cache:
            cache.put(k, text, loaded.definitions)
    return text


def explain(spec: str, fmt: str = "text") -> str:
    """`msgen explain`: every spec element's resources, grants, alarms and idle monthly cost (generator.explain)."""
    from generator import explain as explainer

    return explainer.render(explainer.explain(load_spec(spec)), fmt)


def new_repo(name: str, parent: Path, blueprint_name: str | None = None, spec_file: str | None = None, force: bool = False) -> tuple[Path, str]:
    """`msgen new`: the repository PARENT/NAME from a blueprint (default serverless-api) or a spec file.

    The spec is validated once, against its own lines; the repository's copy gets NAME as its service (the
    line is rewritten in place, so comments and layout survive). PARENT is created when missing and removed
    again if rendering fails. Returns the repository's path and where its spec came from.
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
        created = scaffold.render(spec, text, source, parent / name, force=force)
    except BaseException:
        remove_empty_dirs(made)
        raise
    return created, source


def looks_like_template(text: str) -> bool:
    return bool(re.search(r"^(AWSTemplateFormatVersion|Resources)\s*:|^\s*\{\s*\"(AWSTemplateFormatVersion|Resources|Description)\"", text, re.M))


def write_atomic(path: Path, text: str, force: bool = False) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file.

    An existing file is replaced only when msgen wrote it (its Description starts
    with "msgen ") or with ``force``; anything else is left untouched.
    """
    if path.is_dir():
        raise InputError(f"{path}: is a directory; give a file name for the template")
    if path.exists() and not force:
        try:
            head = path.read_text(encoding="utf-8", errors="replace")[:4096]
        except OSError as exc:
            raise InputError(f"{path}: cannot read the existing file: {exc.strerror}") from None
        if not TEMPLATE_MARKER.search(head):
            raise OutputExistsError(f"{path}: exists and was not written by msgen; use --force to overwrite it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def diff(old: str, new: str, old_name: str, new_name: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), old_name, new_name))
