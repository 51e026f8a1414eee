#!/usr/bin/env python3
"""Scale of `msgen synth` for micro services split into nested stacks (issue 12 §1 and §2 "Scale").

Generates micro specs of 100 and 1,000 routes (collections of the five usual routes each, as tests/conftest.py's
micro_spec) and, in a fresh child process per run, synthesizes one environment's templates with the cache off
(`msgen synth SPEC --env prod -o DIR/template.yaml --no-cache`, the stack lock written next to the spec on the first
run and read afterwards). The sizes are measured alternately, round after round, so a noisy minute weighs on both;
printed: median seconds of CPU (the child's user + system time: what the work costs, whatever else the machine runs)
and of wall clock, the 1000/100 ratio of the medians and the median of the per-round ratios (target <= 11x),
and each child's peak memory (its own resource.getrusage(RUSAGE_SELF).ru_maxrss; target < 300 MiB).
Then cfn-lint (generator.lint.lint_many, one process pool, cache off) of the 100-route case's templates: seconds and
findings. --no-lint skips that.

    .venv/bin/python bench/scale.py [--runs N] [--sizes 100,1000] [--no-lint]
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
sys.path.insert(0, str(ROOT))
from tests.conftest import micro_spec  # noqa: E402  (the shape the tests split, at bench sizes)

CHILD = r"""
import resource, sys, time
from click.testing import CliRunner
start = time.perf_counter()
from generator.cli import main
result = CliRunner().invoke(main, sys.argv[1:])
elapsed = time.perf_counter() - start
if result.exit_code:
    sys.stderr.write(result.output)
    sys.exit(result.exit_code)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)
"""


def synth_once(spec: Path, out: Path) -> tuple[float, float, float]:
    """(wall seconds of the child, its CPU seconds (user + system, start-up included), its peak RSS in MiB), the last
    two from the child's own getrusage."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, "synth", str(spec), "--env", "prod", "-o", str(out), "--no-cache"],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, "MSGEN_NO_CACHE": "1"})
    wall = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"synth of {spec} failed:\n{proc.stderr}{proc.stdout}")
    _, cpu, rss = proc.stdout.split()[-3:]
    return wall, float(cpu), int(rss) / 1024  # Linux reports KiB


def main() -> None:
    import yaml

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--no-lint", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="msgen-scale-") as tmp:
        specs = {}
        for n in sizes:
            folder = Path(tmp) / f"r{n}"
            folder.mkdir()
            (folder / "service.yaml").write_text(yaml.safe_dump(micro_spec(n), sort_keys=False))
            specs[n] = folder
        for folder in specs.values():  # first run: writes the lock (not measured)
            synth_once(folder / "service.yaml", folder / "infra" / "template.yaml")
        samples: dict[int, list[tuple[float, float, float]]] = {n: [] for n in sizes}
        for i in range(args.runs):
            order = sizes[i % len(sizes):] + sizes[:i % len(sizes)]
            for n in order:
                samples[n].append(synth_once(specs[n] / "service.yaml", specs[n] / "infra" / "template.yaml"))
        for n in sizes:
            files = sorted((specs[n] / "infra").iterdir())
            walls = [s[0] for s in samples[n]]
            cpus = [s[1] for s in samples[n]]
            print(f"{n:>5} routes: synth {statistics.median(cpus):.2f} s CPU (runs {', '.join(f'{c:.2f}' for c in cpus)}), "
                  f"{statistics.median(walls):.2f} s wall (runs {', '.join(f'{w:.2f}' for w in walls)}), "
                  f"peak RSS {max(s[2] for s in samples[n]):.0f} MiB, {len(files)} templates, "
                  f"{sum(f.stat().st_size for f in files) / 1e6:.1f} MB, parent {files[-1].stat().st_size / 1e3:.0f} kB")
        if len(sizes) >= 2:
            small, big = sizes[0], sizes[-1]
            for label, i in (("CPU", 1), ("wall", 0)):
                ratio = statistics.median(s[i] for s in samples[big]) / statistics.median(s[i] for s in samples[small])
                rounds = statistics.median(b[i] / s[i] for s, b in zip(samples[small], samples[big], strict=True))
                print(f"ratio {big}/{small} ({label}): {ratio:.2f}x (median of per-round ratios {rounds:.2f}x; target <= 11x)")
            peak = max(s[2] for v in samples.values() for s in v)
            print(f"peak memory: {peak:.0f} MiB (target < 300 MiB)")
        if not args.no_lint:
            from generator.lint import lint_many

            n = sizes[0]
            items = [(str(p), p.read_text()) for p in sorted((specs[n] / "infra").iterdir())]
            start = time.perf_counter()
            results = lint_many(items, ("us-east-1",), info=False, use_cache=False)
            findings = sum(len(f) for f in results.values())
            print(f"cfn-lint of the {n}-route case: {len(items)} templates in {time.perf_counter() - start:.1f} s, {findings} findings")
            for name, found in results.items():
                for f in found[:5]:
                    print(f"  {name}: {f}")


if __name__ == "__main__":
    main()
