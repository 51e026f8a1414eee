"""The synth cache returns exactly what a fresh synthesis gives, and never outlives a change."""

from __future__ import annotations

import os

from generator import cache
from tests.conftest import blueprint_text


def _entries():
    return sorted(cache.cache_dir().glob("*.tpl")) if cache.cache_dir().exists() else []


def test_cache_hit_is_byte_identical_to_a_fresh_synthesis(cli, tmp_path):
    spec = tmp_path / "service.yaml"
    spec.write_text(blueprint_text())
    first = cli("synth", str(spec))
    assert len(_entries()) == 1
    second = cli("synth", str(spec))
    fresh = cli("synth", str(spec), "--no-cache")
    assert first.stdout == second.stdout == fresh.stdout


def test_a_cached_entry_is_really_used_and_keyed_by_spec_content(cli, tmp_path):
    spec = tmp_path / "service.yaml"
    spec.write_text(blueprint_text())
    cli("synth", str(spec))
    (entry,) = _entries()
    entry.write_text("{}\npoisoned\n")  # proves the hit path serves the entry...
    assert cli("synth", str(spec)).stdout == "poisoned\n"
    assert cli("synth", str(spec), "--no-cache").stdout != "poisoned\n"  # ...and that --no-cache bypasses it
    spec.write_text(blueprint_text().replace("memory_mb: 512", "memory_mb: 1024"))
    changed = cli("synth", str(spec))
    assert "MemorySize: 1024" in changed.stdout and len(_entries()) == 2


def test_a_change_to_msgen_code_changes_the_key():
    before = cache.key(b"spec", "yaml")
    victim = next(cache._PACKAGE.glob("naming.py"))
    st = victim.stat()
    try:
        os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        assert cache.key(b"spec", "yaml") != before
    finally:
        os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert cache.key(b"spec", "json") != cache.key(b"spec", "yaml")


def test_invalid_specs_are_never_cached(cli, tmp_path):
    spec = tmp_path / "service.yaml"
    spec.write_text("service: x\n")
    assert cli("synth", str(spec)).exit_code == 2
    assert cli("synth", str(spec)).exit_code == 2
    assert _entries() == []


def test_env_var_disables_the_cache(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("MSGEN_NO_CACHE", "1")
    spec = tmp_path / "service.yaml"
    spec.write_text(blueprint_text())
    assert cli("synth", str(spec)).exit_code == 0
    assert _entries() == []


def test_a_changed_workflow_definition_invalidates_the_cached_template(cli, tmp_path):
    import shutil

    from tests.conftest import BLUEPRINTS

    shutil.copy(BLUEPRINTS["event-worker"], tmp_path / "service.yaml")
    shutil.copytree(BLUEPRINTS["event-worker"].parent / "workflows", tmp_path / "workflows")
    spec = tmp_path / "service.yaml"
    first = cli("synth", str(spec))
    assert first.exit_code == 0, first.output
    definition = tmp_path / "workflows" / "bounce-handling.asl.json"
    definition.write_text(definition.read_text().replace("Record a bounced", "Record every bounced"))
    second = cli("synth", str(spec))
    assert "Record every bounced" in second.stdout and "Record every bounced" not in first.stdout
