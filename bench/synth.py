#!/usr/bin/env python3
"""Time `msgen synth` on the default blueprint against the floor `python -c "import troposphere"`.

Each command runs as a fresh process (what a user, CI or a pre-commit hook pays). The commands are
measured alternately, round after round (floor, cold, warm, then the next round starts with the next
one), so a slower minute of a noisy machine weighs on all of them alike; the medians, the ratio of the
medians and the median of the per-round ratios are printed. Target: cold ratio <= 2.0 (issue 12 §2).
Two figures for synth: cold (--no-cache: validate and build every time, as CI sees it) and warm (the
spec's template is in msgen's cache, the usual case in pre-commit hooks and `synth --check`). The cache
lives in a temporary folder here.

Two more commands measure what the cold synth cannot do without, in the same rounds: "libraries" imports the
libraries a synth needs before msgen does any work of its own (troposphere, click, PyYAML, and pydantic with the names
the spec model uses and one one-field model, whose first build loads pydantic's plugin machinery), and "+ spec model"
also builds msgen's spec model (pydantic's schema and validator for ServiceSpec, built once at import). Both pause the
cyclic garbage collector after importing click, as msgen does for a synth. Their
ratios are the floor of the cold ratio for as long as the spec model is pydantic and the CLI is click.

Python's bytecode: an installed msgen has its .pyc files (pip compiles them), and so has troposphere in
site-packages. A shell with PYTHONDONTWRITEBYTECODE=1 (as in some sandboxes) would make every run compile
msgen's ~45 modules from source (~150 ms) while the floor reads its .pyc files, so by default the runs
here write and read their bytecode in a temporary PYTHONPYCACHEPREFIX; --source measures that other case.

    .venv/bin/python bench/synth.py [--runs N] [--spec FILE] [--source]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What `msgen synth` imports before doing any work of its own (see the docstring).
LIBRARIES = ("import troposphere, click, yaml, gc\ngc.disable()\n"
             "from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator\n"
             "class M(BaseModel):\n    x: int = Field(1)")


def run(cmd: list[str] | Callable[[], list[str]], env: dict[str, str]) -> float:
    """Wall time of CMD as a fresh process; CMD may be a function giving the command (a new one each run)."""
    argv = cmd() if callable(cmd) else cmd
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, cwd=ROOT, env=env)
    return time.perf_counter() - start


def paired(cmds: dict[str, list[str] | Callable[[], list[str]]], runs: int, env: dict[str, str]) -> dict[str, list[float]]:
    """RUNS samples of each command, alternating and rotating the order every round, after one warm-up each."""
    for cmd in cmds.values():
        run(cmd, env)  # warm the OS, .pyc and msgen caches
    names = list(cmds)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(runs):
        for name in names[i % len(names):] + names[:i % len(names)]:
            samples[name].append(run(cmds[name], env))
    return samples


def bench_env(tmp: str, source: bool) -> dict[str, str]:
    env = {**os.environ, "XDG_CACHE_HOME": os.path.join(tmp, "cache")}
    env.pop("MSGEN_NO_CACHE", None)
    if source:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = os.path.join(tmp, "pycache")
    return env


def report(samples: dict[str, list[float]], floor: str, labels: dict[str, str]) -> None:
    base = statistics.median(samples[floor])
    runs = len(samples[floor])
    for name, label in labels.items():
        med = statistics.median(samples[name])
        line = f"{label:44s} median {med * 1000:7.1f} ms"
        if name != floor:
            per_round = statistics.median(s / f for s, f in zip(samples[name], samples[floor], strict=True))
            line += f"  ratio {med / base:.2f}x  (per-round median {per_round:.2f}x)"
        else:
            line += f"  ({runs} rounds)"
        print(line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--spec", default="blueprints/serverless-api.yaml")
    parser.add_argument("--source", action="store_true", help="no bytecode cache: every run compiles msgen from source")
    args = parser.parse_args()
    py = sys.executable
    cmd = [py, "-m", "generator", "synth", args.spec]
    with tempfile.TemporaryDirectory() as tmp:
        samples = paired({"floor": [py, "-c", "import troposphere"], "cold": [*cmd, "--no-cache"], "warm": cmd,
                          "libs": [py, "-c", LIBRARIES], "model": [py, "-c", f"{LIBRARIES}\nimport generator.spec.models"]},
                         args.runs, bench_env(tmp, args.source))
    report(samples, "floor", {"floor": "floor       python -c 'import troposphere'",
                              "cold": "synth cold  msgen synth ... --no-cache",
                              "warm": "synth warm  msgen synth ... (cache hit)",
                              "libs": "libraries   troposphere, click, yaml, pydantic",
                              "model": "  + spec model (ServiceSpec's validator)"})
    print(f"target: cold ratio <= 2.00x ({'sources compiled every run' if args.source else 'bytecode cached, as installed'})")
    floor, libs, model, cold = (statistics.median(samples[k]) for k in ("floor", "libs", "model", "cold"))
    print(f"the libraries alone take {(libs - floor) * 1000:.0f} ms above the floor (the 2.00x target allows {floor * 1000:.0f} ms "
          f"for everything); the spec model {(model - libs) * 1000:.0f} ms more; msgen's own work {(cold - model) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
