"""The lint engine (generator.lint.lint_many, msgen lint over several targets): same findings as one by one,
cached by content, bypassed on request, a process pool only when there is more than one template."""

from __future__ import annotations

import json

import pytest

from generator import lint
from tests.conftest import blueprint_text

CLEAN = "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Bucket:\n    Type: AWS::S3::Bucket\n"
TYPO = CLEAN + "    Properties:\n      BucketNam: x\n"
WILDCARD = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: p
          PolicyDocument:
            Version: '2012-10-17'
            Statement:
              - Effect: Allow
                Action: ['xray:*']
                Resource: '*'
"""
BROKEN = "AWSTemplateFormatVersion: '2010-09-09'\nResources: [\n"
ITEMS = [("typo.yaml", TYPO), ("clean.yaml", CLEAN), ("wildcard.yaml", WILDCARD), ("broken.yaml", BROKEN)]


def fresh(text: str, name: str, regions=("us-east-1",), info=False) -> list[lint.Finding]:
    """What msgen lint gave before the engine: cfn-lint's public lint() with a fresh rule set, one template."""
    from cfnlint.api import ManualArgs
    from cfnlint.api import lint as cfn_lint

    config = ManualArgs(regions=list(regions), append_rules=[lint.RULES_DIR])
    if info:
        config["include_checks"] = ["I"]
    found = {lint.Finding(name, m.linenumber, m.columnnumber, m.rule.id, " ".join(str(m.message).split())) for m in cfn_lint(text, config=config)}
    return sorted(found, key=lambda f: (f.line, f.column, f.rule, f.message))


def entries():
    return sorted(lint.cache_dir().glob("*.json")) if lint.cache_dir().exists() else []


def results(items=ITEMS, **kwargs):
    return lint.lint_many(items, ("us-east-1",), **kwargs)


def test_several_templates_give_the_findings_of_each_alone_in_input_order():
    together = results(jobs=2, use_cache=False)
    assert list(together) == [name for name, _ in ITEMS]
    assert together == {name: fresh(text, name) for name, text in ITEMS}
    assert {f.rule for f in together["typo.yaml"]} == {"E3002"} and {f.rule for f in together["wildcard.yaml"]} == {"E9101"}
    assert together["clean.yaml"] == []
    assert lint.lint_many(ITEMS, ("us-east-1",), jobs=1, use_cache=False) == together
    for name, text in ITEMS:  # and lint_text, which reuses one rule set per process, still gives cfn-lint's own answer
        assert lint.lint_text(text, name) == fresh(text, name)


def test_informational_findings_and_several_regions_match_too():
    queue = CLEAN.replace("Bucket:\n    Type: AWS::S3::Bucket", "Queue:\n    Type: AWS::SQS::Queue")
    items = [("queue.yaml", queue), ("typo.yaml", TYPO)]
    regions = ("us-east-1", "eu-west-1")
    got = lint.lint_many(items, regions, info=True, jobs=2, use_cache=False)
    assert got == {name: fresh(text, name, regions, info=True) for name, text in items}
    assert "I3013" in {f.rule for f in got["queue.yaml"]}


def test_a_bad_template_in_a_batch_is_reported_with_its_own_name():
    got = results(jobs=2, use_cache=False)
    assert [f.rule for f in got["broken.yaml"]] == ["E0000"] and all(f.file == "broken.yaml" for f in got["broken.yaml"])
    assert all(f.file == name for name, findings in got.items() for f in findings)


def test_the_cache_returns_the_same_findings_and_is_really_used():
    first = results(jobs=2)
    assert len(entries()) == len(ITEMS)
    assert results(jobs=2) == first
    typo_key = lint.key(TYPO, ("us-east-1",), False)
    (lint.cache_dir() / f"{typo_key}.json").write_text(json.dumps([[1, 1, "E0001", "poisoned"]]))
    assert [f.message for f in results()["typo.yaml"]] == ["poisoned"]  # the hit path serves the entry
    assert results(use_cache=False) == first  # ...and use_cache=False bypasses it


def test_msgen_no_cache_bypasses_the_cache(monkeypatch):
    monkeypatch.setenv("MSGEN_NO_CACHE", "1")
    results(items=ITEMS[:2])
    assert entries() == []


def test_a_changed_template_misses_the_cache():
    results(items=ITEMS[:1])
    (entry,) = entries()
    entry.write_text(json.dumps([[1, 1, "E0001", "poisoned"]]))
    changed = TYPO.replace("BucketNam", "BucketNme")
    got = results(items=[("typo.yaml", changed)])["typo.yaml"]
    assert [f.rule for f in got] == ["E3002"] and "BucketNme" in got[0].message
    assert len(entries()) == 2


def test_the_key_covers_regions_info_cfnlint_version_and_msgen_rules(monkeypatch):
    base = lint.key(TYPO)
    assert lint.key(TYPO) == base
    assert len({base, lint.key(TYPO, ("eu-west-1",)), lint.key(TYPO, info=True), lint.key(CLEAN)}) == 4
    monkeypatch.setattr(lint, "cfnlint_version", lambda: "0.0.0")
    assert lint.key(TYPO) != base
    monkeypatch.undo()
    monkeypatch.setattr(lint, "_rules_fingerprint", lambda: b"other rules")
    assert lint.key(TYPO) != base


