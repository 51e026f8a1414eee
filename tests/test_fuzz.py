"""Property-based tests: whatever file it is given, msgen validate and synth exit 0 or 2 (never 3) and print no traceback.

Two generators, derandomized so that CI runs the same examples every time:

* arbitrary YAML documents: nested mappings and sequences, scalars of every type, anchors, aliases (also recursive ones),
  merge keys, tags, keys from the spec's own vocabulary, written in odd encodings (UTF-16 and UTF-32 with a byte
  order mark, latin-1, stray NUL bytes, truncation);
* mutants of the shipped blueprints: a value changed to another type or to a value found elsewhere in a blueprint,
  a key or list entry dropped or duplicated, a subtree copied elsewhere, a part of another blueprint added at its
  place (a queue, a database, a container), a line of the YAML text duplicated.

Everything runs in-process through click's CliRunner. For a long local run that looks for new crashes:
``MSGEN_FUZZ_SCALE=10 .venv/bin/python -m pytest tests/test_fuzz.py -q``.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.cli import main
from tests.conftest import BLUEPRINTS, ROOT

SCALE = float(os.environ.get("MSGEN_FUZZ_SCALE", "1"))


def fuzz_settings(examples: int) -> settings:
    # The autouse HOME fixture (tests/conftest.py) is function-scoped; nothing it sets needs resetting between
    # examples, and each example overwrites the one spec file it uses.
    return settings(max_examples=max(1, int(examples * SCALE)), derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


RUNNER = CliRunner()


def run(*args: str):
    result = RUNNER.invoke(main, list(args), catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback (most recent call last)" not in result.output and "msgen: internal error" not in result.output, result.output
    assert result.exit_code in (0, 2), result.output
    return result


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A folder for the spec under test, with the workflow definitions the blueprints refer to."""
    work = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(ROOT / "blueprints" / "workflows", work / "workflows")
    return work


# ---- arbitrary YAML documents ---------------------------------------------------------------------------------------


def _schema_keys() -> list[str]:
    keys: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("properties"), dict):
                keys.update(node["properties"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads((ROOT / "generator" / "spec" / "service.schema.json").read_text(encoding="utf-8")))
    return sorted(keys)


SPEC_KEYS = _schema_keys()
# Plain scalars as YAML 1.1 reads them: every implicit type, and forms that look like a type but are not valid.
PLAIN_SCALARS = ["null", "~", "Null", "true", "False", "yes", "no", "on", "off", "y", "0", "-1", "007", "0o17", "0x1F", "0b101",
                 "1_000", "1:30:00", "3.14", "-.inf", ".NaN", "1e400", "2024-01-01", "2024-01-01T12:00:00Z", "2001-02-30",
                 "0x_", "0b_", "._", "=", "<<", "hybrid", "serverless", "micro", "GET", "post", "/payments/{id}",
                 "payments.create", "payments:read", "email:send", "database:connect", "rate(5 minutes)", "arn:aws:s3:::x",
                 "payment-svc", "payments", "jobs", "vpc-12345678", "subnet-12345678", "256", "512", "4096", "0x" + "f" * 1200]
TAGS = ["!!str", "!!int", "!!float", "!!bool", "!!null", "!!binary", "!!timestamp", "!!map", "!!seq", "!!set", "!!omap",
        "!!python/object/apply:os.system", "!Ref", "!", "!<tag:yaml.org,2002:str>", "!!value", "!!merge"]

scalars = st.one_of(
    st.sampled_from(PLAIN_SCALARS),
    st.sampled_from(SPEC_KEYS),
    st.integers().map(str),
    st.floats().map(repr),
    st.text(max_size=12).map(json.dumps),  # a double-quoted YAML scalar (lone surrogates become \\udXXX escapes)
    st.text(max_size=8).map(lambda s: "'" + s.replace("'", "''") + "'"),
    st.text(alphabet="abc-_./:{}#&*!|>%@`", max_size=6),  # plain text that may or may not be YAML
)


@st.composite
def yaml_texts(draw) -> str:
    """YAML text: a block mapping of flow-style values, with anchors, aliases, merge keys and tags sprinkled in.

    Hypothesis draws the scalars; a random generator it controls (and replays) shapes the rest, which is much
    cheaper than a draw per decision.
    """
    rnd = draw(st.randoms(use_true_random=False))
    pool = draw(st.lists(scalars, min_size=1, max_size=12))
    anchors: list[str] = []

    def key() -> str:
        return rnd.choice(SPEC_KEYS) if rnd.randrange(3) else rnd.choice(pool)

    def decorate(text: str) -> str:
        roll = rnd.randrange(20)
        if roll == 0:
            anchors.append(f"a{len(anchors)}")
            return f"&{anchors[-1]} {text}"
        if roll == 1:
            return f"{rnd.choice(TAGS)} {text}"
        return text

    def value(depth: int) -> str:
        if anchors and rnd.randrange(15) == 0:
            return "*" + rnd.choice(anchors)  # may refer to an enclosing node: a recursive structure
        roll = rnd.randrange(10) if depth < 6 else 9
        if roll < 2:
            return decorate("") + "[" + ", ".join(value(depth + 1) for _ in range(rnd.randrange(4))) + "]"
        if roll < 5:
            pairs = [f"{key()}: {value(depth + 1)}" for _ in range(rnd.randrange(5))]
            if rnd.randrange(6) == 0:  # a merge key: an alias, or a mapping, list or scalar written in place
                target = "*" + rnd.choice(anchors) if anchors and rnd.randrange(2) else value(depth + 1)
                pairs.insert(rnd.randrange(len(pairs) + 1), f"<<: {target}")
            return decorate("") + "{" + ", ".join(pairs) + "}"
        return decorate(rnd.choice(pool))

    lines = [f"{key()}: {value(1)}" for _ in range(rnd.randrange(9))]
    roll = rnd.randrange(20)
    if roll < 4:
        lines.insert(rnd.randrange(len(lines) + 1), f"<<: {value(1)}")  # a merge key at the top
    elif roll == 4:
        return value(0) + "\n"  # a document that is not a mapping
    elif roll == 5:
        lines += ["---", "service: second-document"]
    return "\n".join(lines) + "\n"


ENCODINGS = ["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "cp1252"]


@st.composite
def encoded(draw, texts) -> bytes:
    text = draw(texts)
    raw = text.encode(draw(st.sampled_from(ENCODINGS)), errors="replace")
    roll = draw(st.integers(0, 9))
    if roll == 0 and raw:
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + b"\x00" + raw[at:]
    elif roll == 1 and raw:
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif roll == 2:
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=4)) + raw[at:]
    return raw


