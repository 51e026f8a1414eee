"""The command line: help, exit codes, stdout for data and stderr for diagnostics, safe writes."""

from __future__ import annotations

import json

import pytest
import yaml

from generator import __version__
from generator.cli import main
from tests.conftest import blueprint_text

COMMANDS = sorted(main.commands)


def test_version(cli):
    result = cli("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"msgen {__version__}"


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_has_an_example_and_exit_codes(cli, command):
    result = cli(*([command] if command else []), "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout, result.stdout
    if command in (None, "validate", "synth", "lint"):
        assert "Exit codes" in result.stdout


def test_validate_ok_is_one_line_on_stderr(cli, tmp_path):
    spec = tmp_path / "service.yaml"
    spec.write_text(blueprint_text())
    result = cli("validate", str(spec))
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "OK" in result.stderr


def test_synth_to_stdout_and_file_give_the_same_bytes(cli, tmp_path):
    out = tmp_path / "nested" / "template.yaml"
    to_stdout = cli("synth", "serverless-api")
    to_file = cli("synth", "serverless-api", "-o", str(out))
    assert to_stdout.exit_code == to_file.exit_code == 0
    assert to_file.stdout == "" and "wrote" in to_file.stderr
    assert out.read_text() == to_stdout.stdout
    assert yaml.safe_load(to_stdout.stdout)["Resources"]
    assert list(out.parent.iterdir()) == [out], "no temporary files are left behind"


def test_synth_json(cli):
    result = cli("synth", "serverless-api", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data == yaml.safe_load(cli("synth", "serverless-api").stdout)


def test_synth_refuses_to_overwrite_a_foreign_file_without_force(cli, tmp_path):
    out = tmp_path / "template.yaml"
    out.write_text("handwritten: true\n")
    refused = cli("synth", "serverless-api", "-o", str(out))
    assert refused.exit_code == 2 and "--force" in refused.stderr
    assert out.read_text() == "handwritten: true\n"
    forced = cli("synth", "serverless-api", "-o", str(out), "--force")
    assert forced.exit_code == 0 and out.read_text().startswith("AWSTemplateFormatVersion")
    again = cli("synth", "serverless-api", "-o", str(out))  # msgen's own output is replaced without --force
    assert again.exit_code == 0


def test_synth_check_reports_a_stale_template_with_a_diff(cli, tmp_path):
    out = tmp_path / "template.yaml"
    assert cli("synth", "serverless-api", "-o", str(out)).exit_code == 0
    fresh = cli("synth", "serverless-api", "-o", str(out), "--check")
    assert fresh.exit_code == 0 and fresh.stdout == ""
    out.write_text(out.read_text().replace("MemorySize: 512", "MemorySize: 256"))
    stale = cli("synth", "serverless-api", "-o", str(out), "--check")
    assert stale.exit_code == 1
    assert "-      MemorySize: 256" in stale.stdout and "+      MemorySize: 512" in stale.stdout
    assert "stale" in stale.stderr
    assert "MemorySize: 256" in out.read_text(), "--check never writes"


def test_synth_check_needs_an_output(cli):
    result = cli("synth", "serverless-api", "--check")
    assert result.exit_code == 2


def test_lint_clean_template_and_spec(cli, tmp_path):
    out = tmp_path / "t.yaml"
    cli("synth", "serverless-api", "-o", str(out))
    assert cli("lint", str(out)).exit_code == 0
    spec = tmp_path / "service.yaml"
    spec.write_text(blueprint_text())
    result = cli("lint", str(spec))
    assert result.exit_code == 0 and "no findings" in result.stderr


def test_lint_findings_exit_1_with_locations(cli, tmp_path):
    out = tmp_path / "t.yaml"
    cli("synth", "serverless-api", "-o", str(out))
    text = out.read_text().replace("- xray:PutTelemetryRecords", "- xray:*", 1)
    out.write_text(text)
    line = text.splitlines().index("            - xray:*") + 1
    result = cli("lint", str(out))
    assert result.exit_code == 1
    assert f"{out}:{line}:15: E9101 " in result.stdout, result.stdout
    assert "1 finding" in result.stderr


def test_lint_bad_spec_is_a_usage_error(cli, tmp_path):
    spec = tmp_path / "service.yaml"
    spec.write_text("service: x\n")
    result = cli("lint", str(spec))
    assert result.exit_code == 2 and f"{spec}:" in result.stderr


def test_unknown_blueprint_lists_the_known_ones(cli):
    result = cli("synth", "no-such-blueprint")
    assert result.exit_code == 2 and "serverless-api" in result.stderr and "Traceback" not in result.output


def test_blueprints_lists_every_file_with_a_description(cli):
    result = cli("blueprints", "--json")
    items = json.loads(result.stdout)
    assert {"serverless-api", "serverless-cognito-api"} <= {i["name"] for i in items}
    assert all(i["description"] for i in items)
    table = cli("blueprints").stdout
    assert all(i["name"] in table for i in items)


def test_unknown_option_is_exit_2(cli):
    assert cli("synth", "--nope").exit_code == 2


def test_a_bug_is_reported_as_an_internal_error_without_a_traceback(cli, monkeypatch):
    import generator.api

    def boom(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(generator.api, "synth_templates", boom)
    result = cli("synth", "serverless-api")
    assert result.exit_code == 3
    assert "internal error: RuntimeError: simulated bug" in result.stderr and "--debug" in result.stderr
    assert "Traceback" not in result.output


def test_lint_unknown_region_is_a_usage_error_naming_the_nearest_regions(cli, tmp_path):
    out = tmp_path / "t.yaml"
    cli("synth", "serverless-api", "-o", str(out))
    for target in (str(out), "serverless-api"):
        result = cli("lint", target, "--region", "eu-westt-1")
        assert result.exit_code == 2, result.output
        assert "unknown Region 'eu-westt-1'" in result.stderr and "eu-west-1" in result.stderr, result.stderr
        assert "internal error" not in result.stderr and "Traceback" not in result.output
    far = cli("lint", str(out), "--region", "us-east-1", "--region", "mars-1")
    assert far.exit_code == 2 and "unknown Region 'mars-1' (known Regions: af-south-1," in far.stderr


def test_known_regions_and_all_regions_pass_the_region_check():
    from generator.lint import check_regions

    check_regions(("us-east-1", "eu-west-1", "ALL_REGIONS"))


def test_new_without_name_and_without_standard_input_is_a_usage_error(tmp_path):
    from click.testing import CliRunner

    result = CliRunner().invoke(main, ["new", "-o", str(tmp_path)], input="")
    assert result.exit_code == 2, result.output
    assert "NAME is required when standard input is not a terminal" in result.stderr and "Usage: " in result.stderr
    assert "Aborted" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_synth_check_of_a_missing_file_says_in_one_line_how_to_create_it(cli, tmp_path):
    out = tmp_path / "infra" / "template.yaml"
    result = cli("synth", "serverless-api", "-o", str(out), "--check")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == f"msgen: {out} does not exist; create it with: msgen synth serverless-api -o {out}\n"
    assert not out.parent.exists(), "--check never writes"
    folder = cli("synth", "serverless-api", "-o", str(tmp_path), "--check")  # a directory holds every environment's template
    assert folder.exit_code == 1 and f"{tmp_path}/dev/template.yaml does not exist" in folder.stderr


def test_synth_check_of_a_file_that_is_not_utf8_reports_it_stale(cli, tmp_path):
    out = tmp_path / "template.yaml"
    out.write_bytes(b"caf\xe9\n")
    result = cli("synth", "serverless-api", "-o", str(out), "--check")
    assert result.exit_code == 1 and "stale" in result.stderr and "Traceback" not in result.output


def test_new_creates_missing_parent_folders_and_removes_them_if_it_fails(cli, tmp_path, monkeypatch):
    import generator.scaffold
    from generator.errors import InputError

    def fail(*args, **kwargs):
        raise InputError("simulated failure")

    parent = tmp_path / "a" / "b"
    monkeypatch.setattr(generator.scaffold, "render", fail)
    failed = cli("new", "demo-svc", "-o", str(parent), "--no-input")
    assert failed.exit_code == 2 and "simulated failure" in failed.stderr
    assert list(tmp_path.iterdir()) == [], "folders created for a failed run are removed"

    made: list = []
    monkeypatch.setattr(generator.scaffold, "render", lambda spec, text, source, destination, force, **options: made.append(destination) or destination)
    result = cli("new", "demo-svc", "-o", str(parent), "--no-input")
    assert result.exit_code == 0, result.output
    assert parent.is_dir() and made == [parent / "demo-svc"]


def test_new_parent_below_a_file_is_a_usage_error(cli, tmp_path):
    (tmp_path / "file").write_text("")
    result = cli("new", "demo-svc", "-o", str(tmp_path / "file" / "sub"), "--no-input")
    assert result.exit_code == 2 and "cannot create the directory" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_help_says_that_output_folders_are_created(cli):
    assert "created with any missing folders" in " ".join(cli("new", "--help").stdout.split())
    assert "missing folders are created" in " ".join(cli("synth", "--help").stdout.split())
