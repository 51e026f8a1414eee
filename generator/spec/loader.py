"""Read a spec file into plain data while remembering where every node was.

PyYAML's composer gives nodes with start marks; we build the Python data from
those nodes ourselves so that each dotted path (``api.routes[0].method``) maps
to the line and column of its value, and of its key. Validation errors can then
be reported as ``FILE:LINE:COL: path: message``.
"""

from __future__ import annotations

import codecs
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from generator.errors import InputError, Issue, SpecError

MAX_SPEC_BYTES = 1024 * 1024  # a spec is a page of YAML; anything near this is a mistake
MAX_NODES = 50_000  # bounds alias expansion ("billion laughs") and absurd documents
MAX_DEPTH = 64  # a spec nests about six levels; the builder recurses once per level

# Byte order marks of the encodings a spec is not written in (UTF-32's first: its little-endian mark starts like UTF-16's).
BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"), (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when PyYAML was built with it

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
    for bom, encoding in BOMS:
        if raw.startswith(bom):
            raise SpecError([Issue(name, 1, 1, "", f"file is {encoding} text (it starts with a {encoding} byte order mark); save it as UTF-8")])
    if b"\x00" in raw:
        head = raw[:64]
        if len(head) >= 4 and (not any(head[0::2]) or not any(head[1::2])) and any(head):
            raise SpecError([Issue(name, 1, 1, "", "file looks like UTF-16 text (every other byte is NUL); save it as UTF-8")])
        line, col = _line_col(raw, raw.index(b"\x00"))
        raise SpecError([Issue(name, line, col, "", "file is binary (contains a NUL byte), not YAML text")])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, col = _line_col(raw, exc.start)
        raise SpecError([Issue(name, line, col, "", f"file is not UTF-8 text (byte 0x{raw[exc.start]:02x})")]) from None


def _text_line_col(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


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
        nodes = list(yaml.compose_all(text, Loader=LOADER))
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
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (control characters, U+FFFE, ...)
        offset = exc.position
        if LOADER is not yaml.SafeLoader:  # libyaml counts bytes of the UTF-8 text
            offset = len(text.encode("utf-8", "surrogatepass")[:offset].decode("utf-8", "ignore"))
        line, col = _text_line_col(text, offset)
        code = ord(exc.character) if isinstance(exc.character, str) else exc.character
        raise SpecError([Issue(name, line, col, "", f"YAML error: character U+{code:04X} is not allowed in YAML text ({exc.reason})")]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Issue(name, 1, 1, "", f"YAML error: {exc}")]) from None
    except UnicodeError as exc:  # text given as str that UTF-8 cannot encode (lone surrogates)
        line, col = _text_line_col(text, getattr(exc, "start", 0))
        raise SpecError([Issue(name, line, col, "", "text holds a character that is not valid Unicode (a lone surrogate)")]) from None
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


