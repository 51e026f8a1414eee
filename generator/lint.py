"""cfn-lint, in process, over template texts; findings as ``file:line:col: RULE message``.

:func:`lint_text` lints one template. :func:`lint_many` is the lint engine for several (nested stacks,
every environment's template, a fleet): one call, cfn-lint imported once, the templates shared out over a
pool of worker processes (cfn-lint is CPU-bound pure Python, so threads would not help), and each result
kept in a content-addressed cache. The cache key is the template text's sha256, cfn-lint's version, the
content of msgen's own rules (and of this file), the Regions and the informational flag, so a cached
result is exactly what linting afresh gives; the file name is not part of it (findings are stored without
it). Entries live in ``$XDG_CACHE_HOME/msgen/lint`` (bounded); ``MSGEN_NO_CACHE=1`` or ``use_cache=False``
bypasses it.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from generator.errors import InputError
from generator.files import replace_atomically

RULES_DIR = str(Path(__file__).resolve().parent / "lint_rules")
DEFAULT_REGIONS = ("us-east-1",)
TEMPLATE_SUFFIXES = (".yaml", ".yml", ".json")
MAX_ENTRIES = 2048


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    column: int
    rule: str
    message: str

    @property
    def level(self) -> str:
        return {"E": "error", "W": "warning", "I": "info"}.get(self.rule[:1], "error")

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.rule} {self.message}"


# A finding without its file: what a worker returns and the cache stores.
Raw = tuple[int, int, str, str]


def check_regions(regions: tuple[str, ...] | list[str]) -> None:
    """Raise InputError naming every Region cfn-lint does not know, with the nearest known ones."""
    known = known_regions()
    problems = []
    for region in dict.fromkeys(regions):
        if region in known or region == "ALL_REGIONS":
            continue
        near = difflib.get_close_matches(region.strip().lower(), known, n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(near)}?" if near else f"known Regions: {', '.join(sorted(known))}"
        problems.append(f"unknown Region {region!r} ({hint})")
    if problems:
        raise InputError("; ".join(problems))


def known_regions() -> list[str]:
    """cfn-lint's own list of Regions (those it has resource specifications for).

    Importing cfn-lint takes a second or two, which a fully cached lint should not pay just to check
    ``--region``: the list is kept in the lint cache per cfn-lint version (read afresh with the cache off).
    """
    path = cache_dir() / f"cfn-lint-{cfnlint_version()}.regions"
    if enabled():
        try:
            regions = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(regions, list) and regions and all(isinstance(r, str) for r in regions):
                return regions
        except (OSError, ValueError):
            pass
    from cfnlint.helpers import REGIONS

    regions = list(REGIONS)
    if enabled():
        _write(path, json.dumps(regions))
    return regions


def lint_text(text: str, filename: str, regions: tuple[str, ...] = DEFAULT_REGIONS, info: bool = False) -> list[Finding]:
    """Lint a template with cfn-lint's rules plus msgen's (``generator/lint_rules``), in this process, uncached."""
    check_regions(regions)
    return _findings(filename, _lint_raw(text, tuple(regions), info))


def lint_many(items: list[tuple[str, str]], regions: tuple[str, ...] = DEFAULT_REGIONS, info: bool = False,
              jobs: int | None = None, use_cache: bool = True) -> dict[str, list[Finding]]:
    """Lint several templates, ``[(name, text), ...]``, in one call: ``{name: sorted findings}`` in input order.

    Cached results are used unless ``use_cache`` is false or MSGEN_NO_CACHE is set. The others are linted in
    this process when there is only one of them or ``jobs`` is 1, otherwise over a pool of ``jobs`` worker
    processes (default: the CPUs this process may use). A name given twice is linted once (its first text).
    """
    regions = tuple(regions)
    unique: dict[str, str] = {}
    for name, text in items:
        unique.setdefault(name, text)
    caching = use_cache and enabled()
    keys = {name: key(text, regions, info) for name, text in unique.items()} if caching else {}
    raw: dict[str, list[Raw]] = {}
    if caching:
        for name in unique:
            hit = _get(keys[name])
            if hit is not None:
                raw[name] = hit
    todo = [name for name in unique if name not in raw]
    if todo:
        check_regions(regions)  # before any work; an entry exists only for Regions that passed this check
        texts = [unique[name] for name in todo]
        for name, result in zip(todo, _lint_all(texts, regions, info, jobs), strict=True):
            raw[name] = result
            if caching:
                _put(keys[name], result)
        if caching:
            _prune()
    return {name: _findings(name, raw[name]) for name in unique}


def workers(jobs: int | None, count: int) -> int:
    """How many worker processes linting ``count`` templates uses (1: no pool, lint in this process)."""
    if jobs is None:
        try:
            jobs = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            jobs = os.cpu_count() or 1
    return max(1, min(jobs, count))


def _lint_all(texts: list[str], regions: tuple[str, ...], info: bool, jobs: int | None) -> list[list[Raw]]:
    n = workers(jobs, len(texts))
    if n == 1:
        return [_lint_raw(text, regions, info) for text in texts]
    return _lint_pool(texts, regions, info, n)


def _lint_pool(texts: list[str], regions: tuple[str, ...], info: bool, n: int) -> list[list[Raw]]:
    """Lint TEXTS over N worker processes; results in TEXTS' order.

    Where fork is available, cfn-lint is imported and its rules loaded here, once, and the workers inherit them
    (on a busy machine a second copy of that work costs wall time). The largest templates go first, so no worker
    is left with a big one at the end.
    """
    import gc
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = None
    if "fork" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("fork")
        _runner(regions, info)
        gc.collect()
        gc.freeze()  # the loaded rules stay shared with the workers (copy-on-write) instead of being touched by their GC
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    results: list[list[Raw]] = [[] for _ in texts]
    try:
        with ProcessPoolExecutor(max_workers=n, mp_context=context, initializer=_worker_init) as pool:
            futures = {i: pool.submit(_lint_raw, texts[i], regions, info) for i in order}
            for i, future in futures.items():
                results[i] = future.result()
    finally:
        if context is not None:
            gc.unfreeze()
    return results


def _worker_init() -> None:
    """A worker only lints: collect its young objects less often (cfn-lint allocates millions; ~5-10% less CPU)."""
    import gc

    gc.set_threshold(50_000, 50, 100)


def _lint_raw(text: str, regions: tuple[str, ...], info: bool) -> list[Raw]:
    """cfn-lint's findings on TEXT, without a file name, deduplicated and sorted (runs in a worker, or here).

    What ``cfnlint.api.lint`` does, but with a rule set loaded once per process: loading cfn-lint's rules (and
    msgen's) costs about 0.8 s, more than linting a small template; cfn-lint's own command line likewise runs
    one set of rules over every file it is given.
    """
    from cfnlint.decode.decode import decode_str  # imported here: cfn-lint takes a second or two to import

    template, errors = decode_str(text)
    matches = errors if errors else [] if template is None else _runner(regions, info).validate_template(template)
    return sorted({(m.linenumber, m.columnnumber, m.rule.id, " ".join(str(m.message).split())) for m in matches})


_RUNNERS: dict[tuple[tuple[str, ...], bool], object] = {}


def _runner(regions: tuple[str, ...], info: bool):
    """This process's cfn-lint runner (rules loaded) for REGIONS and INFO."""
    runner = _RUNNERS.get((regions, info))
    if runner is None:
        from cfnlint.api import ManualArgs
        from cfnlint.config import ConfigMixIn
        from cfnlint.runner import Runner

        config = ManualArgs(regions=list(regions), append_rules=[RULES_DIR])
        if info:
            config["include_checks"] = ["I"]
        runner = _RUNNERS[(regions, info)] = Runner(ConfigMixIn(**config))
    return runner