def test_cfnlint_version_is_read_without_importing_cfnlint():
    from cfnlint.version import __version__

    assert lint.cfnlint_version() == __version__


def test_the_pool_is_not_used_for_one_template_or_one_job(monkeypatch):
    def no_pool(*args, **kwargs):
        raise AssertionError("the process pool was used")

    monkeypatch.setattr(lint, "_lint_pool", no_pool)
    assert results(items=ITEMS[:1], use_cache=False) == {"typo.yaml": fresh(TYPO, "typo.yaml")}
    assert results(jobs=1, use_cache=False)["wildcard.yaml"] == fresh(WILDCARD, "wildcard.yaml")
    results(items=ITEMS[:1])  # cached now
    assert results(items=ITEMS[:2], jobs=2)["clean.yaml"] == []  # two templates, one cached: the other is linted here
    with pytest.raises(AssertionError, match="process pool"):
        results(items=ITEMS[2:], use_cache=False, jobs=2)


def test_workers():
    assert lint.workers(1, 10) == 1 and lint.workers(4, 1) == 1 and lint.workers(8, 3) == 3 and lint.workers(None, 10) >= 1


def _tree(tmp_path):
    (tmp_path / "infra" / "dev").mkdir(parents=True)
    (tmp_path / "infra" / "prod").mkdir()
    (tmp_path / "infra" / ".hidden").mkdir()
    (tmp_path / "infra" / "dev" / "template.yaml").write_text(TYPO)
    (tmp_path / "infra" / "prod" / "template.json").write_text(json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"Nope": 1}}}}))
    (tmp_path / "infra" / "prod" / "broken.yml").write_text(BROKEN)
    (tmp_path / "infra" / "prod" / "notes.yaml").write_text("just: data\n")  # not a template: left out
    (tmp_path / "infra" / ".hidden" / "template.yaml").write_text(WILDCARD)  # hidden folder: left out
    (tmp_path / "infra" / "README.md").write_text("Resources: not a template file\n")
    return tmp_path / "infra"


def test_a_directory_target_lints_every_template_below_it(cli, tmp_path):
    infra = _tree(tmp_path)
    result = cli("lint", str(infra), "--no-cache")
    assert result.exit_code == 1, result.output
    files = [line.split(":", 1)[0] for line in result.stdout.splitlines()]
    assert files == [str(infra / "dev" / "template.yaml"), str(infra / "prod" / "broken.yml"), str(infra / "prod" / "template.json")]
    assert "E3002" in result.stdout and "E0000" in result.stdout
    assert "msgen: 3 findings in 3 of 3 templates" in result.stderr


def test_several_targets_a_spec_among_them_and_output_that_is_deterministic(cli, tmp_path):
    infra = _tree(tmp_path)
    spec = tmp_path / "service.yaml"
    spec.write_text(blueprint_text())
    wildcard = tmp_path / "wildcard.yaml"
    wildcard.write_text(WILDCARD)
    args = ("lint", str(wildcard), str(spec), str(infra), str(wildcard))  # a file given twice is linted once
    runs = [cli(*args, "--no-cache", "--jobs", "2"), cli(*args, "--jobs", "1", "--no-cache"), cli(*args), cli(*args)]
    assert {r.exit_code for r in runs} == {1}
    assert len({r.stdout for r in runs}) == 1, [r.stdout for r in runs]
    lines = runs[0].stdout.splitlines()
    assert lines[0].startswith(f"{wildcard}:18:26: E9101 ")
    assert not any(line.startswith(f"{spec}#template") for line in lines), "the blueprint's template is clean"
    assert "msgen: 4 findings in 4 of 5 templates" in runs[0].stderr


def test_no_cache_on_the_command_line_bypasses_the_cache(cli, tmp_path):
    target = tmp_path / "t.yaml"
    target.write_text(TYPO)
    assert cli("lint", str(target)).exit_code == 1
    (entry,) = entries()
    entry.write_text("[]")
    assert cli("lint", str(target)).exit_code == 0  # the (poisoned) entry is used
    result = cli("lint", str(target), "--no-cache")
    assert result.exit_code == 1 and "E3002" in result.stdout


def test_an_empty_directory_and_a_bad_region_are_usage_errors(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    result = cli("lint", str(tmp_path / "empty"))
    assert result.exit_code == 2 and "no CloudFormation templates" in result.stderr
    target = tmp_path / "t.yaml"
    target.write_text(CLEAN)
    assert cli("lint", str(target)).exit_code == 0  # fills the cache, Regions list included
    bad = cli("lint", str(target), "--region", "eu-westt-1")
    assert bad.exit_code == 2 and "did you mean eu-west-1" in bad.stderr


def test_every_environment_of_a_blueprint_lints_clean_in_one_call(cli, tmp_path):
    spec = tmp_path / "service.yaml"
    spec.write_text(blueprint_text())
    assert cli("synth", str(spec), "-o", f"{tmp_path / 'infra'}/").exit_code == 0
    result = cli("lint", str(tmp_path / "infra"), "--jobs", "2")
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and "templates: no findings" in result.stderr
