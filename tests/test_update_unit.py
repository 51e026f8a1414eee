"""The pure parts of msgen update: the pristine archive, answers stamping, spec digests, version order."""

from __future__ import annotations

import io
import tarfile

import pytest

from generator.update import _version_key, pristine_archive, read_archive, spec_digest, stamp_answers


def test_the_pristine_archive_is_deterministic_and_leaves_derived_files_out():
    files = {"src/app.py": b"print(1)\n", "README.md": b"# x\n", "infra/dev/template.yaml": b"Resources: {}\n",
             ".msgen/answers.yml": b"msgen_version: 1\n"}
    one, two = pristine_archive(files), pristine_archive(dict(reversed(files.items())))
    assert one == two, "byte-identical whatever the order: committing it twice changes nothing"
    assert read_archive(one) == {"README.md": b"# x\n", "src/app.py": b"print(1)\n"}


def test_reading_an_archive_skips_paths_that_leave_the_repository():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in ("../evil", "/abs", "ok.txt"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"x\n"))
    assert read_archive(buffer.getvalue()) == {"ok.txt": b"x\n"}


def test_stamp_answers_replaces_or_appends_and_keeps_the_rest():
    text = "# comment\nmsgen_version: \"0.1.0\"\ntemplate_sha256: old\n"
    assert stamp_answers(text, template_sha256="new") == "# comment\nmsgen_version: \"0.1.0\"\ntemplate_sha256: new\n"
    assert stamp_answers("a: 1\n", b="2") == "a: 1\nb: 2\n"


def test_the_spec_digest_ignores_the_schema_line_and_trailing_newlines():
    body = "service: a-svc\nteam: t\n"
    assert spec_digest("# yaml-language-server: $schema=.msgen/service.schema.json\n" + body + "\n\n") == spec_digest(body)
    assert spec_digest(body) != spec_digest(body.replace("t\n", "u\n"))


@pytest.mark.parametrize("older,newer", [("0.1.0", "0.2.0"), ("0.9.0", "0.10.0"), ("1.0.0rc1", "1.0.1"), ("1.0.0rc1", "1.0.0"),
                                                  ("0.1", "0.1.1")])
def test_versions_compare_numerically(older, newer):
    assert _version_key(older) < _version_key(newer)
