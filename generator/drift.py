"""`msgen check-handlers`: the spec and the code agree on the handlers, read statically (ast; nothing is imported).

* every handler service.yaml names exists as a top-level function: ``api.routes[].handler``, queue consumers, topic
  and events handlers in ``src/<module>.py`` (dots in the module become ``_``, as `msgen new` writes it), release
  hooks in ``src/<module path>.py`` (Lambda's own lookup);
* every handler the spec routes is wired in its entry point: function routes in src/app.py (``@app.route``), container
  routes in src/web.py (``@app.api_route``), consumers and topic or events handlers in src/worker.py (``HANDLERS``);
* every handler an entry point routes to is in the spec, with the route's path and method.

A spec problem is located in service.yaml (``service.yaml:LINE:COL``), an entry-point problem in the entry point.
Exit codes: 0 when they agree, 1 on drift, 2 when the spec cannot be read.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from generator.errors import InputError, Issue

ANY = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Wired:
    """A function an entry point routes: where, the route (or event source) and the handler it calls."""

    file: str
    line: int
    column: int
    key: tuple  # (path, methods) for routes, (source,) for worker handlers
    module: str
    function: str


def _parse(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None


def _functions(path: Path) -> set[str] | None:
    tree = _parse(path)
    if tree is None:
        return None
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def _imported_modules(tree: ast.Module) -> set[str]:
    return {a.asname or a.name for n in tree.body if isinstance(n, ast.Import) for a in n.names}


def _calls(node: ast.AST, modules: set[str]) -> list[tuple[str, str, ast.AST]]:
    return [(c.func.value.id, c.func.attr, c) for c in ast.walk(node)
            if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and isinstance(c.func.value, ast.Name)
            and c.func.value.id in modules]


def _literal(node: ast.AST | None):
    try:
        return ast.literal_eval(node) if node is not None else None
    except (ValueError, TypeError, SyntaxError, RecursionError):  # not a literal: a name, a call
        return None


def routed(repo: Path, entry: str, decorator: str, methods_kw: str, handler_modules: set[str]) -> list[Wired] | None:
    """The route functions of ENTRY (src/app.py or src/web.py) that call a handler module's function."""
    path = repo / "src" / entry
    tree = _parse(path) if path.is_file() else None
    if tree is None:
        return None
    modules = _imported_modules(tree) & handler_modules
    out = []
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for d in fn.decorator_list:
            if not (isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr == decorator):
                continue
            route_path = _literal(d.args[0]) if d.args else None
            methods = next((_literal(k.value) for k in d.keywords if k.arg == methods_kw), None)
            if isinstance(methods, list | tuple):
                methods = tuple(sorted(str(m).upper() for m in methods))
            else:
                methods = ("GET",) if methods is None else (str(methods).upper(),)  # the frameworks' default: GET
            for module, function, call in _calls(fn, modules):
                out.append(Wired(f"src/{entry}", call.lineno, call.col_offset + 1, (route_path, methods), module, function))
    return out


def worker_handlers(repo: Path, handler_modules: set[str]) -> list[Wired] | None:
    """src/worker.py's HANDLERS: {"sqs:<queue>" | "sns:<topic>" | "events:<rule>": module.function}."""
    path = repo / "src" / "worker.py"
    tree = _parse(path) if path.is_file() else None
    if tree is None:
        return None
    modules = _imported_modules(tree) & handler_modules
    out = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "HANDLERS" for t in node.targets) \
                and isinstance(node.value, ast.Dict):
            for k, v in zip(node.value.keys, node.value.values, strict=True):
                if isinstance(v, ast.Attribute) and isinstance(v.value, ast.Name) and v.value.id in modules:
                    out.append(Wired("src/worker.py", v.lineno, v.col_offset + 1, (_literal(k),), v.value.id, v.attr))
    return out


def _helper_modules() -> set[str]:
    """Modules of msgen's template that are not handler modules (correlation, storage, ...)."""
    from generator import scaffold

    src = scaffold.template_root() / "{{cookiecutter.service}}" / "src"
    return {p.stem for p in src.glob("*.py")} | {"app", "web", "worker"}


