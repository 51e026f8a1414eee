#!/usr/bin/env python3
"""Time `msgen new` for the default blueprint: a fresh process each run, into a new temporary folder.

    .venv/bin/python bench/new.py [--runs N]

Prints the median wall time of the whole command (start-up, validation, synthesis, rendering, moving
into place) and, for scale, of `python -c "import troposphere"`. Target: well under a second.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    samples, floor = [], []
    with tempfile.TemporaryDirectory() as parent:
        for i in range(args.runs + 1):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "generator", "new", f"bench-svc-{i}", "-o", parent, "--no-input"],
                           check=True, capture_output=True, cwd=ROOT)
            if i:  # the first run warms the OS and .pyc caches
                samples.append(time.perf_counter() - start)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import troposphere"], check=True, capture_output=True)
            floor.append(time.perf_counter() - start)
        files = sum(1 for p in Path(parent, "bench-svc-1").rglob("*") if p.is_file())
    print(f"msgen new (default blueprint, {files} files)  median {statistics.median(samples) * 1000:6.0f} ms  "
          f"min {min(samples) * 1000:.0f} ms  max {max(samples) * 1000:.0f} ms  ({args.runs} runs)")
    print(f"python -c 'import troposphere'           median {statistics.median(floor) * 1000:6.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
