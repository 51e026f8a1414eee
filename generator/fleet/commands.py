"""What ``msgen fleet synth|lint|graph|deploy|new`` do; the CLI (generator/cli.py) only parses options.

Layout of ``msgen fleet synth FLEET -o DIR``::

    DIR/fleet/<env>/template.yaml             the fleet stack (bus, archive, dashboard, saved query, health alarm)
    DIR/services/<service>/<env>/template.yaml   every service's stack, as `msgen synth SPEC -o DIR/services/<service>/`
                                                 (with template.NestedStackN.yaml beside it for a service split by its stack lock)

DIR is written whole or not at all: everything goes into a temporary folder beside DIR, which then takes DIR's
place. An existing DIR is replaced only when an earlier ``msgen fleet synth`` wrote it (it holds ``.msgen-fleet``)
or it is empty, or with ``force``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from generator.errors import InputError, OutputExistsError
from generator.fleet.loader import LoadedFleet, load_fleet

MARKER = ".msgen-fleet"
FLEET_DIR = "fleet"
SERVICES_DIR = "services"
SCHEMA_COPY = ".msgen/fleet.schema.json"  # in the fleet repository


def resolve_fleet(fleet: str) -> Path:
    """A FLEET argument is a fleet file, a folder holding fleet.yaml, or the name of a fleet blueprint (e.g. shop)."""
    path = Path(fleet)
    if path.is_dir():
        return path / "fleet.yaml"
    if path.exists() or os.sep in fleet or fleet.endswith((".yaml", ".yml")):
        return path
    from generator.resources import data_dir

    packaged = data_dir("blueprints") / "fleets" / fleet / "fleet.yaml"
    if packaged.is_file():
        return packaged
    known = sorted(p.parent.name for p in (data_dir("blueprints") / "fleets").glob("*/fleet.yaml"))
    raise InputError(f"{fleet}: no such file, and no fleet blueprint of that name (fleet blueprints: {', '.join(known) or 'none'})")


def load(fleet: str) -> LoadedFleet:
    return load_fleet(resolve_fleet(fleet))


def check_env(loaded: LoadedFleet, env: str | None) -> list[str]:
    """The environments to work on: ENV (which must be one of the fleet's), or all of them."""
    if env is None:
        return list(loaded.fleet.environments)
    if env not in loaded.fleet.environments:
        raise InputError(f"--env {env}: not an environment of fleet {loaded.fleet.name} ({loaded.display}); "
                         f"its environments are: {', '.join(loaded.fleet.environments)}")
    return [env]


def fleet_template(loaded: LoadedFleet, env: str, fmt: str = "yaml") -> str:
    from generator.fleet.stack import fleet_template as text

    return text(loaded, env, fmt)


def fleet_stack_name(loaded: LoadedFleet, env: str) -> str:
    from generator.fleet.stack import stack_name

    return stack_name(loaded.fleet.name, env)


def templates(loaded: LoadedFleet, env: str | None = None, fmt: str = "yaml", use_cache: bool = True) -> dict[str, str]:
    """Every template of the fleet for ENV (or every environment): {relative path: text}, fleet stack first, in order.

    Each service is synthesized through the per-service synth cache (generator.api.synth_environments)."""
    from generator import api

    envs = check_env(loaded, env)
    ext = ".json" if fmt == "json" else ".yaml"
    out: dict[str, str] = {}
    for e in envs:
        out[f"{FLEET_DIR}/{e}/template{ext}"] = fleet_template(loaded, e, fmt)
    for service, spec in loaded.services.items():
        result = api.synth_templates(str(spec.path), fmt, use_cache=use_cache, envs=list(envs))
        if result.nested and result.lock_changed:  # the lock belongs beside the spec, which fleet synth does not write
            state = "is out of date" if result.lock_path and result.lock_path.exists() else "does not exist yet"
            raise InputError(f"{service} needs nested stacks and its stack lock ({result.lock_path}) {state}: run msgen synth "
                             f"{shlex.quote(spec.display)} -o DIR once and commit the lock with the spec")
        for e in envs:
            for suffix, text in result.templates[e].items():  # "" the stack, ".NestedStackN" its nested stacks
                out[f"{SERVICES_DIR}/{service}/{e}/template{suffix}{ext}"] = text
    return out


def write_tree(folder: Path, files: dict[str, str], force: bool = False, marker: str | None = MARKER) -> None:
    """Write FILES (relative paths) as FOLDER, atomically: into a temporary folder beside it, which then replaces it."""
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: exists and is not a directory")
    if folder.is_dir() and not force and any(folder.iterdir()) and not (marker and (folder / marker).is_file()):
        raise OutputExistsError(f"{folder}: exists and was not written by msgen fleet; use --force to replace it")
    from generator import api

    parent = folder.parent
    made = api.make_dirs(parent)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=parent))
    except OSError as exc:
        api.remove_empty_dirs(made)
        raise InputError(f"{folder}: cannot write: {exc.strerror or exc}") from None
    old: Path | None = None
    try:
        for rel, text in files.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
        if marker:
            (tmp / marker).write_text("written by msgen fleet; replaced whole by the next run\n", encoding="utf-8")
        os.chmod(tmp, 0o755)
        if folder.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".old", dir=parent))
            os.replace(folder, old / "x")
        os.replace(tmp, folder)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and (old / "x").exists() and not folder.exists():
            os.replace(old / "x", folder)
        raise InputError(f"{folder}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and (old / "x").exists() and not folder.exists():
            os.replace(old / "x", folder)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def synth(loaded: LoadedFleet, folder: Path, env: str | None = None, fmt: str = "yaml", force: bool = False,
          use_cache: bool = True) -> list[str]:
    """`msgen fleet synth -o DIR`: the relative paths written."""
    files = templates(loaded, env, fmt, use_cache)
    write_tree(folder, files, force=force)
    return list(files)


def lint(loaded: LoadedFleet, regions: tuple[str, ...], info: bool = False, jobs: int | None = None,
         use_cache: bool = True) -> dict:
    """`msgen fleet lint`: every template of every environment through one lint_many call (one process pool)."""
    from generator.lint import check_regions, lint_many

    check_regions(regions)
    items = list(templates(loaded, None, "yaml", use_cache).items())
    return lint_many(items, regions, info=info, jobs=jobs, use_cache=use_cache)


def graph_text(loaded: LoadedFleet) -> str:
    from generator.fleet.graph import CallCycle, build_graph, deploy_order, mermaid

    g = build_graph(loaded)
    try:
        order = deploy_order(g)
    except CallCycle:
        order = None
    return mermaid(g, loaded.fleet.name, order)


def order(loaded: LoadedFleet, env: str | None = None) -> list[str]:
    """The services in deploy order (callees before callers). Raises CallCycle, with how to bootstrap it."""
    from generator.fleet.graph import CallCycle, build_graph, deploy_order

    try:
        return deploy_order(build_graph(loaded))
    except CallCycle as exc:
        raise CallCycle(exc.cycle, env) from None


# --- deploy ----------------------------------------------------------------------------------------------


def deploy(loaded: LoadedFleet, env: str, *, artifacts: dict[str, Path], images: dict[str, str], execute: bool = True,
           confirm: Callable[[str], bool] | None = None, region: str | None = None, artifact_bucket: str | None = None,
           echo: Callable[[str], None] = print, interval: float | None = None) -> list:
    """`msgen fleet deploy`: the fleet stack, then every service, callees before callers, each through generator.deploy.

    Every service's inputs (its code package, its image) are checked before anything is deployed. A deploy that
    fails stops the fleet's; the services after it are named."""
    from cfnlint.decode import decode_str

    from generator import api
    from generator import deploy as deployer

    check_env(loaded, env)
    sequence = order(loaded, env)
    for name in list(artifacts) + list(images):
        if name not in loaded.services:
            raise InputError(f"{name}=...: not a service of fleet {loaded.fleet.name} (its services: {', '.join(loaded.services)})")
    missing = []
    for name in sequence:
        parent = api.synth_templates(str(loaded.services[name].path), "yaml", envs=[env]).templates[env][""]  # nested: the parent's
        template, _ = decode_str(parent)
        params = template.get("Parameters") or {}
        if "ArtifactKey" in params and name not in artifacts:
            missing.append(f"--artifact {name}=ZIP (its code package, from `make package` in its repository)")
        if "ContainerImage" in params and name not in images:
            missing.append(f"--image {name}=URI (its container image, pushed)")
    if missing:
        raise InputError("missing for this fleet's deploy: " + "; ".join(missing))
    common = {"execute": execute, "confirm": confirm, "region": region, "artifact_bucket": artifact_bucket, "echo": echo,
              "interval": interval}
    # The fleet health alarm names every service's health alarm, which CloudWatch requires to exist: it is kept on the
    # first pass only when every service's stack is there already, and (re)created by a last pass after the services.
    everyone = _all_service_stacks_exist(loaded, env, region)
    outcomes = [deploy_fleet_stack(loaded, env, watch_services=everyone, **common)]
    echo(f"deploy order: {', '.join(sequence)}")
    for i, name in enumerate(sequence):
        echo(f"--- {name} ({i + 1} of {len(sequence)})")
        try:
            outcomes.append(deployer.deploy(loaded.services[name], env, artifact=artifacts.get(name), image=images.get(name),
                                            execute=execute, confirm=confirm, region=region, artifact_bucket=artifact_bucket,
                                            echo=echo, interval=interval))
        except Exception:
            rest = sequence[i + 1:]
            if rest:
                echo(f"msgen: {name} failed; not deployed: {', '.join(rest)}")
            raise
    if execute:
        echo(f"--- {fleet_stack_name(loaded, env)}: the fleet health alarm over every service's health alarm")
        outcomes.append(deploy_fleet_stack(loaded, env, watch_services=True, **common))
    return outcomes


def _all_service_stacks_exist(loaded: LoadedFleet, env: str, region: str | None) -> bool:
    from generator import deploy as d

    cf = d.session(region).client("cloudformation")
    for name in loaded.services:
        stack = d.describe_stack(cf, f"{name}-{env}")
        if stack is None or stack["StackStatus"] not in d.DONE and not stack["StackStatus"].startswith("UPDATE_"):
            return False
    return True


def deploy_fleet_stack(loaded: LoadedFleet, env: str, *, watch_services: bool = False, execute: bool = True, confirm: Callable[[str], bool] | None = None,
                       region: str | None = None, artifact_bucket: str | None = None, echo: Callable[[str], None] = print,
                       interval: float | None = None):
    """The fleet stack of ENV through a change set, as generator.deploy does for a service (data-loss guard included)."""
    import hashlib
    import time

    from cfnlint.decode import decode_str

    from generator import deploy as d
    from generator import diff as differ

    interval = d.POLL_SECONDS if interval is None else interval
    stack = fleet_stack_name(loaded, env)
    text = fleet_template(loaded, env)
    template, _ = decode_str(text)
    s = d.session(region)
    cf, s3 = s.client("cloudformation"), s.client("s3")
    bucket = d.find_artifact_bucket(s, env, artifact_bucket)
    existing = d.describe_stack(cf, stack)
    if existing is not None and d.stuck(existing, stack):
        raise d.DeployFailed(d.stuck(existing, stack) or "")
    creating = existing is None or existing["StackStatus"] == "REVIEW_IN_PROGRESS"
    if not creating:
        deployed = d._decode(d._call(f"get template of {stack}", cf.get_template, StackName=stack, TemplateStage="Original")["TemplateBody"])
        result = differ.compare(deployed, template)
        echo(differ.render_text(result, f"stack {stack}", f"{loaded.display} --env {env}", ()).rstrip("\n"))
        lost = [r.logical_id for r in result.unallowed(())]
        if lost:
            raise d.DeployFailed(f"refused: this release of the fleet stack loses data in {', '.join(lost)}; nothing was changed")
    body = text.encode("utf-8")
    key = f"fleet-{loaded.fleet.name}/{env}/templates/{hashlib.sha256(body).hexdigest()}.yaml"
    d._upload(s3, bucket, key, body)
    url = f"https://{bucket}.s3.{s.region_name}.amazonaws.com/{key}"
    from generator.fleet.stack import HEALTH_PARAMETER

    declared = template.get("Parameters") or {}
    values = {"Environment": env, HEALTH_PARAMETER: "true" if watch_services else "false"}
    params = [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items() if k in declared]
    name = f"msgen-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    created = d._call(f"create change set for {stack}", cf.create_change_set, StackName=stack, ChangeSetName=name,
                      ChangeSetType="CREATE" if creating else "UPDATE", TemplateURL=url, Capabilities=d.CAPABILITIES,
                      Parameters=params, Description=f"msgen fleet deploy {loaded.display} --env {env}")
    cs_id = created["Id"]
    cs = d._wait_change_set(cf, cs_id, interval)
    if cs["Status"] == "FAILED":
        reason = cs.get("StatusReason", "")
        if any(m in reason for m in d.NO_CHANGES):
            d._call("delete empty change set", cf.delete_change_set, ChangeSetName=cs_id)
            echo(f"stack {stack}: no changes; nothing to deploy (the empty change set was deleted)")
            return d.Outcome(stack, "no changes")
        raise d.DeployFailed(f"change set {name} for stack {stack} failed: {reason or 'no reason given'}")
    changes = cs.get("Changes", [])
    echo(f"change set {name} ({'create' if creating else 'update'} stack {stack}), {len(changes)} resource changes:")
    for line in d.change_set_summary(changes):
        echo(line)
    if not execute:
        echo(f"change set left for review: {cs_id}")
        return d.Outcome(stack, "change set left for review", cs_id)
    if confirm is not None and not confirm(f"Execute change set {name} on stack {stack}?"):
        echo(f"not executed; change set left for review: {cs_id}")
        return d.Outcome(stack, "declined", cs_id)
    events = d.Events(cf, cs.get("StackId") or stack, echo)
    events.mark_seen()
    d._call(f"execute change set {name}", cf.execute_change_set, ChangeSetName=cs_id)
    echo(f"{'creating' if creating else 'updating'} stack {stack}:")
    status = d.wait_stack(cf, cs.get("StackId", stack), events, interval)
    if status not in d.DONE:
        raise d.DeployFailed(d.failure_text(stack, status, events.failures))
    echo(f"stack {stack}: {status}")
    return d.Outcome(stack, "created" if creating else "updated", cs_id)


