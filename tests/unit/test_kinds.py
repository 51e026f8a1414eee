"""The kinds table is complete and self-consistent: every verb grants something and has a key level."""

from __future__ import annotations

import re

import pytest

from generator.kinds import ALL_VERBS, EXTERNAL_KINDS, KINDS, NAMED_KINDS, SINGLETONS, Use, route_arn_part, uses_help
from generator.spec import models


def test_a_use_parses_once_into_target_and_verb():
    assert Use.parse("payments:readwrite") == Use("payments", "readwrite")
    assert str(Use.parse("email:send")) == "email:send"
    assert sorted([Use.parse("b:read"), Use.parse("a:write"), Use.parse("a:read")]) == [Use("a", "read"), Use("a", "write"), Use("b", "read")]


@pytest.mark.parametrize("text", ["payments", ":read", "payments:", "a:b:c"])
def test_a_malformed_use_is_refused(text):
    with pytest.raises(ValueError, match="is not <name>:<verb>"):
        Use.parse(text)


@pytest.mark.parametrize("kind", [k for k in KINDS.values() if k.verbs], ids=lambda k: k.name)
def test_every_verb_of_a_kind_has_a_key_level_and_grants_something(kind):
    for verb in kind.verbs:
        for level in kind.levels(verb):
            assert level in kind.kms, f"{kind.name}:{verb} needs a key level for '{level}'"
            assert any(level in g.actions for g in kind.grants), f"{kind.name}:{verb} grants nothing for '{level}'"


def test_no_grant_has_a_wildcard_action():
    for kind in KINDS.values():
        for grant in kind.grants:
            for actions in grant.actions.values():
                assert all("*" not in a and ":" in a for a in actions), (kind.name, actions)


def test_the_spec_accepts_exactly_the_verbs_of_the_table():
    verbs = set(re.search(r":\((.*?)\)\$", models.USES_RE).group(1).split("|"))
    assert verbs == set(ALL_VERBS)


@pytest.mark.parametrize("text", ["catalog-svc:invoke", "catalog-svc:invoke:GET /items/{id}", "catalog-svc:invoke:ANY /",
                                  "events:emit", "events:emit:PaymentSettled"])
def test_the_fleet_forms_of_a_use_are_accepted_and_parsed(text):
    assert re.match(models.USES_RE, text)
    assert str(Use.parse(text)) == text


@pytest.mark.parametrize("text", ["catalog-svc:invoke:FETCH /items", "catalog-svc:invoke:GET items", "orders:read:x",
                                  "events:emit:Payment Settled", "catalog-svc:invoke:"])
def test_a_detail_only_fits_the_verbs_that_take_one(text):
    assert not re.match(models.USES_RE, text)


def test_a_route_becomes_the_method_and_path_of_an_execute_api_arn():
    assert route_arn_part("GET /items/{id}") == "GET/items/*"
    assert route_arn_part("ANY /items/{proxy+}") == "*/items/*"
    assert route_arn_part("POST /") == "POST/"
    assert Use.parse("catalog-svc:invoke:GET /items/{id}") == Use("catalog-svc", "invoke", "GET /items/{id}")


def test_named_kinds_and_singletons_partition_the_use_targets():
    assert {k.name for k in NAMED_KINDS} == {"table", "bucket", "queue", "topic", "workflow", "collection"}
    assert set(SINGLETONS) == {"email", "database", "events"}
    assert {k.name for k in EXTERNAL_KINDS.values()} == {"service"}
    assert all(k.section for k in (*NAMED_KINDS, *SINGLETONS.values()))


def test_env_and_substitution_names_follow_the_convention():
    assert KINDS["table"].env_name("order-items") == "TABLE_ORDER_ITEMS"
    assert KINDS["queue"].substitution_name("order-items") == "queue_order_items"
    assert KINDS["workflow"].substitution_name("refund") is None  # workflows are not substituted into each other
    assert KINDS["email"].env_name("email") is None  # e-mail sets EMAIL_SENDER itself


def test_the_help_text_names_every_kind_and_verb():
    text = uses_help()
    for kind in KINDS.values():
        for verb in kind.verbs:
            assert verb in text and kind.name in text


def test_every_kinds_helper_is_a_function_of_the_generated_code():
    import re

    from tests.conftest import ROOT

    src = ROOT / "templates" / "serverless-python" / "{{cookiecutter.service}}" / "src"
    for kind in KINDS.values():
        if kind.helper:
            module, function = kind.helper.split(".")
            text = (src / f"{module}.py").read_text(encoding="utf-8")
            assert re.search(rf"^def {function}\(", text, re.M), f"{kind.name}: {kind.helper} is not in the generated {module}.py"


def test_the_fleet_kinds_read_the_ssm_names_of_generator_discovery():
    from generator import discovery

    service, events = KINDS["service"], KINDS["events"]
    assert service.env_value.format(name="catalog-svc") == discovery.resolve(discovery.service_parameter("catalog-svc", "api-url"))
    (invoke,) = service.grants
    assert discovery.resolve(discovery.service_parameter("catalog-svc", "api-id")) in invoke.resources[0].format(name="catalog-svc", detail="*/*")
    assert events.env_vars["EVENT_BUS_NAME"].format() == discovery.resolve(discovery.fleet_parameter("event-bus-name"))
    (emit,) = events.grants
    assert emit.resources == (discovery.resolve(discovery.fleet_parameter("event-bus-arn")).replace("{", "{{").replace("}", "}}"),)
    assert emit.condition == {"StringEquals": {"events:source": "{service}"}}