def _findings(name: str, raw: list[Raw]) -> list[Finding]:
    return [Finding(name, line, column, rule, message) for line, column, rule, message in raw]


# --- the cache ------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "msgen" / "lint"


def enabled() -> bool:
    return os.environ.get("MSGEN_NO_CACHE", "") in ("", "0")


def cfnlint_version() -> str:
    """cfn-lint's version, read from its version.py without importing cfn-lint (which takes a second or two)."""
    spec = importlib.util.find_spec("cfnlint")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        try:
            match = re.search(r"""__version__\s*=\s*["']([^"']+)""", (Path(folder) / "version.py").read_text(encoding="utf-8"))
        except OSError:
            continue
        if match:
            return match.group(1)
    from importlib.metadata import version

    return version("cfn-lint")


def _rules_fingerprint() -> bytes:
    """msgen's own rule files and this module, by content (they decide which findings there are, and their text)."""
    h = hashlib.sha256()
    here = Path(__file__).resolve()
    for path in [here, *sorted(Path(RULES_DIR).rglob("*.py"))]:
        data = path.read_bytes()
        h.update(f"{path.relative_to(here.parent)}:{len(data)}\n".encode())
        h.update(data)
    return h.digest()


def key(text: str, regions: tuple[str, ...] = DEFAULT_REGIONS, info: bool = False) -> str:
    """The cache key of TEXT's findings: its content, cfn-lint's version, msgen's rules, the Regions, the info flag."""
    content = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    h = hashlib.sha256()
    for part in (cfnlint_version().encode(), _rules_fingerprint(), json.dumps([list(regions), info]).encode(), content):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def _get(k: str) -> list[Raw] | None:
    try:
        data = json.loads((cache_dir() / f"{k}.json").read_text(encoding="utf-8"))
        return [(int(line), int(col), str(rule), str(message)) for line, col, rule, message in data]
    except (OSError, ValueError, TypeError):
        return None


