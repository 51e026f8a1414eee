"""Writing, or checking, a file a script generates (docs, fixtures): one behaviour for every generator script."""

from __future__ import annotations

import sys
from pathlib import Path


def write_or_check(path: Path, new: str, old: str | None, check: bool, stale: str) -> int:
    """With ``check``, exit status 1 and ``stale`` on stderr when ``path`` differs from ``new``; otherwise write it."""
    if check:
        if new != old:
            print(stale, file=sys.stderr)
            return 1
        print(f"up to date: {path}")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new, encoding="utf-8")
    print(f"{'unchanged' if new == old else 'updated  '} {path}")
    return 0
