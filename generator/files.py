"""Writing a file so that no reader ever sees half of it: a temporary file beside it, then a rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def replace_atomically(path: Path, text: str, mode: int | None = 0o644, durable: bool = False) -> None:
    """Write TEXT to PATH through a temporary file in the same folder and ``os.replace``.

    ``mode`` is the file's permission bits (None keeps mkstemp's private 0600, for caches); ``durable`` syncs the data to
    disk before the rename. Raises OSError; the temporary file is removed whatever goes wrong.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
