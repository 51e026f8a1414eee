"""What a cold `msgen synth` imports: only what synthesizing needs (issue 12 §2; bench/synth.py measures the time).

The commands that need more (deploy's boto3, new's cookiecutter and Jinja, lint's cfn-lint, explain, diff) import it
themselves. (pydantic's plugin loader still imports importlib.metadata to learn there are no plugins: msgen does not
stand in for pydantic's private modules, which any pydantic 2.x may change.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Imported by other commands, never by synth.
NOT_ON_SYNTH = ("boto3", "botocore", "cookiecutter", "jinja2", "cfnlint", "generator.deploy",
                "generator.diff", "generator.explain", "generator.lint", "generator.scaffold", "generator.bootstrap")

PROBE = """
import json, runpy, sys
spec, out = sys.argv[1:]
sys.argv, code = ["msgen", "synth", "--no-cache", spec], 0
try:
    runpy.run_module("generator", run_name="__main__")
except SystemExit as exc:
    code = exc.code
with open(out, "w") as fh:
    json.dump({"code": code, "modules": sorted(sys.modules),
               "unexecuted": sorted(n for n, m in sys.modules.items() if type(m).__name__ == "_LazyModule")}, fh)
"""


def test_a_cold_synth_imports_only_what_synthesizing_needs(tmp_path):
    out = tmp_path / "modules.json"
    env = {"PATH": "/usr/bin:/bin", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-c", PROBE, str(ROOT / "blueprints" / "serverless-api.yaml"), str(out)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    result = json.loads(out.read_text())
    assert result["code"] in (0, None), run.stderr
    assert run.stdout.startswith("AWSTemplateFormatVersion:")
    loaded = [m for m in result["modules"] if any(m == name or m.startswith(name + ".") for name in NOT_ON_SYNTH)]
    assert loaded == [], "imported on a cold synth though synth does not need them"
    assert "generator.spec.models" in result["modules"] and "troposphere" in result["modules"]  # the probe did synthesize
    # troposphere's modules for a VPC, containers, a database, search and e-mail: named (generator.synth.lazy), never run
    assert {"troposphere.ec2", "troposphere.ecs", "troposphere.rds", "troposphere.opensearchserverless", "troposphere.ses"} <= set(
        result["unexecuted"])

