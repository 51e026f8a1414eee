"""The cross-field checks, called directly on raw spec data (what the model cannot express)."""

from __future__ import annotations

import copy

import pytest

from generator.spec import checks, models

BASE = {
    "service": "demo-svc", "team": "t",
    "persistence": {"tables": [{"name": "orders", "partition_key": "id"}], "buckets": [{"name": "files"}]},
    "messaging": {"queues": [{"name": "jobs", "consumer": {"handler": "jobs.handle"}}], "topics": [{"name": "news"}]},
    "api": {"routes": [{"method": "GET", "path": "/orders", "handler": "orders.list_all", "uses": ["orders:read"]}]},
}


def problems(**changes) -> list[tuple]:
    data = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for key in parents:
            node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
        node[last] = value
    return checks.check(data)


def test_a_valid_spec_has_no_problems():
    assert problems() == []


@pytest.mark.parametrize("use,message", [
    ("orders:send", "'orders' is a table: use orders:read or orders:readwrite or orders:write"),
    ("jobs:read", "'jobs' is a queue: use jobs:send"),
    ("news:send", "'news' is a topic: use news:publish"),
    ("nothing:read", "'nothing' is not a table, bucket, queue, topic, workflow or collection of this service; declared are: files, jobs, news, orders"),
    ("email:send", "'email:send' needs messaging.email (the domain to send from)"),
    ("database:connect", "'database:connect' needs a `database:` section"),
])
def test_uses_name_a_declared_target_with_a_verb_of_its_kind(use, message):
    assert problems(api__routes__0__uses=[use]) == [(("api", "routes", 0, "uses", 0), message)]


def test_kind_names_are_reserved_for_singletons_and_unique_across_kinds():
    found = problems(persistence__buckets=[{"name": "email"}, {"name": "orders"}])
    messages = [m for _, m in found]
    assert any("'email' is reserved" in m for m in messages)
    assert any("duplicate name: 'orders' is already used in persistence.tables" in m for m in messages)


def test_queue_visibility_is_checked_against_the_models_default_timeout():
    default_timeout = models.Application.model_fields["timeout_s"].default
    assert problems(messaging__queues__0__visibility_timeout_s=default_timeout) == []
    found = problems(messaging__queues__0__visibility_timeout_s=default_timeout - 1)
    assert found and found[0][0] == ("messaging", "queues", 0, "visibility_timeout_s")
    # The queue's own default (when the spec sets none) is the model's, too.
    assert models.Queue.model_fields["visibility_timeout_s"].default >= default_timeout


@pytest.mark.parametrize("key", ["api__routes", "messaging__queues", "persistence__tables", "container", "database", "api__routes__0__uses"])
@pytest.mark.parametrize("value", [[1], {"a": 1}, None, 3.5, True, "x"], ids=repr)
def test_values_of_the_wrong_type_never_crash_a_check(key, value):
    found = problems(**{key: value})
    assert all(isinstance(path, tuple) and isinstance(message, str) for path, message in found)
