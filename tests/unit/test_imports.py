"""The import graph of generator/: no cycles (counting imports inside functions), and spec/ never reaches synth/."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "generator"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Every generator module ``path`` imports, wherever the import statement is (module level, functions, TYPE_CHECKING)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)  # `from pkg import module` imports the module itself
    return {m for m in found if m in known and m != name}


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(path, name, set(mods)) for name, path in mods.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph, as a path that returns to its start; None if there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_graph_covers_the_package_and_sees_imports_inside_functions():
    edges = graph()
    assert {"generator.plan", "generator.kinds", "generator.synth.pipeline", "generator.synth.layers.application"} <= set(edges)
    assert "generator.synth.layers.api" in edges["generator.synth.pipeline"]  # `from generator.synth.layers import api`
    assert "generator.plan" in edges["generator.spec.validate"]  # imported inside a function
    assert "generator.naming" in edges["generator.kinds"]  # likewise


def test_the_cycle_finder_finds_cycles_through_function_level_imports(tmp_path):
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    (tmp_path / "x.py").write_text("def f():\n    from generator import y\n")
    assert imports(tmp_path / "x.py", "generator.x", {"generator.x", "generator.y"}) == {"generator.y"}


def test_generator_has_no_import_cycle():
    assert find_cycle(graph()) is None


def test_the_spec_package_imports_nothing_from_synth():
    edges = graph()
    reach: dict[str, set[str]] = {}

    def reachable(name: str) -> set[str]:
        if name not in reach:
            reach[name] = set()
            for nxt in edges[name]:
                reach[name] |= {nxt} | reachable(nxt)
        return reach[name]

    for name in edges:
        if name == "generator.spec" or name.startswith("generator.spec."):
            direct = {m for m in edges[name] if m.startswith("generator.synth")}
            assert not direct, f"{name} imports {sorted(direct)}"
            through = {m for m in reachable(name) if m.startswith("generator.synth")}
            assert not through, f"{name} reaches {sorted(through)} through its imports"
