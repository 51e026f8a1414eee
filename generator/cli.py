"""The ``msgen`` command line. Options in, library calls out; no logic of its own."""

from __future__ import annotations

import gc
import json
import os
import shlex
import sys
from pathlib import Path

# pydantic scans every installed package's entry points for plugins at import (~10 ms);
# msgen uses none, and start-up time is what a CLI user feels.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

import click

from generator import __version__
from generator.errors import EXIT_FINDINGS, EXIT_INTERNAL, InputError, MsgenError

EPILOG = """\b
Exit codes:
  0  success
  1  findings: lint problems, a stale template with synth --check, data loss with diff
  2  bad input or usage: invalid spec, missing file, refused overwrite
  3  internal error (a bug in msgen; --debug shows the traceback)
"""


class _Group(click.Group):
    """Turns every MsgenError into its message on stderr and its exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MsgenError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(_error_text(exc), err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except Exception as exc:  # a bug in msgen: say so plainly, keep the traceback for --debug
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"msgen: internal error: {type(exc).__name__}: {exc}\n"
                       "This is a bug in msgen; run again with --debug for the traceback and report it.", err=True)
            ctx.exit(EXIT_INTERNAL)


def _error_text(exc: MsgenError) -> str:
    from generator.errors import SpecError

    if isinstance(exc, SpecError):
        n = len(exc.issues)
        return f"{exc}\nmsgen: {n} problem{'s' if n != 1 else ''} found; nothing was written"
    return f"msgen: error: {exc}"


@click.group(cls=_Group, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="msgen", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors (for reporting bugs).")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """msgen turns one YAML service spec into a microservice's CloudFormation and repository.

    \b
    Examples:
      msgen blueprints                                  # ready-made specs
      msgen new payment-svc --spec service.yaml         # a repository that passes its own tests
      msgen validate service.yaml
      msgen synth service.yaml -o infra/                # infra/<env>/template.yaml
      msgen synth serverless-api                        # a blueprint, by name
      msgen lint infra/
      msgen explain service.yaml                        # resources, grants, alarms, idle cost
      msgen diff service.yaml --env prod --against infra/prod/template.yaml   # data loss?
      msgen bootstrap --env dev --github-repo acme/payment-svc -o bootstrap-dev.yaml   # account-level stack
      msgen update --check                              # in a generated repository: behind msgen?
      msgen fleet validate shop                         # several services: calls, events, one view
    """
    ctx.ensure_object(dict)["debug"] = debug
    if ctx.invoked_subcommand in BRIEF_COMMANDS and gc.isenabled():
        # These build a few thousand objects once and end: the cyclic garbage collector would walk every imported
        # module's objects (pydantic, troposphere) several times and find almost nothing to free (~10% of a cold synth).
        gc.disable()
        ctx.call_on_close(gc.enable)


# Commands that run briefly and allocate little: no cyclic garbage collection while they run (see main). Not lint (cfn-lint
# allocates millions of objects), deploy or destroy (they wait on CloudFormation for minutes).
BRIEF_COMMANDS = frozenset({"validate", "synth", "new", "explain", "diff", "schema", "blueprints", "bootstrap"})

SPEC_HELP = "SPEC is a spec file, or the name of a blueprint (see `msgen blueprints`)."


@main.command(epilog=EPILOG)
@click.argument("spec")
def validate(spec: str) -> None:
    """Check a spec and report every problem, each as FILE:LINE:COL: path: message.

    \b
    SPEC is a spec file, or the name of a blueprint.
    Example:
      msgen validate service.yaml
    """
    from generator import api

    model = api.load(spec)
    click.echo(f"{spec}: OK ({model.service}, {model.pattern}, {len(model.api.routes)} routes)", err=True)


@main.command(epilog=EPILOG)
@click.argument("spec")
@click.option("-o", "--output", "output", default="-", show_default=True, metavar="FILE|DIR",
              help="Write the template to FILE (atomically; missing folders are created), or '-' for stdout. Without --env, "
              "a DIR (an existing folder, or a path ending in '/' or without .yaml/.yml/.json) gets every environment's "
              "template as DIR/<env>/template.yaml. A service past CloudFormation's quotas gets its nested stacks next to "
              "each template (template.NestedStackN.yaml) and its stack lock next to SPEC (docs/nested-stacks.md).")
@click.option("--env", "env", metavar="NAME", help="Synthesize this environment's template (its overrides merged in).")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True, help="Template format.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 with a unified diff when FILE differs from what SPEC gives "
              "(or with one line when FILE does not exist).")
@click.option("--force", is_flag=True, help="Overwrite FILE even if msgen did not write it.")
@click.option("--no-cache", is_flag=True, help="Synthesize afresh even if the cache holds this spec's template (or set MSGEN_NO_CACHE=1).")
def synth(spec: str, output: str, env: str | None, fmt: str, check: bool, force: bool, no_cache: bool) -> None:
    """Synthesize the CloudFormation template of a spec, or of each of its environments.

    The same spec always gives byte-identical output. A file msgen wrote before
    is replaced; any other existing file needs --force.

    \b
    Examples:
      msgen synth service.yaml > template.yaml
      msgen synth service.yaml --env prod -o infra/prod/template.yaml
      msgen synth service.yaml -o infra/              # infra/<env>/template.yaml for every environment
      msgen synth service.yaml -o infra/ --check      # in CI: every environment's template is current
    """
    from generator import api

    if env is None and output != "-" and _is_directory_output(output):
        _synth_environments(api, spec, Path(output), fmt, check, force, no_cache)
        return
    previous = None if output == "-" else (lambda envs: api.single_template_resources([Path(output)]))
    result = api.synth_templates(spec, fmt, use_cache=not no_cache, envs=[env], previous=previous)
    for warning in result.warnings():
        click.echo(f"msgen: {warning}", err=True)
    if result.nested:  # a parent and nested stacks: written next to each other (see generator.synth.nesting)
        if output == "-":
            raise click.UsageError(f"{spec} needs nested stacks (it passes a CloudFormation quota in one template); give -o FILE "
                                   "or -o DIR to write the parent template and the nested ones next to it")
        target = Path(output)
        files = {target.with_name(f"{target.stem}{k}{target.suffix}"): t for k, t in result.templates[env].items()}
        _write_or_check(api, spec, files, result, check, force, shlex.quote(output))
        return
    text = result.templates[env][""]
    if check:
        if output == "-":
            raise click.UsageError("--check needs -o FILE, the committed template to compare with")
        path = Path(output)
        if path.is_dir():
            raise InputError(f"{output}: is a directory; give the committed template file")
        if not path.exists():
            click.echo(f"msgen: {output} does not exist; create it with: msgen synth {shlex.quote(spec)} -o {shlex.quote(output)}", err=True)
            sys.exit(EXIT_FINDINGS)
        try:
            current = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise InputError(f"{output}: cannot read: {exc.strerror or exc}") from None
        if current != text:
            click.echo(api.diff(current, text, f"{output} (committed)", f"{output} (from {spec})"), nl=False)
            click.echo(f"msgen: {output} is stale; run: msgen synth {spec} -o {output}", err=True)
            sys.exit(EXIT_FINDINGS)
        click.echo(f"{output}: up to date", err=True)
        return
    if output == "-":
        click.echo(text, nl=False)
        return
    api.write_atomic(Path(output), text, force=force)
    click.echo(f"wrote {output}", err=True)


def _is_directory_output(output: str) -> bool:
    return output.endswith(("/", os.sep)) or Path(output).is_dir() or Path(output).suffix.lower() not in (".yaml", ".yml", ".json", ".template")


def _synth_environments(api, spec: str, folder: Path, fmt: str, check: bool, force: bool, no_cache: bool) -> None:
    """msgen synth SPEC -o DIR: DIR/<env>/template.<fmt> for every environment, all written or none (or checked)."""
    stem, suffix = "template", ".json" if fmt == "json" else ".yaml"
    result = api.synth_templates(spec, fmt, use_cache=not no_cache, envs=None,
                                 previous=lambda envs: api.single_template_resources([folder / str(e) / f"{stem}{suffix}" for e in envs]))
    for warning in result.warnings():
        click.echo(f"msgen: {warning}", err=True)
    files = {folder / str(env) / f"{stem}{k}{suffix}": text for env, texts in result.templates.items() for k, text in texts.items()}
    _write_or_check(api, spec, files, result, check, force, f"{shlex.quote(str(folder))}/")


def _write_or_check(api, spec: str, files: dict[Path, str], result, check: bool, force: bool, target: str) -> None:
    """Write FILES (all or none) and the stack lock of a split service, or (--check) compare them with what is there."""
    lock = result.lock_path if result.nested and result.lock_changed else None
    gone = _stale_nested(files) if result.nested else []
    if check:
        stale = 0
        for path in gone:
            click.echo(f"msgen: {path} is no longer a nested stack of {spec} (its stack is empty); delete it, or run: "
                       f"msgen synth {shlex.quote(spec)} -o {target}", err=True)
            stale += 1
        if lock is not None:
            state = "is out of date" if lock.exists() else "does not exist"
            click.echo(f"msgen: {lock} (the stack lock) {state}; run: msgen synth {shlex.quote(spec)} -o {target} and commit it", err=True)
            stale += 1
        for path, text in files.items():
            current = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
            if current is None:
                click.echo(f"msgen: {path} does not exist; create it with: msgen synth {shlex.quote(spec)} -o {target}", err=True)
                stale += 1
            elif current != text:
                click.echo(api.diff(current, text, f"{path} (committed)", f"{path} (from {spec})"), nl=False)
                click.echo(f"msgen: {path} is stale; run: msgen synth {shlex.quote(spec)} -o {target}", err=True)
                stale += 1
            else:
                click.echo(f"{path}: up to date", err=True)
        if stale:
            sys.exit(EXIT_FINDINGS)
        return
    api.write_all(files, force=force)
    for path in files:
        click.echo(f"wrote {path}", err=True)
    for path in gone:
        path.unlink(missing_ok=True)
        click.echo(f"removed {path} (its nested stack is empty)", err=True)
    if lock is not None:
        from generator import stacklock

        stacklock.write(lock, result.lock_text)
        click.echo(f"wrote {lock} (the stack lock: commit it with the spec)", err=True)


def _stale_nested(files: dict[Path, str]) -> list[Path]:
    """Nested templates msgen wrote next to a parent in FILES that the service no longer has (a stack left empty)."""
    from generator.api import TEMPLATE_MARKER

    out = []
    for path in files:
        if ".NestedStack" in path.name:
            continue
        for other in sorted(path.parent.glob(f"{path.stem}.NestedStack*{path.suffix}")):
            if other not in files and other.is_file() and TEMPLATE_MARKER.search(other.read_text(encoding="utf-8", errors="replace")[:4096]):
                out.append(other)
    return out


@main.command(epilog=EPILOG)
@click.argument("targets", metavar="TARGET...", nargs=-1, required=True)
@click.option("--region", "regions", multiple=True, default=["us-east-1"], show_default=True,
              help="Region to lint for; repeat for several, or ALL_REGIONS.")
@click.option("--info", is_flag=True, help="Also report cfn-lint's informational (I) findings.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), metavar="N",
              help="Lint over N processes (default: one per CPU; one template is linted in this process).")
@click.option("--no-cache", is_flag=True, help="Lint afresh even if the cache holds a template's findings (or set MSGEN_NO_CACHE=1).")
def lint(targets: tuple[str, ...], regions: tuple[str, ...], info: bool, jobs: int | None, no_cache: bool) -> None:
    """Lint CloudFormation templates, specs (synthesized first) or directories, with cfn-lint.

    Runs cfn-lint in-process with its built-in rules plus msgen's own (E9xxx),
    several templates at once over the machine's CPUs, and keeps each template's
    findings in a cache keyed by its content. Findings print to stdout as
    FILE:LINE:COL: RULE message, file by file. For a spec, FILE names the
    synthesized template ("SPEC#template"); a directory stands for every
    template (*.yaml, *.yml, *.json) below it.

    \b
    Examples:
      msgen lint infra/prod/template.yaml
      msgen lint infra/                    # every environment's template (msgen synth SPEC -o infra/)
      msgen lint service.yaml --region eu-west-1 --region us-east-1
    """
    from generator.lint import check_regions, lint_many, read_targets

    check_regions(regions)  # before synthesizing: a typo in --region is the quickest thing to report
    items = read_targets(targets, use_cache=not no_cache)
    results = lint_many(items, tuple(regions), info=info, jobs=jobs, use_cache=not no_cache)
    total = 0
    for name, findings in results.items():
        for f in findings:
            click.echo(str(f))
        if findings:
            total += len(findings)
            click.echo(f"msgen: {len(findings)} finding{'s' if len(findings) != 1 else ''} in {name}", err=True)
    if len(results) > 1:
        bad = sum(1 for findings in results.values() if findings)
        click.echo(f"msgen: {total} finding{'s' if total != 1 else ''} in {bad} of {len(results)} templates" if total
                   else f"msgen: {len(results)} templates: no findings", err=True)
    elif not total:
        click.echo(f"{next(iter(results))}: no findings", err=True)
    if total:
        sys.exit(EXIT_FINDINGS)


@main.command(epilog=EPILOG)
@click.argument("name", required=False)
@click.option("--blueprint", "blueprint_name", metavar="BLUEPRINT", help="Start from this blueprint (default: serverless-api).")
@click.option("--spec", "spec_file", type=click.Path(dir_okay=False), metavar="FILE", help="Start from this spec file instead of a blueprint.")
@click.option("-o", "--output-dir", "parent", default=".", show_default=True, metavar="PARENT",
              help="Parent directory, created with any missing folders; the repository is created as PARENT/NAME.")
@click.option("--no-input", is_flag=True, help="Never prompt; fail if something is missing.")
@click.option("--force", is_flag=True, help="Replace PARENT/NAME if it exists.")
@click.option("--no-cache", is_flag=True, help="Compile the repository template afresh even if the cache holds its compiled code "
              "(or set MSGEN_NO_CACHE=1).")
def new(name: str | None, blueprint_name: str | None, spec_file: str | None, parent: str, no_input: bool, force: bool,
        no_cache: bool) -> None:
    """Generate a microservice repository that passes its own tests on day one.

    The repository holds the spec (service.yaml), the synthesized template
    (infra/<env>/template.yaml for every environment), handler code with tests,
    CI and CD, a Makefile and a README.
    NAME becomes the service name; without it msgen asks for one on a terminal.
    Nothing is written unless everything succeeds.

    \b
    Examples:
      msgen new payment-svc
      msgen new order-svc --blueprint serverless-cognito-api -o ~/src
      msgen new billing-svc --spec billing.yaml --no-input
    """
    from generator import api

    if blueprint_name and spec_file:
        raise click.UsageError("give --blueprint or --spec, not both")
    if not name:
        if no_input:
            raise click.UsageError("NAME is required with --no-input")
        try:
            name = click.prompt("Service name (e.g. payment-svc)", err=True)
        except click.Abort:
            if _stdin_is_terminal():
                raise  # the person at the terminal chose to stop
            click.echo(err=True)  # end the prompt's line
            raise click.UsageError("NAME is required when standard input is not a terminal (it ended before a name was read); "
                                   "give it as an argument: msgen new NAME") from None
    created, source = api.new_repo(name, Path(parent), blueprint_name, spec_file, force=force, use_cache=not no_cache)
    click.echo(str(created))
    click.echo(f"created {created} from {source}; next: cd {created} && make install && make test", err=True)


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (OSError, ValueError):  # closed or missing standard input
        return False


UPDATE_EPILOG = """\b
Exit codes:
  0  updated (or, with --check, current; with --dry-run, would apply cleanly)
  1  conflicts: the files listed have conflict markers (with --check: the repository is behind)
  2  refused: not a generated git repository, uncommitted changes, no base to merge from
  3  internal error (a bug in msgen; --debug shows the traceback)
