#!/usr/bin/env python3
"""Cold init of a generated Lambda handler against the bare Powertools modules it uses (issue 12, target ratio <= 1.5).

    .venv/bin/python bench/cold_init.py [--blueprint serverless-api] [--tracing active|opentelemetry] [--rounds 30]
                                        [--entry app|worker] [--find-links DIR]...

What it does:
1. Generates the blueprint's repository with `msgen new` (with --tracing opentelemetry: the spec sets
   observability.tracing) in a temporary folder.
2. Builds a venv with what a Lambda instance has: the repository's requirements.txt plus boto3 (the runtime provides
   it), installed offline from the wheelhouse ($MSGEN_WHEELHOUSE, else .venv/wheelhouse; `make test` builds it) and
   any --find-links folder.
3. Copies src/ without bytecode and runs every import with PYTHONDONTWRITEBYTECODE=1: Lambda's /var/task is read-only,
   so the generated modules are compiled at every cold start, while the installed packages carry pip's .pyc files.
4. Rounds of fresh processes, alternating which goes first, each timing only its imports (time.perf_counter around them)
   with the environment Lambda sets (AWS_LAMBDA_FUNCTION_NAME, AWS_REGION, AWS_EXECUTION_ENV, _HANDLER, ...) and the
   function's own variables from the template (POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, TABLE_*, ...):
   (a) the bare modules: `from aws_lambda_powertools import Logger, Metrics` and the event handler resolver
       (APIGatewayRestResolver; for a worker-only service, the SQS batch processor);
   (b) the entry module: `import app` (or `import worker`: a service without routes, or --entry worker).
   Prints the medians, the median of the per-round ratios (b)/(a), and, for honesty, what the first AWS call pays
   later in the same instance (import boto3 and create one client: deferred, not removed). With --tracing
   opentelemetry, also OpenTelemetry's imports alone (those of src/tracing.py) as a share of (a).
   Until `make test` has rebuilt the wheelhouse with requirements-opentelemetry.txt, pass a folder with the
   opentelemetry-api/-sdk/-semantic-conventions wheels as --find-links.

One warm-up round is not counted (the OS's file cache). Nothing goes to the network.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TIMED = "import time\nstarted = time.perf_counter()\n{imports}\nprint(time.perf_counter() - started)\n"
BARE = {
    "app": "from aws_lambda_powertools import Logger, Metrics\nfrom aws_lambda_powertools.event_handler import APIGatewayRestResolver",
    "worker": "from aws_lambda_powertools import Logger, Metrics\nfrom aws_lambda_powertools.utilities.batch import BatchProcessor",
}
# What tracing: opentelemetry adds to the entry module's imports (src/tracing.py's).
OTEL = ("from opentelemetry import propagate, trace\nfrom opentelemetry.context import Context\n"
        "from opentelemetry.propagators.composite import CompositePropagator\n"
        "from opentelemetry.propagators.textmap import Getter, Setter, TextMapPropagator, default_getter, default_setter\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor\n"
        "from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, TraceFlags")
FIRST_CALL = ("import {entry}\nimport time\nstarted = time.perf_counter()\nimport boto3\nboto3.client('dynamodb')\n"
              "print(time.perf_counter() - started)\n")


def generate(parent: Path, blueprint: str, tracing: str) -> Path:
    msgen = [str(Path(sys.executable).parent / "msgen"), "new", "bench-svc", "-o", str(parent), "--no-input"]
    if tracing == "active":  # the default: the blueprint as it is
        result = subprocess.run([*msgen, "--blueprint", blueprint], capture_output=True, text=True)
    else:
        spec = yaml.safe_load((ROOT / "blueprints" / f"{blueprint}.yaml").read_text(encoding="utf-8"))
        spec.setdefault("observability", {})["tracing"] = tracing
        (parent / "service.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
        if (ROOT / "blueprints" / "workflows").is_dir():  # definitions are read relative to the spec
            shutil.copytree(ROOT / "blueprints" / "workflows", parent / "workflows")
        result = subprocess.run([*msgen, "--spec", str(parent / "service.yaml")], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"bench: msgen new failed:\n{result.stderr}")
    return parent / "bench-svc"


def runtime_venv(parent: Path, repo: Path, find_links: list[Path]) -> Path:
    """A venv with the function's requirements and boto3 at the generated repository's pinned version."""
    venv = parent / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    boto3 = next(line for line in (repo / "requirements-dev.txt").read_text().splitlines() if line.startswith("boto3=="))
    links = [arg for folder in find_links for arg in ("--find-links", str(folder))]
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index", *links,
                    "-r", str(repo / "requirements.txt"), boto3], check=True)
    return venv / "bin" / "python"


def lambda_environment(repo: Path, task_root: Path, entry: str) -> dict[str, str]:
    """What Lambda sets, plus the function's own variables from the first environment's template (references as text)."""
    template = yaml.safe_load(sorted((repo / "infra").glob("*/template.yaml"))[0].read_text(encoding="utf-8"))
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    wanted = "app.lambda_handler" if entry == "app" else "worker.lambda_handler"
    function = next((f for f in functions if f["Properties"].get("Handler") == wanted), functions[0])
    variables = (function["Properties"].get("Environment") or {}).get("Variables") or {}
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "HOME")}
    env.update({name: value if isinstance(value, str) else f"bench-{name.lower()}" for name, value in variables.items()})
    env.update({
        "AWS_LAMBDA_FUNCTION_NAME": f"bench-svc-{entry}", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function["Properties"].get("MemorySize", 512)),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12", "AWS_LAMBDA_LOG_FORMAT": "JSON", "_HANDLER": wanted,
        "LAMBDA_TASK_ROOT": str(task_root), "LAMBDA_RUNTIME_DIR": str(task_root), "PYTHONPATH": str(task_root),
        "PYTHONDONTWRITEBYTECODE": "1", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
    })
    return env


def timed(python: Path, code: str, env: dict[str, str], cwd: Path) -> float:
    result = subprocess.run([str(python), "-c", code], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise SystemExit(f"bench: the timed import failed:\n{result.stderr}")
    return float(result.stdout.strip().splitlines()[-1]) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blueprint", default="serverless-api")
    parser.add_argument("--tracing", choices=["active", "opentelemetry"], default="active")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--entry", choices=["app", "worker"], help="the entry module (default: app, else worker)")
    parser.add_argument("--find-links", type=Path, action="append", default=[], help="another folder of wheels (e.g. OpenTelemetry's)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    wheelhouse = Path(os.environ.get("MSGEN_WHEELHOUSE") or ROOT / ".venv" / "wheelhouse").resolve()
    if not wheelhouse.is_dir():
        print(f"bench: {wheelhouse} missing: `make test` builds it (or set MSGEN_WHEELHOUSE)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        parent = Path(tmp)
        repo = generate(parent, args.blueprint, args.tracing)
        python = runtime_venv(parent, repo, [wheelhouse, *args.find_links])
        entry = args.entry or ("app" if (repo / "src" / "app.py").exists() else "worker")
        if not (repo / "src" / f"{entry}.py").exists():
            print(f"bench: {args.blueprint} has no src/{entry}.py", file=sys.stderr)
            return 2
        task_root = parent / "task"
        shutil.copytree(repo / "src", task_root, ignore=shutil.ignore_patterns("__pycache__"))
        env = lambda_environment(repo, task_root, entry)
        bare, handler = TIMED.format(imports=BARE[entry]), TIMED.format(imports=f"import {entry}")
        a, b, ratios, first_call, otel = [], [], [], [], []
        for i in range(args.rounds + 1):
            pair = [("a", bare), ("b", handler)] if i % 2 == 0 else [("b", handler), ("a", bare)]
            got = {name: timed(python, code, env, task_root) for name, code in pair}
            first = timed(python, FIRST_CALL.format(entry=entry), env, task_root)
            if args.tracing == "opentelemetry":
                otel.append(timed(python, TIMED.format(imports=OTEL), env, task_root) / got["a"])
            if i == 0:
                continue  # warm-up
            a.append(got["a"])
            b.append(got["b"])
            ratios.append(got["b"] / got["a"])
            first_call.append(first)
    figures = {
        "blueprint": args.blueprint, "tracing": args.tracing, "entry": entry, "rounds": args.rounds,
        "bare_powertools_ms": round(statistics.median(a), 1), "entry_module_ms": round(statistics.median(b), 1),
        "ratio": round(statistics.median(ratios), 2), "first_aws_call_ms": round(statistics.median(first_call), 1),
    }
    if otel:
        figures["opentelemetry_over_bare"] = round(statistics.median(otel[1:]), 2)
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"cold init, {args.blueprint} (tracing: {args.tracing}), {args.rounds} paired rounds of fresh processes")
    print(f"  (a) bare Powertools modules ({BARE[entry].replace(chr(10), '; ')})  median {figures['bare_powertools_ms']:7.1f} ms")
    print(f"  (b) import {entry} (the generated entry module)  median {figures['entry_module_ms']:7.1f} ms")
    print(f"  ratio (b)/(a), median of the rounds: {figures['ratio']:.2f}  (target <= 1.5)")
    if otel:
        print(f"  OpenTelemetry's imports alone (src/tracing.py's), as a share of (a): {figures['opentelemetry_over_bare']:.2f}")
    print(f"  later, at the first AWS call: import boto3 and one client  median {figures['first_aws_call_ms']:7.1f} ms (deferred, not removed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
