#!/usr/bin/env python3
"""Time `msgen new` for the default blueprint against `msgen synth` of the same spec, both with the cache off.

    .venv/bin/python bench/new.py [--runs N] [--source]

Fresh processes, measured alternately round after round as in bench/synth.py (whose helpers this uses): the floor
`python -c "import troposphere"`, `msgen synth SPEC --no-cache` (one template), `msgen synth SPEC --no-cache -o DIR`
(every environment's template, what `msgen new` writes into infra/) and `msgen new NAME --no-input` into a new folder
each round (start-up, validation, synthesis of every environment, rendering, moving into place). Prints the medians and
the ratios; target (issue 12 §2): new <= 1.5x synth.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import bench_env, paired  # noqa: E402

SPEC = "blueprints/serverless-api.yaml"


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

        def new() -> list[str]:
            return [py, "-m", "generator", "new", f"bench-svc-{next(counter)}", "-o", str(out), "--no-input"]

        cmds = {
            "floor": [py, "-c", "import troposphere"],
            "synth": [py, "-m", "generator", "synth", SPEC, "--no-cache"],
            "synth_dir": [py, "-m", "generator", "synth", SPEC, "--no-cache", "-o", str(Path(tmp, "infra")) + "/", "--force"],
            "new": new,
        }
        samples = paired(cmds, args.runs, bench_env(tmp, args.source))
        files = sum(1 for p in Path(out, "bench-svc-0").rglob("*") if p.is_file())
    med = {name: statistics.median(s) for name, s in samples.items()}

    def per_round(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(samples[a], samples[b], strict=True))

    print(f"floor      python -c 'import troposphere'         median {med['floor'] * 1000:7.1f} ms  ({args.runs} rounds)")
    print(f"synth      msgen synth SPEC --no-cache            median {med['synth'] * 1000:7.1f} ms  "
          f"{med['synth'] / med['floor']:.2f}x floor")
    print(f"synth -o   msgen synth SPEC --no-cache -o DIR/    median {med['synth_dir'] * 1000:7.1f} ms  "
          f"{med['synth_dir'] / med['floor']:.2f}x floor")
    print(f"new        msgen new NAME --no-input ({files} files) median {med['new'] * 1000:7.1f} ms")
    print(f"new / synth     {med['new'] / med['synth']:.2f}x  (per-round median {per_round('new', 'synth'):.2f}x)  target <= 1.50x")
    print(f"new / synth -o  {med['new'] / med['synth_dir']:.2f}x  (per-round median {per_round('new', 'synth_dir'):.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
