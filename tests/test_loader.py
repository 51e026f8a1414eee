"""Positions of values and keys, so every message can point into the file."""

from __future__ import annotations

import pytest

from generator.errors import SpecError
from generator.spec import parse_spec
from generator.spec.loader import dotted, parse_located


def test_positions_of_values_and_keys():
    loc = parse_located("a: 1\nb:\n  - {c: x, d: [1, 2]}\n", "f.yaml")
    assert loc.values[("a",)] == (1, 4)
    assert loc.values[("b", 0, "d", 1)] == (3, 19)
    assert loc.keys[("b", 0, "c")] == (3, 6)
    assert loc.position(("b", 0, "missing")) == (3, 5)


def test_dotted():
    assert dotted(("api", "routes", 0, "method")) == "api.routes[0].method"


def test_merge_keys_and_anchors_work():
    loc = parse_located("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n", "f.yaml")
    assert loc.data["other"] == {"x": 1, "y": 2}


def test_missing_key_points_at_its_parent_mapping():
    with pytest.raises(SpecError) as err:
        parse_spec("service: abc-svc\nteam: t\napi:\n  auth: iam\n", "s.yaml")
    assert str(err.value) == "s.yaml:4:3: api.routes: required key is missing"


def test_a_key_written_next_to_a_merge_key_overrides_the_merged_one():
    loc = parse_located("base: &b {x: 1, y: 1}\nother:\n  <<: *b\n  x: 2\n", "f.yaml")
    assert loc.data["other"] == {"x": 2, "y": 1}
    assert loc.keys[("other", "x")] == (4, 3) and loc.keys[("other", "y")] == (1, 17)


def test_a_list_of_merges_takes_each_key_from_the_first_mapping_that_has_it():
    loc = parse_located("a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc: {<<: [*a, *b], z: 3}\n", "f.yaml")
    assert loc.data["c"] == {"x": 1, "y": 2, "z": 3}


@pytest.mark.parametrize("text,where,message", [
    ("a: 1\n<<: 5\n", "f.yaml:2:5: ", "a merge key '<<' takes a mapping"),
    ("a: 1\n<<: [5]\n", "f.yaml:2:6: ", "a merge key '<<' merges mappings only; this is a scalar"),
    ("a: &x {b: 1}\n<<: [*x, [1]]\n", "f.yaml:2:10: ", "merges mappings only; this is a list"),
    ("api:\n  routes:\n    - <<: x\n", "f.yaml:3:11: api.routes[0]: ", "a merge key '<<' takes a mapping"),
    ("a: &a\n  <<: *a\n", "f.yaml:1:4: a: ", "refers to a mapping that contains it"),
    ("a: &a\n  b: *a\n", "f.yaml:1:4: a.b: ", "an alias refers to a mapping or list that contains it"),
    ("a: &a [1, *a]\n", "f.yaml:1:4: a[1]: ", "an alias refers to a mapping or list that contains it"),
    ("a: {<<: {x: 1}, <<: {y: 1}}\n", "f.yaml:1:17: a: ", "duplicate merge key"),
    ("a: !!int x\n", "f.yaml:1:4: a: ", "'x' is not a valid !!int; quote it if it is text"),
    ("a: !!bool maybe\n", "f.yaml:1:4: a: ", "is not a valid !!bool"),
    ("a: !!float x\n", "f.yaml:1:4: a: ", "is not a valid !!float"),
    ("a: !!timestamp x\n", "f.yaml:1:4: a: ", "is not a valid !!timestamp"),
    ("a: !!int\n", "f.yaml:1:4: a: ", "'' is not a valid !!int"),
    ("a: 0x_\n", "f.yaml:1:4: a: ", "'0x_' is not a valid !!int"),
    ("a: 2001-02-30\n", "f.yaml:1:4: a: ", "'2001-02-30' is not a valid !!timestamp"),
    ("a: !!binary aGk=\n", "f.yaml:1:4: a: ", "the tag '!!binary' is not supported"),
    ("a: !!set {x}\n", "f.yaml:1:4: a: ", "the tag '!!set' is not supported"),
    ("a: !Ref [x]\n", "f.yaml:1:4: a: ", "the tag '!Ref' is not supported"),
    ("a: !!map x\n", "f.yaml:1:4: a: ", "the tag '!!map' is not supported"),
    ("!foo a: 1\n", "f.yaml:1:1: ", "cannot read key: the tag '!foo'"),
    ("a: 0x" + "f" * 1200 + "\n", "f.yaml:1:4: a: ", "over 1000 digits"),
    ("a: é€\nb: \x01\n", "f.yaml:2:4: ", "character U+0001 is not allowed"),
    ("a: \ud800\n", "f.yaml:1:4: ", "not valid Unicode"),
    ("a: " + "[" * 70 + "]" * 70 + "\n", "f.yaml:1:", "nested more than 64 levels"),
], ids=lambda v: v if isinstance(v, str) and len(v) < 30 else None)
def test_every_yaml_problem_is_located(text, where, message):
    with pytest.raises(SpecError) as err:
        parse_located(text, "f.yaml")
    assert any(str(i).startswith(where) and message in str(i) for i in err.value.issues), str(err.value)


def test_a_plain_equals_sign_is_text():
    assert parse_located("a: =\n=: b\n", "f.yaml").data == {"a": "=", "=": "b"}


@pytest.mark.parametrize("raw,message", [
    ("service: x\n".encode("utf-16"), "file is UTF-16 text (it starts with a UTF-16 byte order mark); save it as UTF-8"),
    ("service: x\n".encode("utf-16-be"), "file looks like UTF-16 text"),
    ("service: x\n".encode("utf-16-le"), "file looks like UTF-16 text"),
    ("service: x\n".encode("utf-32"), "file is UTF-32 text"),
    ("service: café\n".encode("latin-1"), "file is not UTF-8 text (byte 0xe9)"),
    (b"service: x\x00\n", "file is binary (contains a NUL byte)"),
], ids=["utf-16", "utf-16-be-no-bom", "utf-16-le-no-bom", "utf-32", "latin-1", "nul"])
def test_other_encodings_are_named(raw, message):
    from generator.spec.loader import decode_spec

    with pytest.raises(SpecError) as err:
        decode_spec(raw, "f.yaml")
    assert message in str(err.value) and str(err.value).startswith("f.yaml:1:")


def test_utf8_with_a_byte_order_mark_is_read():
    from generator.spec.loader import decode_spec

    assert decode_spec("service: x\n".encode("utf-8-sig"), "f.yaml") == "service: x\n"
