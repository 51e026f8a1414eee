"""Where the packaged blueprints and repository templates live.

In a wheel they are under ``generator/_data/`` (see ``[tool.hatch.build]`` in
pyproject.toml); in a source checkout or an editable install they are the
top-level ``blueprints/`` and ``templates/`` folders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from generator.errors import InputError

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    packaged = _PACKAGE / "_data" / name
    return packaged if packaged.is_dir() else _PACKAGE.parent / name


@dataclass(frozen=True)
class Blueprint:
    name: str
    path: Path
    description: str


DEFAULT_BLUEPRINT = "serverless-api"


def blueprints() -> list[Blueprint]:
    out = []
    for path in sorted(data_dir("blueprints").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        m = re.search(r"^#\s*description:\s*(.+)$", text, re.M)
        out.append(Blueprint(path.stem, path, m.group(1).strip() if m else ""))
    return out


def blueprint(name: str) -> Blueprint:
    for bp in blueprints():
        if bp.name == name:
            return bp
    known = ", ".join(b.name for b in blueprints())
    raise InputError(f"unknown blueprint '{name}'; available: {known} (see `msgen blueprints`)")
