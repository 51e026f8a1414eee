"""`msgen deploy` and `msgen destroy`: a spec's environment to a CloudFormation stack, through a change set.

msgen never builds code here: the artifact that `make package` built is uploaded as it is, under a key made
from its sha256, so the same artifact is promoted unchanged through the environments. boto3 is imported only
by these commands (synth, diff and lint make no AWS call).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator import staging
from generator.errors import EXIT_FINDINGS, InputError, MsgenError
from generator.synth.nesting import NESTED_TYPE, moved_to_nested, nested_stacks

ARTIFACT_BUCKET_PARAMETER = "/msgen/{env}/bootstrap/artifact-bucket"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
FAILED_END = {"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED",
              "DELETE_FAILED", "DELETE_COMPLETE", "UPDATE_FAILED", "IMPORT_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_FAILED"}
RETAINING = {"Retain", "RetainExceptOnCreate", "Snapshot"}
POLL_SECONDS = 5.0  # between describe calls while a change set or stack is in progress
NO_CHANGES = ("didn't contain changes", "No updates are to be performed", "no changes")

Echo = Callable[[str], None]


class DeployFailed(MsgenError):
    """The stack or its change set failed, or the data-loss guard refused the release (exit 1)."""

    exit_code = EXIT_FINDINGS


@dataclass
class Outcome:
    stack: str
    status: str  # created, updated, no changes, change set left for review, declined, destroyed, absent
    change_set: str = ""
    left_behind: list[tuple[str, str, str, str]] = field(default_factory=list)  # (logical id, type, physical id, policy)


def _boto3():
    try:
        import boto3
        import botocore.exceptions
    except ImportError:  # pragma: no cover - boto3 is a dependency
        raise InputError("msgen deploy needs boto3: pip install boto3") from None
    return boto3, botocore.exceptions


def session(region: str | None = None):
    """A boto3 session from the standard chain (environment, profile, SSO, instance role); a clear error, exit 2,
    when it finds no credentials or no Region."""
    boto3, exc = _boto3()
    try:
        s = boto3.Session(region_name=region) if region else boto3.Session()
        creds = s.get_credentials()
    except exc.BotoCoreError as e:  # a broken profile, an expired SSO token
        raise InputError(f"AWS credentials: {e}") from None
    if creds is None:
        raise InputError("no AWS credentials found: set AWS_PROFILE, run `aws configure` or `aws sso login`, or set "
                         "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the standard AWS credential chain)")
    if not s.region_name:
        raise InputError("no AWS Region: give --region, or set AWS_REGION (or a region in your AWS profile)")
    return s


def _call(what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    """One AWS call; an AWS error becomes a message (exit 1 for a refusal by AWS, 2 for missing credentials)."""
    _, exc = _boto3()
    try:
        return fn(**kwargs)
    except exc.NoCredentialsError:
        raise InputError("no AWS credentials found (the standard AWS credential chain)") from None
    except exc.ClientError as e:
        err = e.response.get("Error", {})
        raise DeployFailed(f"{what}: {err.get('Code', 'error')}: {err.get('Message', e)}") from None
    except exc.BotoCoreError as e:
        raise DeployFailed(f"{what}: {e}") from None
    except Exception as e:  # botocore's parser errors are not BotoCoreErrors
        if type(e).__module__.startswith("botocore."):
            raise DeployFailed(f"{what}: {e}") from None
        raise


def _error_code(e: Exception) -> str:
    return str(getattr(e, "response", {}).get("Error", {}).get("Code", ""))


def describe_stack(cf, name: str) -> dict | None:
    _, exc = _boto3()
    try:
        return cf.describe_stacks(StackName=name)["Stacks"][0]
    except exc.ClientError as e:
        if "does not exist" in str(e):
            return None
        raise DeployFailed(f"describe stack {name}: {e.response.get('Error', {}).get('Message', e)}") from None
    except exc.NoCredentialsError:
        raise InputError("no AWS credentials found (the standard AWS credential chain)") from None


def stuck(stack: dict, name: str) -> str | None:
    """What to do about a stack in a state no change set can start from (None when a deploy can go on)."""
    status = stack["StackStatus"]
    if status == "ROLLBACK_COMPLETE":
        return (f"stack {name} is in ROLLBACK_COMPLETE: its first create failed and rolled back, and CloudFormation cannot "
                f"update it. Delete it (msgen destroy SPEC --env ENV, or aws cloudformation delete-stack --stack-name {name}) "
                "and deploy again")
    if status == "UPDATE_ROLLBACK_FAILED":
        return (f"stack {name} is in UPDATE_ROLLBACK_FAILED: a rollback could not restore some resources. Fix what the events "
                f"name, then run: aws cloudformation continue-update-rollback --stack-name {name} "
                "(--resources-to-skip for resources that cannot be restored), and deploy again")
    if status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        return f"stack {name} is busy ({status}); wait until it finishes and deploy again"
    if status in ("ROLLBACK_FAILED", "DELETE_FAILED"):
        return f"stack {name} is in {status}; see its events, then delete it (msgen destroy) and deploy again"
    return None


def sha256_file(path: Path) -> tuple[str, str]:
    """(hex digest, base64 digest as Lambda's CodeSha256 reports it) of a file."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest(), base64.b64encode(h.digest()).decode("ascii")


def find_artifact_bucket(s, env: str, given: str | None) -> str:
    if given:
        return given
    name = ARTIFACT_BUCKET_PARAMETER.format(env=env)
    _, exc = _boto3()
    try:
        return s.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
    except exc.NoCredentialsError:
        raise InputError("no AWS credentials found (the standard AWS credential chain)") from None
    except exc.ClientError as e:
        if _error_code(e) == "ParameterNotFound":
            raise InputError(f"no artifact bucket for {env}: the SSM parameter {name} does not exist; run "
                             f"`msgen bootstrap --env {env}` once in this account and Region, or give --artifact-bucket") from None
        raise DeployFailed(f"read SSM parameter {name}: {e.response.get('Error', {}).get('Message', e)}") from None


def _upload(s3, bucket: str, key: str, body: bytes | Path) -> None:
    _, exc = _boto3()
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return  # content-addressed: the same bytes are there already
    except exc.ClientError:
        pass
    data = body.read_bytes() if isinstance(body, Path) else body
    _call(f"upload s3://{bucket}/{key}", s3.put_object, Bucket=bucket, Key=key, Body=data)


def nested_template_key(service: str, body: bytes, ext: str = "yaml") -> str:
    """The artifact-bucket key of a nested template: content-addressed, as the parent's TemplateURL names it."""
    return f"{service}/templates/{hashlib.sha256(body).hexdigest()}.{ext}"


def _template_parameters(template: dict) -> dict:
    params = template.get("Parameters")
    return params if isinstance(params, dict) else {}


def parameter_values(template: dict, env: str, bucket: str, artifact_key: str | None, code_sha: str | None,
                     image: str | None) -> list[dict[str, str]]:
    """The template's parameters that msgen fills; any other parameter keeps its default."""
    values = {"Environment": env, "ArtifactBucket": bucket, "ArtifactKey": artifact_key, "CodeSha256": code_sha,
              "ContainerImage": image}
    return [{"ParameterKey": k, "ParameterValue": str(values[k])}
            for k in _template_parameters(template) if values.get(k) is not None]


def _decode(body: Any) -> dict:
    if isinstance(body, dict):
        return body
    from cfnlint.decode import decode_str

    template, _ = decode_str(body)
    return template if isinstance(template, dict) else {}


@dataclass
class Events:
    """Prints a stack's new events as they happen (describe_stack_events returns the newest first)."""

    cf: Any
    stack: str
    echo: Echo
    since: Any = None
    seen: set[str] = field(default_factory=set)
    failures: list[dict] = field(default_factory=list)

    def poll(self) -> None:
        _, exc = _boto3()
        try:
            events = self.cf.describe_stack_events(StackName=self.stack)["StackEvents"]
        except exc.ClientError:
            return  # a deleted stack has no events by name
        new = []
        for e in events:
            if e["EventId"] in self.seen:
                break
            new.append(e)
        for e in reversed(new):
            self.seen.add(e["EventId"])
            if self.since is not None and e["Timestamp"] < self.since:
                continue
            reason = f"  {e['ResourceStatusReason']}" if e.get("ResourceStatusReason") else ""
            self.echo(f"  {e['Timestamp']:%H:%M:%S}  {e['ResourceStatus']:<28} {e['LogicalResourceId']} ({e.get('ResourceType', '')}){reason}")
            if e["ResourceStatus"].endswith("_FAILED"):
                self.failures.append(e)

    def mark_seen(self) -> None:
        _, exc = _boto3()
        try:
            for e in self.cf.describe_stack_events(StackName=self.stack)["StackEvents"]:
                self.seen.add(e["EventId"])
        except exc.ClientError:
            pass


def wait_stack(cf, stack_id: str, events: Events, interval: float, deleting: bool = False, timeout: float = 3 * 3600) -> str:
    """Poll until the stack leaves *_IN_PROGRESS; print events meanwhile; the final status."""
    _, exc = _boto3()
    start = time.monotonic()
    while True:
        events.poll()
        try:
            status = cf.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
        except exc.ClientError as e:
            if deleting and "does not exist" in str(e):
                return "DELETE_COMPLETE"
            raise DeployFailed(f"describe stack: {e.response.get('Error', {}).get('Message', e)}") from None
        if not status.endswith("_IN_PROGRESS"):
            events.poll()
            return status
        if time.monotonic() - start > timeout:
            raise DeployFailed(f"stack {stack_id} still {status} after {timeout:.0f} s; see its events")
        time.sleep(interval)


def failure_text(stack: str, status: str, failures: list[dict], reason: str = "") -> str:
    lines = [f"stack {stack} ended in {status}" + (f": {reason}" if reason else "")]
    if failures:
        lines.append("failed resources:")
        for e in failures:
            lines.append(f"  {e['LogicalResourceId']} ({e.get('ResourceType', '')}): {e['ResourceStatus']}: "
                         f"{e.get('ResourceStatusReason') or 'no reason given'}")
    return "\n".join(lines)


def change_set_summary(changes: list[dict]) -> list[str]:
    marks = {"Add": "+", "Modify": "~", "Remove": "-", "Import": ">", "Dynamic": "?"}
    lines = []
    for c in changes:
        rc = c.get("ResourceChange", {})
        action = rc.get("Action", "?")
        replace = rc.get("Replacement")
        extra = " (replacement)" if replace == "True" else " (may be replaced)" if replace == "Conditional" else ""
        lines.append(f"  {marks.get(action, '?')} {action:<7} {rc.get('LogicalResourceId', '')}  {rc.get('ResourceType', '')}{extra}")
    return lines


def deploy(loaded, env: str, *, artifact: Path | None = None, image: str | None = None, stack_name: str | None = None,
           execute: bool = True, confirm: Callable[[str], bool] | None = None, allowed: Iterable[str] = (),
           region: str | None = None, artifact_bucket: str | None = None, echo: Echo = print, interval: float | None = None) -> Outcome:
    """Deploy LOADED's environment ENV. ``confirm`` is asked before executing (None: execute without asking)."""
    from cfnlint.decode import decode_str

    from generator import api
    from generator import diff as differ

    api.check_env(loaded, env)
    interval = POLL_SECONDS if interval is None else interval
    stack = stack_name or f"{loaded.spec.service}-{env}"
    text, nested = api.synth_stacks(loaded, env)  # nested: a split service's nested templates (generator.synth.nesting)
    template, _ = decode_str(text)
    params = _template_parameters(template)
    if "ArtifactKey" in params and artifact is None:
        raise InputError("--artifact ZIP is required: the code package that `make package` built (msgen deploy never builds code)")
    if artifact is not None and not artifact.is_file():
        raise InputError(f"{artifact}: no such file (the code package that `make package` builds)")
    if "ContainerImage" in params and not image:
        raise InputError("--image URI is required: this service runs a container (an image URI with a tag or digest, pushed before deploying)")

    s = session(region)
    cf, s3 = s.client("cloudformation"), s.client("s3")
    bucket = find_artifact_bucket(s, env, artifact_bucket)
    existing = describe_stack(cf, stack)
    if existing is not None:
        problem = stuck(existing, stack)
        if problem:
            raise DeployFailed(problem)
    creating = existing is None or existing["StackStatus"] == "REVIEW_IN_PROGRESS"

    deployed: dict | None = None
    children: dict[str, dict] | None = None
    if not creating:  # the data-loss guard, against what is deployed
        deployed = _decode(_call(f"get template of {stack}", cf.get_template, StackName=stack, TemplateStage="Original")["TemplateBody"])
        result = differ.compare(deployed, template)
        echo(differ.render_text(result, f"stack {stack}", f"{loaded.display} --env {env}", tuple(allowed)).rstrip("\n"))
        if nested:  # before the data-loss guard: --allow-data-loss cannot make a move work
            children = {n: _decode(t) for n, t in nested.items()}
            _refuse_moves(moved_to_nested(deployed, template, children), deployed, loaded, env, stack, echo)
        lost = {r.logical_id for r in result.data_loss}
        for lid in dict.fromkeys(allowed):
            if lid not in lost:
                echo(f"msgen: --allow-data-loss {lid}: no data loss on {lid} in this release; ignored")
        unallowed = [r.logical_id for r in result.unallowed(allowed)]
        if unallowed:
            flags = " ".join(f"--allow-data-loss {lid}" for lid in unallowed)
            raise DeployFailed(f"refused: this release loses data in {', '.join(unallowed)}; nothing was changed. "
                               f"If that is intended, deploy again with {flags}")

    artifact_key = code_sha = None
    if artifact is not None:
        hexdigest, code_sha = sha256_file(artifact)
        artifact_key = f"{loaded.spec.service}/artifacts/{hexdigest}.zip"
        _upload(s3, bucket, artifact_key, artifact)
        echo(f"artifact: s3://{bucket}/{artifact_key}")
    for name, child in nested.items():  # where the parent's TemplateURL points: <service>/templates/<sha256>.yaml
        data = child.encode("utf-8")
        key = nested_template_key(loaded.spec.service, data)
        _upload(s3, bucket, key, data)
        echo(f"nested stack {name}: s3://{bucket}/{key}")
    values = parameter_values(template, env, bucket, artifact_key, code_sha, image)
    stages = _stages(loaded, env, cf, template, text, nested, values, None if creating else deployed,
                     None if creating else existing, tuple(allowed), children) if nested else [staging.Stage(1, 1, text)]
    if len(stages) > 1:
        quota = staging.NESTED_OPERATION_QUOTA
        echo(f"msgen: this release creates, updates or deletes {sum(st.resources for st in stages):,} resources of nested stacks; "
             f"CloudFormation allows {quota:,} in one operation (quota 'Nested stacks'): deploying in {len(stages)} stages, "
             "a change set each")
    outcome = Outcome(stack, "no changes")
    for st in stages:
        staged = len(stages) > 1
        if staged:
            echo(st.describe())
        try:
            outcome = _apply(cf, s3, s.region_name, bucket, loaded, env, stack, st.text, values, creating, execute, confirm, echo,
                             interval, st if staged else None)
        except DeployFailed as e:
            if staged and st.number > 1:
                raise DeployFailed(f"{e}\nstage {st.number} of {st.total} failed; stages 1 to {st.number - 1} are deployed. Fix the "
                                   "cause and run msgen deploy again: it plans the remaining stages from what is deployed") from None
            raise
        if outcome.status not in ("created", "updated", "no changes"):
            if staged and st.number < st.total:
                echo(f"stage {st.number} of {st.total} not executed; once it is, run msgen deploy again for the remaining stages "
                     "(it plans them from what is deployed)")
            return outcome
        creating = False
    return outcome


def _refuse_moves(moves: dict[str, dict[str, str]], deployed: dict, loaded, env: str, stack: str, echo: Echo) -> None:
    """A move from the deployed parent into a nested stack is a delete plus a create: refuse it before changing anything."""
    if not moves:
        return
    import shlex

    from generator import stacklock

    total = sum(len(m) for m in moves.values())
    echo(f"msgen: resources that stack {stack} holds and this release moves into nested stacks:")
    for name, members in moves.items():
        for lid, kind in members.items():
            echo(f"  {lid} ({kind}) -> {name}")
    where = "; ".join(f"{name}: {', '.join(list(m)[:8])}" + (f" and {len(m) - 8} more" if len(m) > 8 else "") for name, m in moves.items())
    spec = shlex.quote(loaded.display)
    lock = stacklock.path_for(loaded.path)
    raise DeployFailed(
        f"refused: this release moves {total} resources that stack {stack} holds into nested stacks ({where}); nothing was changed. "
        "CloudFormation would create each again in its nested stack before deleting it from the parent: a resource with a fixed name "
        "(a log group's LogGroupName, an alarm's AlarmName) fails to create while the deployed one exists, and a retained one "
        "(DeletionPolicy Retain) stays behind, detached. " + (
            f"The stack lock {lock} is not the one this stack was deployed with (a lock is append-only; a new one places anew): "
            "restore the deployed lock from version control, run msgen synth again and deploy"
            if nested_stacks(deployed)
            else "The stack lock placed them so because the first split was synthesized without the single template deployed before. "
            f"Put that template at the output path (msgen synth {spec} -o infra/ reads infra/{env}/template.yaml; "
            f"aws cloudformation get-template --stack-name {stack} prints the deployed one), delete {lock}, run msgen synth {spec} "
            f"-o infra/ again so the parent keeps what {stack} holds, commit the lock, and deploy again"))


def _stages(loaded, env: str, cf, template: dict, text: str, nested: dict[str, str], values: list[dict[str, str]],
            deployed: dict | None, existing: dict | None, allowed: tuple[str, ...],
            children: dict[str, dict] | None = None) -> list[staging.Stage]:
    """The stages of a split service's release (one when it is under the nested-stack quota), planned before any change.
    CHILDREN: the nested templates, decoded (when the caller has them)."""
    from generator import stacklock
    from generator.synth.pipeline import render

    children = children if children is not None else {n: _decode(t) for n, t in nested.items()}
    deployed_stacks = nested_stacks(deployed or {})
    total = sum(len(c.get("Resources") or {}) for c in children.values())
    if not deployed_stacks and total <= staging.NESTED_OPERATION_QUOTA:
        return [staging.Stage(1, 1, text)]  # no nested stack yet, and all of them fit one operation
    lock = stacklock.read(stacklock.path_for(loaded.path), loaded.spec.service)
    state = None
    if deployed is not None and existing is not None:
        state = staging.Deployed(deployed, {p["ParameterKey"]: p.get("ParameterValue", "") for p in existing.get("Parameters", [])})
        physical: dict[str, str] = {}
        for page in cf.get_paginator("list_stack_resources").paginate(StackName=existing["StackId"]):
            for r in page.get("StackResourceSummaries", []):
                if r.get("ResourceType") == NESTED_TYPE and r.get("PhysicalResourceId"):
                    physical[r["LogicalResourceId"]] = r["PhysicalResourceId"]
        for name, body in nested_stacks(deployed).items():
            if name not in physical:
                continue
            child = describe_stack(cf, physical[name])
            if child is None or child["StackStatus"] not in DONE | {"UPDATE_ROLLBACK_COMPLETE"}:
                continue
            lids: set[str] = set()
            for page in cf.get_paginator("list_stack_resources").paginate(StackName=child["StackId"]):
                lids |= {r["LogicalResourceId"] for r in page.get("StackResourceSummaries", []) if r.get("LogicalResourceId")}
            state.stacks[name] = staging.DeployedStack(
                name, json.loads(json.dumps(body)), {p["ParameterKey"]: p.get("ParameterValue", "") for p in child.get("Parameters", [])},
                {o["OutputKey"] for o in child.get("Outputs", [])}, lids)
    release = staging.Release(
        text, json.loads(json.dumps(template)), children, {v["ParameterKey"]: v["ParameterValue"] for v in values},
        staging.restricted_parents(loaded, env, lock), lambda lid: lock.resources.get(lid) if lock else None,
        lambda data: render(data, "yaml"))
    try:
        return staging.plan(release, state, staging.NESTED_OPERATION_QUOTA, allowed)
    except staging.CannotStage as e:
        raise DeployFailed(f"refused: {e}. The service has {total:,} resources in nested stacks; CloudFormation creates, updates "
                           f"or deletes at most {staging.NESTED_OPERATION_QUOTA:,} of them in one operation (quota 'Nested stacks'); "
                           "nothing was changed") from None
    except MsgenError as e:  # the restricted synth refused (generator.synth.nesting)
        raise DeployFailed(f"refused: msgen cannot deploy this release in stages: {e}; nothing was changed") from None


def _apply(cf, s3, region: str, bucket: str, loaded, env: str, stack: str, text: str, values: list[dict[str, str]], creating: bool,
           execute: bool, confirm: Callable[[str], bool] | None, echo: Echo, interval: float, stage: staging.Stage | None) -> Outcome:
    """Upload one parent template and deploy it through a change set."""
    body = text.encode("utf-8")
    template_key = f"{loaded.spec.service}/{env}/templates/{hashlib.sha256(body).hexdigest()}.yaml"
    _upload(s3, bucket, template_key, body)
    url = f"https://{bucket}.s3.{region}.amazonaws.com/{template_key}"
    label = f" (stage {stage.number} of {stage.total})" if stage is not None else ""

    name = f"msgen-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}" + (f"-stage{stage.number}" if stage is not None else "")
    created = _call(f"create change set for {stack}", cf.create_change_set, StackName=stack, ChangeSetName=name,
                    ChangeSetType="CREATE" if creating else "UPDATE", TemplateURL=url, Capabilities=CAPABILITIES,
                    Parameters=values, Description=f"msgen deploy {loaded.display} --env {env}{label}")
    cs_id = created["Id"]
    cs = _wait_change_set(cf, cs_id, interval)
    if cs["Status"] == "FAILED":
        reason = cs.get("StatusReason", "")
        if any(m in reason for m in NO_CHANGES):
            _call("delete empty change set", cf.delete_change_set, ChangeSetName=cs_id)
            echo(f"stack {stack}: no changes{label}; nothing to deploy (the empty change set was deleted)")
            return Outcome(stack, "no changes")
        raise DeployFailed(f"change set {name} for stack {stack} failed: {reason or 'no reason given'}")
    changes = cs.get("Changes", [])
    echo(f"change set {name} ({'create' if creating else 'update'} stack {stack}){label}, {len(changes)} resource changes:")
    for line in change_set_summary(changes):
        echo(line)
    if not execute:
        echo(f"change set left for review: {cs_id}\n  execute it: aws cloudformation execute-change-set --change-set-name {cs_id}")
        return Outcome(stack, "change set left for review", cs_id)
    if confirm is not None and not confirm(f"Execute change set {name} on stack {stack}{label}?"):
        echo(f"not executed; change set left for review: {cs_id}")
        return Outcome(stack, "declined", cs_id)

    events = Events(cf, cs.get("StackId") or stack, echo)
    events.mark_seen()
    _call(f"execute change set {name}", cf.execute_change_set, ChangeSetName=cs_id)
    echo(f"{'creating' if creating else 'updating'} stack {stack}{label}:")
    status = wait_stack(cf, cs.get("StackId", stack), events, interval)
    if status not in DONE:
        final = describe_stack(cf, cs.get("StackId", stack)) or {}
        raise DeployFailed(failure_text(stack, status, events.failures, final.get("StackStatusReason", "")) +
                           ("\n" + stuck(final, stack) if final and stuck(final, stack) else ""))
    echo(f"stack {stack}: {status}{label}")
    return Outcome(stack, "created" if creating else "updated", cs_id)


def _wait_change_set(cf, cs_id: str, interval: float, timeout: float = 1800) -> dict:
    start = time.monotonic()
    while True:
        cs = _call("describe change set", cf.describe_change_set, ChangeSetName=cs_id)
        if cs["Status"] in ("CREATE_COMPLETE", "FAILED", "DELETE_COMPLETE", "DELETE_FAILED"):
            changes = list(cs.get("Changes", []))
            while cs.get("NextToken"):
                cs = {**cs, **_call("describe change set", cf.describe_change_set, ChangeSetName=cs_id, NextToken=cs["NextToken"])}
                changes += cs.get("Changes", [])
            return {**cs, "Changes": changes}
        if time.monotonic() - start > timeout:
            raise DeployFailed(f"change set {cs_id} still {cs['Status']} after {timeout:.0f} s")
        time.sleep(interval)


def empty_bucket(s3, bucket: str) -> int:
    """Delete every object version and delete marker of BUCKET; the number deleted."""
    _, exc = _boto3()
    n = 0
    try:
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
        for page in pages:
            keys = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            for i in range(0, len(keys), 1000):
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[i:i + 1000], "Quiet": True})
                n += len(keys[i:i + 1000])
    except exc.ClientError as e:
        if _error_code(e) == "NoSuchBucket":
            return n
        raise DeployFailed(f"empty bucket {bucket}: {e.response.get('Error', {}).get('Message', e)}") from None
    return n