# --- new -------------------------------------------------------------------------------------------------


def fleet_repo_name(loaded: LoadedFleet) -> str:
    return f"{loaded.fleet.name}-fleet"


def new(loaded: LoadedFleet, parent: Path, force: bool = False) -> list[Path]:
    """`msgen fleet new -o DIR`: DIR/<service>/ for every service (as `msgen new`) and DIR/<fleet>-fleet/ (fleet.yaml
    pointing at ../<service>/service.yaml, the fleet stack per environment, the catalogue and the graph).

    Everything is rendered into a temporary folder inside DIR first; only when all of it succeeded are the
    repositories moved into place. Without ``force`` an existing repository folder is an error (nothing written)."""
    from generator import api

    names = [*loaded.services, fleet_repo_name(loaded)]
    if fleet_repo_name(loaded) in loaded.services:
        raise InputError(f"a service is named {fleet_repo_name(loaded)}, the name of the fleet's own repository; rename one")
    existing = [parent / n for n in names if (parent / n).exists() or (parent / n).is_symlink()]
    if existing and not force:
        raise OutputExistsError(f"{', '.join(map(str, existing))}: exist{'s' if len(existing) == 1 else ''}; "
                                "use --force to replace them")
    made = api.make_dirs(parent)
    try:
        work = Path(tempfile.mkdtemp(prefix=".msgen-fleet-new.", dir=parent))
    except OSError as exc:
        api.remove_empty_dirs(made)
        raise InputError(f"{parent}: cannot write: {exc.strerror or exc}") from None
    try:
        for name, spec in loaded.services.items():
            api.new_repo(name, work, spec_file=str(spec.path))
            _fleet_catalog_entry(loaded, name, work / name)
        _fleet_repo(loaded, work / fleet_repo_name(loaded))
        for n in names:
            target = parent / n
            if target.is_symlink() or target.is_file():
                target.unlink()
            elif target.exists():
                shutil.rmtree(target)
            os.replace(work / n, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        api.remove_empty_dirs(made)
        raise
    shutil.rmtree(work, ignore_errors=True)
    return [parent / n for n in names]


def _fleet_catalog_entry(loaded: LoadedFleet, name: str, repo: Path) -> None:
    """The service's catalog-info.yaml names its system (the fleet) when the catalogue module can say so."""
    try:
        from generator.fleet.catalog import catalog_info
    except ImportError:  # pragma: no cover - the catalogue lands with the fleet stack
        return
    (repo / "catalog-info.yaml").write_text(catalog_info(loaded.services[name], loaded.fleet.name), encoding="utf-8")


def fleet_file_for_repos(loaded: LoadedFleet) -> str:
    """The fleet file of the fleet repository: the original text (comments and layout kept) with each service's path
    pointing at ../<service>/service.yaml, where `msgen fleet new` puts its repository."""
    lines = loaded.path.read_text(encoding="utf-8").splitlines(keepends=True)
    for i, row in enumerate(lines):  # the editor's schema is the repository's own copy
        if row.startswith("# yaml-language-server: $schema="):
            lines[i] = f"# yaml-language-server: $schema={SCHEMA_COPY}\n"
    for index, service in sorted(_entries(loaded), reverse=True):
        line, col = loaded.located.values[("services", index)]
        row = lines[line - 1]
        value = loaded.located.data["services"][index]
        start = col - 1
        quoted = row[start:start + 1] in ("'", '"')
        found = row.find(value, start)
        if found < 0:  # written in a form this rewrite does not follow (a folded scalar): leave it
            continue
        end = found + len(value) + (1 if quoted else 0)
        lines[line - 1] = row[:start] + f"../{service}/service.yaml" + row[end:]
    return "".join(lines)


def _entries(loaded: LoadedFleet) -> list[tuple[int, str]]:
    out = []
    paths = loaded.located.data["services"]
    by_path = {str(spec.path): name for name, spec in loaded.services.items()}
    for i, entry in enumerate(paths):
        name = by_path.get(os.path.normpath(loaded.directory / entry))
        if name:
            out.append((i, name))
    return out


def _fleet_repo(loaded: LoadedFleet, repo: Path) -> None:
    from generator.fleet.model import json_schema

    files: dict[str, str] = {"fleet.yaml": fleet_file_for_repos(loaded), SCHEMA_COPY: json_schema()}
    for env in loaded.fleet.environments:
        files[f"infra/{env}/template.yaml"] = fleet_template(loaded, env)
    try:
        from generator.fleet.catalog import fleet_catalog
    except ImportError:  # pragma: no cover - the catalogue lands with the fleet stack
        fleet_catalog = None
    if fleet_catalog is not None:
        files["catalog-info.yaml"] = fleet_catalog(loaded)
    graph = graph_text(loaded)
    files["graph.mmd"] = graph
    files["README.md"] = _fleet_readme(loaded, graph)
    for rel, text in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")


def _fleet_readme(loaded: LoadedFleet, graph: str) -> str:
    f = loaded.fleet
    try:
        sequence = ", ".join(order(loaded))
    except Exception:  # a call cycle: the graph says so
        sequence = "none: the services call each other in a cycle (see docs/fleet.md of msgen on bootstrapping it)"
    services = "\n".join(f"- [{name}](../{name}/) ({loaded.services[name].spec.pattern}): {loaded.services[name].spec.description}"
                         for name in loaded.services)
    envs = ", ".join(f.environments)
    first = f.environments[0]
    return f"""# {f.name} fleet

{(f.description or f'The {f.name} fleet of msgen services').rstrip('.')}. Owner: {f.owner}.

Services (each in its own repository, side by side with this one):

{services}

Environments: {envs}. Deploy order (callees before their callers, after the fleet stack): {sequence}.

```mermaid
{graph}```

## Files

- `fleet.yaml`: the fleet file; its service paths point at `../<service>/service.yaml`.
- `infra/<env>/template.yaml`: the fleet stack of each environment (the event bus with its archive and dead-letter queue,
  the fleet dashboard, the saved correlation-id query, the fleet health alarm).
- `catalog-info.yaml`: the fleet's Backstage System; every service repository has its own Component entry.
- `graph.mmd`: the graph above.
- `.msgen/fleet.schema.json`: the JSON Schema of the fleet file (for editors).

## Commands

```sh
msgen fleet validate fleet.yaml
msgen fleet lint fleet.yaml
msgen fleet synth fleet.yaml -o build/ --force      # build/fleet/<env>/, build/services/<service>/<env>/
msgen fleet deploy fleet.yaml --env {first} --artifact <service>=<zip> ...   # fleet stack first, then callees before callers
```
"""