def check(repo: Path, spec_name: str = "service.yaml") -> list[Issue]:
    """Every disagreement between the spec at REPO/SPEC_NAME and the code, located; [] when they agree."""
    from generator import api
    from generator.scaffold import _powertools_path

    spec_path = repo / spec_name
    if not spec_path.is_file():
        raise InputError(f"{spec_path}: no such file (check-handlers runs in a generated repository)")
    loaded = api.load_spec(spec_path)
    spec, loc = loaded.spec, loaded.located
    issues: list[Issue] = []

    def at(path: tuple, message: str) -> None:
        line, col = loc.position(path)
        issues.append(Issue(spec_name, line, col, ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in path)
                            .replace(".[", "["), message))

    # (handler, its place in the spec, (entry point, key), what the entry point must wire)
    named: list[tuple[str, tuple, tuple, str]] = []
    for i, r in enumerate(spec.api.routes):
        container = spec.pattern == "hybrid" and (r.target or "container") == "container"
        key = ("web.py", (r.path.replace("+}", ":path}"), tuple(sorted(ANY[:5] if r.method == "ANY" else (r.method,))))) if container \
            else ("app.py", (_powertools_path(r.path), tuple(sorted(ANY if r.method == "ANY" else (r.method,)))))
        named.append((r.handler, ("api", "routes", i, "handler"), key, f"route {r.method} {r.path}"))
    for i, q in enumerate(spec.messaging.queues):
        if q.consumer:
            named.append((q.consumer.handler, ("messaging", "queues", i, "consumer", "handler"), ("worker.py", (f"sqs:{q.name}",)),
                          f"event source sqs:{q.name}"))
    for section, prefix in (("topics", "sns"), ("events", "events")):
        for i, item in enumerate(getattr(spec.messaging, section)):
            if item.handler:
                named.append((item.handler.handler, ("messaging", section, i, "handler", "handler"),
                              ("worker.py", (f"{prefix}:{item.name}",)), f"event source {prefix}:{item.name}"))
    handler_modules = {h.rsplit(".", 1)[0].replace(".", "_") for h, *_ in named}
    functions: dict[str, set[str] | None] = {}
    for handler, where, *_ in named:
        module, function = handler.rsplit(".", 1)
        file = f"src/{module.replace('.', '_')}.py"
        if file not in functions:
            functions[file] = _functions(repo / file) if (repo / file).is_file() else None
        found = functions[file]
        if found is None:
            at(where, f"{handler}: {file} is missing or is not valid Python (msgen update writes its starter code)")
        elif function not in found:
            at(where, f"{handler}: {file} has no function {function} (msgen update adds its starter code)")
    # Release hooks run as functions of their own: Lambda imports src/<module path>.py.
    hooks = spec.application.release.hooks
    for name in ("pre_traffic", "post_traffic"):
        handler = getattr(hooks, name)
        if handler:
            module, function = handler.rsplit(".", 1)
            file = f"src/{module.replace('.', '/')}.py"
            found = _functions(repo / file) if (repo / file).is_file() else None
            if found is None or function not in found:
                at(("application", "release", "hooks", name), f"{handler}: {file} has no function {function} (a release hook is yours to write)")

    candidates = handler_modules | ({p.stem for p in (repo / "src").glob("*.py")} - _helper_modules())
    entries = {"app.py": routed(repo, "app.py", "route", "method", candidates),
               "web.py": routed(repo, "web.py", "api_route", "methods", candidates),
               "worker.py": worker_handlers(repo, candidates)}
    expected = set()
    for handler, where, (entry, key), what in named:
        module, function = handler.rsplit(".", 1)
        module = module.replace(".", "_")
        expected.add((entry, key, module, function))
        wired = entries[entry]
        if not any(w.key == key and (w.module, w.function) == (module, function) for w in wired or []):
            at(where, f"{handler}: src/{entry} does not wire {what} to {module}.{function} (msgen update wires it)")
    for entry, wired in entries.items():
        for w in wired or []:
            if (entry, w.key, w.module, w.function) not in expected:
                what = f"{' '.join(w.key[1])} {w.key[0]}" if entry != "worker.py" else str(w.key[0])
                issues.append(Issue(w.file, w.line, w.column, "", f"routes {what} to {w.module}.{w.function}, which {spec_name} "
                                    "does not name there (add it to the spec, or remove the route)"))
    return sorted(set(issues))
