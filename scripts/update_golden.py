#!/usr/bin/env python3
"""Regenerate tests/golden/<blueprint>.template.yaml from every blueprint.

Golden files are reviewed like code: run this, then read `git diff tests/golden` before committing.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.resources import blueprints  # noqa: E402
from generator.spec import load_spec  # noqa: E402
from generator.synth.pipeline import synthesize  # noqa: E402

GOLDEN = ROOT / "tests" / "golden"


def main() -> int:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    expected = set()
    for bp in blueprints():
        out = GOLDEN / f"{bp.name}.template.yaml"
        expected.add(out.name)
        text = synthesize(load_spec(bp.path))
        old = out.read_text() if out.exists() else None
        out.write_text(text)
        print(f"{'unchanged' if old == text else 'updated  '} {out.relative_to(ROOT)}")
    for stale in GOLDEN.glob("*.template.yaml"):
        if stale.name not in expected:
            stale.unlink()
            print(f"removed   {stale.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
