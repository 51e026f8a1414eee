#!/usr/bin/env python3
"""Time `msgen lint` over every blueprint's per-environment templates: one process per template against one call.

The templates are those `msgen synth blueprints/X.yaml -o DIR/X/` writes (DIR/X/<env>/template.yaml). Three ways:

  (a) one by one: a separate `msgen lint FILE --no-cache` process per template (what a loop over files pays);
  (b) one `msgen lint DIR/X ... --no-cache` call (the lint engine: both cores, cfn-lint and its rules loaded
      once per worker), the case the fleet issue's target (<= 0.6x of (a)) is measured on;
  (c) the same call with the lint cache warm.

The machine is noisy, so (a), (b) and (c) alternate within each round and the ratio (b)/(a) is taken per round
(paired); medians are printed. The first round also checks that (a) and (b) report the same findings. The caches
live in a temporary folder.

    .venv/bin/python bench/lint.py [--runs N] [--blueprint NAME ...]
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
BLUEPRINTS = ("event-worker", "hybrid-api", "micro-api", "search-api", "serverless-api", "serverless-cognito-api")


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):  # 1: findings, still a complete lint
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    return elapsed, proc.stdout


def one_by_one(msgen: list[str], files: list[str], env: dict[str, str]) -> tuple[float, str]:
    """One `msgen lint --no-cache` process per template, as a loop over files would run them: seconds, joined output."""
    outputs = []
    start = time.perf_counter()
    for f in files:
        outputs.append(run([*msgen, "lint", f, "--no-cache"], env)[1])
    return time.perf_counter() - start, "".join(outputs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds of (a), (b), (c) (default 3)")
    parser.add_argument("--blueprint", action="append", choices=BLUEPRINTS, help="only these blueprints (default: all six)")
    args = parser.parse_args()
    msgen = [sys.executable, "-m", "generator"]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
        env.pop("MSGEN_NO_CACHE", None)
        dirs = []
        for name in args.blueprint or BLUEPRINTS:
            out = Path(tmp) / "infra" / name
            subprocess.run([*msgen, "synth", f"blueprints/{name}.yaml", "-o", f"{out}/"], check=True, capture_output=True, cwd=ROOT, env=env)
            dirs.append(str(out))
        files = sorted(str(p) for d in dirs for p in Path(d).rglob("*.yaml"))
        one_call = [*msgen, "lint", *dirs, "--no-cache"]
        warm_call = [*msgen, "lint", *dirs]
        print(f"{len(files)} templates from {len(dirs)} blueprints; {os.cpu_count()} CPUs; {args.runs} rounds", flush=True)
        run(warm_call, env)  # fills the lint cache for (c), and warms the OS and .pyc caches
        a_times, b_times, c_times, ratios = [], [], [], []
        for i in range(args.runs):
            legs = ["a", "b", "c"] if i % 2 == 0 else ["c", "b", "a"]
            took: dict[str, float] = {}
            for leg in legs:
                if leg == "a":
                    took["a"], separate = one_by_one(msgen, files, env)
                elif leg == "b":
                    took["b"], together = run(one_call, env)
                else:
                    took["c"], _ = run(warm_call, env)
            if i == 0 and sorted(separate.splitlines()) != sorted(together.splitlines()):
                raise SystemExit("(a) and (b) report different findings")
            a_times.append(took["a"])
            b_times.append(took["b"])
            c_times.append(took["c"])
            ratios.append(took["b"] / took["a"])
            print(f"round {i + 1}: (a) {took['a']:6.2f} s  (b) {took['b']:6.2f} s  (c) {took['c']:5.2f} s  "
                  f"(b)/(a) {ratios[-1]:.3f}", flush=True)
    a, b, c = (statistics.median(x) for x in (a_times, b_times, c_times))
    print(f"(a) one process per template, --no-cache   median {a:6.2f} s")
    print(f"(b) one msgen lint call, --no-cache         median {b:6.2f} s")
    print(f"(c) one msgen lint call, cache warm         median {c:6.2f} s  (c)/(a) {c / a:.3f}")
    print(f"(b)/(a) paired ratios {', '.join(f'{r:.3f}' for r in ratios)}; median {statistics.median(ratios):.3f}; target <= 0.600")
    return 0


if __name__ == "__main__":
    sys.exit(main())