"""


@main.command(epilog=UPDATE_EPILOG)
@click.argument("path", default=".", type=click.Path(file_okay=False))
@click.option("--to", "to", metavar="VERSION", help="Update to this msgen version (fetched with pip) instead of the installed one.")
@click.option("--dry-run", is_flag=True, help="Print the full diff the update would apply; change nothing.")
@click.option("--check", is_flag=True, help="Only say whether the repository is behind the installed msgen or its spec (exit 1).")
@click.option("--base-from", type=click.Path(file_okay=False, exists=True, path_type=Path), metavar="DIR",
              help="The repository as msgen last rendered it, when msgen cannot reproduce it (README).")
def update(path: str, to: str | None, dry_run: bool, check: bool, base_from: Path | None) -> None:
    """Bring a generated repository to the current msgen template and its spec.

    A three-way merge per file (git merge-file): what msgen generated last
    time is the base, the repository is yours, what msgen generates now is
    theirs. Your changes are kept, msgen's are applied; where both changed
    the same lines the file gets conflict markers, is listed, and the exit
    code is 1. infra/ and .msgen/ are regenerated; service.yaml is never
    touched; handlers the spec gained get msgen's starter code and test,
    appended to their modules. Needs a clean git work tree.

    \b
    Examples:
      msgen update --check          # behind? (CI runs this as a warning)
      msgen update --dry-run        # the diff it would apply
      msgen update && git diff      # apply, review, commit
    """
    from generator import update as updater

    if check:
        reasons = updater.check(Path(path))
        for reason in reasons:
            click.echo(reason)
        if reasons:
            raise SystemExit(EXIT_FINDINGS)
        click.echo(f"{path}: current with msgen {__version__} and its spec", err=True)
        return
    result = updater.update(Path(path), to=to, dry_run=dry_run, base_from=base_from)
    if dry_run:
        click.echo(result.diff(), nl=False)
    click.echo(result.summary(dry_run), err=True)
    if dry_run:
        click.echo("msgen update: dry run; nothing was changed", err=True)
    elif result.changes:
        click.echo("msgen update: review with `git diff`, run `make test`, then commit", err=True)
    raise SystemExit(result.exit_code)


@main.command("check-handlers", epilog=EPILOG)
@click.argument("path", default=".", type=click.Path(file_okay=False))
def check_handlers(path: str) -> None:
    """Fail when service.yaml and the code disagree on handlers (make check runs it).

    Every handler the spec names must exist as a function (src/<module>.py:
    <function>) and be wired in its entry point (src/app.py, src/web.py,
    src/worker.py); every handler an entry point routes to must be in the
    spec. Each disagreement is one line, FILE:LINE:COL: message.

    \b
    Example:
      msgen check-handlers          # in a generated repository
    """
    from generator import drift

    issues = drift.check(Path(path))
    for issue in issues:
        click.echo(str(issue))
    if issues:
        click.echo(f"msgen: {len(issues)} handler problem{'s' if len(issues) != 1 else ''}: the spec and the code disagree", err=True)
        raise SystemExit(EXIT_FINDINGS)
    click.echo(f"{path}: every handler in service.yaml is in the code and wired", err=True)


@main.command(epilog=EPILOG)
@click.argument("spec")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True,
              help="text for a terminal, markdown for a pull request, json for tools.")
def explain(spec: str, fmt: str) -> None:
    """Explain what a spec becomes, element by element, and what it costs idle.

    For the service and each route, table, bucket, queue, topic, events rule,
    workflow, container, database and network: its FILE:LINE, the resources it
    produced (logical ID, type, why), the IAM actions each `uses:` granted and
    on what, the alarms watching it, and an idle monthly cost estimate (zero
    traffic; from the price table shipped with msgen, with its region and date).
    Nothing is deployed and no AWS call is made.

    \b
    Examples:
      msgen explain service.yaml
      msgen explain service.yaml --format markdown > EXPLAIN.md   # for a pull request
      msgen explain serverless-api --format json | jq .idle_monthly
    """
    from generator import api

    click.echo(api.explain(spec, fmt), nl=False)


DIFF_EPILOG = """\b
Exit codes:
  0  no data loss (or every data loss named by --allow-data-loss); changes may still be listed
  1  data loss: a change deletes or replaces a resource that holds data, not allowed by --allow-data-loss;
     or resources of FILE move into a nested stack (a split synthesized without FILE at the output path)
  2  bad input or usage: invalid spec, missing file, FILE is not a template
  3  internal error (a bug in msgen; --debug shows the traceback)
