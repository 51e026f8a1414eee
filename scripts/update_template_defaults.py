#!/usr/bin/env python3
"""Regenerate templates/serverless-python/cookiecutter.json: the defaults plain `cookiecutter` uses.

The context is what `msgen new` computes for the default blueprint, so `cookiecutter templates/serverless-python`
renders the same repository as `msgen new payment-svc`. Run after changing the default blueprint, the
context or msgen's version; tests/test_new.py fails while the file is stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator import scaffold  # noqa: E402
from generator.resources import DEFAULT_BLUEPRINT, blueprint  # noqa: E402
from generator.spec import load_spec  # noqa: E402

TARGET = ROOT / "templates" / scaffold.TEMPLATE / "cookiecutter.json"


def defaults() -> str:
    bp = blueprint(DEFAULT_BLUEPRINT)
    ctx = scaffold.context(load_spec(bp.path), bp.path.read_text(encoding="utf-8"), f"blueprint:{bp.name}")
    ctx["synth_in_hook"] = True  # plain cookiecutter: write infra/<env>/template.yaml when msgen is importable
    return json.dumps(scaffold.cookiecutter_json(ctx), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    text = defaults()
    old = TARGET.read_text(encoding="utf-8") if TARGET.exists() else None
    TARGET.write_text(text, encoding="utf-8")
    print(f"{'unchanged' if old == text else 'updated  '} {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