# Tags a spec may carry: YAML's own scalar and collection types. Anything else (!Ref, !!python/..., !!binary, !!set)
# is reported where it is written rather than turned into something surprising.
_TAG = "tag:yaml.org,2002:"
SCALAR_TAGS = frozenset(_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp", "value"))
MAPPING_TAG, SEQUENCE_TAG, MERGE_TAG, VALUE_TAG = _TAG + "map", _TAG + "seq", _TAG + "merge", _TAG + "value"


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


def _kind(node: yaml.Node) -> str:
    return {yaml.ScalarNode: "a scalar", yaml.SequenceNode: "a list", yaml.MappingNode: "a mapping"}.get(type(node), "a node")


class _Builder:
    """Turns composed YAML nodes into Python data, recording positions.

    Every problem (an unknown tag, a bad merge key, a recursive alias, a value that cannot be read) becomes a
    located Issue; building goes on so that one run reports them all. Nothing here may raise anything but SpecError.
    """

    def __init__(self, loc: Located):
        self.loc = loc
        self.count = 0
        self.issues: list[Issue] = []
        self._constructor = yaml.SafeLoader("")
        self._open: set[int] = set()  # collection nodes being built: an alias to one of them is a recursive structure

    def _issue(self, node: yaml.Node, path: Path_, message: str) -> None:
        m = node.start_mark
        self.issues.append(Issue(self.loc.file, m.line + 1, m.column + 1, dotted(path), message))

    def build(self, node: yaml.Node, path: Path_, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            m = node.start_mark
            raise SpecError([*self.issues, Issue(self.loc.file, m.line + 1, m.column + 1, dotted(path),
                                                 f"document expands to more than {MAX_NODES} values (aliases?); a spec is far smaller")])
        if depth > MAX_DEPTH:
            self._issue(node, path, f"values are nested more than {MAX_DEPTH} levels deep; a spec is far flatter")
            return None
        self.loc.values.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        expected = MAPPING_TAG if isinstance(node, yaml.MappingNode) else SEQUENCE_TAG
        if node.tag != expected:
            self._issue(node, path, f"cannot read value: the tag {_tag_name(node.tag)!r} is not supported in a spec "
                                    f"(a spec holds plain mappings, lists, strings, numbers and booleans)")
            return None
        if id(node) in self._open:
            self._issue(node, path, "an alias refers to a mapping or list that contains it; a spec cannot be recursive")
            return None
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
            return self._mapping(node, path, depth)
        finally:
            self._open.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: Path_, depth: int) -> dict[str, Any]:
        own: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                if merges:
                    self._issue(key_node, path, "duplicate merge key '<<'; merge several mappings with a list: <<: [*a, *b]")
                    continue
                merges.append(value_node)
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            if key in own:
                self._issue(key_node, path + (key,), "duplicate key (already set above)")
                continue
            own[key] = (key_node, value_node)
        # YAML merge keys: a key written in the mapping wins, then the first merged mapping that has it.
        # The order is PyYAML's: merged keys first.
        pairs = self._merged(merges, path, {id(node)}) | own
        out: dict[str, Any] = {}
        for key, (key_node, value_node) in pairs.items():
            self.loc.keys[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.build(value_node, path + (key,), depth + 1)
        return out

    def _merged(self, merges: list[yaml.Node], path: Path_, seen: set[int]) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """The key and value nodes that ``<<:`` brings in, earlier sources first; bad sources become issues."""
        pairs: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for value_node in merges:
            if isinstance(value_node, yaml.SequenceNode):
                sources = value_node.value
            elif isinstance(value_node, yaml.MappingNode):
                sources = [value_node]
            else:
                self._issue(value_node, path, f"a merge key '<<' takes a mapping (such as an alias *name) or a list of them, "
                                              f"not {_kind(value_node)}")
                continue
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    self._issue(source, path, f"a merge key '<<' merges mappings only; this is {_kind(source)}")
                    continue
                if id(source) in seen or id(source) in self._open:
                    self._issue(source, path, "a merge key '<<' refers to a mapping that contains it; a spec cannot be recursive")
                    continue
                inner = [v for k, v in source.value if k.tag == MERGE_TAG][:1]
                found = self._merged(inner, path, seen | {id(source)})
                for key_node, value_node2 in source.value:
                    if key_node.tag != MERGE_TAG:
                        key = self._key(key_node, path, report=False)
                        if key is not None:
                            found[key] = (key_node, value_node2)
                for key, pair in found.items():
                    pairs.setdefault(key, pair)
        return pairs

    def _key(self, node: yaml.Node, path: Path_, report: bool = True) -> str | None:
        """A mapping key as a string: the text as written for numbers, booleans and null (``200:`` is "200")."""
        if not isinstance(node, yaml.ScalarNode):
            if report:
                self._issue(node, path, "mapping keys must be plain strings")
            return None
        if node.tag not in SCALAR_TAGS:
            if report:
                self._issue(node, path, f"cannot read key: the tag {_tag_name(node.tag)!r} is not supported in a spec")
            return None
        return node.value

    def _scalar(self, node: yaml.ScalarNode, path: Path_) -> Any:
        if node.tag not in SCALAR_TAGS:
            self._issue(node, path, f"cannot read value: the tag {_tag_name(node.tag)!r} is not supported in a spec "
                                    f"(a spec holds plain mappings, lists, strings, numbers and booleans)")
            return None
        if node.tag == VALUE_TAG:  # a plain "=" (YAML 1.1's value key) is just text in a spec
            return node.value
        try:
            value = self._constructor.construct_object(node)
        except Exception as exc:  # PyYAML's constructors raise ValueError, KeyError, ... for text that matches no form
            self._constructor.recursive_objects.pop(node, None)
            problem = f" ({exc.problem})" if isinstance(exc, yaml.MarkedYAMLError) and exc.problem else ""
            self._issue(node, path, f"cannot read value: {node.value!r} is not a valid {_tag_name(node.tag)}{problem}; "
                                    "quote it if it is text")
            return None
        if isinstance(value, int) and not isinstance(value, bool) and len(node.value) > 1000:
            self._issue(node, path, "cannot read value: the number has over 1000 digits")
            return None
        return value