"""


@main.command(epilog=DIFF_EPILOG)
@click.argument("spec")
@click.option("--against", "against", required=True, metavar="FILE",
              help="The deployed or committed template (YAML, short tags like !Ref included, or JSON) to compare with.")
@click.option("--env", "env", metavar="NAME", help="One of the spec's environments (today every environment has the same template).")
@click.option("--allow-data-loss", "allowed", multiple=True, metavar="LOGICAL_ID",
              help="Accept the data loss of this resource; repeat for each one.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text for a person, json for tools.")
def diff(spec: str, against: str, env: str | None, allowed: tuple[str, ...], fmt: str) -> None:
    """Show what deploying SPEC would change in the stack whose template is FILE.

    Lists resources added, removed, modified in place and replaced (with the
    create-only property that forces each replacement, from the resource
    schemas cfn-lint ships), changes only in Metadata, and changed parameters,
    outputs and conditions. A change that deletes or replaces a resource that
    holds data (table, bucket, database, key, log group, queue, topic, secret,
    collection) is data loss unless its policy retains it. Offline: no AWS call.

    \b
    Examples:
      msgen diff service.yaml --env prod --against infra/prod/template.yaml
      git show main:infra/prod/template.yaml > /tmp/main.yaml && msgen diff service.yaml --env prod --against /tmp/main.yaml
      msgen diff service.yaml --env prod --against infra/prod/template.yaml --allow-data-loss OrdersTable
      msgen diff serverless-api --against deployed.json --format json | jq .unallowed
    """
    from generator import api

    result = api.diff_template(spec, against, env)
    click.echo(result.render(fmt, allowed), nl=False)
    lost = {r.logical_id for r in result.diff.data_loss}
    for name in dict.fromkeys(allowed):
        if name not in lost:
            click.echo(f"msgen: --allow-data-loss {name}: no data loss on {name} in this diff; ignored", err=True)
    unallowed = [r.logical_id for r in result.diff.unallowed(allowed)]
    if unallowed:
        flags = " ".join(f"--allow-data-loss {lid}" for lid in unallowed)
        click.echo(f"msgen: data loss in {', '.join(unallowed)}; if that is intended, run again with {flags}", err=True)
    if result.moves:  # --allow-data-loss cannot make a move work: msgen deploy refuses it
        click.echo(f"msgen: {len(result.moves)} resources of {against} move into nested stacks ({', '.join(list(result.moves)[:8])}"
                   f"{f' and {len(result.moves) - 8} more' if len(result.moves) > 8 else ''}); msgen deploy refuses that: synthesize "
                   "with the deployed template at the output path (docs/nested-stacks.md, the stack lock)", err=True)
    if unallowed or result.moves:
        sys.exit(EXIT_FINDINGS)
    click.echo(f"{against}: {'no changes' if result.diff.empty else 'no unallowed data loss'}", err=True)


DEPLOY_EPILOG = """\b
Exit codes:
  0  deployed, no changes, or the change set left for review (--no-execute, or not confirmed)
  1  refused data loss, a failed change set or stack (the failed resources' reasons are printed), a stuck stack
  2  bad input or usage: invalid spec, unknown environment, missing artifact, no AWS credentials or Region
  3  internal error (a bug in msgen; --debug shows the traceback)
"""


@main.command(epilog=DEPLOY_EPILOG)
@click.argument("spec")
@click.option("--env", "env", required=True, metavar="NAME", help="The environment to deploy (one of the spec's).")
@click.option("--artifact", type=click.Path(dir_okay=False, path_type=Path), metavar="ZIP",
              help="The code package `make package` built; uploaded under its sha256, never rebuilt.")
@click.option("--image", metavar="URI", help="The container image (hybrid services), pushed before deploying.")
@click.option("--stack-name", metavar="S", help="Stack name (default: SERVICE-ENV).")
@click.option("--artifact-bucket", metavar="BUCKET", help="Upload here instead of the bucket `msgen bootstrap` published "
              "in SSM (/msgen/ENV/bootstrap/artifact-bucket).")
@click.option("--allow-data-loss", "allowed", multiple=True, metavar="LOGICAL_ID", help="Accept the data loss of this resource; repeat for each one.")
@click.option("--yes", is_flag=True, help="Execute the change set without asking (CI).")
@click.option("--no-execute", is_flag=True, help="Create the change set and leave it for review.")
@click.option("--region", metavar="R", help="AWS Region (default: the standard AWS chain, e.g. AWS_REGION or the profile's).")
def deploy(spec: str, env: str, artifact: Path | None, image: str | None, stack_name: str | None, artifact_bucket: str | None,
           allowed: tuple[str, ...], yes: bool, no_execute: bool, region: str | None) -> None:
    """Deploy an environment of SPEC through a CloudFormation change set.

    Uploads the artifact (content-addressed) and the template to the artifact
    bucket, creates a change set, shows it with the data-loss guard (the
    deployed template against the new one, as msgen diff), executes it after
    confirmation and prints the stack's events as they happen. Credentials and
    Region come from the standard AWS chain. A split service whose release
    passes CloudFormation's 2,500 resources of nested stacks in one operation
    is deployed in stages, a change set each (docs/nested-stacks.md).

    \b
    Examples:
      msgen deploy service.yaml --env dev --artifact dist/function.zip
      msgen deploy service.yaml --env prod --artifact dist/function.zip --yes        # CI
      msgen deploy service.yaml --env prod --artifact dist/function.zip --no-execute # review first
    """
    from generator import api
    from generator import deploy as deployer

    loaded = api.load_spec(spec)
    confirm = None if yes else (lambda q: click.confirm(q, default=False, err=True))
    deployer.deploy(loaded, env, artifact=artifact, image=image, stack_name=stack_name, execute=not no_execute, confirm=confirm,
                    allowed=allowed, region=region, artifact_bucket=artifact_bucket, echo=lambda m: click.echo(m, err=True))


@main.command(epilog=DEPLOY_EPILOG)
@click.argument("spec")
@click.option("--env", "env", required=True, metavar="NAME", help="The environment whose stack to delete.")
@click.option("--stack-name", metavar="S", help="Stack name (default: SERVICE-ENV).")
@click.option("--yes", is_flag=True, help="Delete without asking.")
@click.option("--region", metavar="R", help="AWS Region (default: the standard AWS chain).")
def destroy(spec: str, env: str, stack_name: str | None, yes: bool, region: str | None) -> None:
    """Delete an environment's stack, unless the spec marks the environment protected.

    Empties the buckets the stack deletes (every object version), deletes the
    stack, waits, and lists what is left behind on purpose (DeletionPolicy
    Retain or Snapshot).

    \b
    Example:
      msgen destroy service.yaml --env dev --yes
    """
    from generator import api
    from generator import deploy as deployer

    loaded = api.load_spec(spec)
    confirm = None if yes else (lambda q: click.confirm(q, default=False, err=True))
    deployer.destroy(loaded, env, stack_name=stack_name, confirm=confirm, region=region, echo=lambda m: click.echo(m, err=True))


@main.command()
def schema() -> None:
    """Print the JSON Schema of the service spec (for editors and CI).

    \b
    Example:
      msgen schema > service.schema.json
    """
    from generator.spec import json_schema

    click.echo(json_schema(), nl=False)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def blueprints(as_json: bool) -> None:
    """List the ready-made service specs, with a one-line description each.

    \b
    Examples:
      msgen blueprints
      msgen synth serverless-api -o template.yaml
    """
    from generator.resources import blueprints as all_blueprints

    items = all_blueprints()
    if as_json:
        click.echo(json.dumps([{"name": b.name, "description": b.description} for b in items], indent=2))
        return
    width = max((len(b.name) for b in items), default=0)
    for b in items:
        click.echo(f"{b.name.ljust(width)}  {b.description}")
    from generator.resources import data_dir

    fleets = sorted(p.parent.name for p in (data_dir("blueprints") / "fleets").glob("*/fleet.yaml"))
    if fleets:  # fleets of several specs are not service specs: named on stderr, for `msgen fleet`
        click.echo(f"fleet blueprints (msgen fleet validate NAME): {', '.join(fleets)}", err=True)


@main.command(epilog=EPILOG)
@click.option("--env", "env", required=True, metavar="NAME", help="The environment (as named in specs: dev, staging, prod, ...).")
@click.option("--region", metavar="R", help="The Region the stack is for (checked, and used in the deploy command shown); "
              "default: the standard AWS chain's.")
@click.option("--github-repo", "github_repo", metavar="OWNER/REPO",
              help="Add GitHub's OIDC provider and a deploy role only this repository's GitHub environment NAME can assume.")
@click.option("-o", "--output", "output", default="-", show_default=True, metavar="FILE",
              help="Write the template to FILE (atomically; missing folders are created), or '-' for stdout.")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True, help="Template format.")
@click.option("--force", is_flag=True, help="Overwrite FILE even if msgen did not write it.")
def bootstrap(env: str, region: str | None, github_repo: str | None, output: str, fmt: str, force: bool) -> None:
    """Generate the account-level stack of an environment (once per account, Region and environment).

    It holds what deploys need and what belongs to the account rather than a
    service: the artifact bucket `msgen deploy` uploads to (its name in SSM at
    /msgen/NAME/bootstrap/artifact-bucket), API Gateway's account logging role,
    the account-level alarms (Lambda ClaimedAccountConcurrency, DynamoDB
    UserErrors) and, with --github-repo, GitHub's OIDC provider and a deploy
    role. Stack parameters: AlarmEmail, AccountConcurrencyQuota (1000),
    DynamoDbUserErrorsThreshold, ExistingGitHubOidcProviderArn,
    ServiceStackNamePattern (*-NAME). No AWS call: this writes the template.

    \b
    Examples:
      msgen bootstrap --env dev > bootstrap-dev.yaml
      msgen bootstrap --env prod --region eu-west-1 --github-repo acme/payment-svc -o infra/bootstrap-prod.yaml
      aws cloudformation deploy --stack-name msgen-bootstrap-prod --template-file infra/bootstrap-prod.yaml \\
          --capabilities CAPABILITY_IAM --parameter-overrides AlarmEmail=oncall@example.com
    """
    from generator import api
    from generator.bootstrap import bootstrap_template, stack_name
    from generator.lint import check_regions

    if region is not None:
        check_regions((region,))
    text = bootstrap_template(env, github_repo, fmt)
    if output == "-":
        click.echo(text, nl=False)
        where = "FILE"
    else:
        api.write_atomic(Path(output), text, force=force)
        click.echo(f"wrote {output}", err=True)
        where = shlex.quote(output)
    flags = f" --region {shlex.quote(region)}" if region else ""
    click.echo(f"next: aws cloudformation deploy --stack-name {stack_name(env)} --template-file {where} --capabilities CAPABILITY_IAM{flags}",
               err=True)


FLEET_HELP = "FLEET is a fleet file (fleet.yaml), a folder holding one, or the name of a fleet blueprint (shop)."


@main.group(epilog=EPILOG)
def fleet() -> None:
    """Work on a fleet: several services listed in one fleet.yaml (docs/fleet.md).

    The fleet file names the fleet, its owner, its environments (each must be
    an environment of every service), the services' spec files (relative to it)
    and fleet-wide settings. Every command checks the fleet as a whole first:
    each spec, and the calls and events between the services.

    \b
    Examples:
      msgen fleet validate shop                          # the shop blueprint (five services)
      msgen fleet graph fleet.yaml > fleet.mmd           # Mermaid: calls, events, deploy order
      msgen fleet synth fleet.yaml -o build/             # build/fleet/<env>/, build/services/<service>/<env>/
      msgen fleet deploy fleet.yaml --env dev --artifact ui-svc=ui.zip ...
      msgen fleet new shop -o ~/src                      # every repository, plus shop-fleet/
    """


def _load_fleet(name: str):
    from generator.fleet import commands

    loaded = commands.load(name)
    for warning in loaded.warnings:
        click.echo(f"{warning.file}:{warning.line}:{warning.column}: {warning.path}: warning: {warning.message}", err=True)
    return commands, loaded


@fleet.command("validate", epilog=EPILOG)
@click.argument("fleet_file", metavar="FLEET")
def fleet_validate(fleet_file: str) -> None:
    """Check a fleet file, every spec it lists, and the calls and events between them.

    Every problem is reported as FILE:LINE:COL: path: message, in the file that
    has it (a call to a missing route at the caller's `uses:` line); an event
    that nobody listens for is a warning. FLEET is a fleet file, a folder
    holding fleet.yaml, or a fleet blueprint's name.

    \b
    Examples:
      msgen fleet validate fleet.yaml
      msgen fleet validate shop
    """
    _, loaded = _load_fleet(fleet_file)
    refs = loaded.refs.values()
    calls, events = sum(len(r.calls) for r in refs), sum(len(r.listens) for r in refs)
    click.echo(f"{loaded.display}: OK (fleet {loaded.fleet.name}, {len(loaded.services)} services, "
               f"{len(loaded.fleet.environments)} environments, {calls} calls, {events} event subscriptions)", err=True)


@fleet.command("synth", epilog=EPILOG)
@click.argument("fleet_file", metavar="FLEET")
@click.option("-o", "--output", "output", required=True, metavar="DIR",
              help="Write every template under DIR, all or nothing: DIR/fleet/<env>/template.yaml (the fleet stack) and "
              "DIR/services/<service>/<env>/template.yaml. DIR is replaced whole.")
@click.option("--env", "env", metavar="NAME", help="Only this environment of the fleet.")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True, help="Template format.")
@click.option("--force", is_flag=True, help="Replace DIR even if msgen fleet synth did not write it (an empty DIR needs no --force).")
@click.option("--no-cache", is_flag=True, help="Synthesize every service afresh (or set MSGEN_NO_CACHE=1).")
def fleet_synth(fleet_file: str, output: str, env: str | None, fmt: str, force: bool, no_cache: bool) -> None:
    """Synthesize the fleet stack and every service's templates into DIR.

    Each service goes through the synth cache like `msgen synth`; the same
    fleet always gives byte-identical files. Nothing is written unless every
    template could be made.

    \b
    Examples:
      msgen fleet synth fleet.yaml -o build/
      msgen fleet synth fleet.yaml --env prod -o build/prod/ --format json
    """
    commands, loaded = _load_fleet(fleet_file)
    written = commands.synth(loaded, Path(output), env, fmt, force=force, use_cache=not no_cache)
    for rel in written:
        click.echo(str(Path(output) / rel))
    click.echo(f"wrote {len(written)} templates under {output}", err=True)


@fleet.command("lint", epilog=EPILOG)
@click.argument("fleet_file", metavar="FLEET")
@click.option("--region", "regions", multiple=True, default=["us-east-1"], show_default=True,
              help="Region to lint for; repeat for several, or ALL_REGIONS.")
@click.option("--info", is_flag=True, help="Also report cfn-lint's informational (I) findings.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), metavar="N", help="Lint over N processes (default: one per CPU).")
@click.option("--no-cache", is_flag=True, help="Synthesize and lint afresh, ignoring both caches (or set MSGEN_NO_CACHE=1).")
def fleet_lint(fleet_file: str, regions: tuple[str, ...], info: bool, jobs: int | None, no_cache: bool) -> None:
    """Lint every template of the fleet, every environment, in one run.

    The fleet stack's and every service's templates go through msgen's lint
    engine in one call: cfn-lint loaded once, the templates shared out over the
    CPUs. Findings print to stdout as FILE:LINE:COL: RULE message, FILE naming
    the template as `msgen fleet synth` lays them out (fleet/<env>/template.yaml,
    services/<service>/<env>/template.yaml).

    \b
    Examples:
      msgen fleet lint fleet.yaml
      msgen fleet lint shop --no-cache --region eu-west-1
    """
    commands, loaded = _load_fleet(fleet_file)
    results = commands.lint(loaded, tuple(regions), info=info, jobs=jobs, use_cache=not no_cache)
    total = 0
    for findings in results.values():
        for f in findings:
            click.echo(str(f))
        total += len(findings)
    bad = sum(1 for findings in results.values() if findings)
    click.echo(f"msgen: {total} finding{'s' if total != 1 else ''} in {bad} of {len(results)} templates" if total
               else f"msgen: fleet {loaded.fleet.name}: {len(results)} templates: no findings", err=True)
    if total:
        sys.exit(EXIT_FINDINGS)


@fleet.command("graph", epilog=EPILOG)
@click.argument("fleet_file", metavar="FLEET")
@click.option("--order", "only_order", is_flag=True, help="Print only the deploy order, one service a line (callees first).")
def fleet_graph(fleet_file: str, only_order: bool) -> None:
    """Print the fleet as a Mermaid flowchart: services, calls, events, deploy order.

    Solid arrows are calls (caller to callee, labelled with the routes), dotted
    arrows events (emitter to listener, labelled with the detail-type); each
    service is numbered in deploy order (after the fleet stack, callees before
    their callers). Paste it into a Markdown ```mermaid block.

    \b
    Examples:
      msgen fleet graph fleet.yaml > docs/fleet.mmd
      msgen fleet graph shop --order
    """
    commands, loaded = _load_fleet(fleet_file)
    if only_order:
        for name in commands.order(loaded):
            click.echo(name)
        return
    click.echo(commands.graph_text(loaded), nl=False)


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise click.UsageError(f"{option} {value}: write it as SERVICE=VALUE")
        if name in out:
            raise click.UsageError(f"{option} {name}=...: given twice")
        out[name] = rest
    return out


@fleet.command("deploy", epilog=DEPLOY_EPILOG)
@click.argument("fleet_file", metavar="FLEET")
@click.option("--env", "env", required=True, metavar="NAME", help="The environment to deploy (one of the fleet's).")
@click.option("--artifact", "artifacts", multiple=True, metavar="SERVICE=ZIP",
              help="A service's code package (`make package` in its repository); repeat for each service with functions.")
@click.option("--image", "images", multiple=True, metavar="SERVICE=URI", help="A hybrid service's container image; repeat for each.")
@click.option("--artifact-bucket", metavar="BUCKET", help="Upload here instead of the bucket `msgen bootstrap` published in SSM.")
@click.option("--yes", is_flag=True, help="Execute every change set without asking (CI).")
@click.option("--no-execute", is_flag=True, help="Create the change sets and leave them for review (a service whose callee is "
              "not deployed yet cannot resolve its SSM parameters: review the fleet stack first, then deploy).")
@click.option("--region", metavar="R", help="AWS Region (default: the standard AWS chain).")
def fleet_deploy(fleet_file: str, env: str, artifacts: tuple[str, ...], images: tuple[str, ...], artifact_bucket: str | None,
                 yes: bool, no_execute: bool, region: str | None) -> None:
    """Deploy an environment of the fleet: the fleet stack, then callees before callers.

    The fleet stack (event bus, dashboard, saved query; its names in SSM under
    /msgen/NAME/fleet/) goes first; then every service, as `msgen deploy` does,
    in the order `msgen fleet graph --order` prints: a caller resolves its
    callee's /msgen/NAME/<callee>/api-id and api-url when it deploys. Every
    service's inputs are checked before anything is deployed; the first failure
    stops the rest. Services that call each other in a cycle are refused, with
    how to bootstrap the cycle.

    \b
    Examples:
      msgen fleet deploy fleet.yaml --env dev --artifact ui-svc=ui/dist/function.zip \\
          --artifact catalog-svc=catalog/dist/function.zip ... --image checkout-svc=ECR_URI:TAG
      msgen fleet deploy fleet.yaml --env prod --yes ...      # CI
    """
    commands, loaded = _load_fleet(fleet_file)
    paths = {name: Path(zip_path) for name, zip_path in _pairs(artifacts, "--artifact").items()}
    confirm = None if yes else (lambda q: click.confirm(q, default=False, err=True))
    commands.deploy(loaded, env, artifacts=paths, images=_pairs(images, "--image"), execute=not no_execute, confirm=confirm,
                    region=region, artifact_bucket=artifact_bucket, echo=lambda m: click.echo(m, err=True))


@fleet.command("new", epilog=EPILOG)
@click.argument("fleet_file", metavar="FLEET")
@click.option("-o", "--output-dir", "parent", default=".", show_default=True, metavar="DIR",
              help="Parent directory: DIR/<service>/ for every service and DIR/<fleet>-fleet/.")
@click.option("--force", is_flag=True, help="Replace repositories that exist in DIR.")
def fleet_new(fleet_file: str, parent: str, force: bool) -> None:
    """Generate every service's repository and the fleet's own repository.

    Each service's repository is what `msgen new` makes from its spec. The
    fleet repository (DIR/<fleet>-fleet/) holds fleet.yaml (its service paths
    pointing at ../<service>/service.yaml), the fleet stack of each environment
    (infra/<env>/template.yaml), the Backstage catalogue and the graph. Nothing
    is written unless every repository could be made.

    \b
    Examples:
      msgen fleet new shop -o ~/src
      msgen fleet new fleet.yaml -o /tmp/fleet --force
    """
    commands, loaded = _load_fleet(fleet_file)
    created = commands.new(loaded, Path(parent), force=force)
    for path in created:
        click.echo(str(path))
    click.echo(f"created {len(created)} repositories in {parent}; next: cd {created[-1]} && msgen fleet validate fleet.yaml", err=True)


@fleet.command("status", epilog=UPDATE_EPILOG)
@click.argument("fleet_file", metavar="FLEET")
def fleet_status(fleet_file: str) -> None:
    """Each service's msgen version, and whether its repository is behind.

    A service's repository is the folder of its spec (as `msgen fleet new`
    lays them out); each line is the service, the msgen that last rendered
    it, and `current` or what `msgen update --check` says there. Exit 1 when
    any repository is behind.

    \b
    Example:
      msgen fleet status ~/src/shop-fleet/fleet.yaml
    """
    from generator import update as updater

    _, loaded = _load_fleet(fleet_file)
    rows = updater.fleet_status(loaded)
    width = max(len(name) for name, _, _ in rows)
    for name, version, reasons in rows:
        state = "current" if not reasons else "behind: " + "; ".join(reasons)
        click.echo(f"{name:<{width}}  msgen {version or '-':<8} {state}")
    behind = sum(1 for _, _, reasons in rows if reasons)
    click.echo(f"{loaded.display}: {len(rows) - behind} of {len(rows)} repositories current with msgen {__version__}", err=True)
    if behind:
        raise SystemExit(EXIT_FINDINGS)


def run(prog_name: str | None = "msgen") -> None:  # pragma: no cover - console-script shim (and python -m generator)
    try:
        main(prog_name=prog_name)
    finally:
        gc.freeze()  # the interpreter's last collection at exit would walk every object once more; they all die with the process


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
