#!/usr/bin/env python3
"""Time `msgen new` for the default blueprint against `msgen synth` of the same spec, both with the cache off.

    .venv/bin/python bench/new.py [--runs N] [--source]

Fresh processes, measured alternately round after round as in bench/synth.py (whose helpers this uses):
`python -c "import troposphere"`, `msgen synth SPEC --no-cache` (one template), `msgen synth SPEC --no-cache -o DIR`
(every environment's template, what `msgen new` writes into infra/), the floor, and `msgen new NAME --no-input` into a
new folder each round (start-up, validation, synthesis of every environment, rendering, moving into place), twice:
with --no-cache (every template compiled: the target's figure) and with the templates' compiled code kept between runs
(scaffold.CompiledTemplates, filled by the warm-up run; Jinja's counterpart of Python's __pycache__, which every command
here reads). Prints the medians and the ratios; target (issue 12 §2): new --no-cache <= 1.5x synth --no-cache.

The floor is what `msgen new` cannot avoid with the libraries it must use: one process that imports cookiecutter's
generate module (generate_files) and the extensions every cookiecutter environment loads (cookiecutter.extensions:
arrow, slugify), then runs in-process the same `msgen synth SPEC --no-cache -o DIR/` as above (msgen's start-up,
validation, every environment's template). Everything `msgen new` costs above it is rendering and writing the
repository: new / floor is the part msgen can still cut, floor / synth the part it cannot.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import bench_env, paired  # noqa: E402

SPEC = "blueprints/serverless-api.yaml"
# python -c FLOOR SPEC DIR/: cookiecutter's imports, then msgen synth SPEC --no-cache -o DIR/ --force in the same process.
FLOOR = ("import sys, cookiecutter.generate, cookiecutter.extensions; from generator.cli import run; "
         "sys.argv[1:] = ['synth', sys.argv[1], '--no-cache', '-o', sys.argv[2], '--force']; run(prog_name='msgen')")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--source", action="store_true", help="no bytecode cache: every run compiles msgen from source")
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "out")
        # A new repository name per run: `msgen new` refuses to overwrite, and removing one costs the bench, not msgen.
        counter = iter(range(10**6))

        def new(*options: str) -> Callable[[], list[str]]:
            return lambda: [py, "-m", "generator", "new", f"bench-svc-{next(counter)}", "-o", str(out), "--no-input", *options]

        cmds = {
            "troposphere": [py, "-c", "import troposphere"],
            "synth": [py, "-m", "generator", "synth", SPEC, "--no-cache"],
            "synth_dir": [py, "-m", "generator", "synth", SPEC, "--no-cache", "-o", str(Path(tmp, "infra")) + "/", "--force"],
            "floor": [py, "-c", FLOOR, SPEC, str(Path(tmp, "floor")) + "/"],
            "new": new("--no-cache"),
            "new_compiled": new(),
        }
        samples = paired(cmds, args.runs, bench_env(tmp, args.source))
        files = sum(1 for p in Path(out, "bench-svc-0").rglob("*") if p.is_file())
    med = {name: statistics.median(s) for name, s in samples.items()}

    def per_round(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(samples[a], samples[b], strict=True))

    def ratio(a: str, b: str) -> str:
        return f"{med[a] / med[b]:.2f}x  (per-round median {per_round(a, b):.2f}x)"

    print(f"import     python -c 'import troposphere'         median {med['troposphere'] * 1000:7.1f} ms  ({args.runs} rounds)")
    print(f"synth      msgen synth SPEC --no-cache            median {med['synth'] * 1000:7.1f} ms  "
          f"{med['synth'] / med['troposphere']:.2f}x import")
    print(f"synth -o   msgen synth SPEC --no-cache -o DIR/    median {med['synth_dir'] * 1000:7.1f} ms  "
          f"{med['synth_dir'] / med['troposphere']:.2f}x import")
    print(f"floor      cookiecutter imports + synth -o DIR/   median {med['floor'] * 1000:7.1f} ms")
    print(f"new        msgen new NAME --no-input --no-cache   median {med['new'] * 1000:7.1f} ms  ({files} files)")
    print(f"new (pyc)  ... compiled templates kept (cache)    median {med['new_compiled'] * 1000:7.1f} ms")
    print(f"new / synth     {ratio('new', 'synth')}  target <= 1.50x")
    print(f"floor / synth   {ratio('floor', 'synth')}  (what the libraries cost: new cannot go below it)")
    print(f"new / floor     {ratio('new', 'floor')}  (rendering and writing the repository)")
    print(f"new / synth -o  {ratio('new', 'synth_dir')}")
    print(f"new (compiled templates cached) / synth  {ratio('new_compiled', 'synth')};  / floor  {ratio('new_compiled', 'floor')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
