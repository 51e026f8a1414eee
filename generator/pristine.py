"""What msgen rendered for a repository, kept so that ``msgen update`` can merge against it (generator.update).

Data only, no rendering: ``msgen new`` (generator.scaffold) records the pristine rendering with these helpers, and
generator.update reads it back; neither imports the other for it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

ANSWERS = ".msgen/answers.yml"
DERIVED = ("infra/", ".msgen/")  # regenerated from the spec, never merged


def read_dir(root: Path) -> dict[str, bytes]:
    """Every file below ROOT (a rendering), by POSIX path relative to it; .git is not part of it."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if rel.parts[0] == ".git" or not p.is_file():
            continue
        out[rel.as_posix()] = p.read_bytes()
    return out


PRISTINE = ".msgen/pristine.tar.gz"


def pristine_archive(files: dict[str, bytes]) -> bytes:
    """What msgen rendered, as a deterministic .tar.gz (sorted, no times or owners): msgen update's merge base.
    infra/ and .msgen/ are left out: they are regenerated, never merged."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=9) as gz, tarfile.open(fileobj=gz, mode="w",
                                                                                                format=tarfile.PAX_FORMAT) as tar:
        for path, data in sorted(files.items()):
            if path.startswith(DERIVED):
                continue
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def read_archive(data: bytes) -> dict[str, bytes]:
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            name = member.name
            if not member.isfile() or name.startswith("/") or ".." in name.split("/"):
                continue
            out[name] = tar.extractfile(member).read()
    return out


def stamp_answers(text: str, **fields: str) -> str:
    """answers.yml with FIELDS set (replaced when present, else appended): msgen writes these after rendering."""
    lines = text.splitlines()
    for name, value in fields.items():
        line = f"{name}: {value}"
        for i, existing in enumerate(lines):
            if existing.startswith(f"{name}:"):
                lines[i] = line
                break
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def template_files(template_dir: Path) -> dict[str, bytes]:
    """The template's files by POSIX path relative to TEMPLATE_DIR, sorted; Python's __pycache__ is not part of it."""
    out = {}
    for p in sorted(template_dir.rglob("*")):
        rel = p.relative_to(template_dir)
        if p.is_file() and "__pycache__" not in rel.parts:
            out[rel.as_posix()] = p.read_bytes()
    return out


def template_version(template_dir: Path, files: dict[str, bytes] | None = None) -> str:
    """A hash of the template's files: two renderings with the same spec and answers are equal when it is. FILES: the
    template's files as :func:`template_files` read them, when the caller has them already."""
    h = hashlib.sha256()
    for rel, data in (template_files(template_dir) if files is None else files).items():
        if rel != "cookiecutter.json":
            h.update(rel.encode() + b"\0" + data + b"\0")
    return h.hexdigest()[:16]