def _put(k: str, raw: list[Raw]) -> None:
    _write(cache_dir() / f"{k}.json", json.dumps(raw))


def _write(path: Path, text: str) -> None:
    """Best effort, atomically: a cache that cannot be written is simply not used."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_atomically(path, text, mode=None)
    except OSError:
        pass


def _prune() -> None:
    try:
        entries = sorted(cache_dir().glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
        for old in entries[:-MAX_ENTRIES]:
            old.unlink(missing_ok=True)
    except OSError:
        pass


# --- targets --------------------------------------------------------------------------------------------


def read_targets(targets: list[str] | tuple[str, ...], use_cache: bool = True) -> list[tuple[str, str]]:
    """``msgen lint``'s TARGETs as ``[(name, template text), ...]``, in the order given.

    A template file is read; a spec file or a blueprint's name is synthesized first (its base template, named
    ``SPEC#template``; a service split into nested stacks adds ``SPEC#NestedStackN``); a directory gives every template
    (``*.yaml``, ``*.yml``, ``*.json`` that looks like a CloudFormation template) below it, in sorted order, hidden
    folders left out.
    """
    from generator import api

    items: dict[str, str] = {}
    for target in targets:
        path = Path(target)
        if path.is_dir():
            found = [(str(p), text) for p in _template_files(path) if api.looks_like_template(text := _read(p))]
            if not found:
                raise InputError(f"{target}: no CloudFormation templates (*.yaml, *.yml, *.json) below this directory")
            for name, text in found:
                items.setdefault(name, text)
            continue
        if path.is_file():
            text = _read(path)
            if api.looks_like_template(text):
                items.setdefault(target, text)
                continue
        for suffix, text in api.synth_templates(target, use_cache=use_cache, envs=[None]).templates[None].items():
            items.setdefault(f"{target}#{suffix[1:] if suffix else 'template'}", text)  # SPEC#template, SPEC#NestedStack1...
    return list(items.items())


def _template_files(folder: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        files.extend(Path(dirpath) / f for f in filenames if f.lower().endswith(TEMPLATE_SUFFIXES) and not f.startswith("."))
    return sorted(files)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read as UTF-8 text: {exc}") from None