def destroy(loaded, env: str, *, stack_name: str | None = None, confirm: Callable[[str], bool] | None = None,
            region: str | None = None, echo: Echo = print, interval: float | None = None) -> Outcome:
    """Delete ENV's stack: refused when the environment is protected; empties the buckets the stack deletes; lists what
    the stack leaves behind on purpose (DeletionPolicy Retain or Snapshot)."""
    from generator import api

    api.check_env(loaded, env)
    if loaded.spec.for_environment(env).lifecycle.protected:
        raise InputError(f"environment {env} of {loaded.display} is protected (lifecycle.protected is true): msgen destroy refuses it. "
                         f"To make it deletable set environments.{env}.lifecycle: {{protected: false}} and deploy that first")
    interval = POLL_SECONDS if interval is None else interval
    stack = stack_name or f"{loaded.spec.service}-{env}"
    s = session(region)
    cf, s3 = s.client("cloudformation"), s.client("s3")
    existing = describe_stack(cf, stack)
    if existing is None:
        echo(f"stack {stack} does not exist; nothing to destroy")
        return Outcome(stack, "absent")
    template = _decode(_call(f"get template of {stack}", cf.get_template, StackName=stack)["TemplateBody"])
    resources = template.get("Resources", {}) if isinstance(template, dict) else {}
    physical = {}
    for page in cf.get_paginator("list_stack_resources").paginate(StackName=existing["StackId"]):
        for r in page.get("StackResourceSummaries", []):
            physical[r["LogicalResourceId"]] = r.get("PhysicalResourceId", "")
    kept, emptied = [], []
    for lid, body in resources.items():
        policy = body.get("DeletionPolicy", "Delete") if isinstance(body, dict) else "Delete"
        if policy in RETAINING and lid in physical:
            kept.append((lid, body.get("Type", ""), physical[lid], policy))
        elif body.get("Type") == "AWS::S3::Bucket" and physical.get(lid):
            emptied.append(physical[lid])
    if confirm is not None and not confirm(f"Delete stack {stack} ({len(physical)} resources; {len(kept)} kept on purpose)?"):
        echo("not deleted")
        return Outcome(stack, "declined")
    for bucket in emptied:
        echo(f"emptying bucket {bucket}: {empty_bucket(s3, bucket)} object versions and delete markers deleted")
    events = Events(cf, existing["StackId"], echo)
    events.mark_seen()
    _call(f"delete stack {stack}", cf.delete_stack, StackName=existing["StackId"])
    echo(f"deleting stack {stack}:")
    status = wait_stack(cf, existing["StackId"], events, interval, deleting=True)
    if status != "DELETE_COMPLETE":
        raise DeployFailed(failure_text(stack, status, events.failures))
    echo(f"stack {stack}: DELETE_COMPLETE")
    if kept:
        echo("left behind on purpose (they keep their data and cost money until you delete them):")
        for lid, type_name, phys, policy in kept:
            echo(f"  {lid} ({type_name}) {phys}: DeletionPolicy {policy}" + (" (a final snapshot is kept)" if policy == "Snapshot" else ""))
    else:
        echo("nothing left behind")
    return Outcome(stack, "destroyed", left_behind=kept)