@fuzz_settings(1500)
@given(raw=encoded(yaml_texts()))
def test_validate_never_fails_with_an_internal_error_on_any_yaml(workdir, raw):
    spec = workdir / "arbitrary.yaml"
    spec.write_bytes(raw)
    result = run("validate", str(spec))
    if result.exit_code == 2:
        assert f"{spec}:" in result.stderr or "msgen: error:" in result.stderr, result.stderr


# ---- mutants of the blueprints ----------------------------------------------------------------------------------------

BLUEPRINT_DATA = {name: yaml.safe_load(path.read_text(encoding="utf-8")) for name, path in sorted(BLUEPRINTS.items())}


def _walk(data: Any, prefix: tuple = ()):
    if prefix:
        yield prefix, data
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _walk(v, prefix + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _walk(v, prefix + (i,))


# Values found in the blueprints: a mutant that uses one where another belongs often still validates, and reaches
# the cross-field checks and the synthesizer (names that collide, a queue name where a table belongs, ...).
POOL = sorted({repr(v) for data in BLUEPRINT_DATA.values() for _, v in _walk(data) if isinstance(v, (str, int, float, bool))})
pooled = st.sampled_from(POOL).map(lambda r: yaml.safe_load(r) if not r.startswith("'") else r[1:-1].replace("''", "'"))
subtrees = st.sampled_from([(name, path) for name, data in BLUEPRINT_DATA.items() for path, _ in _walk(data)])


def _at(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


def replacements(value: Any):
    return st.one_of(
        st.just([value]), st.just({"name": value}), st.just([]), st.just({}), st.just([value, value]), st.lists(pooled, max_size=3),
        st.none(), st.booleans(), st.integers(-2, 70000), st.sampled_from([0, -1, 2**31, 10**20]), st.floats(allow_nan=True),
        st.text(max_size=8), pooled, pooled, pooled,
    )


@st.composite
def mutants(draw) -> str:
    data = copy.deepcopy(BLUEPRINT_DATA[draw(st.sampled_from(sorted(BLUEPRINT_DATA)))])
    duplicate_line = draw(st.integers(0, 19)) == 0
    for _ in range(draw(st.sampled_from([1, 1, 1, 1, 2, 2, 3, 5]))):  # few changes reach synth; many reach every check
        paths = [path for path, _ in _walk(data)]
        if not paths:
            break
        op = draw(st.sampled_from(["retype", "retype", "retype", "drop", "drop", "duplicate", "graft", "transplant", "transplant", "transplant"]))
        if op == "transplant":  # a part of another blueprint, at the same place in this one (a queue, a database, ...)
            source, where = draw(subtrees)
            try:
                parent = _at(data, where[:-1])
            except (KeyError, IndexError, TypeError):
                continue
            if isinstance(parent, dict) and isinstance(where[-1], str):
                parent[where[-1]] = copy.deepcopy(_at(BLUEPRINT_DATA[source], where))
            elif isinstance(parent, list):
                parent.append(copy.deepcopy(_at(BLUEPRINT_DATA[source], where)))
            continue
        path = draw(st.sampled_from(paths))
        parent, key = _at(data, path[:-1]), path[-1]
        if op == "retype":
            parent[key] = draw(replacements(parent[key]))
        elif op == "drop":
            del parent[key]
        elif op == "duplicate" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
        elif op == "duplicate":  # a key a second time: in the text
            duplicate_line = True
        else:
            source, where = draw(subtrees)
            parent[key] = copy.deepcopy(_at(BLUEPRINT_DATA[source], where))
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)
    lines = text.splitlines(keepends=True)
    if duplicate_line and lines:
        at = draw(st.integers(0, len(lines) - 1))
        lines.insert(at, lines[at])  # a duplicated key, or list entry, or a line that breaks the structure
    return "".join(lines)


@fuzz_settings(700)
@given(text=mutants())
def test_validate_and_synth_of_mutated_blueprints_exit_0_or_2(workdir, text):
    spec = workdir / "service.yaml"
    spec.write_text(text, encoding="utf-8")
    checked = run("validate", str(spec))
    synthesized = run("synth", str(spec), "--no-cache")
    if checked.exit_code == 2:
        assert synthesized.exit_code == 2, "synth accepts what validate refuses"
