#!/usr/bin/env python3
"""Time `msgen synth` on the default blueprint against the floor `python -c "import troposphere"`.

Each command runs as a fresh process (what a user or a pre-commit hook pays), RUNS times after
one warm-up; the medians and their ratio are printed. Target: ratio <= 2.0.

    .venv/bin/python bench/synth.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def median_seconds(cmd: list[str], runs: int) -> float:
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)  # warm the OS and .pyc caches
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    py = sys.executable
    floor = median_seconds([py, "-c", "import troposphere"], args.runs)
    synth = median_seconds([py, "-m", "generator", "synth", "blueprints/serverless-api.yaml"], args.runs)
    print(f"floor  python -c 'import troposphere'      median {floor * 1000:7.1f} ms  ({args.runs} runs)")
    print(f"synth  msgen synth serverless-api (stdout)  median {synth * 1000:7.1f} ms  ({args.runs} runs)")
    print(f"ratio  {synth / floor:.2f}x  (target <= 2.00x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
