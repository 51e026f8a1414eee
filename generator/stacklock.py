"""The nested-stack lock: which stack holds each resource of a service split into nested stacks (docs/nested-stacks.md).

Moving a resource from one stack to another is a delete plus a create in CloudFormation (and fails outright for a
resource with a fixed physical name, which most of msgen's are), so once msgen has placed a resource it never places
it anywhere else. The lock records the placement; it sits next to the spec (``service.yaml`` -> ``service.lock.json``),
is committed with it, and is append-only: msgen adds the units and resources it has not seen and never changes or
drops an entry (a route removed and added back returns to its old stack). A service that fits one template has no lock.

The file is deterministic JSON (sorted keys, two-space indent, a final newline)::

    {
      "comment": "...",
      "format": 1,
      "resources": {"ApiMethodGetThings0": "NestedStack1", "ProductsTable": "parent", ...},
      "service": "catalog-svc",
      "stacks": ["NestedStack1", "NestedStack2"],
      "units": {"Things0GetFunction": "NestedStack1", ...}
    }

``units`` maps a function's logical ID (a unit is everything of one function) to its stack, ``resources`` maps every
resource's logical ID to its stack (``parent`` is the parent stack), and ``stacks`` lists the nested stacks in the
order msgen created them (a new unit goes into the last one while it has room, then into a new one).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from generator.errors import InputError
from generator.files import replace_atomically

FORMAT = 1
PARENT = "parent"
SUFFIX = ".lock.json"
STACK_NAME = re.compile(r"^NestedStack[1-9][0-9]*$")
COMMENT = ("msgen nested-stack lock: the stack that holds each resource of this service. Append-only; msgen updates it "
           "on synth. Commit it with the spec and never edit it by hand (docs/nested-stacks.md).")


@dataclass
class StackLock:
    service: str
    stacks: list[str] = field(default_factory=list)
    units: dict[str, str] = field(default_factory=dict)
    resources: dict[str, str] = field(default_factory=dict)

    def copy(self) -> StackLock:
        return StackLock(self.service, list(self.stacks), dict(self.units), dict(self.resources))

    def new_stack(self) -> str:
        name = f"NestedStack{len(self.stacks) + 1}"
        self.stacks.append(name)
        return name

    def to_text(self) -> str:
        data = {"comment": COMMENT, "format": FORMAT, "service": self.service, "stacks": self.stacks,
                "units": self.units, "resources": self.resources}
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StackLock) and self.to_text() == other.to_text()


def path_for(spec_path: Path) -> Path:
    """The lock of a spec: next to it, ``<spec stem>.lock.json`` (service.yaml -> service.lock.json)."""
    return spec_path.with_name(spec_path.stem + SUFFIX)


def parse(text: str, where: str, service: str) -> StackLock:
    """A lock from its text; InputError naming WHERE for anything that is not a lock msgen wrote for SERVICE."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{where}: not a msgen stack lock (not JSON: {exc}); restore it from version control") from None

    def bad(what: str) -> InputError:
        return InputError(f"{where}: not a valid msgen stack lock: {what}; restore it from version control")

    if not isinstance(data, dict):
        raise bad("the top level is not an object")
    if data.get("format") != FORMAT:
        raise bad(f"format {data.get('format')!r} (this msgen reads format {FORMAT}; a newer msgen may have written it)")
    if data.get("service") != service:
        raise InputError(f"{where}: is the lock of service {data.get('service')!r}, not of {service!r}; "
                         "a renamed service is a new service (its stacks are new too): delete the lock to start afresh")
    stacks = data.get("stacks")
    if not isinstance(stacks, list) or not all(isinstance(s, str) and STACK_NAME.match(s) for s in stacks) \
            or stacks != [f"NestedStack{i + 1}" for i in range(len(stacks))]:
        raise bad("'stacks' must list NestedStack1, NestedStack2, ... in order")
    known = {PARENT, *stacks}
    maps: dict[str, dict[str, str]] = {}
    for key in ("units", "resources"):
        value = data.get(key)
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise bad(f"'{key}' must map logical IDs to stack names")
        unknown = sorted({v for v in value.values() if v not in known})
        if unknown:
            raise bad(f"'{key}' names stacks that 'stacks' does not list: {', '.join(unknown)}")
        maps[key] = value
    return StackLock(service, list(stacks), maps["units"], maps["resources"])


def read(path: Path, service: str) -> StackLock | None:
    """The lock at PATH, or None when there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the stack lock: {getattr(exc, 'strerror', None) or exc}") from None
    return parse(text, str(path), service)


def write(path: Path, text: str) -> None:
    """Write the lock atomically (a reader never sees half of it)."""
    try:
        replace_atomically(path, text)
    except OSError as exc:
        raise InputError(f"{path}: cannot write the stack lock: {exc.strerror or exc}") from None
