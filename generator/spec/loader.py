"""Read a spec file into plain data while remembering where every node was.

PyYAML's composer gives nodes with start marks; we build the Python data from
those nodes ourselves so that each dotted path (``api.routes[0].method``) maps
to the line and column of its value, and of its key. Validation errors can then
be reported as ``FILE:LINE:COL: path: message``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from generator.errors import InputError, Issue, SpecError

MAX_SPEC_BYTES = 1024 * 1024  # a spec is a page of YAML; anything near this is a mistake
MAX_NODES = 50_000  # bounds alias expansion ("billion laughs") and absurd documents

Path_ = tuple[str | int, ...]


def dotted(path: Path_) -> str:
    """``("api", "routes", 0, "method")`` -> ``api.routes[0].method``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class Located:
    """Spec data plus the positions (1-based line, column) of its values and keys."""

    file: str
    data: Any
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        """Position of ``path``, or of its nearest ancestor that exists in the file."""
        table = self.keys if key else self.values
        for end in range(len(path), -1, -1):
            prefix = tuple(path[:end])
            if prefix in table:
                return table[prefix]
            if prefix in self.values:
                return self.values[prefix]
        return (1, 1)

    def issue(self, path: Path_, message: str, *, key: bool = False) -> Issue:
        line, col = self.position(path, key=key)
        return Issue(self.file, line, col, dotted(path), message)


def read_spec_bytes(path: str | os.PathLike[str], display: str | None = None) -> bytes:
    """Read a spec file; a missing file, a directory or an oversized file is a clear error."""
    p = Path(path)
    name = display or str(path)
    if str(path) == "-":
        raise InputError("reading a spec from standard input is not supported; pass a file path")
    if not p.exists():
        raise InputError(f"{name}: no such file")
    if p.is_dir():
        raise InputError(f"{name}: is a directory, not a spec file")
    try:
        size = p.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise SpecError([Issue(name, 1, 1, "", f"file is {size} bytes; a spec may be at most {MAX_SPEC_BYTES} bytes")])
        return p.read_bytes()
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror or exc}") from None


def decode_spec(raw: bytes, name: str) -> str:
    """Spec bytes as text: binary junk and non-UTF-8 bytes are located errors."""
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError([Issue(name, 1, 1, "", f"file is {len(raw)} bytes; a spec may be at most {MAX_SPEC_BYTES} bytes")])
    if b"\x00" in raw:
        line, col = _line_col(raw, raw.index(b"\x00"))
        raise SpecError([Issue(name, line, col, "", "file is binary (contains a NUL byte), not YAML text")])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, col = _line_col(raw, exc.start)
        raise SpecError([Issue(name, line, col, "", f"file is not UTF-8 text (byte 0x{raw[exc.start]:02x})")]) from None


def _line_col(raw: bytes, offset: int) -> tuple[int, int]:
    before = raw[:offset]
    line = before.count(b"\n") + 1
    return line, offset - (before.rfind(b"\n") + 1) + 1


def load_located(path: str | os.PathLike[str], display: str | None = None) -> Located:
    name = display or str(path)
    return parse_located(decode_spec(read_spec_bytes(path, name), name), name)


def parse_located(text: str, name: str) -> Located:
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        raise SpecError([Issue(name, 1, 1, "", "file is empty; a spec needs at least 'service', 'team' and 'api'")])
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        lines = text.splitlines()
        source = lines[line - 1] if 0 < line <= len(lines) else ""
        if "\t" in source:
            problem += " (tabs are not allowed for indentation in YAML; use spaces)"
        elif "/{" in source and "{" in source.split("/{")[0]:
            problem += ' (inside {...} flow style, quote paths with parameters: path: "/items/{id}")'

        raise SpecError([Issue(name, line, col, "", f"YAML syntax error: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Issue(name, 1, 1, "", f"YAML error: {exc}")]) from None
    nodes = [n for n in nodes if n is not None]
    if not nodes:
        raise SpecError([Issue(name, 1, 1, "", "file is empty; a spec needs at least 'service', 'team' and 'api'")])
    if len(nodes) > 1:
        m = nodes[1].start_mark
        raise SpecError([Issue(name, m.line + 1, m.column + 1, "", "file holds several YAML documents; a spec is exactly one")])
    root = nodes[0]
    loc = Located(name, None)
    builder = _Builder(loc)
    loc.data = builder.build(root, ())
    if builder.issues:
        raise SpecError(builder.issues)
    if not isinstance(loc.data, dict):
        kind = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
            type(loc.data), type(loc.data).__name__
        )
        m = root.start_mark
        raise SpecError([Issue(name, m.line + 1, m.column + 1, "", f"the top level of a spec must be a mapping of keys, got {kind}")])
    return loc


class _Builder:
    """Turns composed YAML nodes into Python data, recording positions."""

    def __init__(self, loc: Located):
        self.loc = loc
        self.count = 0
        self.issues: list[Issue] = []
        self._constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            m = node.start_mark
            raise SpecError([Issue(self.loc.file, m.line + 1, m.column + 1, dotted(path),
                                   f"document expands to more than {MAX_NODES} values (aliases?); a spec is far smaller")])
        self.loc.values.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            self._constructor.flatten_mapping(node)
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key_pos = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                if not isinstance(key_node, yaml.ScalarNode):
                    self.issues.append(Issue(self.loc.file, *key_pos, dotted(path), "mapping keys must be plain strings"))
                    continue
                key = self._constructor.construct_object(key_node)
                if not isinstance(key, str):
                    key = str(key)
                child = path + (key,)
                if key in out:
                    self.issues.append(Issue(self.loc.file, *key_pos, dotted(child), "duplicate key (already set above)"))
                    continue
                self.loc.keys[child] = key_pos
                out[key] = self.build(value_node, child)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        try:
            return self._constructor.construct_object(node)
        except yaml.constructor.ConstructorError as exc:
            m = node.start_mark
            self.issues.append(Issue(self.loc.file, m.line + 1, m.column + 1, dotted(path), f"cannot read value: {exc.problem}"))
            return None
