"""Write one handler module and one test module per handler module named in the spec.

cookiecutter renders a fixed tree; the per-module files come from _templates/ (copied unrendered) and
are rendered here with the same context, strictly: an undefined variable is an error. handler_module.py.j2 and
test_module.py.j2 include a file per kind of route (_templates/handler/, _templates/test/), which Jinja compiles only
when a route of that kind is rendered. `msgen new` imports this file and calls render_modules() in-process; plain
`cookiecutter` runs it as a hook.
"""

import json
import shutil
import sys
from pathlib import Path

import jinja2


def unused_files(ctx: dict) -> list[str]:
    """The template's files this service does not have, which render_modules deletes. `msgen new` has cookiecutter copy
    them as they are instead of rendering them first (compiling templates is most of its time)."""
    unused = []
    if not ctx["consumers"]:
        unused += ["src/worker.py", "tests/test_worker.py"]
    if not ctx["hybrid"]:
        unused += ["src/web.py", "tests/test_web.py", "Dockerfile", "requirements-container.txt"]
    if not ctx["database"]:
        unused += ["tests/test_database.py"]
    if not ctx["collections"]:
        unused += ["src/search.py", "tests/test_search.py"]
    if not ctx["callees"]:
        unused += ["src/calls.py", "tests/test_calls.py"]
    if not ctx["collections"] and not ctx["callees"]:  # the signed requests of search.py and calls.py
        unused += ["src/sigv4.py"]
    if not ctx["emits"]:
        unused += ["src/events.py", "tests/test_events.py"]
    if not ctx["function_routes"]:
        unused += ["src/app.py", "tests/test_correlation.py"]
    if ctx["tracing"] != "opentelemetry":  # with opentelemetry, requirements-opentelemetry.txt is read, then deleted
        unused += ["src/tracing.py", "tests/test_tracing.py", "requirements-opentelemetry.txt"]
    return unused


def render_modules(project: Path, ctx: dict, bytecode_cache: jinja2.BytecodeCache | None = None) -> None:
    """The per-module files; `msgen new` passes its cache of compiled templates as BYTECODE_CACHE."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(project / "_templates")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        optimized=False,  # compile-time constant folding: no change to the output, ~10% of the compile time
        bytecode_cache=bytecode_cache,
    )
    for workflow in ctx["workflows"]:
        target = project / workflow["definition"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(workflow["content"], encoding="utf-8")
    unused = unused_files(ctx)
    # observability.tracing: opentelemetry adds the OpenTelemetry packages to requirements.txt, and the span helper.
    if ctx["tracing"] == "opentelemetry":
        with (project / "requirements.txt").open("a", encoding="utf-8") as requirements:
            requirements.write((project / "requirements-opentelemetry.txt").read_text(encoding="utf-8"))
        unused += ["requirements-opentelemetry.txt"]
    for path in unused:
        (project / path).unlink()
    # After the unused files are gone: a handler module may take a free name (src/search.py without collections).
    for module in ctx["modules"]:
        for template, target in (("handler_module.py.j2", f"src/{module['name']}.py"), ("test_module.py.j2", f"tests/test_{module['name']}.py")):
            (project / target).write_text(env.get_template(template).render(module=module, **ctx), encoding="utf-8")
    shutil.rmtree(project / "_templates")
    (project / ".msgen" / "context.json").unlink()


def synthesize_templates(project: Path) -> None:
    """infra/<env>/template.yaml for every environment of the spec, as `msgen synth service.yaml -o infra/` writes them."""
    try:
        from generator.spec import load_spec
        from generator.synth.pipeline import synthesize
    except ImportError:
        print("msgen is not installed here: run `make synth` to write infra/<env>/template.yaml")
        return
    spec = load_spec(project / "service.yaml")
    for env in spec.environment_names:
        (project / "infra" / env).mkdir(parents=True, exist_ok=True)
        (project / "infra" / env / "template.yaml").write_text(synthesize(spec.for_environment(env)), encoding="utf-8")


if __name__ == "__main__":
    project = Path.cwd()
    context = json.loads((project / ".msgen" / "context.json").read_text(encoding="utf-8"))
    context["service"] = "{{ cookiecutter.service }}"
    render_modules(project, context)
    if context["synth_in_hook"]:
        synthesize_templates(project)
    sys.exit(0)
