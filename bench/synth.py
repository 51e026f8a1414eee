#!/usr/bin/env python3
"""Time `msgen synth` on the default blueprint against the floor `python -c "import troposphere"`.

Each command runs as a fresh process (what a user or a pre-commit hook pays), RUNS times after
one warm-up; the medians and their ratios are printed. Target: ratio <= 2.0. Two figures for synth:
cold (--no-cache: validate and build every time) and warm (the spec's template is in msgen's cache,
the usual case in pre-commit hooks and `synth --check`). The cache lives in a temporary folder here.

    .venv/bin/python bench/synth.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def median_seconds(cmd: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT, env=env)  # warm the OS, .pyc and msgen caches
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT, env=env)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    py = sys.executable
    cmd = [py, "-m", "generator", "synth", "blueprints/serverless-api.yaml"]
    with tempfile.TemporaryDirectory() as cache_home:
        env = {**os.environ, "XDG_CACHE_HOME": cache_home}
        floor = median_seconds([py, "-c", "import troposphere"], args.runs, env)
        cold = median_seconds([*cmd, "--no-cache"], args.runs, env)
        warm = median_seconds(cmd, args.runs, env)
    print(f"floor       python -c 'import troposphere'  median {floor * 1000:7.1f} ms  ({args.runs} runs)")
    print(f"synth cold  msgen synth ... --no-cache      median {cold * 1000:7.1f} ms  ratio {cold / floor:.2f}x")
    print(f"synth warm  msgen synth ... (cache hit)     median {warm * 1000:7.1f} ms  ratio {warm / floor:.2f}x")
    print("target: ratio <= 2.00x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
