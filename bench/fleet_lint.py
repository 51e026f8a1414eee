#!/usr/bin/env python3
"""Time `msgen fleet lint` of a fleet (the shop blueprint) against linting its templates one by one.

The templates are those `msgen fleet synth FLEET -o DIR` writes (the fleet stack and every service, every
environment: 18 for the shop). Two ways, both with every cache off:

  (a) one by one: a separate `msgen lint FILE --no-cache` process per template (a loop over the files);
  (b) one `msgen fleet lint FLEET --no-cache` (synthesizes every template afresh, then lints them all in one
      process pool: both cores, cfn-lint and its rules loaded once). Issue 13's target: (b) <= 0.6 x (a).

The machine is shared and noisy, so (a) and (b) alternate within each round (a, b, then b, a) and the ratio
(b)/(a) is taken per round (paired); medians are printed. The first round also checks that (a) and (b) report
the same number of findings. Caches live in a temporary folder.

    .venv/bin/python bench/fleet_lint.py [--runs N] [--fleet shop]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from lint import one_by_one, run  # noqa: E402  (one way to time a lint command, shared with bench/lint.py)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds of (a) and (b) (default 3)")
    parser.add_argument("--fleet", default="shop", help="a fleet file or fleet blueprint (default: shop)")
    args = parser.parse_args()
    msgen = [sys.executable, "-m", "generator"]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
        env.pop("MSGEN_NO_CACHE", None)
        out = Path(tmp) / "build"
        subprocess.run([*msgen, "fleet", "synth", args.fleet, "-o", str(out)], check=True, capture_output=True, cwd=ROOT, env=env)
        files = sorted(str(p) for p in out.rglob("template.yaml"))
        fleet_call = [*msgen, "fleet", "lint", args.fleet, "--no-cache"]
        print(f"{len(files)} templates of fleet {args.fleet}; {os.cpu_count()} CPUs; {args.runs} rounds", flush=True)
        run([*msgen, "lint", files[0], "--no-cache"], env)  # warms the OS and .pyc caches
        a_times, b_times, ratios = [], [], []
        for i in range(args.runs):
            took: dict[str, float] = {}
            for leg in (["a", "b"] if i % 2 == 0 else ["b", "a"]):
                if leg == "a":
                    took["a"], separate = one_by_one(msgen, files, env)
                else:
                    took["b"], together = run(fleet_call, env)
            if i == 0 and len(separate.splitlines()) != len(together.splitlines()):
                raise SystemExit(f"(a) and (b) report different findings:\n{separate}\n---\n{together}")
            a_times.append(took["a"])
            b_times.append(took["b"])
            ratios.append(took["b"] / took["a"])
            print(f"round {i + 1}: (a) {took['a']:.1f} s  (b) {took['b']:.1f} s  (b)/(a) {ratios[-1]:.2f}", flush=True)
        print(f"median: (a) one process per template {statistics.median(a_times):.1f} s; (b) msgen fleet lint "
              f"{statistics.median(b_times):.1f} s; paired (b)/(a) {statistics.median(ratios):.2f} (target <= 0.60)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
