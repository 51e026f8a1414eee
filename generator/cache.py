"""A content-addressed cache of synthesized templates, so an unchanged spec costs no re-synthesis.

`msgen synth` runs in pre-commit hooks, `make synth` and `synth --check` in CI, nearly always on a
spec that has not changed. Output is deterministic, so the template is a pure function of the spec
bytes, the output format, msgen's own code and the versions of what builds it; the key hashes all of
them (msgen's source files by path, size and modification time). Only valid specs are cached; a
spec with errors is always validated afresh. Set MSGEN_NO_CACHE=1 (or pass --no-cache) to bypass it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path

from generator.files import replace_atomically

MAX_ENTRIES = 256
_PACKAGE = Path(__file__).resolve().parent


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "msgen" / "synth"


def enabled() -> bool:
    return os.environ.get("MSGEN_NO_CACHE", "") in ("", "0")


def _code_fingerprint() -> bytes:
    parts = [sys.version.encode()]
    for path in sorted(_PACKAGE.rglob("*.py")):
        st = path.stat()
        parts.append(f"{path.relative_to(_PACKAGE)}:{st.st_size}:{st.st_mtime_ns}".encode())
    for dep in ("troposphere", "pydantic", "yaml"):
        spec = importlib.util.find_spec(dep)  # locates without importing
        origin = Path(spec.origin) if spec and spec.origin else None
        if origin and origin.exists():
            st = origin.parent.stat()
            parts.append(f"{dep}:{origin.parent}:{st.st_mtime_ns}".encode())
    return b"\n".join(parts)


def key(spec_bytes: bytes, fmt: str) -> str:
    h = hashlib.sha256()
    for part in (_code_fingerprint(), fmt.encode(), spec_bytes):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def get(k: str) -> str | None:
    """The cached template, if any, and only if the other files it was built from (workflow definitions) are unchanged."""
    try:
        text = (cache_dir() / f"{k}.tpl").read_text(encoding="utf-8")
        header, _, body = text.partition("\n")
        deps = json.loads(header)
        for path, digest in deps.items():
            if hashlib.sha256(Path(path).read_bytes()).hexdigest() != digest:
                return None
        return body
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def put(k: str, text: str, deps: dict[str, str] | None = None) -> None:
    """Best effort: a cache that cannot be written is simply not used. ``deps`` maps other input files to their sha256."""
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        replace_atomically(directory / f"{k}.tpl", json.dumps(deps or {}, sort_keys=True) + "\n" + text, mode=None)
        entries = sorted(directory.glob("*.tpl"), key=lambda p: p.stat().st_mtime_ns)
        for old in entries[:-MAX_ENTRIES]:
            old.unlink(missing_ok=True)
    except OSError:
        pass
